#!/usr/bin/env bash
# Builds the versioned shared libraries of virsnap from the Rust staticlib.
#
# rustc passes its own version script for a cdylib and ignores ours, so the
# libvirt symbol-version nodes (LIBVIRT_0.0.3 … LIBVIRT_9.0.0, VIRSNAP_0.1)
# need a relink of libvirsnap.a with `cc -shared --version-script`
# (style.md §8.9). A cargo build script cannot do this: it runs before the
# crate it belongs to is compiled.
#
# Usage:
#   capi/build-so.sh [--debug] [--install PREFIX]
# Produces in target/<profile>/:
#   libvirsnap.so.0.<minor>.<micro>, libvirsnap.so.0 and libvirsnap.so (symlinks),
#   libvirsnap.a (from cargo), virsnap.pc (uninstalled paths),
#   libvirt-compat/libvirt.so.0 (same code, soname libvirt.so.0, for
#   LD_LIBRARY_PATH drop-in under binaries built against libvirt).
# --install PREFIX copies headers, libraries and a virsnap.pc with PREFIX
# paths into PREFIX/{include,lib,lib/pkgconfig}; then
#   PKG_CONFIG_PATH=PREFIX/lib/pkgconfig pkg-config --cflags --libs virsnap
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
profile=release
install_prefix=
while [ $# -gt 0 ]; do
    case "$1" in
        --debug) profile=debug ;;
        --install) install_prefix=$2; shift ;;
        *) echo "usage: $0 [--debug] [--install PREFIX]" >&2; exit 2 ;;
    esac
    shift
done
target=${CARGO_TARGET_DIR:-$root/target}
out=$target/$profile
cargo_flags=()
[ "$profile" = release ] && cargo_flags+=(--release)
(cd "$root" && cargo build "${cargo_flags[@]}" -p virsnap-capi --lib)

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
tsv=${VIRSNAP_SYMBOLS_TSV:-/work/shared/conformance/libvirt/abi/libvirt-9.0-public-symbols.tsv}
syms=$here/libvirsnap.syms
if [ -f "$tsv" ]; then
    tmp=$(mktemp)
    python3 "$here/gen-syms.py" "$tsv" "$here/src" > "$tmp"
    if ! cmp -s "$tmp" "$syms"; then
        echo "capi/libvirsnap.syms is stale: regenerate with" >&2
        echo "  python3 capi/gen-syms.py $tsv capi/src > capi/libvirsnap.syms" >&2
        rm -f "$tmp"; exit 1
    fi
    rm -f "$tmp"
fi

link() { # soname output
    ${CC:-cc} -shared -o "$2" \
        -Wl,--whole-archive "$out/libvirsnap.a" -Wl,--no-whole-archive \
        -Wl,--version-script="$syms" -Wl,-soname,"$1" -Wl,-z,defs \
        -lgcc_s -lpthread -ldl -lm -lc
}
tmpso=$out/.libvirsnap.so.tmp
link libvirsnap.so.0 "$tmpso"
mv -f "$tmpso" "$out/libvirsnap.so.$version"
ln -sfn "libvirsnap.so.$version" "$out/libvirsnap.so.0"
rm -f "$out/libvirsnap.so"
ln -sfn libvirsnap.so.0 "$out/libvirsnap.so"
mkdir -p "$out/libvirt-compat"
link libvirt.so.0 "$out/libvirt-compat/.libvirt.so.tmp"
mv -f "$out/libvirt-compat/.libvirt.so.tmp" "$out/libvirt-compat/libvirt.so.0"

pc() { # prefix libdir includedir
    sed -e "s|@prefix@|$1|" -e "s|@libdir@|$2|" -e "s|@includedir@|$3|" -e "s|@version@|$version|" "$here/virsnap.pc.in"
}
pc "$root" "$out" "$root/include" > "$out/virsnap.pc"

if [ -n "$install_prefix" ]; then
    mkdir -p "$install_prefix/lib/pkgconfig" "$install_prefix/include/virsnap"
    cp -a "$root/include/." "$install_prefix/include/virsnap/"
    cp -a "$out/libvirsnap.so.$version" "$out/libvirsnap.so.0" "$out/libvirsnap.a" "$install_prefix/lib/"
    ln -sfn libvirsnap.so.0 "$install_prefix/lib/libvirsnap.so"
    pc "$install_prefix" "$install_prefix/lib" "$install_prefix/include/virsnap" > "$install_prefix/lib/pkgconfig/virsnap.pc"
    echo "installed into $install_prefix"
fi
echo "built $out/libvirsnap.so.$version (soname libvirsnap.so.0) and $out/libvirt-compat/libvirt.so.0"

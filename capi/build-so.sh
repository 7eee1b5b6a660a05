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
#   libvirt-compat/libvirt.so.0 (same code, soname libvirt.so.0) with
#   libvirt-qemu.so.0 and libvirt-lxc.so.0, for LD_LIBRARY_PATH drop-in
#   under binaries built against libvirt.
# Both libvirsnap.so.0 and libvirt.so.0 export libvirt 9.0's whole public ABI
# with its version nodes (capi/abi/libvirt-9.0.tsv; what virsnap does not
# implement is a generated VIR_ERR_NO_SUPPORT stub, see capi/build.rs).
# --install PREFIX copies headers, libraries and a virsnap.pc with PREFIX
# paths into PREFIX/{include,lib,lib/pkgconfig} and libvirt-compat/ into
# PREFIX/lib/virsnap/libvirt-compat; then
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
# Version scripts and the qemu / lxc forwarders, generated from the ABI
# table (capi/abi/libvirt-9.0.tsv) into the build directory.
table=$here/abi/libvirt-9.0.tsv
gen=$out/abi-link
mkdir -p "$gen"
for lib in libvirt libvirt-qemu libvirt-lxc; do
    python3 "$here/abi/gen-link.py" "$table" syms "$lib" > "$gen/$lib.syms"
done
for lib in libvirt-qemu libvirt-lxc; do
    python3 "$here/abi/gen-link.py" "$table" shim "$lib" > "$gen/$lib.c"
done

link() { # soname output
    ${CC:-cc} -shared -o "$2" \
        -Wl,--whole-archive "$out/libvirsnap.a" -Wl,--no-whole-archive \
        -Wl,--version-script="$gen/libvirt.syms" -Wl,-soname,"$1" -Wl,-z,defs \
        -lgcc_s -lpthread -ldl -lm -lc
}
tmpso=$out/.libvirsnap.so.tmp
link libvirsnap.so.0 "$tmpso"
mv -f "$tmpso" "$out/libvirsnap.so.$version"
ln -sfn "libvirsnap.so.$version" "$out/libvirsnap.so.0"
rm -f "$out/libvirsnap.so"
ln -sfn libvirsnap.so.0 "$out/libvirsnap.so"
compat=$out/libvirt-compat
mkdir -p "$compat"
link libvirt.so.0 "$compat/.libvirt.so.tmp"
mv -f "$compat/.libvirt.so.tmp" "$compat/libvirt.so.0"
# libvirt-qemu.so.0 / libvirt-lxc.so.0: the libraries' public symbols with
# their version nodes, forwarding to libvirt.so.0 beside them ($ORIGIN).
for lib in libvirt-qemu libvirt-lxc; do
    ${CC:-cc} -shared -fPIC -O2 -o "$compat/.$lib.so.tmp" "$gen/$lib.c" \
        -Wl,--version-script="$gen/$lib.syms" -Wl,-soname,"$lib.so.0" -Wl,-z,defs \
        -L"$compat" -l:libvirt.so.0 -Wl,-rpath,'$ORIGIN'
    mv -f "$compat/.$lib.so.tmp" "$compat/$lib.so.0"
done

pc() { # prefix libdir includedir
    sed -e "s|@prefix@|$1|" -e "s|@libdir@|$2|" -e "s|@includedir@|$3|" -e "s|@version@|$version|" "$here/virsnap.pc.in"
}
pc "$root" "$out" "$root/include" > "$out/virsnap.pc"

if [ -n "$install_prefix" ]; then
    mkdir -p "$install_prefix/lib/pkgconfig" "$install_prefix/include/virsnap"
    cp -a "$root/include/." "$install_prefix/include/virsnap/"
    cp -a "$out/libvirsnap.so.$version" "$out/libvirsnap.so.0" "$out/libvirsnap.a" "$install_prefix/lib/"
    mkdir -p "$install_prefix/lib/virsnap/libvirt-compat"
    cp -a "$compat/." "$install_prefix/lib/virsnap/libvirt-compat/"
    ln -sfn libvirsnap.so.0 "$install_prefix/lib/libvirsnap.so"
    pc "$install_prefix" "$install_prefix/lib" "$install_prefix/include/virsnap" > "$install_prefix/lib/pkgconfig/virsnap.pc"
    # bash completion for the `virsnap` CLI (it asks `virsnap complete`).
    mkdir -p "$install_prefix/share/bash-completion/completions"
    cp "$root/cli/completion/virsnap.bash" "$install_prefix/share/bash-completion/completions/virsnap"
    echo "installed into $install_prefix"
fi
echo "built $out/libvirsnap.so.$version (soname libvirsnap.so.0) and $compat/{libvirt,libvirt-qemu,libvirt-lxc}.so.0"

#!/usr/bin/env bash
# Drop-in suite (issue 16): a real program built for libvirt — Debian's
# python3-libvirt, whose native module libvirtmod links only libvirt's
# public API and resolves all ~480 symbols at load (BIND_NOW) — runs on
# virsnap's target/release/libvirt-compat/libvirt.so.0.
#
#   .ci/suites/dropin.sh
#
# tests/dropin/python_snapshots.py (create, list, tree, revert, delete,
# errors, plus the event loop and openAuth on the way) runs once on the real
# libvirt 9.0 and once with LD_LIBRARY_PATH=target/release/libvirt-compat;
# stdout+stderr must be identical. On test:///default, and on
# qemu:///embed?root=DIR (separate roots with identical domains; libvirt's
# embed driver needs a kvm group, a libvirt-qemu user and DIR/etc/qemu.conf).
# Prints "N passed, M failed" last and exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
source .ci/lib.sh

need_apt python3-libvirt libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils gcc
R=${CARGO_TARGET_DIR:-$ROOT/target}/release
B=$ROOT/tests/dropin/build
mkdir -p "$B"
PY=/usr/bin/python3 # Debian's python, which sees dist-packages' libvirt
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
run() { # name command...
    local name=$1; shift
    local log=$B/$(echo "$name" | tr ' /:' '___' | cut -c1-80).log
    run_strict "$log" "$@"
    if [ "$RUN_RC" = 0 ]; then ok "$name"; else bad "$name (log: $log)"; tail -30 "$log" | sed 's/^/     /'; fi
}

echo "== dropin: build"
if cargo build --release -p virsnap-capi && capi/build-so.sh; then ok "build (cargo + capi/build-so.sh)"; else
    bad "build"; echo "0 passed, 1 failed"; exit 1; fi

echo "== dropin: Debian's python3-libvirt on libvirt-compat"
imports() {
    local mod; mod=$(ls /usr/lib/python3/dist-packages/libvirtmod.cpython-*.so)
    readelf -d "$mod" | grep -q 'NEEDED.*libvirt.so.0'
    LD_LIBRARY_PATH=$R/libvirt-compat LD_DEBUG=libs $PY -c 'import libvirt' 2>&1 | grep -q "calling init: $R/libvirt-compat/libvirt.so.0"
    LD_LIBRARY_PATH=$R/libvirt-compat $PY -c 'import libvirt; print(libvirt.getVersion())'
}
run "libvirtmod loads libvirt-compat/libvirt.so.0 and imports" imports

compare() { # tag uri domain [xml-libvirt xml-compat root-libvirt root-compat]
    local tag=$1 uri=$2 dom=$3
    if [ $# -gt 3 ]; then
        DROPIN_ROOT=$6 $PY tests/dropin/python_snapshots.py "${uri}$6/root" "$dom" "$4" >"$B/$tag.libvirt.out" 2>&1
        DROPIN_ROOT=$7 LD_LIBRARY_PATH=$R/libvirt-compat $PY tests/dropin/python_snapshots.py "${uri}$7/root" "$dom" "$5" \
            >"$B/$tag.compat.out" 2>&1
    else
        $PY tests/dropin/python_snapshots.py "$uri" "$dom" >"$B/$tag.libvirt.out" 2>&1
        LD_LIBRARY_PATH=$R/libvirt-compat $PY tests/dropin/python_snapshots.py "$uri" "$dom" >"$B/$tag.compat.out" 2>&1
    fi
    diff -u "$B/$tag.libvirt.out" "$B/$tag.compat.out"
    echo "$(wc -l <"$B/$tag.libvirt.out") identical lines"
}
run "snapshot script on test:///default: identical output on libvirt and libvirt-compat" compare test test:///default test

qemu_compare() {
    getent group kvm >/dev/null || groupadd -r kvm
    id libvirt-qemu >/dev/null 2>&1 || useradd -r libvirt-qemu
    local d; d=$(mktemp -d /tmp/virsnap-dropin.XXXXXX)
    for side in libvirt compat; do
        mkdir -p "$d/$side/root/etc"
        printf 'user = "root"\ngroup = "root"\nstdio_handler = "file"\n' >"$d/$side/root/etc/qemu.conf"
        qemu-img create -q -f qcow2 "$d/$side/vm.qcow2" 16M
        printf "%s" "<domain type='qemu'><name>vm</name><uuid>4d7ae8c4-3b4c-4ef0-9a35-8c9b0f1d2e3a</uuid><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$d/$side/vm.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>" \
            >"$d/$side/vm.xml"
    done
    local rc=0
    compare qemu "qemu:///embed?root=" vm "$d/libvirt/vm.xml" "$d/compat/vm.xml" "$d/libvirt" "$d/compat" || rc=$?
    rm -rf "$d"
    return $rc
}
if [ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] && command -v qemu-system-x86_64 >/dev/null; then
    run "snapshot script on qemu:///embed: identical output on libvirt and libvirt-compat" qemu_compare
else
    echo "skip qemu: libvirt's qemu driver or qemu-system-x86_64 not installed"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

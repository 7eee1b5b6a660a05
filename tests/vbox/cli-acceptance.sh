#!/usr/bin/env bash
# The issue's acceptance check: `virsnap -c vbox:///session` with
# VIRSNAP_VBOXMANAGE pointing into the VirtualBox chroot creates, lists,
# reverts, renames and deletes snapshots of a powered-off VM, and
# VirtualBox's own `snapshot VM list --machinereadable` agrees after every step.
# Usage: cli-acceptance.sh VIRSNAP_BINARY [CHROOT [VBOXMANAGE]]
# VBOXMANAGE (inside the chroot) defaults to the real binary; Debian's
# /usr/bin/VBoxManage wrapper prints a WARNING on stdout first without
# /dev/vboxdrv, which the driver must tolerate.
set -euo pipefail
BIN=$1
ROOT=${2:-/var/cache/virsnap/vbox-chroot}
VBM="chroot $ROOT env HOME=/root ${3:-/usr/lib/virtualbox/VBoxManage}"
export VIRSNAP_VBOXMANAGE="$VBM"
VM="virsnap-cli-$$"
DISK="/root/virsnap-disks/$VM/disk1.vdi"
# VBoxManage, run again when VBoxSVC was restarting (auto-shutdown race: nothing was done).
vbm() {
    local i out rc
    for i in 1 2 3 4; do
        rc=0; out=$($VBM "$@" 2>&1) || rc=$?
        if [ "$rc" -ne 0 ] && grep -q "Failed to create the VirtualBox object" <<<"$out"; then sleep "$i"; continue; fi
        printf '%s\n' "$out"; return "$rc"
    done
    printf '%s\n' "$out"; return "$rc"
}
cleanup() { $VBM unregistervm "$VM" --delete-all >/dev/null 2>&1 || true; rm -rf "$ROOT/root/virsnap-disks/$VM"; }
trap cleanup EXIT
vbm createvm --name "$VM" --ostype Linux_64 --register >/dev/null
vbm createmedium disk --filename "$DISK" --size 16 --format VDI >/dev/null
vbm storagectl "$VM" --name SATA --add sata --controller IntelAhci >/dev/null
vbm storageattach "$VM" --storagectl SATA --port 0 --device 0 --type hdd --medium "$DISK" >/dev/null

pass=0; fail=0
# vbox_tree: VirtualBox's own view, one "suffix=name" per snapshot, then "current=name".
vbox_tree() {
    vbm snapshot "$VM" list --machinereadable 2>/dev/null \
        | sed -n 's/^SnapshotName\([-0-9]*\)="\(.*\)"$/\1=\2/p; s/^CurrentSnapshotName="\(.*\)"$/current=\1/p' | tr '\n' ' ' || true
}
step() { # step "description" "expected vbox_tree" virsnap-args...
    local what=$1 want=$2; shift 2
    if ! "$BIN" -c vbox:///session "$@" >/tmp/virsnap-cli-out.$$ 2>&1; then
        echo "not ok - $what: virsnap $* failed: $(cat /tmp/virsnap-cli-out.$$)"; fail=$((fail + 1)); return
    fi
    local got; got=$(vbox_tree)
    if [ "$got" = "$want" ]; then echo "ok - $what"; pass=$((pass + 1))
    else echo "not ok - $what: VirtualBox lists '$got', expected '$want'"; fail=$((fail + 1)); fi
}
step "create s1" "=s1 current=s1 " snapshot-create-as "$VM" s1 --description first
step "create s2" "=s1 -1=s2 current=s2 " snapshot-create-as "$VM" s2
step "list" "=s1 -1=s2 current=s2 " snapshot-list "$VM"
step "revert s1" "=s1 current=s1 -1=s2 " snapshot-revert "$VM" s1
step "create s3 (branch)" "=s1 -1=s2 -2=s3 current=s3 " snapshot-create-as "$VM" s3
step "rename s2" "=s1 -1=s2b -2=s3 current=s3 " snapshot-rename "$VM" s2 s2b
step "delete s2b" "=s1 -1=s3 current=s3 " snapshot-delete "$VM" s2b
step "delete s1 with children" "" snapshot-delete "$VM" s1 --children
rm -f /tmp/virsnap-cli-out.$$
echo "cli acceptance (${3:-/usr/lib/virtualbox/VBoxManage}): $pass passed, $fail failed"
[ "$fail" -eq 0 ]

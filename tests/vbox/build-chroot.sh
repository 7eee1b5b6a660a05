#!/usr/bin/env bash
# Builds (or reuses) a Debian sid chroot with Debian's `virtualbox` package, so
# the VirtualBox tests can drive a real VBoxSVC/VBoxManage 7.2 (offline
# operations only: there is no /dev/vboxdrv, no VM can start).
#
# Usage: build-chroot.sh [ROOT]   (default /var/cache/virsnap/vbox-chroot)
# Env:   VIRSNAP_SKIP_VBOX_CHROOT=1  skip (exit 3)
#        VIRSNAP_VBOX_CHROOT_TIMEOUT  seconds for the whole build (default 1500)
#        VIRSNAP_DEBIAN_MIRROR        archive URL (default: the host's apt source)
# Exit:  0 ready (ROOT/.virsnap-ready exists), 3 skipped/unavailable (reason on stdout).
# The chroot stays outside the repository and is reused by later runs.
set -uo pipefail

ROOT=${1:-/var/cache/virsnap/vbox-chroot}
READY="$ROOT/.virsnap-ready"
TIMEOUT=${VIRSNAP_VBOX_CHROOT_TIMEOUT:-1500}

skip() { echo "vbox chroot: SKIP: $*"; exit 3; }

if [ "${VIRSNAP_SKIP_VBOX_CHROOT:-}" = 1 ]; then skip "VIRSNAP_SKIP_VBOX_CHROOT=1"; fi

mount_all() {
    for d in proc sys dev dev/pts; do mkdir -p "$ROOT/$d"; done
    mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc" || return 1
    mountpoint -q "$ROOT/sys" || mount -t sysfs sys "$ROOT/sys" || return 1
    mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev" || return 1
    mountpoint -q "$ROOT/dev/pts" || mount --bind /dev/pts "$ROOT/dev/pts" || true
}

# Unmounts everything mounted below $1 (deepest first), so that removing a
# half-built tree can never reach the host's /dev, /proc or /sys.
unmount_below() {
    local dir m
    dir=$(readlink -f "$1" 2>/dev/null) || return 0
    awk '{print $2}' /proc/mounts | sed 's/\\040/ /g' | grep -E "^$dir(/|$)" | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}
safe_rm() {
    [ -e "$1" ] || return 0
    unmount_below "$1"
    if awk '{print $2}' /proc/mounts | grep -qE "^$(readlink -f "$1")/"; then
        echo "vbox chroot: refusing to remove $1: something is still mounted below it"; return 1
    fi
    rm -rf --one-file-system "$1"
}

if [ -e "$READY" ]; then
    mount_all || skip "cannot mount /proc,/dev in $ROOT"
    echo "vbox chroot: reusing $ROOT ($(cat "$READY"))"
    exit 0
fi

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, chroot, mount)"

if ! command -v debootstrap >/dev/null; then
    echo "vbox chroot: installing debootstrap"
    (apt-get install -y debootstrap >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y debootstrap >/dev/null 2>&1; }) \
        || skip "debootstrap is not installable"
fi

MIRROR=${VIRSNAP_DEBIAN_MIRROR:-}
if [ -z "$MIRROR" ]; then
    MIRROR=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
        | grep -v security | head -1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//')
fi
[ -n "$MIRROR" ] || skip "no Debian mirror found in the host's apt sources"

LOG=$(mktemp /tmp/virsnap-vbox-chroot.XXXXXX.log)
echo "vbox chroot: building $ROOT from $MIRROR (log $LOG, limit ${TIMEOUT}s)"
deadline=$(( $(date +%s) + TIMEOUT ))
left() { echo $(( deadline - $(date +%s) )); }

safe_rm "$ROOT.tmp" || skip "cannot clean $ROOT.tmp"
mkdir -p "$(dirname "$ROOT")"
timeout "$(left)" debootstrap --variant=minbase --components=main,contrib --include=ca-certificates \
    sid "$ROOT.tmp" "$MIRROR" >>"$LOG" 2>&1 || { tail -5 "$LOG"; unmount_below "$ROOT.tmp"; skip "debootstrap sid failed (archive unreachable?)"; }
unmount_below "$ROOT.tmp"
safe_rm "$ROOT" || skip "cannot clean $ROOT"
mv "$ROOT.tmp" "$ROOT"

echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99novalid"
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod +x "$ROOT/usr/sbin/policy-rc.d"
mount_all || skip "cannot mount /proc,/dev in $ROOT"

in_root() { timeout "$(left)" chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive HOME=/root "$@" >>"$LOG" 2>&1; }

# virtualbox depends on "virtualbox-dkms | virtualbox-source | virtualbox-modules":
# an empty package providing virtualbox-modules at the candidate version.
in_root apt-get update || { tail -5 "$LOG"; skip "apt-get update in the chroot failed"; }
VER=$(chroot "$ROOT" apt-cache policy virtualbox 2>/dev/null | awk '/Candidate:/ {print $2}')
[ -n "$VER" ] && [ "$VER" != "(none)" ] || skip "package virtualbox not available in sid/contrib"
D="$ROOT/tmp/vbox-modules-dummy"
mkdir -p "$D/DEBIAN"
cat >"$D/DEBIAN/control" <<EOF
Package: virtualbox-modules-dummy
Version: 1.0
Architecture: all
Maintainer: virsnap tests <root@localhost>
Provides: virtualbox-modules (= $VER)
Description: empty package standing in for the VirtualBox kernel modules
EOF
dpkg-deb --build "$D" "$ROOT/tmp/vbox-modules-dummy.deb" >>"$LOG" 2>&1 || skip "dpkg-deb failed"
in_root dpkg -i /tmp/vbox-modules-dummy.deb || { tail -5 "$LOG"; skip "dummy modules package failed to install"; }
in_root apt-get install -y --no-install-recommends virtualbox || { tail -5 "$LOG"; skip "apt-get install virtualbox failed"; }
chroot "$ROOT" env HOME=/root /usr/lib/virtualbox/VBoxManage --version >>"$LOG" 2>&1 || { tail -5 "$LOG"; skip "VBoxManage does not run in the chroot"; }
in_root apt-get clean || true
chroot "$ROOT" env HOME=/root /usr/lib/virtualbox/VBoxManage --version 2>/dev/null | tail -1 >"$READY"
echo "vbox chroot: ready, VBoxManage $(cat "$READY")"
exit 0

#!/usr/bin/env bash
# QEMU driver suite: real qemu-system-x86_64 (KVM when usable, else TCG) and
# qemu-img on temporary qcow2 images. Installs QEMU when missing. Each test
# kills the guests it started (Drop guard), even on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
source .ci/lib.sh
need_apt qemu-system-x86 qemu-utils libvirt-clients libvirt-daemon-driver-qemu
# The transcript test drives the virsnap binary; build it if the build suite did not.
[ -x target/release/virsnap ] || [ -x target/debug/virsnap ] || cargo build --locked -p virsnap-cli
cargo test -p virsnap-core --locked --test 'qemu_*' -- --test-threads=2

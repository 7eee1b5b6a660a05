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
reprobe qemu="$(command -v qemu-img)" qemu_io="$(command -v qemu-io)" cli_any=target/debug/virsnap cli_any=target/release/virsnap \
    libvirt_qemu=/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so
cargo test -p virsnap-core --locked --test 'qemu_*' -- --test-threads=2

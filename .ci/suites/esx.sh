#!/usr/bin/env bash
# ESX driver suite: builds govmomi's vcsim from Debian's packages
# (golang-go, golang-github-vmware-govmomi-dev; tests/vcsim/build.sh) and the
# virsnap CLI and C library, then runs the ESX tests (core/tests/esx_*.rs) against them.
# Each test starts its own vcsim on a free loopback port and stops it by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tests/vcsim/build.sh
cargo build --release --locked -p virsnap-cli -p virsnap-capi
export VIRSNAP_VCSIM="$PWD/target/vcsim/vcsim"
export VIRSNAP_CLI="${CARGO_TARGET_DIR:-$PWD/target}/release/virsnap"
export VIRSNAP_LIBDIR="${CARGO_TARGET_DIR:-$PWD/target}/release"
source .ci/lib.sh
reprobe vcsim="$VIRSNAP_VCSIM" cli_release="$VIRSNAP_CLI" capi_so="$VIRSNAP_LIBDIR/libvirsnap.so"
cargo test -p virsnap-core --locked --test 'esx_*' -- --test-threads=2 --nocapture

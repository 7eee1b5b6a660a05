# Shared helpers for .ci scripts (sourced).

# need_apt PKG...: installs the Debian packages that are missing (root only).
need_apt() {
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages (need root to install): ${missing[*]}" >&2
        return 1
    fi
    if [ ! -f /tmp/.virsnap-apt-updated ]; then
        apt-get update -qq && touch /tmp/.virsnap-apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# CI=true (and .ci/run) requires every component: nothing may be skipped.
# VIRSNAP_REQUIRE_ALL=1 makes core's and cli's build.rs ignore no test (so a
# test whose component is missing runs and fails; tests/components/probe.rs)
# and makes `skip` below a failure.
if [ "${CI:-}" = true ]; then
    export VIRSNAP_REQUIRE_ALL=1
fi

# skip REASON...: a suite step that cannot run for want of a component.
# Prints "SKIP: REASON", which .ci/test-all counts in its summary; returns 1
# (a failure) under VIRSNAP_REQUIRE_ALL=1.
skip() {
    if [ "${VIRSNAP_REQUIRE_ALL:-}" = 1 ]; then
        echo "FAIL: $* (VIRSNAP_REQUIRE_ALL=1: every component is required)"
        return 1
    fi
    echo "SKIP: $*"
}

# reprobe NAME=FILE...: when the last probe of core's or cli's build.rs
# found component NAME missing (cfg virsnap_no_NAME) and FILE now exists,
# touch the build scripts so the next cargo test probes again and stops
# ignoring that component's tests.
reprobe() {
    local root out pair
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    for out in "$(ls -t "${CARGO_TARGET_DIR:-$root/target}"/debug/build/virsnap-core-*/output 2>/dev/null | head -1)" \
               "$(ls -t "${CARGO_TARGET_DIR:-$root/target}"/debug/build/virsnap-cli-*/output 2>/dev/null | head -1)"; do
        [ -n "$out" ] || continue
        for pair in "$@"; do
            if grep -qx "cargo::rustc-cfg=virsnap_no_${pair%%=*}" "$out" && [ -e "${pair#*=}" ]; then
                echo "re-probing test components: ${pair%%=*} is now at ${pair#*=}"
                touch "$root/core/build.rs" "$root/cli/build.rs"
                return 0
            fi
        done
    done
}

# run_strict LOG CMD...: runs CMD (a shell function too) in a subshell with
# `set -e` in force, its output to LOG, and sets RUN_RC to its status. Call
# it as a plain command, never inside `if` / `&&` / `||`: bash ignores -e
# there, so a function whose middle step fails would count as passed.
run_strict() {
    local log=$1; shift
    local had_e=0
    case $- in *e*) had_e=1 ;; esac
    set +e
    ( set -e; "$@" ) >"$log" 2>&1
    RUN_RC=$?
    if [ "$had_e" = 1 ]; then set -e; fi
    return 0
}

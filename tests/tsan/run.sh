#!/usr/bin/env bash
# ThreadSanitizer for the C ABI thread tests (issue 10).
#
#   tests/tsan/run.sh build                    # toolchain, TSan libvirsnap, tests, canary
#   tests/tsan/run.sh run PROGRAM SECONDS [URI] # PROGRAM: hostile_threads or threads
# Exit 0: clean; 1: failure or ThreadSanitizer reports; 77: SKIP (reason on stdout).
#
# Why not just stable rustc + -Zsanitizer=thread: rustup ships std
# precompiled without TSan instrumentation and has no rust-src here, so
# -Zbuild-std is impossible with it. Then the std Mutex's contended path
# (std::sys::sync::mutex::futex::Mutex::lock_contended, an uninstrumented
# atomic swap plus a raw futex syscall) takes the lock without TSan seeing
# the acquire: 8 threads on test:///default gave ~1200 reports in 5 s, all
# on data that is only touched under a std Mutex (handle tables, the test
# driver's domain list, the error handler). Those reports name our frames,
# not std's, so no suppression could remove them without hiding real races.
#
# What this does instead: Debian bookworm's rustc-web (a stable release,
# 1.96) comes with its std source (rust-web-src). The .debs are fetched with
# `apt-get download` and unpacked under target/tsan/rust-web (nothing is
# installed system-wide, so /usr/bin/rustc and /usr/bin/cargo never shadow
# rustup's), and libvirsnap.a is built with `cargo -Zbuild-std` and
# -Zsanitizer=thread: std, alloc, hashbrown, once_cell and our crates are all
# instrumented. RUSTC_BOOTSTRAP=1 unlocks the -Z flags of this stable
# compiler. The C tests are compiled with gcc -fsanitize=thread (it only
# emits __tsan_* calls) and linked with the TSan runtime that ships with
# rustup's stable rustc (librustc-stable_rt.tsan.a, same LLVM major as
# rustc-web), so one runtime serves both sides. No suppressions are used.
#
# A canary (tests/tsan/canary.c, an unsynchronised counter) is built the same
# way and must be reported, else the clean result would prove nothing.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$(dirname "$here")")
cd "$ROOT"
source .ci/lib.sh
W=${CARGO_TARGET_DIR:-$ROOT/target}/tsan
TC=$W/rust-web                     # unpacked Debian toolchain
OUT=$W/bin                         # instrumented test programs
LIB=$W/build/x86_64-unknown-linux-gnu/release/libvirsnap.a
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "FAIL: $*"; exit 1; }

# first dependency of package $1 whose name matches regex $2
dep_of() {
    apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Depends: //p' | tr ',' '\n' |
        sed 's/^ *//; s/ .*//' | grep -E "$2" | head -1
}

toolchain() {
    command -v apt-cache >/dev/null || skip "no apt (Debian rustc-web is needed for an instrumented std)"
    if ! apt-cache show --no-all-versions rustc-web >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && touch /tmp/.virsnap-apt-updated
    fi
    local v; v=$(apt-cache show --no-all-versions rustc-web 2>/dev/null | sed -n 's/^Version: //p' | head -1)
    [ -n "$v" ] || skip "apt has no rustc-web package"
    apt-cache show --no-all-versions rust-web-src >/dev/null 2>&1 || skip "apt has no rust-web-src package"
    local stdlib llvm
    stdlib=$(dep_of libstd-rust-web-dev '^libstd-rust-web-[0-9]')
    llvm=$(dep_of "$stdlib" '^libllvm[0-9]')
    [ -n "$stdlib" ] && [ -n "$llvm" ] || skip "cannot resolve rustc-web's libraries"
    if [ "$(cat "$TC/.complete" 2>/dev/null)" != "$v" ]; then
        echo "fetching rustc-web $v, rust-web-src, $stdlib, $llvm (about 140 MB) into $TC"
        rm -rf "$TC" "$W/debs"; mkdir -p "$W/debs" "$TC"
        (cd "$W/debs" && apt-get download -q "rustc-web=$v" "libstd-rust-web-dev=$v" "$stdlib=$v" \
            "rust-web-src=$v" "$llvm" 2>&1 | grep -v unsandboxed) || skip "apt-get download failed"
        for d in "$W"/debs/*.deb; do dpkg-deb -x "$d" "$TC" || skip "dpkg-deb -x $d failed"; done
        # -Zbuild-std needs only library/ of the source (365 of its 440 MB
        # are the compiler's and the tools' sources)
        rm -rf "$W/debs" "$TC"/usr/src/rustc-*/src "$TC"/usr/src/rustc-*/compiler "$TC"/usr/share/doc
        echo "$v" > "$TC/.complete"
    fi
    # libLLVM's own dependencies (ordinary shared libraries)
    local deps; deps=$(apt-cache show --no-all-versions "$llvm" | sed -n 's/^Depends: //p' | tr ',' '\n' | sed 's/^ *//; s/ .*//')
    # shellcheck disable=SC2086
    need_apt $deps >/dev/null 2>&1 || true
    cat > "$W/rustc-web" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="$TC/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$TC/usr/bin/rustc" "\$@"
EOF
    chmod +x "$W/rustc-web"
    "$W/rustc-web" -vV >/dev/null 2>&1 || skip "the unpacked rustc-web does not run: $("$W/rustc-web" -vV 2>&1 | tail -1)"
    [ -f "$TC/usr/lib/rustlib/src/rust/library/Cargo.lock" ] || skip "rust-web-src has no library/Cargo.lock"
}

runtime() { # the TSan runtime of rustup's rustc
    local dir; dir=$(rustc --print target-libdir 2>/dev/null)
    RT=$(ls "$dir"/librustc-*_rt.tsan.a 2>/dev/null | head -1)
    [ -n "$RT" ] || skip "rustc ships no TSan runtime (librustc-*_rt.tsan.a) in $dir"
}

cc_tsan() { # source output
    gcc -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -pthread -I"$ROOT/include" -I"$ROOT/tests/c" \
        -g -O1 -fno-omit-frame-pointer -fsanitize=thread -c "$1" -o "$2.o" &&
    gcc -o "$2" "$2.o" "$LIB" -Wl,--whole-archive "$RT" -Wl,--no-whole-archive -pthread -ldl -lm -lrt -lgcc_s
}

build() {
    command -v gcc >/dev/null || skip "no gcc"
    runtime
    toolchain
    echo "rustc-web: $("$W/rustc-web" -vV | grep -E '^(release|LLVM)' | tr '\n' ' ')"
    echo "runtime:   $RT ($(rustc -vV | grep LLVM))"
    # -Zbuild-std: std itself instrumented; --target is required by both flags.
    env RUSTC="$W/rustc-web" RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$W/build" \
        RUSTFLAGS="-Zsanitizer=thread -Cforce-frame-pointers=yes" RUSTC_WRAPPER= CARGO_BUILD_RUSTC_WRAPPER= \
        cargo build -q -Zbuild-std=std,panic_unwind --release -p virsnap-capi --lib \
        --target x86_64-unknown-linux-gnu || die "TSan build of libvirsnap.a"
    # std must really be instrumented, or the run is meaningless
    # (grep -c, not -q: -q would SIGPIPE nm and fail the pipe under pipefail)
    local inst; inst=$(nm -A "$LIB" 2>/dev/null | grep -c ':std-[0-9a-f]*\.std\..*U __tsan_func_entry')
    [ "$inst" -gt 0 ] || die "std objects in $LIB are not TSan-instrumented"
    echo "std: $inst instrumented object files in libvirsnap.a"
    mkdir -p "$OUT"
    for t in hostile_threads threads; do cc_tsan "tests/c/$t.c" "$OUT/$t" || die "compile $t.c with TSan"; done
    cc_tsan tests/tsan/canary.c "$OUT/canary" || die "compile canary.c"
    TSAN_OPTIONS="exitcode=66" "$OUT/canary" >"$OUT/canary.log" 2>&1
    local rc=$?
    grep -q 'WARNING: ThreadSanitizer: data race' "$OUT/canary.log" && [ $rc = 66 ] ||
        die "the canary's race was not reported (rc $rc): TSan is not working"
    echo "canary: race reported, TSan works"
}

run() { # program seconds [uri]
    local prog=$1 secs=$2 log; shift 2
    [ -x "$OUT/$prog" ] || die "$OUT/$prog not built (run '$0 build' first)"
    log=$OUT/$prog.tsan.log
    # halt_on_error=0: count every report; exitcode 66 if there was any.
    TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 history_size=4 ${TSAN_OPTIONS:-}" \
        "$OUT/$prog" "$secs" "$@" >"$log.out" 2>"$log"
    local rc=$? n
    n=$(grep -c 'WARNING: ThreadSanitizer' "$log")
    cat "$log.out"
    echo "tsan: $prog exit $rc, $n ThreadSanitizer reports, no suppressions (log: $log)"
    if [ "$n" -gt 0 ]; then grep -E '^SUMMARY' "$log" | sort | uniq -c | sort -rn | head -10; fi
    grep '^FAIL' "$log" | head -10
    [ "$rc" = 0 ] && [ "$n" = 0 ]
}

case "${1:-}" in
    build) build ;;
    run) shift; [ $# -ge 2 ] || die "usage: $0 run PROGRAM SECONDS [URI]"; run "$@" ;;
    *) echo "usage: $0 build | run PROGRAM SECONDS [URI]" >&2; exit 2 ;;
esac

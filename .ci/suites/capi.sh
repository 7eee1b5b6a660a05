#!/usr/bin/env bash
# C ABI suite (issue 3): libvirsnap.so as a source and binary drop-in for
# libvirt callers.
#
#   .ci/suites/capi.sh            # everything, 8-thread stress for 10 s
#   VIRSNAP_THREADS_SECONDS=30 .ci/suites/capi.sh   # the issue's 30 s run
#
# Steps: cargo build --release + capi/build-so.sh (versioned relink),
# the ABI table against the installed libvirt-dev, exported symbols and
# version nodes of all libraries against the installed libvirt 9.0
# (tests/abi/check-exports.py), header freshness + capi unit tests,
# C programs (-std=c11 -Wall -Wextra -Werror) run directly, under valgrind
# and with ASan, ABI conformance against Debian's libvirt-dev, binary drop-in
# (same binary on libvirt and on libvirt-compat/libvirt.so.0, outputs
# identical; a program referencing the whole API with -lvirt -lvirt-qemu
# -lvirt-lxc), pkg-config after install. Prints "N passed, M failed, K skipped" last and
# exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
source .ci/lib.sh

need_apt gcc g++ binutils pkg-config valgrind python3 libc6-dev
have_libvirt=1
need_apt libvirt-dev || have_libvirt=0
[ -f /usr/include/libvirt/libvirt.h ] || have_libvirt=0
have_pyqemu=1
need_apt python3-libvirt qemu-utils qemu-system-x86 || have_pyqemu=0

R=${CARGO_TARGET_DIR:-$ROOT/target}/release
B=$ROOT/tests/c/build
mkdir -p "$B"
SECONDS_STRESS=${VIRSNAP_THREADS_SECONDS:-10}
CFLAGS=(-std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -pthread -I"$ROOT/include")
LINK=(-L"$R" -lvirsnap -Wl,-rpath,"$R")
pass=0
fail=0
skipped=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
run() { # name command...
    local name=$1; shift
    local log=$B/$(echo "$name" | tr ' /:' '___').log
    run_strict "$log" "$@"
    if [ "$RUN_RC" = 0 ]; then ok "$name"; else bad "$name (log: $log)"; tail -20 "$log" | sed 's/^/     /'; fi
}

echo "== capi: build"
if cargo build --release -p virsnap-capi && capi/build-so.sh; then ok "build (cargo + capi/build-so.sh)"; else
    bad "build"; echo "0 passed, 1 failed"; exit 1; fi

echo "== capi: library files and symbol versions"
check_files() {
    for f in libvirsnap.so.0 libvirsnap.so libvirsnap.a virsnap.pc libvirt-compat/libvirt.so.0 \
        libvirt-compat/libvirt-qemu.so.0 libvirt-compat/libvirt-lxc.so.0; do
        [ -e "$R/$f" ] || { echo "missing $R/$f"; return 1; }
    done
    readelf -d "$R/libvirsnap.so.0" | grep -q 'SONAME.*\[libvirsnap.so.0\]'
    readelf -d "$R/libvirt-compat/libvirt.so.0" | grep -q 'SONAME.*\[libvirt.so.0\]'
}
run "files and sonames" check_files
abi_exports() { # the exported set (names, version nodes, kinds) is libvirt 9.0's
    python3 tests/abi/check-exports.py "$R"
}
abi_negative() { # the comparison must catch a symbol in the wrong node
    local n=$B/abi-negative; rm -rf "$n"; mkdir -p "$n/libvirt-compat"
    sed '/^        virNodeGetInfo;$/d' "$R/abi-link/libvirt.syms" >"$n/libvirt.syms"
    cc -shared -o "$n/libvirt-compat/libvirt.so.0" -Wl,--whole-archive "$R/libvirsnap.a" -Wl,--no-whole-archive \
        -Wl,--version-script="$n/libvirt.syms" -Wl,-soname,libvirt.so.0 -lgcc_s -lpthread -ldl -lm -lc
    cp "$n/libvirt-compat/libvirt.so.0" "$n/libvirsnap.so.0"
    cp "$R/libvirt-compat/libvirt-qemu.so.0" "$R/libvirt-compat/libvirt-lxc.so.0" "$n/libvirt-compat/"
    ! python3 tests/abi/check-exports.py "$n" >"$n/out" && grep -q 'missing virNodeGetInfo@LIBVIRT_0.1.0' "$n/out"
}
if [ "$have_libvirt" = 1 ]; then
    run "capi/abi/libvirt-9.0.tsv matches the installed libvirt-dev" python3 capi/abi/gen-table.py --check capi/abi/libvirt-9.0.tsv
    run "exports = libvirt 9.0's public ABI (libvirt, libvirt-qemu, libvirt-lxc)" abi_exports
    run "export check detects a symbol in the wrong node" abi_negative
else
    skip "symbol versions: libvirt-dev (Debian's libvirt 9.0) not installed"
fi

echo "== capi: header freshness and Rust unit tests"
run "include/virsnap.h is fresh (tests/header.rs)" cargo test -q -p virsnap-suite --test header
run "cargo test -p virsnap-capi" cargo test -q -p virsnap-capi

echo "== capi: C programs"
TESTS=(lifecycle errors refcount threads health usage)
for t in "${TESTS[@]}"; do
    run "compile $t.c" cc "${CFLAGS[@]}" "tests/c/$t.c" -o "$B/$t" "${LINK[@]}"
    run "compile $t.c (ASan)" cc "${CFLAGS[@]}" -g -fsanitize=address -fno-omit-frame-pointer \
        "tests/c/$t.c" -o "$B/$t-asan" "${LINK[@]}"
done
for t in lifecycle errors refcount health usage; do
    run "run $t" "$B/$t"
done
run "run threads (8 threads, ${SECONDS_STRESS}s)" "$B/threads" "$SECONDS_STRESS"

echo "== capi: valgrind"
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --suppressions=/dev/null)
for t in lifecycle errors refcount health usage; do
    run "valgrind $t" "${VG[@]}" "$B/$t"
done
run "valgrind threads (2s)" "${VG[@]}" "$B/threads" 2
# helgrind does not model Rust std's futex-based Mutex/RwLock or Arc's
# atomics, so it reports false races inside libvirsnap; opt-in only.
if [ "${VIRSNAP_HELGRIND:-0}" = 1 ]; then
    run "valgrind helgrind threads (1s)" valgrind -q --tool=helgrind --error-exitcode=99 "$B/threads" 1
fi

echo "== capi: AddressSanitizer"
asan_linked() { nm "$B/lifecycle-asan" >"$B/lifecycle-asan.nm"; grep -q __asan_init "$B/lifecycle-asan.nm"; }
run "ASan runtime linked (nm)" asan_linked
for t in lifecycle errors refcount health usage; do
    run "asan $t" env ASAN_OPTIONS=detect_leaks=1 "$B/$t-asan"
done
run "asan threads (2s)" env ASAN_OPTIONS=detect_leaks=1 "$B/threads-asan" 2

echo "== capi: ABI conformance and C++"
if [ "$have_libvirt" = 1 ]; then
    A=$B/abi
    run "generate conformance inputs" python3 tests/abi/gen-conform.py "$ROOT" "$A"
    run "prototypes match libvirt 9.0 (conform.c)" cc -std=c11 -Wall -Wextra -Werror -pedantic \
        -I"$ROOT/include" -I"$A" tests/abi/conform.c -o "$A/conform"
    negative() { # the check must catch a changed parameter type
        mkdir -p "$A/neg"
        sed 's/\(virDomainSnapshotCreateXML *(virDomainPtr domain, const char \*xmlDesc, \)unsigned int flags/\1int flags/' \
            "$A/libvirt-prototypes.h" > "$A/neg/libvirt-prototypes.h"
        grep -q 'xmlDesc, int flags' "$A/neg/libvirt-prototypes.h" || return 1
        ! cc -std=c11 -Werror -I"$ROOT/include" -I"$A/neg" tests/abi/conform.c -o "$A/neg/conform" 2>/dev/null
    }
    run "conformance check detects a mismatch" negative
    enums() {
        cc -std=c11 -Wall -Wextra -Werror -I"$ROOT/include" "$A/enum_dump.c" -o "$A/dump-ours"
        cc -std=c11 -Wall -Wextra -Werror "$A/enum_dump.c" -o "$A/dump-libvirt"
        diff <("$A/dump-ours") <("$A/dump-libvirt")
    }
    run "enum values and struct layouts match libvirt 9.0" enums
else
    skip "ABI conformance: libvirt-dev not installed"
fi
run "header compiles as C++ and twice" g++ -std=c++17 -Wall -Wextra -Werror -pedantic -I"$ROOT/include" \
    tests/abi/cxx.cpp -o "$B/cxx" "${LINK[@]}"

echo "== capi: drop-in"
if [ "$have_libvirt" = 1 ]; then
    run "compile dropin.c against Debian libvirt-dev (-lvirt)" cc -std=c11 -Wall -Wextra -Werror tests/c/dropin.c \
        -o "$B/dropin-real" -lvirt
    run "compile dropin.c unchanged against include/ (-lvirsnap)" cc -std=c11 -Wall -Wextra -Werror \
        -I"$ROOT/include" tests/c/dropin.c -o "$B/dropin-src" "${LINK[@]}"
    dropin() {
        "$B/dropin-real" >"$B/dropin.libvirt.out" 2>&1
        LD_LIBRARY_PATH=$R/libvirt-compat "$B/dropin-real" >"$B/dropin.compat.out" 2>&1
        ldd "$B/dropin-real" | grep libvirt.so.0 >"$B/dropin.ldd"
        LD_LIBRARY_PATH=$R/libvirt-compat ldd "$B/dropin-real" | grep -q "$R/libvirt-compat/libvirt.so.0"
        "$B/dropin-src" >"$B/dropin.src.out" 2>&1
        diff -u "$B/dropin.libvirt.out" "$B/dropin.compat.out"
        diff -u "$B/dropin.libvirt.out" "$B/dropin.src.out"
        echo "$(wc -l <"$B/dropin.libvirt.out") identical lines"
    }
    run "binary drop-in: identical output on libvirt and libvirt-compat, and rebuilt from source" dropin
    wholeapi() { # references all of libvirt 9.0's API; out-of-scope calls as on libvirt
        local w=$B/whole; mkdir -p "$w"
        python3 tests/abi/gen-allrefs.py "$w/allrefs.h"
        cc -std=c11 -Wall -Wextra -Werror -I"$w" tests/c/wholeapi.c -o "$w/wholeapi" \
            -Wl,--no-as-needed -lvirt -lvirt-qemu -lvirt-lxc -Wl,-z,now
        "$w/wholeapi" >"$w/libvirt.out" 2>&1
        LD_LIBRARY_PATH=$R/libvirt-compat "$w/wholeapi" >"$w/compat.out" 2>&1
        for l in libvirt libvirt-qemu libvirt-lxc; do
            LD_LIBRARY_PATH=$R/libvirt-compat ldd "$w/wholeapi" | grep -q "$R/libvirt-compat/$l.so.0"
        done
        grep -q '^527 of 527 public symbols bound' "$w/compat.out"
        grep -q 'not supported by the connection driver: virNWFilterLookupByName' "$w/compat.out"
        diff -u "$w/libvirt.out" "$w/compat.out"
    }
    run "whole-API program (-lvirt -lvirt-qemu -lvirt-lxc, -z now) loads on libvirt-compat, same errors as libvirt" wholeapi
    passthrough() { # libvirt-qemu pass-through + virDomainGetID on qemu:///embed, python3-libvirt on both
        local w=$B/passthrough; rm -rf "$w"; mkdir -p "$w/libvirt" "$w/compat"
        /usr/bin/python3 tests/abi/qemu_passthrough.py "$w/libvirt" >"$w/libvirt.out" 2>"$w/libvirt.err"
        LD_LIBRARY_PATH=$R/libvirt-compat /usr/bin/python3 tests/abi/qemu_passthrough.py "$w/compat" \
            >"$w/compat.out" 2>"$w/compat.err"
        grep -q '"return":{"name":"pt"}' "$w/compat.out"
        diff -u "$w/libvirt.out" "$w/compat.out"
    }
    authid() { # test driver node-file <auth> and virDomainGetID, python3-libvirt on both
        local w=$B/authid; rm -rf "$w"; mkdir -p "$w/libvirt" "$w/compat"
        /usr/bin/python3 tests/abi/testdriver_auth_id.py "$w/libvirt" >"$w/libvirt.out" 2>&1
        LD_LIBRARY_PATH=$R/libvirt-compat /usr/bin/python3 tests/abi/testdriver_auth_id.py "$w/compat" >"$w/compat.out" 2>&1
        grep -q 'wrong password -> error code=45' "$w/compat.out"
        diff -u "$w/libvirt.out" "$w/compat.out"
    }
    if [ "$have_pyqemu" = 1 ]; then
        run "qemu monitor / agent pass-through and GetID: python3-libvirt on libvirt-compat = on libvirt" passthrough
        run "test driver <auth> and GetID: python3-libvirt on libvirt-compat = on libvirt" authid
    else
        skip "qemu pass-through, test driver auth: python3-libvirt, qemu-utils or qemu-system-x86 missing"
    fi
    run "lifecycle.c passes on real libvirt too" sh -c "cc ${CFLAGS[*]} -I/usr/include tests/c/lifecycle.c -o '$B/lifecycle-real' -lvirt -pthread && '$B/lifecycle-real'"
else
    skip "drop-in: libvirt-dev (Debian's libvirt 9.0) not installed"
fi

echo "== capi: event loop and default auth, on libvirt and on libvirt-compat"
if [ "$have_libvirt" = 1 ]; then
    run "compile event.c (-lvirt)" cc "${CFLAGS[@]}" -I/usr/include tests/c/event.c -o "$B/event-real" -lvirt -pthread
    run "compile auth.c (-lvirt)" cc -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L tests/c/auth.c \
        -o "$B/auth-real" -lvirt -lutil
    for lib in libvirt compat; do
        env=(); [ "$lib" = compat ] && env=(env LD_LIBRARY_PATH="$R/libvirt-compat")
        run "event loop on $lib (handles, timeouts, removal in callbacks, cross-thread wake-up)" "${env[@]}" "$B/event-real"
        run "application event impl on $lib (virEventRegisterImpl)" "${env[@]}" "$B/event-real" app
        run "virConnectAuthPtrDefault on $lib (pty)" sh -c '"$@" >"$0" 2>&1' "$B/auth-pty.$lib.out" "${env[@]}" "$B/auth-real"
        run "virConnectAuthPtrDefault on $lib (pipe)" sh -c 'printf "bob\n" | "$@" >"$0" 2>&1' "$B/auth-pipe.$lib.out" "${env[@]}" "$B/auth-real" pipe
    done
    run "compile hostinfo.c (-lvirt)" cc -std=c11 -Wall -Wextra -Werror tests/c/hostinfo.c -o "$B/hostinfo-real" -lvirt
    hostinfo_test() {
        "$B/hostinfo-real" test:///default test full-caps >"$B/hostinfo.test.libvirt.out" 2>&1
        LD_LIBRARY_PATH=$R/libvirt-compat "$B/hostinfo-real" test:///default test full-caps >"$B/hostinfo.test.compat.out" 2>&1
        diff -u "$B/hostinfo.test.libvirt.out" "$B/hostinfo.test.compat.out"
    }
    run "host info, capabilities, close callback, keepalive on test:///default identical to libvirt's" hostinfo_test
    if [ -x /usr/sbin/virtqemud ] || [ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ]; then
        hostinfo_qemu() {
            getent group kvm >/dev/null || groupadd -r kvm
            id libvirt-qemu >/dev/null 2>&1 || useradd -r libvirt-qemu
            local d; d=$(mktemp -d)
            mkdir -p "$d/libvirt/etc" "$d/compat"
            printf 'user = "root"\ngroup = "root"\nstdio_handler = "file"\n' >"$d/libvirt/etc/qemu.conf"
            qemu-img create -q -f qcow2 "$d/vm.qcow2" 16M
            local xml="<domain type='qemu'><name>vm</name><uuid>4d7ae8c4-3b4c-4ef0-9a35-8c9b0f1d2e3a</uuid><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$d/vm.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>"
            HOSTINFO_DEFINE_XML=$xml "$B/hostinfo-real" "qemu:///embed?root=$d/libvirt" vm >"$B/hostinfo.qemu.libvirt.out" 2>&1
            HOSTINFO_DEFINE_XML=$xml LD_LIBRARY_PATH=$R/libvirt-compat "$B/hostinfo-real" "qemu:///embed?root=$d/compat" vm \
                >"$B/hostinfo.qemu.compat.out" 2>&1
            rm -rf "$d"
            diff -u "$B/hostinfo.qemu.libvirt.out" "$B/hostinfo.qemu.compat.out"
        }
        run "host info (this machine's node info, max vCPUs, sysinfo) on qemu:///embed identical to libvirt's" hostinfo_qemu
    else
        echo "skip qemu host info: libvirt's qemu driver not installed"
    fi
    run "valgrind event loop on compat" env LD_LIBRARY_PATH="$R/libvirt-compat" "${VG[@]}" "$B/event-real"
    run "compile domain_events.c (-lvirt)" cc "${CFLAGS[@]}" -I/usr/include tests/c/domain_events.c -o "$B/domain_events-real" -lvirt
    domain_events_test() { # lifecycle callbacks on test:///default: the same transcript as libvirt's test driver
        "$B/domain_events-real" >"$B/domain_events.libvirt.out" 2>&1 || return 1
        LD_LIBRARY_PATH=$R/libvirt-compat "$B/domain_events-real" >"$B/domain_events.compat.out" 2>&1 || return 1
        grep -q 'any\[all\] test event=5 detail=6' "$B/domain_events.libvirt.out"
        diff -u "$B/domain_events.libvirt.out" "$B/domain_events.compat.out" || return 1
        # Source drop-in: the same file against include/ and -lvirsnap.
        cc "${CFLAGS[@]}" tests/c/domain_events.c -o "$B/domain_events-src" "${LINK[@]}" || return 1
        "$B/domain_events-src" >"$B/domain_events.src.out" 2>&1 || return 1
        diff -u "$B/domain_events.libvirt.out" "$B/domain_events.src.out"
    }
    run "domain lifecycle events (RegisterAny/Register, filters, errors, every snapshot revert transition) identical to libvirt's" domain_events_test
    run "valgrind domain events on compat" env LD_LIBRARY_PATH="$R/libvirt-compat" "${VG[@]}" "$B/domain_events-real"
    auth_open() { # a real virConnectOpenAuth(.., virConnectAuthPtrDefault, 0) on a node file with <auth>
        printf '%s\n' "<node><auth><user password='pw'>alice</user><user>bob</user></auth>" \
            "<domain type='test'><name>n1</name><memory>1024</memory><os><type>hvm</type></os></domain></node>" >"$B/auth-node.xml"
        local lib
        for lib in libvirt compat; do
            local env=(); [ "$lib" = compat ] && env=(env LD_LIBRARY_PATH="$R/libvirt-compat")
            for who in "alice pw" "alice nope" "carol pw" "bob x"; do
                # shellcheck disable=SC2086
                "${env[@]}" "$B/auth-real" open "test://$B/auth-node.xml" $who || echo "exit $?"
            done >"$B/auth-open.$lib.out" 2>&1
        done
        grep -q "opened: 1 domains" "$B/auth-open.libvirt.out"
        grep -q "code=45 domain=12" "$B/auth-open.libvirt.out"
        diff -u "$B/auth-open.libvirt.out" "$B/auth-open.compat.out"
    }
    run "virConnectOpenAuth with virConnectAuthPtrDefault on a test node file with <auth> (pty): identical to libvirt's" auth_open
    run "default auth transcripts identical to libvirt's (pty)" diff -u "$B/auth-pty.libvirt.out" "$B/auth-pty.compat.out"
    run "default auth transcripts identical to libvirt's (pipe)" diff -u "$B/auth-pipe.libvirt.out" "$B/auth-pipe.compat.out"
else
    echo "skip event/auth: libvirt-dev not installed"
fi

echo "== capi: install + pkg-config"
pkgconf() { # the README's one build command for C users, then a libvirt-written file unchanged
    local pfx; pfx=$(mktemp -d)
    capi/build-so.sh --install "$pfx" >/dev/null
    local flags; flags=$(PKG_CONFIG_PATH=$pfx/lib/pkgconfig pkg-config --cflags --libs virsnap)
    echo "pkg-config: $flags"
    # shellcheck disable=SC2086
    cc -std=c11 -Wall -Wextra -Werror tests/c/lifecycle.c -o "$pfx/lifecycle" $flags -Wl,-rpath,"$pfx/lib"
    "$pfx/lifecycle"
    # shellcheck disable=SC2086
    cc -std=c11 -Wall -Wextra -Werror tests/c/dropin.c -o "$pfx/dropin" $flags -Wl,-rpath,"$pfx/lib"
    "$pfx/dropin" >"$pfx/dropin.out" 2>&1
    if [ -f "$B/dropin.libvirt.out" ]; then diff -u "$B/dropin.libvirt.out" "$pfx/dropin.out"; fi
    for l in libvirt libvirt-qemu libvirt-lxc; do [ -f "$pfx/lib/virsnap/libvirt-compat/$l.so.0" ] || return 1; done
    [ -f "$pfx/share/bash-completion/completions/virsnap" ] || return 1
    rm -rf "$pfx"
}
run "install + pkg-config --cflags --libs virsnap (libvirt-written dropin.c unchanged)" pkgconf

echo "$pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]

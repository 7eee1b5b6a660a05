#!/usr/bin/env bash
# Coverage-guided fuzzing (issue 10): nine libFuzzer targets in tests/fuzz/
# (snapshot XML parser and through the test driver, domain XML, URIs, ESX
# SOAP responses, VBoxManage output and .vbox files, QMP/qemu-img JSON, a
# live QMP session of the qemu driver against a scripted peer),
# seeded from tests/fuzz/seeds/ and the repository's test data (libvirt's
# snapshot XML inputs in core/tests/data/libvirt-xml and .vbox files in
# core/tests/data/libvirt-vbox, VirtualBox 7.2 output in tests/vbox/transcripts).
#
#   .ci/suites/fuzz.sh                         # CI: each target 30 s
#   VIRSNAP_FUZZ_SECONDS=600 .ci/suites/fuzz.sh   # the long run (10 min each)
#   VIRSNAP_FUZZ_TARGETS="uri qmp_json" ...    # a subset
#   VIRSNAP_FUZZ_JOBS=7 ...                    # targets run in parallel (default 1)
#
# Built with stable rustc's SanitizerCoverage passes (what cargo-fuzz passes;
# `cargo fuzz` itself is not needed), debug assertions and overflow checks,
# panic=abort. A crash, a panic, a timeout (>10 s per input) or an
# out-of-memory (>2 GiB) fails the target; its reproducer is kept under
# $VIRSNAP_FUZZ_OUT/artifacts/TARGET/. Prints "N passed, M failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
source .ci/lib.sh

SECS=${VIRSNAP_FUZZ_SECONDS:-30}
JOBS=${VIRSNAP_FUZZ_JOBS:-1}
TARGETS=(${VIRSNAP_FUZZ_TARGETS:-snapshot_xml snapshot_driver domain_xml uri esx_soap vbox_output qmp_json qmp_session store_journal qcow2_usage})
OUT=${VIRSNAP_FUZZ_OUT:-$ROOT/target/fuzz-run}
XMLIN=core/tests/data/libvirt-xml
VBOXIN=tests/vbox/transcripts
export CARGO_TARGET_DIR=${VIRSNAP_FUZZ_TARGET_DIR:-$ROOT/target/fuzz-build}
TRIPLE=$(rustc -vV | awk '/^host:/ {print $2}')
BIN=$CARGO_TARGET_DIR/$TRIPLE/release

if ! command -v c++ >/dev/null 2>&1; then
    need_apt g++ || { skip "fuzz: no C++ compiler to build libFuzzer (apt-get install g++ failed)"; exit $?; }
fi

echo "== fuzz: build (SanitizerCoverage, ${TRIPLE})"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
if ! (cd tests/fuzz && cargo build --release --target "$TRIPLE" --bins); then
    if ! (cd tests/fuzz && cargo fetch >/dev/null 2>&1); then
        skip "fuzz: cannot fetch libfuzzer-sys from the registry"; exit $?
    fi
    echo "FAIL build"; echo "0 passed, 1 failed"; exit 1
fi

# Seed corpora: a selector byte first for the targets that take one.
seed() { # target file [selector-octal]
    local t=$1 f=$2 sel=${3:-} d=$OUT/seeds/$1
    mkdir -p "$d"
    local n; n=$(basename "$(dirname "$f")")-$(basename "$f")
    if [ -n "$sel" ]; then { printf "\\$sel"; cat "$f"; } >"$d/$sel-$n"; else cp "$f" "$d/$n"; fi
}
rm -rf "$OUT/seeds"; mkdir -p "$OUT/seeds"
for t in "${TARGETS[@]}"; do mkdir -p "$OUT/seeds/$t" "$OUT/corpus/$t" "$OUT/artifacts/$t"; done
for f in tests/fuzz/seeds/*/*; do seed "$(basename "$(dirname "$f")")" "$f"; done
for f in "$XMLIN"/qemudomainsnapshotxml2xml{in,out}/*.xml; do
    seed snapshot_xml "$f" 000; seed snapshot_xml "$f" 001; seed snapshot_xml "$f" 003
    seed snapshot_driver "$f" 000; seed snapshot_driver "$f" 001
    # the <domain> inside a snapshot document
    python3 - "$f" "$OUT/seeds/domain_xml/$(basename "$f")" <<'PY' 2>/dev/null || true
import re, sys
m = re.search(r"<domain[ >].*?</domain>", open(sys.argv[1]).read(), re.S)
if m: open(sys.argv[2], "w").write(m.group(0))
PY
done
for f in "$VBOXIN"/vbox72-cli/transcripts/*.stdout; do
    [ -s "$f" ] || continue
    if grep -q '^SnapshotName' "$f"; then seed vbox_output "$f" 000; else seed vbox_output "$f" 001; fi
done
for f in "$VBOXIN"/vbox72-cli/transcripts/*.stderr; do [ -s "$f" ] && seed vbox_output "$f" 002; done
for f in "$VBOXIN"/vbox72-settings/* core/tests/data/libvirt-vbox/*.vbox; do
    [ -f "$f" ] && seed vbox_output "$f" 003
done
for f in "$VBOXIN"/vbox72-soap/*.response.xml; do seed esx_soap "$f"; done
# Small inputs make libFuzzer faster; skip seeds over 64 KiB.
find "$OUT/seeds" -type f -size +64k -delete

pass=0; fail=0; report=$OUT/summary.txt; : >"$report"
run_one() {
    local t=$1 log=$OUT/$1.log
    echo "== fuzz: $t for ${SECS}s ($(ls "$OUT/seeds/$t" | wc -l) seeds)"
    "$BIN/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t/" \
        "$OUT/corpus/$t" "$OUT/seeds/$t" >"$log" 2>&1
    local rc=$?
    local execs cov
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
    cov=$(grep -E '#[0-9]+.*cov: ' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
    if [ "$rc" -eq 0 ]; then
        echo "ok   $t: ${execs:-?} executions in ${SECS}s, coverage ${cov:-?} edges, corpus $(ls "$OUT/corpus/$t" | wc -l)" | tee -a "$report"
    else
        echo "FAIL $t (exit $rc, log $log, artifacts $OUT/artifacts/$t/)" | tee -a "$report"
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -8 | sed 's/^/     /'
    fi
    return $rc
}
if [ "$JOBS" -le 1 ]; then
    for t in "${TARGETS[@]}"; do if run_one "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi; done
else
    pids=()
    for t in "${TARGETS[@]}"; do run_one "$t" & pids+=($!); done
    for p in "${pids[@]}"; do if wait "$p"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi; done
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

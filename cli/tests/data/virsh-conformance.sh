#!/bin/bash
# Runs libvirt 9.0's tests/virsh-snapshot batches (virsh-snapshot/*.virsh, as
# libvirt's script does) through the reference `virsh` (the installed
# libvirt 9.0) and through the virsh-compatible binary $1, and compares the
# two live: batch 1's stdout cooked as libvirt's script cooks it (trailing
# spaces, the snapshot-list timestamp, the MarkerA..MarkerC dump) and its
# stderr, then batch 2 (redefining the s3.xml and s2.xml each binary's own
# batch 1 wrote) uncooked. Exit 0 when all four match, 1 when one differs,
# 77 when virsh is not installed. A reference run that dies of a signal is
# rerun (up to 5 times) and never counted as a difference.
set -euo pipefail
bin=$1
data=$(cd "$(dirname "$0")" && pwd)/virsh-snapshot
command -v virsh >/dev/null 2>&1 || { echo "virsh is not installed; cannot compare with libvirt"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run_batches DIR BINARY: both batches in DIR; outputs out1.cooked err1 out2 err2.
run_batches() {
    local dir=$1 b=$2
    mkdir -p "$dir"
    (
        cd "$dir"
        "$b" --connect test:///default "$(cat "$data/batch1.virsh")" >out1.raw 2>err1 && echo 0 >rc1 || echo $? >rc1
        sed 's/ *$//; s/[0-9-]\{10\} [0-9:.]* .[0-9]\{4\}/TIMESTAMP/; /MarkerA/,/MarkerC/d' out1.raw >out1.cooked
        sed -n '/MarkerA/,/MarkerB/p' out1.raw >s3.xml
        sed -n '/MarkerB/,/MarkerC/p' out1.raw >s2.xml
        "$b" -c test:///default "$(cat "$data/batch2.virsh")" >out2 2>err2 && echo 0 >rc2 || echo $? >rc2
    )
}

# The reference, rerun while a run of it dies of a signal (status > 128).
for attempt in 1 2 3 4 5; do
    rm -rf "$work/virsh"
    run_batches "$work/virsh" virsh
    if [ "$(cat "$work/virsh/rc1")" -le 128 ] && [ "$(cat "$work/virsh/rc2")" -le 128 ]; then break; fi
    echo "reference virsh died of a signal (attempt $attempt, status $(cat "$work/virsh/rc1")/$(cat "$work/virsh/rc2")); rerunning"
    [ "$attempt" = 5 ] && { echo "reference virsh crashed 5 times; nothing compared"; exit 1; }
done
run_batches "$work/virsnap" "$bin"

fail=0
for f in out1.cooked err1 rc1 out2 err2 rc2; do
    diff -u --label "virsh/$f" --label "virsnap/$f" "$work/virsh/$f" "$work/virsnap/$f" || fail=1
done
# A comparison that cannot fail is worthless: the reference must have run the batches.
grep -q 'MarkerA' "$work/virsh/out1.raw" || { echo "reference virsh did not run batch 1 as expected"; fail=1; }
exit $fail

#!/bin/bash
# Runs libvirt's tests/virsh-snapshot batches (README §3 of
# shared/conformance/libvirt) through the virsh-compatible binary $1 and
# compares with the expected files in $2. Exit 0 when all four match.
set -euo pipefail
bin=$1
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0
"$bin" --connect test:///default "$(cat "$data/batch1.virsh")" >out1.raw 2>err1 || true
sed 's/ *$//; s/[0-9-]\{10\} [0-9:.]* .[0-9]\{4\}/TIMESTAMP/; /MarkerA/,/MarkerC/d' out1.raw >out1.cooked
sed -n '/MarkerA/,/MarkerB/p' out1.raw >s3.xml
sed -n '/MarkerB/,/MarkerC/p' out1.raw >s2.xml
diff -u "$data/batch1.expected-stdout.txt" out1.cooked || fail=1
diff -u "$data/batch1.expected-stderr.txt" err1 || fail=1
"$bin" -c test:///default "$(cat "$data/batch2.virsh")" >out2 2>err2 || true
diff -u "$data/batch2.expected-stdout.txt" out2 || fail=1
diff -u "$data/batch2.expected-stderr.txt" err2 || fail=1
exit $fail

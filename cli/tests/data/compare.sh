#!/bin/bash
# Runs every session of compare-sessions.txt through `virsh -c URI` and
# `$VIRSNAP -c URI` and compares stdout, stderr and exit status after
# masking times. Usage: compare.sh VIRSNAP_BINARY [SESSIONS_FILE]
# Exits 0 when all match, 1 otherwise, 77 when virsh is not installed.
# A virsh run that dies of a signal (the reference crashed) is rerun, up to
# 5 times, and never counted as virsnap's difference.
set -euo pipefail
virsnap=$1
sessions=${2:-$(dirname "$0")/compare-sessions.txt}
if ! command -v virsh >/dev/null 2>&1; then
    echo "virsh is not installed; cannot compare with real virsh"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/dom.xml" <<'XML'
<domain type='test'>
  <name>other</name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>
XML
cat >"$work/snap.xml" <<'XML'
<domainsnapshot>
  <name>fromfile</name>
  <description>from a file</description>
</domainsnapshot>
XML
export EDITOR="$(cd "$(dirname "$0")" && pwd)/editor.sh"
unset VISUAL
mask() {
    sed -E 's/^(CPU time: +)[0-9.]+s$/\1Xs/; s/[0-9-]{10} [0-9:.]* .[0-9]{4}/TIMESTAMP/; s/\b1[0-9]{9}\b/EPOCH/g'
}
# virsnap's own options (snapshot-list/snapshot-info --json) are the only
# help text virsh does not have: dropped from virsnap's side, so every
# other byte of the help is still compared.
own_opts() {
    sed -E 's/ \[--json\]$//; /^    --json {2,}/d'
}
pass=0
fail=0
n=0
while IFS= read -r line; do
    case $line in ''|'#'*) continue ;; esac
    n=$((n + 1))
    for attempt in 1 2 3 4 5; do
        (cd "$work" && virsh -c test:///default "$line" >v.out 2>v.err; echo $? >v.rc) || true
        [ "$(cat "$work/v.rc")" -le 128 ] && break
        echo "reference virsh died of a signal (status $(cat "$work/v.rc"), attempt $attempt): $line"
    done
    (cd "$work" && "$virsnap" -c test:///default "$line" >s.out 2>s.err; echo $? >s.rc) || true
    ok=1
    for f in out err rc; do
        if ! diff -u <(mask <"$work/v.$f") <(own_opts <"$work/s.$f" | mask) >"$work/diff" 2>&1; then
            ok=0
            echo "FAIL session $n ($f): $line"
            sed 's/^/    /' "$work/diff" | head -40
        fi
    done
    if [ $ok = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done <"$sessions"
echo "compare: $pass sessions identical, $fail differ"
[ $fail = 0 ]

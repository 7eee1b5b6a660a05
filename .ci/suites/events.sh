#!/usr/bin/env bash
# Domain events between processes (issue 19 items 2-3), compared live with
# libvirt 9.0:
#  - libvirt: a private libvirtd serves test:///default; one `virsh event
#    --all --loop` watches while another virsh process runs SEQUENCE;
#  - virsnap: a qemu:///embed root with a real (TCG) guest; one `virsnap
#    event --all --loop` watches while another virsnap process runs the same
#    SEQUENCE (events cross processes through the root's event log);
#  the printed event lines must be identical. Then virsnap's own snapshot
#  events (created, renamed, reverted, deleted) must reach the watcher.
# Watchers are stopped once the last expected line arrived (never a sleep
# sized to the machine); a 300 s cap only catches a hang.
# Prints "N passed, M failed" last; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
source .ci/lib.sh
need_apt libvirt-clients libvirt-daemon qemu-system-x86 qemu-utils coreutils || true
cargo build --release --locked -p virsnap-cli || { echo "0 passed, 1 failed"; exit 1; }
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/virsnap
W=$(mktemp -d /tmp/virsnap-events.XXXXXX)
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    [ -f "$W/lvd/pid" ] && kill "$(cat "$W/lvd/pid")" 2>/dev/null
    "$BIN" -c "qemu:///embed?root=$W/root" destroy test >/dev/null 2>&1
    local f
    for f in "$W"/lq/run/qemu/*.pid "$W"/vq/run/qemu/*.pid; do   # guests of a failed qemu_events.py
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    rm -rf "$W"
}
trap cleanup EXIT

# Events libvirt's test and qemu drivers report alike (start and destroy
# differ: the qemu driver adds QEMU's RESUME / SHUTDOWN; checked below
# against libvirt's qemu driver itself).
SEQUENCE='suspend test; resume test; suspend test; resume test; define DEF'
LAST="event 'lifecycle' for domain 'test': Defined Updated"

# wait_for FILE LINE: until FILE holds LINE (cap 300 s).
wait_for() {
    local i
    for ((i = 0; i < 3000; i++)); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "timed out waiting for '$2' in $1"; return 1
}
# watch_ready PID FILE: until process PID has FILE open (its watcher is
# subscribed), cap 300 s.
watch_ready() {
    local i
    for ((i = 0; i < 3000; i++)); do
        ls -l "/proc/$1/fd" 2>/dev/null | grep -q "$2" && return 0
        sleep 0.1
    done
    echo "watcher $1 never opened $2"; return 1
}

if ! command -v virsh >/dev/null || [ ! -x /usr/sbin/libvirtd ] || ! command -v qemu-system-x86_64 >/dev/null; then
    skip "events: virsh, libvirtd or qemu-system-x86_64 missing" || fail=$((fail + 1))
    echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit
fi

# ---- libvirt: libvirtd + test:///default
mkdir -p "$W/lvd"
printf 'unix_sock_dir = "%s"\nunix_sock_rw_perms = "0700"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n' "$W/lvd" >"$W/lvd/libvirtd.conf"
/usr/sbin/libvirtd -f "$W/lvd/libvirtd.conf" --pid-file "$W/lvd/pid" >"$W/lvd/log" 2>&1 &
pids+=($!)
S="test+unix:///default?socket=$W/lvd/libvirt-sock"
for ((i = 0; i < 3000; i++)); do virsh -q -c "$S" uri >/dev/null 2>&1 && break; sleep 0.1; done
printf "<domain type='test'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><memory>8388608</memory><os><type>hvm</type></os></domain>\n" >"$W/test.xml"
stdbuf -oL virsh -c "$S" event --all --loop --timeout 300 --timestamp >"$W/virsh.out" 2>&1 &
vw=$!; pids+=($vw)
# virsh has registered its callbacks once it prints a probe's event: probe
# (suspend + resume) until it does.
probed=0
for ((i = 0; i < 150 && !probed; i++)); do
    virsh -q -c "$S" "suspend test; resume test" >/dev/null 2>&1
    for ((j = 0; j < 20; j++)); do
        grep -q "Resumed Unpaused" "$W/virsh.out" && { probed=1; break; }
        sleep 0.1
    done
done
[ "$probed" = 1 ] || bad "virsh watcher never received the probe's events (log: $W/lvd/log)"
cp "$W/virsh.out" "$W/virsh.before"
virsh -q -c "$S" "${SEQUENCE//DEF/$W/test.xml}" >"$W/virsh.actor" 2>&1
wait_for "$W/virsh.out" "$LAST"
kill "$vw" 2>/dev/null
# --timestamp: virTimeStringNowRaw's UTC form, then the event line.
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\+0000: '
events_of() { grep -E "${TS}event '" | sed -E "s/${TS}//"; }
tail -n +"$(($(wc -l <"$W/virsh.before") + 1))" "$W/virsh.out" | events_of >"$W/virsh.events"

# ---- virsnap: qemu:///embed root, a real TCG guest
U="qemu:///embed?root=$W/root"
qemu-img create -q -f qcow2 "$W/test.qcow2" 16M
printf "<domain type='qemu'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/><target dev='vda' bus='virtio'/></disk></devices></domain>\n" "$W/test.qcow2" >"$W/qemu.xml"
"$BIN" -c "$U" "define $W/qemu.xml; start test" >"$W/virsnap.setup" 2>&1 || { cat "$W/virsnap.setup"; bad "virsnap setup (define + start)"; }
stdbuf -oL "$BIN" -c "$U" event --all --loop --timeout 300 --timestamp >"$W/virsnap.out" 2>&1 &
sw=$!; pids+=($sw)
watch_ready "$sw" .virsnap-events
"$BIN" -q -c "$U" "${SEQUENCE//DEF/$W/qemu.xml}" >"$W/virsnap.actor" 2>&1
wait_for "$W/virsnap.out" "$LAST"
if diff -u "$W/virsh.events" <(events_of <"$W/virsnap.out") && ! grep -q "^event '" "$W/virsnap.out"; then
    ok "lifecycle events of another process (suspend, resume, define): virsnap event --timestamp prints virsh's lines ($(wc -l <"$W/virsh.events") events)"
else
    bad "lifecycle events differ from virsh's (above: - virsh, + virsnap)"
fi
[ -s "$W/virsh.events" ] && ok "virsh received the sequence through libvirtd" || bad "virsh received nothing (log: $W/lvd/log)"

# ---- virsnap's snapshot events, another process
"$BIN" -q -c "$U" "snapshot-create-as test s1; snapshot-rename test s1 s2; snapshot-revert test s2; snapshot-delete test s2" \
    >"$W/virsnap.snaps" 2>&1
wait_for "$W/virsnap.out" "event 'snapshot' for domain 'test': Deleted s2"
expect="event 'snapshot' for domain 'test': Created s1
event 'snapshot' for domain 'test': Renamed s2 (from s1)
event 'snapshot' for domain 'test': Reverted s2
event 'snapshot' for domain 'test': Deleted s2"
if [ "$(events_of <"$W/virsnap.out" | grep "^event 'snapshot'")" = "$expect" ]; then
    ok "snapshot events (created, renamed, reverted, deleted) of another process"
else
    bad "snapshot events: got"; grep "event 'snapshot'" "$W/virsnap.out"
fi
kill "$sw" 2>/dev/null

# ---- --domain filter and one-shot mode, against another process
stdbuf -oL "$BIN" -c "$U" event --domain nosuch --all --timeout 1 >"$W/nosuch.out" 2>&1
if [ "$(cat "$W/nosuch.out")" = "error: failed to get domain 'nosuch'" ]; then ok "--domain of an unknown domain"; else bad "--domain nosuch: $(cat "$W/nosuch.out")"; fi
stdbuf -oL "$BIN" -c "$U" event --domain test --event snapshot --timeout 300 >"$W/one.out" 2>&1 &
ow=$!; pids+=($ow)
watch_ready "$ow" .virsnap-events
"$BIN" -q -c "$U" "snapshot-create-as test s3" >/dev/null 2>&1
wait "$ow"; rc=$?
if [ "$rc" = 0 ] && [ "$(cat "$W/one.out")" = "event 'snapshot' for domain 'test': Created s3
events received: 1" ]; then ok "one-shot --event snapshot --domain test"; else bad "one-shot: rc=$rc $(cat "$W/one.out")"; fi

# ---- C API (libvirsnap): a watcher process gets another process's events
# through virEventRunDefaultImpl (the log's inotify handle in the loop).
R=${CARGO_TARGET_DIR:-$ROOT/target}/release
cargo build --release --locked -p virsnap-capi >/dev/null 2>&1
if cc -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -I"$ROOT/include" tests/c/domain_events_watch.c \
    -o "$W/watch" -L"$R" -lvirsnap -Wl,-rpath,"$R"; then
    "$BIN" -q -c "$U" destroy test >/dev/null 2>&1   # the sequence above left it running
    stdbuf -oL "$W/watch" "$U" 9 >"$W/watch.out" 2>&1 &
    cw=$!; pids+=($cw)
    wait_for "$W/watch.out" ready
    "$BIN" -q -c "$U" "start test; snapshot-create-as test c1; snapshot-rename test c1 c2; snapshot-delete test c2; destroy test" \
        >"$W/watch.actor" 2>&1
    wait "$cw"; rc=$?
    expect="ready
lifecycle test 4 0
lifecycle test 2 0
lifecycle test 3 0
lifecycle test 4 0
snapshot test 0 c1 -
snapshot test 3 c2 c1
snapshot test 1 c2 -
lifecycle test 6 2
lifecycle test 5 1"
    if [ "$rc" = 0 ] && [ "$(grep -v '^domain_events_watch: ' "$W/watch.out")" = "$expect" ] &&
        grep -q '^domain_events_watch: .* 0 failed$' "$W/watch.out"; then
        ok "C API: lifecycle and VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT callbacks for another process's operations"
    else
        bad "C API watcher (rc=$rc):"; cat "$W/watch.out" "$W/watch.actor"
    fi
else
    bad "compile tests/c/domain_events_watch.c"
fi

# ---- a real guest's lifecycle and revert events against libvirt's own qemu
# driver (qemu:///embed, python3-libvirt) and virsnap's (the Python wheel
# the python suite installed): bindings/python/tests/qemu_events.py.
VPY=${VIRSNAP_PYTHON:-${CARGO_TARGET_DIR:-$ROOT/target}/venv-python/bin/python}
if [ -x "$VPY" ] && "$VPY" -c "import virsnap" 2>/dev/null && /usr/bin/python3 -c "import libvirt" 2>/dev/null &&
    [ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ]; then
    getent group kvm >/dev/null || groupadd -r kvm
    id libvirt-qemu >/dev/null 2>&1 || useradd -r libvirt-qemu
    mkdir -p "$W/lq/etc" "$W/vq"
    printf 'user = "root"\ngroup = "root"\nstdio_handler = "file"\n' >"$W/lq/etc/qemu.conf"
    qemu-img create -q -f qcow2 "$W/lq.qcow2" 16M
    qemu-img create -q -f qcow2 "$W/vq.qcow2" 16M
    T=bindings/python/tests/qemu_events.py
    (cd / && timeout 600 /usr/bin/python3 "$ROOT/$T" libvirt "$W/lq" "$W/lq.qcow2") >"$W/qemu.libvirt" 2>"$W/qemu.libvirt.err"
    (cd / && timeout 600 "$VPY" "$ROOT/$T" virsnap "$W/vq" "$W/vq.qcow2") >"$W/qemu.virsnap" 2>"$W/qemu.virsnap.err"
    if grep -q '^done$' "$W/qemu.libvirt" && grep -q '(5, 6), (2, 3)' "$W/qemu.libvirt" &&
        diff -u "$W/qemu.libvirt" "$W/qemu.virsnap"; then
        ok "qemu guest: start, suspend, resume, snapshot, every revert transition, destroy, define, undefine: libvirt's qemu driver's events"
    else
        bad "qemu guest events differ from libvirt's qemu driver (- libvirt, + virsnap)"; tail -5 "$W/qemu.virsnap.err"
    fi
else
    skip "qemu guest events vs libvirt's qemu driver: the virsnap wheel (python suite), python3-libvirt or libvirt's qemu driver missing" ||
        fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

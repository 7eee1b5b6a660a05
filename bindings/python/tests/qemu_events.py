"""Lifecycle events of a real (TCG) guest on qemu:///embed?root=ROOT, under
libvirt-python (libvirt 9.0's qemu driver) and under virsnap (as `libvirt`):
same output expected (.ci/suites/events.sh runs both and compares).

    python qemu_events.py libvirt|virsnap ROOT DISK

After each step a sentinel domain is defined again: its event is queued
after every event of the step, so the step's events are complete when it
arrives (no sleeps; a 300 s cap only catches a hang).
"""

import sys
import threading
import time

if sys.argv[1] == "virsnap":
    import virsnap

    sys.modules["libvirt"] = virsnap
import libvirt  # noqa: E402

root, disk = sys.argv[2], sys.argv[3]
libvirt.registerErrorHandler(lambda *a: None, None)
libvirt.virEventRegisterDefaultImpl()


def run_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=run_loop, daemon=True).start()
conn = libvirt.open(f"qemu:///embed?root={root}")
xml = ("<domain type='qemu'><name>vm</name><uuid>0b5cbb3e-5f0e-4d3c-9a3e-6b0f3f3e2a11</uuid>"
       "<memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>"
       "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
       f"<source file='{disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>")
sentinel = ("<domain type='qemu'><name>sentinel</name><uuid>0b5cbb3e-5f0e-4d3c-9a3e-6b0f3f3e2a12</uuid>"
            "<memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>"
            "</domain>")
lock = threading.Lock()
got = []


def on_event(c, d, event, detail, opaque):
    with lock:
        got.append((d.name(), event, detail))


conn.defineXML(sentinel)
dom = conn.defineXML(xml)
conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_event, None)


def step(name, f):
    with lock:
        got.clear()
    f()
    conn.defineXML(sentinel)
    deadline = time.monotonic() + 300
    while True:
        with lock:
            if ("sentinel", 0, 1) in got:
                break
        if time.monotonic() > deadline:
            print("timed out waiting for the sentinel")
            break
        time.sleep(0.01)
    with lock:
        mine = [(e, d) for n, e, d in got if n == "vm"]
    print(name, mine)
    sys.stdout.flush()


snaps = {}


def snap(name):
    snaps[name] = dom.snapshotCreateXML(f"<domainsnapshot><name>{name}</name></domainsnapshot>")


R = libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING
P = libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED
F = libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_FORCE
step("snapshot s0 (shut off)", lambda: snap("s0"))
step("start", dom.create)
step("suspend", dom.suspend)
step("resume", dom.resume)
step("snapshot s1 (running)", lambda: snap("s1"))
step("revert running -> running", lambda: dom.revertToSnapshot(snaps["s1"]))
step("suspend", dom.suspend)
step("revert paused -> running", lambda: dom.revertToSnapshot(snaps["s1"]))
step("revert running -> running, PAUSED", lambda: dom.revertToSnapshot(snaps["s1"], P))
step("revert paused -> shut off", lambda: dom.revertToSnapshot(snaps["s0"]))
step("revert shut off -> shut off", lambda: dom.revertToSnapshot(snaps["s0"]))
step("revert shut off -> running", lambda: dom.revertToSnapshot(snaps["s1"]))
step("destroy", dom.destroy)
step("revert shut off -> shut off, RUNNING", lambda: dom.revertToSnapshot(snaps["s0"], R))
step("revert running -> shut off, PAUSED|FORCE", lambda: dom.revertToSnapshot(snaps["s0"], P | F))
step("destroy", dom.destroy)
step("define again", lambda: conn.defineXML(xml))
for s in ("s1", "s0"):
    snaps[s].delete()
step("undefine", dom.undefine)
print("done")

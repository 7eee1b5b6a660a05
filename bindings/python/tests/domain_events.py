"""Domain lifecycle events through the event API, under libvirt-python and
under virsnap (as `libvirt`): same output expected (test:///default, whose
libvirt test driver emits them).

    python domain_events.py libvirt|virsnap [asyncio]

`asyncio`: libvirt's own libvirtaio (shipped with python3-libvirt) drives
the events instead of virEventRunDefaultImpl. After each operation the loop
runs until a marker timer (added after the operation) fired twice; the
events the operation queued are due before it, whatever the machine speed.
"""

import importlib.util
import sys

if sys.argv[1] == "virsnap":
    import virsnap

    sys.modules["libvirt"] = virsnap
import libvirt  # noqa: E402

use_aio = sys.argv[2:] == ["asyncio"]
libvirt.registerErrorHandler(lambda *a: None, None)

conn = libvirt.open("test:///default")
try:
    conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lambda *a: None, None)
    print("registered without a loop?!")
except libvirt.libvirtError as e:
    print("no loop:", e.get_error_code(), e.get_error_domain(), str(e))

if use_aio:
    import asyncio

    spec = importlib.util.spec_from_file_location("libvirtaio", "/usr/lib/python3/dist-packages/libvirtaio.py")
    libvirtaio = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(libvirtaio)
    aloop = asyncio.new_event_loop()
    asyncio.set_event_loop(aloop)
    libvirtaio.virEventRegisterAsyncIOImpl(loop=aloop)
else:
    libvirt.virEventRegisterDefaultImpl()

marker = [0]


def on_marker(timer, opaque):
    marker[0] += 1


def drain(what):
    print("--", what)
    marker[0] = 0
    t = libvirt.virEventAddTimeout(0, on_marker, None)
    if use_aio:
        async def wait():
            while marker[0] < 2:
                await asyncio.sleep(0)

        aloop.run_until_complete(asyncio.wait_for(wait(), 600))
    else:
        while marker[0] < 2:
            libvirt.virEventRunDefaultImpl()
    libvirt.virEventRemoveTimeout(t)
    sys.stdout.flush()


def any_cb(c, dom, event, detail, opaque):
    print(f"any[{opaque}] {dom.name()} event={event} detail={detail} conn-is-same={c is conn}")


def old_cb(c, dom, event, detail, opaque):
    print(f"old[{opaque}] {dom.name()} event={event} detail={detail}")


def err(what, f):
    try:
        print(what, "->", f())
    except libvirt.libvirtError as e:
        print(what, "error:", e.get_error_code(), e.get_error_domain(), str(e))


dom = conn.lookupByName("test")
a = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, any_cb, "all")
b = conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, any_cb, "test")
print("ids", a, b)
conn.domainEventRegister(old_cb, "old")
conn.domainEventRegister(old_cb, "old2")  # libvirt-python keeps one per function
err("eventID -1", lambda: conn.domainEventRegisterAny(None, -1, any_cb, None))
err("eventID 100", lambda: conn.domainEventRegisterAny(None, 100, any_cb, None))
err("deregister 9999", lambda: conn.domainEventDeregisterAny(9999))
drain("registrations")

dom.destroy(); drain("destroy")
dom.create(); drain("start")
dom.suspend(); drain("suspend")
dom.resume(); drain("resume")
dom.shutdown(); drain("shutdown")
dom.create(); drain("start")
s1 = dom.snapshotCreateXML("<domainsnapshot><name>s1</name></domainsnapshot>"); drain("snapshot s1")
dom.suspend(); drain("suspend")
s2 = dom.snapshotCreateXML("<domainsnapshot><name>s2</name></domainsnapshot>"); drain("snapshot s2 (paused)")
dom.revertToSnapshot(s1); drain("revert paused -> running snapshot")
dom.revertToSnapshot(s2); drain("revert running -> paused snapshot")
dom.destroy(); drain("destroy")
s3 = dom.snapshotCreateXML("<domainsnapshot><name>s3</name></domainsnapshot>"); drain("snapshot s3 (shut off)")
dom.revertToSnapshot(s1); drain("revert shut off -> running snapshot")
dom.revertToSnapshot(s3); drain("revert running -> shut off snapshot")
s2.delete(); drain("delete s2")

xml = ("<domain type='test'><name>pyev</name><uuid>5a1e3d2c-0000-4000-8000-00000000e0f2</uuid>"
       "<memory>1024</memory><os><type>hvm</type></os></domain>")
d2 = conn.defineXML(xml); drain("define")
conn.defineXML(xml); drain("define again")
d2.create(); drain("start pyev")
conn.domainEventDeregisterAny(b)
print("deregistered test")
d2.destroy(); drain("destroy pyev")
d2.undefine(); drain("undefine pyev")
conn.domainEventDeregister(old_cb)
conn.domainEventDeregister(old_cb)  # unknown: ignored by libvirt-python
conn.domainEventDeregisterAny(a)
err("deregister twice", lambda: conn.domainEventDeregisterAny(a))
dom.create(); drain("start (no callbacks)")
print("done")

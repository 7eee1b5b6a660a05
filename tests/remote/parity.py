"""The snapshot scenario through a libvirt daemon, written for libvirt-python.

Usage: parity.py MODULE URI DOMAIN, MODULE being `libvirt` (Debian's
python3-libvirt) or `virsnap` (imported as libvirt). core/tests/remote_daemon.rs
runs it with both against the same daemon and compares the outputs; the
domain's snapshots are left as found (none).
"""
import importlib
import sys

libvirt = importlib.import_module(sys.argv[1])
uri, domname = sys.argv[2], sys.argv[3]
libvirt.registerErrorHandler(lambda ctx, err: None, None)


def err(what, e):
    print(f"{what}: code={e.get_error_code()} domain={e.get_error_domain()} "
          f"level={e.get_error_level()} message={e.get_error_message()!r} "
          f"str1={e.get_str1()!r} str2={e.get_str2()!r} str3={e.get_str3()!r} "
          f"int1={e.get_int1()} int2={e.get_int2()}")


def show(dom, label, flags=0):
    snaps = dom.listAllSnapshots(flags)
    print(label, dom.snapshotNum(flags), sorted(dom.snapshotListNames(flags)))
    for s in sorted(snaps, key=lambda s: s.getName()):
        try:
            parent = s.getParent().getName()
        except libvirt.libvirtError as e:
            parent = f"<{e.get_error_code()}>"
        print(" ", s.getName(), parent, s.isCurrent(), s.hasMetadata(), s.numChildren(),
              sorted(s.listChildrenNames()), "<description>py</description>" in s.getXMLDesc())


conn = libvirt.open(uri)
print(conn.getType(), conn.getURI() == uri)
dom = conn.lookupByName(domname)
print(dom.name(), dom.UUIDString(), dom.state(), dom.isActive(), dom.isPersistent())
for what, call in [
    ("lookup nosuchdom", lambda: conn.lookupByName("nosuchdom")),
    ("current none", lambda: dom.snapshotCurrent()),
    ("lookup nosuch", lambda: dom.snapshotLookupByName("nosuch")),
    ("bad xml", lambda: dom.snapshotCreateXML("<domainsnapshot><name>x</name>")),
]:
    try:
        call()
        print(what, "succeeded")
    except libvirt.libvirtError as e:
        err(what, e)
print("has current", dom.hasCurrentSnapshot())
xml = "<domainsnapshot><name>{}</name><description>py</description></domainsnapshot>"
p1 = dom.snapshotCreateXML(xml.format("p1"))
p2 = dom.snapshotCreateXML(xml.format("p2"))
show(dom, "two")
show(dom, "roots", libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS)
dom.revertToSnapshot(p1)
print("current", dom.snapshotCurrent().getName(), dom.state()[0])
p3 = dom.snapshotCreateXML(xml.format("p3"))
show(dom, "three")
p2.delete()
try:
    p2.delete()
except libvirt.libvirtError as e:
    err("delete again", e)
show(dom, "after delete")
p1.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN)
show(dom, "end")
conn.close()

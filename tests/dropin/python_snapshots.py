#!/usr/bin/python3
"""Snapshot code written for Debian's python3-libvirt, run unchanged on the
real libvirt 9.0 and on virsnap's libvirt-compat (LD_LIBRARY_PATH); the
suite (.ci/suites/dropin.sh) diffs the two outputs, which must be identical.

Usage: python_snapshots.py URI DOMAIN [DOMAIN_XML_FILE]
  With DOMAIN_XML_FILE the domain is defined first (qemu:///embed).
  Paths under $DROPIN_ROOT are printed as ROOT, creation times as T, so the
  two runs (separate embed roots, different seconds) compare equal.
"""
import os
import re
import sys

import libvirt

URI, NAME = sys.argv[1], sys.argv[2]
ROOT = os.environ.get("DROPIN_ROOT", "")


def norm(s):
    s = re.sub(r"<creationTime>\d+</creationTime>", "<creationTime>T</creationTime>", s)
    if ROOT:
        s = s.replace(ROOT, "ROOT")
    return s


def err(what, e):
    print("%s: libvirtError code=%s domain=%s level=%s\n  message=%s\n  str=%s" % (
        what, e.get_error_code(), e.get_error_domain(), e.get_error_level(),
        norm(e.get_error_message() or ""), norm(str(e))))


def attempt(what, f):
    try:
        r = f()
        print("%s -> %r" % (what, r))
        return r
    except libvirt.libvirtError as e:
        err(what, e)
        return None


# The event loop: libvirt's embedded qemu driver refuses to open without one.
print("register default event impl:", libvirt.virEventRegisterDefaultImpl())
fired = []
tid = libvirt.virEventAddTimeout(0, lambda timer, opaque: fired.append(opaque), "tick")
print("timeout id > 0:", tid > 0)
libvirt.virEventRunDefaultImpl()
print("timeout fired:", fired[:1])
print("remove timeout:", libvirt.virEventRemoveTimeout(tid))
r, w = os.pipe()
seen = []
wid = libvirt.virEventAddHandle(r, libvirt.VIR_EVENT_HANDLE_READABLE,
                                lambda watch, fd, events, opaque: seen.append((fd == r, events, os.read(fd, 1))), None)
os.write(w, b"x")
while not seen:
    libvirt.virEventRunDefaultImpl()
print("handle fired:", seen, "remove:", libvirt.virEventRemoveHandle(wid))
os.close(r)
os.close(w)

creds = []


def auth_cb(credentials, user_data):
    creds.append(len(credentials))
    return 0


conn = libvirt.openAuth(URI, [[libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE], auth_cb, None], 0)
print("type:", conn.getType(), "lib version:", conn.getLibVersion(), "alive:", conn.isAlive(),
      "secure:", conn.isSecure(), "encrypted:", conn.isEncrypted())
print("close callback:", conn.registerCloseCallback(lambda c, reason, opaque: None, None))
if len(sys.argv) > 3:
    with open(sys.argv[3]) as f:
        conn.defineXML(f.read())
dom = conn.lookupByName(NAME)
print("domain:", dom.name(), "state:", dom.state(), "os:", dom.OSType(), "max memory:", dom.maxMemory())


def snap_xml(name, desc):
    return "<domainsnapshot><name>%s</name><description>%s</description></domainsnapshot>" % (name, desc)


def show_tree():
    names = sorted(dom.snapshotListNames())
    print("snapshotNum:", dom.snapshotNum(), "names:", names)
    print("listAllSnapshots:", sorted(s.getName() for s in dom.listAllSnapshots()))
    print("roots:", sorted(dom.snapshotListNames(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS)))
    print("leaves:", sorted(dom.snapshotListNames(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES)))
    topo = dom.snapshotListNames(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)
    pos = {n: i for i, n in enumerate(topo)}
    ok = True
    for n in names:
        s = dom.snapshotLookupByName(n)
        try:
            p = s.getParent()
            parent = p.getName()
            ok = ok and pos[parent] < pos[n]
        except libvirt.libvirtError as e:
            parent = "(none: code %d)" % e.get_error_code()
        kids = sorted(c.getName() for c in s.listAllChildren())
        desc = sorted(s.listChildrenNames(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS))
        print("  %s parent=%s children=%s numChildren=%d descendants=%s current=%d metadata=%d" % (
            n, parent, kids, s.numChildren(), desc, s.isCurrent(), s.hasMetadata()))
    print("topological order keeps parents first:", ok, sorted(topo) == names)
    if dom.hasCurrentSnapshot():
        print("current:", dom.snapshotCurrent().getName())
    else:
        attempt("snapshotCurrent (none)", lambda: dom.snapshotCurrent().getName())


print("hasCurrentSnapshot:", dom.hasCurrentSnapshot(), "snapshotNum:", dom.snapshotNum())
s1 = dom.snapshotCreateXML(snap_xml("s1", "first"))
print("created:", s1.getName(), "domain is same object:", s1.getDomain() is dom)
s2 = dom.snapshotCreateXML(snap_xml("s2", "second &amp; &lt;more&gt;"), 0)
s3 = dom.snapshotCreateXML(snap_xml("s3", "third"), flags=0)
print("created:", s2.getName(), s3.getName())

def embedded_domain_summary(xml):
    """qemu: libvirt expands the domain definition it embeds (machine type,
    default controllers, PCI addresses); virsnap embeds the definition as
    defined. Only that element's name and uuid are compared there."""
    m = re.search(r"\n  <domain type='qemu'>.*\n  </domain>\n", xml, flags=re.S)
    if not m:
        return xml
    name = re.search(r"<name>([^<]*)</name>", m.group(0)).group(1)
    uuid = re.search(r"<uuid>([^<]*)</uuid>", m.group(0)).group(1)
    return xml[:m.start()] + "\n  <domain type='qemu'> name=%s uuid=%s (rest not compared)\n" % (name, uuid) + xml[m.end():]


print("s3 xml:\n" + embedded_domain_summary(norm(s3.getXMLDesc())))
print("revert to s1:", dom.revertToSnapshot(s1), "state:", dom.state())
s4 = dom.snapshotCreateXML(snap_xml("s4", "branch"))
print("created:", s4.getName())
show_tree()

print("revert to s3:", dom.revertToSnapshot(dom.snapshotLookupByName("s3")), "state:", dom.state())
print("current is s3:", dom.snapshotCurrent().getName(), s3.isCurrent())

# errors
attempt("lookup missing", lambda: dom.snapshotLookupByName("nope"))
attempt("duplicate name", lambda: dom.snapshotCreateXML(snap_xml("s1", "again")))
attempt("wrong root element", lambda: dom.snapshotCreateXML("<snapshot><name>x</name></snapshot>"))
attempt("malformed xml", lambda: dom.snapshotCreateXML("<domainsnapshot><name>x</name>"))
attempt("root getParent", lambda: s1.getParent())
attempt("revert RUNNING|PAUSED", lambda: dom.revertToSnapshot(
    s1, libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING | libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED))
attempt("revert None", lambda: dom.revertToSnapshot(None))
attempt("unknown create flag", lambda: dom.snapshotCreateXML(snap_xml("x", "x"), 1 << 30))
attempt("CURRENT without REDEFINE", lambda: dom.snapshotCreateXML(
    snap_xml("x", "x"), libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT))
attempt("delete CHILDREN|CHILDREN_ONLY", lambda: s1.delete(
    libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN | libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY))
attempt("undefine with snapshots", lambda: dom.undefine())
attempt("unsupported API (keepalive)", lambda: conn.setKeepAlive(5, 3))
if URI.startswith("test:"):
    # Read-only denials name the public function called (plain or *Flags).
    ro = libvirt.openReadOnly(URI)
    rdom = ro.lookupByName(NAME)
    attempt("ro create", rdom.create)
    attempt("ro createWithFlags", lambda: rdom.createWithFlags(0))
    attempt("ro destroy", rdom.destroy)
    attempt("ro shutdown", rdom.shutdown)
    attempt("ro undefine", rdom.undefine)
    attempt("ro undefineFlags", lambda: rdom.undefineFlags(0))
    attempt("ro XMLDesc secure", lambda: rdom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE))
    ro.close()

# delete
print("delete s4:", s4.delete())
attempt("delete s4 again", lambda: s4.delete())
attempt("s4 xml after delete", lambda: s4.getXMLDesc())
print("s4 name after delete:", s4.getName())
print("delete s2's children only:", s2.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY))
show_tree()
print("delete s1 with children:", s1.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN))
show_tree()
print("auth callback calls:", creds)
print("unregister close callback:", conn.unregisterCloseCallback())
print("close:", conn.close())

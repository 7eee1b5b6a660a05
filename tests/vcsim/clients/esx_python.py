"""Python reaching ESX: code written for libvirt-python, run by
core/tests/esx_python.rs against vcsim. argv[1] is the esx:// URI.
Leaves the snapshot tree "p1(p3*)" on ha-host_VM0 for the caller to check."""
import sys

import virsnap as libvirt


def cb(creds, data):
    for c in creds:
        c[4] = "root" if c[0] == libvirt.VIR_CRED_AUTHNAME else "pass"
    return 0


conn = libvirt.openAuth(sys.argv[1], [[libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE], cb, None], 0)
assert conn.getType() == "ESX"
dom = conn.lookupByName("ha-host_VM0")
p1 = dom.snapshotCreateXML("<domainsnapshot><name>p1</name></domainsnapshot>", 0)
dom.snapshotCreateXML("<domainsnapshot><name>p2</name></domainsnapshot>", 0)
assert dom.snapshotListNames(0) == ["p1", "p2"], dom.snapshotListNames(0)
assert dom.snapshotCurrent(0).getName() == "p2"
dom.revertToSnapshot(p1, 0)
assert dom.snapshotCurrent(0).getName() == "p1"
dom.snapshotCreateXML("<domainsnapshot><name>p3</name></domainsnapshot>", 0)
assert [c.getName() for c in p1.listAllChildren(0)] == ["p2", "p3"]
dom.snapshotLookupByName("p2", 0).delete(0)
try:
    dom.snapshotLookupByName("p2", 0)
    raise SystemExit("p2 still there")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT, e
assert "<name>p1</name>" in p1.getXMLDesc(0)
print("python: ok")

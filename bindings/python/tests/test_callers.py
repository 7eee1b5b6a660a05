"""The caller patterns of callers.md §2, written as those callers write them
(`import virsnap as libvirt`)."""

import re
import time
import xml.etree.ElementTree as ET

import pytest

import virsnap as libvirt
from conftest import code_of, snap_xml

DOMXML = "<domain type='test'><name>{name}</name>{uuid}<memory>1024</memory><os><type>hvm</type></os></domain>"


def tree_of(dom):
    """{name: parent name or None} for every snapshot."""
    out = {}
    for s in dom.listAllSnapshots():
        try:
            out[s.getName()] = s.getParent().getName()
        except libvirt.libvirtError as e:
            assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT
            out[s.getName()] = None
    return out


def test_kimchi_rename_vm_redefines_existing_name_twice(conn):
    """kimchi vms.py: back up (root recorded twice), delete, undefine, define
    under a new name/uuid, rewrite domain/name+uuid, REDEFINE [| CURRENT]."""
    dom = conn.defineXML(DOMXML.format(name="kimchi1", uuid=""))
    dom.snapshotCreateXML(snap_xml("r", "root"), 0)
    dom.snapshotCreateXML(snap_xml("c1"), 0)
    dom.revertToSnapshot(dom.snapshotLookupByName("r", 0), 0)
    dom.snapshotCreateXML(snap_xml("c2"), 0)
    before = tree_of(dom)

    saved = []

    def backup(snap):
        saved.append((snap.getXMLDesc(0), snap.isCurrent(0)))
        for child in snap.listAllChildren(0):
            backup(child)

    roots = dom.listAllSnapshots(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS)
    for root in roots:
        saved.append((root.getXMLDesc(0), root.isCurrent(0)))  # recorded twice, as kimchi does
        backup(root)
    assert len(saved) == 4
    for root in roots:
        root.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN)
    dom.undefine()
    new_uuid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    new = conn.defineXML(DOMXML.format(name="kimchi2", uuid=f"<uuid>{new_uuid}</uuid>"))
    for xml, current in saved:
        root = ET.fromstring(xml)
        root.find("domain/name").text = "kimchi2"
        root.find("domain/uuid").text = new_uuid
        flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
        if current:
            flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
        new.snapshotCreateXML(ET.tostring(root, encoding="unicode"), flags)
    assert tree_of(new) == before
    assert new.snapshotCurrent(0).getName() == "c2"
    assert "<name>kimchi2</name>" in new.snapshotLookupByName("r").getXMLDesc()


def test_opennebula_migrate_parents_first_redefine(conn, dom):
    """OpenNebula: dump every snapshot, drop metadata, redefine parents first,
    then restore the current marker with REDEFINE|CURRENT."""
    for i in range(6):
        dom.snapshotCreateXML(snap_xml(f"snap-{i}"))
        if i == 2:
            dom.revertToSnapshot(dom.snapshotLookupByName("snap-0"))
    current = dom.snapshotCurrent().getName()
    before = tree_of(dom)
    order = dom.snapshotListNames(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)
    dumps = {n: dom.snapshotLookupByName(n).getXMLDesc() for n in order}
    for root in dom.listAllSnapshots(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS):
        root.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN)
    assert dom.snapshotNum() == 0
    # a child before its parent is refused with code 8 (so order matters)
    leaf = [n for n in order if before[n] is not None][-1]
    assert code_of(dom.snapshotCreateXML, dumps[leaf], libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE) == \
        libvirt.VIR_ERR_INVALID_ARG
    for n in order:
        dom.snapshotCreateXML(dumps[n], libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE)
    dom.snapshotCreateXML(dumps[current], libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
                          | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT)
    assert tree_of(dom) == before
    assert dom.snapshotCurrent().getName() == current
    for n in order:
        assert dom.snapshotLookupByName(n).getXMLDesc() == dumps[n]


def test_epoch_second_automatic_names(dom):
    """kimchi/virt-backup: no <name> (or an empty one) -> epoch seconds; a second
    unnamed create in the same second fails with OPERATION_FAILED."""
    for _ in range(5):
        t0 = int(time.time())
        a = dom.snapshotCreateXML("<domainsnapshot/>")
        try:
            dom.snapshotCreateXML("<domainsnapshot><name></name></domainsnapshot>")
            collided = False
        except libvirt.libvirtError as e:
            collided = True
            assert e.get_error_code() == libvirt.VIR_ERR_OPERATION_FAILED
            assert e.get_error_domain() == libvirt.VIR_FROM_DOMAIN
            assert e.get_error_message() == f"operation failed: domain moment {a.getName()} already exists"
        t1 = int(time.time())
        assert a.getName().isdigit() and t0 <= int(a.getName()) <= t1
        for s in dom.listAllSnapshots():
            s.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN)
        if collided:
            return
    pytest.fail("never saw two unnamed creates within one second")


def test_nova_disk_names_given_as_paths(dom):
    """nova: <disk name=> is the file path; libvirt resolves it to the target."""
    s = dom.snapshotCreateXML(
        "<domainsnapshot><disks><disk name='/guest/diskimage1' snapshot='internal'/></disks></domainsnapshot>"
    )
    assert "<disk name='vda' snapshot='internal'/>" in s.getXMLDesc()
    with pytest.raises(libvirt.libvirtError) as ei:
        dom.snapshotCreateXML("<domainsnapshot><disks><disk name='/no/such' snapshot='internal'/></disks></domainsnapshot>")
    assert ei.value.get_error_code() == libvirt.VIR_ERR_CONFIG_UNSUPPORTED
    assert "no disk named '/no/such'" in ei.value.get_error_message()


def test_webvirtcloud_output_only_elements_ignored_on_create(dom):
    """webvirtcloud sends state, creationTime, the whole domain XML and <active>."""
    xml = (
        "<domainsnapshot><name>wvc</name><description>None</description>"
        "<state>shutoff</state><creationTime>1000</creationTime>"
        + dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
        + "<active>0</active></domainsnapshot>"
    )
    t0 = int(time.time())
    s = dom.snapshotCreateXML(xml, 0)
    out = s.getXMLDesc(0)
    assert "<state>running</state>" in out
    ct = int(re.search(r"<creationTime>(\d+)</creationTime>", out).group(1))
    assert ct >= t0
    assert "<description>None</description>" in out
    assert s.isCurrent() == 1


def test_capev2_hot_path_with_keyword_flags(conn, dom):
    assert hasattr(libvirt, "VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC")
    dom.snapshotCreateXML(snap_xml("clean"), flags=libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC)
    time.sleep(0.01)
    dom.snapshotCreateXML(snap_xml("newer"), flags=0)
    vm = conn.lookupByName("test")
    names = vm.snapshotListNames(flags=0)
    assert "clean" in names
    snap = vm.snapshotLookupByName("clean", flags=0)
    if vm.hasCurrentSnapshot(flags=0) == 1:
        assert vm.snapshotCurrent(flags=0).getName() == "newer"
    snaps = vm.listAllSnapshots(flags=0)
    newest = sorted(snaps, key=lambda s: ET.fromstring(s.getXMLDesc(flags=0)).findtext("creationTime"))[-1]
    assert newest.getName() in ("clean", "newer")
    assert vm.revertToSnapshot(snap, flags=0) == 0
    state = ET.fromstring(snap.getXMLDesc(flags=0)).findtext("state")
    assert state == "running"
    assert vm.state(flags=0)[0] == libvirt.VIR_DOMAIN_RUNNING
    assert snap.delete(flags=0) == 0


def test_salt_sorts_by_float_creation_time_and_bytes_is_a_type_error(dom):
    with pytest.raises(TypeError):
        dom.snapshotCreateXML(ET.tostring(ET.fromstring(snap_xml("salt"))))
    dom.snapshotCreateXML(snap_xml("a"))
    dom.snapshotCreateXML(snap_xml("b"))
    snaps = sorted(dom.listAllSnapshots(),
                   key=lambda s: float(ET.fromstring(s.getXMLDesc()).findtext("creationTime")), reverse=True)
    assert {s.getName() for s in snaps} == {"a", "b"}
    current = [s for s in snaps if s.isCurrent() == 1]
    assert [s.getName() for s in current] == ["b"]


def test_virt_manager_patterns(dom):
    assert isinstance(dom, getattr(libvirt, "virDomain"))
    # "supported?" probe
    dom.listAllSnapshots()
    # name-collision probe: any libvirtError means the name is free
    n = 1
    while True:
        try:
            dom.snapshotLookupByName(f"snapshot{n}")
        except libvirt.libvirtError:
            break
        n += 1
    s = dom.snapshotCreateXML(snap_xml(f"snapshot{n}", "orig"))
    assert s.getXMLDesc(flags=0)
    # edit description by REDEFINE
    root = ET.fromstring(s.getXMLDesc())
    root.find("description").text = "edited & <escaped>"
    dom.snapshotCreateXML(ET.tostring(root, encoding="unicode"), libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE)
    assert ET.fromstring(s.getXMLDesc()).findtext("description") == "edited & <escaped>"
    assert dom.hasCurrentSnapshot(0) and dom.snapshotCurrent(0).getName() == s.getName()
    # undefine flags probed with getattr
    flags = 0
    for name in ("VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA", "VIR_DOMAIN_UNDEFINE_MANAGED_SAVE",
                 "VIR_DOMAIN_UNDEFINE_NVRAM"):
        flags |= getattr(libvirt, name, 0)
    assert flags == 7


def test_virt_manager_escaped_name(dom):
    s = dom.snapshotCreateXML(snap_xml("internal-root-child1&amp;"))
    assert s.getName() == "internal-root-child1&"
    assert "<name>internal-root-child1&amp;</name>" in s.getXMLDesc()
    assert dom.snapshotLookupByName("internal-root-child1&").getName() == "internal-root-child1&"


def test_vagrant_save_restore_force(dom):
    def save(name):
        try:
            dom.snapshotLookupByName(name).delete()
        except libvirt.libvirtError:
            pass
        return dom.snapshotCreateXML(snap_xml(name, "Snapshot for vagrant sandbox"))

    save("box")
    save("box")
    assert dom.snapshotListNames() == ["box"]
    assert dom.revertToSnapshot(dom.snapshotLookupByName("box"), libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_FORCE) == 0


def test_virt_backup_private_conn_and_returned_name(conn, dom):
    assert dom._conn is conn
    s = dom.snapshotCreateXML("<domainsnapshot><description>backup</description></domainsnapshot>")
    assert s.getName().isdigit()
    assert dom.isActive() == 1 and len(dom.UUID()) == 16


def test_webvirtcloud_num_and_list_internal_external(dom):
    assert dom.snapshotNum(0) == 0
    dom.snapshotCreateXML(snap_xml("w1", "None"), 0)
    names = dom.snapshotListNames(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL | libvirt.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL)
    assert names == ["w1"]
    for n in names:
        assert dom.snapshotLookupByName(n, 0).getXMLDesc(0) == dom.snapshotLookupByName(n, 0).getXMLDesc(0)
    assert dom.snapshotListNames(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL) == []


def test_snapshot_survives_its_python_domain_going_away(conn):
    dom = conn.lookupByName("test")
    s = dom.snapshotCreateXML(snap_xml("keep"))
    del dom
    assert s.domain().name() == "test"
    assert s.getXMLDesc().startswith("<domainsnapshot>")

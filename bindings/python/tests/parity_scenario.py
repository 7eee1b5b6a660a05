"""One snapshot scenario, run under libvirt-python and under virsnap.

    python parity_scenario.py libvirt   # Debian's python3-libvirt (/usr/bin/python3)
    python parity_scenario.py virsnap   # import virsnap as libvirt

Prints a JSON list of [step, result] on stdout. A result is a value, or
["error", code, domain, message, level, str1, str2, str3, int1, int2] for a
libvirtError (code and domain only where the message is the XML parser's
own). Nondeterminism is normalised here: listings are sorted (libvirt lists in hash order),
TOPOLOGICAL listings are checked for parents-first order, creationTime is
masked and epoch-second default names are checked against the clock.
Written for Python 3.9+ and no third-party module beyond the one under test.
"""

import json
import re
import sys
import time

if sys.argv[1:] == ["virsnap"]:
    import virsnap as libvirt
else:
    import libvirt  # type: ignore[no-redef]

libvirt.registerErrorHandler(lambda ctx, err: None, None)

STEPS = []
SNAP = "<domainsnapshot><name>{0}</name><description>{1}</description></domainsnapshot>"


def rec(step, fn, msg_too=True):
    try:
        r = fn()
    except TypeError:
        r = ["TypeError"]
    except libvirt.libvirtError as e:
        if msg_too:
            r = ["error"] + list(e.err)  # the whole 9-tuple: code, domain, message, level, str1..3, int1..2
        else:
            r = ["error", e.get_error_code(), e.get_error_domain()]
    STEPS.append([step, r])
    return r


def mask(xml):
    xml = re.sub(r"<creationTime>\d+</creationTime>", "<creationTime>T</creationTime>", xml)
    return xml


def topo_ok(dom, names):
    """Every snapshot's parent appears before it."""
    seen = set()
    for n in names:
        try:
            p = dom.snapshotLookupByName(n).getParent().getName()
        except libvirt.libvirtError:
            p = None
        if p is not None and p not in seen:
            return False
        seen.add(n)
    return True


conn = libvirt.open("test:///default")
dom = conn.lookupByName("test")
L = libvirt

# --- connection and domain basics ----------------------------------------
rec("uri", conn.getURI)
rec("type", conn.getType)
rec("libversion", conn.getLibVersion)
rec("ids", conn.listDomainsID)
rec("defined", lambda: sorted(conn.listDefinedDomains()))
rec("numdomains", conn.numOfDomains)
rec("alldomains", lambda: sorted(d.name() for d in conn.listAllDomains()))
rec("lookup_missing", lambda: conn.lookupByName("nope"))
rec("lookup_uuid", lambda: conn.lookupByUUIDString("6695eb01-f6a4-8304-79aa-97f2502e193f").name())
rec("lookup_uuid_bytes", lambda: conn.lookupByUUID(dom.UUID()).name())
rec("lookup_id", lambda: conn.lookupByID(1).name())
rec("dom_name", dom.name)
rec("dom_uuid", dom.UUIDString)
rec("dom_id", dom.ID)
rec("dom_active", dom.isActive)
rec("dom_persistent", dom.isPersistent)
rec("dom_state", dom.state)
rec("dom_info_head", lambda: dom.info()[:4])
rec("dom_connect_same", lambda: dom.connect() is conn)

# --- empty domain ----------------------------------------------------------
rec("num0", dom.snapshotNum)
rec("names0", dom.snapshotListNames)
rec("all0", dom.listAllSnapshots)
rec("has_current0", dom.hasCurrentSnapshot)
rec("current0", dom.snapshotCurrent)
rec("lookup0", lambda: dom.snapshotLookupByName("s1"))

# --- a tree: s1 -> s2 -> s3, s1 -> s4 ----------------------------------------
s1 = dom.snapshotCreateXML(SNAP.format("s1", "first"))
rec("s1_name", s1.getName)
rec("s1_current", s1.isCurrent)
rec("s1_meta", s1.hasMetadata)
rec("s1_parent", s1.getParent)
rec("s1_domain_same", lambda: s1.domain() is dom and s1.getDomain() is dom)
rec("s1_conn_same", lambda: s1.connect() is conn and s1.getConnect() is conn)
rec("s1_xml", lambda: mask(s1.getXMLDesc()))
s2 = dom.snapshotCreateXML(SNAP.format("s2", "second"), flags=0)
s3 = dom.snapshotCreateXML(SNAP.format("s3", "third"), 0)
rec("s3_parent", lambda: s3.getParent().getName())
rec("s3_parent_domain_same", lambda: s3.getParent().domain() is dom)
rec("revert_s1", lambda: dom.revertToSnapshot(s1))
rec("state_after_revert", dom.state)
s4 = dom.snapshotCreateXML(SNAP.format("s4", "fourth"))
rec("s4_parent", lambda: s4.getParent().getName())
rec("num", dom.snapshotNum)
rec("names", lambda: sorted(dom.snapshotListNames()))
rec("names_kw", lambda: sorted(dom.snapshotListNames(flags=0)))
rec("roots", lambda: sorted(dom.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS)))
rec("leaves", lambda: sorted(dom.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES)))
rec("no_leaves", lambda: sorted(dom.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES)))
rec("metadata", lambda: sorted(dom.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_METADATA)))
rec("no_metadata", lambda: sorted(dom.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA)))
rec("active", lambda: sorted(dom.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE)))
rec("inactive", lambda: sorted(dom.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE)))
rec("internal", lambda: sorted(dom.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL)))
rec("external", lambda: sorted(dom.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL)))
rec("num_roots", lambda: dom.snapshotNum(L.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS))
rec("topological", lambda: topo_ok(dom, dom.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)))
rec("topological_all", lambda: topo_ok(dom, [s.getName() for s in dom.listAllSnapshots(L.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)]))
rec("all_names", lambda: sorted(s.getName() for s in dom.listAllSnapshots()))
rec("all_domain_same", lambda: all(s.domain() is dom for s in dom.listAllSnapshots()))
rec("s1_children", lambda: sorted(s1.listChildrenNames()))
rec("s1_descendants", lambda: sorted(s1.listChildrenNames(L.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS)))
rec("s1_numchildren", s1.numChildren)
rec("s1_numdescendants", lambda: s1.numChildren(flags=L.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS))
rec("s1_allchildren", lambda: sorted(c.getName() for c in s1.listAllChildren()))
rec("s1_child_leaves", lambda: sorted(s1.listChildrenNames(L.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS | L.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES)))
rec("current", lambda: dom.snapshotCurrent().getName())
rec("has_current", dom.hasCurrentSnapshot)
rec("s4_current", s4.isCurrent)
rec("s1_not_current", s1.isCurrent)
rec("lookup_s2", lambda: dom.snapshotLookupByName("s2", 0).getName())
rec("lookup_kw", lambda: dom.snapshotLookupByName("s2", flags=0).getName())

# --- revert flags and states ---------------------------------------------------
rec("revert_excl", lambda: dom.revertToSnapshot(s3, L.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING | L.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED))
rec("revert_none", lambda: dom.revertToSnapshot(None))
rec("revert_paused", lambda: dom.revertToSnapshot(s3, L.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED))
rec("state_paused", dom.state)
rec("s3_current", s3.isCurrent)
rec("destroy", dom.destroy)
rec("state_off", dom.state)
s5 = dom.snapshotCreateXML(SNAP.format("s5", "while off"))
rec("s5_xml", lambda: mask(s5.getXMLDesc()))
rec("inactive2", lambda: sorted(dom.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE)))
rec("revert_running_snap", lambda: dom.revertToSnapshot(s1))
rec("state_from_snap", dom.state)
rec("revert_off_snap", lambda: dom.revertToSnapshot(s5))
rec("state_off_from_snap", dom.state)
rec("revert_s4_running", lambda: dom.revertToSnapshot(s4, flags=L.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING))
rec("state_running_again", dom.state)

# --- create errors -----------------------------------------------------------
rec("dup", lambda: dom.snapshotCreateXML(SNAP.format("s1", "dup")))
rec("wrong_root", lambda: dom.snapshotCreateXML("<domain/>"))
rec("malformed", lambda: dom.snapshotCreateXML("<domainsnapshot>"), msg_too=False)
rec("current_without_redefine", lambda: dom.snapshotCreateXML(SNAP.format("x", "y"), L.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT))
rec("bad_flags", lambda: dom.snapshotCreateXML(SNAP.format("x", "y"), 1 << 20))
rec("validate_unknown", lambda: dom.snapshotCreateXML("<domainsnapshot><name>v</name><bogus/></domainsnapshot>", L.VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE), msg_too=False)
rec("unknown_accepted", lambda: dom.snapshotCreateXML("<domainsnapshot><name>u</name><bogus/></domainsnapshot>").getName())
rec("u_delete", lambda: dom.snapshotLookupByName("u").delete())

# --- output-only elements ignored on a normal create -----------------------------
ign = dom.snapshotCreateXML(
    "<domainsnapshot><name>ign</name><description>None</description><state>paused</state>"
    "<creationTime>12345</creationTime><active>0</active></domainsnapshot>"
)
rec("ignored_state", lambda: re.search(r"<state>(\w+)</state>", ign.getXMLDesc()).group(1))
rec("ignored_time", lambda: "<creationTime>12345</creationTime>" in ign.getXMLDesc())
rec("ignored_desc", lambda: "<description>None</description>" in ign.getXMLDesc())
rec("ign_delete", ign.delete)

# --- redefine ------------------------------------------------------------------
x1 = s1.getXMLDesc()
rec("redefine_same", lambda: dom.snapshotCreateXML(x1, L.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE).getName())
rec("redefine_twice", lambda: dom.snapshotCreateXML(x1, L.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE).getName())
rec("redefine_current", lambda: dom.snapshotCreateXML(x1, L.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE | L.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT).isCurrent())
rec("current_after_redefine", lambda: dom.snapshotCurrent().getName())
orphan = x1.replace("<name>s1</name>", "<name>orphan</name>", 1).replace(
    "<domain ", "<parent><name>ghost</name></parent><domain ", 1
)
rec("redefine_missing_parent", lambda: dom.snapshotCreateXML(orphan, L.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE))
other_uuid = x1.replace("<name>s1</name>", "<name>other</name>", 1).replace(
    "6695eb01-f6a4-8304-79aa-97f2502e193f", "11111111-2222-3333-4444-555555555555"
)
rec("redefine_other_uuid", lambda: dom.snapshotCreateXML(other_uuid, L.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE))
rec("redefine_rename", lambda: dom.snapshotCreateXML(x1.replace("<name>s1</name>", "<name>s1copy</name>", 1), L.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE).getName())
MINIMAL = ("<domainsnapshot><name>minimal</name><creationTime>5</creationTime><state>running</state>"
           "<domain type='test'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>"
           "<memory>1024</memory><os><type>hvm</type></os></domain></domainsnapshot>")
rec("redefine_minimal_domain", lambda: dom.snapshotCreateXML(MINIMAL, L.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE).getXMLDesc())
rec("redefine_no_domain", lambda: dom.snapshotCreateXML(
    "<domainsnapshot><name>bare</name><creationTime>6</creationTime><state>shutoff</state></domainsnapshot>",
    L.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE).getXMLDesc())
rec("minimal_delete", lambda: [dom.snapshotLookupByName("minimal").delete(), dom.snapshotLookupByName("bare").delete()])
rec("s1copy_parent", lambda: dom.snapshotLookupByName("s1copy").getParent())
rec("s1copy_delete", lambda: dom.snapshotLookupByName("s1copy").delete())

# --- delete ------------------------------------------------------------------------
rec("delete_excl", lambda: s2.delete(L.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN | L.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY))
rec("delete_s2", lambda: s2.delete())
rec("s3_reparented", lambda: s3.getParent().getName())
rec("s2_name_after_delete", s2.getName)
rec("s2_xml_after_delete", s2.getXMLDesc)
rec("s2_delete_again", s2.delete)
rec("names_after_delete", lambda: sorted(dom.snapshotListNames()))
rec("delete_children_only", lambda: s1.delete(L.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY))
rec("names_after_children_only", lambda: sorted(dom.snapshotListNames()))
rec("delete_meta_only", lambda: s5.delete(flags=L.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY))
rec("names_left", lambda: sorted(dom.snapshotListNames()))

# --- epoch-second default name ------------------------------------------------------
before = int(time.time())
auto = dom.snapshotCreateXML("<domainsnapshot/>")
after = int(time.time())
rec("auto_name_is_epoch", lambda: auto.getName().isdigit() and before <= int(auto.getName()) <= after)
rec("auto_delete", auto.delete)

# --- caller XML shapes: nova's path-named disks, virt-manager's memory file, HALT ---
DISKS = "<domainsnapshot><name>{0}</name><disks>{1}</disks></domainsnapshot>"


def make_and_drop(xml, flags=0):
    s = dom.snapshotCreateXML(xml, flags)
    disks = re.findall(r"<disk name='[^']*'[^>]*>", s.getXMLDesc())
    return [s.getName(), disks, s.delete()]


rec("disk_path_internal", lambda: make_and_drop(DISKS.format("p1", "<disk name='/guest/diskimage1' snapshot='internal'/>")))
rec("disk_path_no", lambda: make_and_drop(DISKS.format("p2", "<disk name='/guest/diskimage1' snapshot='no'/>")))
rec("disk_path_external_nova", lambda: make_and_drop(DISKS.format(
    "p3", "<disk name='/guest/diskimage1' snapshot='external' type='file'><driver type='qcow2'/>"
    "<source file='/tmp/virsnap-overlay.qcow2'/></disk>"),
    L.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | L.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA | L.VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT))
rec("disk_unknown", lambda: make_and_drop(DISKS.format("p4", "<disk name='/no/such' snapshot='internal'/>")))
rec("memory_external", lambda: make_and_drop(
    "<domainsnapshot><name>p5</name><memory snapshot='external' file='/tmp/virsnap-mem'/></domainsnapshot>"))
rec("halt", lambda: make_and_drop(SNAP.format("p6", "halt"), L.VIR_DOMAIN_SNAPSHOT_CREATE_HALT))
rec("state_after_halt", dom.state)
rec("start_after_halt", dom.create)

# --- external-snapshot cleanup calls the test driver does not implement ---------
rec("block_commit", lambda: dom.blockCommit("vda", None, None, 0, L.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE | L.VIR_DOMAIN_BLOCK_COMMIT_DELETE))
rec("block_rebase", lambda: dom.blockRebase("vda", None, 0, 0))
rec("block_job_info", lambda: dom.blockJobInfo("vda", 0))
rec("block_job_abort", lambda: dom.blockJobAbort("vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT))
rec("abort_job", dom.abortJob)
rec("job_stats", dom.jobStats)
rec("update_device", lambda: dom.updateDeviceFlags("<disk type='file' device='disk'/>", 0))

# --- argument conversion: TypeError before the library; flags as C unsigned int ---
rec("xml_bytes", lambda: dom.snapshotCreateXML(b"<domainsnapshot/>"))
rec("flags_none", lambda: dom.snapshotNum(None))
rec("flags_str", lambda: dom.snapshotListNames("0"))
rec("name_none", lambda: dom.snapshotLookupByName(None))
rec("xml_none", lambda: dom.snapshotCreateXML(None))
rec("dom_name_none", lambda: conn.lookupByName(None))
rec("dom_uuidstr_none", lambda: conn.lookupByUUIDString(None))
rec("define_none", lambda: conn.defineXML(None))
rec("define_flags_none", lambda: conn.defineXMLFlags(None))
rec("create_none", lambda: conn.createXML(None))
rec("lookup_id_negative", lambda: conn.lookupByID(-1))
rec("lookup_uuid_invalid", lambda: conn.lookupByUUIDString("zzz"))
rec("flags_negative", lambda: dom.snapshotNum(-1))
rec("flags_huge_truncated", lambda: dom.snapshotNum(1 << 32))
rec("flags_bool", lambda: dom.snapshotNum(True))

# --- read-only connection -------------------------------------------------------
ro = libvirt.openReadOnly("test:///default")
rdom = ro.lookupByName("test")
rec("ro_create", lambda: rdom.snapshotCreateXML(SNAP.format("ro", "x")))
rec("ro_names", lambda: sorted(rdom.snapshotListNames()))
rec("ro_xml_secure", lambda: rdom.snapshotLookupByName("s1").getXMLDesc(L.VIR_DOMAIN_SNAPSHOT_XML_SECURE))
rec("ro_delete", lambda: rdom.snapshotLookupByName("s1").delete())
rec("ro_revert", lambda: rdom.revertToSnapshot(rdom.snapshotLookupByName("s1")))
# Domain calls with a plain and a *Flags entry point: the denial names the one called.
rec("ro_dom_create", rdom.create)
rec("ro_dom_create_flags", lambda: rdom.createWithFlags(0))
rec("ro_dom_destroy", rdom.destroy)
rec("ro_dom_destroy_flags", lambda: rdom.destroyFlags(0))
rec("ro_dom_shutdown", rdom.shutdown)
rec("ro_dom_shutdown_flags", lambda: rdom.shutdownFlags(0))
rec("ro_dom_undefine", rdom.undefine)
rec("ro_dom_undefine_flags", lambda: rdom.undefineFlags(0))
ro.close()

# --- undefine with snapshot metadata -------------------------------------------
pdom = conn.defineXML(
    "<domain type='test'><name>pdom</name><memory>1024</memory><os><type>hvm</type></os></domain>"
)
rec("pdom_state", pdom.state)
rec("pdom_snap", lambda: pdom.snapshotCreateXML(SNAP.format("p1", "inactive")).getName())
rec("pdom_undefine", pdom.undefine)
rec("pdom_undefine_meta", lambda: pdom.undefineFlags(L.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA))
rec("pdom_gone", lambda: conn.lookupByName("pdom"))

# --- cleanup: remove everything left -----------------------------------------------
rec("delete_root_children", lambda: s1.delete(L.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN))
rec("num_end", dom.snapshotNum)
rec("close_is_int", lambda: isinstance(conn.close(), int))

json.dump(STEPS, sys.stdout, indent=1)
sys.stdout.write("\n")

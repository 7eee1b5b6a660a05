"""Second parity scenario: a test-driver node file with snapshot trees
(tests/data/snapshots-node.xml), opened as test:///ABS/PATH, read back and
exercised. Same output format and rules as parity_scenario.py.

    python parity_node.py libvirt|virsnap
"""

import json
import os
import re
import sys

if sys.argv[1:] == ["virsnap"]:
    import virsnap as libvirt
else:
    import libvirt  # type: ignore[no-redef]

libvirt.registerErrorHandler(lambda ctx, err: None, None)
L = libvirt
STEPS = []
NODE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "snapshots-node.xml")


def rec(step, fn):
    try:
        r = fn()
    except TypeError:
        r = ["TypeError"]
    except libvirt.libvirtError as e:
        r = ["error"] + list(e.err)
    STEPS.append([step, r])
    return r


def parent_of(s):
    try:
        return s.getParent().getName()
    except libvirt.libvirtError as e:
        return ["error", e.get_error_code()]


def mask_now(t):
    """creationTime of a snapshot made during the run (the file's are 1700000xxx)."""
    return "now" if int(t) > 1700100000 else t


def describe(dom):
    out = {}
    for s in dom.listAllSnapshots():
        x = s.getXMLDesc()
        out[s.getName()] = {
            "parent": parent_of(s),
            "current": s.isCurrent(),
            "meta": s.hasMetadata(),
            "children": sorted(s.listChildrenNames()),
            "state": re.search(r"<state>([^<]+)</state>", x).group(1),
            "time": mask_now(re.search(r"<creationTime>(\d+)</creationTime>", x).group(1)),
        }
    return out


conn = libvirt.open("test://" + NODE)
rec("domains", lambda: sorted(d.name() for d in conn.listAllDomains()))
rec("ids", lambda: sorted(conn.listDomainsID()))
rec("defined", lambda: sorted(conn.listDefinedDomains()))
rec("with_snapshots", lambda: sorted(d.name() for d in conn.listAllDomains(L.VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT)))
rec("without_snapshots", lambda: sorted(d.name() for d in conn.listAllDomains(L.VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT)))
for name in ("snaptree", "offvm", "pausedvm"):
    d = conn.lookupByName(name)
    rec(f"{name}_state", d.state)
    rec(f"{name}_tree", lambda: describe(d))
    rec(f"{name}_num", d.snapshotNum)
    rec(f"{name}_has_current", d.hasCurrentSnapshot)
    rec(f"{name}_current", lambda: d.snapshotCurrent().getName())
    rec(f"{name}_roots", lambda: sorted(d.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS)))
    rec(f"{name}_leaves", lambda: sorted(d.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES)))
    rec(f"{name}_active", lambda: sorted(d.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE)))
    rec(f"{name}_inactive", lambda: sorted(d.snapshotListNames(L.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE)))

d = conn.lookupByName("snaptree")
amp = d.snapshotLookupByName("internal-root-child1&")
rec("amp_name", amp.getName)
rec("amp_xml", amp.getXMLDesc)
rec("root_xml", lambda: d.snapshotLookupByName("internal-root").getXMLDesc())
rec("revert_paused_snap", lambda: d.revertToSnapshot(amp))
rec("state_after_paused_snap", d.state)
rec("revert_shutoff_snap", lambda: d.revertToSnapshot(d.snapshotLookupByName("internal-root-child2")))
rec("state_after_shutoff_snap", d.state)
rec("revert_running_flag", lambda: d.revertToSnapshot(d.snapshotLookupByName("internal-root-child2"), L.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING))
rec("state_after_running_flag", d.state)
rec("resync_shut_off", lambda: d.destroy() if d.isActive() else 0)
rec("new_child_parent", lambda: parent_of(d.snapshotCreateXML("<domainsnapshot><name>new</name></domainsnapshot>")))
rec("delete_child2_reparents", lambda: d.snapshotLookupByName("internal-root-child2").delete())
rec("tree_after_delete", lambda: describe(d))
off = conn.lookupByName("offvm")
rec("off_revert", lambda: off.revertToSnapshot(off.snapshotCurrent()))
rec("off_state", off.state)
rec("off_undefine", off.undefine)
rec("off_delete_then_undefine", lambda: [off.snapshotCurrent().delete(), off.undefine()])
rec("close_is_int", lambda: isinstance(conn.close(), int))

json.dump(STEPS, sys.stdout, indent=1)
sys.stdout.write("\n")

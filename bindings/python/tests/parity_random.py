"""Randomised differential run: a seeded sequence of snapshot and domain
operations on test:///default, under libvirt-python and under virsnap.

    python parity_random.py libvirt|virsnap SEED [OPS]

Both sides draw the same operations from the seed; choices that depend on
state (which snapshot to act on) use only what the API returned, so the two
runs stay in step as long as the results agree. Prints a JSON list of
[index, operation, result]. Known, documented differences are kept out of
the draw: REVERT_RUNNING/PAUSED to a shut-off snapshot (DESIGN.md §4.2) and
state reasons after reverts (only the state itself is recorded).
"""

import json
import random
import re
import sys

if sys.argv[1] == "virsnap":
    import virsnap as libvirt
else:
    import libvirt  # type: ignore[no-redef]

libvirt.registerErrorHandler(lambda ctx, err: None, None)
L = libvirt
seed = int(sys.argv[2])
nops = int(sys.argv[3]) if len(sys.argv) > 3 else 300
rng = random.Random(seed)
conn = libvirt.open("test:///default")
dom = conn.lookupByName("test")
OUT = []
counter = [0]


def mask(xml):
    return re.sub(r"<creationTime>\d+</creationTime>", "<creationTime>T</creationTime>", xml)


def names():
    return sorted(dom.snapshotListNames())


def tree():
    out = {}
    for s in dom.listAllSnapshots():
        try:
            p = s.getParent().getName()
        except libvirt.libvirtError:
            p = None
        out[s.getName()] = [p, s.isCurrent()]
    return out


def pick(existing_only=False):
    ns = names()
    if ns and (existing_only or rng.random() < 0.9):
        return rng.choice(ns)
    return f"ghost{rng.randrange(3)}"


def op_create():
    counter[0] += 1
    name = f"n{counter[0]}"
    flags = rng.choice([0, 0, 0, L.VIR_DOMAIN_SNAPSHOT_CREATE_HALT, L.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC,
                        L.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY, L.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA])
    desc = f"<description>d{rng.randrange(100)}</description>" if rng.random() < 0.5 else ""
    s = dom.snapshotCreateXML(f"<domainsnapshot><name>{name}</name>{desc}</domainsnapshot>", flags)
    return ["create", flags, s.getName(), s.isCurrent(), dom.state()[0]]


def op_revert():
    n = pick(existing_only=True)
    s = dom.snapshotLookupByName(n)
    state = re.search(r"<state>([^<]+)</state>", s.getXMLDesc()).group(1)
    choices = [0, L.VIR_DOMAIN_SNAPSHOT_REVERT_FORCE]
    if state != "shutoff":
        choices += [L.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING, L.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED]
    flags = rng.choice(choices)
    return ["revert", n, flags, dom.revertToSnapshot(s, flags), dom.state()[0], dom.snapshotCurrent().getName()]


def op_delete():
    n = pick()
    flags = rng.choice([0, 0, L.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN, L.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY,
                        L.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY])
    return ["delete", n, flags, dom.snapshotLookupByName(n).delete(flags), names()]


def op_redefine():
    n = pick(existing_only=True)
    xml = dom.snapshotLookupByName(n).getXMLDesc()
    flags = L.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
    if rng.random() < 0.5:
        flags |= L.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
    if rng.random() < 0.3:
        counter[0] += 1
        xml = xml.replace(f"<name>{n}</name>", f"<name>n{counter[0]}</name>", 1)
    s = dom.snapshotCreateXML(xml, flags)
    return ["redefine", n, flags, s.getName(), s.isCurrent()]


def op_query():
    n = pick()
    s = dom.snapshotLookupByName(n)
    what = rng.choice(["xml", "parent", "children", "descendants", "num", "current", "meta"])
    if what == "xml":
        return ["xml", n, mask(s.getXMLDesc())]
    if what == "parent":
        return ["parent", n, s.getParent().getName()]
    if what == "children":
        return ["children", n, sorted(s.listChildrenNames())]
    if what == "descendants":
        return ["descendants", n, sorted(c.getName() for c in s.listAllChildren(L.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS))]
    if what == "num":
        return ["num", n, s.numChildren(), s.numChildren(L.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS)]
    if what == "current":
        return ["iscurrent", n, s.isCurrent()]
    return ["meta", n, s.hasMetadata()]


def op_list():
    flags = rng.choice([0, L.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS, L.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES,
                        L.VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES, L.VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE,
                        L.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE, L.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS | L.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES,
                        L.VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY, L.VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL,
                        L.VIR_DOMAIN_SNAPSHOT_LIST_METADATA | L.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES])
    return ["list", flags, sorted(dom.snapshotListNames(flags)), dom.snapshotNum(flags)]


def op_domain():
    action = rng.choice(["destroy", "create", "suspend", "resume"])
    getattr(dom, action)()
    return ["domain", action, dom.state()[0]]


OPS = [(op_create, 30), (op_revert, 15), (op_delete, 12), (op_redefine, 8), (op_query, 20), (op_list, 10),
       (op_domain, 5)]
weights = [w for _, w in OPS]
for i in range(nops):
    fn = rng.choices([f for f, _ in OPS], weights)[0]
    try:
        r = fn()
    except libvirt.libvirtError as e:
        r = [fn.__name__, "error"] + list(e.err)
    OUT.append([i, r])
    if i % 25 == 24:
        OUT.append([i, ["tree", tree(), dom.hasCurrentSnapshot()]])

json.dump(OUT, sys.stdout)
sys.stdout.write("\n")

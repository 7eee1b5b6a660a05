"""Runs scenario.txt on libvirt-python (argument: module name, 'libvirt' or 'virsnap')."""
import importlib
import json
import re
import sys

lv = importlib.import_module(sys.argv[1])
lv.registerErrorHandler(lambda ctx, err: None, None)
conn = lv.open("test:///default")
dom = conn.lookupByName("test")


def norm(x):
    return re.sub(r"<creationTime>\d+</creationTime>", "<creationTime>T</creationTime>", x)


def snap(name):
    return dom.snapshotLookupByName(name, 0)


def run(op, args):
    if op == "state":
        return dom.state()
    if op == "hascurrent":
        return dom.hasCurrentSnapshot(int(args[0]))
    if op == "current":
        return dom.snapshotCurrent(int(args[0])).getName()
    if op == "num":
        return dom.snapshotNum(int(args[0]))
    if op == "create":
        return dom.snapshotCreateXML(args[0], int(args[1])).getName()
    if op == "redefine":
        xml = snap(args[0]).getXMLDesc(1)
        return dom.snapshotCreateXML(xml, int(args[1])).getName()
    if op == "xml":
        return norm(snap(args[0]).getXMLDesc(int(args[1])))
    if op == "parent":
        return snap(args[0]).getParent(int(args[1])).getName()
    if op == "iscurrent":
        return snap(args[0]).isCurrent(int(args[1]))
    if op == "hasmeta":
        return snap(args[0]).hasMetadata(int(args[1]))
    if op == "list":
        flags = int(args[0])
        num = dom.snapshotNum(flags)
        names = dom.snapshotListNames(flags)
        alls = [s.getName() for s in dom.listAllSnapshots(flags)]
        if not flags & 1024:
            names, alls = sorted(names), sorted(alls)
        return (names, alls, num)
    if op == "children":
        s = snap(args[0])
        flags = int(args[1])
        names = s.listChildrenNames(flags)
        alls = [c.getName() for c in s.listAllChildren(flags)]
        if not flags & 1024:
            names, alls = sorted(names), sorted(alls)
        return (names, alls)
    if op == "numchildren":
        return snap(args[0]).numChildren(int(args[1]))
    if op == "lookup":
        return dom.snapshotLookupByName(args[0], int(args[1])).getName()
    if op == "revert":
        return dom.revertToSnapshot(snap(args[0]), int(args[1]))
    if op == "delete":
        return snap(args[0]).delete(int(args[1]))
    if op == "destroy":
        return dom.destroy()
    if op == "start":
        return dom.create()
    if op == "suspend":
        return dom.suspend()
    if op == "resume":
        return dom.resume()
    if op == "undefine":
        return dom.undefineFlags(int(args[0]))
    if op == "definexml":
        d = conn.defineXML(args[0])
        try:
            return d.XMLDesc(0)
        finally:
            d.undefine()
    raise SystemExit("unknown op " + op)


for line in open(sys.argv[2]):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    if line == "reset":
        dom = None
        conn.close()
        conn = lv.open("test:///default")
        dom = conn.lookupByName("test")
        continue
    op, *args = line.split(" | ")
    try:
        res = run(op, args)
        print(f"{line}\n  => {json.dumps(res)}")
    except lv.libvirtError as e:
        print(f"{line}\n  => ERR {e.get_error_code()} {e.get_error_domain()} {json.dumps(e.get_error_message())}")

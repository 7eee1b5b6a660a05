"""Python workload for the side-by-side benchmark (issue 9).

    python3 pybench.py libvirt N      # libvirt-python (python3-libvirt)
    python3 pybench.py virsnap N      # `import virsnap as libvirt`

The same code runs on both modules (virsnap is a drop-in for snapshot code
written for libvirt-python). Prints one JSON object: seconds per phase and
rss_per_snap (bytes of RSS growth over the create phase / N). Run by
tests/bench/run.py --python; see tests/bench/README.md.
"""
import json
import random
import sys
import time


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def main():
    which, n = sys.argv[1], int(sys.argv[2])
    if which == "virsnap":
        import virsnap as libvirt
    else:
        import libvirt
    libvirt.registerErrorHandler(lambda *_: None, None)
    conn = libvirt.open("test:///default")
    dom = conn.lookupByName("test")
    names = [f"s{i}" for i in range(n)]
    out = {"n": n, "module": which}

    rss0 = rss_bytes()
    t = time.perf_counter()
    for name in names:
        dom.snapshotCreateXML(f"<domainsnapshot><name>{name}</name></domainsnapshot>", 0)
    out["create"] = time.perf_counter() - t
    out["rss_per_snap"] = (rss_bytes() - rss0) / n

    t = time.perf_counter()
    got = dom.snapshotListNames(0)
    out["list_names"] = time.perf_counter() - t
    assert len(got) == n

    t = time.perf_counter()
    total = 0
    for name in names:
        total += len(dom.snapshotLookupByName(name, 0).getXMLDesc(0))
    out["lookup_xml"] = time.perf_counter() - t
    out["xml_bytes"] = total

    order = names[:]
    random.Random(42).shuffle(order)
    t = time.perf_counter()
    for name in order:
        dom.snapshotLookupByName(name, 0)
    out["lookup"] = time.perf_counter() - t

    t = time.perf_counter()
    snaps = dom.listAllSnapshots(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)
    del snaps
    out["list_topo"] = time.perf_counter() - t

    t = time.perf_counter()
    dom.snapshotLookupByName(names[0], 0).delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN)
    out["delete_tree"] = time.perf_counter() - t
    assert dom.snapshotNum(0) == 0
    print(json.dumps(out))


if __name__ == "__main__":
    main()

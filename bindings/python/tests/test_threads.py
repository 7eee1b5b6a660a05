"""8 Python threads on shared virConnect / virDomain / virDomainSnapshot
objects (virt-manager's worker threads, cockpit's concurrent deletes)."""

import threading

import virsnap as libvirt
from conftest import snap_xml

THREADS = 8
ROUNDS = 25


def run_threads(target):
    barrier = threading.Barrier(THREADS)
    errors = []

    def wrapper(i):
        try:
            barrier.wait(timeout=30)
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=wrapper, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "thread hung"
    assert errors == []


def test_eight_threads_create_list_lookup_delete(conn, dom):
    base = dom.snapshotCreateXML(snap_xml("base"))

    def work(i):
        for j in range(ROUNDS):
            name = f"t{i}-{j}"
            s = dom.snapshotCreateXML(snap_xml(name, f"thread {i}"))
            assert s.domain() is dom and s.connect() is conn
            assert s.getName() == name
            assert name in dom.snapshotListNames()
            got = dom.snapshotLookupByName(name)
            assert f"<name>{name}</name>" in got.getXMLDesc()
            assert dom.snapshotNum() >= 1
            assert isinstance(dom.listAllSnapshots(), list)
            assert base.getXMLDesc().startswith("<domainsnapshot>")
            assert s.hasMetadata() == 1
            if j % 2:
                assert got.delete() == 0
        # leaves: the odd rounds were deleted, the even ones stay
        mine = sorted(n for n in dom.snapshotListNames() if n.startswith(f"t{i}-"))
        assert mine == sorted(f"t{i}-{j}" for j in range(0, ROUNDS, 2))

    run_threads(work)
    assert dom.snapshotNum() == 1 + THREADS * ((ROUNDS + 1) // 2)
    assert sorted(dom.snapshotListNames(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS)) == ["base"]


def test_eight_threads_concurrent_deletes_like_cockpit(dom):
    names = [f"c{i}" for i in range(THREADS * 4)]
    snaps = [dom.snapshotCreateXML(snap_xml(n)) for n in names]

    def work(i):
        for s in snaps[i::THREADS]:
            assert s.delete() == 0

    run_threads(work)
    assert dom.snapshotNum() == 0
    for s in snaps:
        try:
            s.getXMLDesc()
            raise AssertionError("deleted snapshot still answers")
        except libvirt.libvirtError as e:
            assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT


def test_eight_threads_share_one_snapshot_object(dom):
    s = dom.snapshotCreateXML(snap_xml("shared"))
    dom.snapshotCreateXML(snap_xml("child"))
    seen_errors = []

    def work(i):
        for _ in range(ROUNDS * 2):
            assert s.getName() == "shared"
            assert s.numChildren() == 1
            assert s.listChildrenNames() == ["child"]
            assert s.isCurrent() in (0, 1)
            assert dom.revertToSnapshot(s) == 0
            try:
                dom.snapshotLookupByName(f"missing-{i}")
            except libvirt.libvirtError as e:
                # the thread-local last error is this thread's own
                assert libvirt.virGetLastError()[2].endswith(f"'missing-{i}'")
                seen_errors.append(e.get_error_code())

    run_threads(work)
    assert set(seen_errors) == {libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT}
    assert len(seen_errors) == THREADS * ROUNDS * 2


def test_threads_with_own_connections(quiet):
    def work(i):
        c = libvirt.open("test:///default")
        d = c.lookupByName("test")
        s = d.snapshotCreateXML(snap_xml(f"own{i}"))
        assert d.snapshotLookupByName(f"own{i}").getName() == s.getName()
        assert s.delete() == 0
        assert c.close() == 0

    run_threads(work)


def test_core_calls_release_the_gil(dom):
    """With a huge switch interval the interpreter never forces a GIL handover,
    so another Python thread only runs when a call releases the GIL. Each
    virsnap call into core does (py.detach), so the other thread gets to run
    while this one makes nothing but virsnap calls. (Checked the other way:
    looping on a call that keeps the GIL, the other thread never runs.)
    Handover on a voluntary release is not immediate on a loaded machine, so
    the loop runs until the other thread has run or a time budget is spent."""
    import sys
    import time

    dom.snapshotCreateXML(snap_xml("gil"))
    counter = [0]
    stop = threading.Event()
    started = threading.Event()

    def spinner():
        started.set()
        while not stop.is_set():
            counter[0] += 1
            time.sleep(0)

    old = sys.getswitchinterval()
    t = threading.Thread(target=spinner)
    t.start()
    assert started.wait(10)
    sys.setswitchinterval(1000.0)
    calls = 0
    try:
        before = counter[0]
        deadline = time.monotonic() + 20
        while counter[0] == before and time.monotonic() < deadline:
            for _ in range(200):
                dom.snapshotNum()
            calls += 200
        during = counter[0] - before
    finally:
        sys.setswitchinterval(old)
        stop.set()
        t.join(10)
    assert during > 0, f"no other thread ran during {calls} virsnap calls: the GIL is not released"

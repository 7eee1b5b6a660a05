"""Hostile input through the Python module (issue 10): each raises
libvirtError with the right code (or, for values Python itself cannot hand
over as UTF-8 / C strings, the exception libvirt-python raises) and never
crashes the interpreter; the domain's snapshots are unchanged afterwards."""

import threading

import pytest

import virsnap as libvirt
from conftest import snap_xml

DEEP = 200_000

BOMB = (
    "<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'aaaaaaaaaa'>"
    "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>"
    "<!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'><!ENTITY e '&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;'>]>"
    "<domainsnapshot><name>bomb</name><description>&e;&e;&e;&e;</description></domainsnapshot>"
)

HOSTILE_DOCS = {
    "entity bomb": BOMB,
    "external entity": "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
    "<domainsnapshot><name>xxe</name><description>&x;</description></domainsnapshot>",
    "external parameter entity": "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY % p SYSTEM 'file:///etc/passwd'> %p;]>"
    "<domainsnapshot><name>xxe</name></domainsnapshot>",
    "undefined entity": snap_xml("&nope;"),
    "200k-deep nesting": "<domainsnapshot><name>deep</name><description>" + "<a>" * DEEP + "</a>" * DEEP
    + "</description></domainsnapshot>",
    "200k-deep root": "<domainsnapshot>" * DEEP + "</domainsnapshot>" * DEEP,
    "over the size cap (16 MiB)": snap_xml("big", "x" * (16 << 20)),
    "name with /": snap_xml("a/b"),
    "name ..": snap_xml(".."),
    "name .": snap_xml("."),
    "name ../../etc/x": snap_xml("../../etc/x"),
    "name with newline": snap_xml("a\nb"),
    "name with &#1;": snap_xml("a&#1;b"),
    "name with ESC": snap_xml("a\x1b[2Jb"),
    "name with DEL": snap_xml("a\x7fb"),
    "duplicate name": snap_xml("h1"),
    "unnamed element": snap_xml("u", "x<\r/>"),
    "unclosed": "<domainsnapshot><name>u</name>",
    "two roots": "<domainsnapshot/><domainsnapshot/>",
    "wrong root": "<domain><name>u</name></domain>",
    "not XML": "\x01\x02garbage",
    "empty": "",
}

XML_CODES = {libvirt.VIR_ERR_XML_ERROR, libvirt.VIR_ERR_XML_DETAIL, libvirt.VIR_ERR_INVALID_ARG,
             libvirt.VIR_ERR_CONFIG_UNSUPPORTED, libvirt.VIR_ERR_OPERATION_INVALID, libvirt.VIR_ERR_OPERATION_FAILED}
BAD_NAMES = ["", "/", "a/b", "..", ".", "../../etc/x", "../h1", "/etc/passwd", "a\nb", "a\tb", "a\x01b",
             "a\x1b[2Jb", "a\x7fb", "h1\n"]
BAD_FLAGS = [1 << 31, 1 << 30, 0xFFFF0000, 0xFFFFFFFF]


def state(dom):
    out = []
    for s in sorted(dom.listAllSnapshots(), key=lambda s: s.getName()):
        out.append((s.getName(), s.isCurrent(), s.getXMLDesc()))
    return out


@pytest.fixture
def two(dom):
    h1 = dom.snapshotCreateXML(snap_xml("h1", "first"))
    dom.snapshotCreateXML(snap_xml("h2", "second"))
    return dom, h1, state(dom)


def code(exc_info):
    return exc_info.value.get_error_code()


@pytest.mark.parametrize("what", sorted(HOSTILE_DOCS))
@pytest.mark.parametrize("flags", [0, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE])
def test_hostile_snapshot_xml(two, what, flags):
    dom, _, before = two
    with pytest.raises(libvirt.libvirtError) as e:
        dom.snapshotCreateXML(HOSTILE_DOCS[what], flags)
    assert code(e) in XML_CODES | ({libvirt.VIR_ERR_INTERNAL_ERROR} if flags else set()), e.value
    assert e.value.get_error_message()
    assert state(dom) == before


def test_document_of_128_mib(two):
    dom, _, before = two
    with pytest.raises(libvirt.libvirtError) as e:
        dom.snapshotCreateXML(snap_xml("big", "x" * (128 << 20)))
    assert code(e) in XML_CODES
    assert state(dom) == before


def test_xinclude_stays_inert(two):
    dom, _, before = two
    s = dom.snapshotCreateXML("<domainsnapshot xmlns:xi='http://www.w3.org/2001/XInclude'><name>xi</name>"
                              "<description>see <xi:include href='file:///etc/passwd' parse='text'/></description>"
                              "</domainsnapshot>")
    assert "root:x:0:0" not in s.getXMLDesc()
    s.delete()
    assert state(dom) == before


@pytest.mark.parametrize("name", BAD_NAMES)
def test_hostile_names(two, name):
    dom, h1, before = two
    with pytest.raises(libvirt.libvirtError) as e:
        dom.snapshotLookupByName(name)
    assert code(e) in {libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT, libvirt.VIR_ERR_INVALID_ARG}
    with pytest.raises(libvirt.libvirtError) as e:
        h1.rename(name)
    assert code(e) in XML_CODES
    with pytest.raises(libvirt.libvirtError):
        dom.connect().lookupByName(name)
    assert state(dom) == before


@pytest.mark.parametrize("value", ["a\ud800b", "\udcff", "a\x00b"])
def test_strings_python_cannot_pass_never_crash(two, value):
    """Lone surrogates cannot be encoded as UTF-8 and NUL cannot be in a C
    string; like libvirt-python, these raise before reaching the library
    (or libvirtError), never crash."""
    dom, h1, before = two
    ok = (libvirt.libvirtError, UnicodeError, ValueError, TypeError)
    with pytest.raises(ok):
        dom.snapshotLookupByName(value)
    with pytest.raises(ok):
        h1.rename(value)
    with pytest.raises(ok):
        dom.snapshotCreateXML(snap_xml(value))
    with pytest.raises(ok):
        libvirt.open("test:///" + value)
    assert state(dom) == before


def test_wrong_types_never_crash(two):
    dom, h1, before = two
    for bad in [None, b"h1", 5, 1.5, ["h1"], object()]:
        with pytest.raises((TypeError, libvirt.libvirtError)):
            dom.snapshotLookupByName(bad)
        with pytest.raises((TypeError, libvirt.libvirtError)):
            dom.snapshotCreateXML(bad)
    # (1 << 32 wraps to 0 as in libvirt-python's unsigned-int conversion; -1 is
    # 0xffffffff, unknown flags.)
    for bad in [-1, 1 << 64, "0", 1.0]:
        with pytest.raises((OverflowError, TypeError, ValueError, libvirt.libvirtError)):
            dom.snapshotNum(bad)
        with pytest.raises((OverflowError, TypeError, ValueError, libvirt.libvirtError)):
            h1.delete(bad)
    assert state(dom) == before


@pytest.mark.parametrize("flags", BAD_FLAGS)
def test_unknown_flags_everywhere(two, flags):
    dom, h1, before = two
    calls = {
        "snapshotCreateXML": lambda: dom.snapshotCreateXML(snap_xml("f"), flags),
        "snapshotNum": lambda: dom.snapshotNum(flags),
        "snapshotListNames": lambda: dom.snapshotListNames(flags),
        "listAllSnapshots": lambda: dom.listAllSnapshots(flags),
        "snapshotLookupByName": lambda: dom.snapshotLookupByName("h1", flags),
        "hasCurrentSnapshot": lambda: dom.hasCurrentSnapshot(flags),
        "snapshotCurrent": lambda: dom.snapshotCurrent(flags),
        "revertToSnapshot": lambda: dom.revertToSnapshot(h1, flags),
        "getXMLDesc": lambda: h1.getXMLDesc(flags),
        "getParent": lambda: h1.getParent(flags),
        "numChildren": lambda: h1.numChildren(flags),
        "listChildrenNames": lambda: h1.listChildrenNames(flags),
        "listAllChildren": lambda: h1.listAllChildren(flags),
        "isCurrent": lambda: h1.isCurrent(flags),
        "hasMetadata": lambda: h1.hasMetadata(flags),
        "delete": lambda: h1.delete(flags),
        "rename": lambda: h1.rename("renamed", flags),
    }
    for name, call in calls.items():
        with pytest.raises(libvirt.libvirtError) as e:
            call()
        assert code(e) == libvirt.VIR_ERR_INVALID_ARG, name
    assert state(dom) == before


@pytest.mark.parametrize("uri", ["nonsense", "://", "test:///nonexistent/dir/node.xml", "test:///etc/passwd",
                                 "test:///default\n", "\x01test:///default", "qemu:///embed?root=%ZZ",
                                 "esx://h:99999/", "unknown:///x", "test:///" + "a" * (1 << 20)])
def test_hostile_uris(quiet, uri):
    with pytest.raises(libvirt.libvirtError) as e:
        libvirt.open(uri)
    assert e.value.get_error_message()
    with pytest.raises(libvirt.libvirtError):
        libvirt.openReadOnly(uri)


def test_hostile_domain_xml(conn):
    before = sorted(d.name() for d in conn.listAllDomains())
    for xml in [BOMB.replace("domainsnapshot", "domain"),
                "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><domain type='test'>"
                "<name>&x;</name></domain>",
                "<domain type='test'><name>deep</name>" + "<a>" * DEEP + "</a>" * DEEP + "</domain>",
                "<domain type='test'><name>../../x</name>" + "</domain>" * 2]:
        with pytest.raises(libvirt.libvirtError):
            conn.defineXML(xml)
    assert sorted(d.name() for d in conn.listAllDomains()) == before


def test_handles_after_delete_and_close(two):
    dom, h1, before = two
    h2 = dom.snapshotLookupByName("h2")
    h2.delete()
    for call in (h2.getXMLDesc, h2.isCurrent, h2.getParent, h2.delete, lambda: h2.rename("x")):
        with pytest.raises(libvirt.libvirtError) as e:
            call()
        assert code(e) == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT
    c2 = libvirt.open("test:///default")
    d2 = c2.lookupByName("test")
    s2 = d2.snapshotLookupByName("h1")
    c2.close()
    # libvirt keeps a closed connection alive while handles reference it.
    try:
        s2.getName()
    except libvirt.libvirtError:
        pass


def test_threads_with_hostile_input(two):
    """8 threads mix hostile calls with normal ones on shared handles."""
    dom, h1, before = two
    errors = []
    stop = threading.Event()

    def worker(i):
        try:
            n = 0
            while not stop.is_set():
                for xml in (BOMB, snap_xml("../x"), snap_xml("a\x01b")):
                    try:
                        dom.snapshotCreateXML(xml)
                        errors.append(f"thread {i}: accepted {xml[:40]!r}")
                    except libvirt.libvirtError:
                        pass
                try:
                    dom.snapshotNum(1 << 31)
                    errors.append("bad flag accepted")
                except libvirt.libvirtError:
                    pass
                s = dom.snapshotCreateXML(snap_xml(f"t{i}-{n}"))
                assert h1.getName() == "h1"
                h1.getXMLDesc()
                s.rename(f"r{i}-{n}")
                dom.snapshotLookupByName(f"r{i}-{n}").delete()
                n += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"thread {i}: {e!r}")

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    stop.wait(3)
    stop.set()
    for t in ts:
        t.join()
    assert not errors, errors[:5]
    assert sorted(s.getName() for s in dom.listAllSnapshots()) == ["h1", "h2"]

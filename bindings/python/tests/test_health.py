"""virsnap 0.2 snapshot health (issue 21): virDomain.snapshotPrune and
snapshotVerify on test:///default and on the qemu driver with a real qcow2
image whose snapshot is deleted behind virsnap's back."""

import shutil
import subprocess

import pytest

import virsnap as libvirt


def _mk(dom, *names):
    for n in names:
        dom.snapshotCreateXML("<domainsnapshot><name>%s</name></domainsnapshot>" % n, 0)


def test_prune_on_test_driver(conn, dom):
    _mk(dom, "a", "b", "c", "d")
    dom.revertToSnapshot(dom.snapshotLookupByName("b"))
    assert dom.snapshotPrune(keep=1, flags=libvirt.VIR_DOMAIN_SNAPSHOT_PRUNE_DRY_RUN) == ["a", "c"]
    assert sorted(dom.snapshotListNames()) == ["a", "b", "c", "d"]
    assert dom.snapshotPrune(olderThan="1d") == []
    assert dom.snapshotPrune(olderThan=86400) == []
    assert dom.snapshotPrune(1) == ["a", "c"]
    assert sorted(dom.snapshotListNames()) == ["b", "d"]
    assert dom.snapshotVerify() == (0, [])


def test_prune_errors(conn, dom):
    _mk(dom, "a")
    for kwargs in ({}, {"keep": -1}, {"olderThan": "3 parsecs"}, {"olderThan": -5}):
        with pytest.raises(libvirt.libvirtError) as e:
            dom.snapshotPrune(**kwargs)
        assert e.value.get_error_code() == libvirt.VIR_ERR_INVALID_ARG
    with pytest.raises(libvirt.libvirtError) as e:
        dom.snapshotVerify(0x40)
    assert e.value.get_error_code() == libvirt.VIR_ERR_INVALID_ARG
    assert dom.snapshotListNames() == ["a"]


DOMXML = """<domain type='qemu'><name>hv</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>
<target dev='vda' bus='virtio'/></disk></devices></domain>"""


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img not installed")
def test_verify_and_repair_on_qemu(tmp_path, quiet):
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    c = libvirt.open("qemu:///embed?root=%s" % tmp_path)
    try:
        d = c.defineXML(DOMXML.format(disk=disk))
        _mk(d, "s0", "s1", "s2")
        assert d.snapshotVerify() == (0, [])
        subprocess.run(["qemu-img", "snapshot", "-d", "s1", str(disk)], check=True)
        left, lines = d.snapshotVerify()
        assert left == 1
        assert lines == ["snapshot 's1': has metadata but its internal snapshot 's1' is gone from disk(s) vda"]
        left, lines = d.snapshotVerify(libvirt.VIR_DOMAIN_SNAPSHOT_VERIFY_REPAIR)
        assert left == 0
        assert lines[0].endswith("repaired: metadata dropped, children s2 re-parented to 's0'")
        assert d.snapshotVerify() == (0, [])
        assert sorted(d.snapshotListNames()) == ["s0", "s2"]
        assert d.snapshotPrune(keep=0) == ["s0"]
        assert d.snapshotListNames() == ["s2"]
    finally:
        c.close()

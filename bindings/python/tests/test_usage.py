"""Snapshot disk usage (virsnap 0.2): virDomain.listSnapshotUsage and
virDomainSnapshot.getUsage on the test driver (every number unknown: None)
and on a real qcow2 (qemu:///embed; needs qemu-img and qemu-io)."""

import shutil
import subprocess

import pytest

import virsnap as libvirt

from test_qemu import DOMXML

KEYS = ["name", "reclaimableBytes", "vmStateBytes", "exclusiveBytes", "sharedBytes", "overlayBytes"]
MIB = 1 << 20


def test_test_driver_rows_are_unknown(conn):
    dom = conn.lookupByName("test")
    assert dom.listSnapshotUsage() == []
    snap = dom.snapshotCreateXML("<domainsnapshot><name>u1</name></domainsnapshot>")
    row = snap.getUsage()
    assert list(row) == KEYS
    assert row == {"name": "u1", **{k: None for k in KEYS[1:]}}
    assert dom.listSnapshotUsage() == [row]
    with pytest.raises(libvirt.libvirtError) as e:
        snap.getUsage(1)
    assert e.value.get_error_code() == libvirt.VIR_ERR_INVALID_ARG
    snap.delete()
    with pytest.raises(libvirt.libvirtError) as e:
        snap.getUsage()
    assert e.value.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT


@pytest.mark.skipif(shutil.which("qemu-io") is None or shutil.which("qemu-img") is None,
                    reason="qemu-img and qemu-io not installed")
def test_qemu_usage_of_known_writes(tmp_path, quiet):
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "32M"], check=True)
    conn = libvirt.open(f"qemu:///embed?root={tmp_path / 'root'}")
    dom = conn.defineXML(DOMXML.format(name="py-usage", disk=disk))

    def write(p):
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P {p} 0 8M", str(disk)], check=True,
                       stdout=subprocess.DEVNULL)

    write(1)
    dom.snapshotCreateXML("<domainsnapshot><name>one</name></domainsnapshot>")
    write(2)
    dom.snapshotCreateXML("<domainsnapshot><name>two</name></domainsnapshot>")
    write(3)
    rows = dom.listSnapshotUsage()
    assert [r["name"] for r in rows] == dom.snapshotListNames()
    for r in rows:
        assert 8 * MIB <= r["reclaimableBytes"] <= 8 * MIB + 4 * 65536, r
        assert r["vmStateBytes"] == 0 and r["overlayBytes"] is None, r
        assert dom.snapshotLookupByName(r["name"]).getUsage() == r
    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    conn.close()

"""The same Python surface on the qemu driver (qemu:///embed?root=DIR) with a
real qcow2 image: shut-off internal snapshots go through qemu-img. Skipped
when qemu-img is not installed."""

import shutil
import subprocess
import threading

import pytest

import virsnap as libvirt

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img not installed")

DOMXML = """<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>
<target dev='vda' bus='virtio'/></disk></devices></domain>"""


def img_tags(path):
    out = subprocess.run(["qemu-img", "snapshot", "-l", "-U", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return sorted(line.split()[1] for line in out.splitlines()[2:] if line.strip())


@pytest.fixture
def qdom(tmp_path, quiet):
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    conn = libvirt.open(f"qemu:///embed?root={tmp_path / 'root'}")
    dom = conn.defineXML(DOMXML.format(name="py-q1", disk=disk))
    yield dom, disk
    try:
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    except libvirt.libvirtError:
        pass
    conn.close()


def test_qemu_shutoff_internal_snapshots(qdom):
    dom, disk = qdom
    assert dom.connect().getType() == "QEMU"
    assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    s1 = dom.snapshotCreateXML("<domainsnapshot><name>s1</name><description>one</description></domainsnapshot>")
    s2 = dom.snapshotCreateXML("<domainsnapshot><name>s2</name></domainsnapshot>", flags=0)
    assert s1.domain() is dom
    assert sorted(dom.snapshotListNames()) == ["s1", "s2"]
    assert img_tags(disk) == ["s1", "s2"]
    assert s2.getParent().getName() == "s1"
    assert "<state>shutoff</state>" in s1.getXMLDesc() and "<description>one</description>" in s1.getXMLDesc()
    assert s1.hasMetadata() == 1 and dom.snapshotCurrent().getName() == "s2"
    assert dom.revertToSnapshot(s1) == 0
    assert dom.snapshotCurrent().getName() == "s1"
    assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    with pytest.raises(libvirt.libvirtError) as ei:
        dom.snapshotLookupByName("nope")
    assert ei.value.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT
    assert ei.value.get_error_domain() == libvirt.VIR_FROM_QEMU
    assert s2.delete() == 0
    assert img_tags(disk) == ["s1"]
    assert s1.delete() == 0
    assert dom.snapshotNum() == 0 and img_tags(disk) == []


def test_qemu_threads_share_a_domain(qdom):
    dom, disk = qdom
    errors = []

    def work(i):
        try:
            s = dom.snapshotCreateXML(f"<domainsnapshot><name>t{i}</name></domainsnapshot>")
            assert dom.snapshotLookupByName(f"t{i}").getName() == s.getName()
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(dom.snapshotListNames()) == sorted(f"t{i}" for i in range(8))
    assert img_tags(disk) == sorted(f"t{i}" for i in range(8))


def test_qemu_jobs(qdom):
    """jobInfo / jobStats / abortJob as libvirt-python returns them: errors
    while shut off, no job while idle, the completed job after a create."""
    dom, disk = qdom
    for call in (dom.jobInfo, dom.jobStats, dom.abortJob):
        with pytest.raises(libvirt.libvirtError) as ei:
            call()
        assert ei.value.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID
        assert str(ei.value) == "Requested operation is not valid: domain is not running"
    assert dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED) == {"type": libvirt.VIR_DOMAIN_JOB_NONE}
    dom.snapshotCreateXML("<domainsnapshot><name>s1</name></domainsnapshot>")
    done = dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED | libvirt.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED)
    assert done["type"] == libvirt.VIR_DOMAIN_JOB_COMPLETED
    assert done["operation"] == libvirt.VIR_DOMAIN_JOB_OPERATION_SNAPSHOT and done["success"] is True
    assert isinstance(done["time_elapsed"], int)
    dom.create()
    try:
        assert dom.jobInfo() == [libvirt.VIR_DOMAIN_JOB_NONE] + [0] * 11
        assert dom.jobStats() == {"type": libvirt.VIR_DOMAIN_JOB_NONE}
        with pytest.raises(libvirt.libvirtError) as ei:
            dom.abortJob()
        assert ei.value.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID
        assert ei.value.get_error_domain() == libvirt.VIR_FROM_QEMU
        assert str(ei.value) == "Requested operation is not valid: no job is active on the domain"
    finally:
        dom.destroy()

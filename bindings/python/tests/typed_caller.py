"""A snapshot caller written against the stubs; checked with `mypy --strict`
by .ci/suites/python.sh (pytest does not collect it)."""

from typing import List, Optional

import virsnap as libvirt


def newest_snapshot(uri: str, domain: str) -> Optional[str]:
    conn: libvirt.virConnect = libvirt.open(uri)
    try:
        dom: libvirt.virDomain = conn.lookupByName(domain)
        if dom.hasCurrentSnapshot(flags=0) == 1:
            return dom.snapshotCurrent(flags=0).getName()
        snaps: List[libvirt.virDomainSnapshot] = dom.listAllSnapshots(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS)
        names: List[str] = sorted(s.getName() for s in snaps)
        return names[-1] if names else None
    except libvirt.libvirtError as e:
        code: Optional[int] = e.get_error_code()
        if code == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
            return None
        raise
    finally:
        conn.close()


def take(dom: libvirt.virDomain, name: str) -> int:
    snap = dom.snapshotCreateXML(f"<domainsnapshot><name>{name}</name></domainsnapshot>", 0)
    assert snap.domain() is dom
    parent: Optional[libvirt.virDomainSnapshot] = None
    try:
        parent = snap.getParent()
    except libvirt.libvirtError:
        pass
    state: List[int] = dom.state()
    return dom.revertToSnapshot(parent or snap, flags=libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_FORCE) + state[0]


def versions() -> int:
    lib: int = libvirt.getVersion()
    pair = libvirt.getVersion("QEMU")
    return lib + pair[0] + pair[1]

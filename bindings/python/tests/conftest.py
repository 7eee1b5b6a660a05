"""Fixtures for the virsnap Python tests (run on the installed wheel).

test:///default is process-wide shared state (as in libvirt), so every
fixture-using test gets the domain `test` back with no snapshots, running,
and any domain it defined undefined.
"""

import os
import sys

import pytest

import virsnap as libvirt

URI = "test:///default"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _wipe(conn):
    for d in conn.listAllDomains():
        try:
            for s in d.listAllSnapshots(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS):
                try:
                    s.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN)
                except libvirt.libvirtError:
                    pass
        except libvirt.libvirtError:
            pass
        if d.name() != "test":
            try:
                if d.isActive():
                    d.destroy()
            except libvirt.libvirtError:
                pass
            try:
                d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
            except libvirt.libvirtError:
                pass
    d = conn.lookupByName("test")
    st = d.state()[0]
    if st == libvirt.VIR_DOMAIN_PAUSED:
        d.resume()
    elif st != libvirt.VIR_DOMAIN_RUNNING:
        d.create()


@pytest.fixture
def quiet():
    """Silence libvirt's default stderr error printing for one test."""
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    yield
    libvirt.registerErrorHandler(None, None)


@pytest.fixture
def conn(quiet):
    c = libvirt.open(URI)
    _wipe(c)
    yield c
    _wipe(c)
    c.close()


@pytest.fixture
def dom(conn):
    return conn.lookupByName("test")


def snap_xml(name=None, description=None, extra=""):
    parts = ["<domainsnapshot>"]
    if name is not None:
        parts.append(f"<name>{name}</name>")
    if description is not None:
        parts.append(f"<description>{description}</description>")
    parts.append(extra)
    parts.append("</domainsnapshot>")
    return "".join(parts)


def code_of(fn, *args, **kwargs):
    """The libvirtError code `fn(*args, **kwargs)` raises (fails if it succeeds)."""
    with pytest.raises(libvirt.libvirtError) as ei:
        fn(*args, **kwargs)
    return ei.value.get_error_code()

"""virsnap has libvirt-python 9.0's whole public surface (issue 16 item 4).

Compared live against Debian's python3-libvirt, run in /usr/bin/python3 (or
$VIRSNAP_LIBVIRT_PYTHON): every class, method (parameter names, kinds and
defaults), module function and VIR_* constant (value and type) libvirt-python
has, virsnap has. What virsnap does not implement raises libvirtError
VIR_ERR_NO_SUPPORT; a set of such calls, the close-callback and event-loop
calls a program makes on its way to snapshot code, and libvirt's own
asyncio event loop (libvirtaio) give the same output under both. Skipped,
with the reason, when libvirt-python is not installed.
"""

import functools
import inspect
import json
import os
import subprocess
import sys

import pytest

import virsnap as libvirt
from virsnap import _surface

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(os.path.dirname(HERE), "gen_surface.py")
LIBVIRT_PY = os.environ.get("VIRSNAP_LIBVIRT_PYTHON", "/usr/bin/python3")
NO_SUPPORT_TEMPLATE = "this function is not supported by the connection driver: %s"


@functools.lru_cache(maxsize=None)
def _libvirt_missing():
    if not os.path.exists(LIBVIRT_PY):
        return f"{LIBVIRT_PY} not found"
    r = subprocess.run([LIBVIRT_PY, "-c", "import libvirt"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"libvirt-python not importable by {LIBVIRT_PY}: {r.stderr.strip().splitlines()[-1:]}"
    return None


def _need_libvirt():
    why = _libvirt_missing()
    if why:
        pytest.skip(f"comparison with libvirt-python skipped: {why}")


def _run(python, script, which):
    r = subprocess.run([python, os.path.join(HERE, script), which], capture_output=True, text=True,
                       timeout=600, cwd="/")
    assert r.returncode == 0, f"{script} failed under {which}:\n{r.stderr}"
    return r.stdout, r.stderr


@functools.lru_cache(maxsize=None)
def _surfaces():
    theirs = json.loads(_run(LIBVIRT_PY, "surface_dump.py", "libvirt")[0])
    ours = json.loads(_run(sys.executable, "surface_dump.py", "virsnap")[0])
    return theirs, ours


def _differences(kind, theirs, ours):
    out = []
    for name, params in sorted(theirs.items()):
        if name not in ours:
            out.append(f"{kind} {name}: missing")
        elif params is not None and ours[name] != params:
            out.append(f"{kind} {name}: virsnap {ours[name]}, libvirt-python {params}")
    return out


def test_generated_files_are_current():
    """The committed _surface.py, _constants.py and _native.pyi blocks are
    what gen_surface.py makes of the installed python3-libvirt."""
    _need_libvirt()
    r = subprocess.run([LIBVIRT_PY, GEN, "--check"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_class_and_method_with_its_parameters():
    _need_libvirt()
    theirs, ours = _surfaces()
    diffs = []
    for cls, methods in sorted(theirs["classes"].items()):
        if cls not in ours["classes"]:
            diffs.append(f"class {cls}: missing")
            continue
        diffs += _differences(f"{cls}.", methods, ours["classes"][cls])
    assert not diffs, "\n".join(diffs)
    assert len(theirs["classes"]) >= 15 and sum(map(len, theirs["classes"].values())) > 450


def test_every_module_function_with_its_parameters():
    _need_libvirt()
    theirs, ours = _surfaces()
    diffs = _differences("function", theirs["functions"], ours["functions"])
    assert not diffs, "\n".join(diffs)
    assert {"virEventRegisterDefaultImpl", "virEventRunDefaultImpl", "openAuth"} <= set(theirs["functions"])


def test_every_constant_with_its_value():
    _need_libvirt()
    theirs, ours = _surfaces()
    diffs = [f"{n}: virsnap {ours.get(n)!r}, libvirt-python {v!r}"
             for n, v in sorted(theirs["constants"].items())
             if n not in ours["constants"] or ours["constants"][n] != v or type(ours["constants"][n]) is not type(v)]
    assert not diffs, "\n".join(diffs)
    assert len(theirs["constants"]) > 1000


def _dummy_args(fn):
    sig = inspect.signature(fn)
    return [None for p in sig.parameters.values()
            if p.name != "self" and p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _check_no_support(what, call):
    with pytest.raises(libvirt.libvirtError) as ei:
        call()
    err = ei.value.err
    assert err is not None, what
    assert err[0] == libvirt.VIR_ERR_NO_SUPPORT and err[3] == 2, (what, err)
    func = err[5]
    assert func.startswith("vir") and err[2] == NO_SUPPORT_TEMPLATE % func and err[4] == NO_SUPPORT_TEMPLATE, (what, err)
    assert libvirt.virGetLastError() == err and libvirt.virGetLastErrorCode() == libvirt.VIR_ERR_NO_SUPPORT


def test_methods_outside_virsnap_raise_no_support(conn, dom):
    """Every generated method, on the objects a program has."""
    snap = dom.snapshotCreateXML("<domainsnapshot><name>s</name></domainsnapshot>")
    objects = {"virConnect": conn, "virDomain": dom, "virDomainSnapshot": snap}
    count = 0
    for cls, mixin in _surface.NATIVE_UNSUPPORTED.items():
        for name, fn in vars(mixin).items():
            if name.startswith("_"):
                continue
            bound = getattr(objects[cls], name)
            _check_no_support(f"{cls}.{name}", lambda: bound(*_dummy_args(fn)))
            count += 1
    for cls in [getattr(libvirt, n) for n in _surface.__all__ if isinstance(getattr(libvirt, n), type)]:
        obj = object.__new__(cls)  # their constructors take only libvirt's C objects
        obj._conn = conn
        for name, fn in vars(cls).items():
            if name.startswith("_") or "_no_support(" not in inspect.getsource(fn):
                continue  # libvirt's accessors of the Python object (connect(), ...), copied as they are
            _check_no_support(f"{cls.__name__}.{name}", lambda: getattr(obj, name)(*_dummy_args(fn)))
            count += 1
    assert count > 350


def test_network_lookup_is_no_support_not_attribute_error(conn):
    with pytest.raises(libvirt.libvirtError) as ei:
        conn.networkLookupByName("default")
    assert ei.value.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT
    assert ei.value.get_error_domain() == libvirt.VIR_FROM_NETWORK
    assert str(ei.value) == NO_SUPPORT_TEMPLATE % "virNetworkLookupByName"


def test_generated_classes_refuse_construction_as_libvirt_does():
    with pytest.raises(Exception, match="Expected a wrapped C Object"):
        libvirt.virNetwork(None)


@pytest.mark.parametrize(
    "script", ["surface_calls.py", "event_loop.py", "event_asyncio.py", "domain_events.py", "domain_events_asyncio.py"]
)
def test_same_output_as_libvirt_python(script):
    _need_libvirt()
    theirs = _run(LIBVIRT_PY, script, "libvirt")
    ours = _run(sys.executable, script, "virsnap")
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]


def test_closed_connection_is_invalid_before_no_support(quiet):
    c = libvirt.open("test:///default")
    c.close()
    with pytest.raises(libvirt.libvirtError) as ei:
        c.networkLookupByName("default")
    assert ei.value.get_error_code() == libvirt.VIR_ERR_INVALID_CONN
    assert "virNetworkLookupByName" in str(ei.value)

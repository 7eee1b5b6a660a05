"""The hand-written stubs match the installed extension (mypy.stubtest with
the allowlist), and a caller typed against them passes mypy --strict."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ALLOWLIST = os.path.join(os.path.dirname(HERE), "stubtest-allowlist.txt")

mypy = pytest.importorskip("mypy", reason="mypy is not installed in this interpreter")


def _run(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd="/", timeout=300)


def test_stubtest():
    r = _run("mypy.stubtest", "virsnap", "--allowlist", ALLOWLIST)
    assert r.returncode == 0, r.stdout + r.stderr


def test_typed_caller_passes_mypy_strict():
    r = _run("mypy", "--strict", "--no-incremental", "--cache-dir=/dev/null", os.path.join(HERE, "typed_caller.py"))
    assert r.returncode == 0, r.stdout + r.stderr


def test_py_typed_and_stubs_are_installed():
    import virsnap

    pkg = os.path.dirname(virsnap.__file__)
    assert os.path.exists(os.path.join(pkg, "py.typed"))
    assert os.path.exists(os.path.join(pkg, "_native.pyi"))

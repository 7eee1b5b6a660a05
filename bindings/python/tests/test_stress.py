"""Crash guard: the random operation sequence of parity_random.py under
virsnap alone, with the garbage collector running at every allocation, in a
subprocess (a crash there fails this test instead of killing pytest). Needs
no libvirt-python."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

DRIVER = r"""
import gc, runpy, sys
gc.set_threshold(1, 1, 1)
script, seed = sys.argv[1], sys.argv[2]
sys.argv = [script, "virsnap", seed, "300"]
runpy.run_path(script, run_name="__main__")
"""


@pytest.mark.parametrize("seed", [6, 11, 17])
def test_random_sequence_under_gc_pressure_does_not_crash(seed):
    r = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", DRIVER, os.path.join(HERE, "parity_random.py"), str(seed)],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr[-3000:]}"
    assert r.stdout.startswith("[")

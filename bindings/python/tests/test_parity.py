"""Parity: the same scenarios (parity_scenario.py on test:///default,
parity_node.py on a node file with snapshot trees) under Debian's
python3-libvirt and under virsnap; every recorded step must give the same
result.

The libvirt side runs in /usr/bin/python3 (or $VIRSNAP_LIBVIRT_PYTHON), the
virsnap side in this interpreter, each in a fresh process (test:///default
is per-process state). Skipped, with the reason printed, when libvirt-python
is not installed.
"""

import functools
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = {
    "default": os.path.join(HERE, "parity_scenario.py"),
    "node": os.path.join(HERE, "parity_node.py"),
}
LIBVIRT_PY = os.environ.get("VIRSNAP_LIBVIRT_PYTHON", "/usr/bin/python3")

# Steps where virsnap-core knowingly differs from libvirt 9.0; each is an
# xfail with the reason while the difference lasts (a step that matches passes;
# drop its entry then, so a regression fails instead of being excused).
NODE_DIFFS = {
    "state_after_running_flag": "deliberate (DESIGN.md §4.2): REVERT_RUNNING to a shut-off snapshot "
    "starts the domain in virsnap; libvirt's test driver leaves it shut off",
}
KNOWN_CORE_DIFFS: dict[str, str] = {}


def _libvirt_missing():
    if not os.path.exists(LIBVIRT_PY):
        return f"{LIBVIRT_PY} not found"
    r = subprocess.run([LIBVIRT_PY, "-c", "import libvirt"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"libvirt-python not importable by {LIBVIRT_PY}: {r.stderr.strip().splitlines()[-1:]}"
    return None


@functools.lru_cache(maxsize=None)
def _run(python, scenario, which):
    r = subprocess.run([python, SCENARIOS[scenario], which], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{scenario} scenario failed under {which}:\n{r.stderr}"
    return json.loads(r.stdout)


@functools.lru_cache(maxsize=None)
def _results(scenario):
    why = _libvirt_missing()
    if why:
        print(f"SKIP parity: {why}", file=sys.stderr)
        pytest.skip(f"parity with libvirt-python skipped: {why}")
    return dict(_run(LIBVIRT_PY, scenario, "libvirt")), dict(_run(sys.executable, scenario, "virsnap"))


def _steps(scenario):
    # The step list comes from the scenario file itself (rec("name", ...) /
    # rec(f"name", ...) calls), so collection needs neither interpreter.
    import re

    with open(SCENARIOS[scenario]) as f:
        src = f.read()
    steps = re.findall(r'^\s*rec\("([a-z0-9_]+)"', src, re.M)
    for prefix in re.findall(r'^for name in \(([^)]*)\):', src, re.M):
        for name in re.findall(r'"([a-z]+)"', prefix):
            for suffix in re.findall(r'^    rec\(f"\{name\}_([a-z_]+)"', src, re.M):
                steps.append(f"{name}_{suffix}")
    return steps


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_covers_every_step(scenario):
    theirs, ours = _results(scenario)
    assert sorted(theirs) == sorted(_steps(scenario))
    assert list(ours) == list(theirs)


def _cases():
    return [(sc, st) for sc in sorted(SCENARIOS) for st in _steps(sc)]


@pytest.mark.parametrize("scenario,step", _cases(), ids=[f"{a}-{b}" for a, b in _cases()])
def test_parity(scenario, step):
    theirs, ours = _results(scenario)
    known = (KNOWN_CORE_DIFFS if scenario == "default" else NODE_DIFFS).get(step)
    if known and theirs[step] != ours[step]:
        pytest.xfail(known)
    assert ours[step] == theirs[step]


STDERR_SCRIPT = r"""
import sys
if sys.argv[1:] == ["virsnap"]:
    import virsnap as libvirt
else:
    import libvirt
c = libvirt.open("test:///default")
d = c.lookupByName("test")
for f in [lambda: c.lookupByName("nope"), lambda: d.snapshotCurrent(),
          lambda: d.snapshotCreateXML("<domain/>"),
          lambda: d.snapshotCreateXML("<domainsnapshot><name>a</name></domainsnapshot>", 2),
          lambda: d.snapshotLookupByName(None), lambda: d.revertToSnapshot(None),
          lambda: d.blockCommit("vda", None, None), lambda: c.lookupByUUIDString("zz")]:
    try:
        f()
    except libvirt.libvirtError:
        pass
libvirt.registerErrorHandler(lambda ctx, err: None, None)
try:
    d.snapshotCurrent()
except libvirt.libvirtError:
    pass
"""


def test_default_error_lines_on_stderr_match():
    """libvirt's default handler output (`libvirt: <Driver> error : <msg>`),
    and none once a handler is registered."""
    if _libvirt_missing():
        pytest.skip(f"parity with libvirt-python skipped: {_libvirt_missing()}")

    def lines(python, which):
        r = subprocess.run([python, "-c", STDERR_SCRIPT, which], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return [ln for ln in r.stderr.splitlines() if ln.startswith("libvirt:")]

    theirs = lines(LIBVIRT_PY, "libvirt")
    assert len(theirs) == 8
    assert lines(sys.executable, "virsnap") == theirs


RANDOM = os.path.join(HERE, "parity_random.py")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_random_operation_sequences_match(seed):
    """300 seeded operations (create with assorted flags, revert, delete with
    CHILDREN/CHILDREN_ONLY/METADATA_ONLY, REDEFINE [| CURRENT] incl. renames,
    queries, filtered listings, domain power ops) give the same result at
    every step, and the same tree every 25 steps."""
    why = _libvirt_missing()
    if why:
        pytest.skip(f"parity with libvirt-python skipped: {why}")

    def run(python, which):
        r = subprocess.run([python, RANDOM, which, str(seed), "300"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    theirs = run(LIBVIRT_PY, "libvirt")
    ours = run(sys.executable, "virsnap")
    assert len(ours) == len(theirs)
    for t, o in zip(theirs, ours):
        assert o == t, f"first difference at operation {t[0]}"

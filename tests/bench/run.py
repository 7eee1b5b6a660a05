#!/usr/bin/env python3
"""Side-by-side benchmark: libvirt 9.0 vs virsnap through the C API (issue 9).

One binary (tests/bench/snapbench.c built against Debian's libvirt-dev) runs
the workload on libvirt, and again with LD_LIBRARY_PATH pointing at virsnap's
libvirt-compat/libvirt.so.0. Runs are interleaved (libvirt, virsnap,
virsnap, libvirt, ...) and repeated; the table shows medians and the ratio.

    python3 tests/bench/run.py                  # n = 1k, 10k, 100k; 5 reps
    python3 tests/bench/run.py --n 1000,10000 --reps 7 --json out.json
    python3 tests/bench/run.py --no-build       # use the built library as is

Environment: CARGO_TARGET_DIR is honoured (library looked up in
$CARGO_TARGET_DIR/release/libvirt-compat).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
COMPAT = os.path.join(TARGET, "release", "libvirt-compat")
BUILD = os.path.join(TARGET, "bench")
PYTHON = "/usr/bin/python3"  # Debian's, which has python3-libvirt

# name, kind ('rate' = per-item ops/s, 'time' = ms for the whole call), target at n=10k
OPS = [
    ("create", "rate", "create", 62e3),
    ("lookup_xml", "rate", "lookup + GetXMLDesc", 710e3),
    ("lookup", "rate", "lookup by name (random)", 5e6),
    ("list_topo", "time", "list all (topological)", 0.5),
    ("list_names", "time", "list names", 0.33),
    ("delete_tree", "time", "delete tree (CHILDREN)", 3.2),
]


def need_apt(*pkgs):
    """Installs the Debian packages that are missing (as the CI suites do,
    through .ci/lib.sh's need_apt: root only, else it names them)."""
    cmd = 'source "$1/.ci/lib.sh" && shift && need_apt "$@"'
    if subprocess.run(["bash", "-c", cmd, "bash", ROOT, *pkgs]).returncode != 0:
        sys.exit(f"missing packages: {' '.join(pkgs)} (install them, or run as root)")


def build(args):
    need_apt("gcc", "libc6-dev", "libvirt-dev")
    os.makedirs(BUILD, exist_ok=True)
    exe = os.path.join(BUILD, "snapbench")
    src = os.path.join(HERE, "snapbench.c")
    newest = max(os.path.getmtime(os.path.join(HERE, f)) for f in ("snapbench.c", "bench.h"))
    if not os.path.exists(exe) or os.path.getmtime(exe) < newest:
        subprocess.run(["cc", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", src, "-o", exe, "-lvirt"], check=True)
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "virsnap-capi"], cwd=ROOT, check=True)
        subprocess.run([os.path.join(ROOT, "capi", "build-so.sh")], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    if not os.path.exists(os.path.join(COMPAT, "libvirt.so.0")):
        sys.exit(f"missing {COMPAT}/libvirt.so.0: build with cargo build --release -p virsnap-capi && capi/build-so.sh")
    return exe


def build_python(args):
    """A directory with the virsnap wheel for /usr/bin/python3 unpacked (so
    both modules run under the very same interpreter)."""
    site = os.path.join(BUILD, "py-site")
    wheels = os.path.join(BUILD, "py-wheel")
    if not args.no_build or not os.path.isdir(os.path.join(site, "virsnap")):
        need_apt("python3-libvirt", "python3-venv")
        maturin = args.maturin or os.path.join(ROOT, "target", "venv-python", "bin", "maturin")
        if not os.path.exists(maturin):
            # The venv .ci/suites/python.sh makes, with just maturin in it.
            venv = os.path.dirname(os.path.dirname(maturin))
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            subprocess.run([os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q",
                            "--disable-pip-version-check", "maturin>=1.9.4,<2"], check=True)
        env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(TARGET, "py"))
        subprocess.run([maturin, "build", "--release", "-q", "--manifest-path",
                        os.path.join(ROOT, "bindings", "python", "Cargo.toml"),
                        "--interpreter", PYTHON, "--out", wheels], cwd=ROOT, env=env, check=True)
        whl = sorted((os.path.join(wheels, f) for f in os.listdir(wheels) if f.endswith(".whl")), key=os.path.getmtime)[-1]
        subprocess.run(["rm", "-rf", site], check=True)
        import zipfile
        zipfile.ZipFile(whl).extractall(site)
    return site


def run_py(site, impl, n, timeout):
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    if impl == "virsnap":
        env["PYTHONPATH"] = site
    out = subprocess.run([PYTHON, os.path.join(HERE, "pybench.py"), impl, str(n)], env=env,
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"python {impl} n={n}: {out.stderr.strip()}")
    return json.loads(out.stdout)


UNLIMITED_STACK = False


def preexec():
    if UNLIMITED_STACK:
        import resource
        resource.setrlimit(resource.RLIMIT_STACK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def run_one(exe, impl, n, timeout):
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    if impl == "virsnap":
        env["LD_LIBRARY_PATH"] = COMPAT
    out = subprocess.run([exe, str(n)], env=env, capture_output=True, text=True, timeout=timeout,
                         preexec_fn=preexec)
    if out.returncode != 0:
        why = f"signal {-out.returncode}" if out.returncode < 0 else f"exit {out.returncode}"
        raise RuntimeError(f"{impl} n={n}: {why} {out.stderr.strip()}".strip())
    return json.loads(out.stdout)


def value(kind, n, secs):
    return n / secs if kind == "rate" else secs * 1e3


def fmt(kind, v):
    if v is None:
        return "-"
    if kind == "rate":
        if v >= 1e6:
            return f"{v / 1e6:.2f}M/s"
        return f"{v / 1e3:.1f}k/s"
    return f"{v:.3f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="1000,10000,100000")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--libvirt-max-n", type=int, default=100000, help="skip libvirt above this n")
    ap.add_argument("--json", help="write all samples and medians here")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--python", action="store_true", help="Python modules (libvirt-python vs virsnap) instead of the C API")
    ap.add_argument("--maturin", help="maturin to build the wheel with (default target/venv-python/bin/maturin)")
    ap.add_argument("--unlimited-stack", action="store_true",
                    help="run both with ulimit -s unlimited (libvirt 9.0 overflows the default 8 MB stack "
                         "at a 100k-deep chain: recursive virDomainMomentForEachDescendant)")
    args = ap.parse_args()
    global UNLIMITED_STACK
    UNLIMITED_STACK = args.unlimited_stack
    if args.python:
        site = build_python(args)
        runner = lambda impl, n: run_py(site, impl, n, args.timeout)  # noqa: E731
    else:
        exe = build(args)
        runner = lambda impl, n: run_one(exe, impl, n, args.timeout)  # noqa: E731
    sizes = [int(x) for x in args.n.split(",")]
    load = os.getloadavg()
    results = {"machine": {"cpus": os.cpu_count(), "loadavg_start": load, "kernel": platform.release(),
                           "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
               "reps": args.reps, "sizes": {}}
    for n in sizes:
        impls = ["libvirt", "virsnap"] if n <= args.libvirt_max_n else ["virsnap"]
        samples = {i: [] for i in impls}
        failed = {}
        for r in range(args.reps):
            order = impls if r % 2 == 0 else list(reversed(impls))
            for impl in order:
                if impl in failed:
                    continue
                try:
                    samples[impl].append(runner(impl, n))
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    # libvirt 9.0 overflows its stack at a 100k-deep chain
                    # (recursive virDomainMomentForEachDescendant): record it.
                    failed[impl] = str(e) or "failed"
                    if impl == "virsnap":
                        raise
                print(f"  n={n} rep {r + 1}/{args.reps} {impl} {'FAILED' if impl in failed else 'done'}", file=sys.stderr)
        for impl in failed:
            impls.remove(impl)
            samples.pop(impl)
        results.setdefault("failures", {})[n] = failed
        med = {}
        for impl in impls:
            med[impl] = {op: statistics.median(s[op] for s in samples[impl]) for op, *_ in OPS}
            med[impl]["rss_per_snap"] = statistics.median(s["rss_per_snap"] for s in samples[impl])
        results["sizes"][n] = {"samples": samples, "median_seconds": med, "failed": failed}
    results["machine"]["loadavg_end"] = os.getloadavg()

    results["surface"] = "python" if args.python else "c"
    results["unlimited_stack"] = args.unlimited_stack
    what = f"Python ({PYTHON}: libvirt-python vs virsnap)" if args.python else "C API"
    stack = ", ulimit -s unlimited" if args.unlimited_stack else ""
    print(f"# {what}, test:///default{stack}, medians of {args.reps} interleaved runs; "
          f"{os.cpu_count()} CPUs, load {load[0]:.1f} at start, {results['machine']['loadavg_end'][0]:.1f} at end")
    hdr = f"{'n':>7} {'operation':<26} {'libvirt 9.0':>12} {'virsnap':>12} {'speedup':>8} {'target' if args.python else 'target@10k':>11}"
    print(hdr)
    print("-" * len(hdr))
    for n in sizes:
        med = results["sizes"][n]["median_seconds"]
        for op, kind, label, target in OPS:
            lv = value(kind, n, med["libvirt"][op]) if "libvirt" in med else None
            if "libvirt" in results["sizes"][n]["failed"]:
                lv = None
            vs = value(kind, n, med["virsnap"][op])
            if lv is None:
                ratio = "-"
            else:
                ratio = f"{(vs / lv) if kind == 'rate' else (lv / vs):.1f}x"
            if args.python:
                tgt = "5x" if op in ("create", "lookup_xml") else ""
            else:
                tgt = fmt(kind, target) if n == 10000 else ""
            print(f"{n:>7} {label:<26} {fmt(kind, lv):>12} {fmt(kind, vs):>12} {ratio:>8} {tgt:>11}")
        if "libvirt" in results["sizes"][n]["failed"]:
            print(f"{n:>7} {'(libvirt run failed: ' + results['sizes'][n]['failed']['libvirt'][:60] + ')'}")
        lv = med.get("libvirt", {}).get("rss_per_snap")
        vs = med["virsnap"]["rss_per_snap"]
        lvs = f"{lv:.0f} B" if lv is not None else "-"
        ratio = f"{lv / vs:.1f}x" if lv and vs > 0 else "-"
        print(f"{n:>7} {'RSS per snapshot':<26} {lvs:>12} {f'{vs:.0f} B':>12} {ratio:>8}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        print(f"# JSON: {args.json}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Remote driver benchmark (issue 18): virsnap vs libvirt's own client,
against the same libvirt daemon.

The daemon is Debian's libvirtd, started here with a private configuration in
a mount namespace (as core/tests/remote_daemon.rs does: needs root and
unshare). tests/bench/snapbench.c, built once against libvirt-dev, runs the
workload on `test+unix:///default?socket=…` with libvirt's libvirt.so.0 and
again with LD_LIBRARY_PATH at virsnap's libvirt-compat/libvirt.so.0 — the
same binary, the same daemon; runs interleaved, medians, ratio = virsnap
speed over libvirt's (>1: virsnap is faster). Not a test: nothing asserts.

    python3 tests/bench/remote.py                    # n = 2000, 5 reps
    python3 tests/bench/remote.py --n 500,2000 --reps 3 --no-build
    python3 tests/bench/remote.py --transport tcp    # test+tcp://127.0.0.1:PORT/default
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as base  # noqa: E402  (snapbench build, ops table, formatting)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """A private libvirtd: config, state and sockets in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="virsnap-remote-bench-")
        for d in ("etc", "run", "lib", "cache", "log", "sock"):
            os.makedirs(os.path.join(self.dir, d))
        self.port = free_port()
        d = self.dir
        with open(os.path.join(d, "etc", "libvirtd.conf"), "w") as f:
            f.write(f'unix_sock_dir = "{d}/sock"\nlisten_tcp = 1\nlisten_tls = 0\ntcp_port = "{self.port}"\n'
                    'listen_addr = "127.0.0.1"\nauth_tcp = "none"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                    'unix_sock_rw_perms = "0700"\nlog_outputs = "3:stderr"\n')
        script = "set -e\n"
        for sub, target in (("etc", "/etc/libvirt"), ("run", "/run/libvirt"), ("lib", "/var/lib/libvirt"),
                            ("cache", "/var/cache/libvirt"), ("log", "/var/log/libvirt")):
            script += f"mkdir -p {target}\nmount --bind '{d}/{sub}' {target}\n"
        script += f"exec /usr/sbin/libvirtd --listen -f '{d}/etc/libvirtd.conf' -p '{d}/libvirtd.pid'\n"
        self.log = open(os.path.join(d, "libvirtd.log"), "w")
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        self.sock = f"{d}/sock/libvirt-sock"
        deadline = time.time() + 120
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.sock)
                with socket.create_connection(("127.0.0.1", self.port)):
                    break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    sys.exit(f"libvirtd did not start; log in {d}/libvirtd.log")
                time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_one(exe, impl, n, uri, timeout):
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    if impl == "virsnap":
        env["LD_LIBRARY_PATH"] = base.COMPAT
    out = subprocess.run([exe, str(n), uri, "test"], env=env, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{impl} n={n}: exit {out.returncode} {out.stderr.strip()}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="2000")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--transport", choices=("unix", "tcp"), default="unix")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--timeout", type=int, default=1200)
    ap.add_argument("--json", help="write all samples and medians here")
    args = ap.parse_args()
    exe = base.build(args)
    d = Daemon()
    try:
        uri = (f"test+unix:///default?socket={d.sock}" if args.transport == "unix"
               else f"test+tcp://127.0.0.1:{d.port}/default")
        samples = {}
        for n in [int(x) for x in args.n.split(",")]:
            for rep in range(args.reps):
                order = ("libvirt", "virsnap") if rep % 2 == 0 else ("virsnap", "libvirt")
                for impl in order:
                    samples.setdefault((impl, n), []).append(run_one(exe, impl, n, uri, args.timeout))
        print(f"remote driver vs libvirt's client, one libvirtd ({args.transport} socket, test:///default), "
              f"{args.reps} reps, load {os.getloadavg()[0]:.2f}")
        print(f"{'n':>6}  {'operation':<26}{'libvirt':>12}{'virsnap':>12}{'ratio':>8}")
        medians = {}
        for n in sorted({n for _, n in samples}):
            for key, kind, label, _target in base.OPS:
                v = {impl: base.value(kind, n, statistics.median(s[key] for s in samples[(impl, n)]))
                     for impl in ("libvirt", "virsnap")}
                ratio = v["virsnap"] / v["libvirt"] if kind == "rate" else v["libvirt"] / v["virsnap"]
                medians[f"{n}/{key}"] = {**v, "ratio": ratio}
                print(f"{n:>6}  {label:<26}{base.fmt(kind, v['libvirt']):>12}{base.fmt(kind, v['virsnap']):>12}"
                      f"{ratio:>8.2f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"transport": args.transport, "medians": medians,
                           "samples": {f"{i}/{n}": s for (i, n), s in samples.items()}}, f, indent=1)
    finally:
        d.stop()


if __name__ == "__main__":
    main()

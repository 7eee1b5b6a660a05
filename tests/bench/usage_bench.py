#!/usr/bin/python3
"""Benchmark of snapshot disk usage (issue 20 item 3): 2,000 internal
snapshots of a 4 GiB qcow2 image with data, usage of all of them through
`virsnap snapshot-usage DOM --json` (qemu:///embed, release build).

Not part of the test command; no timing assertion anywhere.

    python3 tests/bench/usage_bench.py                    # 2000 snapshots, 5 reps
    python3 tests/bench/usage_bench.py --snapshots 200 --reps 3 --keep /tmp/ub

The image is built in one QEMU process (qemu-system-x86_64 -machine none,
QMP over a pipe): 1 GiB of data spread over the 4 GiB disk (128 MiB at the
start of each 512 MiB L2 range, so every L2 table is in use), then for each
snapshot a 64 KiB write at a varying offset (HMP `qemu-io`) followed by
`blockdev-snapshot-internal-sync`, so every snapshot owns a COWed L2 table
and a data cluster; `qemu-img snapshot -c` in a loop is far slower. Needs
about 1.2 GiB of disk in the work directory.
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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Qmp:
    def __init__(self, img):
        # QMP on a socket: HMP qemu-io prints to QEMU's stdout.
        self.sock_path = img + ".qmp"
        self.p = subprocess.Popen(
            ["qemu-system-x86_64", "-machine", "none", "-nodefaults", "-display", "none",
             "-drive", f"file={img},format=qcow2,if=none,id=d0",
             "-qmp", f"unix:{self.sock_path},server=on,wait=on"],
            stdout=subprocess.DEVNULL)
        for _ in range(600):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock_path)
                break
            except OSError:
                time.sleep(0.1)
        self.f = s.makefile("rw")
        self.read()  # greeting
        self.cmd("qmp_capabilities")

    def read(self):
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError("QEMU went away")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, command, **args):
        self.f.write(json.dumps({"execute": command, "arguments": args}) + "\n")
        self.f.flush()
        r = self.read()
        if "error" in r:
            raise RuntimeError(f"{command}: {r['error']}")
        return r["return"]

    def hmp(self, line):
        out = self.cmd("human-monitor-command", **{"command-line": line})
        # qemu-io prints to QEMU's stdout; the reply carries only errors.
        if "rror" in out or "ailed" in out:
            raise RuntimeError(f"{line}: {out}")

    def close(self):
        self.cmd("quit")
        self.p.wait(timeout=600)


def build_image(img, n):
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "4G"], check=True)
    q = Qmp(img)
    try:
        fill(q, n)
    finally:
        q.close()


def fill(q, n):
    for k in range(8):
        q.hmp(f'qemu-io d0 "write -P {k + 1} {k * 512}M 128M"')
    for i in range(n):
        # A different 64 KiB cluster each time, over all eight L2 ranges.
        off = (i % 8) * (512 << 20) + ((i * 7919) % 2048) * 65536
        q.hmp(f'qemu-io d0 "write -P {(i % 250) + 1} {off} 64k"')
        q.cmd("blockdev-snapshot-internal-sync", device="d0", name=f"s{i:05d}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapshots", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--keep", help="work directory to keep (default: a temporary one, removed)")
    ap.add_argument("--no-build", action="store_true", help="use the existing target/release/virsnap")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    cli = os.path.join(target, "release", "virsnap")
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "virsnap-cli"], cwd=ROOT, check=True)
    work = a.keep or tempfile.mkdtemp(prefix="virsnap-usage-bench-")
    os.makedirs(work, exist_ok=True)
    img = os.path.join(work, "big.qcow2")
    try:
        if not os.path.exists(img):
            t0 = time.monotonic()
            build_image(img, a.snapshots)
            print(f"image: {a.snapshots} snapshots built in {time.monotonic() - t0:.1f} s, "
                  f"{os.stat(img).st_blocks * 512 / (1 << 30):.2f} GiB on disk")
        uri = f"qemu:///embed?root={work}/root"
        xml = os.path.join(work, "dom.xml")
        with open(xml, "w") as f:
            f.write("<domain type='qemu'><name>big</name><memory unit='MiB'>64</memory>"
                    "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
                    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                    f"<source file='{img}'/><target dev='vda' bus='virtio'/></disk></devices></domain>")
        if not os.path.exists(os.path.join(work, "root/etc/qemu/big.xml")):  # kept from an earlier run
            subprocess.run([cli, "-c", uri, "-q", "define", xml], check=True, stdout=subprocess.DEVNULL)
        # The first call reconciles and indexes the snapshots (not usage).
        subprocess.run([cli, "-c", uri, "-q", "snapshot-list", "big", "--name"], check=True,
                       stdout=subprocess.DEVNULL)
        times = []
        for _ in range(a.reps):
            t0 = time.monotonic()
            out = subprocess.run([cli, "-c", uri, "-q", "snapshot-usage", "big", "--json"], check=True,
                                 capture_output=True, text=True).stdout
            times.append(time.monotonic() - t0)
        rows = json.loads(out)
        assert len(rows) == a.snapshots, len(rows)
        known = sum(r["reclaimableBytes"] is not None for r in rows)
        total = sum(r["reclaimableBytes"] or 0 for r in rows)
        print(f"snapshot-usage --json of {len(rows)} snapshots (4 GiB image): median {statistics.median(times):.3f} s, "
              f"min {min(times):.3f} s over {a.reps} runs; reclaimable known for {known}, "
              f"{total / (1 << 20):.1f} MiB in all; load {os.getloadavg()[0]:.2f}")
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

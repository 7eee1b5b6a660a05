#!/usr/bin/env python3
"""Captures real QMP conversations from QEMU for the qmp_session seeds.

Starts qemu-system-x86_64 (TCG, paused, no OS) with the disks of the fuzz
target's domain (vda, vdc qcow2; vdb raw) and speaks QMP as the qemu
driver does for snapshot-save/-load/-delete jobs, their HMP fallback and
stop/cont. Writes one seed per conversation into OUTDIR in the target's
format: selector byte, then what QEMU sent after each command (events
included), NUL-separated, with the command's id as $ID and the job id as
$JOB.  Usage: capture-qmp.py OUTDIR
"""
import json, os, re, socket, subprocess, sys, tempfile, time

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
tmp = tempfile.mkdtemp(prefix="qmpcap-")
disks = []
for t, fmt in (("vda", "qcow2"), ("vdb", "raw"), ("vdc", "qcow2")):
    p = os.path.join(tmp, f"{t}.{fmt}")
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, p, "16M"], check=True)
    # vdb read-only: HMP's savevm/delvm refuse a writable raw disk
    ro = ",readonly=on" if fmt == "raw" else ""
    disks += ["-drive", f"file={p},format={fmt},if=none,id=drive-{t}{ro}", "-device", f"virtio-blk-pci,drive=drive-{t},id={t}"]
sock = os.path.join(tmp, "qmp.sock")
qemu = subprocess.Popen(["qemu-system-x86_64", "-machine", "pc,accel=tcg", "-m", "64", "-nodefaults", "-no-user-config",
                         "-display", "none", "-S", "-qmp", f"unix:{sock},server=on,wait=off"] + disks)
for _ in range(100):
    if os.path.exists(sock):
        break
    time.sleep(0.1)


class Conv:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(sock)
        self.f = self.s.makefile("rwb")
        self.chunks = [self.f.readline().decode()]
        self.id = 0
        self.job = "virsnap-job"

    def cmd(self, name, args=None):
        self.id += 1
        m = {"execute": name, "id": self.id}
        if args is not None:
            m["arguments"] = args
        self.f.write((json.dumps(m) + "\n").encode())
        self.f.flush()
        text = ""
        while True:
            line = self.f.readline().decode()
            text += line
            msg = json.loads(line)
            if msg.get("id") == self.id:
                break
        self.chunks.append(re.sub(r'"id": %d\b' % self.id, '"id": $ID', text).replace(self.job, "$JOB"))
        return msg

    def job_run(self, cmd, args):
        self.cmd(cmd, dict(args, **{"job-id": self.job}))
        while True:
            jobs = self.cmd("query-jobs")["return"]
            mine = [j for j in jobs if j["id"] == self.job]
            if not mine:
                return
            if mine[0]["status"] == "concluded":
                self.cmd("job-dismiss", {"id": self.job})
                return
            time.sleep(0.01)

    def close(self):
        self.f.close()
        self.s.close()

    def save(self, name, sel):
        self.close()
        with open(os.path.join(out, f"real-{name}"), "wb") as f:
            f.write(bytes([sel]) + "\0".join(self.chunks).encode())


def nodes(c):
    blocks = c.cmd("query-block")["return"]
    by = {b["device"]: b["inserted"]["node-name"] for b in blocks if "inserted" in b}
    return [by["drive-vda"], by["drive-vdc"]]


TAG = "snap 1"


def unrecorded(*steps):
    """Brings the guest into shape outside the recorded conversations."""
    c = Conv(); c.cmd("qmp_capabilities")
    for step in steps:
        if step in ("cont", "stop"):
            c.cmd(step)
        else:
            n = nodes(c)
            args = {"tag": TAG, "devices": n}
            if step == "snapshot-save":
                args["vmstate"] = n[0]
            c.job_run(step, args)
    c.close()


def job_conv(name, sel, qmp, op, running):
    c = Conv(); c.cmd("qmp_capabilities"); c.cmd("query-status")
    if running:
        c.cmd("stop")
    n = nodes(c)
    args = {"tag": TAG, "devices": n}
    if op != "delete":
        args["vmstate"] = n[0]
    c.job_run(qmp, args)
    if running:
        c.cmd("cont")
    c.save(name, sel)


for sel, op, qmp, hmp in ((1, "save", "snapshot-save", "savevm"), (2, "load", "snapshot-load", "loadvm"), (3, "delete", "snapshot-delete", "delvm")):
    # the tag exists for load and delete, not for save
    prep = "snapshot-delete" if op == "save" else "snapshot-save"
    unrecorded("stop", prep)
    job_conv(f"job-{op}", sel, qmp, op, False)
    unrecorded("stop", prep, "cont")
    job_conv(f"job-{op}-running-guest", sel + 3, qmp, op, True)
    # HMP fallback: the job command refused as QEMU refuses an unknown command.
    unrecorded("stop", prep)
    c = Conv(); c.cmd("qmp_capabilities"); c.cmd("query-status")
    nodes(c)
    c.cmd(qmp + "-unknown")
    c.chunks[-1] = c.chunks[-1].replace(qmp + "-unknown", qmp)
    c.cmd("human-monitor-command", {"command-line": f'{hmp} "{TAG}"'})
    c.save(f"hmp-{op}", sel)
# A failing job (unknown tag) and an HMP error.
c = Conv(); c.cmd("qmp_capabilities"); c.cmd("query-status")
n = nodes(c)
c.job_run("snapshot-load", {"tag": "no such tag", "devices": n, "vmstate": n[0]})
c.save("job-load-error", 2)
c = Conv(); c.cmd("qmp_capabilities"); c.cmd("query-status")
nodes(c)
c.cmd("snapshot-delete-unknown")
c.chunks[-1] = c.chunks[-1].replace("snapshot-delete-unknown", "snapshot-delete")
c.cmd("human-monitor-command", {"command-line": 'delvm "no such tag"'})
c.save("hmp-delete-missing-tag", 3)  # QEMU 7.2 answers "" (no error)
c = Conv(); c.cmd("qmp_capabilities"); c.cmd("query-status")
c.cmd("human-monitor-command", {"command-line": "info snapshots"}); c.cmd("cont")
c.save("status-hmp", 0)
qemu.terminate()
qemu.wait()

#!/usr/bin/env python3
"""A VBoxManage stand-in that REPLAYS real VirtualBox 7.2.22 output.

This is a replay, not VirtualBox: every byte it prints was produced by the
real VBoxManage and captured in tests/vbox/transcripts/vbox72-cli/
(transcripts/NN-name.{cmd,stdout,stderr,rc}, in the order of index.tsv).

Usage (as VIRSNAP_VBOXMANAGE, a command line split on whitespace):
    python3 replay.py TRANSCRIPTS_DIR STATE_FILE  <VBoxManage arguments...>

STATE_FILE holds the name of the last step "done" (e.g. `15-list-details`):
the replayed machine is in the state VirtualBox was in right after it.
Every call is appended to STATE_FILE.log (argv, then the step answered).

Matching (an argv must equal a captured argv after normalisation):
  * the VM may be named `golden` or by its UUID; UUIDs with or without braces;
  * `--opt=value` equals `--opt value`;
  * a snapshot named in a captured step is resolved to the UUID VirtualBox
    resolved it to (first match in depth-first order of the listing captured
    in the same state), so a caller that passes UUIDs matches.
State: a state-changing command (take/restore/delete/edit, adoptstate, ...)
is answered by the next captured step after the cursor, provided no other
successful state change would be skipped; the cursor then moves there. A
read-only command (list, showvminfo) is answered by a captured step taken
in the same state (same count of successful changes); when no
`snapshot VM list --machinereadable` was captured in that state but a
`showvminfo VM --machinereadable` was, the listing is answered with the
snapshot block of the latter (the same VirtualBox code prints both, byte for
byte; the "no snapshots" sentence and exit 1 when the block is empty). `list vms` and
`list runningvms` do not depend on snapshot state. Anything else exits 99
with `virsnap-replay: no captured step ...` on stderr.
"""
import os
import re
import sys

VM_NAME = "golden"
VM_UUID = "11111111-2222-3333-4444-555555555555"
UUID_RE = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
MUTATING_TOP = {"createvm", "createmedium", "storagectl", "storageattach", "adoptstate",
                "discardstate", "startvm", "controlvm", "modifyvm", "unregistervm", "registervm"}
MUTATING_SNAP = {"take", "restore", "restorecurrent", "delete", "edit"}
STATELESS = [["list", "vms"], ["list", "runningvms"]]
# The SOAP calls of tests/vbox/transcripts/vbox72-soap changed the machine between
# steps 82 and 91: a state boundary the CLI transcripts do not show.
EPOCH_BUMP_BEFORE = {"91-take-empty-name"}


def split_printf_q(s):
    """Splits a bash `printf %q` command line (backslashes, '', $'...')."""
    out, cur, i, have = [], [], 0, False
    while i < len(s):
        c = s[i]
        if c in " \t\n":
            if have:
                out.append("".join(cur))
                cur, have = [], False
            i += 1
        elif c == "#" and not have:
            break
        elif c == "\\" and i + 1 < len(s):
            cur.append(s[i + 1]); have = True; i += 2
        elif c == "'":
            j = s.index("'", i + 1)
            cur.append(s[i + 1:j]); have = True; i = j + 1
        elif c == "$" and s[i + 1:i + 2] == "'":
            i += 2
            while s[i] != "'":
                if s[i] == "\\":
                    n = s[i + 1]
                    cur.append({"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}.get(n, n)); i += 2
                else:
                    cur.append(s[i]); i += 1
            have = True; i += 1
        else:
            cur.append(c); have = True; i += 1
    if have:
        out.append("".join(cur))
    return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Step:
    def __init__(self, d, name):
        self.name = name
        argv = split_printf_q(read(os.path.join(d, name + ".cmd")).decode())
        self.argv = argv[1:] if argv and argv[0] == "VBoxManage" else argv
        self.stdout = read(os.path.join(d, name + ".stdout"))
        self.stderr = read(os.path.join(d, name + ".stderr"))
        self.rc = int(read(os.path.join(d, name + ".rc")).decode().strip() or "0")

    def mutating(self):
        a = self.argv
        if not a:
            return False
        if a[0] == "snapshot":
            return len(a) > 2 and a[2] in MUTATING_SNAP
        return a[0] in MUTATING_TOP

    def changed_state(self):
        return self.mutating() and self.rc == 0


def load(d):
    names = sorted({f.rsplit(".", 1)[0] for f in os.listdir(d) if f.endswith(".cmd")})
    steps = [Step(d, n) for n in names]
    epoch, epochs = 0, []
    for s in steps:
        if s.name in EPOCH_BUMP_BEFORE:
            epoch += 1
        if s.changed_state():
            epoch += 1
        epochs.append(epoch)
    return steps, epochs


def listing_names(text):
    """(name, uuid) pairs of a --machinereadable snapshot block, in order."""
    pairs, name = [], None
    for line in text.decode("utf-8", "replace").split("\n"):
        m = re.match(r'^SnapshotName((?:-\d+)*)="(.*)$', line)
        if m:
            name = m.group(2)[:-1] if m.group(2).endswith('"') else m.group(2)
            continue
        m = re.match(r'^SnapshotUUID(?:-\d+)*="([0-9a-f-]{36})"$', line)
        if m and name is not None:
            pairs.append((name, m.group(1)))
            name = None
    return pairs


def is_listing(s):
    a = s.argv
    return s.rc == 0 and ((a[:1] == ["snapshot"] and a[2:3] == ["list"] and "--machinereadable" in a)
                          or (a[:1] == ["showvminfo"] and "--machinereadable" in a))


def resolver(steps, epochs):
    def resolve(token, epoch):
        m = UUID_RE.match(token)
        if m:
            return m.group(1).lower()
        for s, e in zip(steps, epochs):
            if e == epoch and is_listing(s):
                for n, u in listing_names(s.stdout):
                    if n == token:
                        return u
        return token
    return resolve


def normalise(argv, epoch, resolve):
    a = []
    for t in argv:
        if t.startswith("--") and "=" in t:
            k, v = t.split("=", 1)
            a += [k, v]
        else:
            a.append(t)
    if len(a) > 1 and a[0] in ("snapshot", "showvminfo", "startvm", "controlvm", "adoptstate",
                                "discardstate", "modifyvm"):
        m = UUID_RE.match(a[1])
        if a[1] == VM_NAME or (m and m.group(1).lower() == VM_UUID):
            a[1] = VM_UUID
    if len(a) > 3 and a[0] == "snapshot" and a[2] in ("restore", "delete", "edit", "showvminfo") \
            and not a[3].startswith("-"):
        a[3] = resolve(a[3], epoch)
    return a


def snapshot_block_from_showvminfo(steps, epochs, epoch, vm):
    """(step name, snapshot block bytes) of a showvminfo capture in `epoch`."""
    for s, e in zip(steps, epochs):
        a = s.argv
        if e == epoch and s.rc == 0 and a[:1] == ["showvminfo"] and "--machinereadable" in a:
            m = UUID_RE.match(a[1])
            if not (a[1] == VM_NAME or (m and m.group(1).lower() == VM_UUID)) or vm != VM_UUID:
                continue
            lines = s.stdout.split(b"\n")
            start = next((i for i, l in enumerate(lines) if l.startswith(b"SnapshotName=")), None)
            if start is None:
                return s.name, b""
            end = start
            key = re.compile(rb'^(Snapshot(Name|UUID|Description)(-\d+)*|CurrentSnapshot(Name|UUID|Node))="')
            last_key = start
            for i in range(start, len(lines)):
                if key.match(lines[i]):
                    last_key = i
                elif re.match(rb'^[A-Za-z][A-Za-z0-9_-]*=', lines[i]) and i > last_key and lines[last_key].endswith(b'"'):
                    break
                end = i
            return s.name, b"\n".join(lines[start:end + 1]) + b"\n"
    return None


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: replay.py TRANSCRIPTS_DIR STATE_FILE ARGS...\n")
        return 2
    d, state, req = sys.argv[1], sys.argv[2], sys.argv[3:]
    steps, epochs = load(d)
    resolve = resolver(steps, epochs)
    index = {s.name: i for i, s in enumerate(steps)}
    try:
        cursor = index[open(state).read().strip()]
    except (OSError, KeyError):
        cursor = -1
    cur_epoch = epochs[cursor] if cursor >= 0 else 0
    found = None
    if req in STATELESS:
        found = next((i for i, s in enumerate(steps) if s.argv == req), None)
    else:
        want = normalise(req, cur_epoch, resolve)
        probe = Step.__new__(Step)
        probe.argv = req
        if probe.mutating():
            for i in range(cursor + 1, len(steps)):
                s = steps[i]
                before = epochs[i - 1] if i > 0 else 0
                if s.name in EPOCH_BUMP_BEFORE:
                    before += 1
                if before == cur_epoch and normalise(s.argv, cur_epoch, resolve) == want:
                    found = i
                    break
                if s.changed_state() or s.name in EPOCH_BUMP_BEFORE:
                    break
            if found is not None:
                with open(state, "w") as f:
                    f.write(steps[found].name + "\n")
        else:
            same = [i for i, s in enumerate(steps)
                    if epochs[i] == cur_epoch and not s.mutating() and normalise(s.argv, cur_epoch, resolve) == want]
            after = [i for i in same if i > cursor]
            found = after[0] if after else (same[-1] if same else None)
            if found is None and want[:1] == ["snapshot"] and want[2:] == ["list", "--machinereadable"]:
                block = snapshot_block_from_showvminfo(steps, epochs, cur_epoch, want[1])
                if block is not None:
                    with open(state + ".log", "a") as log:
                        log.write(repr(req) + " -> " + block[0] + " (snapshot block)\n")
                    out, rc = (block[1], 0) if block[1] else (b"This machine does not have any snapshots\n", 1)
                    sys.stdout.buffer.write(out)
                    sys.stdout.flush()
                    return rc
    with open(state + ".log", "a") as log:
        log.write(repr(req) + " -> " + (steps[found].name if found is not None else "NONE") + "\n")
    if found is None:
        sys.stderr.write("virsnap-replay: no captured step for %r in the state after %s\n"
                         % (req, steps[cursor].name if cursor >= 0 else "start"))
        return 99
    s = steps[found]
    sys.stdout.buffer.write(s.stdout)
    sys.stdout.flush()
    sys.stderr.buffer.write(s.stderr)
    sys.stderr.flush()
    return s.rc


if __name__ == "__main__":
    sys.exit(main())

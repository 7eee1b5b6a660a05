#!/usr/bin/env python3
"""Writes N random virsh snapshot sessions (one per line) from SEED: gen-random-sessions.py SEED N."""
import random
import sys
r = random.Random(int(sys.argv[1]))
names = ["a","B","c","D","e","f10","f9","_x"]
lists = ["", "--tree", "--name", "--parent", "--roots", "--leaves", "--no-leaves", "--topological --name", "--current", "--current --descendants --name", "--current --tree", "--from {s}", "--from {s} --descendants", "--from {s} --tree", "--from {s} --tree --descendants", "--parent --leaves", "--roots --leaves --name", "--inactive --name", "--active --name", "--internal", "--external"]
for n in range(int(sys.argv[2])):
    cmds=[]
    for i in range(r.randint(8,30)):
        s = r.choice(names)
        k = r.random()
        if k < 0.35: cmds.append(f"snapshot-create-as test {s}" + r.choice(["", "", " --halt", " --description d"]))
        elif k < 0.5: cmds.append(f"snapshot-revert test {s}" + r.choice(["", "", " --force"]))
        elif k < 0.6: cmds.append(f"snapshot-delete test {s}" + r.choice(["", " --children", " --children-only"]))
        elif k < 0.63: cmds.append("snapshot-delete test --current" + r.choice(["", " --children"]))
        elif k < 0.8: cmds.append("snapshot-list test " + r.choice(lists).format(s=s))
        elif k < 0.85: cmds.append(f"snapshot-info test {s}")
        elif k < 0.88: cmds.append(f"snapshot-current test {s}")
        elif k < 0.9: cmds.append(f"snapshot-parent test {s}")
        elif k < 0.93: cmds.append(r.choice(["destroy test","start test","suspend test","resume test","domstate test --reason"]))
        else: cmds.append("snapshot-current test --name")
    print("; ".join(cmds))

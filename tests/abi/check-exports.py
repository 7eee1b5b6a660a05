#!/usr/bin/env python3
"""Fails when virsnap's libraries do not export libvirt 9.0's public ABI.

For libvirt.so.0, libvirt-qemu.so.0 and libvirt-lxc.so.0 compares, with
`objdump -T` / `objdump -p`, the installed libvirt 9.0 (the live reference,
found with pkg-config) against virsnap's build: the same public symbols
(name, version node, function or data) and the same public version nodes.
virsnap may add symbols only in its own VIRSNAP_* nodes (never libvirt's
LIBVIRT_PRIVATE_* ones).

Usage: check-exports.py BUILD_DIR   (BUILD_DIR = target/release)
"""
import os
import re
import subprocess
import sys


def dump(path):
    out = subprocess.run(["objdump", "-T", "-w", path], capture_output=True, text=True, check=True).stdout
    syms = set()
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ (.{7}) (\S+)\s+[0-9a-f]+\s+(\S+)\s+(\S+)$", line)
        if not m:
            continue
        flags, sect, node, name = m.groups()
        if sect in ("*UND*", "*ABS*"):
            continue
        syms.add((name, node, "function" if flags.endswith("F") else "data"))
    p = subprocess.run(["objdump", "-p", path], capture_output=True, text=True, check=True).stdout
    defs = set(re.findall(r"^\d+ 0x00 0x[0-9a-f]+ (\S+)$", p, re.M))
    return syms, defs


def public(node):
    return node.startswith("LIBVIRT") and "PRIVATE" not in node


def compare(ref_path, ours_path):
    problems = []
    ref, ref_defs = dump(ref_path)
    ours, our_defs = dump(ours_path)
    ref_pub = {s for s in ref if public(s[1])}
    our_pub = {s for s in ours if public(s[1])}
    for s in sorted(ref_pub - our_pub):
        problems.append("missing %s@%s (%s)" % s)
    for s in sorted(our_pub - ref_pub):
        problems.append("extra %s@%s (%s)" % s)
    for s in sorted(ours - our_pub):
        if not s[1].startswith("VIRSNAP_"):
            problems.append("export outside libvirt's and virsnap's nodes: %s@%s" % s[:2])
    want_defs = {d for d in ref_defs if public(d)}
    have_defs = {d for d in our_defs if public(d)}
    for d in sorted(want_defs - have_defs):
        problems.append("missing version node %s" % d)
    for d in sorted(have_defs - want_defs):
        problems.append("extra version node %s" % d)
    return problems, len(ref_pub)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    libdir = subprocess.run(["pkg-config", "--variable=libdir", "libvirt"], capture_output=True, text=True,
                            check=True).stdout.strip()
    pairs = [
        ("libvirt.so.0", os.path.join(build, "libvirt-compat", "libvirt.so.0")),
        ("libvirt.so.0", os.path.join(build, "libvirsnap.so.0")),
        ("libvirt-qemu.so.0", os.path.join(build, "libvirt-compat", "libvirt-qemu.so.0")),
        ("libvirt-lxc.so.0", os.path.join(build, "libvirt-compat", "libvirt-lxc.so.0")),
    ]
    failed = False
    for ref, ours in pairs:
        problems, n = compare(os.path.join(libdir, ref), ours)
        for p in problems:
            print("%s: %s" % (ours, p))
        print("%s: %d public symbols of libvirt 9.0's %s, %d differences" % (ours, n, ref, len(problems)))
        failed |= bool(problems)
    sys.exit(1 if failed else 0)


main()

#!/usr/bin/env python3
"""libvirt-qemu's pass-through calls, virDomainGetID and the idle job calls on the qemu driver,
written for Debian's python3-libvirt: run once on the installed libvirt 9.0
and once with LD_LIBRARY_PATH=target/release/libvirt-compat; the outputs must
be identical (.ci/suites/capi.sh diffs them).

Usage: qemu_passthrough.py WORKDIR    (an empty directory; a qcow2 image and
       the qemu:///embed root are made inside)
"""
import os
import re
import subprocess
import sys
import threading

import libvirt
import libvirt_qemu

work = sys.argv[1]
root = os.path.join(work, "root")
os.makedirs(os.path.join(root, "etc"), exist_ok=True)
with open(os.path.join(root, "etc", "qemu.conf"), "w", encoding="utf-8") as f:
    # libvirt's embed driver as root without virtlogd; virsnap ignores it.
    f.write('user = "root"\ngroup = "root"\nstdio_handler = "file"\n')
disk = os.path.join(work, "disk.qcow2")
subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"], check=True)

libvirt.registerErrorHandler(lambda _c, _e: None, None)
try:
    # libvirt's embedded qemu driver needs an event loop.
    libvirt.virEventRegisterDefaultImpl()
    threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
except libvirt.libvirtError:
    pass

XML = """<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>
<target dev='vda' bus='virtio'/></disk></devices></domain>"""


def show(what, fn):
    try:
        r = fn()
        if isinstance(r, str):
            r = re.sub(r'"id":"libvirt-\d+"', '"id":"libvirt-N"', r)
        print("%s -> %r" % (what, r))
    except libvirt.libvirtError as e:
        msg = e.get_error_message()
        if "cannot parse json" in msg:
            msg = msg.split(":", 2)[0] + ": cannot parse json ..."  # the JSON parser's own wording differs
        print("%s -> error code=%d domain=%d [%s]" % (what, e.get_error_code(), e.get_error_domain(), msg))


conn = libvirt.open("qemu:///embed?root=" + root)
dom = conn.defineXML(XML.format(name="pt", disk=disk))
mon = libvirt_qemu.qemuMonitorCommand
HMP = libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP
print("id before create:", dom.ID())
show("monitor, inactive", lambda: mon(dom, '{"execute":"query-status"}', 0))
show("agent, inactive", lambda: libvirt_qemu.qemuAgentCommand(dom, '{"execute":"guest-ping"}', 5, 0))
# Domain jobs (virDomainGetJobInfo / GetJobStats / AbortJob), idle.
show("jobInfo, inactive", dom.jobInfo)
show("jobStats, inactive", dom.jobStats)
show("abortJob, inactive", dom.abortJob)
show("jobStats completed, inactive", lambda: dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED))
show("jobStats keep without completed", lambda: dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED))
dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
live = dom.ID()
print("id after create: positive", live > 0, "same as a fresh lookup", conn.lookupByName("pt").ID() == live)
show("QMP query-status", lambda: mon(dom, '{"execute":"query-status"}', 0))
show("QMP with arguments", lambda: mon(dom, ' { "execute" : "query-name", "arguments": {} } ', 0))
show("QMP unknown command", lambda: mon(dom, '{"execute":"no-such-command"}', 0))
show("QMP caller's id", lambda: mon(dom, '{"execute":"query-status","id":"mine"}', 0))
show("QMP not an object", lambda: mon(dom, '[1]', 0))
show("QMP malformed", lambda: mon(dom, '{"execute":', 0))
show("HMP info status", lambda: mon(dom, "info status", HMP))
show("HMP unknown command", lambda: mon(dom, "no-such-command", HMP))
show("monitor, bad flags", lambda: mon(dom, "info status", 4))
show("agent, paused", lambda: libvirt_qemu.qemuAgentCommand(dom, '{"execute":"guest-ping"}', 5, 0))
dom.resume()
show("HMP info status, running", lambda: mon(dom, "info status", HMP))
show("jobInfo, running", dom.jobInfo)
show("jobStats, running", dom.jobStats)
show("abortJob, running", dom.abortJob)
show("agent, running, no channel", lambda: libvirt_qemu.qemuAgentCommand(dom, '{"execute":"guest-ping"}', 5, 0))
show("agent, bad flags", lambda: libvirt_qemu.qemuAgentCommand(dom, '{"execute":"guest-ping"}', 5, 1))
dom.destroy()
print("id after destroy:", dom.ID())
dom.undefine()
conn.close()

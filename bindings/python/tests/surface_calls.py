"""Calls outside virsnap's snapshot surface, run under libvirt-python and virsnap.

    python surface_calls.py libvirt | virsnap

Each call is one a program makes on its way to snapshot code, or one that
neither libvirt's test driver nor virsnap implements: both must answer the
same (value, or the libvirtError's err tuple, what the error handler got and
virGetLastError()). The last calls run with libvirt's default handler, so
stderr is compared too. Prints one line per step.
"""

import sys

if sys.argv[1:] == ["virsnap"]:
    import virsnap as libvirt
else:
    import libvirt  # type: ignore[no-redef]

seen = []
libvirt.registerErrorHandler(lambda ctx, err: seen.append((ctx, err)), "ctx")
conn = libvirt.open("test:///default")
dom = conn.lookupByName("test")
UUID = "00000000-0000-0000-0000-00000000000a"


def step(name, f):
    del seen[:]
    try:
        r = f()
    except libvirt.libvirtError as e:
        print(name, "error", e.err, str(e), "handler", seen, "last", libvirt.virGetLastError(), flush=True)
    else:
        print(name, "ok", repr(r), "handler", seen, flush=True)


step("virInitialize", libvirt.virInitialize)
step("isEncrypted", conn.isEncrypted)
step("isSecure", conn.isSecure)
step("getInfo", conn.getInfo)
step("getCapabilities", conn.getCapabilities)
step("getHostname", conn.getHostname)
step("getMaxVcpus_none", lambda: conn.getMaxVcpus(None))
step("getMaxVcpus_kvm", lambda: conn.getMaxVcpus("kvm"))
step("getMaxVcpus_other", lambda: conn.getMaxVcpus("no-such-type"))
step("getSysinfo", conn.getSysinfo)
step("getSysinfo_flags", lambda: conn.getSysinfo(1))
step("registerCloseCallback", lambda: conn.registerCloseCallback(lambda c, reason, opaque: None, None))
step("unregisterCloseCallback", conn.unregisterCloseCallback)
step("setKeepAlive", lambda: conn.setKeepAlive(5, 3))
step("secretLookupByUUIDString", lambda: conn.secretLookupByUUIDString(UUID))
step("secretDefineXML", lambda: conn.secretDefineXML("<secret/>"))
step("listAllSecrets", conn.listAllSecrets)
step("numOfSecrets", conn.numOfSecrets)
step("nwfilterLookupByName", lambda: conn.nwfilterLookupByName("x"))
step("nwfilterDefineXML", lambda: conn.nwfilterDefineXML("<filter/>"))
step("listAllNWFilters", conn.listAllNWFilters)
step("listAllNWFilterBindings", conn.listAllNWFilterBindings)
step("getSEVInfo", conn.getSEVInfo)
step("getMemoryParameters", conn.getMemoryParameters)
step("getMemoryStats", lambda: conn.getMemoryStats(-1))
step("getStoragePoolCapabilities", conn.getStoragePoolCapabilities)
step("getDomainCapabilities", conn.getDomainCapabilities)
step("domainXMLFromNative", lambda: conn.domainXMLFromNative("qemu-argv", "x"))
step("compareCPU", lambda: conn.compareCPU("<cpu/>"))
step("blockCommit", lambda: dom.blockCommit("vda", None, None))
step("guestInfo", dom.guestInfo)
step("migrateSetMaxSpeed", lambda: dom.migrateSetMaxSpeed(1))
step("authorizedSSHKeysGet", lambda: dom.authorizedSSHKeysGet("root"))
step("blockResize", lambda: dom.blockResize("vda", 1))
step("startDirtyRateCalc", lambda: dom.startDirtyRateCalc(1))
step("agentSetResponseTimeout", lambda: dom.agentSetResponseTimeout(1))
step("backupGetXMLDesc", dom.backupGetXMLDesc)

libvirt.registerErrorHandler(None, None)  # libvirt's default: print to stderr
step("default_setKeepAlive", lambda: conn.setKeepAlive(5, 3))
step("default_secret", lambda: conn.secretLookupByUUIDString(UUID))
step("default_nwfilter", lambda: conn.nwfilterLookupByName("x"))
step("default_storage", conn.getStoragePoolCapabilities)
conn.close()

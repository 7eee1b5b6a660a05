#!/usr/bin/env python3
"""The test driver's node-file <auth> and virDomainGetID on handles, written
for Debian's python3-libvirt: run once on the installed libvirt 9.0 and once
with LD_LIBRARY_PATH=target/release/libvirt-compat; the outputs must be
identical (.ci/suites/capi.sh diffs them).

Usage: testdriver_auth_id.py WORKDIR   (the node file is written there)
"""
import os
import sys

import libvirt

libvirt.registerErrorHandler(lambda _c, _e: None, None)
node = os.path.join(sys.argv[1], "node.xml")
with open(node, "w", encoding="utf-8") as f:
    f.write("""<node>
  <auth>
    <user password='pw'>alice</user>
    <user>bob</user>
  </auth>
  <domain type='test'><name>n1</name><memory>1024</memory><os><type>hvm</type></os></domain>
</node>
""")
URI = "test://" + node
CREDS = [libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE]


def answering(user, password):
    def cb(creds, _data):
        for c in creds:
            print("  asked type=%d prompt=%r challenge=%r default=%r" % (c[0], c[1], c[2], c[3]))
            c[4] = user if c[0] == libvirt.VIR_CRED_AUTHNAME else password
        return 0
    return cb


def failing(creds, _data):
    print("  asked type=%d, failing" % creds[0][0])
    return -1


def attempt(what, fn):
    try:
        c = fn()
        print("%s -> opened, %d domains" % (what, c.numOfDomains()))
        c.close()
    except libvirt.libvirtError as e:
        print("%s -> error code=%d domain=%d [%s]" % (what, e.get_error_code(), e.get_error_domain(),
                                                      e.get_error_message()))


attempt("plain open", lambda: libvirt.open(URI))
attempt("read-only open", lambda: libvirt.openReadOnly(URI))
attempt("no callback", lambda: libvirt.openAuth(URI, [CREDS, None, None], 0))
attempt("right password", lambda: libvirt.openAuth(URI, [CREDS, answering("alice", "pw"), None], 0))
attempt("wrong password", lambda: libvirt.openAuth(URI, [CREDS, answering("alice", "nope"), None], 0))
attempt("unknown user", lambda: libvirt.openAuth(URI, [CREDS, answering("carol", "pw"), None], 0))
attempt("user without password", lambda: libvirt.openAuth(URI, [CREDS, answering("bob", ""), None], 0))
attempt("no passphrase type", lambda: libvirt.openAuth(URI, [[libvirt.VIR_CRED_AUTHNAME], answering("alice", "pw"), None], 0))
attempt("no authname type", lambda: libvirt.openAuth(URI, [[libvirt.VIR_CRED_PASSPHRASE], answering("alice", "pw"), None], 0))
attempt("callback fails", lambda: libvirt.openAuth(URI, [CREDS, failing, None], 0))
attempt("no <auth>: test:///default", lambda: libvirt.open("test:///default"))

# virDomainGetID follows the handle's own create / destroy / shutdown.
conn = libvirt.open("test:///default")
XML = "<domain type='test'><name>idcheck</name><memory>1024</memory><os><type>hvm</type></os></domain>"
dom = conn.defineXML(XML)
other = conn.lookupByName("idcheck")
print("defined:", dom.ID(), other.ID())
dom.create()
print("after create:", dom.ID(), other.ID(), conn.lookupByName("idcheck").ID())
dom.destroy()
print("after destroy:", dom.ID())
other.create()
print("after create through the other handle:", dom.ID(), other.ID())
other.shutdown()
print("after shutdown:", dom.ID(), other.ID())
dom.undefine()
conn.close()

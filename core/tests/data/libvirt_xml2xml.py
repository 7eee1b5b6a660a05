"""libvirt 9.0's own snapshot XML parser and formatter, live: what libvirt's
tests/qemudomainsnapshotxml2xmltest.c does per case, through the installed
libvirt.so.0 (its LIBVIRT_PRIVATE_9.0.0 symbols virDomainSnapshotDefParseString
and virDomainSnapshotDefFormat, called with ctypes).

Input, one case per line on stdin, tab-separated:
    FILE  PARSE_FLAGS  FORMAT_FLAGS  UUID-or-"-"  MOCK_TIME  RUNNING(0/1)
(flags are libvirt 9.0's virDomainSnapshotParseFlags / FormatFlags values;
MOCK_TIME is the harness's post-parse creation time, 0 for none).
Output per case: a line "xml N" followed by the N bytes of the formatted
XML, or a line "error MESSAGE".

Differences from the C harness, both visible to the caller: the XML options
are libvirt's generic ones (the qemu driver's are not exported), so a qemu
save-cookie (<cookie>) is not parsed and not written; and the structure
offsets this needs are found by parsing a probe document, not hard-coded.
"""
import ctypes
import sys

lv = ctypes.CDLL("libvirt.so.0")
libc = ctypes.CDLL(None)
libc.strdup.restype = ctypes.c_void_p
libc.strdup.argtypes = [ctypes.c_char_p]
libc.free.argtypes = [ctypes.c_void_p]

lv.virInitialize()
lv.virGetLastErrorMessage.restype = ctypes.c_char_p
lv.virResetLastError.restype = None
lv.virDomainXMLOptionNew.restype = ctypes.c_void_p
lv.virDomainXMLOptionNew.argtypes = [ctypes.c_void_p] * 6
lv.virDomainXMLOptionSetMomentPostParse.restype = None
lv.virDomainXMLOptionSetMomentPostParse.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
lv.virDomainSnapshotDefParseString.restype = ctypes.c_void_p
lv.virDomainSnapshotDefParseString.argtypes = [
    ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_bool), ctypes.c_uint]
lv.virDomainSnapshotDefFormat.restype = ctypes.c_void_p
lv.virDomainSnapshotDefFormat.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint]
lv.virObjectUnref.argtypes = [ctypes.c_void_p]

PARSE_REDEFINE = 1 << 0
FORMAT_CURRENT = 1 << 2
SNAPSHOT_PAUSED = 3  # virDomainSnapshotState
SNAPSHOT_RUNNING = 1

xmlopt = lv.virDomainXMLOptionNew(None, None, None, None, None, None)
if not xmlopt:
    sys.exit("virDomainXMLOptionNew failed")


def parse(xml, flags, current=None):
    d = lv.virDomainSnapshotDefParseString(xml, xmlopt, None, current, flags)
    if not d:
        raise RuntimeError((lv.virGetLastErrorMessage() or b"parse failed").decode())
    return d


# Find the offsets of name, creationTime (virDomainMomentDef) and state
# (virDomainSnapshotDef) in this libvirt build from a parsed probe.
probe = parse(b"<domainsnapshot><name>virsnap-probe</name><state>paused</state>"
              b"<creationTime>987654321</creationTime></domainsnapshot>", PARSE_REDEFINE)
words = [ctypes.c_uint64.from_address(probe + off).value for off in range(0, 256, 8)]
name_off = time_off = state_off = None
for i, w in enumerate(words):
    if w == 987654321 and time_off is None:
        time_off = i * 8
    elif name_off is None and w > 4096:
        try:
            if ctypes.string_at(w, 14) == b"virsnap-probe\0":
                name_off = i * 8
        except Exception:
            pass
for off in range(time_off or 0, 256, 4):
    if time_off is not None and off > time_off and ctypes.c_int.from_address(probe + off).value == SNAPSHOT_PAUSED:
        state_off = off
        break
if None in (name_off, time_off, state_off):
    sys.exit("cannot locate name/creationTime/state in virDomainSnapshotDef (libvirt %s)" % (name_off, time_off, state_off,))
lv.virObjectUnref(probe)

mock_time = 0
POST = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


def _post_parse(moment):
    """The harness's testSnapshotPostParse: creationTime and default name."""
    if not mock_time:
        return 0
    t = ctypes.c_longlong.from_address(moment + time_off)
    if t.value:
        return -1
    t.value = mock_time
    name = ctypes.c_void_p.from_address(moment + name_off)
    if not name.value:
        name.value = libc.strdup(str(mock_time).encode())
    return 0


post_parse = POST(_post_parse)
lv.virDomainXMLOptionSetMomentPostParse(xmlopt, ctypes.cast(post_parse, ctypes.c_void_p))

for line in sys.stdin:
    line = line.rstrip("\n")
    if not line:
        continue
    path, pflags, fflags, uuid, mock, running = line.split("\t")
    pflags, fflags, mock_time = int(pflags), int(fflags), int(mock)
    lv.virResetLastError()
    try:
        with open(path, "rb") as f:
            cur = ctypes.c_bool(False)
            d = parse(f.read(), pflags, ctypes.byref(cur))
        if cur.value:
            fflags |= FORMAT_CURRENT
        if running == "1":
            state = ctypes.c_int.from_address(d + state_off)
            if state.value:
                raise RuntimeError("state already parsed")
            state.value = SNAPSHOT_RUNNING
        out = lv.virDomainSnapshotDefFormat(None if uuid == "-" else uuid.encode(), d, xmlopt, fflags)
        if not out:
            raise RuntimeError((lv.virGetLastErrorMessage() or b"format failed").decode())
        text = ctypes.string_at(out).decode()
        libc.free(out)
        lv.virObjectUnref(d)
        data = text.encode()
        sys.stdout.buffer.write(b"xml %d\n" % len(data) + data)
    except RuntimeError as e:
        sys.stdout.buffer.write(("error %s\n" % str(e).replace("\n", " ")).encode())
    sys.stdout.buffer.flush()

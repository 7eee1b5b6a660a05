"""libvirtError, the thread-local last error, error handlers and the
default stderr line (callers.md §1.3)."""

import threading

import pytest

import virsnap as libvirt
from conftest import URI, code_of, snap_xml


def test_libvirterror_from_message_alone():
    libvirt.virResetLastError()
    e = libvirt.libvirtError("something failed")
    assert isinstance(e, Exception)
    assert str(e) == "something failed"
    assert e.err is None
    for getter in ("get_error_code", "get_error_domain", "get_error_message", "get_error_level",
                   "get_str1", "get_str2", "get_str3", "get_int1", "get_int2"):
        assert getattr(e, getter)() is None, getter


def test_err_can_be_overwritten_like_nova_fixture():
    libvirt.virResetLastError()
    e = libvirt.libvirtError("boom")
    e.err = (libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT, libvirt.VIR_FROM_QEMU, "msg", 2, "s1", "s2", "s3", 5, 6)
    assert e.get_error_code() == 72
    assert e.get_error_domain() == 10
    assert e.get_error_message() == "msg"
    assert e.get_error_level() == 2
    assert (e.get_str1(), e.get_str2(), e.get_str3()) == ("s1", "s2", "s3")
    assert (e.get_int1(), e.get_int2()) == (5, 6)
    with pytest.raises(libvirt.libvirtError):
        raise e


def test_libvirterror_subclassable():
    class Mine(libvirt.libvirtError):
        pass

    libvirt.virResetLastError()
    assert str(Mine("x")) == "x"


def test_err_tuple_of_a_real_failure(dom):
    with pytest.raises(libvirt.libvirtError) as ei:
        dom.snapshotLookupByName("missing")
    e = ei.value
    assert isinstance(e.err, tuple) and len(e.err) == 9
    code, domain, message, level, str1, str2, str3, int1, int2 = e.err
    assert code == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT == e.get_error_code()
    assert domain == libvirt.VIR_FROM_TEST == e.get_error_domain()
    assert message == "Domain snapshot not found: no domain snapshot with matching name 'missing'"
    assert str(e) == message == e.get_error_message()
    assert level == 2 == e.get_error_level()
    assert str1 == e.get_str1() and str2 == e.get_str2() and str3 == e.get_str3()
    assert int1 == e.get_int1() and int2 == e.get_int2()
    assert e.get_str2() == "no domain snapshot with matching name 'missing'"


def test_codes_callers_rely_on(conn, dom):
    s1 = dom.snapshotCreateXML(snap_xml("s1"))
    assert code_of(dom.snapshotCreateXML, snap_xml("s1")) == libvirt.VIR_ERR_OPERATION_FAILED
    assert code_of(dom.snapshotCreateXML, "<domain/>") == libvirt.VIR_ERR_XML_ERROR
    assert code_of(dom.snapshotCreateXML, "<domainsnapshot>") == libvirt.VIR_ERR_XML_DETAIL
    assert code_of(dom.snapshotCreateXML, "<domainsnapshot><bogus/></domainsnapshot>",
                   libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE) == libvirt.VIR_ERR_XML_INVALID_SCHEMA
    assert code_of(dom.snapshotCreateXML, snap_xml("x"), libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT) == \
        libvirt.VIR_ERR_INVALID_ARG
    assert code_of(dom.snapshotCreateXML, snap_xml("x"), 1 << 25) == libvirt.VIR_ERR_INVALID_ARG
    assert code_of(dom.revertToSnapshot, None) == libvirt.VIR_ERR_INVALID_DOMAIN_SNAPSHOT
    assert code_of(dom.revertToSnapshot, s1, libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING
                   | libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED) == libvirt.VIR_ERR_INVALID_ARG
    assert code_of(s1.delete, libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN
                   | libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY) == libvirt.VIR_ERR_INVALID_ARG
    ro = libvirt.openReadOnly(URI)
    rdom = ro.lookupByName("test")
    assert code_of(rdom.snapshotCreateXML, snap_xml("ro")) == libvirt.VIR_ERR_OPERATION_DENIED
    assert code_of(rdom.snapshotLookupByName("s1").getXMLDesc, libvirt.VIR_DOMAIN_SNAPSHOT_XML_SECURE) == \
        libvirt.VIR_ERR_OPERATION_DENIED
    ro.close()


def test_type_errors_before_the_library(dom):
    with pytest.raises(TypeError):
        dom.snapshotCreateXML(b"<domainsnapshot/>")
    with pytest.raises(TypeError):
        dom.snapshotCreateXML("<domainsnapshot/>", None)
    with pytest.raises(TypeError):
        dom.snapshotListNames(flags=None)
    # None for a string is NULL for libvirt: its own "must not be NULL" error
    assert code_of(dom.snapshotLookupByName, None) == libvirt.VIR_ERR_INVALID_ARG
    assert code_of(dom.snapshotCreateXML, None) == libvirt.VIR_ERR_INVALID_ARG
    with pytest.raises(TypeError):
        dom.revertToSnapshot("not a snapshot")
    assert dom.snapshotNum() == 0


def test_default_handler_prints_to_stderr(capfd):
    libvirt.registerErrorHandler(None, None)
    c = libvirt.open(URI)
    d = c.lookupByName("test")
    with pytest.raises(libvirt.libvirtError):
        d.snapshotLookupByName("missing")
    err = capfd.readouterr().err
    assert "libvirt: Test Driver error : Domain snapshot not found: no domain snapshot with matching name 'missing'" in err
    c.close()


def test_register_error_handler_silences_and_receives(capfd):
    seen = []
    assert libvirt.registerErrorHandler(lambda ctx, err: seen.append((ctx, err)), "ctx") == 1
    try:
        c = libvirt.open(URI)
        d = c.lookupByName("test")
        with pytest.raises(libvirt.libvirtError) as ei:
            d.snapshotCurrent()
        assert capfd.readouterr().err == ""
        assert len(seen) == 1
        ctx, err = seen[0]
        assert ctx == "ctx"
        assert err == ei.value.err
        assert err[0] == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT
        c.close()
    finally:
        libvirt.registerErrorHandler(None, None)
    with pytest.raises(TypeError):
        libvirt.registerErrorHandler("not callable", None)


def test_handler_exception_does_not_break_the_call(capfd):
    def bad(ctx, err):
        raise RuntimeError("handler broke")

    libvirt.registerErrorHandler(bad, None)
    try:
        c = libvirt.open(URI)
        with pytest.raises(libvirt.libvirtError):
            c.lookupByName("test").snapshotCurrent()
        c.close()
    finally:
        libvirt.registerErrorHandler(None, None)
    assert "handler broke" in capfd.readouterr().err


def test_last_error_is_thread_local_and_reset(dom):
    with pytest.raises(libvirt.libvirtError):
        dom.snapshotCurrent()
    assert libvirt.virGetLastError()[0] == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT
    assert libvirt.virGetLastErrorCode() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT
    assert libvirt.virGetLastErrorDomain() == libvirt.VIR_FROM_TEST
    assert "current snapshot" in libvirt.virGetLastErrorMessage()
    # libvirtError(defmsg) picks up the pending error, as libvirt-python's does
    assert libvirtError_msg("ignored") == "Domain snapshot not found: the domain does not have a current snapshot"
    other = []
    t = threading.Thread(target=lambda: other.append(libvirt.virGetLastError()))
    t.start()
    t.join()
    assert other == [None]
    # a successful call resets it
    dom.snapshotNum()
    assert libvirt.virGetLastError() is None
    assert libvirt.virGetLastErrorCode() == 0
    with pytest.raises(libvirt.libvirtError):
        dom.snapshotCurrent()
    libvirt.virResetLastError()
    assert libvirt.virGetLastError() is None


def libvirtError_msg(defmsg):
    return str(libvirt.libvirtError(defmsg))

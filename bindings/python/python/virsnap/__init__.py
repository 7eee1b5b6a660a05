"""virsnap: libvirt's domain snapshot API, usable as ``import virsnap as libvirt``.

The classes, functions and ``VIR_*`` constants follow libvirt-python 9.0's
snapshot surface: the same names, ``flags=0`` defaults (positional or
keyword), ``int`` (not ``bool``) results, ``list`` results, and failures
raised as :class:`libvirtError` carrying libvirt's 9-tuple ``err``.

virsnap extensions: :meth:`virDomainSnapshot.rename`,
:meth:`virDomainSnapshot.createFrom`, :meth:`virDomainSnapshot.UUIDString`,
:meth:`virDomain.snapshotLookupByUUIDString` and the
``VIR_DOMAIN_SNAPSHOT_DELETE_MERGE/_MERGE_FORCE/_DISCARD/_DISCARD_FORCE``
delete modes.
"""

from typing import Optional, Tuple

from ._constants import *  # noqa: F401,F403
from ._native import (
    getVersion as getVersion,
    open as open,
    openAuth as openAuth,
    openReadOnly as openReadOnly,
    registerErrorHandler as registerErrorHandler,
    virConnect as virConnect,
    virDomain as virDomain,
    virDomainSnapshot as virDomainSnapshot,
    virGetLastError as virGetLastError,
    virGetLastErrorCode as virGetLastErrorCode,
    virGetLastErrorDomain as virGetLastErrorDomain,
    virGetLastErrorMessage as virGetLastErrorMessage,
    virResetLastError as virResetLastError,
)

__version__ = "0.1.0"

_ErrTuple = Tuple[int, int, str, int, Optional[str], Optional[str], Optional[str], int, int]


class libvirtError(Exception):
    """An error raised by a virsnap call, as libvirt-python's ``libvirtError``.

    ``libvirtError(defmsg)`` picks up the calling thread's last error (the one
    the failing call just reported) into ``err``; with no pending error,
    ``err`` is None and the message is ``defmsg``. ``err`` may be reassigned
    (test fixtures build errors by hand).
    """

    err: Optional[_ErrTuple]

    def __init__(self, defmsg: str) -> None:
        err = virGetLastError()
        if err is None:
            msg = defmsg
        else:
            msg = err[2]
        Exception.__init__(self, msg)
        self.err = err

    def get_error_code(self) -> Optional[int]:
        if self.err is None:
            return None
        return self.err[0]

    def get_error_domain(self) -> Optional[int]:
        if self.err is None:
            return None
        return self.err[1]

    def get_error_message(self) -> Optional[str]:
        if self.err is None:
            return None
        return self.err[2]

    def get_error_level(self) -> Optional[int]:
        if self.err is None:
            return None
        return self.err[3]

    def get_str1(self) -> Optional[str]:
        if self.err is None:
            return None
        return self.err[4]

    def get_str2(self) -> Optional[str]:
        if self.err is None:
            return None
        return self.err[5]

    def get_str3(self) -> Optional[str]:
        if self.err is None:
            return None
        return self.err[6]

    def get_int1(self) -> Optional[int]:
        if self.err is None:
            return None
        return self.err[7]

    def get_int2(self) -> Optional[int]:
        if self.err is None:
            return None
        return self.err[8]

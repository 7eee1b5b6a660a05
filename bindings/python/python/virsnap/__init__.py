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
from ._surface import *  # noqa: F401,F403
from ._pyimpl import (
    virEventAddHandle as virEventAddHandle,
    virEventAddTimeout as virEventAddTimeout,
    virEventInvokeFreeCallback as virEventInvokeFreeCallback,
    virEventRegisterDefaultImpl as virEventRegisterDefaultImpl,
    virEventRegisterImpl as virEventRegisterImpl,
    virEventRemoveHandle as virEventRemoveHandle,
    virEventRemoveTimeout as virEventRemoveTimeout,
    virEventRunDefaultImpl as virEventRunDefaultImpl,
    virEventUpdateHandle as virEventUpdateHandle,
    virEventUpdateTimeout as virEventUpdateTimeout,
    virInitialize as virInitialize,
)
from . import _native, _pyimpl, _surface
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

# virsnap extensions (seed delete modes; bits 16..19, never combined with libvirt's delete flags)
VIR_DOMAIN_SNAPSHOT_DELETE_MERGE: int = 65536
VIR_DOMAIN_SNAPSHOT_DELETE_MERGE_FORCE: int = 131072
VIR_DOMAIN_SNAPSHOT_DELETE_DISCARD: int = 262144
VIR_DOMAIN_SNAPSHOT_DELETE_DISCARD_FORCE: int = 524288
# virsnap 0.2: snapshotPrune / snapshotVerify flags
VIR_DOMAIN_SNAPSHOT_PRUNE_DRY_RUN: int = 1
VIR_DOMAIN_SNAPSHOT_VERIFY_REPAIR: int = 1


def _attach() -> None:
    """Give the extension's classes the rest of libvirt-python's methods:
    those written in Python (_pyimpl) and the generated VIR_ERR_NO_SUPPORT
    ones (_surface). Never replaces a method the extension has."""
    for name, generated in _surface.NATIVE_UNSUPPORTED.items():
        cls = getattr(_native, name)
        mixins = [getattr(_pyimpl, name + "Methods", None), generated]
        for mixin in mixins:
            if mixin is None:
                continue
            for attr, fn in vars(mixin).items():
                if attr.startswith("__"):
                    continue
                if attr in vars(cls):
                    raise ImportError(f"virsnap: {name}.{attr} is both native and in {mixin.__name__}; "
                                      "rerun bindings/python/gen_surface.py")
                setattr(cls, attr, fn)


_attach()

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

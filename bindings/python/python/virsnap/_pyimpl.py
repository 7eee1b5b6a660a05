"""The parts of libvirt-python's surface virsnap implements in Python.

- the event API: ``virEventRegisterDefaultImpl`` / ``virEventRunDefaultImpl``
  (a real poll(2) loop, run by the caller as with libvirt), handles and
  timers (``virEventAdd/Update/RemoveHandle``, ``...Timeout``), and
  ``virEventRegisterImpl`` for an external loop (libvirt's own
  ``libvirtaio`` works on it);
- ``virInitialize``;
- domain events: ``virConnect.domainEventRegisterAny`` /
  ``domainEventDeregisterAny`` and the old ``domainEventRegister`` /
  ``domainEventDeregister`` (``VIR_DOMAIN_EVENT_ID_LIFECYCLE`` with libvirt's
  (event, detail) pairs, and virsnap's ``VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT``
  whose callback is ``cb(conn, dom, snapshot, event, old_name, opaque)``),
  delivered through the registered loop (the default one or libvirtaio's):
  a timer as libvirt's (no loop: "could not initialize domain event timer"),
  and a handle on each connection's event descriptors (this process's
  events and, for a qemu root, other processes');
- ``virConnect.registerCloseCallback`` / ``unregisterCloseCallback``: accepted
  and never called, as libvirt does for a driver without a remote
  connection to lose (test, qemu:///embed).

Return values and failures follow libvirt 9.0 (watch and timer ids count from
1, removing an unknown id raises ``libvirtError('virEventRemoveHandle()
failed')``, updating one is ignored). ``gen_surface.py`` reads this file: what
is defined here is not generated as unsupported.

Since 0.2.
"""

import os
import select
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, TypeVar, Union

from ._constants import (
    VIR_EVENT_HANDLE_ERROR,
    VIR_EVENT_HANDLE_HANGUP,
    VIR_EVENT_HANDLE_READABLE,
    VIR_EVENT_HANDLE_WRITABLE,
)

_T = TypeVar("_T")
_EventCB = Callable[[int, int, int, _T], None]
_EventAddHandleFunc = Callable[[int, int, _EventCB, _T], int]
_EventUpdateHandleFunc = Callable[[int, int], None]
_EventRemoveHandleFunc = Callable[[int], int]
_TimerCB = Callable[[int, _T], None]
_EventAddTimeoutFunc = Callable[[int, _TimerCB, _T], int]
_EventUpdateTimeoutFunc = Callable[[int, int], None]
_EventRemoveTimeoutFunc = Callable[[int], int]

_TO_POLL = (
    (VIR_EVENT_HANDLE_READABLE, select.POLLIN),
    (VIR_EVENT_HANDLE_WRITABLE, select.POLLOUT),
    (VIR_EVENT_HANDLE_ERROR, select.POLLERR),
    (VIR_EVENT_HANDLE_HANGUP, select.POLLHUP),
)


def _poll_mask(events: int) -> int:
    return sum(p for v, p in _TO_POLL if events & v)


def _vir_events(revents: int) -> int:
    return sum(v for v, p in _TO_POLL if revents & p)


def _failed(what: str) -> BaseException:
    # libvirt-python raises libvirtError(defmsg): it carries the thread's
    # last error, which the event functions do not set.
    from . import libvirtError

    return libvirtError(f"{what}() failed")


def _report_callback_exception() -> None:
    # libvirt-python's C dispatcher prints a callback's exception and goes on.
    traceback.print_exc(file=sys.stderr)


class _DefaultLoop:
    """libvirt's default event loop: handles and timers, one iteration per run_once().

    Thread-safe: add/update/remove from any thread wake a poll in progress
    (a pipe to self). Callbacks run in the thread that runs the loop, with no
    lock held, so they may add or remove handles and timers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        # watch -> [fd, events, cb, opaque]
        self._handles: Dict[int, List[Any]] = {}
        # timer -> [interval ms, due (monotonic s), cb, opaque]
        self._timers: Dict[int, List[Any]] = {}
        self._next_watch = 1
        self._next_timer = 1
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: a wake-up is pending anyway

    def add_handle(self, fd: int, events: int, cb: Any, opaque: Any) -> int:
        with self._lock:
            watch = self._next_watch
            self._next_watch += 1
            self._handles[watch] = [fd, events, cb, opaque]
        self._wake()
        return watch

    def update_handle(self, watch: int, events: int) -> None:
        with self._lock:
            h = self._handles.get(watch)
            if h is not None:
                h[1] = events
        self._wake()

    def remove_handle(self, watch: int) -> int:
        with self._lock:
            if self._handles.pop(watch, None) is None:
                return -1
        self._wake()
        return 0

    def add_timeout(self, interval: int, cb: Any, opaque: Any) -> int:
        with self._lock:
            timer = self._next_timer
            self._next_timer += 1
            self._timers[timer] = [interval, time.monotonic() + max(interval, 0) / 1000.0, cb, opaque]
        self._wake()
        return timer

    def update_timeout(self, timer: int, interval: int) -> None:
        with self._lock:
            t = self._timers.get(timer)
            if t is not None:
                t[0] = interval
                t[1] = time.monotonic() + max(interval, 0) / 1000.0
        self._wake()

    def remove_timeout(self, timer: int) -> int:
        with self._lock:
            if self._timers.pop(timer, None) is None:
                return -1
        self._wake()
        return 0

    def run_once(self) -> int:
        """Wait for the first handle event or due timer, dispatch what is ready; 0."""
        with self._run_lock:
            poller = select.poll()
            poller.register(self._wake_r, select.POLLIN)
            masks: Dict[int, int] = {}
            with self._lock:
                now = time.monotonic()
                wait: Optional[float] = None
                for interval, due, _cb, _op in self._timers.values():
                    if interval >= 0:
                        left = max(0.0, due - now)
                        wait = left if wait is None else min(wait, left)
                for fd, events, _cb, _op in self._handles.values():
                    m = _poll_mask(events)
                    if fd >= 0 and m:
                        masks[fd] = masks.get(fd, 0) | m
            for fd, m in masks.items():
                poller.register(fd, m)
            timeout_ms = None if wait is None else int(wait * 1000.0 + 0.999)
            ready = poller.poll(timeout_ms)
            revents: Dict[int, int] = {}
            for fd, ev in ready:
                if fd == self._wake_r:
                    self._drain()
                else:
                    revents[fd] = revents.get(fd, 0) | ev
            self._dispatch_timers()
            self._dispatch_handles(revents)
        return 0

    def _drain(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _dispatch_timers(self) -> None:
        now = time.monotonic()
        with self._lock:
            fire = []
            for timer, t in self._timers.items():
                if t[0] >= 0 and t[1] <= now:
                    t[1] = now + t[0] / 1000.0
                    fire.append((timer, t[2], t[3]))
        for timer, cb, opaque in fire:
            with self._lock:
                if timer not in self._timers:
                    continue  # removed by an earlier callback
            try:
                cb(timer, opaque)
            except Exception:
                _report_callback_exception()

    def _dispatch_handles(self, revents: Dict[int, int]) -> None:
        if not revents:
            return
        with self._lock:
            fire = []
            for watch, (fd, events, cb, opaque) in self._handles.items():
                ev = _vir_events(revents.get(fd, 0)) & (events | VIR_EVENT_HANDLE_ERROR | VIR_EVENT_HANDLE_HANGUP)
                if ev:
                    fire.append((watch, fd, ev, cb, opaque))
        for watch, fd, ev, cb, opaque in fire:
            with self._lock:
                if watch not in self._handles:
                    continue
            try:
                cb(watch, fd, ev, opaque)
            except Exception:
                _report_callback_exception()


class _CustomImpl:
    """The six callables of virEventRegisterImpl."""

    def __init__(self, *funcs: Any) -> None:
        (self.add_handle, self.update_handle, self.remove_handle,
         self.add_timeout, self.update_timeout, self.remove_timeout) = funcs


_impl_lock = threading.Lock()
_default_loop: Optional[_DefaultLoop] = None
_impl: Union[None, _DefaultLoop, _CustomImpl] = None


def _default() -> _DefaultLoop:
    global _default_loop
    with _impl_lock:
        if _default_loop is None:
            _default_loop = _DefaultLoop()
        return _default_loop


def _eventInvokeHandleCallback(watch: int, fd: int, event: int, opaque: Any, opaquecompat: Any = None) -> None:
    """What a custom impl's addHandle receives as `cb` (as libvirt-python):
    calls the callback registered with virEventAddHandle."""
    if opaquecompat:
        callback, opaque_ = opaque, opaquecompat
    else:
        callback, opaque_ = opaque[0], opaque[1]
    callback(watch, fd, event, opaque_)


def _eventInvokeTimeoutCallback(timer: int, opaque: Any, opaquecompat: Any = None) -> None:
    """What a custom impl's addTimeout receives as `cb`."""
    if opaquecompat:
        callback, opaque_ = opaque, opaquecompat
    else:
        callback, opaque_ = opaque[0], opaque[1]
    callback(timer, opaque_)


def _custom_add(add: Callable[..., Any], *args: Any) -> int:
    """A custom impl's addHandle/addTimeout result as libvirt-python reads it:
    the int returned, -1 if it raised (the exception is printed)."""
    try:
        ret = add(*args)
    except Exception:
        _report_callback_exception()
        return -1
    return ret if isinstance(ret, int) else -1


def _custom_remove(remove: Callable[[int], Any], ident: int) -> int:
    """A custom impl's removeHandle/removeTimeout as libvirt-python reads it:
    0 whatever it returns, -1 if it raised (the exception is printed)."""
    try:
        remove(ident)
    except Exception:
        _report_callback_exception()
        return -1
    return 0


def virEventRegisterDefaultImpl() -> int:
    """Use virsnap's default poll(2) loop for events; run it with virEventRunDefaultImpl(). 0."""
    global _impl
    loop = _default()
    with _impl_lock:
        _impl = loop
    return 0


def virEventRunDefaultImpl() -> int:
    """Run one iteration of the default loop (blocks until an event or a due timer). 0."""
    return _default().run_once()


def virEventRegisterImpl(addHandle, updateHandle, removeHandle, addTimeout, updateTimeout, removeTimeout):
    """Use an external event loop given as libvirt-python's six functions."""
    global _impl
    with _impl_lock:
        _impl = _CustomImpl(addHandle, updateHandle, removeHandle, addTimeout, updateTimeout, removeTimeout)


def virEventAddHandle(fd: int, events: int, cb: _EventCB, opaque: _T) -> int:
    """Watch `fd` for `events` (VIR_EVENT_HANDLE_*): `cb(watch, fd, events, opaque)`. The watch id."""
    impl = _impl
    if isinstance(impl, _DefaultLoop):
        return impl.add_handle(fd, events, cb, opaque)
    if isinstance(impl, _CustomImpl):
        ret = _custom_add(impl.add_handle, fd, events, _eventInvokeHandleCallback, (cb, opaque, None))
        if ret >= 0:
            return ret
    raise _failed("virEventAddHandle")


def virEventAddTimeout(timeout: int, cb: _TimerCB, opaque: _T) -> int:
    """Call `cb(timer, opaque)` every `timeout` ms (0: every iteration, -1: disabled). The timer id."""
    impl = _impl
    if isinstance(impl, _DefaultLoop):
        return impl.add_timeout(timeout, cb, opaque)
    if isinstance(impl, _CustomImpl):
        ret = _custom_add(impl.add_timeout, timeout, _eventInvokeTimeoutCallback, (cb, opaque, None))
        if ret >= 0:
            return ret
    raise _failed("virEventAddTimeout")


def virEventUpdateHandle(watch, events):
    """Change the events watched; an unknown watch is ignored."""
    impl = _impl
    if isinstance(impl, _DefaultLoop):
        impl.update_handle(watch, events)
    elif isinstance(impl, _CustomImpl):
        impl.update_handle(watch, events)


def virEventUpdateTimeout(timer, timeout):
    """Change a timer's interval; an unknown timer is ignored."""
    impl = _impl
    if isinstance(impl, _DefaultLoop):
        impl.update_timeout(timer, timeout)
    elif isinstance(impl, _CustomImpl):
        impl.update_timeout(timer, timeout)


def virEventRemoveHandle(watch):
    """Stop watching; 0, or libvirtError for an unknown watch."""
    impl = _impl
    ret = -1
    if isinstance(impl, _DefaultLoop):
        ret = impl.remove_handle(watch)
    elif isinstance(impl, _CustomImpl):
        ret = _custom_remove(impl.remove_handle, watch)
    if ret == -1:
        raise _failed("virEventRemoveHandle")
    return ret


def virEventRemoveTimeout(timer):
    """Remove a timer; 0, or libvirtError for an unknown timer."""
    impl = _impl
    ret = -1
    if isinstance(impl, _DefaultLoop):
        ret = impl.remove_timeout(timer)
    elif isinstance(impl, _CustomImpl):
        ret = _custom_remove(impl.remove_timeout, timer)
    if ret == -1:
        raise _failed("virEventRemoveTimeout")
    return ret


def virEventInvokeFreeCallback(opaque: Any) -> None:
    """For custom impls: free the opaque of an added handle or timer (virsnap's need no freeing)."""
    ff = opaque[2]
    if ff is not None:
        ff(opaque[1])


def virInitialize():
    """Initialize the library (nothing to do). 0."""
    return 0


# ---------------------------------------------------------------------------
# Domain events.

VIR_DOMAIN_EVENT_ID_LIFECYCLE = 0
VIR_DOMAIN_EVENT_ID_LAST = 27
#: virsnap's snapshot events (outside libvirt's ID range). Since 0.2.
VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT = 0x76530001

_ev_lock = threading.RLock()
_ev_next_id = 0
_ev_timer = -1
#: callback id -> (conn, domain UUID or None, event ID, dispatch function)
_ev_callbacks: Dict[int, Any] = {}
#: id(conn) -> (conn, native stream, [watch ids])
_ev_conns: Dict[int, Any] = {}


def _ev_raise(code: int, domain: int, detail: str) -> None:
    from . import _native

    _native._raise_error(code, domain, detail)


def _ev_timer_cb(timer: int, opaque: Any) -> None:
    # libvirt's event timer; virsnap dispatches from the handles directly.
    virEventUpdateTimeout(timer, -1)


def _ev_ready(watch: int, fd: int, events: int, key: int) -> None:
    with _ev_lock:
        entry = _ev_conns.get(key)
    if entry is None:
        return
    conn, stream, _watches = entry
    for name, uuid, dom_id, event_id, a, b, snap, old in stream.take():
        with _ev_lock:
            targets = [
                (cid, fn)
                for cid, (c, want, eid, fn) in sorted(_ev_callbacks.items())
                if c is conn and eid == event_id and (want is None or want == uuid)
            ]
        for cid, fn in targets:
            with _ev_lock:
                if cid not in _ev_callbacks:
                    continue
            dom = conn._event_domain(name, uuid, dom_id)
            try:
                if event_id == VIR_DOMAIN_EVENT_ID_LIFECYCLE:
                    fn(dom, a, b)
                else:
                    fn(dom, snap, a, old)
            except Exception:
                _report_callback_exception()


def _ev_add(conn: Any, uuid: Optional[str], event_id: int, fn: Any) -> int:
    """Registers `fn` (the connection already checked); its callback id."""
    global _ev_timer, _ev_next_id
    from . import libvirtError

    with _ev_lock:
        if _ev_timer < 0:
            try:
                _ev_timer = virEventAddTimeout(-1, _ev_timer_cb, None)
            except libvirtError:
                _ev_raise(1, 0, "could not initialize domain event timer")
        key = id(conn)
        if key not in _ev_conns:
            stream = conn._event_stream()
            watches = [
                virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, _ev_ready, key) for fd in stream.fds()
            ]
            _ev_conns[key] = (conn, stream, watches)
        cid = _ev_next_id
        _ev_next_id += 1
        _ev_callbacks[cid] = (conn, uuid, event_id, fn)
        return cid


def _ev_remove(conn: Any, cid: int) -> None:
    global _ev_timer
    with _ev_lock:
        entry = _ev_callbacks.get(cid)
        if entry is None or entry[0] is not conn:
            _ev_raise(8, 0, f"could not find event callback {cid} for deletion")
        del _ev_callbacks[cid]
        if not any(c is conn for c, _u, _e, _f in _ev_callbacks.values()):
            gone = _ev_conns.pop(id(conn), None)
            if gone is not None:
                for w in gone[2]:
                    virEventRemoveHandle(w)
        if not _ev_callbacks and _ev_timer >= 0:
            virEventRemoveTimeout(_ev_timer)
            _ev_timer = -1


class virConnectMethods:
    """virConnect methods written in Python; virsnap/__init__.py attaches them."""

    # Set by the event methods, as libvirt-python's (annotations only).
    domainEventCallbackID: Dict[int, Any]
    domainEventCallbacks: Dict[Callable[..., Any], Any]
    _virsnap_legacy_event: int

    def unregisterCloseCallback(self) -> None:
        """Removes a close event callback (none is kept: see registerCloseCallback)."""

    def registerCloseCallback(self, cb: Callable, opaque: _T) -> int:
        """Accepted and never called: virsnap's drivers have no remote connection
        to lose (libvirt 9.0 answers 0 the same way for test:/// and qemu:///embed)."""
        return 0

    def domainEventRegisterAny(self, dom: Any, eventID: int, cb: Callable, opaque: _T) -> int:
        """Adds a Domain Event Callback for `eventID` of `dom` (None: every
        domain). Lifecycle: `cb(conn, dom, event, detail, opaque)`;
        VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT: `cb(conn, dom, snapshot, event,
        old_name, opaque)`. Returns the callback id."""
        fname = "virConnectDomainEventRegisterAny"
        if not hasattr(self, "domainEventCallbackID"):
            self.domainEventCallbackID = {}
        me: Any = self
        me.getURI()  # a closed connection raises libvirt's error
        if (eventID < 0 or eventID >= VIR_DOMAIN_EVENT_ID_LAST) and eventID != VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT:
            # libvirt-python refuses an ID it has no C callback for before
            # calling libvirt: the error carries no libvirt error.
            from . import _native

            _native.virResetLastError()
            raise _failed(fname)
        uuid = None if dom is None else dom.UUIDString()
        conn = self

        if eventID == VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT:
            def fn(d: Any, snap: Any, event: int, old: Any) -> None:
                cb(conn, d, snap, event, old, opaque)
        else:
            def fn(d: Any, event: int, detail: int) -> None:  # type: ignore[misc]
                cb(conn, d, event, detail, opaque)
        ret = _ev_add(self, uuid, eventID, fn)
        self.domainEventCallbackID[ret] = opaque
        return ret

    def domainEventDeregisterAny(self, callbackID: int) -> None:
        """Removes a Domain Event Callback."""
        try:
            if callbackID < 0:
                _ev_raise(8, 20, "\0callbackID in virConnectDomainEventDeregisterAny must be zero or greater")
            _ev_remove(self, callbackID)
            del self.domainEventCallbackID[callbackID]
        except AttributeError:
            pass

    def domainEventRegister(self, cb: Callable, opaque: _T) -> None:
        """Adds a Domain Event Callback (the old API: lifecycle events of
        every domain, `cb(conn, dom, event, detail, opaque)`)."""
        try:
            self.domainEventCallbacks[cb] = opaque
        except AttributeError:
            self.domainEventCallbacks = {cb: opaque}
            conn = self

            def fn(d: Any, event: int, detail: int) -> None:
                for c, o in list(getattr(conn, "domainEventCallbacks", {}).items()):
                    c(conn, d, event, detail, o)

            self._virsnap_legacy_event = _ev_add(self, None, VIR_DOMAIN_EVENT_ID_LIFECYCLE, fn)

    def domainEventDeregister(self, cb: Callable) -> None:
        """Removes a Domain Event Callback registered with domainEventRegister."""
        try:
            del self.domainEventCallbacks[cb]
            if len(self.domainEventCallbacks) == 0:
                del self.domainEventCallbacks
                _ev_remove(self, self._virsnap_legacy_event)
        except AttributeError:
            pass

//! libvirt's event loop API (`libvirt-event.h`): the `virEvent*`
//! dispatchers and the default implementation, a poll(2) loop.
//!
//! As libvirt 9.0 (`virevent.c`, `vireventglib.c`):
//! - one implementation is registered per process, the first of
//!   `virEventRegisterImpl` (the application's own) or
//!   `virEventRegisterDefaultImpl`; later registrations are ignored;
//! - without a registered implementation `virEventAddHandle` /
//!   `virEventAddTimeout` / `virEventRemove*` return −1 and the update calls
//!   do nothing (no error is reported);
//! - handle watch numbers and timer ids start at 1 and are never reused;
//! - a timeout of −1 disables a timer, 0 fires it on every iteration, N > 0
//!   every N ms (an update restarts the interval);
//! - a removed handle or timer never fires again; its free callback runs
//!   later, from `virEventRunDefaultImpl`, never inside the remove call (so
//!   removing from inside a callback is safe);
//! - the default loop wakes through a pipe when another thread adds, updates
//!   or removes anything, so the change takes effect without waiting for
//!   the poll timeout.
//!
//! Callbacks run without any lock held: they may call every `virEvent*`
//! function, and other threads may do so while the loop polls.

use std::os::raw::{c_int, c_void};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::boundary;
use crate::errors;

/// Bits of the `events` of a handle (`virEventHandleType`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virEventHandleType {
    /// The file handle is readable (0.5.0).
    VIR_EVENT_HANDLE_READABLE = 1,
    /// The file handle is writable (0.5.0).
    VIR_EVENT_HANDLE_WRITABLE = 2,
    /// An error condition on the file handle (0.5.0).
    VIR_EVENT_HANDLE_ERROR = 4,
    /// The peer hung up (0.5.0).
    VIR_EVENT_HANDLE_HANGUP = 8,
}

const READABLE: c_int = 1;
const WRITABLE: c_int = 2;
const ERROR: c_int = 4;
const HANGUP: c_int = 8;

/// Called when a watched file handle has an event:
/// `(watch, fd, events, opaque)`.
pub type virEventHandleCallback =
    Option<unsafe extern "C" fn(watch: c_int, fd: c_int, events: c_int, opaque: *mut c_void)>;
/// Called when a timer fires: `(timer, opaque)`.
pub type virEventTimeoutCallback = Option<unsafe extern "C" fn(timer: c_int, opaque: *mut c_void)>;
/// Releases the `opaque` of a removed handle or timer (or of a callback).
pub type virFreeCallback = Option<unsafe extern "C" fn(opaque: *mut c_void)>;
/// An implementation's "add handle" function.
pub type virEventAddHandleFunc = Option<
    unsafe extern "C" fn(
        fd: c_int,
        event: c_int,
        cb: virEventHandleCallback,
        opaque: *mut c_void,
        ff: virFreeCallback,
    ) -> c_int,
>;
/// An implementation's "update handle" function.
pub type virEventUpdateHandleFunc = Option<unsafe extern "C" fn(watch: c_int, event: c_int)>;
/// An implementation's "remove handle" function.
pub type virEventRemoveHandleFunc = Option<unsafe extern "C" fn(watch: c_int) -> c_int>;
/// An implementation's "add timeout" function.
pub type virEventAddTimeoutFunc = Option<
    unsafe extern "C" fn(
        timeout: c_int,
        cb: virEventTimeoutCallback,
        opaque: *mut c_void,
        ff: virFreeCallback,
    ) -> c_int,
>;
/// An implementation's "update timeout" function.
pub type virEventUpdateTimeoutFunc = Option<unsafe extern "C" fn(timer: c_int, timeout: c_int)>;
/// An implementation's "remove timeout" function.
pub type virEventRemoveTimeoutFunc = Option<unsafe extern "C" fn(timer: c_int) -> c_int>;

/// The six functions of the registered implementation.
#[derive(Clone, Copy)]
struct Impl {
    add_handle: virEventAddHandleFunc,
    update_handle: virEventUpdateHandleFunc,
    remove_handle: virEventRemoveHandleFunc,
    add_timeout: virEventAddTimeoutFunc,
    update_timeout: virEventUpdateTimeoutFunc,
    remove_timeout: virEventRemoveTimeoutFunc,
}

impl Impl {
    const NONE: Impl = Impl {
        add_handle: None,
        update_handle: None,
        remove_handle: None,
        add_timeout: None,
        update_timeout: None,
        remove_timeout: None,
    };

    fn is_empty(&self) -> bool {
        self.add_handle.is_none()
            && self.update_handle.is_none()
            && self.remove_handle.is_none()
            && self.add_timeout.is_none()
            && self.update_timeout.is_none()
            && self.remove_timeout.is_none()
    }
}

static IMPL: Mutex<Impl> = Mutex::new(Impl::NONE);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A callback cannot panic while a lock is held (none is held during
    // callbacks), so poisoning only follows a bug: keep going with the data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn registered() -> Impl {
    *lock(&IMPL)
}

/// Sets the implementation unless one is registered (libvirt ignores a
/// second registration). Returns true when `new` was installed.
fn register(new: Impl) -> bool {
    let mut g = lock(&IMPL);
    if !g.is_empty() {
        return false;
    }
    *g = new;
    true
}

// ---------------------------------------------------------------------------
// The default implementation.

struct Handle {
    watch: c_int,
    fd: c_int,
    events: c_int,
    removed: bool,
    cb: virEventHandleCallback,
    opaque: usize,
    ff: virFreeCallback,
}

struct Timer {
    timer: c_int,
    /// −1 disabled, 0 every iteration, N ms.
    interval: c_int,
    /// When an enabled timer next fires.
    due: Instant,
    removed: bool,
    cb: virEventTimeoutCallback,
    opaque: usize,
    ff: virFreeCallback,
}

struct Loop {
    next_watch: c_int,
    next_timer: c_int,
    handles: Vec<Handle>,
    timers: Vec<Timer>,
}

static LOOP: Mutex<Loop> = Mutex::new(Loop {
    next_watch: 1,
    next_timer: 1,
    handles: Vec::new(),
    timers: Vec::new(),
});

/// Serializes iterations: one thread runs the loop at a time.
static RUN: Mutex<()> = Mutex::new(());

/// The self-pipe that interrupts poll: (read end, write end), both
/// non-blocking and close-on-exec. Created once, never closed.
static WAKE: OnceLock<Option<(c_int, c_int)>> = OnceLock::new();

fn wake_pipe() -> Option<(c_int, c_int)> {
    *WAKE.get_or_init(|| {
        let mut fds = [0 as c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
        (rc == 0).then_some((fds[0], fds[1]))
    })
}

/// Interrupts a poll in progress (or makes the next one return at once).
fn wake() {
    if let Some((_, w)) = wake_pipe() {
        let b = [1u8];
        // SAFETY: writes one byte from a live buffer to our own pipe.
        if unsafe { libc::write(w, b.as_ptr().cast(), 1) } < 0 {
            // EAGAIN: the full pipe already holds a pending wake-up. Nothing
            // else can fail on our own open non-blocking pipe.
        }
    }
}

fn drain_wake(r: c_int) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reads into a live buffer of the given size from our pipe.
        let n = unsafe { libc::read(r, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
    }
}

fn interval_due(now: Instant, interval: c_int) -> Instant {
    now + Duration::from_millis(interval.max(0) as u64)
}

unsafe extern "C" fn default_add_handle(
    fd: c_int,
    events: c_int,
    cb: virEventHandleCallback,
    opaque: *mut c_void,
    ff: virFreeCallback,
) -> c_int {
    let watch = {
        let mut l = lock(&LOOP);
        let watch = l.next_watch;
        l.next_watch = l.next_watch.wrapping_add(1).max(1);
        l.handles.push(Handle {
            watch,
            fd,
            events,
            removed: false,
            cb,
            opaque: opaque as usize,
            ff,
        });
        watch
    };
    wake();
    watch
}

unsafe extern "C" fn default_update_handle(watch: c_int, events: c_int) {
    {
        let mut l = lock(&LOOP);
        match l.handles.iter_mut().find(|h| h.watch == watch && !h.removed) {
            Some(h) => h.events = events,
            None => return,
        }
    }
    wake();
}

unsafe extern "C" fn default_remove_handle(watch: c_int) -> c_int {
    {
        let mut l = lock(&LOOP);
        match l.handles.iter_mut().find(|h| h.watch == watch && !h.removed) {
            Some(h) => {
                h.removed = true;
                h.events = 0;
            }
            None => return -1,
        }
    }
    wake();
    0
}

unsafe extern "C" fn default_add_timeout(
    interval: c_int,
    cb: virEventTimeoutCallback,
    opaque: *mut c_void,
    ff: virFreeCallback,
) -> c_int {
    let timer = {
        let mut l = lock(&LOOP);
        let timer = l.next_timer;
        l.next_timer = l.next_timer.wrapping_add(1).max(1);
        l.timers.push(Timer {
            timer,
            interval,
            due: interval_due(Instant::now(), interval),
            removed: false,
            cb,
            opaque: opaque as usize,
            ff,
        });
        timer
    };
    wake();
    timer
}

unsafe extern "C" fn default_update_timeout(timer: c_int, interval: c_int) {
    {
        let mut l = lock(&LOOP);
        match l.timers.iter_mut().find(|t| t.timer == timer && !t.removed) {
            Some(t) => {
                // Re-enabling (or changing) restarts the interval, as
                // libvirt's fresh GSource does; disabling keeps nothing.
                if interval >= 0 {
                    t.due = interval_due(Instant::now(), interval);
                }
                t.interval = interval;
            }
            None => return,
        }
    }
    wake();
}

unsafe extern "C" fn default_remove_timeout(timer: c_int) -> c_int {
    {
        let mut l = lock(&LOOP);
        match l.timers.iter_mut().find(|t| t.timer == timer && !t.removed) {
            Some(t) => {
                t.removed = true;
                t.interval = -1;
            }
            None => return -1,
        }
    }
    wake();
    0
}

const DEFAULT_IMPL: Impl = Impl {
    add_handle: Some(default_add_handle),
    update_handle: Some(default_update_handle),
    remove_handle: Some(default_remove_handle),
    add_timeout: Some(default_add_timeout),
    update_timeout: Some(default_update_timeout),
    remove_timeout: Some(default_remove_timeout),
};

fn to_poll_events(events: c_int) -> libc::c_short {
    let mut e: libc::c_short = 0;
    if events & READABLE != 0 {
        e |= libc::POLLIN;
    }
    if events & WRITABLE != 0 {
        e |= libc::POLLOUT;
    }
    // poll(2) reports POLLERR and POLLHUP whether asked or not.
    e
}

fn from_poll_events(revents: libc::c_short) -> c_int {
    let mut e = 0;
    if revents & libc::POLLIN != 0 {
        e |= READABLE;
    }
    if revents & libc::POLLOUT != 0 {
        e |= WRITABLE;
    }
    if revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
        e |= ERROR;
    }
    if revents & libc::POLLHUP != 0 {
        e |= HANGUP;
    }
    e
}

/// Runs the free callbacks of removed handles and timers (outside the lock).
fn reap() {
    let mut ffs: Vec<(virFreeCallback, usize)> = Vec::new();
    {
        let mut l = lock(&LOOP);
        l.handles.retain(|h| {
            if h.removed {
                ffs.push((h.ff, h.opaque));
            }
            !h.removed
        });
        l.timers.retain(|t| {
            if t.removed {
                ffs.push((t.ff, t.opaque));
            }
            !t.removed
        });
    }
    for (ff, opaque) in ffs {
        if let Some(f) = ff {
            // SAFETY: the caller registered `f` to release exactly this
            // `opaque`; the entry is gone, so it is called once.
            unsafe { f(opaque as *mut c_void) };
        }
    }
}

/// One iteration: poll the enabled handles (and the wake pipe) until the
/// nearest timer is due or something happens, then dispatch due timers and
/// ready handles, then run pending free callbacks.
fn run_once() -> c_int {
    let _running = lock(&RUN);
    reap();
    let wake_fd = wake_pipe().map(|(r, _)| r);
    let (mut fds, watches, timeout_ms) = {
        let l = lock(&LOOP);
        let now = Instant::now();
        let mut timeout: c_int = -1;
        for t in l.timers.iter().filter(|t| !t.removed && t.interval >= 0) {
            // Round up so poll never returns before the timer is due.
            let us = t.due.saturating_duration_since(now).as_micros();
            let ms = us.div_ceil(1000).min(c_int::MAX as u128) as c_int;
            timeout = if timeout < 0 { ms } else { timeout.min(ms) };
        }
        let mut fds = Vec::with_capacity(l.handles.len() + 1);
        let mut watches = Vec::with_capacity(l.handles.len());
        for h in l.handles.iter().filter(|h| !h.removed && h.events != 0) {
            fds.push(libc::pollfd {
                fd: h.fd,
                events: to_poll_events(h.events),
                revents: 0,
            });
            watches.push(h.watch);
        }
        if let Some(r) = wake_fd {
            fds.push(libc::pollfd {
                fd: r,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        (fds, watches, timeout)
    };
    // SAFETY: `fds` is a live array of `fds.len()` pollfd structures.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            errors::set_last(&virsnap_core::Error::new(
                virsnap_core::ErrorCode::SystemError,
                virsnap_core::ErrorDomain::None,
                format!("Unable to poll on file handles: {e}"),
            ));
            return -1;
        }
        return 0;
    }
    if let Some(r) = wake_fd
        && fds.last().is_some_and(|p| p.revents != 0)
    {
        drain_wake(r);
    }
    dispatch_timers();
    for (i, watch) in watches.iter().enumerate() {
        let revents = fds[i].revents;
        if revents == 0 {
            continue;
        }
        // Look the handle up again: an earlier callback may have removed or
        // disabled it.
        let call = {
            let l = lock(&LOOP);
            l.handles
                .iter()
                .find(|h| h.watch == *watch && !h.removed && h.events != 0)
                .map(|h| (h.cb, h.fd, h.opaque))
        };
        if let Some((Some(cb), fd, opaque)) = call {
            // SAFETY: `cb` and `opaque` were registered together by the
            // caller for this watch, which is still registered.
            unsafe { cb(*watch, fd, from_poll_events(revents), opaque as *mut c_void) };
        }
    }
    reap();
    0
}

fn dispatch_timers() {
    let now = Instant::now();
    let due: Vec<c_int> = {
        let l = lock(&LOOP);
        l.timers
            .iter()
            .filter(|t| !t.removed && t.interval >= 0 && t.due <= now)
            .map(|t| t.timer)
            .collect()
    };
    for id in due {
        let call = {
            let mut l = lock(&LOOP);
            match l.timers.iter_mut().find(|t| t.timer == id && !t.removed && t.interval >= 0) {
                Some(t) if t.due <= now => {
                    t.due = interval_due(Instant::now(), t.interval);
                    Some((t.cb, t.opaque))
                }
                _ => None,
            }
        };
        if let Some((Some(cb), opaque)) = call {
            // SAFETY: `cb` and `opaque` were registered together by the
            // caller for this timer, which is still registered.
            unsafe { cb(id, opaque as *mut c_void) };
        }
    }
}

// ---------------------------------------------------------------------------
// Public API.

/// Registers the default event loop (a poll(2) loop driven by
/// `virEventRunDefaultImpl`) unless an implementation is already registered.
///
/// Returns: 0, or −1 if the wake-up pipe cannot be created.
/// Since: libvirt 0.9.0.
///
/// # Safety
/// None: takes no arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virEventRegisterDefaultImpl() -> c_int {
    boundary::entry("virEventRegisterDefaultImpl", || {
        if wake_pipe().is_none() {
            return Err(virsnap_core::Error::new(
                virsnap_core::ErrorCode::SystemError,
                virsnap_core::ErrorDomain::None,
                format!(
                    "Unable to create wake-up pipe: {}",
                    std::io::Error::last_os_error()
                ),
            ));
        }
        register(DEFAULT_IMPL);
        Ok(0)
    })
}

/// Runs one iteration of the default event loop: waits until a registered
/// handle is ready, a timer is due or another thread changes the set, then
/// dispatches. Blocks forever when nothing is registered.
///
/// Returns: 0, or −1 if poll fails. Since: libvirt 0.9.0.
///
/// # Safety
/// None: takes no arguments. Callbacks registered by the caller run on this
/// thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virEventRunDefaultImpl() -> c_int {
    boundary::entry("virEventRunDefaultImpl", || Ok(run_once()))
}

/// Registers an application's event loop. Ignored once an implementation
/// (this one or the default) is registered, as in libvirt.
///
/// Since: libvirt 0.5.0.
///
/// # Safety
/// The functions must be safe to call from any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virEventRegisterImpl(
    addHandle: virEventAddHandleFunc,
    updateHandle: virEventUpdateHandleFunc,
    removeHandle: virEventRemoveHandleFunc,
    addTimeout: virEventAddTimeoutFunc,
    updateTimeout: virEventUpdateTimeoutFunc,
    removeTimeout: virEventRemoveTimeoutFunc,
) {
    boundary::entry_keep("virEventRegisterImpl", || {
        register(Impl {
            add_handle: addHandle,
            update_handle: updateHandle,
            remove_handle: removeHandle,
            add_timeout: addTimeout,
            update_timeout: updateTimeout,
            remove_timeout: removeTimeout,
        });
        Ok(())
    })
}

/// Watches `fd` for `events` (`virEventHandleType` bits; error and hang-up
/// are always reported) and calls `cb` when they occur. `ff`, if not NULL,
/// releases `opaque` after the handle is removed.
///
/// Returns: the watch number (> 0), or −1 without a registered
/// implementation. Since: libvirt 0.9.3.
///
/// # Safety
/// `cb` and `ff` must be safe to call with `opaque` from the loop's thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virEventAddHandle(
    fd: c_int,
    events: c_int,
    cb: virEventHandleCallback,
    opaque: *mut c_void,
    ff: virFreeCallback,
) -> c_int {
    match registered().add_handle {
        // SAFETY: the registered implementation's contract is libvirt's.
        Some(f) => unsafe { f(fd, events, cb, opaque, ff) },
        None => -1,
    }
}

/// Changes the events watched on `watch` (0 stops watching, keeping it
/// registered). Unknown watches are ignored.
///
/// Since: libvirt 0.9.3.
///
/// # Safety
/// None beyond the registered implementation's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virEventUpdateHandle(watch: c_int, events: c_int) {
    if let Some(f) = registered().update_handle {
        // SAFETY: the registered implementation's contract is libvirt's.
        unsafe { f(watch, events) }
    }
}

/// Stops watching `watch`; its free callback runs later from the loop.
///
/// Returns: 0, or −1 if `watch` is not registered (or no implementation is).
/// Since: libvirt 0.9.3.
///
/// # Safety
/// None beyond the registered implementation's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virEventRemoveHandle(watch: c_int) -> c_int {
    match registered().remove_handle {
        // SAFETY: the registered implementation's contract is libvirt's.
        Some(f) => unsafe { f(watch) },
        None => -1,
    }
}

/// Adds a timer firing every `timeout` ms (0: every iteration, −1: disabled).
/// `ff`, if not NULL, releases `opaque` after the timer is removed.
///
/// Returns: the timer id (> 0), or −1 without a registered implementation.
/// Since: libvirt 0.9.3.
///
/// # Safety
/// `cb` and `ff` must be safe to call with `opaque` from the loop's thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virEventAddTimeout(
    timeout: c_int,
    cb: virEventTimeoutCallback,
    opaque: *mut c_void,
    ff: virFreeCallback,
) -> c_int {
    match registered().add_timeout {
        // SAFETY: the registered implementation's contract is libvirt's.
        Some(f) => unsafe { f(timeout, cb, opaque, ff) },
        None => -1,
    }
}

/// Changes a timer's interval (restarting it); −1 disables it. Unknown
/// timers are ignored.
///
/// Since: libvirt 0.9.3.
///
/// # Safety
/// None beyond the registered implementation's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virEventUpdateTimeout(timer: c_int, timeout: c_int) {
    if let Some(f) = registered().update_timeout {
        // SAFETY: the registered implementation's contract is libvirt's.
        unsafe { f(timer, timeout) }
    }
}

/// Removes a timer; its free callback runs later from the loop.
///
/// Returns: 0, or −1 if `timer` is not registered (or no implementation is).
/// Since: libvirt 0.9.3.
///
/// # Safety
/// None beyond the registered implementation's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virEventRemoveTimeout(timer: c_int) -> c_int {
    match registered().remove_timeout {
        // SAFETY: the registered implementation's contract is libvirt's.
        Some(f) => unsafe { f(timer) },
        None => -1,
    }
}

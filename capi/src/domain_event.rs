//! Domain events (`virConnectDomainEventRegisterAny` & co.): libvirt's
//! lifecycle events and virsnap's snapshot events
//! (`VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT`, Since 0.2), delivered through
//! the registered event loop ([`crate::event`]) as libvirt's
//! `virObjectEventState` does:
//!
//! - the first registration adds one timer (`virEventAddTimeout(-1, …)`;
//!   without an event implementation registration fails with libvirt's
//!   "could not initialize domain event timer");
//! - core emits on the thread of the operation; the sink only queues the
//!   event and arms the timer (interval 0), so callbacks run later on the
//!   loop's thread, never inside the operation;
//! - per connection one core [`virsnap_core::connect::EventStream`]; for a
//!   driver with an event log (qemu) its inotify descriptor is added with
//!   `virEventAddHandle`, so other processes' events arrive the same way;
//! - callback IDs are process-wide, from 0 (the old API's registrations
//!   take one too); a callback holds a reference on
//!   its connection (so `virConnectClose` returns > 0 while any is
//!   registered, as in libvirt); a deregistered callback's free function
//!   runs at once, or after its callback returns if it is running.

use std::collections::VecDeque;
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use virsnap_core::connect::EventStream;
use virsnap_core::events::{self, Event, EventKind};
use virsnap_core::{Error, ErrorCode, ErrorDomain};

use crate::boundary::{self, entry};
use crate::event::{self as ev, virFreeCallback};
use crate::handles::{self, ConnHandle};
use crate::types::{virConnectPtr, virDomainPtr};

const DOM: ErrorDomain = ErrorDomain::Domain;

/// `VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT`: virsnap's snapshot events, with a
/// [`virConnectDomainEventSnapshotCallback`]; outside libvirt's event ID
/// range (libvirt 9.0 ends at 27), so no libvirt ID collides. Since 0.2.
pub const VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT: c_int = 0x7653_0001;
const _: () = assert!(VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT == events::EVENT_ID_SNAPSHOT);

/// The event IDs of `virConnectDomainEventRegisterAny` virsnap emits
/// (libvirt's other IDs are accepted and never emitted).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainEventID {
    /// `virConnectDomainEventCallback` (Since: libvirt 0.8.0).
    VIR_DOMAIN_EVENT_ID_LIFECYCLE = 0,
}

/// The `event` of a lifecycle callback (libvirt's values).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainEventType {
    /// Defined (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_DEFINED = 0,
    /// Undefined (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_UNDEFINED = 1,
    /// Started (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_STARTED = 2,
    /// Suspended (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_SUSPENDED = 3,
    /// Resumed (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_RESUMED = 4,
    /// Stopped (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_STOPPED = 5,
    /// Shut down (Since: libvirt 0.9.8).
    VIR_DOMAIN_EVENT_SHUTDOWN = 6,
    /// PM-suspended (Since: libvirt 0.10.2).
    VIR_DOMAIN_EVENT_PMSUSPENDED = 7,
    /// Crashed (Since: libvirt 1.1.1).
    VIR_DOMAIN_EVENT_CRASHED = 8,
}

/// Details of `VIR_DOMAIN_EVENT_DEFINED`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainEventDefinedDetailType {
    /// Newly created config (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_DEFINED_ADDED = 0,
    /// Changed config (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_DEFINED_UPDATED = 1,
    /// Renamed (Since: libvirt 1.2.19).
    VIR_DOMAIN_EVENT_DEFINED_RENAMED = 2,
    /// Config restored from a snapshot (Since: libvirt 1.3.3).
    VIR_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT = 3,
}

/// Details of `VIR_DOMAIN_EVENT_UNDEFINED`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainEventUndefinedDetailType {
    /// Deleted the config (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_UNDEFINED_REMOVED = 0,
    /// Renamed (Since: libvirt 1.2.19).
    VIR_DOMAIN_EVENT_UNDEFINED_RENAMED = 1,
}

/// Details of `VIR_DOMAIN_EVENT_STARTED`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainEventStartedDetailType {
    /// Normal startup (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_STARTED_BOOTED = 0,
    /// Incoming migration (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_STARTED_MIGRATED = 1,
    /// Restored from a state file (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_STARTED_RESTORED = 2,
    /// Restored from a snapshot (Since: libvirt 0.8.0).
    VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT = 3,
    /// Started on wakeup (Since: libvirt 0.9.11).
    VIR_DOMAIN_EVENT_STARTED_WAKEUP = 4,
}

/// Details of `VIR_DOMAIN_EVENT_SUSPENDED`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainEventSuspendedDetailType {
    /// Paused by the admin (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_SUSPENDED_PAUSED = 0,
    /// Offline migration (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED = 1,
    /// Disk I/O error (Since: libvirt 0.8.0).
    VIR_DOMAIN_EVENT_SUSPENDED_IOERROR = 2,
    /// Watchdog (Since: libvirt 0.8.0).
    VIR_DOMAIN_EVENT_SUSPENDED_WATCHDOG = 3,
    /// Restored from a paused state file (Since: libvirt 0.9.5).
    VIR_DOMAIN_EVENT_SUSPENDED_RESTORED = 4,
    /// Restored from a paused snapshot (Since: libvirt 0.9.5).
    VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT = 5,
}

/// Details of `VIR_DOMAIN_EVENT_RESUMED`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainEventResumedDetailType {
    /// Unpaused by the admin (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_RESUMED_UNPAUSED = 0,
    /// Migration completed (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_RESUMED_MIGRATED = 1,
    /// Resumed from a snapshot (Since: libvirt 0.9.5).
    VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT = 2,
}

/// Details of `VIR_DOMAIN_EVENT_STOPPED`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainEventStoppedDetailType {
    /// Normal shutdown (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN = 0,
    /// Forced poweroff (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_STOPPED_DESTROYED = 1,
    /// Guest crashed (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_STOPPED_CRASHED = 2,
    /// Migrated away (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_STOPPED_MIGRATED = 3,
    /// Saved to a state file (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_STOPPED_SAVED = 4,
    /// Emulator failed (Since: libvirt 0.5.0).
    VIR_DOMAIN_EVENT_STOPPED_FAILED = 5,
    /// Offline snapshot loaded (Since: libvirt 0.8.0).
    VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT = 6,
}

/// virsnap's snapshot event types (`event` of a
/// [`virConnectDomainEventSnapshotCallback`]). Since 0.2.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainSnapshotEventType {
    /// A snapshot was created (or redefined). Since 0.2.
    VIR_DOMAIN_SNAPSHOT_EVENT_CREATED = 0,
    /// A snapshot was deleted (each deleted descendant has its own event). Since 0.2.
    VIR_DOMAIN_SNAPSHOT_EVENT_DELETED = 1,
    /// The domain was reverted to the snapshot. Since 0.2.
    VIR_DOMAIN_SNAPSHOT_EVENT_REVERTED = 2,
    /// The snapshot was renamed (`old_name` is its previous name). Since 0.2.
    VIR_DOMAIN_SNAPSHOT_EVENT_RENAMED = 3,
    /// The snapshot was deleted by a retention prune. Since 0.2.
    VIR_DOMAIN_SNAPSHOT_EVENT_PRUNED = 4,
}

/// The generic callback type of `virConnectDomainEventRegisterAny` (cast
/// to the event ID's own type when called).
pub type virConnectDomainEventGenericCallback =
    Option<unsafe extern "C" fn(conn: virConnectPtr, dom: virDomainPtr, opaque: *mut c_void)>;
/// `VIR_DOMAIN_EVENT_ID_LIFECYCLE`'s callback, and (returning int) the old
/// `virConnectDomainEventRegister`'s.
pub type virConnectDomainEventCallback = Option<
    unsafe extern "C" fn(conn: virConnectPtr, dom: virDomainPtr, event: c_int, detail: c_int, opaque: *mut c_void) -> c_int,
>;
/// `VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT`'s callback: `snapshot` is the
/// snapshot's name (its new name for RENAMED), `old_name` the previous name
/// of a renamed snapshot, else NULL; both borrowed for the call. Since 0.2.
pub type virConnectDomainEventSnapshotCallback = Option<
    unsafe extern "C" fn(
        conn: virConnectPtr,
        dom: virDomainPtr,
        snapshot: *const c_char,
        event: c_int,
        old_name: *const c_char,
        opaque: *mut c_void,
    ),
>;

type LifecycleAny = unsafe extern "C" fn(virConnectPtr, virDomainPtr, c_int, c_int, *mut c_void);
type SnapshotFn = unsafe extern "C" fn(virConnectPtr, virDomainPtr, *const c_char, c_int, *const c_char, *mut c_void);

struct Callback {
    id: c_int,
    conn: usize,
    /// Only this domain's events (UUID), or all.
    dom: Option<virsnap_core::uuid::Uuid>,
    event_id: c_int,
    /// The function, as an address (cast by `event_id` / `legacy`).
    cb: usize,
    opaque: usize,
    ff: virFreeCallback,
    /// Registered with the old `virConnectDomainEventRegister`.
    legacy: bool,
    removed: bool,
    running: u32,
}

struct ConnEvents {
    conn: usize,
    stream: Arc<Mutex<EventStream>>,
    watch: c_int,
}

struct State {
    next_id: c_int,
    callbacks: Vec<Callback>,
    conns: Vec<ConnEvents>,
    queue: VecDeque<(usize, Event)>,
    timer: c_int,
}

static STATE: Mutex<State> =
    Mutex::new(State { next_id: 0, callbacks: Vec::new(), conns: Vec::new(), queue: VecDeque::new(), timer: -1 });

fn state() -> MutexGuard<'static, State> {
    // Callbacks run without the lock; poisoning only follows a bug here.
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

fn arm(timer: c_int) {
    if timer > 0 {
        // SAFETY: updates our own timer through the registered implementation.
        unsafe { ev::virEventUpdateTimeout(timer, 0) };
    }
}

fn enqueue(conn: usize, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    let timer = {
        let mut s = state();
        if !s.conns.iter().any(|c| c.conn == conn) {
            return;
        }
        s.queue.extend(events.into_iter().map(|e| (conn, e)));
        s.timer
    };
    arm(timer);
}

/// The inotify handle of a connection's stream is readable: read the
/// other processes' events.
unsafe extern "C" fn on_log(_watch: c_int, _fd: c_int, _events: c_int, opaque: *mut c_void) {
    let conn = opaque as usize;
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let stream = state().conns.iter().find(|c| c.conn == conn).map(|c| c.stream.clone());
        if let Some(stream) = stream {
            let got = stream.lock().map(|mut s| s.read_remote());
            if let Ok(Ok(evs)) = got {
                enqueue(conn, evs);
            }
        }
    }));
}

/// The timer: dispatches every queued event to the matching callbacks.
unsafe extern "C" fn on_timer(timer: c_int, _opaque: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: disarms our own timer until the next event.
        unsafe { ev::virEventUpdateTimeout(timer, -1) };
        loop {
            let Some((conn, event)) = state().queue.pop_front() else {
                break;
            };
            dispatch(conn, &event);
        }
    }));
}

fn dispatch(conn: usize, event: &Event) {
    let Some(c) = handles::conn_quiet(conn as virConnectPtr) else {
        return;
    };
    let ids: Vec<c_int> = state()
        .callbacks
        .iter()
        .filter(|cb| {
            !cb.removed
                && cb.conn == conn
                && cb.event_id == event.kind.event_id()
                && cb.dom.is_none_or(|u| u == event.domain.uuid)
        })
        .map(|cb| cb.id)
        .collect();
    if ids.is_empty() {
        return;
    }
    let dom = c.conn.domain_for_event(&event.domain);
    for id in ids {
        let call = {
            let mut s = state();
            match s.callbacks.iter_mut().find(|cb| cb.id == id && !cb.removed) {
                Some(cb) => {
                    cb.running += 1;
                    Some((cb.cb, cb.opaque, cb.legacy))
                }
                None => None,
            }
        };
        let Some((f, opaque, legacy)) = call else {
            continue;
        };
        // libvirt hands each callback a fresh domain it frees afterwards.
        if let Ok(d) = handles::publish_domain(&c, dom.clone()) {
            invoke(conn, d, &event.kind, f, opaque, legacy);
            if let Err(_e) = handles::release::<handles::DomainHandle, _>(d, "virDomainFree") {
                // The callback freed a reference it did not own: nothing left to free.
            }
        }
        let free = {
            let mut s = state();
            let mut free = None;
            if let Some(i) = s.callbacks.iter().position(|cb| cb.id == id) {
                s.callbacks[i].running -= 1;
                if s.callbacks[i].removed && s.callbacks[i].running == 0 {
                    free = Some(s.callbacks.remove(i));
                }
            }
            free
        };
        if let Some(cb) = free {
            finish(cb);
        }
    }
}

fn invoke(conn: usize, d: virDomainPtr, kind: &EventKind, f: usize, opaque: usize, legacy: bool) {
    let connp = conn as virConnectPtr;
    match kind {
        EventKind::Lifecycle { event, detail } => {
            // SAFETY: `f` was registered for lifecycle events with this type
            // (`legacy`: the old API's, returning int; its value is ignored
            // as libvirt does).
            unsafe {
                if legacy {
                    let g: unsafe extern "C" fn(virConnectPtr, virDomainPtr, c_int, c_int, *mut c_void) -> c_int =
                        std::mem::transmute(f);
                    g(connp, d, *event, *detail, opaque as *mut c_void);
                } else {
                    let g: LifecycleAny = std::mem::transmute(f);
                    g(connp, d, *event, *detail, opaque as *mut c_void);
                }
            }
        }
        EventKind::Snapshot { event, name, old_name } => {
            let name = CString::new(name.as_str()).unwrap_or_default();
            let old = old_name.as_deref().map(|o| CString::new(o).unwrap_or_default());
            // SAFETY: `f` was registered for VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT
            // with this type; the strings live until it returns.
            unsafe {
                let g: SnapshotFn = std::mem::transmute(f);
                g(
                    connp,
                    d,
                    name.as_ptr(),
                    *event as c_int,
                    old.as_ref().map_or(std::ptr::null(), |o| o.as_ptr()),
                    opaque as *mut c_void,
                );
            }
        }
    }
}

/// After a callback is gone: its free function, its connection reference,
/// and (the last one) the connection's stream and the timer.
fn finish(cb: Callback) {
    if let Some(ff) = cb.ff {
        // SAFETY: the caller registered `ff` to release exactly this opaque.
        unsafe { ff(cb.opaque as *mut c_void) };
    }
    let (watch, timer, stream) = {
        let mut s = state();
        let mut watch = -1;
        let mut stream = None;
        if !s.callbacks.iter().any(|c| c.conn == cb.conn)
            && let Some(i) = s.conns.iter().position(|c| c.conn == cb.conn)
        {
            let c = s.conns.remove(i);
            watch = c.watch;
            stream = Some(c.stream);
            s.queue.retain(|(k, _)| *k != cb.conn);
        }
        let mut timer = -1;
        if s.callbacks.is_empty() && s.timer > 0 {
            timer = s.timer;
            s.timer = -1;
        }
        (watch, timer, stream)
    };
    if watch > 0 {
        // SAFETY: removes our own handle; its opaque is a plain key.
        unsafe { ev::virEventRemoveHandle(watch) };
    }
    if timer > 0 {
        // SAFETY: removes our own timer.
        unsafe { ev::virEventRemoveTimeout(timer) };
    }
    drop(stream);
    if let Err(_e) = handles::release::<ConnHandle, _>(cb.conn as virConnectPtr, "virConnectClose") {
        // Only fails for a reference C already gave up: nothing to release.
    }
}

fn timer_error() -> Error {
    Error::internal(ErrorDomain::None, "could not initialize domain event timer")
}

/// Adds a callback (the connection is already validated).
fn add(c: &handles::Ref<ConnHandle>, mut cb: Callback) -> Result<c_int, Error> {
    let conn = c.key();
    // The timer first, as libvirt: no event implementation, no callback.
    let have_timer = state().timer > 0;
    if !have_timer {
        // SAFETY: our own callback; the opaque is unused.
        let t = unsafe { ev::virEventAddTimeout(-1, Some(on_timer), std::ptr::null_mut(), None) };
        if t < 0 {
            return Err(timer_error());
        }
        let mut s = state();
        if s.timer > 0 {
            drop(s);
            // SAFETY: another thread won the race: drop ours.
            unsafe { ev::virEventRemoveTimeout(t) };
        } else {
            s.timer = t;
        }
    }
    let has_stream = state().conns.iter().any(|x| x.conn == conn);
    if !has_stream {
        let sink: events::Sink = Arc::new(move |e: &Event| enqueue(conn, vec![e.clone()]));
        let stream = c.conn.subscribe_events(sink)?;
        let fd = stream.fd();
        let stream = Arc::new(Mutex::new(stream));
        let mut watch = -1;
        if let Some(fd) = fd {
            // SAFETY: our own callback; the opaque is the connection key.
            watch = unsafe { ev::virEventAddHandle(fd, 1, Some(on_log), conn as *mut c_void, None) };
            if watch < 0 {
                return Err(timer_error());
            }
        }
        let mut s = state();
        if s.conns.iter().any(|x| x.conn == conn) {
            drop(s);
            if watch > 0 {
                // SAFETY: another thread won the race: drop our handle.
                unsafe { ev::virEventRemoveHandle(watch) };
            }
        } else {
            s.conns.push(ConnEvents { conn, stream, watch });
        }
    }
    handles::add_ref::<ConnHandle, _>(conn as virConnectPtr, "virConnectDomainEventRegisterAny")?;
    let mut s = state();
    if cb.legacy && s.callbacks.iter().any(|x| x.legacy && !x.removed && x.conn == conn && x.cb == cb.cb) {
        drop(s);
        if let Err(_e) = handles::release::<ConnHandle, _>(conn as virConnectPtr, "virConnectClose") {
            // The reference was taken just above: it cannot be gone.
        }
        return Err(Error::invalid_arg(ErrorDomain::None, "event callback already tracked"));
    }
    cb.id = s.next_id;
    s.next_id = s.next_id.wrapping_add(1).max(0);
    let id = cb.id;
    s.callbacks.push(cb);
    Ok(id)
}

/// Removes the callback `pick` selects; `missing` is the error when none.
fn remove(conn: usize, pick: impl Fn(&Callback) -> bool, missing: Error) -> Result<c_int, Error> {
    let gone = {
        let mut s = state();
        let Some(i) = s.callbacks.iter().position(|cb| cb.conn == conn && !cb.removed && pick(cb)) else {
            return Err(missing);
        };
        if s.callbacks[i].running > 0 {
            // Freed when its running callback returns.
            s.callbacks[i].removed = true;
            None
        } else {
            Some(s.callbacks.remove(i))
        }
    };
    if let Some(cb) = gone {
        finish(cb);
    }
    Ok(0)
}

/// Registers `cb` for events `eventID` (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`, any
/// other libvirt ID — accepted, never emitted — or
/// `VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT`) of `dom` (NULL: every domain of
/// `conn`). Callbacks run from the event loop; the `dom` a callback gets is
/// valid for the call (`virDomainRef` keeps it), and `conn` is the
/// registering connection. `freecb`, if not NULL, releases `opaque` after
/// deregistration. Needs a registered event
/// implementation (`virEventRegisterDefaultImpl`).
///
/// Returns: the callback ID (≥ 0), or −1. Since: libvirt 0.8.0.
///
/// # Safety
/// `conn`, `dom` are registry keys; `cb` must have the type `eventID`
/// calls for; `cb` and `freecb` must be safe to call with `opaque` from the
/// loop's thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectDomainEventRegisterAny(
    conn: virConnectPtr,
    dom: virDomainPtr,
    eventID: c_int,
    cb: virConnectDomainEventGenericCallback,
    opaque: *mut c_void,
    freecb: virFreeCallback,
) -> c_int {
    const F: &str = "virConnectDomainEventRegisterAny";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        let Some(f) = cb else {
            return Err(boundary::null_arg(F, "cb", DOM));
        };
        if eventID < 0 {
            return Err(boundary::negative_arg(F, "eventID", DOM));
        }
        if eventID >= events::EVENT_ID_LAST && eventID != events::EVENT_ID_SNAPSHOT {
            return Err(Error::invalid_arg_raw(
                DOM,
                F,
                "eventID",
                format!("eventID must be less than {}", events::EVENT_ID_LAST),
            ));
        }
        let filter = if dom.is_null() {
            None
        } else {
            let d = handles::domain(dom, F)?;
            if d.conn.key() != c.key() {
                return Err(Error::invalid_arg_raw(
                    DOM,
                    F,
                    "dom",
                    format!("domain '{}' in {F} must match connection", d.dom.name()),
                ));
            }
            Some(d.dom.uuid())
        };
        add(
            &c,
            Callback {
                id: 0,
                conn: c.key(),
                dom: filter,
                event_id: eventID,
                cb: f as usize,
                opaque: opaque as usize,
                ff: freecb,
                legacy: false,
                removed: false,
                running: 0,
            },
        )
    })
}

/// Removes the callback `callbackID` of `conn`.
///
/// Returns: 0, or −1 (unknown ID). Since: libvirt 0.8.0.
///
/// # Safety
/// `conn` is a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectDomainEventDeregisterAny(conn: virConnectPtr, callbackID: c_int) -> c_int {
    const F: &str = "virConnectDomainEventDeregisterAny";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        if callbackID < 0 {
            return Err(boundary::negative_arg(F, "callbackID", DOM));
        }
        remove(
            c.key(),
            |cb| cb.id == callbackID,
            Error::new(ErrorCode::InvalidArg, ErrorDomain::None, format!("could not find event callback {callbackID} for deletion")),
        )
    })
}

/// The old API: `cb` gets every domain's lifecycle events (once per
/// function: a second registration of the same `cb` fails).
///
/// Returns: 0, or −1. Since: libvirt 0.5.0.
///
/// # Safety
/// As [`virConnectDomainEventRegisterAny`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectDomainEventRegister(
    conn: virConnectPtr,
    cb: virConnectDomainEventCallback,
    opaque: *mut c_void,
    freecb: virFreeCallback,
) -> c_int {
    const F: &str = "virConnectDomainEventRegister";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        let Some(f) = cb else {
            return Err(boundary::null_arg(F, "cb", DOM));
        };
        add(
            &c,
            Callback {
                id: 0,
                conn: c.key(),
                dom: None,
                event_id: events::EVENT_ID_LIFECYCLE,
                cb: f as usize,
                opaque: opaque as usize,
                ff: freecb,
                legacy: true,
                removed: false,
                running: 0,
            },
        )
        .map(|_| 0)
    })
}

/// Removes a callback registered with [`virConnectDomainEventRegister`].
///
/// Returns: 0, or −1. Since: libvirt 0.5.0.
///
/// # Safety
/// `conn` is a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectDomainEventDeregister(
    conn: virConnectPtr,
    cb: virConnectDomainEventCallback,
) -> c_int {
    const F: &str = "virConnectDomainEventDeregister";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        let Some(f) = cb else {
            return Err(boundary::null_arg(F, "cb", DOM));
        };
        let f = f as usize;
        remove(
            c.key(),
            |cb| cb.legacy && cb.cb == f,
            Error::new(ErrorCode::InvalidArg, ErrorDomain::None, format!("event callback function {f:#x} not registered")),
        )
    })
}

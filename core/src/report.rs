//! libvirt's error reporting state, one implementation shared by the C
//! library (`capi`) and the Python module: the thread's last error
//! (`virGetLastError`), the process-wide error handler (`virSetErrorFunc`,
//! Python's `registerErrorHandler`), the choice between a connection's
//! handler, the global one and libvirt's default, and that default's line
//! on stderr (`virDefaultErrorFunc`).
//!
//! A binding keeps only what its language needs on top: the C library a
//! `virError` copy of the last error (C callers hold pointers into it), the
//! Python module the conversion to a `libvirtError`.
//!
//! Since 0.1.0.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::sync::Mutex;

use crate::error::{Error, ErrorDomain};

/// `VIR_ERR_WARNING`, the level libvirt's default handler prints as "warning".
pub const LEVEL_WARNING: i32 = 1;

/// One thread's reporting state: one thread-local, so a call's prologue
/// costs one TLS lookup (a `__tls_get_addr` call in a shared library).
struct ThreadState {
    /// The last error of this thread; `None` after a successful call.
    last: RefCell<Option<Error>>,
    /// An opaque key the binding notes for the connection of the current
    /// call (0: none), so a failing call can find that connection's handler.
    call_conn: Cell<usize>,
}

thread_local! {
    static STATE: ThreadState = const {
        ThreadState { last: RefCell::new(None), call_conn: Cell::new(0) }
    };
}

/// Starts a public API call: clears the last error and the noted connection.
pub fn begin_call() {
    STATE.with(|s| {
        if let Ok(mut l) = s.last.try_borrow_mut() {
            if l.is_some() {
                *l = None;
            }
        }
        s.call_conn.set(0);
    });
}

/// Clears this thread's last error (`virResetLastError`).
pub fn reset_last() {
    STATE.with(|s| {
        if let Ok(mut l) = s.last.try_borrow_mut() {
            *l = None;
        }
    });
}

/// Records `e` as this thread's last error (replacing any earlier one).
pub fn set_last(e: Error) {
    STATE.with(|s| {
        if let Ok(mut l) = s.last.try_borrow_mut() {
            *l = Some(e);
        }
    });
}

/// True when this thread has a recorded error.
pub fn has_last() -> bool {
    STATE.with(|s| s.last.try_borrow().is_ok_and(|l| l.is_some()))
}

/// Runs `f` on this thread's last error (borrowed; `None` when there is none).
pub fn with_last<R>(f: impl FnOnce(Option<&Error>) -> R) -> R {
    STATE.with(|s| match s.last.try_borrow() {
        Ok(l) => f(l.as_ref()),
        Err(_) => f(None),
    })
}

/// A copy of this thread's last error.
pub fn last() -> Option<Error> {
    with_last(|e| e.cloned())
}

/// Notes `key` as the connection of the current call on this thread.
pub fn note_call_conn(key: usize) {
    STATE.with(|s| s.call_conn.set(key));
}

/// The key the current call noted, if any (and forgets it).
pub fn take_call_conn() -> Option<usize> {
    STATE.with(|s| Some(s.call_conn.replace(0)).filter(|&k| k != 0))
}

/// The process-wide error handler of one binding: `H` is that binding's
/// handler (a C function and its data, a Python callable and its context).
/// Ownership: the slot owns the handler until it is replaced.
pub struct HandlerSlot<H> {
    inner: Mutex<Option<H>>,
}

impl<H: Clone> HandlerSlot<H> {
    /// An empty slot (libvirt's default: print to stderr).
    pub const fn new() -> Self {
        Self { inner: Mutex::new(None) }
    }

    /// Installs `h` (`None` restores the default).
    pub fn set(&self, h: Option<H>) {
        match self.inner.lock() {
            Ok(mut g) => *g = h,
            Err(p) => *p.into_inner() = h,
        }
    }

    /// The installed handler, if any.
    pub fn get(&self) -> Option<H> {
        match self.inner.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

impl<H: Clone> Default for HandlerSlot<H> {
    fn default() -> Self {
        Self::new()
    }
}

/// Dispatches an error as libvirt's `virDispatchError` does: the failing
/// call's connection handler if it has one, else the slot's global handler
/// (each through `call`), else `default` (libvirt prints to stderr).
pub fn dispatch<H: Clone>(slot: &HandlerSlot<H>, conn_handler: Option<H>, call: impl FnOnce(H), default: impl FnOnce()) {
    match conn_handler.or_else(|| slot.get()) {
        Some(h) => call(h),
        None => default(),
    }
}

/// The line libvirt's default handler prints for an error of domain number
/// `domain` and level `level`: `libvirt: <domain name> error : <message>`,
/// with one trailing newline.
pub fn default_line(domain: i32, level: i32, message: &str) -> String {
    let label = ErrorDomain::from_i32(domain).map_or("", ErrorDomain::label);
    let lvl = if level == LEVEL_WARNING { "warning" } else { "error" };
    let nl = if message.ends_with('\n') { "" } else { "\n" };
    format!("libvirt: {label} {lvl} : {message}{nl}")
}

/// Prints [`default_line`] to stderr (libvirt's `virDefaultErrorFunc`).
/// A failing stderr is not reported: there is nowhere left to report it.
pub fn print_default(domain: i32, level: i32, message: &str) {
    let line = default_line(domain, level, message);
    // Ignored on purpose: stderr is the reporting channel of last resort.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// [`print_default`] for a core error.
pub fn print_error(e: &Error) {
    print_default(e.domain as i32, crate::error::LEVEL_ERROR, &e.message);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn default_line_is_libvirts() {
        assert_eq!(default_line(0, 2, "boom"), "libvirt:  error : boom\n");
        assert_eq!(default_line(6, 2, "x\n"), "libvirt: Domain error : x\n");
        assert_eq!(default_line(35, 1, "w"), "libvirt: Domain Snapshot warning : w\n");
    }

    #[test]
    fn last_error_is_per_call_and_per_thread() {
        begin_call();
        assert!(!has_last());
        set_last(Error::bare(ErrorCode::NoDomain, ErrorDomain::Test));
        note_call_conn(7);
        assert_eq!(last().map(|e| e.code), Some(ErrorCode::NoDomain));
        std::thread::spawn(|| assert!(!has_last())).join().unwrap();
        assert_eq!(take_call_conn(), Some(7));
        assert_eq!(take_call_conn(), None);
        begin_call();
        assert!(!has_last());
    }

    #[test]
    fn a_connection_handler_wins_over_the_global_one() {
        let slot: HandlerSlot<u8> = HandlerSlot::new();
        let got = Cell::new(None);
        dispatch(&slot, None, |h| got.set(Some(h)), || got.set(Some(0)));
        assert_eq!(got.get(), Some(0));
        slot.set(Some(1));
        dispatch(&slot, None, |h| got.set(Some(h)), || got.set(Some(0)));
        assert_eq!(got.get(), Some(1));
        dispatch(&slot, Some(2), |h| got.set(Some(h)), || got.set(Some(0)));
        assert_eq!(got.get(), Some(2));
    }
}

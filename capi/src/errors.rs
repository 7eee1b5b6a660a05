//! libvirt's error reporting: `virError`, the thread-local last error, the
//! error callbacks and libvirt's default of printing each error to stderr.
//!
//! Every `char *` inside a `virError` comes from `malloc`, so the
//! thread-local error, per-connection errors and copies made by
//! `virSaveLastError`/`virCopyLastError` are all released the same way
//! (`virResetError`/`virFreeError`).

use std::cell::UnsafeCell;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;
use std::sync::Mutex;

use virsnap_core::{Error, ErrorCode, ErrorDomain};

use crate::boundary;
use crate::handles;
use crate::types::{virConnectPtr, virDomainPtr, virNetworkPtr};

/// A libvirt error (`struct _virError`), with libvirt's layout (80 bytes on x86-64).
///
/// Ownership: the strings belong to the structure; release them with
/// `virResetError` (or `virFreeError` for a copy made by `virSaveLastError`).
#[repr(C)]
pub struct _virError {
    /// The error code, a `virErrorNumber`.
    pub code: c_int,
    /// What part of the library raised this error, a `virErrorDomain`.
    pub domain: c_int,
    /// Human-readable informative error message (malloc'd).
    pub message: *mut c_char,
    /// How consequent is the error, a `virErrorLevel`.
    pub level: c_int,
    /// Deprecated, always NULL.
    pub conn: virConnectPtr,
    /// Deprecated, always NULL.
    pub dom: virDomainPtr,
    /// Extra string information (malloc'd or NULL).
    pub str1: *mut c_char,
    /// Extra string information (malloc'd or NULL).
    pub str2: *mut c_char,
    /// Extra string information (malloc'd or NULL).
    pub str3: *mut c_char,
    /// Extra number information.
    pub int1: c_int,
    /// Extra number information.
    pub int2: c_int,
    /// Deprecated, always NULL.
    pub net: virNetworkPtr,
}

/// `virError`.
pub type virError = _virError;
/// Pointer to a `virError`.
pub type virErrorPtr = *mut virError;

/// Signature of an error handler installed with `virSetErrorFunc` or
/// `virConnSetErrorFunc`. `error` is borrowed for the duration of the call.
pub type virErrorFunc = Option<unsafe extern "C" fn(userData: *mut c_void, error: virErrorPtr)>;

impl _virError {
    /// An empty error (`VIR_ERR_OK`).
    pub const fn empty() -> Self {
        Self {
            code: 0,
            domain: 0,
            message: ptr::null_mut(),
            level: 0,
            conn: ptr::null_mut(),
            dom: ptr::null_mut(),
            str1: ptr::null_mut(),
            str2: ptr::null_mut(),
            str3: ptr::null_mut(),
            int1: 0,
            int2: 0,
            net: ptr::null_mut(),
        }
    }

    /// True when every field is zero or NULL (as [`Self::empty`]).
    fn is_clear(&self) -> bool {
        // One OR chain, no early exits: every API call starts here.
        let ints = self.code | self.domain | self.level | self.int1 | self.int2;
        let ptrs = self.message as usize
            | self.str1 as usize
            | self.str2 as usize
            | self.str3 as usize
            | self.conn as usize
            | self.dom as usize
            | self.net as usize;
        ints == 0 && ptrs == 0
    }

    /// Frees the strings and zeroes the structure (libvirt's `virResetError`).
    pub fn reset(&mut self) {
        for p in [self.message, self.str1, self.str2, self.str3] {
            // SAFETY: every string stored in a virError by this library comes
            // from malloc (strdup), and is freed exactly once here before the
            // field is cleared.
            unsafe { libc::free(p.cast()) };
        }
        *self = Self::empty();
    }

    /// Replaces the contents with `e` (strings duplicated with malloc).
    pub fn set_from(&mut self, e: &Error) {
        self.reset();
        self.code = e.code as c_int;
        self.domain = raw_domain(e);
        self.level = virsnap_core::error::LEVEL_ERROR;
        self.message = malloc_str(&e.message);
        self.str1 = e.str1.as_deref().map_or(ptr::null_mut(), malloc_str);
        self.str2 = e.str2.as_deref().map_or(ptr::null_mut(), malloc_str);
        self.str3 = e.str3.as_deref().map_or(ptr::null_mut(), malloc_str);
        self.int1 = e.int1;
        self.int2 = e.int2;
    }

    /// Deep copy of `from` into `self` (libvirt's `virCopyError`).
    pub fn copy_from(&mut self, from: &virError) {
        self.reset();
        self.code = from.code;
        self.domain = from.domain;
        self.level = from.level;
        self.message = dup_c(from.message);
        self.str1 = dup_c(from.str1);
        self.str2 = dup_c(from.str2);
        self.str3 = dup_c(from.str3);
        self.int1 = from.int1;
        self.int2 = from.int2;
    }

    fn message_str(&self) -> String {
        if self.message.is_null() {
            String::new()
        } else {
            // SAFETY: non-NULL messages are NUL-terminated strings we (or a
            // caller-provided virError) own for the lifetime of `self`.
            unsafe { CStr::from_ptr(self.message) }
                .to_string_lossy()
                .into_owned()
        }
    }
}

fn dup_c(p: *const c_char) -> *mut c_char {
    if p.is_null() {
        ptr::null_mut()
    } else {
        // SAFETY: `p` is a NUL-terminated string owned by a live virError.
        unsafe { libc::strdup(p) }
    }
}

/// `strdup` of a Rust string (interior NULs are cut). NULL only if malloc fails.
pub fn malloc_str(s: &str) -> *mut c_char {
    let cut = s.split('\0').next().unwrap_or("");
    match CString::new(cut) {
        // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
        Ok(c) => unsafe { libc::strdup(c.as_ptr()) },
        Err(_) => ptr::null_mut(),
    }
}

/// `VIR_FROM_DOM`: libvirt's domain for invalid domain pointers (not in core's enum).
pub(crate) const VIR_FROM_DOM: c_int = 6;

/// The `virErrorDomain` number for `e` (core lacks `VIR_FROM_DOM`).
fn raw_domain(e: &Error) -> c_int {
    if e.code == ErrorCode::InvalidDomain && e.domain == ErrorDomain::None {
        VIR_FROM_DOM
    } else {
        e.domain as c_int
    }
}

/// libvirt's `virErrorDomainName` for the domains virsnap reports.
fn domain_label(d: c_int) -> &'static str {
    if d == VIR_FROM_DOM {
        "Domain"
    } else {
        ErrorDomain::from_i32(d).map_or("", ErrorDomain::label)
    }
}

/// The thread-local last error and the current call's connection: one
/// thread-local, so a call's prologue costs one TLS lookup (a
/// `__tls_get_addr` call in a shared library). Its `Drop` frees the
/// strings at thread exit.
struct LastError {
    err: UnsafeCell<virError>,
    /// Key of the connection the current call works on, for
    /// `virConnSetErrorFunc` handlers and `virConnGetLastError` (see
    /// `boundary::note_conn`); 0: none. A failing call resolves it again
    /// (a key is never reused, so a closed connection's key resolves to
    /// nothing).
    call_conn: std::cell::Cell<usize>,
}

impl Drop for LastError {
    fn drop(&mut self) {
        self.err.get_mut().reset();
    }
}

thread_local! {
    static LAST: LastError = const {
        LastError {
            err: UnsafeCell::new(virError::empty()),
            call_conn: std::cell::Cell::new(0),
        }
    };
}

/// Pointer to this thread's last error (never NULL while the thread lives).
pub(crate) fn last_ptr() -> virErrorPtr {
    LAST.with(|l| l.err.get())
}

/// Records `key` as the connection of the current call on this thread.
pub(crate) fn note_call_conn(key: usize) {
    LAST.with(|l| l.call_conn.set(key));
}

/// The key of the connection the current call noted, if it noted one
/// (and forgets that it did).
pub(crate) fn take_call_conn() -> Option<usize> {
    LAST.with(|l| Some(l.call_conn.replace(0)).filter(|&k| k != 0))
}

/// Starts an API call: clears the last error (as [`reset_last`]) and
/// forgets the previous call's connection, in one thread-local access.
pub(crate) fn begin_call() {
    LAST.with(|l| {
        // SAFETY: as in `with_last`: only this thread touches it, and no
        // other reference into it is alive here.
        let e = unsafe { &mut *l.err.get() };
        if !e.is_clear() {
            e.reset();
        }
        l.call_conn.set(0);
    });
}

fn with_last<R>(f: impl FnOnce(&mut virError) -> R) -> R {
    // SAFETY: the thread-local is only touched from this thread; no other
    // reference into it is alive while `f` runs (callers get raw pointers
    // only, and the library never calls out to C while holding this borrow).
    LAST.with(|l| f(unsafe { &mut *l.err.get() }))
}

/// Clears this thread's last error (`virResetLastError`). Every call
/// starts here, and usually there is nothing to clear: then no field is
/// written and no `free(NULL)` is called.
pub(crate) fn reset_last() {
    with_last(|e| {
        if !e.is_clear() {
            e.reset();
        }
    });
}

/// True when this thread has a recorded error.
pub(crate) fn has_last() -> bool {
    with_last(|e| e.code != 0)
}

/// Stores `e` as this thread's last error, keeping `errno` unchanged.
pub(crate) fn set_last(e: &Error) {
    let saved = errno();
    with_last(|l| l.set_from(e));
    set_errno(saved);
}

fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

fn set_errno(v: c_int) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = v };
}

/// libvirt's generic error: "An error occurred, but the cause is unknown".
pub(crate) fn generic_failure() -> Error {
    Error {
        code: ErrorCode::InternalError,
        domain: ErrorDomain::None,
        message: "An error occurred, but the cause is unknown".to_owned(),
        str1: None,
        str2: None,
        str3: None,
        int1: 0,
        int2: 0,
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Handler {
    pub func: virErrorFunc,
    pub data: usize,
}

static GLOBAL_HANDLER: Mutex<Handler> = Mutex::new(Handler {
    func: None,
    data: 0,
});

fn global_handler() -> Handler {
    match GLOBAL_HANDLER.lock() {
        Ok(g) => *g,
        Err(p) => *p.into_inner(),
    }
}

/// Dispatches this thread's last error as `virDispatchError` does: copy it
/// into the connection's error (if the failing call had one), then call the
/// connection's handler, else the global handler, else print it to stderr.
pub(crate) fn dispatch(conn: Option<handles::Ref<handles::ConnHandle>>) {
    if !has_last() {
        set_last(&generic_failure());
    }
    let saved = errno();
    let mut handler = global_handler();
    if let Some(c) = conn {
        with_last(|l| c.record_error(l));
        if let Some(h) = c.handler() {
            handler = h;
        }
    }
    let err = last_ptr();
    match handler.func {
        // SAFETY: the handler was installed by the caller with this
        // signature; `err` points to this thread's live last error.
        Some(f) => unsafe { f(handler.data as *mut c_void, err) },
        None => default_print(err),
    }
    set_errno(saved);
}

fn default_print(err: *const virError) {
    if err.is_null() {
        return;
    }
    // SAFETY: `err` is NULL (checked) or a virError provided by the caller or
    // by this library, valid for the duration of the call.
    let e = unsafe { &*err };
    if e.code == 0 {
        return;
    }
    let label = domain_label(e.domain);
    let lvl = if e.level == 1 { "warning" } else { "error" };
    let msg = e.message_str();
    let line = if msg.ends_with('\n') {
        format!("libvirt: {label} {lvl} : {msg}")
    } else {
        format!("libvirt: {label} {lvl} : {msg}\n")
    };
    use std::io::Write;
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Returns a pointer to the last error caught at the library level, or NULL
/// when the last call succeeded.
///
/// Returns: a pointer into thread-local storage, valid until the next API
/// call on this thread. Do not free it.
/// Since: libvirt 0.1.0.
///
/// # Safety
/// None: takes no arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virGetLastError() -> virErrorPtr {
    boundary::entry_keep("virGetLastError", || {
        Ok(if has_last() {
            last_ptr()
        } else {
            ptr::null_mut()
        })
    })
}

/// The code of the last error (`VIR_ERR_OK` = 0 when none).
///
/// Since: libvirt 4.5.0.
///
/// # Safety
/// None: takes no arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virGetLastErrorCode() -> c_int {
    boundary::entry_keep("virGetLastErrorCode", || Ok(with_last(|e| e.code)))
}

/// The domain of the last error (`VIR_FROM_NONE` = 0 when none).
///
/// Since: libvirt 4.5.0.
///
/// # Safety
/// None: takes no arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virGetLastErrorDomain() -> c_int {
    boundary::entry_keep("virGetLastErrorDomain", || Ok(with_last(|e| e.domain)))
}

/// The message of the last error, or `"no error"`.
///
/// Returns: a borrowed string, valid until the next API call on this thread.
/// Since: libvirt 1.0.6.
///
/// # Safety
/// None: takes no arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virGetLastErrorMessage() -> *const c_char {
    boundary::entry_keep("virGetLastErrorMessage", || {
        Ok(with_last(|e| {
            if e.code == 0 || e.message.is_null() {
                if e.code == 0 {
                    c"no error".as_ptr()
                } else {
                    c"unknown error".as_ptr()
                }
            } else {
                e.message.cast_const()
            }
        }))
    })
}

/// Resets the last error of this thread.
///
/// Since: libvirt 0.1.0.
///
/// # Safety
/// None: takes no arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virResetLastError() {
    boundary::entry_keep("virResetLastError", || {
        reset_last();
        Ok(())
    })
}

/// Copies the last error into a new malloc'd `virError`.
///
/// Returns: a copy the caller releases with `virFreeError`, or NULL if out of
/// memory. When there is no error, the copy has code `VIR_ERR_OK`.
/// Since: libvirt 0.6.1.
///
/// # Safety
/// None: takes no arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virSaveLastError() -> virErrorPtr {
    boundary::entry_keep("virSaveLastError", || {
        // SAFETY: calloc returns zeroed memory of the requested size or NULL.
        let p = unsafe { libc::calloc(1, std::mem::size_of::<virError>()) }.cast::<virError>();
        if p.is_null() {
            return Ok(p);
        }
        // SAFETY: `p` is a fresh zeroed allocation, a valid empty virError
        // (all-NULL pointers, zero ints).
        let copy = unsafe { &mut *p };
        with_last(|l| {
            if l.code != 0 {
                copy.copy_from(l);
            }
        });
        Ok(p)
    })
}

/// Copies the last error into `to`, first resetting `to`.
///
/// Returns: the error code of the copied error (0 when none), or −1 if `to`
/// is NULL. Since: libvirt 0.1.0.
///
/// # Safety
/// `to` must be NULL or point to a writable `virError` that is zeroed or was
/// filled by this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virCopyLastError(to: virErrorPtr) -> c_int {
    boundary::entry_keep("virCopyLastError", || {
        if to.is_null() {
            return Ok(-1);
        }
        // SAFETY: the caller promises `to` is a valid, writable virError.
        let to = unsafe { &mut *to };
        Ok(with_last(|l| {
            if l.code == 0 {
                to.reset();
            } else {
                to.copy_from(l);
            }
            to.code
        }))
    })
}

/// Resets `err`: frees its strings and zeroes it. NULL is ignored.
///
/// Since: libvirt 0.1.0.
///
/// # Safety
/// `err` must be NULL or a `virError` whose strings were allocated by this
/// library (or are NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virResetError(err: virErrorPtr) {
    boundary::entry_keep("virResetError", || {
        if !err.is_null() {
            // SAFETY: the caller promises `err` is a valid virError.
            unsafe { &mut *err }.reset();
        }
        Ok(())
    })
}

/// Resets and frees an error returned by `virSaveLastError`. NULL is ignored.
///
/// Since: libvirt 0.6.1.
///
/// # Safety
/// `err` must be NULL or a pointer returned by `virSaveLastError`, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virFreeError(err: virErrorPtr) {
    boundary::entry_keep("virFreeError", || {
        if !err.is_null() {
            // SAFETY: `err` came from virSaveLastError (calloc) per the contract.
            unsafe { &mut *err }.reset();
            // SAFETY: as above; freed exactly once.
            unsafe { libc::free(err.cast()) };
        }
        Ok(())
    })
}

/// Installs a process-wide error handler called for every error an API call
/// reports, instead of libvirt's default of printing it to stderr. A NULL
/// `handler` restores the default.
///
/// Since: libvirt 0.1.0.
///
/// # Safety
/// `handler` must be NULL or a function safe to call from any thread with
/// `userData`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virSetErrorFunc(userData: *mut c_void, handler: virErrorFunc) {
    boundary::entry_keep("virSetErrorFunc", || {
        let mut g = match GLOBAL_HANDLER.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = Handler {
            func: handler,
            data: userData as usize,
        };
        Ok(())
    })
}

/// The default error handler: prints `libvirt: <domain> error : <message>`
/// to stderr. Does nothing for NULL or `VIR_ERR_OK`.
///
/// Since: libvirt 0.1.0.
///
/// # Safety
/// `err` must be NULL or point to a valid `virError`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDefaultErrorFunc(err: virErrorPtr) {
    boundary::entry_keep("virDefaultErrorFunc", || {
        default_print(err);
        Ok(())
    })
}

/// The last error recorded on `conn` (deprecated in libvirt).
///
/// Returns: a pointer owned by the connection (valid while it is open), or
/// NULL if `conn` is NULL or not a live connection.
/// Since: libvirt 0.1.0.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnGetLastError(conn: virConnectPtr) -> virErrorPtr {
    boundary::entry_keep("virConnGetLastError", || {
        Ok(handles::conn_quiet(conn).map_or(ptr::null_mut(), |c| c.error_ptr()))
    })
}

/// Resets the last error recorded on `conn` (deprecated in libvirt).
///
/// Since: libvirt 0.1.0.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnResetLastError(conn: virConnectPtr) {
    boundary::entry_keep("virConnResetLastError", || {
        if let Some(c) = handles::conn_quiet(conn) {
            c.reset_error();
        }
        Ok(())
    })
}

/// Installs an error handler for errors raised by calls on `conn`; it takes
/// precedence over the global one. NULL `handler` removes it.
///
/// Since: libvirt 0.1.0.
///
/// # Safety
/// `conn` may be any value (used as a registry key); `handler` must be NULL
/// or safe to call from any thread with `userData`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnSetErrorFunc(
    conn: virConnectPtr,
    userData: *mut c_void,
    handler: virErrorFunc,
) {
    boundary::entry_keep("virConnSetErrorFunc", || {
        if let Some(c) = handles::conn_quiet(conn) {
            c.set_handler(Handler {
                func: handler,
                data: userData as usize,
            });
        }
        Ok(())
    })
}

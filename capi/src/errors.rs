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

use virsnap_core::{report, Error, ErrorCode, ErrorDomain};

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
        self.domain = e.domain as c_int;
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

/// The C copy of this thread's last error: C callers get pointers into it
/// (`virGetLastError`, handlers), valid until the next error on the thread.
/// Which error is the last one, and whether there is one, is core's
/// ([`virsnap_core::report`], shared with the Python module); this copy
/// is refreshed whenever an error is recorded. Its `Drop` frees the
/// strings at thread exit.
struct CLastError(UnsafeCell<virError>);

impl Drop for CLastError {
    fn drop(&mut self) {
        self.0.get_mut().reset();
    }
}

thread_local! {
    static C_LAST: CLastError = const { CLastError(UnsafeCell::new(virError::empty())) };
}

/// Pointer to this thread's C copy of the last error (never NULL while the
/// thread lives; meaningful only while [`has_last`]).
pub(crate) fn last_ptr() -> virErrorPtr {
    C_LAST.with(|l| l.0.get())
}

/// Records `key` as the connection of the current call on this thread, for
/// `virConnSetErrorFunc` handlers and `virConnGetLastError` (see
/// `boundary::note_conn`). A failing call resolves it again (a key is never
/// reused, so a closed connection's key resolves to nothing).
pub(crate) fn note_call_conn(key: usize) {
    report::note_call_conn(key);
}

/// The key of the connection the current call noted, if it noted one
/// (and forgets that it did).
pub(crate) fn take_call_conn() -> Option<usize> {
    report::take_call_conn()
}

/// Starts an API call: clears the last error and forgets the previous
/// call's connection, in one thread-local access.
pub(crate) fn begin_call() {
    report::begin_call();
}

/// Runs `f` on this thread's C copy of the last error, or on `None` when
/// the thread has no error (none recorded since the call began, or a C
/// caller reset the copy with `virResetError`).
fn with_last<R>(f: impl FnOnce(Option<&mut virError>) -> R) -> R {
    if !report::has_last() {
        return f(None);
    }
    // SAFETY: the thread-local is only touched from this thread; no other
    // reference into it is alive while `f` runs (callers get raw pointers
    // only, and the library never calls out to C while holding this borrow).
    C_LAST.with(|l| f(Some(unsafe { &mut *l.0.get() }).filter(|e| e.code != 0)))
}

/// Clears this thread's last error (`virResetLastError`).
pub(crate) fn reset_last() {
    report::reset_last();
}

/// True when this thread has a recorded error.
pub(crate) fn has_last() -> bool {
    with_last(|e| e.is_some())
}

/// Stores `e` as this thread's last error, keeping `errno` unchanged.
pub(crate) fn set_last(e: &Error) {
    let saved = errno();
    report::set_last(e.clone());
    // SAFETY: as in `with_last`.
    C_LAST.with(|l| unsafe { &mut *l.0.get() }.set_from(e));
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

/// A C error handler and its `userData`.
#[derive(Clone, Copy)]
pub(crate) struct Handler {
    pub func: virErrorFunc,
    pub data: usize,
}

/// The handler `virSetErrorFunc` installed (empty: libvirt's default).
static GLOBAL_HANDLER: report::HandlerSlot<Handler> = report::HandlerSlot::new();

/// Dispatches this thread's last error as `virDispatchError` does: copy it
/// into the connection's error (if the failing call had one), then call the
/// connection's handler, else the global handler, else print it to stderr
/// (the choice is core's [`report::dispatch`]).
pub(crate) fn dispatch(conn: Option<handles::Ref<handles::ConnHandle>>) {
    if !has_last() {
        set_last(&generic_failure());
    }
    let saved = errno();
    let mut conn_handler = None;
    if let Some(c) = conn {
        with_last(|l| {
            if let Some(l) = l {
                c.record_error(l);
            }
        });
        conn_handler = c.handler();
    }
    let err = last_ptr();
    report::dispatch(
        &GLOBAL_HANDLER,
        conn_handler,
        |h| {
            if let Some(f) = h.func {
                // SAFETY: the handler was installed by the caller with this
                // signature; `err` points to this thread's live last error.
                unsafe { f(h.data as *mut c_void, err) }
            }
        },
        || default_print(err),
    );
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
    report::print_default(e.domain, e.level, &e.message_str());
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
        Ok(with_last(|l| l.map_or(ptr::null_mut(), ptr::from_mut)))
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
    boundary::entry_keep("virGetLastErrorCode", || {
        Ok(with_last(|e| e.map_or(0, |e| e.code)))
    })
}

/// The domain of the last error (`VIR_FROM_NONE` = 0 when none).
///
/// Since: libvirt 4.5.0.
///
/// # Safety
/// None: takes no arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virGetLastErrorDomain() -> c_int {
    boundary::entry_keep("virGetLastErrorDomain", || {
        Ok(with_last(|e| e.map_or(0, |e| e.domain)))
    })
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
        Ok(with_last(|e| match e {
            None => c"no error".as_ptr(),
            Some(e) if e.message.is_null() => c"unknown error".as_ptr(),
            Some(e) => e.message.cast_const(),
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
            if let Some(l) = l {
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
            match l {
                None => to.reset(),
                Some(l) => to.copy_from(l),
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
        GLOBAL_HANDLER.set(handler.map(|f| Handler {
            func: Some(f),
            data: userData as usize,
        }));
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

//! The shape of every export (style.md §8.1): reset the last error, catch
//! panics, map `Err` to libvirt's sentinel and dispatch the error.

use std::any::Any;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_uint};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use virsnap_core::{Error, ErrorCode, ErrorDomain};

use crate::errors;
use crate::handles::{self, ConnHandle, Ref};

/// Libvirt's failure value for a return type.
pub trait Sentinel: Copy {
    /// −1, NULL, or `(unsigned)-1`.
    const FAIL: Self;
    /// True when `self` is the failure value.
    fn is_fail(&self) -> bool;
}

impl Sentinel for c_int {
    const FAIL: Self = -1;
    fn is_fail(&self) -> bool {
        *self == -1
    }
}

impl Sentinel for c_uint {
    const FAIL: Self = c_uint::MAX;
    fn is_fail(&self) -> bool {
        false
    }
}

impl<T> Sentinel for *mut T {
    const FAIL: Self = ptr::null_mut();
    fn is_fail(&self) -> bool {
        false
    }
}

impl<T> Sentinel for *const T {
    const FAIL: Self = ptr::null();
    fn is_fail(&self) -> bool {
        false
    }
}

impl Sentinel for () {
    const FAIL: Self = ();
    fn is_fail(&self) -> bool {
        false
    }
}

/// Records the connection the current call works on (for error handlers).
pub(crate) fn note_conn(c: &ConnHandle) {
    errors::note_call_conn(c.key());
}

/// The connection the failing call noted, if it is still open.
fn take_conn() -> Option<Ref<ConnHandle>> {
    let key = errors::take_call_conn()?;
    handles::conn_quiet(key as crate::types::virConnectPtr)
}

fn panic_error(func: &str, payload: &(dyn Any + Send)) -> Error {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    Error::internal(ErrorDomain::None, format!("panic in {func}: {text}"))
}

/// Runs one API call: resets this thread's last error, runs `f` under
/// `catch_unwind`, and on `Err` or panic stores the `virError`, dispatches
/// it (handler or stderr) and returns `R::FAIL`.
pub fn entry<R: Sentinel>(func: &str, f: impl FnOnce() -> Result<R, Error>) -> R {
    errors::begin_call();
    let out = catch_unwind(AssertUnwindSafe(f));
    let err = match out {
        Ok(Ok(v)) => {
            if v.is_fail() {
                errors::dispatch(take_conn());
            }
            return v;
        }
        Ok(Err(e)) => e,
        Err(p) => panic_error(func, &*p),
    };
    errors::set_last(&err);
    // A panic in a drop or handler during dispatch must not cross the boundary.
    let conn = take_conn();
    let _ = catch_unwind(AssertUnwindSafe(|| errors::dispatch(conn)));
    R::FAIL
}

/// Like [`entry`] but does not reset or dispatch the last error: for the
/// error-reading functions (`virGetLastError` …) and void helpers.
pub fn entry_keep<R: Sentinel>(func: &str, f: impl FnOnce() -> Result<R, Error>) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            errors::set_last(&e);
            R::FAIL
        }
        Err(p) => {
            errors::set_last(&panic_error(func, &*p));
            R::FAIL
        }
    }
}

/// Reads a required C string argument: NULL → `VIR_ERR_INVALID_ARG`
/// "`<arg>` in `<func>` must not be NULL" in `domain`; invalid UTF-8 →
/// `VIR_ERR_INVALID_ARG` too.
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string valid for `'a`.
pub unsafe fn cstr_arg<'a>(
    p: *const c_char,
    arg: &str,
    func: &str,
    domain: ErrorDomain,
) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::null_arg(func, arg).in_domain(domain));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|_| {
        Error::invalid_arg_raw(
            domain,
            func,
            arg,
            format!("{arg} in {func} must be valid UTF-8"),
        )
    })
}

/// Reads an optional C string argument (NULL → `None`).
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string valid for `'a`.
pub unsafe fn opt_cstr<'a>(
    p: *const c_char,
    arg: &str,
    func: &str,
    domain: ErrorDomain,
) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { cstr_arg(p, arg, func, domain) }.map(Some)
    }
}

/// `VIR_ERR_INVALID_ARG` "`<arg>` in `<func>` must not be NULL".
pub fn null_arg(func: &str, arg: &str, domain: ErrorDomain) -> Error {
    Error::null_arg(func, arg).in_domain(domain)
}

/// `VIR_ERR_INVALID_ARG` "`<arg>` in `<func>` must be zero or greater".
pub fn negative_arg(func: &str, arg: &str, domain: ErrorDomain) -> Error {
    Error::invalid_arg_raw(
        domain,
        func,
        arg,
        format!("{arg} in {func} must be zero or greater"),
    )
}

/// A malloc'd copy of `s` for the caller to `free()`; out of memory → error.
pub fn out_string(s: &str) -> Result<*mut c_char, Error> {
    // str::find scans with memchr (an XML text is kilobytes long).
    let len = s.find('\0').unwrap_or(s.len());
    malloc_copy(&s.as_bytes()[..len])
}

/// [`out_string`] for short bytes (a snapshot name) that need no UTF-8
/// check: a malloc'd NUL-terminated copy up to the first NUL.
pub fn out_bytes(bytes: &[u8]) -> Result<*mut c_char, Error> {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    malloc_copy(&bytes[..len])
}

/// One malloc and one copy of `bytes` (no NUL inside) plus a NUL (as
/// errors::malloc_str: no intermediate CString, no strdup rescan).
fn malloc_copy(bytes: &[u8]) -> Result<*mut c_char, Error> {
    let len = bytes.len();
    // SAFETY: malloc returns NULL or `len + 1` writable bytes.
    let p = unsafe { libc::malloc(len + 1) }.cast::<c_char>();
    if p.is_null() {
        return Err(Error::bare(ErrorCode::NoMemory, ErrorDomain::None));
    }
    // SAFETY: `p` has room for `len + 1` bytes, `bytes` holds `len`, and the
    // fresh allocation cannot overlap `bytes`.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), p, len);
        *p.add(len) = 0;
    }
    Ok(p)
}

/// A malloc'd array of `n + 1` NULL pointers (the caller fills the first
/// `n`; the last stays the terminator); out of memory → error.
pub fn out_array<T>(n: usize) -> Result<*mut *mut T, Error> {
    // SAFETY: calloc returns zeroed memory for n + 1 pointers or NULL.
    let arr = unsafe { libc::calloc(n + 1, std::mem::size_of::<*mut T>()) }.cast::<*mut T>();
    if arr.is_null() {
        return Err(Error::bare(ErrorCode::NoMemory, ErrorDomain::None));
    }
    Ok(arr)
}

//! libvirt-qemu.so.0's pass-through calls (libvirt's `libvirt-qemu.c`):
//! a command to the running guest's QEMU monitor or guest agent. They work
//! on the qemu driver; other drivers give `VIR_ERR_NO_SUPPORT`.
//!
//! Exported as `__virsnap_qemu_NAME`: `libvirt-compat/libvirt-qemu.so.0`
//! defines the public names with libvirt's version nodes and forwards here
//! (see `capi/build.rs`).

use std::os::raw::{c_char, c_int, c_uint};

use virsnap_core::{Error, ErrorCode, ErrorDomain};

use crate::boundary::{self, entry};
use crate::handles;
use crate::types::virDomainPtr;

/// libvirt-qemu.c reports from `VIR_FROM_NONE`.
const FROM: ErrorDomain = ErrorDomain::None;

/// Runs `cmd` on the domain's monitor and stores the malloc'd reply in `*result`.
///
/// # Safety
/// `cmd` NULL or a C string; `result` NULL or writable.
unsafe fn monitor(
    domain: virDomainPtr,
    cmd: *const c_char,
    result: *mut *mut c_char,
    flags: c_uint,
    func: &str,
) -> Result<c_int, Error> {
    let d = handles::domain(domain, func)?;
    if result.is_null() {
        return Err(boundary::null_arg(func, "result", FROM));
    }
    // SAFETY: non-NULL and writable per the contract.
    unsafe { *result = std::ptr::null_mut() };
    // SAFETY: NULL or a C string per the contract.
    let cmd = unsafe { boundary::cstr_arg(cmd, "cmd", func, FROM) }?;
    let reply = d.dom.qemu_monitor_command(cmd, flags, func)?;
    let out = boundary::out_string(&reply)?;
    // SAFETY: non-NULL and writable (checked above).
    unsafe { *result = out };
    Ok(0)
}

/// Sends `cmd` to the QEMU monitor of the running `domain`: QMP JSON, or an
/// HMP command line with `VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP` (1).
///
/// Returns: 0 with `*result` a malloc'd reply the caller `free()`s (QMP: the
/// reply object as compact JSON, an error reply included), or −1.
/// Since: libvirt 0.8.3.
///
/// # Safety
/// `domain` is a registry key; `cmd` NULL or a C string; `result` NULL or writable.
#[unsafe(export_name = "__virsnap_qemu_virDomainQemuMonitorCommand")]
pub unsafe extern "C" fn virDomainQemuMonitorCommand(
    domain: virDomainPtr,
    cmd: *const c_char,
    result: *mut *mut c_char,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainQemuMonitorCommand";
    // SAFETY: forwarded contract.
    entry(F, || unsafe { monitor(domain, cmd, result, flags, F) })
}

/// As [`virDomainQemuMonitorCommand`], with file descriptors: passing
/// descriptors in (`ninfiles` > 0) is not supported; none come back
/// (`*noutfiles` = 0, `*outfiles` = NULL).
///
/// Returns: 0 or −1. Since: libvirt 8.2.0.
///
/// # Safety
/// As [`virDomainQemuMonitorCommand`]; `noutfiles` and `outfiles` NULL or writable.
#[unsafe(export_name = "__virsnap_qemu_virDomainQemuMonitorCommandWithFiles")]
pub unsafe extern "C" fn virDomainQemuMonitorCommandWithFiles(
    domain: virDomainPtr,
    cmd: *const c_char,
    ninfiles: c_uint,
    _infiles: *mut c_int,
    noutfiles: *mut c_uint,
    outfiles: *mut *mut c_int,
    result: *mut *mut c_char,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainQemuMonitorCommandWithFiles";
    entry(F, || {
        handles::domain(domain, F)?;
        if ninfiles > 0 {
            return Err(Error::new(
                ErrorCode::NoSupport,
                FROM,
                "fd passing is not supported by this connection",
            ));
        }
        if !outfiles.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { *outfiles = std::ptr::null_mut() };
        }
        if !noutfiles.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { *noutfiles = 0 };
        }
        // SAFETY: forwarded contract.
        unsafe { monitor(domain, cmd, result, flags, F) }
    })
}

/// Sends `cmd` (JSON) to the guest agent of the running `domain`, waiting
/// `timeout` seconds (or a `VIR_DOMAIN_QEMU_AGENT_COMMAND_*` value).
///
/// Returns: the malloc'd reply the caller `free()`s, or NULL. virsnap's
/// guests have no agent channel, so a running qemu guest gives libvirt's
/// `VIR_ERR_ARGUMENT_UNSUPPORTED` "QEMU guest agent is not configured".
/// Since: libvirt 0.10.0.
///
/// # Safety
/// `domain` is a registry key; `cmd` NULL or a C string.
#[unsafe(export_name = "__virsnap_qemu_virDomainQemuAgentCommand")]
pub unsafe extern "C" fn virDomainQemuAgentCommand(
    domain: virDomainPtr,
    cmd: *const c_char,
    timeout: c_int,
    flags: c_uint,
) -> *mut c_char {
    const F: &str = "virDomainQemuAgentCommand";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        // SAFETY: NULL or a C string per the contract.
        let cmd = unsafe { boundary::cstr_arg(cmd, "cmd", F, FROM) }?;
        let reply = d.dom.qemu_agent_command(cmd, timeout, flags)?;
        boundary::out_string(&reply)
    })
}

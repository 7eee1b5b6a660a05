//! What programs ask a connection before reaching snapshot code
//! (libvirt's `libvirt-host.c`): liveness and security, host name,
//! capabilities, node information, vCPU limits, versions, sysinfo, close
//! callbacks and keepalive; and the domain facts bindings read alongside
//! (`virDomainGetOSType`, `virDomainGetMaxMemory`, `virDomainIsPersistent`,
//! `virDomainIsUpdated`). Values come from `virsnap_core::host`.

use std::os::raw::{c_char, c_int, c_uint, c_ulong, c_ulonglong, c_void};

use virsnap_core::{Error, ErrorCode, ErrorDomain};

use crate::boundary::{self, entry};
use crate::event::virFreeCallback;
use crate::handles;
use crate::types::{virConnectPtr, virDomainPtr};

const NONE: ErrorDomain = ErrorDomain::None;
const DOM: ErrorDomain = ErrorDomain::Domain;

/// Host node information (`struct _virNodeInfo`), filled by `virNodeGetInfo`.
/// Layout as libvirt's.
#[repr(C)]
pub struct _virNodeInfo {
    /// CPU model, NUL-terminated.
    pub model: [c_char; 32],
    /// Memory size in KiB.
    pub memory: c_ulong,
    /// Number of active CPUs.
    pub cpus: c_uint,
    /// Expected CPU frequency in MHz, 0 if unknown.
    pub mhz: c_uint,
    /// Number of NUMA cells, 1 for uniform memory access.
    pub nodes: c_uint,
    /// Number of CPU sockets per node.
    pub sockets: c_uint,
    /// Number of cores per socket.
    pub cores: c_uint,
    /// Number of threads per core.
    pub threads: c_uint,
}
/// `virNodeInfo`.
pub type virNodeInfo = _virNodeInfo;
/// Pointer to a caller-owned `virNodeInfo`.
pub type virNodeInfoPtr = *mut virNodeInfo;

/// Called when a connection closes for a reason other than
/// `virConnectClose` (`virConnectCloseFunc`): `(conn, reason, opaque)`.
pub type virConnectCloseFunc =
    Option<unsafe extern "C" fn(conn: virConnectPtr, reason: c_int, opaque: *mut c_void)>;

/// Whether the connection is alive. virsnap's drivers run in-process (the
/// ESX one over HTTPS per request), so an open connection is alive.
///
/// Returns: 1, or −1 for an invalid connection. Since: libvirt 0.9.8.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectIsAlive(conn: virConnectPtr) -> c_int {
    entry("virConnectIsAlive", || {
        handles::conn(conn, "virConnectIsAlive")?;
        Ok(1)
    })
}

/// Whether the connection is encrypted: 1 for ESX (HTTPS), else 0 (no
/// network transport).
///
/// Returns: 1, 0, or −1 for an invalid connection. Since: libvirt 0.7.3.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectIsEncrypted(conn: virConnectPtr) -> c_int {
    entry("virConnectIsEncrypted", || {
        let c = handles::conn(conn, "virConnectIsEncrypted")?;
        Ok(c_int::from(virsnap_core::host::is_encrypted(&c.conn)))
    })
}

/// Whether the connection is secure against eavesdropping: 1 (local, or
/// HTTPS), as libvirt's local drivers report.
///
/// Returns: 1, or −1 for an invalid connection. Since: libvirt 0.7.3.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectIsSecure(conn: virConnectPtr) -> c_int {
    entry("virConnectIsSecure", || {
        handles::conn(conn, "virConnectIsSecure")?;
        Ok(1)
    })
}

/// The host name of the hypervisor host (libvirt's `virGetHostname`).
///
/// Returns: a malloc'd string the caller `free()`s, or NULL.
/// Since: libvirt 0.3.0.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectGetHostname(conn: virConnectPtr) -> *mut c_char {
    entry("virConnectGetHostname", || {
        let c = handles::conn(conn, "virConnectGetHostname")?;
        boundary::out_string(&hostname(&c.conn)?)
    })
}

/// The capabilities XML of the driver (for test:///…, libvirt's fixed
/// fake host and guests).
///
/// Returns: a malloc'd string the caller `free()`s, or NULL.
/// Since: libvirt 0.2.1.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectGetCapabilities(conn: virConnectPtr) -> *mut c_char {
    entry("virConnectGetCapabilities", || {
        let c = handles::conn(conn, "virConnectGetCapabilities")?;
        boundary::out_string(&virsnap_core::host::capabilities(&c.conn)?)
    })
}

/// The host's SMBIOS sysinfo XML. `flags` must be 0.
///
/// Returns: a malloc'd string the caller `free()`s, or NULL.
/// Since: libvirt 0.8.8.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectGetSysinfo(conn: virConnectPtr, flags: c_uint) -> *mut c_char {
    const F: &str = "virConnectGetSysinfo";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        boundary::out_string(&virsnap_core::host::sysinfo_flags(&c.conn, flags)?)
    })
}

/// Fills `info` with the host's node information (test driver: libvirt's
/// fixed fake node; qemu: this machine, as libvirt computes it).
///
/// Returns: 0, or −1. Since: libvirt 0.1.0.
///
/// # Safety
/// `conn` is a registry key; `info` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virNodeGetInfo(conn: virConnectPtr, info: virNodeInfoPtr) -> c_int {
    const F: &str = "virNodeGetInfo";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        if info.is_null() {
            return Err(boundary::null_arg(F, "info", DOM));
        }
        let n = virsnap_core::host::node_info(&c.conn)?;
        // SAFETY: non-NULL and writable per the contract.
        let out = unsafe { &mut *info };
        out.model = [0; 32];
        for (d, s) in out.model.iter_mut().zip(n.model.bytes().take(31)) {
            *d = s as c_char;
        }
        out.memory = n.memory as c_ulong;
        out.cpus = n.cpus;
        out.mhz = n.mhz;
        out.nodes = n.nodes;
        out.sockets = n.sockets;
        out.cores = n.cores;
        out.threads = n.threads;
        Ok(0)
    })
}

/// The most virtual CPUs a guest of `type` may have (NULL: the driver's
/// default type).
///
/// Returns: the count, or −1. Since: libvirt 0.2.1.
///
/// # Safety
/// `conn` is a registry key; `type` NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectGetMaxVcpus(conn: virConnectPtr, r#type: *const c_char) -> c_int {
    const F: &str = "virConnectGetMaxVcpus";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        // SAFETY: forwarded contract.
        let kind = unsafe { boundary::opt_cstr(r#type, "type", F, NONE) }?;
        virsnap_core::host::max_vcpus(&c.conn, kind)
    })
}

/// The hypervisor version in `hvVer` (major * 1,000,000 + minor * 1,000 +
/// release; the test driver reports 2 as libvirt's does).
///
/// Returns: 0, or −1. Since: libvirt 0.0.3.
///
/// # Safety
/// `conn` is a registry key; `hvVer` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectGetVersion(conn: virConnectPtr, hvVer: *mut c_ulong) -> c_int {
    const F: &str = "virConnectGetVersion";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        if hvVer.is_null() {
            return Err(boundary::null_arg(F, "hvVer", DOM));
        }
        let v = c.conn.hypervisor_version()?;
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *hvVer = v as c_ulong };
        Ok(0)
    })
}

/// Free memory of the host in bytes.
///
/// Returns: the amount, or 0 on error. Since: libvirt 0.3.3.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virNodeGetFreeMemory(conn: virConnectPtr) -> c_ulonglong {
    const F: &str = "virNodeGetFreeMemory";
    let mut out: c_ulonglong = 0;
    let _: c_int = entry(F, || {
        let c = handles::conn(conn, F)?;
        out = virsnap_core::host::free_memory(&c.conn)?;
        Ok(0)
    });
    out
}

/// Whether the domain starts with the host: virsnap's test and qemu
/// drivers never mark a domain autostart, so 0 (libvirt's default).
///
/// Returns: 0 in `*autostart`, or −1. Since: libvirt 0.2.1.
///
/// # Safety
/// `domain` is a registry key; `autostart` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetAutostart(domain: virDomainPtr, autostart: *mut c_int) -> c_int {
    const F: &str = "virDomainGetAutostart";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        if autostart.is_null() {
            return Err(boundary::null_arg(F, "autostart", DOM));
        }
        match d.conn.conn.type_name().to_ascii_uppercase().as_str() {
            "TEST" | "QEMU" => {
                // SAFETY: non-NULL and writable per the contract.
                unsafe { *autostart = 0 };
                Ok(0)
            }
            _ => Err(Error::new(ErrorCode::NoSupport, DOM, F)),
        }
    })
}

/// Registers a callback for a connection closed by the hypervisor side.
/// virsnap's drivers are in-process and never close a connection on their
/// own, so, as libvirt's local drivers, this only checks its arguments:
/// `cb` is never called and `freecb` is not called either.
///
/// Returns: 0, or −1 (invalid connection, NULL `cb`). Since: libvirt 0.10.0.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectRegisterCloseCallback(
    conn: virConnectPtr,
    cb: virConnectCloseFunc,
    opaque: *mut c_void,
    freecb: virFreeCallback,
) -> c_int {
    const F: &str = "virConnectRegisterCloseCallback";
    let _ = (opaque, freecb);
    entry(F, || {
        handles::conn(conn, F)?;
        if cb.is_none() {
            return Err(boundary::null_arg(F, "cb", DOM));
        }
        Ok(0)
    })
}

/// Unregisters a close callback (see `virConnectRegisterCloseCallback`).
///
/// Returns: 0, or −1 (invalid connection, NULL `cb`). Since: libvirt 0.10.0.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectUnregisterCloseCallback(
    conn: virConnectPtr,
    cb: virConnectCloseFunc,
) -> c_int {
    const F: &str = "virConnectUnregisterCloseCallback";
    entry(F, || {
        handles::conn(conn, F)?;
        if cb.is_none() {
            return Err(boundary::null_arg(F, "cb", DOM));
        }
        Ok(0)
    })
}

/// Keepalive applies to remote connections only: like libvirt's local
/// drivers, virsnap's fail with `VIR_ERR_NO_SUPPORT`.
///
/// Returns: −1. Since: libvirt 0.9.8.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectSetKeepAlive(conn: virConnectPtr, interval: c_int, count: c_uint) -> c_int {
    const F: &str = "virConnectSetKeepAlive";
    let _ = (interval, count);
    entry(F, || {
        handles::conn(conn, F)?;
        Err::<c_int, _>(Error::new(ErrorCode::NoSupport, DOM, F))
    })
}

/// The OS type of the domain (`hvm`, …; the test driver says `linux`).
///
/// Returns: a malloc'd string the caller `free()`s, or NULL.
/// Since: libvirt 0.0.3.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetOSType(domain: virDomainPtr) -> *mut c_char {
    const F: &str = "virDomainGetOSType";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        if d.conn.conn.type_name().eq_ignore_ascii_case("TEST") {
            return boundary::out_string("linux");
        }
        let xml = d.dom.xml_desc(0)?;
        boundary::out_string(&os_type(&xml).unwrap_or_else(|| "hvm".to_owned()))
    })
}

/// The text of `<domain><os><type>` in a domain XML.
fn os_type(xml: &str) -> Option<String> {
    let os = xml.find("<os>").or_else(|| xml.find("<os "))?;
    let rest = &xml[os..];
    let t = rest.find("<type")?;
    let rest = &rest[t..];
    let gt = rest.find('>')?;
    if rest[..gt].ends_with('/') {
        return None;
    }
    let rest = &rest[gt + 1..];
    let end = rest.find("</type>")?;
    Some(rest[..end].trim().to_owned())
}

/// The maximum memory of the domain in KiB.
///
/// Returns: the size, or 0 on error. Since: libvirt 0.0.3.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetMaxMemory(domain: virDomainPtr) -> c_ulong {
    const F: &str = "virDomainGetMaxMemory";
    let mut out: c_ulong = 0;
    let _: c_int = entry(F, || {
        let d = handles::domain(domain, F)?;
        out = d.dom.info()?.max_mem as c_ulong;
        Ok(0)
    });
    out
}

/// Whether the domain has a persistent configuration.
///
/// Returns: 1, 0, or −1. Since: libvirt 0.7.3.
///
/// # Safety
/// `dom` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainIsPersistent(dom: virDomainPtr) -> c_int {
    const F: &str = "virDomainIsPersistent";
    entry(F, || {
        let d = handles::domain(dom, F)?;
        Ok(c_int::from(d.dom.is_persistent()?))
    })
}

/// Whether the running domain's configuration was changed since it
/// started: virsnap offers no live configuration changes, so 0.
///
/// Returns: 0, or −1 for an invalid domain. Since: libvirt 0.8.6.
///
/// # Safety
/// `dom` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainIsUpdated(dom: virDomainPtr) -> c_int {
    const F: &str = "virDomainIsUpdated";
    entry(F, || {
        handles::domain(dom, F)?;
        Ok(0)
    })
}

/// The connection's host name: the ESX host's DNS name, else this
/// machine's name as libvirt's `virGetHostname` (virsnap-core's).
fn hostname(c: &virsnap_core::Connection) -> Result<String, Error> {
    virsnap_core::host::hostname_of(c)
}

#[cfg(test)]
mod tests {
    use super::os_type;

    #[test]
    fn os_type_from_xml() {
        let x = "<domain type='qemu'><name>vm</name><os>\n<type arch='x86_64' machine='pc'>hvm</type></os></domain>";
        assert_eq!(os_type(x).as_deref(), Some("hvm"));
        assert_eq!(os_type("<domain/>"), None);
    }
}

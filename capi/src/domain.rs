//! Domains: the calls a snapshot caller needs (libvirt's `libvirt-domain.c`).

use std::os::raw::{c_char, c_int, c_uchar, c_uint, c_ulong, c_ushort};

use virsnap_core::uuid::Uuid;
use virsnap_core::{Error, ErrorDomain};

use crate::boundary::{self, entry};
use crate::handles::{self, DomainHandle};
use crate::types::{virConnectPtr, virDomainInfoPtr, virDomainPtr};

/// libvirt-domain.c reports argument errors in `VIR_FROM_DOMAIN`.
const DOM: ErrorDomain = ErrorDomain::Domain;

/// Looks up a domain by name.
///
/// Returns: a new reference the caller releases with `virDomainFree`, or NULL.
/// Since: libvirt 0.0.3.
///
/// # Safety
/// `conn` is a registry key; `name` must be NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainLookupByName(
    conn: virConnectPtr,
    name: *const c_char,
) -> virDomainPtr {
    const F: &str = "virDomainLookupByName";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        // SAFETY: forwarded contract.
        let name = unsafe { boundary::cstr_arg(name, "name", F, DOM) }?;
        let d = c.conn.lookup_by_name(name)?;
        handles::publish_domain(&c, d)
    })
}

/// Looks up a domain by its raw 16-byte UUID.
///
/// Returns: a new reference (`virDomainFree`), or NULL. Since: libvirt 0.0.5.
///
/// # Safety
/// `conn` is a registry key; `uuid` must be NULL or point to 16 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainLookupByUUID(
    conn: virConnectPtr,
    uuid: *const c_uchar,
) -> virDomainPtr {
    const F: &str = "virDomainLookupByUUID";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        if uuid.is_null() {
            return Err(boundary::null_arg(F, "uuid", DOM));
        }
        let mut raw = [0u8; 16];
        // SAFETY: non-NULL and 16 bytes readable per the contract.
        unsafe { std::ptr::copy_nonoverlapping(uuid, raw.as_mut_ptr(), 16) };
        let d = c.conn.lookup_by_uuid(&raw)?;
        handles::publish_domain(&c, d)
    })
}

/// Looks up a domain by UUID string.
///
/// Returns: a new reference (`virDomainFree`), or NULL. Since: libvirt 0.1.1.
///
/// # Safety
/// `conn` is a registry key; `uuidstr` must be NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainLookupByUUIDString(
    conn: virConnectPtr,
    uuidstr: *const c_char,
) -> virDomainPtr {
    const F: &str = "virDomainLookupByUUIDString";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        // SAFETY: forwarded contract.
        let s = unsafe { boundary::cstr_arg(uuidstr, "uuidstr", F, DOM) }?;
        if Uuid::parse(s).is_none() {
            return Err(Error::invalid_arg_raw(
                DOM,
                F,
                "uuidstr",
                "Invalid UUID".to_owned(),
            ));
        }
        let d = c.conn.lookup_by_uuid_string(s)?;
        handles::publish_domain(&c, d)
    })
}

/// Looks up a running domain by id.
///
/// Returns: a new reference (`virDomainFree`), or NULL. Since: libvirt 0.0.3.
///
/// # Safety
/// `conn` is a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainLookupByID(conn: virConnectPtr, id: c_int) -> virDomainPtr {
    const F: &str = "virDomainLookupByID";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        if id < 0 {
            return Err(boundary::negative_arg(F, "id", DOM));
        }
        let d = c.conn.lookup_by_id(id)?;
        handles::publish_domain(&c, d)
    })
}

/// Releases one reference to `domain` (the domain itself is unaffected).
///
/// Returns: 0, or −1 for an invalid or over-freed handle. Since: libvirt 0.0.3.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainFree(domain: virDomainPtr) -> c_int {
    entry("virDomainFree", || {
        handles::release::<DomainHandle, _>(domain, "virDomainFree")?;
        Ok(0)
    })
}

/// Adds a reference to `domain`; each needs a matching `virDomainFree`.
/// Works on borrowed pointers such as `virDomainSnapshotGetDomain`'s.
///
/// Returns: 0, or −1. Since: libvirt 0.6.0.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainRef(domain: virDomainPtr) -> c_int {
    entry("virDomainRef", || {
        handles::add_ref::<DomainHandle, _>(domain, "virDomainRef")?;
        Ok(0)
    })
}

/// The domain's name.
///
/// Returns: a string owned by the handle (valid while it lives; do not free),
/// or NULL. Since: libvirt 0.0.3.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetName(domain: virDomainPtr) -> *const c_char {
    entry("virDomainGetName", || {
        Ok(handles::domain(domain, "virDomainGetName")?.name_c())
    })
}

/// Copies the raw 16-byte UUID into `uuid`.
///
/// Returns: 0, or −1. Since: libvirt 0.0.5.
///
/// # Safety
/// `domain` is a registry key; `uuid` must be NULL or 16 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetUUID(domain: virDomainPtr, uuid: *mut c_uchar) -> c_int {
    const F: &str = "virDomainGetUUID";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        if uuid.is_null() {
            return Err(boundary::null_arg(F, "uuid", DOM));
        }
        let raw = d.dom.uuid().0;
        // SAFETY: non-NULL and 16 writable bytes per the contract.
        unsafe { std::ptr::copy_nonoverlapping(raw.as_ptr(), uuid, 16) };
        Ok(0)
    })
}

/// Writes the UUID string (36 characters and a NUL) into `buf`.
///
/// Returns: 0, or −1. Since: libvirt 0.1.1.
///
/// # Safety
/// `domain` is a registry key; `buf` must be NULL or `VIR_UUID_STRING_BUFLEN` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetUUIDString(domain: virDomainPtr, buf: *mut c_char) -> c_int {
    const F: &str = "virDomainGetUUIDString";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        if buf.is_null() {
            return Err(boundary::null_arg(F, "buf", DOM));
        }
        // SAFETY: non-NULL and 37 writable bytes per the contract.
        unsafe { write_uuid(buf, &d.dom.uuid_string()) };
        Ok(0)
    })
}

/// Copies a UUID string (at most 36 bytes) and a NUL into `buf`.
///
/// # Safety
/// `buf` must have room for 37 bytes.
pub(crate) unsafe fn write_uuid(buf: *mut c_char, s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(36);
    // SAFETY: the caller guarantees 37 writable bytes; n ≤ 36.
    unsafe {
        std::ptr::copy_nonoverlapping(b.as_ptr().cast::<c_char>(), buf, n);
        *buf.add(n) = 0;
    }
}

/// The hypervisor id seen when the handle was obtained (`(unsigned)-1` when
/// inactive or on error).
///
/// Since: libvirt 0.0.3.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetID(domain: virDomainPtr) -> c_uint {
    entry("virDomainGetID", || {
        Ok(handles::domain(domain, "virDomainGetID")?.dom.id() as c_uint)
    })
}

/// The domain's state (`virDomainState`) and its reason.
///
/// Returns: 0, or −1. Since: libvirt 0.9.2.
///
/// # Safety
/// `domain` is a registry key; `state` must be NULL or writable; `reason` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetState(
    domain: virDomainPtr,
    state: *mut c_int,
    reason: *mut c_int,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainGetState";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        if state.is_null() {
            return Err(boundary::null_arg(F, "state", DOM));
        }
        let (st, why) = d.dom.state(flags)?;
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *state = st as c_int };
        if !reason.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { *reason = why };
        }
        Ok(0)
    })
}

/// Fills `info` with state, memory, vCPUs and CPU time.
///
/// Returns: 0, or −1. Since: libvirt 0.0.3.
///
/// # Safety
/// `domain` is a registry key; `info` must be NULL or a writable `virDomainInfo`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetInfo(domain: virDomainPtr, info: virDomainInfoPtr) -> c_int {
    const F: &str = "virDomainGetInfo";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        if info.is_null() {
            return Err(boundary::null_arg(F, "info", DOM));
        }
        let i = d.dom.info()?;
        // SAFETY: non-NULL and writable per the contract.
        let out = unsafe { &mut *info };
        out.state = i.state;
        out.maxMem = i.max_mem as c_ulong;
        out.memory = i.memory as c_ulong;
        out.nrVirtCpu = i.nr_virt_cpu as c_ushort;
        out.cpuTime = i.cpu_time;
        Ok(0)
    })
}

/// Whether the domain is running.
///
/// Returns: 1, 0, or −1. Since: libvirt 0.7.3.
///
/// # Safety
/// `dom` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainIsActive(dom: virDomainPtr) -> c_int {
    entry("virDomainIsActive", || {
        Ok(c_int::from(
            handles::domain(dom, "virDomainIsActive")?.dom.is_active()?,
        ))
    })
}

fn domain_op(
    domain: virDomainPtr,
    func: &str,
    op: impl FnOnce(&virsnap_core::Domain) -> virsnap_core::Result<()>,
) -> Result<c_int, Error> {
    let d = handles::domain(domain, func)?;
    op(&d.dom)?;
    Ok(0)
}

/// Starts a defined, inactive domain.
///
/// Returns: 0, or −1. Since: libvirt 0.1.1.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainCreate(domain: virDomainPtr) -> c_int {
    entry("virDomainCreate", || {
        domain_op(domain, "virDomainCreate", |d| d.create_as("virDomainCreate", 0))
    })
}

/// Starts a defined, inactive domain (`VIR_DOMAIN_START_PAUSED` …).
///
/// Returns: 0, or −1. Since: libvirt 0.8.2.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainCreateWithFlags(domain: virDomainPtr, flags: c_uint) -> c_int {
    entry("virDomainCreateWithFlags", || {
        domain_op(domain, "virDomainCreateWithFlags", |d| d.create(flags))
    })
}

/// Powers the domain off immediately.
///
/// Returns: 0, or −1. Since: libvirt 0.0.3.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainDestroy(domain: virDomainPtr) -> c_int {
    entry("virDomainDestroy", || {
        domain_op(domain, "virDomainDestroy", |d| d.destroy(0))
    })
}

/// Asks the guest to shut down.
///
/// Returns: 0, or −1. Since: libvirt 0.0.3.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainShutdown(domain: virDomainPtr) -> c_int {
    entry("virDomainShutdown", || {
        domain_op(domain, "virDomainShutdown", |d| d.shutdown(0))
    })
}

/// Pauses the domain.
///
/// Returns: 0, or −1. Since: libvirt 0.0.3.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSuspend(domain: virDomainPtr) -> c_int {
    entry("virDomainSuspend", || {
        domain_op(domain, "virDomainSuspend", virsnap_core::Domain::suspend)
    })
}

/// Resumes a paused domain.
///
/// Returns: 0, or −1. Since: libvirt 0.0.3.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainResume(domain: virDomainPtr) -> c_int {
    entry("virDomainResume", || {
        domain_op(domain, "virDomainResume", virsnap_core::Domain::resume)
    })
}

/// Defines (or redefines) a persistent domain from XML.
///
/// Returns: a new reference (`virDomainFree`), or NULL. Since: libvirt 0.1.1.
///
/// # Safety
/// `conn` is a registry key; `xml` must be NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainDefineXML(
    conn: virConnectPtr,
    xml: *const c_char,
) -> virDomainPtr {
    const F: &str = "virDomainDefineXML";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        if c.conn.is_read_only() {
            return Err(Error::read_only_in(DOM, F));
        }
        // SAFETY: forwarded contract.
        let xml = unsafe { boundary::cstr_arg(xml, "xml", F, DOM) }?;
        let d = c.conn.define_xml(xml, 0)?;
        handles::publish_domain(&c, d)
    })
}

/// Removes a persistent domain's configuration.
///
/// Returns: 0, or −1. Since: libvirt 0.1.1.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainUndefine(domain: virDomainPtr) -> c_int {
    entry("virDomainUndefine", || {
        domain_op(domain, "virDomainUndefine", |d| d.undefine_as("virDomainUndefine", 0))
    })
}

/// Removes a domain's configuration (`VIR_DOMAIN_UNDEFINE_*` flags, e.g.
/// `SNAPSHOTS_METADATA`).
///
/// Returns: 0, or −1. Since: libvirt 0.9.4.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainUndefineFlags(domain: virDomainPtr, flags: c_uint) -> c_int {
    entry("virDomainUndefineFlags", || {
        domain_op(domain, "virDomainUndefineFlags", |d| d.undefine(flags))
    })
}

/// The domain's XML description (`VIR_DOMAIN_XML_*` flags).
///
/// Returns: a malloc'd string the caller `free()`s, or NULL. Since: libvirt 0.0.3.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetXMLDesc(domain: virDomainPtr, flags: c_uint) -> *mut c_char {
    const F: &str = "virDomainGetXMLDesc";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        let x = d.dom.xml_desc(flags)?;
        boundary::out_string(&x)
    })
}

/// The connection of `dom`.
///
/// Returns: a borrowed pointer (no new reference; valid while `dom` lives), or NULL.
/// Since: libvirt 0.3.0.
///
/// # Safety
/// `dom` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetConnect(dom: virDomainPtr) -> virConnectPtr {
    entry("virDomainGetConnect", || {
        Ok(handles::domain(dom, "virDomainGetConnect")?.conn_ptr())
    })
}

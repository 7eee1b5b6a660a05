//! Connections and library-level calls (libvirt's `libvirt.c`, `libvirt-host.c`).

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_uint, c_ulong, c_void};
use std::ptr;
use std::sync::Arc;

use virsnap_core::drivers::{Auth, CredRequest};
use virsnap_core::{Connection, Error, ErrorDomain};

use crate::boundary::{self, entry};
use crate::handles::{self, ConnHandle};
use crate::types::{virConnectAuthPtr, virConnectCredential, virConnectPtr, virDomainPtr};

const DOM: ErrorDomain = ErrorDomain::Domain;

/// Initializes the library. Optional: every entry point initializes lazily.
///
/// Returns: 0. Since: libvirt 0.1.0.
///
/// # Safety
/// None: takes no arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virInitialize() -> c_int {
    entry("virInitialize", || Ok(0))
}

/// Reports the library version in `libVer` (and the same number in
/// `typeVer`), as `major * 1,000,000 + minor * 1,000 + release` of the
/// libvirt API implemented (9.0.0).
///
/// Returns: 0, or −1 if `libVer` is NULL. Since: libvirt 0.0.3.
///
/// # Safety
/// `libVer` and `typeVer` must be NULL or writable; `type` NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virGetVersion(
    libVer: *mut c_ulong,
    r#type: *const c_char,
    typeVer: *mut c_ulong,
) -> c_int {
    let _ = r#type;
    entry("virGetVersion", || {
        if libVer.is_null() {
            // libvirt reports its generic "cause is unknown" error here.
            return Ok(-1);
        }
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *libVer = virsnap_core::connect::LIBVIRT_VERSION_NUMBER as c_ulong };
        if !typeVer.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { *typeVer = virsnap_core::connect::LIBVIRT_VERSION_NUMBER as c_ulong };
        }
        Ok(0)
    })
}

/// # Safety
/// `name` must be NULL or a NUL-terminated string.
unsafe fn open_common(
    name: *const c_char,
    auth: Option<Auth>,
    flags: c_uint,
    func: &str,
) -> Result<virConnectPtr, Error> {
    // SAFETY: forwarded contract.
    let uri = unsafe { boundary::opt_cstr(name, "name", func, ErrorDomain::None) }?;
    let conn = Connection::open_auth(uri, auth, flags)?;
    handles::publish_conn(conn)
}

/// Opens a read-write connection to `name` (NULL or "": `LIBVIRT_DEFAULT_URI`,
/// else `test:///default`).
///
/// Returns: a new connection the caller releases with `virConnectClose`, or NULL.
/// Since: libvirt 0.0.3.
///
/// # Safety
/// `name` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectOpen(name: *const c_char) -> virConnectPtr {
    // SAFETY: forwarded contract.
    entry("virConnectOpen", || unsafe {
        open_common(name, None, 0, "virConnectOpen")
    })
}

/// Opens a read-only connection to `name`.
///
/// Returns: a new connection the caller releases with `virConnectClose`, or NULL.
/// Since: libvirt 0.0.3.
///
/// # Safety
/// `name` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectOpenReadOnly(name: *const c_char) -> virConnectPtr {
    // SAFETY: forwarded contract.
    entry("virConnectOpenReadOnly", || unsafe {
        open_common(
            name,
            None,
            virsnap_core::connect::CONNECT_RO,
            "virConnectOpenReadOnly",
        )
    })
}

/// Caller-provided auth callback, used only during the open call.
struct CAuth {
    cb: unsafe extern "C" fn(*mut virConnectCredential, c_uint, *mut c_void) -> c_int,
    cbdata: usize,
}

fn c_opt(s: &Option<String>, keep: &mut Vec<std::ffi::CString>) -> *const c_char {
    match s {
        Some(v) => {
            let c = std::ffi::CString::new(v.replace('\0', "")).unwrap_or_default();
            let p = c.as_ptr();
            keep.push(c);
            p
        }
        None => ptr::null(),
    }
}

impl CAuth {
    fn call(&self, reqs: &mut [CredRequest]) -> virsnap_core::Result<()> {
        let mut keep = Vec::new();
        let mut creds: Vec<virConnectCredential> = reqs
            .iter()
            .map(|r| virConnectCredential {
                r#type: r.kind,
                prompt: c_opt(&Some(r.prompt.clone()), &mut keep),
                challenge: c_opt(&r.challenge, &mut keep),
                defresult: c_opt(&r.default, &mut keep),
                result: ptr::null_mut(),
                resultlen: 0,
            })
            .collect();
        // SAFETY: the callback was supplied by the caller for exactly this
        // use; `creds` is a valid array of `len` credentials whose strings
        // live in `keep` for the duration of the call.
        let rc = unsafe {
            (self.cb)(
                creds.as_mut_ptr(),
                creds.len() as c_uint,
                self.cbdata as *mut c_void,
            )
        };
        for (r, c) in reqs.iter_mut().zip(creds.iter_mut()) {
            if !c.result.is_null() {
                // SAFETY: the callback stores a malloc'd NUL-terminated string
                // (libvirt's contract); we read it, then free it once.
                r.result = Some(
                    unsafe { CStr::from_ptr(c.result) }
                        .to_string_lossy()
                        .into_owned(),
                );
                // SAFETY: as above.
                unsafe { libc::free(c.result.cast()) };
                c.result = ptr::null_mut();
            }
        }
        if rc < 0 {
            return Err(Error::new(
                virsnap_core::ErrorCode::AuthCancelled,
                ErrorDomain::Auth,
                "failed to retrieve credentials",
            ));
        }
        Ok(())
    }
}

/// Opens a connection with an authentication callback; `flags` may hold
/// `VIR_CONNECT_RO`.
///
/// Returns: a new connection the caller releases with `virConnectClose`, or NULL.
/// Since: libvirt 0.4.0.
///
/// # Safety
/// `name` must be NULL or a C string; `auth` NULL or a valid `virConnectAuth`
/// whose callback may be called during this call only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectOpenAuth(
    name: *const c_char,
    auth: virConnectAuthPtr,
    flags: c_uint,
) -> virConnectPtr {
    entry("virConnectOpenAuth", || {
        let a = if auth.is_null() {
            None
        } else {
            // SAFETY: non-NULL; the caller promises a valid virConnectAuth.
            let a = unsafe { &*auth };
            let types = if a.credtype.is_null() {
                Vec::new()
            } else {
                // SAFETY: `credtype` points to `ncredtype` ints per the contract.
                unsafe { std::slice::from_raw_parts(a.credtype, a.ncredtype as usize) }.to_vec()
            };
            let callback: Arc<virsnap_core::drivers::AuthCallback> = match a.cb {
                Some(cb) => {
                    let c = CAuth {
                        cb,
                        cbdata: a.cbdata as usize,
                    };
                    Arc::new(move |r: &mut [CredRequest]| c.call(r))
                }
                // libvirt's virAuthGet*: credential types but no callback.
                None => Arc::new(|_: &mut [CredRequest]| {
                    Err(Error::new(
                        virsnap_core::ErrorCode::InvalidArg,
                        ErrorDomain::Auth,
                        "Missing authentication callback",
                    ))
                }),
            };
            Some(Auth {
                cred_types: types,
                callback,
            })
        };
        // SAFETY: forwarded contract.
        unsafe { open_common(name, a, flags, "virConnectOpenAuth") }
    })
}

/// Releases one reference to `conn`. The connection is closed when the last
/// reference goes, including those held by domain and snapshot handles.
///
/// Returns: 1 while other references remain, 0 once closed, −1 on error.
/// Since: libvirt 0.0.3.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectClose(conn: virConnectPtr) -> c_int {
    entry("virConnectClose", || {
        Ok(c_int::from(handles::release::<ConnHandle, _>(
            conn,
            "virConnectClose",
        )?))
    })
}

/// Adds a reference to `conn`; each needs a matching `virConnectClose`.
///
/// Returns: 0, or −1 for an invalid connection. Since: libvirt 0.6.0.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectRef(conn: virConnectPtr) -> c_int {
    entry("virConnectRef", || {
        handles::add_ref::<ConnHandle, _>(conn, "virConnectRef")?;
        Ok(0)
    })
}

/// The URI of the connection.
///
/// Returns: a malloc'd string the caller `free()`s, or NULL. Since: libvirt 0.3.0.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectGetURI(conn: virConnectPtr) -> *mut c_char {
    entry("virConnectGetURI", || {
        let c = handles::conn(conn, "virConnectGetURI")?;
        boundary::out_string(&c.uri_c().to_string_lossy())
    })
}

/// The driver name (`TEST`, `QEMU`, `ESX`, `VBOX`).
///
/// Returns: a string owned by the connection (do not free), or NULL.
/// Since: libvirt 0.0.3.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectGetType(conn: virConnectPtr) -> *const c_char {
    entry("virConnectGetType", || {
        Ok(handles::conn(conn, "virConnectGetType")?.type_c())
    })
}

/// The libvirt API version implemented, in `libVer`.
///
/// Returns: 0, or −1. Since: libvirt 0.7.3.
///
/// # Safety
/// `conn` is a registry key; `libVer` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectGetLibVersion(
    conn: virConnectPtr,
    libVer: *mut c_ulong,
) -> c_int {
    const F: &str = "virConnectGetLibVersion";
    entry(F, || {
        let c = handles::conn(conn, F)?;
        if libVer.is_null() {
            return Err(boundary::null_arg(F, "libVer", DOM));
        }
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *libVer = c.conn.lib_version() as c_ulong };
        Ok(0)
    })
}

/// Number of active domains.
///
/// Returns: the count, or −1. Since: libvirt 0.0.3.
///
/// # Safety
/// `conn` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectNumOfDomains(conn: virConnectPtr) -> c_int {
    entry("virConnectNumOfDomains", || {
        let c = handles::conn(conn, "virConnectNumOfDomains")?;
        Ok(c.conn.num_of_domains()? as c_int)
    })
}

/// Lists the domains matching `VIR_CONNECT_LIST_DOMAINS_*` `flags`.
/// With `domains` NULL only the count is returned.
///
/// Returns: the count, or −1 (then `*domains` is NULL). On success
/// `*domains` is a malloc'd, NULL-terminated array of new references: free
/// each with `virDomainFree`, then `free()` the array. Since: libvirt 0.9.13.
///
/// # Safety
/// `conn` is a registry key; `domains` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virConnectListAllDomains(
    conn: virConnectPtr,
    domains: *mut *mut virDomainPtr,
    flags: c_uint,
) -> c_int {
    const F: &str = "virConnectListAllDomains";
    if !domains.is_null() {
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *domains = ptr::null_mut() };
    }
    entry(F, || {
        let c = handles::conn(conn, F)?;
        let list = c.conn.list_all_domains(flags)?;
        let n = list.len() as c_int;
        if domains.is_null() {
            return Ok(n);
        }
        let arr: *mut virDomainPtr = boundary::out_array(list.len())?;
        for (i, d) in list.into_iter().enumerate() {
            match handles::publish_domain(&c, d) {
                // SAFETY: out_array returned room for n + 1 pointers; i < n.
                Ok(p) => unsafe { *arr.add(i) = p },
                Err(e) => {
                    for j in 0..i {
                        // SAFETY: entries below i were written above; the
                        // array was never handed out.
                        handles::unpublish_domain(unsafe { *arr.add(j) });
                    }
                    // SAFETY: our calloc'd array, not handed out.
                    unsafe { libc::free(arr.cast()) };
                    return Err(e);
                }
            }
        }
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *domains = arr };
        Ok(n)
    })
}

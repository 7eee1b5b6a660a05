//! `virsnap._native`: libvirt-python's snapshot surface over `virsnap-core`.
//!
//! The Python package `virsnap` (python/virsnap/__init__.py) re-exports
//! everything here plus the `VIR_*` constants and `libvirtError`, so that
//! `import virsnap as libvirt` works for snapshot code written for
//! libvirt-python 9.0 (see shared/reference/callers.md §1).
//!
//! Rules (style.md §8.7):
//! - every call into core runs with the interpreter detached
//!   ([`Python::detach`]), arguments converted to owned Rust values first;
//! - every core error becomes a `libvirtError` through [`raise`], which also
//!   records the thread-local "last error" (`virGetLastError()`) and runs the
//!   error handler (libvirt's default prints to stderr);
//! - classes are `frozen` wrappers; a snapshot keeps the Python `virDomain`
//!   it came from, so `snap.domain() is dom` as in libvirt-python.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple, PyType};

use virsnap_core::drivers::{Auth, CredRequest};
use virsnap_core::error::LEVEL_ERROR;
use virsnap_core::names::SnapName;
use virsnap_core::{report, Connection, Domain, Error, ErrorCode, ErrorDomain, Snapshot, SnapshotUsage};

// ---------------------------------------------------------------------------
// Errors

/// A Python error handler and its context, as `registerErrorHandler(f, ctx)`
/// installed them.
struct PyHandler(Py<PyAny>, Py<PyAny>);

impl Clone for PyHandler {
    fn clone(&self) -> Self {
        Python::attach(|py| Self(self.0.clone_ref(py), self.1.clone_ref(py)))
    }
}

/// The handler installed by `registerErrorHandler(f, ctx)`; empty = libvirt's
/// default (print to stderr). The last error itself is core's
/// ([`virsnap_core::report`], shared with the C library).
static HANDLER: report::HandlerSlot<PyHandler> = report::HandlerSlot::new();

static LIBVIRT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn libvirt_error_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    LIBVIRT_ERROR.import(py, "virsnap", "libvirtError")
}

/// `err` 9-tuple: (code, domain, message, level, str1, str2, str3, int1, int2).
fn err_tuple<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyTuple>> {
    (
        e.code as i32,
        e.domain as i32,
        e.message.as_str(),
        LEVEL_ERROR,
        e.str1.as_deref(),
        e.str2.as_deref(),
        e.str3.as_deref(),
        e.int1,
        e.int2,
    )
        .into_pyobject(py)
}

fn set_last_error(e: Option<Error>) {
    match e {
        Some(e) => report::set_last(e),
        None => report::reset_last(),
    }
}

/// Reports `e` as libvirt does (handler or stderr), records it as the
/// thread's last error and builds the `libvirtError` to raise.
fn raise(py: Python<'_>, e: Error) -> PyErr {
    report::set_last(e.clone());
    report::dispatch(
        &HANDLER,
        None,
        |PyHandler(f, ctx)| {
            let r = err_tuple(py, &e).and_then(|t| f.bind(py).call1((ctx, t)));
            if let Err(err) = r {
                err.print(py);
            }
        },
        || report::print_error(&e),
    );
    match libvirt_error_type(py).and_then(|t| t.call1((e.message.as_str(),))) {
        Ok(inst) => PyErr::from_value(inst),
        Err(err) => err,
    }
}

/// A retention age from Python: seconds or a duration string ("7d").
#[derive(FromPyObject)]
enum Age {
    Secs(i64),
    Text(String),
}

/// Runs `f` (a core call) with the interpreter detached; errors become `libvirtError`.
fn call<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, Error> + Send,
{
    set_last_error(None);
    match py.detach(f) {
        Ok(v) => Ok(v),
        Err(e) => Err(raise(py, e)),
    }
}

/// Snapshot names gathered without the GIL into one buffer (two
/// allocations however many names), made a `list` of `str` with it.
#[derive(Default)]
struct NameBuf {
    text: String,
    ends: Vec<usize>,
}

impl NameBuf {
    /// The names `visit` passes to its callback, in order.
    fn gather(visit: impl FnOnce(&mut dyn FnMut(&SnapName)) -> Result<(), Error>) -> Result<Self, Error> {
        let mut b = Self::default();
        visit(&mut |n| {
            b.text.push_str(n.as_str());
            b.ends.push(b.text.len());
        })?;
        Ok(b)
    }

    fn into_list(self, py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
        let mut start = 0;
        PyList::new(
            py,
            self.ends.iter().map(|&end| {
                // Each range is one whole name pushed by `gather`.
                let name = self.text.get(start..end).unwrap_or_default();
                start = end;
                PyString::new(py, name)
            }),
        )
    }
}

/// libvirt-python passes flags with the `I` format: any int, truncated to 32 bits.
fn flags32(flags: i64) -> u32 {
    flags as u32
}

/// libvirt-python passes `None` for a string argument as NULL; libvirt then
/// fails with "`arg` in `func` must not be NULL" (code 8, int1/int2 0).
fn req(py: Python<'_>, v: Option<String>, domain: ErrorDomain, func: &str, arg: &str) -> PyResult<String> {
    match v {
        Some(v) => Ok(v),
        None => {
            set_last_error(None);
            Err(raise(py, Error::invalid_arg_raw(domain, func, arg, format!("{arg} in {func} must not be NULL"))))
        }
    }
}

/// `VIR_ERR_NO_SUPPORT` for a public function virsnap-core does not implement
/// (libvirt's wording for a driver that leaves the slot empty).
fn no_support(py: Python<'_>, func: &str) -> PyErr {
    set_last_error(None);
    raise(py, Error::new(ErrorCode::NoSupport, ErrorDomain::Domain, func.to_owned()))
}

/// `VIR_ERR_NO_SUPPORT` for `func` in error domain `domain` (the
/// `VIR_FROM_THIS` of `func`'s libvirt file), reported as libvirt reports
/// it (last error, handler or stderr).
fn no_support_in(py: Python<'_>, func: &str, domain: i32) -> PyResult<PyErr> {
    let domain = ErrorDomain::from_i32(domain).ok_or_else(|| PyValueError::new_err(format!("unknown error domain {domain}")))?;
    set_last_error(None);
    Ok(raise(py, Error::new(ErrorCode::NoSupport, domain, func.to_owned())))
}

/// `_no_support(func, domain, conn=None)`: the `libvirtError`
/// (`VIR_ERR_NO_SUPPORT`) the generated methods of `_surface.py` raise,
/// already reported. A closed `conn` gives `VIR_ERR_INVALID_CONN` instead,
/// as every other call on it (libvirt checks the connection first).
#[pyfunction]
#[pyo3(name = "_no_support", signature = (func, domain, conn = None))]
fn py_no_support(py: Python<'_>, func: &str, domain: i32, conn: Option<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    if let Some(c) = conn.as_ref().and_then(|c| c.cast::<VirConnect>().ok()) {
        if let Err(e) = c.get().live(py, func) {
            return Ok(e.into_value(py).into_any());
        }
    }
    let e = no_support_in(py, func, domain)?;
    Ok(e.into_value(py).into_any())
}

fn int(b: bool) -> i32 {
    i32::from(b)
}

#[pyfunction]
#[pyo3(name = "virGetLastError")]
fn vir_get_last_error(py: Python<'_>) -> PyResult<Option<Bound<'_, PyTuple>>> {
    report::last().map(|e| err_tuple(py, &e)).transpose()
}

#[pyfunction]
#[pyo3(name = "virResetLastError")]
fn vir_reset_last_error() {
    set_last_error(None);
}

#[pyfunction]
#[pyo3(name = "virGetLastErrorCode")]
fn vir_get_last_error_code() -> i32 {
    report::with_last(|e| e.map_or(0, |e| e.code as i32))
}

#[pyfunction]
#[pyo3(name = "virGetLastErrorDomain")]
fn vir_get_last_error_domain() -> i32 {
    report::with_last(|e| e.map_or(0, |e| e.domain as i32))
}

#[pyfunction]
#[pyo3(name = "virGetLastErrorMessage")]
fn vir_get_last_error_message() -> String {
    report::with_last(|e| e.map_or_else(|| "no error".to_owned(), |e| e.message.clone()))
}

/// `registerErrorHandler(f, ctx)`: `f(ctx, err)` is called for every error;
/// `f=None` restores libvirt's default (print to stderr). Returns 1.
#[pyfunction]
#[pyo3(name = "registerErrorHandler")]
fn register_error_handler(f: Bound<'_, PyAny>, ctx: Bound<'_, PyAny>) -> PyResult<i32> {
    let new = if f.is_none() {
        None
    } else if f.is_callable() {
        Some(PyHandler(f.unbind(), ctx.unbind()))
    } else {
        return Err(PyTypeError::new_err("registerErrorHandler: f must be callable or None"));
    };
    HANDLER.set(new);
    Ok(1)
}

/// `getVersion(name=None)`: the library version, or `(library, driver)` when
/// a driver name is given (libvirt 9.0 answers that for any name).
#[pyfunction]
#[pyo3(name = "getVersion", signature = (name = None))]
fn get_version(py: Python<'_>, name: Option<&str>) -> PyResult<Py<PyAny>> {
    let v = virsnap_core::connect::LIBVIRT_VERSION_NUMBER;
    set_last_error(None);
    match name {
        None => Ok(v.into_pyobject(py)?.into_any().unbind()),
        Some(_) => Ok((v, v).into_pyobject(py)?.into_any().unbind()),
    }
}

// ---------------------------------------------------------------------------
// Connections

fn wrap_conn(py: Python<'_>, conn: Connection) -> PyResult<Py<VirConnect>> {
    Py::new(py, VirConnect { conn, closed: AtomicBool::new(false) })
}

/// `open(name=None)`: a read-write connection.
#[pyfunction]
#[pyo3(signature = (name = None))]
fn open(py: Python<'_>, name: Option<String>) -> PyResult<Py<VirConnect>> {
    let conn = call(py, move || Connection::open(name.as_deref()))?;
    wrap_conn(py, conn)
}

/// `openReadOnly(name=None)`: a read-only connection.
#[pyfunction]
#[pyo3(name = "openReadOnly", signature = (name = None))]
fn open_read_only(py: Python<'_>, name: Option<String>) -> PyResult<Py<VirConnect>> {
    let conn = call(py, move || Connection::open_read_only(name.as_deref()))?;
    wrap_conn(py, conn)
}

/// Builds core's credential callback from libvirt-python's `[credtypes, callback, cbdata]`.
fn py_auth(auth: &Bound<'_, PyAny>) -> PyResult<Option<Auth>> {
    if auth.is_none() {
        return Ok(None);
    }
    let items: Vec<Bound<'_, PyAny>> = auth.extract()?;
    if items.len() < 2 || items[1].is_none() {
        return Ok(None);
    }
    let cred_types: Vec<i32> = items[0].extract()?;
    let cb = items[1].clone().unbind();
    let cbdata = items.get(2).map(|d| d.clone().unbind());
    let callback = move |reqs: &mut [CredRequest]| -> Result<(), Error> {
        Python::attach(|py| {
            let fail = |what: String| Error::new(ErrorCode::AuthFailed, ErrorDomain::Auth, what);
            let creds = PyList::empty(py);
            for r in reqs.iter() {
                let item = (r.kind, r.prompt.as_str(), r.challenge.as_deref(), r.default.as_deref(), r.result.as_deref());
                let l = PyList::new(py, item.into_pyobject(py).map_err(|e| fail(e.to_string()))?.iter())
                    .map_err(|e| fail(e.to_string()))?;
                creds.append(l).map_err(|e| fail(e.to_string()))?;
            }
            let data = cbdata.as_ref().map_or_else(|| py.None(), |d| d.clone_ref(py));
            let ret = cb.bind(py).call1((creds.clone(), data)).map_err(|e| {
                e.print(py);
                fail("callback raised an exception".to_owned())
            })?;
            let rc: i64 = ret.extract().unwrap_or(0);
            if rc < 0 {
                return Err(fail("callback failed".to_owned()));
            }
            for (i, r) in reqs.iter_mut().enumerate() {
                let item = creds.get_item(i).map_err(|e| fail(e.to_string()))?;
                let v = item.get_item(4).map_err(|e| fail(e.to_string()))?;
                r.result = if v.is_none() { None } else { Some(v.str().map_err(|e| fail(e.to_string()))?.to_string()) };
            }
            Ok(())
        })
    };
    Ok(Some(Auth { cred_types, callback: Arc::new(callback) }))
}

/// `openAuth(uri, auth, flags=0)`.
#[pyfunction]
#[pyo3(name = "openAuth", signature = (uri, auth, flags = 0))]
fn open_auth(py: Python<'_>, uri: Option<String>, auth: Bound<'_, PyAny>, flags: i64) -> PyResult<Py<VirConnect>> {
    let auth = py_auth(&auth)?;
    let flags = flags32(flags);
    let conn = call(py, move || Connection::open_auth(uri.as_deref(), auth, flags))?;
    wrap_conn(py, conn)
}

/// `field` for a GC visit, or `None` while the object is still being built.
///
/// pyo3 0.30.1 lets CPython 3.11 track a `dict` class instance before its
/// Rust fields are written: `object_new` allocates the zeroed instance
/// (tracked), then creates its `__dict__`, and that allocation can start a
/// collection that calls `__traverse__` on the zeroed fields. Visiting the
/// NULL `Py` crashed the interpreter (`visit_decref(NULL)`).
fn initialized<T>(field: &Py<T>) -> Option<&Py<T>> {
    let raw: *const *mut pyo3::ffi::PyObject = std::ptr::from_ref(field).cast();
    // SAFETY: a `Py<T>` is one non-null object pointer once written; before
    // that its storage is the zero bytes of a fresh instance. Reading it as a
    // raw (nullable) pointer is defined either way; volatile so the check is
    // not folded away on the strength of `Py`'s non-null guarantee.
    let p = unsafe { std::ptr::read_volatile(raw) };
    if p.is_null() { None } else { Some(field) }
}

/// A connection (`libvirt.virConnect`).
#[pyclass(frozen, subclass, dict, weakref, module = "virsnap", name = "virConnect")]
pub struct VirConnect {
    conn: Connection,
    closed: AtomicBool,
}

impl VirConnect {
    /// The core connection, or `VIR_ERR_INVALID_CONN` once closed.
    fn live(&self, py: Python<'_>, func: &str) -> PyResult<Connection> {
        if self.closed.load(Ordering::Acquire) {
            return Err(raise(py, Error::new(ErrorCode::InvalidConn, ErrorDomain::None, func.to_owned())));
        }
        Ok(self.conn.clone())
    }
}

fn wrap_dom(py: Python<'_>, conn: &Bound<'_, VirConnect>, dom: Domain) -> PyResult<Py<VirDomain>> {
    Py::new(py, VirDomain { dom, conn: conn.clone().unbind() })
}

#[pymethods]
impl VirConnect {
    #[new]
    #[pyo3(signature = (_obj = None))]
    fn py_new(_obj: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        Err(PyTypeError::new_err("virConnect objects are created by virsnap.open(), openReadOnly() or openAuth()"))
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (exc_type_, exc_value_, traceback_))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type_: Option<Bound<'_, PyAny>>,
        exc_value_: Option<Bound<'_, PyAny>>,
        traceback_: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let _ = (exc_type_, exc_value_, traceback_);
        self.close(py).map(|_| ())
    }

    /// `close()` → 0. Later calls on this object raise (code 6); domains
    /// looked up from it keep working, as their handles hold a reference.
    fn close(&self, py: Python<'_>) -> PyResult<i32> {
        self.live(py, "virConnectClose")?;
        self.closed.store(true, Ordering::Release);
        Ok(0)
    }

    /// This connection's domain events (see `_EventStream`). Since 0.2.
    #[pyo3(name = "_event_stream")]
    fn event_stream(&self, py: Python<'_>) -> PyResult<PyEventStream> {
        let c = self.live(py, "virConnectDomainEventRegisterAny")?;
        let io = |e: std::io::Error| raise(py, Error::system(ErrorDomain::None, "cannot create the event wake-up socket", &e));
        let (wake_r, wake_w) = std::os::unix::net::UnixStream::pair().map_err(io)?;
        wake_r.set_nonblocking(true).map_err(io)?;
        wake_w.set_nonblocking(true).map_err(io)?;
        let queue: Arc<Mutex<std::collections::VecDeque<virsnap_core::events::Event>>> = Arc::default();
        let q = queue.clone();
        let sink: virsnap_core::events::Sink = Arc::new(move |e: &virsnap_core::events::Event| {
            use std::io::Write as _;
            match q.lock() {
                Ok(mut g) => g.push_back(e.clone()),
                Err(p) => p.into_inner().push_back(e.clone()),
            }
            // WouldBlock: a wake-up is already pending, which is enough.
            if (&wake_w).write(&[1]).is_err() {}
        });
        let stream = c.subscribe_events(sink).map_err(|e| raise(py, e))?;
        Ok(PyEventStream { stream: Mutex::new(stream), queue, wake_r })
    }

    /// The domain an event names, without a lookup (it may be gone). Since 0.2.
    #[pyo3(name = "_event_domain")]
    fn event_domain(slf: &Bound<'_, Self>, name: String, uuid: String, id: i32) -> PyResult<Py<VirDomain>> {
        let py = slf.py();
        let c = slf.get().live(py, "virConnectDomainEventRegisterAny")?;
        let uuid = virsnap_core::uuid::Uuid::parse(&uuid)
            .ok_or_else(|| raise(py, Error::internal(ErrorDomain::None, "bad UUID in a domain event")))?;
        let d = c.domain_for_event(&virsnap_core::drivers::DomainRef { name, uuid, id });
        wrap_dom(py, slf, d)
    }

    #[pyo3(name = "getURI")]
    fn get_uri(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.live(py, "virConnectGetURI")?.uri().to_owned())
    }

    #[pyo3(name = "getType")]
    fn get_type(&self, py: Python<'_>) -> PyResult<String> {
        let t = self.live(py, "virConnectGetType")?.type_name();
        // libvirt reports the test driver as "TEST".
        Ok(if t.eq_ignore_ascii_case("test") { "TEST".to_owned() } else { t.to_owned() })
    }

    #[pyo3(name = "getVersion")]
    fn get_version(&self, py: Python<'_>) -> PyResult<u64> {
        let c = self.live(py, "virConnectGetVersion")?;
        call(py, move || c.hypervisor_version())
    }

    #[pyo3(name = "getLibVersion")]
    fn get_lib_version(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.live(py, "virConnectGetLibVersion")?.lib_version())
    }

    #[pyo3(name = "isAlive")]
    fn is_alive(&self, py: Python<'_>) -> PyResult<i32> {
        self.live(py, "virConnectIsAlive")?;
        Ok(1)
    }

    #[pyo3(name = "isSecure")]
    fn is_secure(&self, py: Python<'_>) -> PyResult<i32> {
        self.live(py, "virConnectIsSecure")?;
        Ok(1)
    }

    /// 1 only for a connection over the network with TLS (esx over https).
    #[pyo3(name = "isEncrypted")]
    fn is_encrypted(&self, py: Python<'_>) -> PyResult<i32> {
        let c = self.live(py, "virConnectIsEncrypted")?;
        Ok(int(virsnap_core::host::is_encrypted(&c)))
    }

    /// `[model, memory MiB, cpus, mhz, nodes, sockets, cores, threads]`
    /// (`virNodeGetInfo`; the test driver's fixed node, or this host).
    /// Since 0.2.
    #[pyo3(name = "getInfo")]
    fn get_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let c = self.live(py, "virNodeGetInfo")?;
        let n = call(py, move || virsnap_core::host::node_info(&c))?;
        let t = (n.model, n.memory >> 10, n.cpus, n.mhz, n.nodes, n.sockets, n.cores, n.threads).into_pyobject(py)?;
        PyList::new(py, t.iter())
    }

    /// The host name (`virConnectGetHostname`: the ESX host's DNS name,
    /// else libvirt's `virGetHostname`).
    /// Since 0.3.
    #[pyo3(name = "getHostname")]
    fn get_hostname(&self, py: Python<'_>) -> PyResult<String> {
        let c = self.live(py, "virConnectGetHostname")?;
        call(py, move || virsnap_core::host::hostname_of(&c))
    }

    /// The most vCPUs a guest of `type` may have (`virConnectGetMaxVcpus`;
    /// `None`: the driver's default type). Since 0.3.
    #[pyo3(name = "getMaxVcpus", signature = (r#type))]
    fn get_max_vcpus(&self, py: Python<'_>, r#type: Option<String>) -> PyResult<i32> {
        let c = self.live(py, "virConnectGetMaxVcpus")?;
        call(py, move || virsnap_core::host::max_vcpus(&c, r#type.as_deref()))
    }

    /// The host's SMBIOS sysinfo XML (`virConnectGetSysinfo`). Since 0.3.
    #[pyo3(name = "getSysinfo", signature = (flags = 0))]
    fn get_sysinfo(&self, py: Python<'_>, flags: u32) -> PyResult<String> {
        let c = self.live(py, "virConnectGetSysinfo")?;
        call(py, move || virsnap_core::host::sysinfo_flags(&c, flags))
    }

    /// The capabilities XML (`virConnectGetCapabilities`). Since 0.2.
    #[pyo3(name = "getCapabilities")]
    fn get_capabilities(&self, py: Python<'_>) -> PyResult<String> {
        let c = self.live(py, "virConnectGetCapabilities")?;
        call(py, move || virsnap_core::host::capabilities(&c))
    }

    #[pyo3(name = "lookupByName")]
    fn lookup_by_name(slf: &Bound<'_, Self>, name: Option<String>) -> PyResult<Py<VirDomain>> {
        let py = slf.py();
        let c = slf.get().live(py, "virDomainLookupByName")?;
        let name = req(py, name, ErrorDomain::Domain, "virDomainLookupByName", "name")?;
        let d = call(py, move || c.lookup_by_name(&name))?;
        wrap_dom(py, slf, d)
    }

    #[pyo3(name = "lookupByUUIDString")]
    fn lookup_by_uuid_string(slf: &Bound<'_, Self>, uuidstr: Option<String>) -> PyResult<Py<VirDomain>> {
        let py = slf.py();
        let c = slf.get().live(py, "virDomainLookupByUUIDString")?;
        let uuidstr = req(py, uuidstr, ErrorDomain::Domain, "virDomainLookupByUUIDString", "uuidstr")?;
        let d = call(py, move || c.lookup_by_uuid_string(&uuidstr))?;
        wrap_dom(py, slf, d)
    }

    #[pyo3(name = "lookupByUUID")]
    fn lookup_by_uuid(slf: &Bound<'_, Self>, uuid: Bound<'_, PyBytes>) -> PyResult<Py<VirDomain>> {
        let py = slf.py();
        let c = slf.get().live(py, "virDomainLookupByUUID")?;
        let raw: [u8; 16] = uuid.as_bytes().try_into().map_err(|_| PyTypeError::new_err("uuid must be 16 bytes"))?;
        let d = call(py, move || c.lookup_by_uuid(&raw))?;
        wrap_dom(py, slf, d)
    }

    #[pyo3(name = "lookupByID")]
    fn lookup_by_id(slf: &Bound<'_, Self>, id: i32) -> PyResult<Py<VirDomain>> {
        let py = slf.py();
        let c = slf.get().live(py, "virDomainLookupByID")?;
        let d = call(py, move || c.lookup_by_id(id))?;
        wrap_dom(py, slf, d)
    }

    #[pyo3(name = "listAllDomains", signature = (flags = 0))]
    fn list_all_domains(slf: &Bound<'_, Self>, flags: i64) -> PyResult<Vec<Py<VirDomain>>> {
        let py = slf.py();
        let c = slf.get().live(py, "virConnectListAllDomains")?;
        let flags = flags32(flags);
        let doms = call(py, move || c.list_all_domains(flags))?;
        doms.into_iter().map(|d| wrap_dom(py, slf, d)).collect()
    }

    /// Ids of the running domains.
    #[pyo3(name = "listDomainsID")]
    fn list_domains_id(&self, py: Python<'_>) -> PyResult<Vec<i32>> {
        let c = self.live(py, "virConnectListDomains")?;
        let doms = call(py, move || c.list_all_domains(virsnap_core::flags::list_domains::ACTIVE))?;
        Ok(doms.iter().map(Domain::id).filter(|id| *id >= 0).collect())
    }

    /// Names of the defined, inactive domains.
    #[pyo3(name = "listDefinedDomains")]
    fn list_defined_domains(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let c = self.live(py, "virConnectListDefinedDomains")?;
        let doms = call(py, move || c.list_all_domains(virsnap_core::flags::list_domains::INACTIVE))?;
        Ok(doms.iter().map(|d| d.name().to_owned()).collect())
    }

    #[pyo3(name = "numOfDomains")]
    fn num_of_domains(&self, py: Python<'_>) -> PyResult<usize> {
        let c = self.live(py, "virConnectNumOfDomains")?;
        call(py, move || c.num_of_domains())
    }

    #[pyo3(name = "numOfDefinedDomains")]
    fn num_of_defined_domains(&self, py: Python<'_>) -> PyResult<usize> {
        let c = self.live(py, "virConnectNumOfDefinedDomains")?;
        call(py, move || Ok(c.list_all_domains(virsnap_core::flags::list_domains::INACTIVE)?.len()))
    }

    #[pyo3(name = "defineXML")]
    fn define_xml(slf: &Bound<'_, Self>, xml: Option<String>) -> PyResult<Py<VirDomain>> {
        let py = slf.py();
        let c = slf.get().live(py, "virDomainDefineXML")?;
        let xml = req(py, xml, ErrorDomain::Domain, "virDomainDefineXML", "xml")?;
        let d = call(py, move || c.define_xml(&xml, 0))?;
        wrap_dom(py, slf, d)
    }

    #[pyo3(name = "defineXMLFlags", signature = (xml, flags = 0))]
    fn define_xml_flags(slf: &Bound<'_, Self>, xml: Option<String>, flags: i64) -> PyResult<Py<VirDomain>> {
        let py = slf.py();
        let c = slf.get().live(py, "virDomainDefineXMLFlags")?;
        let xml = req(py, xml, ErrorDomain::Domain, "virDomainDefineXMLFlags", "xml")?;
        let flags = flags32(flags);
        let d = call(py, move || c.define_xml(&xml, flags))?;
        wrap_dom(py, slf, d)
    }

    #[pyo3(name = "createXML", signature = (xmlDesc, flags = 0))]
    #[allow(non_snake_case)]
    fn create_xml(slf: &Bound<'_, Self>, xmlDesc: Option<String>, flags: i64) -> PyResult<Py<VirDomain>> {
        let py = slf.py();
        let c = slf.get().live(py, "virDomainCreateXML")?;
        let xmlDesc = req(py, xmlDesc, ErrorDomain::Domain, "virDomainCreateXML", "xmlDesc")?;
        let flags = flags32(flags);
        let d = call(py, move || c.create_xml(&xmlDesc, flags))?;
        wrap_dom(py, slf, d)
    }

    /// An opaque identity for the underlying handle (libvirt-python: the C pointer).
    fn c_pointer(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }
}

// ---------------------------------------------------------------------------
// Domain events

/// One connection's domain events for the Python event loop (`_pyimpl`):
/// in-process events are queued by core's sink, which also writes a byte to
/// a socket pair so the loop's handle on [`Self::fds`]'s first descriptor
/// wakes; other processes' (a qemu root's log) come through the second.
/// Since 0.2.
#[pyclass(frozen, module = "virsnap", name = "_EventStream")]
pub struct PyEventStream {
    stream: Mutex<virsnap_core::connect::EventStream>,
    queue: Arc<Mutex<std::collections::VecDeque<virsnap_core::events::Event>>>,
    wake_r: std::os::unix::net::UnixStream,
}

type EventTuple = (String, String, i32, i32, i32, i32, Option<String>, Option<String>);

fn event_tuple(e: virsnap_core::events::Event) -> EventTuple {
    use virsnap_core::events::EventKind;
    let d = e.domain;
    match e.kind {
        EventKind::Lifecycle { event, detail } => {
            (d.name, d.uuid.to_string(), d.id, virsnap_core::events::EVENT_ID_LIFECYCLE, event, detail, None, None)
        }
        EventKind::Snapshot { event, name, old_name } => {
            (d.name, d.uuid.to_string(), d.id, virsnap_core::events::EVENT_ID_SNAPSHOT, event as i32, 0, Some(name), old_name)
        }
    }
}

#[pymethods]
impl PyEventStream {
    /// The descriptors to watch for readability: the wake-up socket, then
    /// the cross-process log's (if the driver has one).
    fn fds(&self) -> Vec<i32> {
        use std::os::fd::AsRawFd as _;
        let mut v = vec![self.wake_r.as_raw_fd()];
        if let Some(fd) = self.stream.lock().ok().and_then(|s| s.fd()) {
            v.push(fd);
        }
        v
    }

    /// Every pending event as `(domain name, uuid, id, event ID, event or
    /// snapshot event, detail, snapshot name, old name)`, oldest first
    /// (this process's, then other processes'). Never blocks.
    fn take(&self, py: Python<'_>) -> PyResult<Vec<EventTuple>> {
        use std::io::Read as _;
        let mut buf = [0u8; 256];
        while matches!((&self.wake_r).read(&mut buf), Ok(n) if n > 0) {}
        let mut out: Vec<EventTuple> = match self.queue.lock() {
            Ok(mut q) => q.drain(..).map(event_tuple).collect(),
            Err(p) => p.into_inner().drain(..).map(event_tuple).collect(),
        };
        let remote = match self.stream.lock() {
            Ok(mut s) => s.read_remote(),
            Err(p) => p.into_inner().read_remote(),
        };
        out.extend(remote.map_err(|e| raise(py, e))?.into_iter().map(event_tuple));
        Ok(out)
    }
}

/// `_raise_error(code, domain, detail)`: raises libvirtError with libvirt's
/// wording of `code` (for the event API written in Python). Since 0.2.
#[pyfunction]
#[pyo3(name = "_raise_error")]
fn raise_error(py: Python<'_>, code: i32, domain: i32, detail: String) -> PyResult<()> {
    let code = ErrorCode::from_i32(code).unwrap_or(ErrorCode::InternalError);
    let domain = ErrorDomain::from_i32(domain).unwrap_or(ErrorDomain::None);
    // A leading NUL: the message as is (libvirt's virReportInvalidArg).
    match detail.strip_prefix('\0') {
        Some(raw) => Err(raise(py, Error::invalid_arg_raw(domain, "", "", raw.to_owned()))),
        None => Err(raise(py, Error::new(code, domain, detail))),
    }
}

// Domains

/// A domain (`libvirt.virDomain`).
#[pyclass(frozen, subclass, dict, weakref, module = "virsnap", name = "virDomain")]
pub struct VirDomain {
    dom: Domain,
    conn: Py<VirConnect>,
}

fn wrap_snap(py: Python<'_>, dom: &Bound<'_, VirDomain>, snap: Snapshot) -> PyResult<Py<VirDomainSnapshot>> {
    Py::new(py, VirDomainSnapshot { snap, dom: dom.clone().unbind() })
}

macro_rules! dom_int {
    ($self:ident, $py:ident, $body:expr) => {{
        let d = $self.dom.clone();
        call($py, move || {
            let d = d;
            #[allow(clippy::redundant_closure_call)]
            ($body)(&d)
        })
    }};
}

#[pymethods]
impl VirDomain {
    /// GC support: a domain refers to its connection (cycles through `__dict__` are collectable).
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(initialized(&self.conn))
    }

    #[new]
    #[pyo3(signature = (conn = None, _obj = None))]
    fn py_new(conn: Option<Bound<'_, PyAny>>, _obj: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        let _ = conn;
        Err(PyTypeError::new_err("virDomain objects are created by virConnect lookups"))
    }

    /// The owning `virConnect` (the same object it was looked up from).
    fn connect(&self, py: Python<'_>) -> Py<VirConnect> {
        self.conn.clone_ref(py)
    }

    /// libvirt-python's private attribute, read by some callers (virt-backup).
    #[getter(_conn)]
    fn private_conn(&self, py: Python<'_>) -> Py<VirConnect> {
        self.conn.clone_ref(py)
    }

    fn name(&self) -> String {
        self.dom.name().to_owned()
    }

    #[pyo3(name = "UUIDString")]
    fn uuid_string(&self) -> String {
        self.dom.uuid_string()
    }

    #[pyo3(name = "UUID")]
    fn uuid<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.dom.uuid().0)
    }

    /// The id the domain has now (-1 when inactive).
    #[pyo3(name = "ID")]
    fn id(&self, py: Python<'_>) -> PyResult<i32> {
        dom_int!(self, py, |d: &Domain| d.current_id())
    }

    #[pyo3(name = "isActive")]
    fn is_active(&self, py: Python<'_>) -> PyResult<i32> {
        dom_int!(self, py, |d: &Domain| d.is_active().map(int))
    }

    #[pyo3(name = "isPersistent")]
    fn is_persistent(&self, py: Python<'_>) -> PyResult<i32> {
        dom_int!(self, py, |d: &Domain| d.is_persistent().map(int))
    }

    /// `[state, reason]`.
    #[pyo3(signature = (flags = 0))]
    fn state(&self, py: Python<'_>, flags: i64) -> PyResult<Vec<i64>> {
        let f = flags32(flags);
        let (s, r) = dom_int!(self, py, |d: &Domain| d.state(f))?;
        Ok(vec![s as i64, i64::from(r)])
    }

    /// `[state, maxMem KiB, memory KiB, nrVirtCpu, cpuTime ns]`.
    fn info(&self, py: Python<'_>) -> PyResult<Vec<u64>> {
        let i = dom_int!(self, py, |d: &Domain| d.info())?;
        Ok(vec![u64::from(i.state), i.max_mem, i.memory, u64::from(i.nr_virt_cpu), i.cpu_time])
    }

    /// `virDomainAbortJob`: stops the current job (returns once it has
    /// stopped, nothing of it left). Since 0.2.
    #[pyo3(name = "abortJob")]
    fn abort_job(&self, py: Python<'_>) -> PyResult<i32> {
        dom_int!(self, py, |d: &Domain| d.abort_job())?;
        Ok(0)
    }

    /// `virDomainGetJobInfo`: `[type, timeElapsed, timeRemaining,
    /// dataTotal, dataProcessed, dataRemaining, memTotal, memProcessed,
    /// memRemaining, fileTotal, fileProcessed, fileRemaining]`. Since 0.2.
    #[pyo3(name = "jobInfo")]
    fn job_info(&self, py: Python<'_>) -> PyResult<Vec<u64>> {
        let s = dom_int!(self, py, |d: &Domain| d.job_info())?;
        let v = |o: Option<u64>| o.unwrap_or(0);
        Ok(vec![
            s.kind as u64,
            s.time_elapsed_ms,
            v(s.time_remaining_ms),
            v(s.data_total),
            v(s.data_processed),
            v(s.data_remaining),
            v(s.memory_total),
            v(s.memory_processed),
            v(s.memory_remaining),
            0,
            0,
            0,
        ])
    }

    /// `virDomainGetJobStats`: a dict of the job's typed parameters plus
    /// `type`, as libvirt-python builds it. Since 0.2.
    #[pyo3(name = "jobStats", signature = (flags = 0))]
    fn job_stats(&self, py: Python<'_>, flags: i64) -> PyResult<Py<PyAny>> {
        let f = flags32(flags);
        let s = dom_int!(self, py, |d: &Domain| d.job_stats(f))?;
        let dict = pyo3::types::PyDict::new(py);
        for (k, v) in s.params() {
            match v {
                virsnap_core::job::ParamValue::Int(i) => dict.set_item(k, i)?,
                virsnap_core::job::ParamValue::ULLong(u) => dict.set_item(k, u)?,
                virsnap_core::job::ParamValue::Bool(b) => dict.set_item(k, b)?,
                virsnap_core::job::ParamValue::Str(t) => dict.set_item(k, t)?,
            }
        }
        dict.set_item("type", s.kind as i32)?;
        Ok(dict.into_any().unbind())
    }

    fn create(&self, py: Python<'_>) -> PyResult<i32> {
        dom_int!(self, py, |d: &Domain| d.create_as("virDomainCreate", 0).map(|()| 0))
    }

    #[pyo3(name = "createWithFlags", signature = (flags = 0))]
    fn create_with_flags(&self, py: Python<'_>, flags: i64) -> PyResult<i32> {
        let f = flags32(flags);
        dom_int!(self, py, |d: &Domain| d.create(f).map(|()| 0))
    }

    fn destroy(&self, py: Python<'_>) -> PyResult<i32> {
        dom_int!(self, py, |d: &Domain| d.destroy(0).map(|()| 0))
    }

    #[pyo3(name = "destroyFlags", signature = (flags = 0))]
    fn destroy_flags(&self, py: Python<'_>, flags: i64) -> PyResult<i32> {
        let f = flags32(flags);
        dom_int!(self, py, |d: &Domain| d.destroy_as("virDomainDestroyFlags", f).map(|()| 0))
    }

    fn suspend(&self, py: Python<'_>) -> PyResult<i32> {
        dom_int!(self, py, |d: &Domain| d.suspend().map(|()| 0))
    }

    fn resume(&self, py: Python<'_>) -> PyResult<i32> {
        dom_int!(self, py, |d: &Domain| d.resume().map(|()| 0))
    }

    fn shutdown(&self, py: Python<'_>) -> PyResult<i32> {
        dom_int!(self, py, |d: &Domain| d.shutdown(0).map(|()| 0))
    }

    #[pyo3(name = "shutdownFlags", signature = (flags = 0))]
    fn shutdown_flags(&self, py: Python<'_>, flags: i64) -> PyResult<i32> {
        let f = flags32(flags);
        dom_int!(self, py, |d: &Domain| d.shutdown_as("virDomainShutdownFlags", f).map(|()| 0))
    }

    fn undefine(&self, py: Python<'_>) -> PyResult<i32> {
        dom_int!(self, py, |d: &Domain| d.undefine_as("virDomainUndefine", 0).map(|()| 0))
    }

    #[pyo3(name = "undefineFlags", signature = (flags = 0))]
    fn undefine_flags(&self, py: Python<'_>, flags: i64) -> PyResult<i32> {
        let f = flags32(flags);
        dom_int!(self, py, |d: &Domain| d.undefine(f).map(|()| 0))
    }

    #[pyo3(name = "XMLDesc", signature = (flags = 0))]
    fn xml_desc(&self, py: Python<'_>, flags: i64) -> PyResult<String> {
        let f = flags32(flags);
        dom_int!(self, py, |d: &Domain| d.xml_desc(f))
    }

    // --- block jobs, guest freeze, jobs: not in virsnap-core -------------
    // libvirt-python has these and external-snapshot callers (nova, vdsm,
    // webvirtcloud, virt-backup) use them; they raise VIR_ERR_NO_SUPPORT,
    // worded as libvirt words a driver without the function.

    #[pyo3(name = "blockCommit", signature = (disk, base, top, bandwidth = 0, flags = 0))]
    fn block_commit(
        &self,
        py: Python<'_>,
        disk: Option<String>,
        base: Option<String>,
        top: Option<String>,
        bandwidth: u64,
        flags: i64,
    ) -> PyResult<i32> {
        let _ = (disk, base, top, bandwidth, flags);
        Err(no_support(py, "virDomainBlockCommit"))
    }

    #[pyo3(name = "blockRebase", signature = (disk, base, bandwidth = 0, flags = 0))]
    fn block_rebase(&self, py: Python<'_>, disk: Option<String>, base: Option<String>, bandwidth: u64, flags: i64) -> PyResult<i32> {
        let _ = (disk, base, bandwidth, flags);
        Err(no_support(py, "virDomainBlockRebase"))
    }

    #[pyo3(name = "blockJobInfo", signature = (path, flags = 0))]
    fn block_job_info(&self, py: Python<'_>, path: Option<String>, flags: i64) -> PyResult<Py<PyAny>> {
        let _ = (path, flags);
        Err(no_support(py, "virDomainGetBlockJobInfo"))
    }

    #[pyo3(name = "blockJobAbort", signature = (disk, flags = 0))]
    fn block_job_abort(&self, py: Python<'_>, disk: Option<String>, flags: i64) -> PyResult<i32> {
        let _ = (disk, flags);
        Err(no_support(py, "virDomainBlockJobAbort"))
    }

    #[pyo3(name = "fsFreeze", signature = (mountpoints = None, flags = 0))]
    fn fs_freeze(&self, py: Python<'_>, mountpoints: Option<Vec<String>>, flags: i64) -> PyResult<i32> {
        let _ = (mountpoints, flags);
        Err(no_support(py, "virDomainFSFreeze"))
    }

    #[pyo3(name = "fsThaw", signature = (mountpoints = None, flags = 0))]
    fn fs_thaw(&self, py: Python<'_>, mountpoints: Option<Vec<String>>, flags: i64) -> PyResult<i32> {
        let _ = (mountpoints, flags);
        Err(no_support(py, "virDomainFSThaw"))
    }


    #[pyo3(name = "updateDeviceFlags", signature = (xml, flags = 0))]
    fn update_device_flags(&self, py: Python<'_>, xml: Option<String>, flags: i64) -> PyResult<i32> {
        let _ = (xml, flags);
        Err(no_support(py, "virDomainUpdateDeviceFlags"))
    }

    // --- snapshots -------------------------------------------------------

    #[pyo3(name = "snapshotCreateXML", signature = (xmlDesc, flags = 0))]
    #[allow(non_snake_case)]
    fn snapshot_create_xml(slf: &Bound<'_, Self>, xmlDesc: Option<String>, flags: i64) -> PyResult<Py<VirDomainSnapshot>> {
        let py = slf.py();
        let xmlDesc = req(py, xmlDesc, ErrorDomain::DomainSnapshot, "virDomainSnapshotCreateXML", "xmlDesc")?;
        let d = slf.get().dom.clone();
        let f = flags32(flags);
        let s = call(py, move || d.snapshot_create_xml(&xmlDesc, f))?;
        wrap_snap(py, slf, s)
    }

    #[pyo3(name = "snapshotListNames", signature = (flags = 0))]
    fn snapshot_list_names<'py>(&self, py: Python<'py>, flags: i64) -> PyResult<Bound<'py, PyList>> {
        let f = flags32(flags);
        let d = self.dom.clone();
        call(py, move || NameBuf::gather(|g| d.snapshot_list_names_with(f, g)))?.into_list(py)
    }

    /// Deletes the snapshots a retention rule does not keep
    /// (`virDomainSnapshotPrune`, virsnap 0.2): `keep` newest, older than
    /// `olderThan` (seconds, or a string such as "7d"); returns the names
    /// deleted (or, with `VIR_DOMAIN_SNAPSHOT_PRUNE_DRY_RUN`, that would be).
    #[pyo3(name = "snapshotPrune", signature = (keep = None, olderThan = None, flags = 0))]
    #[allow(non_snake_case)]
    fn snapshot_prune<'py>(&self, py: Python<'py>, keep: Option<i64>, olderThan: Option<Age>, flags: i64) -> PyResult<Vec<String>> {
        const F: &str = "virDomainSnapshotPrune";
        let f = flags32(flags);
        let bad = |what: &str| raise(py, Error::invalid_arg(ErrorDomain::DomainSnapshot, format!("{F}: {what} must be zero or greater")));
        let keep = match keep {
            None => None,
            Some(k) => Some(usize::try_from(k).map_err(|_| bad("keep"))?),
        };
        let older_than = match olderThan {
            None => None,
            Some(Age::Secs(s)) => Some(std::time::Duration::from_secs(u64::try_from(s).map_err(|_| bad("olderThan"))?)),
            Some(Age::Text(t)) => Some(virsnap_core::health::parse_duration(&t).map_err(|e| raise(py, e))?),
        };
        let d = self.dom.clone();
        call(py, move || d.snapshot_prune(&virsnap_core::health::PruneRule { keep, older_than }, f))
    }

    /// Compares snapshot metadata with the hypervisor's state
    /// (`virDomainSnapshotVerify`, virsnap 0.2); with
    /// `VIR_DOMAIN_SNAPSHOT_VERIFY_REPAIR` applies the lossless fixes.
    /// Returns (differences left, one line per difference found).
    #[pyo3(name = "snapshotVerify", signature = (flags = 0))]
    fn snapshot_verify(&self, py: Python<'_>, flags: i64) -> PyResult<(usize, Vec<String>)> {
        let f = flags32(flags);
        let d = self.dom.clone();
        let found = call(py, move || d.snapshot_verify(f))?;
        Ok((found.iter().filter(|x| x.remains()).count(), found.iter().map(ToString::to_string).collect()))
    }

    #[pyo3(name = "snapshotNum", signature = (flags = 0))]
    fn snapshot_num(&self, py: Python<'_>, flags: i64) -> PyResult<usize> {
        let f = flags32(flags);
        dom_int!(self, py, |d: &Domain| d.snapshot_num(f))
    }

    #[pyo3(name = "listAllSnapshots", signature = (flags = 0))]
    fn list_all_snapshots(slf: &Bound<'_, Self>, flags: i64) -> PyResult<Vec<Py<VirDomainSnapshot>>> {
        let py = slf.py();
        let d = slf.get().dom.clone();
        let f = flags32(flags);
        let snaps = call(py, move || d.list_all_snapshots(f))?;
        snaps.into_iter().map(|s| wrap_snap(py, slf, s)).collect()
    }

    #[pyo3(name = "snapshotLookupByName", signature = (name, flags = 0))]
    fn snapshot_lookup_by_name(slf: &Bound<'_, Self>, name: Option<String>, flags: i64) -> PyResult<Py<VirDomainSnapshot>> {
        let py = slf.py();
        let name = req(py, name, ErrorDomain::DomainSnapshot, "virDomainSnapshotLookupByName", "name")?;
        let d = slf.get().dom.clone();
        let f = flags32(flags);
        let s = call(py, move || d.snapshot_lookup_by_name(&name, f))?;
        wrap_snap(py, slf, s)
    }

    /// virsnap extension: disk usage of every snapshot (`virDomainListSnapshotUsage`),
    /// a list of dicts in `snapshotListNames` order; `None` where the driver cannot know.
    #[pyo3(name = "listSnapshotUsage", signature = (flags = 0))]
    fn list_snapshot_usage<'py>(&self, py: Python<'py>, flags: i64) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let f = flags32(flags);
        let rows = dom_int!(self, py, |d: &Domain| d.snapshot_usage(f))?;
        rows.iter().map(|u| usage_dict(py, u)).collect()
    }

    /// virsnap extension: snapshot by its UUID string.
    #[pyo3(name = "snapshotLookupByUUIDString", signature = (uuid, flags = 0))]
    fn snapshot_lookup_by_uuid_string(slf: &Bound<'_, Self>, uuid: Option<String>, flags: i64) -> PyResult<Py<VirDomainSnapshot>> {
        let py = slf.py();
        let uuid = req(py, uuid, ErrorDomain::DomainSnapshot, "virDomainSnapshotLookupByUUIDString", "uuid")?;
        let d = slf.get().dom.clone();
        let f = flags32(flags);
        let s = call(py, move || d.snapshot_lookup_by_uuid_string(&uuid, f))?;
        wrap_snap(py, slf, s)
    }

    #[pyo3(name = "hasCurrentSnapshot", signature = (flags = 0))]
    fn has_current_snapshot(&self, py: Python<'_>, flags: i64) -> PyResult<i32> {
        let f = flags32(flags);
        dom_int!(self, py, |d: &Domain| d.has_current_snapshot(f).map(int))
    }

    #[pyo3(name = "snapshotCurrent", signature = (flags = 0))]
    fn snapshot_current(slf: &Bound<'_, Self>, flags: i64) -> PyResult<Py<VirDomainSnapshot>> {
        let py = slf.py();
        let d = slf.get().dom.clone();
        let f = flags32(flags);
        let s = call(py, move || d.snapshot_current(f))?;
        wrap_snap(py, slf, s)
    }

    /// Reverts to `snap` (libvirt uses only the snapshot's own domain).
    #[pyo3(name = "revertToSnapshot", signature = (snap, flags = 0))]
    fn revert_to_snapshot(&self, py: Python<'_>, snap: Option<Bound<'_, VirDomainSnapshot>>, flags: i64) -> PyResult<i32> {
        let f = flags32(flags);
        let Some(snap) = snap else {
            return Err(raise(
                py,
                Error::new(ErrorCode::InvalidDomainSnapshot, ErrorDomain::DomainSnapshot, "virDomainRevertToSnapshot"),
            ));
        };
        let s = snap.get().snap.clone();
        call(py, move || s.revert(f).map(|()| 0))
    }
}

// ---------------------------------------------------------------------------
// Snapshots

/// A domain snapshot (`libvirt.virDomainSnapshot`).
#[pyclass(frozen, subclass, dict, weakref, module = "virsnap", name = "virDomainSnapshot")]
pub struct VirDomainSnapshot {
    snap: Snapshot,
    dom: Py<VirDomain>,
}

/// One usage row as a dict (the CLI's `--json` keys).
fn usage_dict<'py>(py: Python<'py>, u: &SnapshotUsage) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &u.name)?;
    d.set_item("reclaimableBytes", u.reclaimable_bytes)?;
    d.set_item("vmStateBytes", u.vm_state_bytes)?;
    d.set_item("exclusiveBytes", u.exclusive_bytes)?;
    d.set_item("sharedBytes", u.shared_bytes)?;
    d.set_item("overlayBytes", u.overlay_bytes)?;
    Ok(d)
}

macro_rules! snap_call {
    ($self:ident, $py:ident, $body:expr) => {{
        let s = $self.snap.clone();
        call($py, move || {
            let s = s;
            #[allow(clippy::redundant_closure_call)]
            ($body)(&s)
        })
    }};
}

#[pymethods]
impl VirDomainSnapshot {
    /// GC support: a snapshot refers to its domain (cycles through `__dict__` are collectable).
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(initialized(&self.dom))
    }

    #[new]
    #[pyo3(signature = (dom = None, _obj = None))]
    fn py_new(dom: Option<Bound<'_, PyAny>>, _obj: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        let _ = dom;
        Err(PyTypeError::new_err("virDomainSnapshot objects are created by virDomain snapshot methods"))
    }

    /// The name, served from the handle (works after the snapshot was deleted).
    #[pyo3(name = "getName")]
    fn get_name(&self) -> String {
        self.snap.name().to_string()
    }

    #[pyo3(name = "getXMLDesc", signature = (flags = 0))]
    fn get_xml_desc(&self, py: Python<'_>, flags: i64) -> PyResult<String> {
        let f = flags32(flags);
        snap_call!(self, py, |s: &Snapshot| s.xml_desc(f))
    }

    #[pyo3(name = "getParent", signature = (flags = 0))]
    fn get_parent(&self, py: Python<'_>, flags: i64) -> PyResult<Py<VirDomainSnapshot>> {
        let f = flags32(flags);
        let p = snap_call!(self, py, |s: &Snapshot| s.parent(f))?;
        wrap_snap(py, self.dom.bind(py), p)
    }

    #[pyo3(name = "listChildrenNames", signature = (flags = 0))]
    fn list_children_names<'py>(&self, py: Python<'py>, flags: i64) -> PyResult<Bound<'py, PyList>> {
        let f = flags32(flags);
        let s = self.snap.clone();
        call(py, move || NameBuf::gather(|g| s.list_children_names_with(f, g)))?.into_list(py)
    }

    #[pyo3(name = "numChildren", signature = (flags = 0))]
    fn num_children(&self, py: Python<'_>, flags: i64) -> PyResult<usize> {
        let f = flags32(flags);
        snap_call!(self, py, |s: &Snapshot| s.num_children(f))
    }

    #[pyo3(name = "listAllChildren", signature = (flags = 0))]
    fn list_all_children(&self, py: Python<'_>, flags: i64) -> PyResult<Vec<Py<VirDomainSnapshot>>> {
        let f = flags32(flags);
        let kids = snap_call!(self, py, |s: &Snapshot| s.list_all_children(f))?;
        let dom = self.dom.bind(py);
        kids.into_iter().map(|k| wrap_snap(py, dom, k)).collect()
    }

    #[pyo3(name = "isCurrent", signature = (flags = 0))]
    fn is_current(&self, py: Python<'_>, flags: i64) -> PyResult<i32> {
        let f = flags32(flags);
        snap_call!(self, py, |s: &Snapshot| s.is_current(f).map(int))
    }

    #[pyo3(name = "hasMetadata", signature = (flags = 0))]
    fn has_metadata(&self, py: Python<'_>, flags: i64) -> PyResult<i32> {
        let f = flags32(flags);
        snap_call!(self, py, |s: &Snapshot| s.has_metadata(f).map(int))
    }

    #[pyo3(signature = (flags = 0))]
    fn delete(&self, py: Python<'_>, flags: i64) -> PyResult<i32> {
        let f = flags32(flags);
        snap_call!(self, py, |s: &Snapshot| s.delete(f).map(|()| 0))
    }

    /// The `virDomain` this snapshot came from (the same Python object).
    fn domain(&self, py: Python<'_>) -> Py<VirDomain> {
        self.dom.clone_ref(py)
    }

    #[pyo3(name = "getDomain")]
    fn get_domain(&self, py: Python<'_>) -> Py<VirDomain> {
        self.dom.clone_ref(py)
    }

    /// The `virConnect` of the domain (the same object as `domain().connect()`).
    fn connect(&self, py: Python<'_>) -> Py<VirConnect> {
        self.dom.get().conn.clone_ref(py)
    }

    #[pyo3(name = "getConnect")]
    fn get_connect(&self, py: Python<'_>) -> Py<VirConnect> {
        self.dom.get().conn.clone_ref(py)
    }

    #[getter(_dom)]
    fn private_dom(&self, py: Python<'_>) -> Py<VirDomain> {
        self.dom.clone_ref(py)
    }

    #[getter(_conn)]
    fn private_conn(&self, py: Python<'_>) -> Py<VirConnect> {
        self.dom.get().conn.clone_ref(py)
    }

    /// An opaque identity for the underlying handle (libvirt-python: the C pointer).
    fn c_pointer(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    // --- virsnap extensions ----------------------------------------------

    /// Renames the snapshot (`virDomainSnapshotRename`); this object takes the new name.
    #[pyo3(signature = (newname, flags = 0))]
    fn rename(&self, py: Python<'_>, newname: Option<String>, flags: i64) -> PyResult<i32> {
        let f = flags32(flags);
        let newname = req(py, newname, ErrorDomain::DomainSnapshot, "virDomainSnapshotRename", "newname")?;
        snap_call!(self, py, |s: &Snapshot| s.rename(&newname, f).map(|()| 0))
    }

    /// Reverts to the snapshot and makes sure the guest runs (`virDomainCreateFromSnapshot`).
    #[pyo3(name = "createFrom", signature = (flags = 0))]
    fn create_from(&self, py: Python<'_>, flags: i64) -> PyResult<i32> {
        let f = flags32(flags);
        snap_call!(self, py, |s: &Snapshot| s.create_from(f).map(|()| 0))
    }

    /// The snapshot's disk usage (`virDomainSnapshotGetUsage`): a dict with
    /// `name` and the byte counts, `None` where the driver cannot know.
    #[pyo3(name = "getUsage", signature = (flags = 0))]
    fn get_usage<'py>(&self, py: Python<'py>, flags: i64) -> PyResult<Bound<'py, PyDict>> {
        let f = flags32(flags);
        let u = snap_call!(self, py, |s: &Snapshot| s.usage(f))?;
        usage_dict(py, &u)
    }

    /// The snapshot's UUID (`virDomainSnapshotGetUUIDString`).
    #[pyo3(name = "UUIDString")]
    fn uuid_string(&self, py: Python<'_>) -> PyResult<String> {
        snap_call!(self, py, |s: &Snapshot| s.uuid_string())
    }
}

// ---------------------------------------------------------------------------
// Module

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<VirConnect>()?;
    m.add_class::<VirDomain>()?;
    m.add_class::<VirDomainSnapshot>()?;
    m.add_class::<PyEventStream>()?;
    m.add_function(wrap_pyfunction!(raise_error, m)?)?;
    m.add_function(wrap_pyfunction!(open, m)?)?;
    m.add_function(wrap_pyfunction!(open_read_only, m)?)?;
    m.add_function(wrap_pyfunction!(open_auth, m)?)?;
    m.add_function(wrap_pyfunction!(get_version, m)?)?;
    m.add_function(wrap_pyfunction!(register_error_handler, m)?)?;
    m.add_function(wrap_pyfunction!(vir_get_last_error, m)?)?;
    m.add_function(wrap_pyfunction!(vir_reset_last_error, m)?)?;
    m.add_function(wrap_pyfunction!(vir_get_last_error_code, m)?)?;
    m.add_function(wrap_pyfunction!(vir_get_last_error_domain, m)?)?;
    m.add_function(wrap_pyfunction!(vir_get_last_error_message, m)?)?;
    m.add_function(wrap_pyfunction!(py_no_support, m)?)?;
    Ok(())
}

//! One vSphere session per connection: service content, login, the cookie,
//! every SOAP call (counted), faults mapped to libvirt errors, and a single
//! transparent re-login when the server forgot the session.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::http::{Answer, Transport};
use super::soap::{self, el, envelope, Fault, MoRef, Node, Reply};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

const ESX: ErrorDomain = ErrorDomain::Esx;

thread_local! {
    /// SOAP round trips made by this thread (see [`super::thread_round_trips`]).
    pub static THREAD_ROUND_TRIPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// Task polls of this thread that found the task still queued or
    /// running (see [`super::thread_task_repolls`]).
    pub static THREAD_TASK_REPOLLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The parts of `ServiceContent` the driver uses.
#[derive(Debug, Clone, Default)]
pub struct ServiceContent {
    /// `rootFolder`.
    pub root_folder: Option<MoRef>,
    /// `propertyCollector`.
    pub property_collector: Option<MoRef>,
    /// `sessionManager`.
    pub session_manager: Option<MoRef>,
    /// `searchIndex`.
    pub search_index: Option<MoRef>,
    /// `about.apiType`: `HostAgent` or `VirtualCenter`.
    pub api_type: String,
    /// `about.apiVersion` (`6.5`).
    pub api_version: String,
    /// `about.version` (`6.5.0`).
    pub version: String,
    /// `about.productLineId` (`embeddedEsx`, `esx`, `vpx`).
    pub product_line: String,
}

impl ServiceContent {
    fn from_node(n: &Node) -> Self {
        let m = |name: &str| n.child(name).and_then(MoRef::from_node);
        let about = |name: &str| n.path(&format!("about/{name}")).map(|a| a.text.trim().to_owned()).unwrap_or_default();
        Self {
            root_folder: m("rootFolder"),
            property_collector: m("propertyCollector"),
            session_manager: m("sessionManager"),
            search_index: m("searchIndex"),
            api_type: about("apiType"),
            api_version: about("apiVersion"),
            version: about("version"),
            product_line: about("productLineId"),
        }
    }
}

/// The error for a fault answered by `method`.
pub fn fault_error(method: &str, f: &Fault) -> Error {
    let kind = f.kind_or_code();
    let obj_type = f.detail.as_ref().and_then(|d| d.child("obj")).and_then(|o| o.attr("type")).unwrap_or("");
    let code = match kind {
        "ManagedObjectNotFound" if obj_type == "VirtualMachineSnapshot" => ErrorCode::NoDomainSnapshot,
        "ManagedObjectNotFound" if obj_type == "VirtualMachine" => ErrorCode::NoDomain,
        "ManagedObjectNotFound" | "NotFound" => ErrorCode::OperationFailed,
        "NotAuthenticated" | "InvalidLogin" | "NoPermission" => ErrorCode::AuthFailed,
        "MethodNotFound" | "NotImplemented" | "NotSupported" => ErrorCode::NoSupport,
        "InvalidPowerState" | "InvalidState" | "TaskInProgress" | "ConcurrentAccess" => ErrorCode::OperationInvalid,
        "InvalidArgument" | "InvalidName" => ErrorCode::InvalidArg,
        "InvalidRequest" => ErrorCode::Rpc,
        _ => ErrorCode::InternalError,
    };
    let detail = if code == ErrorCode::NoSupport {
        format!("{method} ({})", f.describe())
    } else {
        format!("HTTP response code 500 for call to '{method}'. Fault: {}", f.describe())
    };
    Error::new(code, ESX, detail)
}

/// A live session.
pub struct Session {
    transport: Transport,
    cookie: Mutex<Option<String>>,
    round_trips: AtomicU64,
    soap_action: String,
    /// What the server said it is.
    pub content: ServiceContent,
    user: String,
    password: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("transport", &self.transport)
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish_non_exhaustive()
    }
}

fn rpc(detail: String) -> Error {
    Error::new(ErrorCode::Rpc, ESX, detail)
}

impl Session {
    /// Fetches the service content (no session needed) and checks that the
    /// server is the kind the scheme asks for.
    pub fn connect(transport: Transport, scheme: &str) -> Result<Self> {
        let mut s = Self {
            transport,
            cookie: Mutex::new(None),
            round_trips: AtomicU64::new(0),
            soap_action: "urn:vim25".to_owned(),
            content: ServiceContent::default(),
            user: String::new(),
            password: String::new(),
        };
        let si = MoRef::new("ServiceInstance", "ServiceInstance");
        let r = s.call_once("RetrieveServiceContent", &si.this())?;
        let rv = r
            .child("returnval")
            .ok_or_else(|| rpc("RetrieveServiceContent returned no service content".to_owned()))?;
        s.content = ServiceContent::from_node(rv);
        let c = &s.content;
        if c.property_collector.is_none() || c.session_manager.is_none() || c.root_folder.is_none() {
            return Err(rpc("the server's service content lacks the property collector, session manager or root folder".to_owned()));
        }
        let (want, found) = match (scheme, c.api_type.as_str()) {
            ("vpx", "VirtualCenter") | ("esx", "HostAgent") => (None, ""),
            ("vpx", other) => (Some("a vCenter"), other),
            (_, other) => (Some("an ESX(i) host"), other),
        };
        if let Some(want) = want {
            return Err(Error::internal(
                ESX,
                format!("Expecting '{}' to be {want} but found a server of type '{found}'", s.transport.url()),
            ));
        }
        if !c.api_version.is_empty() {
            s.soap_action = format!("urn:vim25/{}", c.api_version);
        }
        Ok(s)
    }

    /// Logs in; the password is XML-escaped and never logged.
    pub fn login(&mut self, user: &str, password: &str) -> Result<()> {
        self.user = user.to_owned();
        self.password = password.to_owned();
        self.do_login()
    }

    /// Logs in again with the stored credentials (the server dropped the session).
    pub fn relogin(&self) -> Result<()> {
        self.do_login()
    }

    fn do_login(&self) -> Result<()> {
        let sm = self.content.session_manager.clone().unwrap_or_else(|| MoRef::new("SessionManager", "ha-sessionmgr"));
        if let Ok(mut c) = self.cookie.lock() {
            *c = None;
        }
        let body = format!("{}{}{}", sm.this(), el("userName", &self.user), el("password", &self.password));
        match self.call_once("Login", &body) {
            Ok(_) => Ok(()),
            Err(e) if e.code == ErrorCode::AuthFailed => Err(Error::new(
                ErrorCode::AuthFailed,
                ESX,
                format!("Login as '{}' refused by the server", self.user),
            )),
            Err(e) => Err(e),
        }
    }

    /// Logs out (best effort).
    pub fn logout(&self) {
        if let Some(sm) = self.content.session_manager.clone() {
            let _ = self.call_once("Logout", &sm.this());
        }
    }

    /// SOAP round trips made so far.
    /// The server's SDK URL. Since 0.2.
    pub fn url(&self) -> &str {
        self.transport.url()
    }

    /// Requests sent so far.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// The property collector's reference.
    pub fn property_collector(&self) -> MoRef {
        self.content.property_collector.clone().unwrap_or_else(|| MoRef::new("PropertyCollector", "ha-property-collector"))
    }

    /// Calls `method` with `inner` (starting with `_this`); re-logs in once
    /// if the server answers `NotAuthenticated`.
    pub fn call(&self, method: &str, inner: &str) -> Result<Node> {
        match self.call_raw(method, inner)? {
            Ok(n) => Ok(n),
            Err(f) if f.kind_or_code() == "NotAuthenticated" && !self.user.is_empty() => {
                self.do_login()?;
                match self.call_raw(method, inner)? {
                    Ok(n) => Ok(n),
                    Err(f) => Err(fault_error(method, &f)),
                }
            }
            Err(f) => Err(fault_error(method, &f)),
        }
    }

    fn call_once(&self, method: &str, inner: &str) -> Result<Node> {
        self.call_raw(method, inner)?.map_err(|f| fault_error(method, &f))
    }

    /// One POST: `Ok(Ok(response))`, `Ok(Err(fault))`, or a transport /
    /// protocol error.
    pub fn call_raw(&self, method: &str, inner: &str) -> Result<std::result::Result<Node, Fault>> {
        let body = envelope(method, inner);
        let cookie = self.cookie.lock().ok().and_then(|c| c.clone());
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        THREAD_ROUND_TRIPS.with(|c| c.set(c.get() + 1));
        match self.transport.post(&body, &self.soap_action, cookie.as_deref()) {
            Answer::Transport(e) => Err(rpc(format!("SOAP call to '{method}' failed: {e}"))),
            Answer::Http { status, cookie: new_cookie, body } => {
                if let Some(c) = new_cookie {
                    if let Ok(mut g) = self.cookie.lock() {
                        *g = Some(c);
                    }
                }
                let parsed = soap::parse_reply(&body);
                match (status, parsed) {
                    (200, Ok(Reply::Ok(n))) => {
                        let want = format!("{method}Response");
                        if n.name == want {
                            Ok(Ok(n))
                        } else {
                            Err(rpc(format!("SOAP call to '{method}' got <{}> instead of <{want}>", n.name)))
                        }
                    }
                    (200 | 500, Ok(Reply::Fault(f))) => Ok(Err(f)),
                    (200, Err(e)) => Err(rpc(format!("malformed SOAP response to '{method}': {e}"))),
                    (code, _) => Err(rpc(format!("HTTP response code {code} for call to '{method}'"))),
                }
            }
        }
    }
}

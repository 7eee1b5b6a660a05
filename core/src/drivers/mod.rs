//! Hypervisor drivers behind one trait.
//!
//! [`Driver`]'s methods take owned, already-checked arguments (the public
//! entry-point checks live in [`crate::connect`]); every default method
//! answers `VIR_ERR_NO_SUPPORT` naming the public function, as libvirt does
//! when a driver leaves a slot empty.

use std::sync::Arc;

use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::model::{DomainState, SnapshotInfo};
use crate::names::SnapName;
use crate::uuid::Uuid;

// Each driver but `test` is a cargo feature of virsnap-core (all on by
// default); a compiled-out driver's URIs get libvirt's "no connection
// driver available" error.
#[cfg(feature = "esx")]
pub mod esx;
#[cfg(feature = "qemu")]
pub mod qemu;
pub mod align;
pub mod test;
#[cfg(feature = "vbox")]
pub mod vbox;

/// A domain as a driver names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRef {
    /// Domain name.
    pub name: String,
    /// Domain UUID.
    pub uuid: Uuid,
    /// Hypervisor id while running, -1 when inactive.
    pub id: i32,
}

/// `virDomainInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DomainInfo {
    /// `virDomainState` number.
    pub state: u8,
    /// Maximum memory in KiB.
    pub max_mem: u64,
    /// Current memory in KiB.
    pub memory: u64,
    /// Number of virtual CPUs.
    pub nr_virt_cpu: u16,
    /// CPU time used, in nanoseconds.
    pub cpu_time: u64,
}

/// Which public listing call a [`Driver::snapshot_list`] serves (drivers name
/// it in "unsupported flags … in function …" errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `virDomainSnapshotNum` / `virDomainSnapshotNumChildren`.
    Num,
    /// `virDomainSnapshotListNames` / `virDomainSnapshotListChildrenNames`.
    Names,
    /// `virDomainListAllSnapshots` / `virDomainSnapshotListAllChildren`.
    All,
}

/// Callback reporting progress of a long operation: (operation, percent 0..=100).
pub type ProgressFn = Arc<dyn Fn(&str, u32) + Send + Sync>;

/// `virConnectCredential` types.
pub mod cred {
    /// Identity to act as.
    pub const USERNAME: i32 = 1;
    /// Identity to authorize as.
    pub const AUTHNAME: i32 = 2;
    /// Passphrase secret.
    pub const PASSPHRASE: i32 = 5;
    /// Challenge response, echoed.
    pub const ECHOPROMPT: i32 = 6;
    /// Challenge response, not echoed.
    pub const NOECHOPROMPT: i32 = 7;
    /// Authentication realm.
    pub const REALM: i32 = 8;
}

/// One credential a driver asks for (`virConnectCredential`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CredRequest {
    /// One of [`cred`]'s values.
    pub kind: i32,
    /// Prompt text.
    pub prompt: String,
    /// Additional challenge (the host name for ESX).
    pub challenge: Option<String>,
    /// Default result.
    pub default: Option<String>,
    /// The answer, filled by the callback.
    pub result: Option<String>,
}

/// The function inside [`Auth`].
pub type AuthCallback = dyn Fn(&mut [CredRequest]) -> Result<()> + Send + Sync;

/// Credential callback given to [`crate::Connection::open_auth`]
/// (`virConnectAuth`): the credential types it can answer and the function.
#[derive(Clone)]
pub struct Auth {
    /// Credential types the callback understands.
    pub cred_types: Vec<i32>,
    /// Fills `result` of each request; an error aborts the open.
    pub callback: Arc<AuthCallback>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("cred_types", &self.cred_types).finish_non_exhaustive()
    }
}

/// What a driver is opened with.
#[derive(Debug, Clone)]
pub struct OpenRequest {
    /// The full URI.
    pub uri: String,
    /// Read-only connection.
    pub read_only: bool,
    /// Credential callback, if any.
    pub auth: Option<Auth>,
}

/// The driver interface. Names in `&str` are validated by the caller only
/// where the public API says so; drivers validate what they persist.
#[allow(unused_variables)]
pub trait Driver: Send + Sync {
    /// `virConnectGetType` (`Test`, `QEMU`, `ESX`, `VBOX`).
    fn type_name(&self) -> &'static str;
    /// The error domain this driver reports in.
    fn error_domain(&self) -> ErrorDomain;
    /// Prefix of this driver's internal function names in flag errors
    /// (`test` gives `testDomainGetState`).
    fn func_prefix(&self) -> &'static str;
    /// Hypervisor version (`virConnectGetVersion`).
    fn hypervisor_version(&self) -> Result<u64> {
        Err(Error::no_support("virConnectGetVersion"))
    }
    /// Installs (or clears) the progress callback.
    fn set_progress(&self, progress: Option<ProgressFn>) {}

    /// Every domain, active ones first.
    fn list_domains(&self) -> Result<Vec<DomainRef>> {
        Err(Error::no_support("virConnectListAllDomains"))
    }
    /// Domain by name; `VIR_ERR_NO_DOMAIN` if absent.
    fn lookup_domain_by_name(&self, name: &str) -> Result<DomainRef> {
        Err(Error::no_support("virDomainLookupByName"))
    }
    /// Domain by UUID.
    fn lookup_domain_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        Err(Error::no_support("virDomainLookupByUUID"))
    }
    /// Running domain by id.
    fn lookup_domain_by_id(&self, id: i32) -> Result<DomainRef> {
        Err(Error::no_support("virDomainLookupByID"))
    }
    /// Current state and reason.
    fn domain_state(&self, dom: &DomainRef) -> Result<(DomainState, i32)> {
        Err(Error::no_support("virDomainGetState"))
    }
    /// `virDomainGetInfo`.
    fn domain_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        Err(Error::no_support("virDomainGetInfo"))
    }
    /// True for a persistent (defined) domain.
    fn domain_is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        Err(Error::no_support("virDomainIsPersistent"))
    }
    /// Domain XML (`VIR_DOMAIN_XML_*` flags).
    fn domain_xml(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        Err(Error::no_support("virDomainGetXMLDesc"))
    }
    /// `virNodeGetSecurityModel`: (model, DOI); an empty model means none
    /// is active. Since 0.1.0.
    fn node_security_model(&self) -> Result<(String, String)> {
        Err(Error::no_support("virNodeGetSecurityModel"))
    }
    /// `virDomainGetSecurityLabel`: (label, enforcing); an empty label
    /// means none. Since 0.1.0.
    fn domain_security_label(&self, dom: &DomainRef) -> Result<(String, bool)> {
        Err(Error::no_support("virDomainGetSecurityLabel"))
    }
    /// `virDomainGetOSType`. The default reads `<os><type>` of the domain
    /// XML; `None` when it has none. Since 0.1.0.
    fn domain_os_type(&self, dom: &DomainRef) -> Result<Option<String>> {
        let xml = self.domain_xml(dom, 0)?;
        Ok(crate::xml::parse_document(&xml, "domain_definition", ErrorDomain::Domain)
            .ok()
            .and_then(|e| e.path("os/type").map(|t| t.text())))
    }
    /// Create a checkpoint (`virDomainCheckpointCreateXML`); returns its
    /// name. Since 0.1.0.
    fn checkpoint_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        Err(Error::no_support("virDomainCheckpointCreateXML"))
    }
    /// The checks [`Self::checkpoint_create_xml`] makes before it parses
    /// the XML (the domain's state), for a caller holding XML it knows
    /// will not parse (not UTF-8). Since 0.1.0.
    fn checkpoint_create_check(&self, dom: &DomainRef) -> Result<()> {
        Err(Error::no_support("virDomainCheckpointCreateXML"))
    }
    /// Start a defined domain.
    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        Err(Error::no_support("virDomainCreateWithFlags"))
    }
    /// Power off at once.
    fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        Err(Error::no_support("virDomainDestroy"))
    }
    /// Ask the guest to shut down.
    fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        Err(Error::no_support("virDomainShutdown"))
    }
    /// Pause.
    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        Err(Error::no_support("virDomainSuspend"))
    }
    /// Unpause.
    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        Err(Error::no_support("virDomainResume"))
    }
    /// Define (or redefine) a persistent domain.
    fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        Err(Error::no_support("virDomainDefineXMLFlags"))
    }
    /// Start a transient domain.
    fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        Err(Error::no_support("virDomainCreateXML"))
    }
    /// Undefine (`VIR_DOMAIN_UNDEFINE_*` flags).
    fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        Err(Error::no_support("virDomainUndefineFlags"))
    }

    /// True when libvirt's driver leaves a handle's id as it was after a
    /// destroy or shutdown through it (qemu); false when it sets it from the
    /// domain (-1 once stopped: test, esx, vbox). Since: virsnap 0.1.
    fn keeps_handle_id_on_stop(&self) -> bool {
        false
    }
    /// `virDomainQemuMonitorCommand[WithFiles]` (`func`): `cmd` to the
    /// running guest's monitor, QMP JSON (or HMP text with flag
    /// `VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP`); returns the reply as libvirt
    /// does. Since: virsnap 0.1.
    fn qemu_monitor_command(&self, dom: &DomainRef, cmd: &str, flags: u32, func: &str) -> Result<String> {
        Err(Error::no_support(func))
    }
    /// `virDomainQemuAgentCommand`: `cmd` to the guest agent. Since: virsnap 0.1.
    fn qemu_agent_command(&self, dom: &DomainRef, cmd: &str, timeout: i32, flags: u32) -> Result<String> {
        Err(Error::no_support("virDomainQemuAgentCommand"))
    }

    /// Create a snapshot; returns its name.
    fn snapshot_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        Err(Error::no_support("virDomainSnapshotCreateXML"))
    }
    /// The checks [`Self::snapshot_create_xml`] makes with `flags` before
    /// it parses the XML; the default has none. Since 0.1.0.
    fn snapshot_create_check(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        Ok(())
    }
    /// Snapshot XML.
    fn snapshot_xml_desc(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        Err(Error::no_support("virDomainSnapshotGetXMLDesc"))
    }
    /// Names of the domain's snapshots matching `flags` (`LIST_*`, ROOTS meaning roots).
    fn snapshot_list(&self, dom: &DomainRef, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        Err(Error::no_support("virDomainSnapshotListNames"))
    }
    /// Names of a snapshot's children (`LIST_*`, DESCENDANTS meaning all descendants).
    fn snapshot_list_children(&self, dom: &DomainRef, name: &str, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        Err(Error::no_support("virDomainSnapshotListChildrenNames"))
    }
    /// Checks that snapshot `name` exists; returns its name.
    fn snapshot_lookup(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        Err(Error::no_support("virDomainSnapshotLookupByName"))
    }
    /// Number of names [`Self::snapshot_list`] (`of` is `None`) or
    /// [`Self::snapshot_list_children`] of `of` would return for `flags`.
    /// The default builds that list; drivers override it to count in place.
    /// Since 0.1.
    fn snapshot_count(&self, dom: &DomainRef, of: Option<&str>, flags: u32) -> Result<usize> {
        Ok(match of {
            None => self.snapshot_list(dom, flags, ListKind::Num)?.len(),
            Some(n) => self.snapshot_list_children(dom, n, flags, ListKind::Num)?.len(),
        })
    }
    /// Calls `visit` with each name [`Self::snapshot_list`] (`of` is `None`)
    /// or [`Self::snapshot_list_children`] of `of` would return, in order.
    /// A name is borrowed for the call; clone it to keep it. The default
    /// builds that list and copies each name; drivers override it to hand
    /// out their own names without a list. Since 0.1.
    fn snapshot_visit(
        &self,
        dom: &DomainRef,
        of: Option<&str>,
        flags: u32,
        kind: ListKind,
        visit: &mut dyn FnMut(&SnapName),
    ) -> Result<()> {
        let names = match of {
            None => self.snapshot_list(dom, flags, kind)?,
            Some(n) => self.snapshot_list_children(dom, n, flags, kind)?,
        };
        for n in names {
            visit(&SnapName::new(&n));
        }
        Ok(())
    }
    /// [`Self::snapshot_lookup`] returning the name as a [`SnapName`] the
    /// caller keeps (the default copies it). Since 0.1.
    fn snapshot_lookup_shared(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<SnapName> {
        Ok(SnapName::new(&self.snapshot_lookup(dom, name, flags)?))
    }
    /// Snapshot by virsnap UUID; returns its name.
    fn snapshot_lookup_by_uuid(&self, dom: &DomainRef, uuid: &Uuid, flags: u32) -> Result<String> {
        Err(Error::no_support("virDomainSnapshotLookupByUUIDString"))
    }
    /// The snapshot's UUID.
    fn snapshot_uuid(&self, dom: &DomainRef, name: &str) -> Result<Uuid> {
        Err(Error::no_support("virDomainSnapshotGetUUIDString"))
    }
    /// The current snapshot's name, `None` when there is none.
    fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<Option<String>> {
        Err(Error::no_support("virDomainSnapshotCurrent"))
    }
    /// Whether the domain has a current snapshot (`virDomainHasCurrentSnapshot`).
    fn snapshot_has_current(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        Ok(self.snapshot_current(dom, flags)?.is_some())
    }
    /// State, creation time, parent and location of `name`. The default
    /// reads them from [`Self::snapshot_xml_desc`]; `None` when that does
    /// not parse. Since 0.1.0.
    fn snapshot_info(&self, dom: &DomainRef, name: &str) -> Result<Option<SnapshotInfo>> {
        Ok(SnapshotInfo::from_xml(&self.snapshot_xml_desc(dom, name, 0)?))
    }
    /// The parent's name, `None` for a root.
    fn snapshot_parent(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<Option<String>> {
        Err(Error::no_support("virDomainSnapshotGetParent"))
    }
    /// Is `name` the current snapshot?
    fn snapshot_is_current(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<bool> {
        Err(Error::no_support("virDomainSnapshotIsCurrent"))
    }
    /// Does `name` have driver metadata?
    fn snapshot_has_metadata(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<bool> {
        Err(Error::no_support("virDomainSnapshotHasMetadata"))
    }
    /// Revert the domain to `name`.
    fn snapshot_revert(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        Err(Error::no_support("virDomainRevertToSnapshot"))
    }
    /// Delete `name` (libvirt's `DELETE_*` flags only; seed modes are translated).
    fn snapshot_delete(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        Err(Error::no_support("virDomainSnapshotDelete"))
    }
    /// Rename `name` to `new_name` (already validated).
    fn snapshot_rename(&self, dom: &DomainRef, name: &str, new_name: &str, flags: u32) -> Result<()> {
        Err(Error::no_support("virDomainSnapshotRename"))
    }
    /// Start the guest from `name` (`virDomainCreateFromSnapshot`).
    ///
    /// The default reverts with `REVERT_RUNNING` (or `REVERT_PAUSED` when
    /// asked) and then makes sure the guest runs.
    fn snapshot_create_from(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        use crate::flags::revert;
        let paused = flags & revert::PAUSED != 0;
        let rflags = (flags & revert::FORCE) | if paused { revert::PAUSED } else { revert::RUNNING };
        self.snapshot_revert(dom, name, rflags)?;
        let (state, _) = self.domain_state(dom)?;
        match (state, paused) {
            (DomainState::Shutoff | DomainState::Crashed | DomainState::NoState, false) => self.domain_create(dom, 0),
            (DomainState::Shutoff | DomainState::Crashed | DomainState::NoState, true) => {
                self.domain_create(dom, crate::flags::domain::START_PAUSED)
            }
            (DomainState::Paused, false) => self.domain_resume(dom),
            _ => Ok(()),
        }
    }
    /// Delete every snapshot of the domain; returns how many were deleted.
    fn snapshot_delete_all(&self, dom: &DomainRef, flags: u32) -> Result<usize> {
        let total = self.snapshot_list(dom, 0, ListKind::Num)?.len();
        for root in self.snapshot_list(dom, crate::flags::list::ROOTS, ListKind::Names)? {
            self.snapshot_delete(dom, &root, crate::flags::delete::CHILDREN)?;
        }
        Ok(total)
    }
    /// The domain's current job (or with `VIR_DOMAIN_JOB_STATS_COMPLETED`
    /// its last completed one): `virDomainGetJobStats`. Since 0.2.
    fn job_stats(&self, dom: &DomainRef, flags: u32) -> Result<crate::job::JobStats> {
        let _ = (dom, flags);
        // libvirt-domain.c reports it in VIR_FROM_DOMAIN.
        Err(Error::no_support("virDomainGetJobStats").in_domain(ErrorDomain::Domain))
    }
    /// Aborts the domain's current job (`virDomainAbortJob`), returning
    /// once it has stopped. Since 0.2.
    fn job_abort(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        let _ = (dom, flags);
        Err(Error::no_support("virDomainAbortJob").in_domain(ErrorDomain::Domain))
    }
}

/// A driver's constructor: `Some(result)` when it handles the URI's scheme.
type Opener = fn(&OpenRequest, &ParsedUri) -> Option<Result<Arc<dyn Driver>>>;

/// A URI split into its parts (`scheme://[user@]host[:port]/path?query`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedUri {
    /// `test`, `qemu`, `esx`, `vpx`, `vbox`.
    pub scheme: String,
    /// User, if given.
    pub user: Option<String>,
    /// Host, may be empty.
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
    /// Path, starting with `/` (may be empty).
    pub path: String,
    /// Query parameters in order, percent-decoded.
    pub query: Vec<(String, String)>,
}

impl ParsedUri {
    /// Parses `uri`; `VIR_ERR_INVALID_ARG` from VIR_FROM_URI when malformed.
    pub fn parse(uri: &str) -> Result<Self> {
        let bad = |why: &str| Error::new(ErrorCode::InvalidArg, ErrorDomain::Uri, format!("Unable to parse URI {uri}: {why}"));
        if uri.len() > 4096 || uri.chars().any(char::is_control) {
            return Err(bad("invalid characters or length"));
        }
        let (scheme, rest) = uri.split_once("://").ok_or_else(|| bad("missing scheme"))?;
        if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
            return Err(bad("invalid scheme"));
        }
        let (before_query, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.find('/') {
            Some(i) => (&before_query[..i], &before_query[i..]),
            None => (before_query, ""),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(percent_decode(u).ok_or_else(|| bad("bad escape"))?), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, rest) = h.split_once(']').ok_or_else(|| bad("bad IPv6 host"))?;
            let port = match rest.strip_prefix(':') {
                Some(p) => Some(p.parse::<u16>().map_err(|_| bad("bad port"))?),
                None if rest.is_empty() => None,
                None => return Err(bad("bad host")),
            };
            (h.to_owned(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p.parse::<u16>().map_err(|_| bad("bad port"))?)),
                None => (hostport.to_owned(), None),
            }
        };
        let mut params = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((
                percent_decode(k).ok_or_else(|| bad("bad escape"))?,
                percent_decode(v).ok_or_else(|| bad("bad escape"))?,
            ));
        }
        Ok(Self {
            scheme: scheme.to_ascii_lowercase(),
            user,
            host,
            port,
            path: percent_decode(path).ok_or_else(|| bad("bad escape"))?,
            query: params,
        })
    }

    /// The value of query parameter `key` (last one wins, as libvirt).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn openers() -> &'static [Opener] {
    &[
        test::open,
        #[cfg(feature = "qemu")]
        qemu::open,
        #[cfg(feature = "esx")]
        esx::open,
        #[cfg(feature = "vbox")]
        vbox::open,
    ]
}

/// The URI used when the caller passes none: `LIBVIRT_DEFAULT_URI`, else `test:///default`.
pub fn default_uri() -> String {
    std::env::var("LIBVIRT_DEFAULT_URI")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "test:///default".to_owned())
}

/// Opens the driver for `req.uri`; `VIR_ERR_NO_CONNECT` when none handles it.
pub fn open(req: &OpenRequest) -> Result<Arc<dyn Driver>> {
    let parsed = ParsedUri::parse(&req.uri)?;
    for opener in openers() {
        if let Some(r) = opener(req, &parsed) {
            return r;
        }
    }
    Err(Error::new(ErrorCode::NoConnect, ErrorDomain::None, req.uri.clone()))
}

/// Checks `flags` against `allowed`; `unsupported flags (0x…) in function …`.
pub fn check_flags(flags: u32, allowed: u32, domain: ErrorDomain, func: &str) -> Result<()> {
    let extra = flags & !allowed;
    if extra == 0 { Ok(()) } else { Err(Error::unsupported_flags(domain, extra, func)) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_uris() {
        let u = ParsedUri::parse("esx://root@127.0.0.1:8989/?transport=http&no_verify=1").unwrap();
        assert_eq!((u.scheme.as_str(), u.user.as_deref(), u.host.as_str(), u.port), ("esx", Some("root"), "127.0.0.1", Some(8989)));
        assert_eq!(u.param("transport"), Some("http"));
        let u = ParsedUri::parse("qemu:///embed?root=/tmp/a%20b").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str(), u.param("root")), ("", "/embed", Some("/tmp/a b")));
        assert!(ParsedUri::parse("nonsense").is_err());
        assert!(ParsedUri::parse("esx://h:99999/").is_err());
    }
}

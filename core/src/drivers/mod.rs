//! Hypervisor drivers behind one trait.
//!
//! [`Driver`]'s methods take owned, already-checked arguments (the public
//! entry-point checks live in [`crate::connect`]); every default method
//! answers `VIR_ERR_NO_SUPPORT` naming the public function, as libvirt does
//! when a driver leaves a slot empty.

use std::sync::Arc;

use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::model::{DomainState, SnapshotEntry, SnapshotInfo};
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
pub mod remote;
pub mod test;
pub mod uri_syntax;
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
    /// The host's own name where the driver asks its hypervisor
    /// (`virConnectGetHostname` of ESX; the remote driver asks its daemon);
    /// `None`: this machine's name
    /// ([`crate::host::hostname`]). Since 0.3.
    fn host_name(&self) -> Option<Result<String>> {
        None
    }
    /// The remote driver behind this connection, if it is one: host-level
    /// calls (capabilities, node info, sysinfo, free memory, max vCPUs)
    /// then ask the daemon instead of describing this machine. Since 0.3.
    fn as_remote(&self) -> Option<&remote::RemoteDriver> {
        None
    }
    /// Installs (or clears) the progress callback.
    fn set_progress(&self, progress: Option<ProgressFn>) {}

    /// The scope of this driver's domain events ([`crate::events`]): one
    /// per driver state. Default: this instance. Since 0.2.
    fn event_scope(&self) -> String {
        format!("instance:{:p}", std::ptr::from_ref(self).cast::<()>())
    }
    /// The log through which other processes on the same state see this
    /// driver's events (`None`: events stay in the process). Since 0.2.
    fn event_log(&self) -> Option<std::path::PathBuf> {
        None
    }

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
    /// One entry per snapshot [`Self::snapshot_list`] (`of` is `None`) or
    /// [`Self::snapshot_list_children`] of `of` would return for `flags`
    /// (`LIST_*`), in the same order, each with everything a listing shows
    /// (parent, children count, state, times, current, metadata, UUID,
    /// memory and disks). With `full` false a driver may leave out what
    /// costs extra reads (description, disk files).
    ///
    /// The default asks the per-snapshot calls (XML, children, metadata,
    /// UUID) for each name; drivers override it to answer from one read of
    /// their tree. Since 0.1.0.
    fn snapshot_tree_entries(&self, dom: &DomainRef, of: Option<&str>, flags: u32, full: bool) -> Result<Vec<SnapshotEntry>> {
        let names = match of {
            None => self.snapshot_list(dom, flags, ListKind::All)?,
            Some(n) => self.snapshot_list_children(dom, n, flags, ListKind::All)?,
        };
        let current = current_or_none(self, dom)?;
        let mut out = Vec::with_capacity(names.len());
        for n in &names {
            out.push(entry_by_calls(self, dom, n, current.as_deref())?);
        }
        Ok(out)
    }
    /// The entry of snapshot `name` alone (see
    /// [`Self::snapshot_tree_entries`]); the default asks the per-snapshot
    /// calls. Since 0.1.0.
    fn snapshot_entry(&self, dom: &DomainRef, name: &str, full: bool) -> Result<SnapshotEntry> {
        let current = current_or_none(self, dom)?;
        entry_by_calls(self, dom, name, current.as_deref())
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
    /// Deletes each of `names` with libvirt's default delete (children
    /// re-parented, data merged into them), in the given order; a prune's
    /// deletions. The default deletes one by one; a driver that can do
    /// better (one pass) overrides it. Since 0.2.
    fn snapshot_delete_set(&self, dom: &DomainRef, names: &[String]) -> Result<()> {
        for n in names {
            self.snapshot_delete(dom, n, 0)?;
        }
        Ok(())
    }
    /// Compares the snapshot metadata with the hypervisor's state; with
    /// `repair`, applies the lossless fixes. One finding per difference.
    /// Since 0.2.
    fn snapshot_verify(&self, dom: &DomainRef, repair: bool) -> Result<Vec<crate::health::Finding>> {
        Err(Error::no_support("virDomainSnapshotVerify"))
    }
    /// Disk usage of snapshot `name`, or of every snapshot (in
    /// [`Self::snapshot_list`] order) when `name` is `None`. The default
    /// knows no numbers: each row has only the name. Since 0.2.
    fn snapshot_usage(&self, dom: &DomainRef, name: Option<&str>, flags: u32) -> Result<Vec<crate::usage::SnapshotUsage>> {
        check_flags(flags, 0, self.error_domain(), &format!("{}DomainSnapshotGetUsage", self.func_prefix()))?;
        Ok(match name {
            Some(n) => vec![crate::usage::SnapshotUsage::unknown(self.snapshot_lookup(dom, n, 0)?)],
            None => self.snapshot_list(dom, 0, ListKind::All)?.into_iter().map(crate::usage::SnapshotUsage::unknown).collect(),
        })
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

/// The current snapshot's name, `None` also when the driver has no such call.
fn current_or_none<D: Driver + ?Sized>(drv: &D, dom: &DomainRef) -> Result<Option<String>> {
    match drv.snapshot_current(dom, 0) {
        Ok(c) => Ok(c),
        // A driver (the remote one: libvirt's daemon) may report "no
        // current snapshot" as an error rather than `None`.
        Err(e) if matches!(e.code, ErrorCode::NoSupport | ErrorCode::NoDomainSnapshot) => Ok(None),
        Err(e) => Err(e),
    }
}

/// [`Driver::snapshot_entry`] from the per-snapshot calls (XML, children,
/// metadata, UUID).
fn entry_by_calls<D: Driver + ?Sized>(drv: &D, dom: &DomainRef, name: &str, current: Option<&str>) -> Result<SnapshotEntry> {
    let xml = drv.snapshot_xml_desc(dom, name, 0)?;
    let def = crate::xml::parse_snapshot(&xml, crate::xml::ParseFlags { redefine: true, internal: false })?;
    let children = drv.snapshot_count(dom, Some(name), 0)?;
    let metadata = match drv.snapshot_has_metadata(dom, name, 0) {
        Ok(m) => m,
        Err(e) if e.code == ErrorCode::NoSupport => false,
        Err(e) => return Err(e),
    };
    let uuid = drv.snapshot_uuid(dom, name).ok();
    Ok(SnapshotEntry::from_def(name, &def, children, current == Some(name), metadata, uuid))
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
    /// Parses `uri` as libvirt's `virURIParse` (libxml2's RFC 3986 grammar,
    /// see [`uri_syntax`]): a string it refuses is `VIR_ERR_INTERNAL_ERROR`
    /// from VIR_FROM_URI, "Unable to parse URI …"; one without a scheme is
    /// `VIR_ERR_NO_CONNECT` "URI '…' does not include a driver name", as
    /// `virConnectOpen` says. The scheme is kept as written (libvirt matches
    /// drivers' schemes case-sensitively), the fragment is dropped, the
    /// user, host and path are percent-decoded. virsnap's own limits: at most
    /// 4096 bytes, ports up to 65535, decoded parts valid UTF-8 (else the
    /// same parse error).
    pub fn parse(uri: &str) -> Result<Self> {
        let bad = || Error::new(ErrorCode::InternalError, ErrorDomain::Uri, format!("Unable to parse URI {uri}"));
        if uri.len() > 4096 {
            return Err(bad());
        }
        let parts = uri_syntax::split(uri).ok_or_else(bad)?;
        let Some(scheme) = parts.scheme else {
            return Err(Error::new(ErrorCode::NoConnect, ErrorDomain::None, format!("URI '{uri}' does not include a driver name")));
        };
        let decode = |s: &str| percent_decode(s).ok_or_else(bad);
        let user = parts.userinfo.map(decode).transpose()?;
        let host = match parts.host {
            // An empty IP literal is a host libvirt hands to the remote
            // driver: keep it visible so no local driver takes the URI.
            Some("[]") => "[]".to_owned(),
            Some(h) => decode(h.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(h))?,
            None => String::new(),
        };
        let port = parts.port.map(|p| p.parse::<u16>().map_err(|_| bad())).transpose()?;
        let mut params = Vec::new();
        for pair in parts.query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((decode(k)?, decode(v)?));
        }
        Ok(Self { scheme: scheme.to_owned(), user, host, port, path: decode(parts.path)?, query: params })
    }

    /// The value of query parameter `key` (last one wins, as libvirt).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// `uri` as libvirt's `virConnectGetURI` gives it back: `virURIFormat`
/// of `virURIParse`, i.e. libxml2's `xmlSaveUri` of the parsed parts.
/// Always `scheme://`; the user (decoded, re-escaped) and `@`; the host
/// (an IPv6 address in brackets) and a port above 0 when there is a host;
/// the path decoded and re-escaped; the query as written; the fragment
/// decoded and re-escaped (`test:/default` gives `test:///default`,
/// `test:///%64efault#%41` gives `test:///default#A`). A URI that does not
/// parse is returned as it is. Since 0.3.
pub fn format_uri(uri: &str) -> String {
    let Some(parts) = uri_syntax::split(uri) else { return uri.to_owned() };
    let Some(scheme) = parts.scheme else { return uri.to_owned() };
    let decoded = |s: &str| percent_decode(s);
    let mut out = format!("{scheme}://");
    let host = match parts.host.map(|h| h.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(h)) {
        Some(h) => match decoded(h) {
            Some(h) => h,
            None => return uri.to_owned(),
        },
        None => String::new(),
    };
    if let Some(u) = parts.userinfo {
        let Some(u) = decoded(u) else { return uri.to_owned() };
        out.push_str(&xml_escape(&u, b";:&=+$,"));
        out.push('@');
    }
    if host.contains(':') {
        out.push_str(&format!("[{host}]"));
    } else {
        out.push_str(&host);
    }
    if let Some(p) = parts.port.and_then(|p| p.parse::<u32>().ok()).filter(|p| *p > 0 && !host.is_empty()) {
        out.push_str(&format!(":{p}"));
    }
    let Some(path) = decoded(parts.path) else { return uri.to_owned() };
    out.push_str(&xml_escape(&path, b"/;@&=+$,"));
    if let Some(q) = parts.query {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = parts.fragment {
        let Some(f) = decoded(f) else { return uri.to_owned() };
        out.push('#');
        out.push_str(&xml_escape(&f, b";/?:@&=+$,[]"));
    }
    out
}

/// libxml2's escaping in `xmlSaveUri`: RFC 2396 unreserved characters
/// (ASCII letters, digits, `-_.!~*'()`) and `keep` as they are, every other
/// byte `%XX` (upper-case hex).
fn xml_escape(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
        remote::open,
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
        let e = ParsedUri::parse("nonsense").unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::NoConnect, "no connection driver available for URI 'nonsense' does not include a driver name"));
        let e = ParsedUri::parse("test:///a b").unwrap_err();
        assert_eq!((e.code, e.domain, e.message.as_str()), (ErrorCode::InternalError, ErrorDomain::Uri, "internal error: Unable to parse URI test:///a b"));
        assert!(ParsedUri::parse("esx://h:99999/").is_err());
        let u = ParsedUri::parse("Test:/default#frag").unwrap();
        assert_eq!((u.scheme.as_str(), u.host.as_str(), u.path.as_str()), ("Test", "", "/default"));
        assert_eq!(ParsedUri::parse("test://[]/default").unwrap().host, "[]");
        assert_eq!(ParsedUri::parse("test://[::1]:80/x").unwrap().host, "::1");
    }
}

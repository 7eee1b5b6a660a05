//! The public Rust API: [`Connection`], [`Domain`], [`Snapshot`].
//!
//! This is libvirt's entry-point layer (`src/libvirt-domain-snapshot.c`):
//! read-only checks, flag-group checks and the seed's delete modes are
//! handled here once, then the call is dispatched to the [`Driver`]. The C
//! ABI, the Python module and the CLI all call through this module, so they
//! report identical errors.

use std::sync::{Arc, OnceLock, RwLock};

use crate::events::{self, EventKind, SnapshotEvent};
use crate::drivers::{self, Auth, Driver, DomainInfo, DomainRef, ListKind, OpenRequest, ProgressFn};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::flags::{create, delete, list, revert, xml as xmlf};
use crate::model::{DomainState, SnapshotInfo};
use crate::names::{validate_snapshot_name, SnapName};
use crate::usage::SnapshotUsage;
use crate::uuid::Uuid;

/// libvirt's version number this library implements (`LIBVIR_VERSION_NUMBER`).
pub const LIBVIRT_VERSION_NUMBER: u64 = 9_000_000;

/// `VIR_CONNECT_RO` for [`Connection::open_auth`].
pub const CONNECT_RO: u32 = 1;

struct ConnInner {
    uri: String,
    read_only: bool,
    driver: Arc<dyn Driver>,
    /// The driver's event scope ([`crate::events`]).
    scope: Arc<str>,
    /// The driver's cross-process event log, if it has one.
    event_log: Option<std::path::PathBuf>,
}

/// A subscription to a connection's domain events
/// ([`Connection::subscribe_events`]): in-process events go to the sink;
/// other processes' (drivers with an event log) are read with
/// [`Self::read_remote`] when [`Self::fd`] is readable. Dropping it
/// unsubscribes. Since 0.2.
#[derive(Debug)]
pub struct EventStream {
    _sub: events::Subscription,
    watcher: Option<events::LogWatcher>,
}

impl EventStream {
    /// A descriptor that becomes readable when another process emitted an
    /// event in this scope (owned by the stream), or None for drivers whose
    /// events stay in the process.
    pub fn fd(&self) -> Option<std::os::fd::RawFd> {
        self.watcher.as_ref().map(events::LogWatcher::fd)
    }

    /// Blocks until another process may have emitted an event, then returns
    /// what [`Self::read_remote`] does (possibly empty). Without a log it
    /// returns an empty list at once.
    pub fn wait_remote(&mut self) -> Result<Vec<events::Event>> {
        match self.watcher.as_mut() {
            None => Ok(Vec::new()),
            Some(w) => w.wait().map_err(|e| Error::system(ErrorDomain::None, "cannot read the domain event log", &e)),
        }
    }

    /// The events other processes emitted since the last call (never
    /// blocks; empty without a log).
    pub fn read_remote(&mut self) -> Result<Vec<events::Event>> {
        match self.watcher.as_mut() {
            None => Ok(Vec::new()),
            Some(w) => w.read().map_err(|e| Error::system(ErrorDomain::None, "cannot read the domain event log", &e)),
        }
    }
}

/// An open connection to a hypervisor driver. Cheap to clone; thread-safe.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<ConnInner>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("uri", &self.inner.uri).field("read_only", &self.inner.read_only).finish()
    }
}

fn ro_check(conn: &Connection, func: &str) -> Result<()> {
    ro_check_in(conn, func, ErrorDomain::DomainSnapshot)
}

/// Read-only check of public function `func`, reported from `domain`.
fn ro_check_in(conn: &Connection, func: &str, domain: ErrorDomain) -> Result<()> {
    if conn.inner.read_only {
        Err(Error::read_only_in(domain, func))
    } else {
        Ok(())
    }
}

/// Read-only check of a domain-level call: libvirt reports these from
/// `VIR_FROM_DOMAIN` (20) rather than the snapshot domain.
fn ro_check_domain(conn: &Connection, func: &str) -> Result<()> {
    ro_check_in(conn, func, ErrorDomain::Domain)
}

fn exclusive(flags: u32, a: u32, b: u32, func: &str, name: fn(u32) -> &'static str) -> Result<()> {
    if flags & a != 0 && flags & b != 0 {
        Err(Error::flags_exclusive(func, name(a), name(b)))
    } else {
        Ok(())
    }
}

fn revert_name(bit: u32) -> &'static str {
    match bit {
        revert::RUNNING => "VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING",
        revert::PAUSED => "VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED",
        _ => "VIR_DOMAIN_SNAPSHOT_REVERT_FORCE",
    }
}

fn delete_name(bit: u32) -> &'static str {
    match bit {
        delete::CHILDREN => "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN",
        delete::CHILDREN_ONLY => "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY",
        delete::METADATA_ONLY => "VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY",
        delete::MERGE => "VIR_DOMAIN_SNAPSHOT_DELETE_MERGE",
        delete::MERGE_FORCE => "VIR_DOMAIN_SNAPSHOT_DELETE_MERGE_FORCE",
        delete::DISCARD => "VIR_DOMAIN_SNAPSHOT_DELETE_DISCARD",
        _ => "VIR_DOMAIN_SNAPSHOT_DELETE_DISCARD_FORCE",
    }
}

impl Connection {
    /// Opens `uri` read-write (`None` or empty: `LIBVIRT_DEFAULT_URI`, else
    /// `test:///default`). Since 0.1 (libvirt `virConnectOpen`).
    pub fn open(uri: Option<&str>) -> Result<Self> {
        Self::open_auth(uri, None, 0)
    }

    /// Opens `uri` read-only (`virConnectOpenReadOnly`).
    pub fn open_read_only(uri: Option<&str>) -> Result<Self> {
        Self::open_auth(uri, None, CONNECT_RO)
    }

    /// Opens `uri` with a credential callback (`virConnectOpenAuth`);
    /// `flags` may hold [`CONNECT_RO`].
    pub fn open_auth(uri: Option<&str>, auth: Option<Auth>, flags: u32) -> Result<Self> {
        drivers::check_flags(flags, CONNECT_RO | 2, ErrorDomain::None, "virConnectOpenAuth")?;
        let uri = match uri {
            Some(u) if !u.is_empty() => u.to_owned(),
            _ => drivers::default_uri(),
        };
        let read_only = flags & CONNECT_RO != 0;
        let driver = drivers::open(&OpenRequest { uri: uri.clone(), read_only, auth })?;
        // virConnectGetURI gives libvirt's form of it back.
        let scope = Arc::from(driver.event_scope());
        let event_log = driver.event_log();
        Ok(Self { inner: Arc::new(ConnInner { uri: drivers::format_uri(&uri), read_only, driver, scope, event_log }) })
    }

    /// The scope of this connection's domain events: connections with the
    /// same scope see each other's events ([`crate::events`]). Since 0.2.
    pub fn event_scope(&self) -> &str {
        &self.inner.scope
    }

    /// Calls `sink` (on the emitting thread: it must only queue) with every
    /// domain event of this connection's scope emitted in this process, and,
    /// for drivers with an event log, watches the log for other processes'
    /// (see [`EventStream`]). Since 0.2.
    pub fn subscribe_events(&self, sink: events::Sink) -> Result<EventStream> {
        let watcher = match &self.inner.event_log {
            Some(p) => Some(events::LogWatcher::new(p).map_err(|e| {
                Error::system(ErrorDomain::None, format!("cannot watch domain events in '{}'", p.display()), &e)
            })?),
            None => None,
        };
        let sub = events::subscribe(&self.inner.scope, sink);
        Ok(EventStream { _sub: sub, watcher })
    }

    /// A domain handle for an event's domain (no lookup). Since 0.2.
    pub fn domain_for_event(&self, r: &DomainRef) -> Domain {
        self.domain(r.clone())
    }

    /// True when an event emitted now would reach someone (so the extra
    /// state queries some events need are worth making).
    fn events_wanted(&self) -> bool {
        events::has_subscribers(&self.inner.scope) || self.inner.event_log.as_ref().is_some_and(|p| p.exists())
    }

    /// Emits `kind` for `dom` in this connection's scope and log.
    fn emit(&self, dom: DomainRef, kind: EventKind) {
        let ev = events::Event { domain: dom, kind };
        events::emit(&self.inner.scope, &ev);
        if let Some(p) = &self.inner.event_log {
            if let Err(_e) = events::publish(p, &ev) {
                // The operation has succeeded; only a watcher in another
                // process misses this event (its log is unwritable).
            }
        }
    }

    /// The URI this connection was opened with, as libvirt formats it
    /// back (`virConnectGetURI`, see [`drivers::format_uri`]).
    pub fn uri(&self) -> &str {
        &self.inner.uri
    }

    /// The driver's name (`virConnectGetType`): `Test`, `QEMU`, `ESX`, `VBOX`.
    pub fn type_name(&self) -> &'static str {
        self.inner.driver.type_name()
    }

    /// True for a read-only connection.
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// libvirt version implemented (`virConnectGetLibVersion`).
    pub fn lib_version(&self) -> u64 {
        LIBVIRT_VERSION_NUMBER
    }

    /// Hypervisor version (`virConnectGetVersion`).
    pub fn hypervisor_version(&self) -> Result<u64> {
        self.inner.driver.hypervisor_version()
    }

    /// The host's security model and DOI (`virNodeGetSecurityModel`); an
    /// empty model means none is active.
    ///
    /// Since 0.1.0.
    pub fn security_model(&self) -> Result<(String, String)> {
        self.inner.driver.node_security_model()
    }

    /// Installs (or clears) a progress callback for long driver operations.
    pub fn set_progress(&self, progress: Option<ProgressFn>) {
        self.inner.driver.set_progress(progress);
    }

    /// The driver behind this connection (for extensions and tests).
    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.inner.driver
    }

    fn domain(&self, r: DomainRef) -> Domain {
        let id = std::sync::atomic::AtomicI32::new(r.id);
        Domain { inner: Arc::new(DomainInner { conn: self.clone(), r, id }) }
    }

    /// Every domain matching `VIR_CONNECT_LIST_DOMAINS_*` `flags` (`virConnectListAllDomains`).
    pub fn list_all_domains(&self, flags: u32) -> Result<Vec<Domain>> {
        use crate::flags::list_domains as f;
        let func = format!("{}ConnectListAllDomains", self.inner.driver.func_prefix());
        drivers::check_flags(flags, f::ALL, self.inner.driver.error_domain(), &func)?;
        let mut out = Vec::new();
        for r in self.inner.driver.list_domains()? {
            let d = self.domain(r);
            if flags != 0 && !d.matches_list_flags(flags)? {
                continue;
            }
            out.push(d);
        }
        Ok(out)
    }

    /// Number of active domains (`virConnectNumOfDomains`).
    pub fn num_of_domains(&self) -> Result<usize> {
        Ok(self.inner.driver.list_domains()?.iter().filter(|d| d.id >= 0).count())
    }

    /// Domain by name (`virDomainLookupByName`).
    pub fn lookup_by_name(&self, name: &str) -> Result<Domain> {
        Ok(self.domain(self.inner.driver.lookup_domain_by_name(name)?))
    }

    /// Domain by raw UUID (`virDomainLookupByUUID`).
    pub fn lookup_by_uuid(&self, uuid: &[u8; 16]) -> Result<Domain> {
        Ok(self.domain(self.inner.driver.lookup_domain_by_uuid(&Uuid(*uuid))?))
    }

    /// Domain by UUID string (`virDomainLookupByUUIDString`).
    pub fn lookup_by_uuid_string(&self, uuid: &str) -> Result<Domain> {
        let u = Uuid::parse(uuid).ok_or_else(|| {
            Error::invalid_arg_raw(ErrorDomain::Domain, "virDomainLookupByUUIDString", "uuidstr", "Invalid UUID".to_owned())
        })?;
        Ok(self.domain(self.inner.driver.lookup_domain_by_uuid(&u)?))
    }

    /// Running domain by id (`virDomainLookupByID`).
    pub fn lookup_by_id(&self, id: i32) -> Result<Domain> {
        if id < 0 {
            return Err(Error::invalid_arg_raw(
                ErrorDomain::Domain,
                "virDomainLookupByID",
                "id",
                "id in virDomainLookupByID must be zero or greater".to_owned(),
            ));
        }
        Ok(self.domain(self.inner.driver.lookup_domain_by_id(id)?))
    }

    /// Defines a persistent domain (`virDomainDefineXMLFlags`).
    pub fn define_xml(&self, xml: &str, flags: u32) -> Result<Domain> {
        ro_check_domain(self, "virDomainDefineXMLFlags")?;
        let existed = self.events_wanted().then(|| self.inner.driver.list_domains().unwrap_or_default());
        let r = self.inner.driver.domain_define_xml(xml, flags)?;
        if let Some(before) = existed {
            use events::lifecycle::*;
            let detail = if before.iter().any(|d| d.name == r.name) { DEFINED_UPDATED } else { DEFINED_ADDED };
            self.emit(r.clone(), EventKind::Lifecycle { event: DEFINED, detail });
        }
        Ok(self.domain(r))
    }

    /// Starts a transient domain (`virDomainCreateXML`).
    pub fn create_xml(&self, xml: &str, flags: u32) -> Result<Domain> {
        ro_check_domain(self, "virDomainCreateXML")?;
        let r = self.inner.driver.domain_create_xml(xml, flags)?;
        use events::lifecycle::*;
        self.emit(r.clone(), EventKind::Lifecycle { event: STARTED, detail: STARTED_BOOTED });
        if flags & 1 != 0 {
            self.emit(r.clone(), EventKind::Lifecycle { event: SUSPENDED, detail: SUSPENDED_PAUSED });
        }
        Ok(self.domain(r))
    }
}

/// A domain handle: connection plus name, UUID and the id seen at lookup.
#[derive(Clone, Debug)]
pub struct Domain {
    /// Shared by every clone (each snapshot handle holds one): a clone is
    /// one reference count, no copy.
    inner: Arc<DomainInner>,
}

#[derive(Debug)]
struct DomainInner {
    conn: Connection,
    r: DomainRef,
    /// The id this handle reports: `r.id` at lookup, updated by this
    /// handle's own create / destroy / shutdown (as libvirt's `dom->id`).
    id: std::sync::atomic::AtomicI32,
}

impl Domain {
    /// The connection this domain came from.
    pub fn connection(&self) -> &Connection {
        &self.inner.conn
    }

    /// Domain name (`virDomainGetName`).
    pub fn name(&self) -> &str {
        &self.inner.r.name
    }

    /// Domain UUID (`virDomainGetUUID`).
    pub fn uuid(&self) -> Uuid {
        self.inner.r.uuid
    }

    /// Domain UUID string (`virDomainGetUUIDString`).
    pub fn uuid_string(&self) -> String {
        self.inner.r.uuid.to_string()
    }

    /// The handle's id, -1 when inactive (`virDomainGetID` returns it as
    /// unsigned): seen at lookup, and updated when a create, destroy or
    /// shutdown through this handle succeeds (other handles keep theirs, as
    /// in libvirt).
    pub fn id(&self) -> i32 {
        self.inner.id.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// After a successful create / destroy / shutdown through this handle:
    /// takes the domain's id from the driver, as libvirt's drivers set
    /// `dom->id`. The operation itself has succeeded, so a failing lookup
    /// (the domain vanished meanwhile) leaves the id as it was rather than
    /// turn that success into an error.
    fn refresh_id(&self) {
        if let Ok(r) = self.drv().lookup_domain_by_uuid(&self.inner.r.uuid) {
            self.inner.id.store(r.id, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The driver's reference for this domain.
    pub fn domain_ref(&self) -> &DomainRef {
        &self.inner.r
    }

    fn drv(&self) -> &Arc<dyn Driver> {
        &self.inner.conn.inner.driver
    }

    fn matches_list_flags(&self, flags: u32) -> Result<bool> {
        use crate::flags::list_domains as f;
        let (state, _) = self.state(0)?;
        let active = state.is_active();
        if flags & (f::ACTIVE | f::INACTIVE) != 0
            && !((flags & f::ACTIVE != 0 && active) || (flags & f::INACTIVE != 0 && !active))
        {
            return Ok(false);
        }
        if flags & (f::PERSISTENT | f::TRANSIENT) != 0 {
            let p = self.drv().domain_is_persistent(&self.inner.r)?;
            if !((flags & f::PERSISTENT != 0 && p) || (flags & f::TRANSIENT != 0 && !p)) {
                return Ok(false);
            }
        }
        if flags & (f::RUNNING | f::PAUSED | f::SHUTOFF | f::OTHER) != 0 {
            let ok = match state {
                DomainState::Running => flags & f::RUNNING != 0,
                DomainState::Paused => flags & f::PAUSED != 0,
                DomainState::Shutoff => flags & f::SHUTOFF != 0,
                _ => flags & f::OTHER != 0,
            };
            if !ok {
                return Ok(false);
            }
        }
        if flags & (f::MANAGEDSAVE | f::NO_MANAGEDSAVE) != 0 && flags & f::NO_MANAGEDSAVE == 0 {
            return Ok(false);
        }
        if flags & (f::AUTOSTART | f::NO_AUTOSTART) != 0 && flags & f::NO_AUTOSTART == 0 {
            return Ok(false);
        }
        if flags & (f::HAS_CHECKPOINT | f::NO_CHECKPOINT) != 0 && flags & f::NO_CHECKPOINT == 0 {
            return Ok(false);
        }
        if flags & (f::HAS_SNAPSHOT | f::NO_SNAPSHOT) != 0 {
            let has = self.drv().snapshot_count(&self.inner.r, None, 0)? > 0;
            if !((flags & f::HAS_SNAPSHOT != 0 && has) || (flags & f::NO_SNAPSHOT != 0 && !has)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// State and reason (`virDomainGetState`; `flags` must be 0).
    pub fn state(&self, flags: u32) -> Result<(DomainState, i32)> {
        let func = format!("{}DomainGetState", self.drv().func_prefix());
        drivers::check_flags(flags, 0, self.drv().error_domain(), &func)?;
        self.drv().domain_state(&self.inner.r)
    }

    /// `virDomainGetInfo`.
    pub fn info(&self) -> Result<DomainInfo> {
        self.drv().domain_info(&self.inner.r)
    }

    /// `virDomainIsActive`.
    pub fn is_active(&self) -> Result<bool> {
        Ok(self.state(0)?.0.is_active())
    }

    /// `virDomainIsPersistent`.
    pub fn is_persistent(&self) -> Result<bool> {
        self.drv().domain_is_persistent(&self.inner.r)
    }

    /// The id the domain has now (-1 when inactive), refreshed from the driver.
    pub fn current_id(&self) -> Result<i32> {
        let fresh = self.drv().lookup_domain_by_uuid(&self.inner.r.uuid)?;
        Ok(fresh.id)
    }

    /// Start (`virDomainCreateWithFlags`).
    pub fn create(&self, flags: u32) -> Result<()> {
        self.create_as("virDomainCreateWithFlags", flags)
    }

    /// [`Self::create`] called through the public function `api`
    /// (`virDomainCreate`, `virDomainCreateWithFlags`): its errors name it.
    /// Since 0.1.0.
    pub fn create_as(&self, api: &str, flags: u32) -> Result<()> {
        ro_check_domain(&self.inner.conn, api)?;
        self.drv().domain_create(&self.inner.r, flags)?;
        self.refresh_id();
        use events::lifecycle::*;
        // libvirt's qemu driver reports QEMU's RESUME (the CPUs start)
        // before the start itself.
        if flags & 1 == 0 && self.drv().type_name() == "QEMU" {
            self.lifecycle(RESUMED, RESUMED_UNPAUSED);
        }
        self.lifecycle(STARTED, STARTED_BOOTED);
        if flags & 1 != 0 {
            self.lifecycle(SUSPENDED, SUSPENDED_PAUSED);
        }
        Ok(())
    }

    /// Power off (`virDomainDestroy`; flags as `virDomainDestroyFlags`).
    pub fn destroy(&self, flags: u32) -> Result<()> {
        self.destroy_as("virDomainDestroy", flags)
    }

    /// [`Self::destroy`] called through the public function `api`
    /// (`virDomainDestroy`, `virDomainDestroyFlags`): its errors name it.
    /// Since 0.1.0.
    pub fn destroy_as(&self, api: &str, flags: u32) -> Result<()> {
        ro_check_domain(&self.inner.conn, api)?;
        self.drv().domain_destroy(&self.inner.r, flags)?;
        if !self.drv().keeps_handle_id_on_stop() {
            // A destroyed domain has no id: libvirt's drivers set the
            // handle's to -1 without asking the hypervisor again.
            self.inner.id.store(-1, std::sync::atomic::Ordering::Relaxed);
        }
        if self.drv().type_name() == "QEMU" {
            // libvirt's qemu driver reports QEMU's SHUTDOWN (host signal) first.
            self.lifecycle(events::lifecycle::SHUTDOWN, events::lifecycle::SHUTDOWN_HOST);
        }
        self.lifecycle(events::lifecycle::STOPPED, events::lifecycle::STOPPED_DESTROYED);
        Ok(())
    }

    /// Graceful shutdown (`virDomainShutdown`; flags as `virDomainShutdownFlags`).
    pub fn shutdown(&self, flags: u32) -> Result<()> {
        self.shutdown_as("virDomainShutdown", flags)
    }

    /// [`Self::shutdown`] called through the public function `api`
    /// (`virDomainShutdown`, `virDomainShutdownFlags`): its errors name it.
    /// Since 0.1.0.
    pub fn shutdown_as(&self, api: &str, flags: u32) -> Result<()> {
        ro_check_domain(&self.inner.conn, api)?;
        self.drv().domain_shutdown(&self.inner.r, flags)?;
        if !self.drv().keeps_handle_id_on_stop() {
            self.refresh_id();
        }
        // A guest that is still going down reports its stop when it is
        // seen stopped (a later operation), as libvirt's drivers do on
        // QEMU's SHUTDOWN event.
        if self.inner.conn.events_wanted() && self.state(0).is_ok_and(|(s, _)| !s.is_active()) {
            self.lifecycle(events::lifecycle::STOPPED, events::lifecycle::STOPPED_SHUTDOWN);
        }
        Ok(())
    }

    /// `virDomainQemuMonitorCommand` / `…WithFiles` (`func`): `cmd` to the
    /// guest's QEMU monitor (QMP JSON; HMP text with flag 1); the reply text.
    /// Drivers other than qemu give `VIR_ERR_NO_SUPPORT`. Since: virsnap 0.1.
    pub fn qemu_monitor_command(&self, cmd: &str, flags: u32, func: &str) -> Result<String> {
        // libvirt-qemu.c reports from VIR_FROM_NONE.
        ro_check_in(&self.inner.conn, func, ErrorDomain::None)?;
        self.drv().qemu_monitor_command(&self.inner.r, cmd, flags, func)
    }

    /// `virDomainQemuAgentCommand`: `cmd` (JSON) to the guest agent within
    /// `timeout` seconds (or a `VIR_DOMAIN_QEMU_AGENT_COMMAND_*` value).
    /// Since: virsnap 0.1.
    pub fn qemu_agent_command(&self, cmd: &str, timeout: i32, flags: u32) -> Result<String> {
        ro_check_in(&self.inner.conn, "virDomainQemuAgentCommand", ErrorDomain::None)?;
        self.drv().qemu_agent_command(&self.inner.r, cmd, timeout, flags)
    }

    /// `virDomainGetJobStats`: the current job, or the last completed one
    /// with `VIR_DOMAIN_JOB_STATS_COMPLETED`. Since 0.2.
    pub fn job_stats(&self, flags: u32) -> Result<crate::job::JobStats> {
        use crate::job::stats_flags::{COMPLETED, KEEP_COMPLETED};
        // VIR_REQUIRE_FLAG_GOTO of libvirt-domain.c.
        if flags & KEEP_COMPLETED != 0 && flags & COMPLETED == 0 {
            return Err(Error::flag_requires("virDomainGetJobStats", "VIR_DOMAIN_JOB_STATS_COMPLETED", "VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED")
                .in_domain(ErrorDomain::Domain));
        }
        self.drv().job_stats(&self.inner.r, flags)
    }

    /// `virDomainGetJobInfo`: the current job's figures. Since 0.2.
    pub fn job_info(&self) -> Result<crate::job::JobStats> {
        self.drv().job_stats(&self.inner.r, 0)
    }

    /// `virDomainAbortJob`: stops the current job; returns once it has
    /// stopped with nothing of it left. Since 0.2.
    pub fn abort_job(&self) -> Result<()> {
        ro_check_domain(&self.inner.conn, "virDomainAbortJob")?;
        self.drv().job_abort(&self.inner.r, 0)
    }

    /// Pause (`virDomainSuspend`).
    pub fn suspend(&self) -> Result<()> {
        ro_check_domain(&self.inner.conn, "virDomainSuspend")?;
        self.drv().domain_suspend(&self.inner.r)?;
        self.lifecycle(events::lifecycle::SUSPENDED, events::lifecycle::SUSPENDED_PAUSED);
        Ok(())
    }

    /// Unpause (`virDomainResume`).
    pub fn resume(&self) -> Result<()> {
        ro_check_domain(&self.inner.conn, "virDomainResume")?;
        self.drv().domain_resume(&self.inner.r)?;
        self.lifecycle(events::lifecycle::RESUMED, events::lifecycle::RESUMED_UNPAUSED);
        Ok(())
    }

    /// Undefine (`virDomainUndefineFlags`).
    pub fn undefine(&self, flags: u32) -> Result<()> {
        self.undefine_as("virDomainUndefineFlags", flags)
    }

    /// [`Self::undefine`] called through the public function `api`
    /// (`virDomainUndefine`, `virDomainUndefineFlags`): its errors name it.
    /// Since 0.1.0.
    pub fn undefine_as(&self, api: &str, flags: u32) -> Result<()> {
        ro_check_domain(&self.inner.conn, api)?;
        self.drv().domain_undefine(&self.inner.r, flags)?;
        self.lifecycle(events::lifecycle::UNDEFINED, events::lifecycle::UNDEFINED_REMOVED);
        Ok(())
    }

    /// This domain's reference for an event: its id as this handle sees it.
    fn event_ref(&self) -> DomainRef {
        DomainRef { id: self.id(), ..self.inner.r.clone() }
    }

    fn lifecycle(&self, event: i32, detail: i32) {
        self.inner.conn.emit(self.event_ref(), EventKind::Lifecycle { event, detail });
    }

    /// Emits a snapshot event of this domain (for operations outside this
    /// module, such as a retention prune: `SnapshotEvent::Pruned`).
    ///
    /// Since 0.2.
    pub fn emit_snapshot_event(&self, event: SnapshotEvent, name: &str, old_name: Option<&str>) {
        self.inner.conn.emit(
            self.event_ref(),
            EventKind::Snapshot { event, name: name.to_owned(), old_name: old_name.map(str::to_owned) },
        );
    }

    /// The lifecycle events of a revert to `name` with `flags`, computed
    /// before it runs (None when nobody would receive them).
    fn revert_events(&self, name: &str, flags: u32) -> Option<Vec<(i32, i32)>> {
        if !self.inner.conn.events_wanted() {
            return None;
        }
        let (before, _) = self.drv().domain_state(&self.inner.r).ok()?;
        let snap = self.drv().snapshot_info(&self.inner.r, name).ok().flatten().and_then(|i| i.state);
        Some(match self.drv().type_name() {
            "QEMU" => events::revert_lifecycle_qemu(before, snap, flags),
            t => events::revert_lifecycle(before, snap, flags, t == "Test"),
        })
    }

    /// Emits a revert's events (computed by [`Self::revert_events`]).
    /// `None` (nobody listens) costs nothing: no hypervisor round trip for
    /// the id the events carry.
    fn emit_revert(&self, name: &str, lifecycle: Option<Vec<(i32, i32)>>) {
        let Some(lifecycle) = lifecycle else { return };
        self.refresh_id();
        for (event, detail) in lifecycle {
            self.lifecycle(event, detail);
        }
        self.emit_snapshot_event(SnapshotEvent::Reverted, name, None);
    }

    /// The guest OS type (`virDomainGetOSType`); `None` when the
    /// definition names none.
    ///
    /// Since 0.1.0.
    pub fn os_type(&self) -> Result<Option<String>> {
        self.drv().domain_os_type(&self.inner.r)
    }

    /// The domain's security label and whether it is enforced
    /// (`virDomainGetSecurityLabel`); an empty label means none.
    ///
    /// Since 0.1.0.
    pub fn security_label(&self) -> Result<(String, bool)> {
        self.drv().domain_security_label(&self.inner.r)
    }

    /// Creates a checkpoint (`virDomainCheckpointCreateXML`); returns its
    /// name. Only the test driver has checkpoints (its rules: none while
    /// the domain has snapshots, and no snapshot while it has one).
    ///
    /// Since 0.1.0.
    pub fn checkpoint_create_xml(&self, xml: &str, flags: u32) -> Result<String> {
        ro_check(&self.inner.conn, "virDomainCheckpointCreateXML")?;
        self.drv().checkpoint_create_xml(&self.inner.r, xml, flags)
    }

    /// The error [`Self::checkpoint_create_xml`] gives before it reads the
    /// XML (read-only connection, driver without checkpoints, the domain's
    /// state), if any: for a caller holding XML that will not parse, so it
    /// reports the errors in libvirt's order.
    ///
    /// Since 0.1.0.
    pub fn checkpoint_create_check(&self) -> Result<()> {
        ro_check(&self.inner.conn, "virDomainCheckpointCreateXML")?;
        self.drv().checkpoint_create_check(&self.inner.r)
    }

    /// Domain XML (`virDomainGetXMLDesc`).
    pub fn xml_desc(&self, flags: u32) -> Result<String> {
        if self.inner.conn.inner.read_only && flags & crate::flags::domain::XML_SECURE != 0 {
            return Err(Error::new(ErrorCode::OperationDenied, ErrorDomain::Domain, "virDomainGetXMLDesc with secure flag"));
        }
        self.drv().domain_xml(&self.inner.r, flags)
    }

    fn snapshot(&self, name: SnapName) -> Snapshot {
        Snapshot { domain: self.clone(), first: name, shared: OnceLock::new() }
    }

    /// Creates a snapshot (`virDomainSnapshotCreateXML`). Returns a new handle.
    pub fn snapshot_create_xml(&self, xml: &str, flags: u32) -> Result<Snapshot> {
        self.snapshot_create_entry_checks(flags)?;
        let halt = flags & create::HALT != 0
            && self.inner.conn.events_wanted()
            && self.drv().domain_state(&self.inner.r).is_ok_and(|(s, _)| s.is_active());
        // libvirt's qemu driver reports QEMU's STOP and RESUME around the
        // internal snapshot of a running guest.
        let pauses = flags & (create::REDEFINE | create::HALT | create::DISK_ONLY) == 0
            && self.drv().type_name() == "QEMU"
            && self.inner.conn.events_wanted()
            && self.drv().domain_state(&self.inner.r).is_ok_and(|(s, _)| s == DomainState::Running);
        let name = self.drv().snapshot_create_xml(&self.inner.r, xml, flags)?;
        if pauses {
            self.lifecycle(events::lifecycle::SUSPENDED, events::lifecycle::SUSPENDED_PAUSED);
            self.lifecycle(events::lifecycle::RESUMED, events::lifecycle::RESUMED_UNPAUSED);
        }
        if halt {
            self.refresh_id();
            self.lifecycle(events::lifecycle::STOPPED, events::lifecycle::STOPPED_FROM_SNAPSHOT);
        }
        self.emit_snapshot_event(SnapshotEvent::Created, &name, None);
        Ok(self.snapshot(SnapName::new(&name)))
    }

    /// The error [`Self::snapshot_create_xml`] gives with `flags` before
    /// it reads the XML (read-only connection, flag combinations, the
    /// driver's checks of flags and domain state), if any: for a caller
    /// holding XML that will not parse, so it reports the errors in
    /// libvirt's order.
    ///
    /// Since 0.1.0.
    pub fn snapshot_create_check(&self, flags: u32) -> Result<()> {
        self.snapshot_create_entry_checks(flags)?;
        self.drv().snapshot_create_check(&self.inner.r, flags)
    }

    fn snapshot_create_entry_checks(&self, flags: u32) -> Result<()> {
        const F: &str = "virDomainSnapshotCreateXML";
        ro_check(&self.inner.conn, F)?;
        if flags & create::CURRENT != 0 && flags & create::REDEFINE == 0 {
            return Err(Error::flag_requires(F, crate::flags::create_name(create::REDEFINE), crate::flags::create_name(create::CURRENT)));
        }
        for other in [create::NO_METADATA, create::HALT] {
            if flags & create::REDEFINE != 0 && flags & other != 0 {
                return Err(Error::flags_exclusive(F, crate::flags::create_name(create::REDEFINE), crate::flags::create_name(other)));
            }
        }
        Ok(())
    }

    /// Number of snapshots matching `flags` (`virDomainSnapshotNum`).
    pub fn snapshot_num(&self, flags: u32) -> Result<usize> {
        self.drv().snapshot_count(&self.inner.r, None, flags)
    }

    /// Names of snapshots matching `flags` (`virDomainSnapshotListNames`).
    pub fn snapshot_list_names(&self, flags: u32) -> Result<Vec<String>> {
        self.drv().snapshot_list(&self.inner.r, flags, ListKind::Names)
    }

    /// Calls `f` with each name [`Self::snapshot_list_names`] returns, in
    /// order, without building a list (the name is borrowed for the call;
    /// `as_bytes` reads it without a UTF-8 check). Since 0.1.
    pub fn snapshot_list_names_with(&self, flags: u32, f: &mut dyn FnMut(&SnapName)) -> Result<()> {
        self.drv().snapshot_visit(&self.inner.r, None, flags, ListKind::Names, f)
    }

    /// Handles for snapshots matching `flags` (`virDomainListAllSnapshots`).
    pub fn list_all_snapshots(&self, flags: u32) -> Result<Vec<Snapshot>> {
        let mut out = Vec::new();
        self.list_all_snapshots_with(flags, &mut |s| out.push(s))?;
        Ok(out)
    }

    /// Calls `f` with a new handle for each snapshot
    /// [`Self::list_all_snapshots`] returns, in order, without building a
    /// list. Since 0.1.
    pub fn list_all_snapshots_with(&self, flags: u32, f: &mut dyn FnMut(Snapshot)) -> Result<()> {
        self.drv().snapshot_visit(&self.inner.r, None, flags, ListKind::All, &mut |n| f(self.snapshot(n.clone())))
    }

    /// Everything a listing shows of each snapshot
    /// [`Self::list_all_snapshots`] returns for `flags`, in the same order,
    /// from one driver call (see [`Driver::snapshot_tree_entries`]; `full`
    /// false may leave out descriptions and disk files). Since 0.1.0.
    pub fn snapshot_tree_entries(&self, flags: u32, full: bool) -> Result<Vec<crate::model::SnapshotEntry>> {
        self.drv().snapshot_tree_entries(&self.inner.r, None, flags, full)
    }

    /// Snapshot by name (`virDomainSnapshotLookupByName`).
    pub fn snapshot_lookup_by_name(&self, name: &str, flags: u32) -> Result<Snapshot> {
        let n = self.drv().snapshot_lookup_shared(&self.inner.r, name, flags)?;
        Ok(self.snapshot(n))
    }

    /// Snapshot by virsnap UUID string (`virDomainSnapshotLookupByUUIDString`, virsnap 0.1).
    pub fn snapshot_lookup_by_uuid_string(&self, uuid: &str, flags: u32) -> Result<Snapshot> {
        let u = Uuid::parse(uuid).ok_or_else(|| {
            Error::invalid_arg(ErrorDomain::DomainSnapshot, format!("invalid snapshot UUID '{}'", crate::names::printable(uuid)))
        })?;
        let n = self.drv().snapshot_lookup_by_uuid(&self.inner.r, &u, flags)?;
        Ok(self.snapshot(SnapName::new(&n)))
    }

    /// Disk usage of every snapshot, in [`Self::snapshot_list_names`]
    /// order (`virDomainListSnapshotUsage`; `flags` must be 0). Fields a
    /// driver cannot know are `None`.
    ///
    /// Since 0.2.
    pub fn snapshot_usage(&self, flags: u32) -> Result<Vec<SnapshotUsage>> {
        self.drv().snapshot_usage(&self.inner.r, None, flags)
    }

    /// 1/0: has a current snapshot (`virDomainHasCurrentSnapshot`).
    pub fn has_current_snapshot(&self, flags: u32) -> Result<bool> {
        self.drv().snapshot_has_current(&self.inner.r, flags)
    }

    /// The current snapshot (`virDomainSnapshotCurrent`).
    pub fn snapshot_current(&self, flags: u32) -> Result<Snapshot> {
        match self.drv().snapshot_current(&self.inner.r, flags)? {
            Some(n) => Ok(self.snapshot(SnapName::new(&n))),
            None => Err(Error::new(
                ErrorCode::NoDomainSnapshot,
                self.drv().error_domain(),
                "the domain does not have a current snapshot",
            )),
        }
    }

    /// Reverts to `snap` (`virDomainRevertToSnapshot`).
    pub fn revert_to_snapshot(&self, snap: &Snapshot, flags: u32) -> Result<()> {
        snap.revert(flags)
    }

    /// Deletes the snapshots `rule` does not keep (`virDomainSnapshotPrune`,
    /// virsnap 0.2): never the current one, each with libvirt's default
    /// delete (children re-parented, data merged into them, so no surviving
    /// snapshot loses state). Returns the names deleted, oldest first; with
    /// `flags::prune::DRY_RUN` the names that would be, deleting nothing.
    /// A rule with neither `keep` nor `older_than` is `VIR_ERR_INVALID_ARG`.
    ///
    /// Since 0.2.
    pub fn snapshot_prune(&self, rule: &crate::health::PruneRule, flags: u32) -> Result<Vec<String>> {
        const F: &str = "virDomainSnapshotPrune";
        let dry = flags & crate::flags::prune::DRY_RUN != 0;
        if !dry {
            ro_check(&self.inner.conn, F)?;
        }
        drivers::check_flags(flags, crate::flags::prune::DRY_RUN, ErrorDomain::DomainSnapshot, F)?;
        if rule.keep.is_none() && rule.older_than.is_none() {
            return Err(Error::invalid_arg(ErrorDomain::DomainSnapshot, format!("{F}: no retention rule (give keep and/or older-than)")));
        }
        let r = &self.inner.r;
        let names = self.drv().snapshot_list(r, list::TOPOLOGICAL, ListKind::Names)?;
        let mut snaps = Vec::with_capacity(names.len());
        for n in names {
            let t = self.drv().snapshot_info(r, &n)?.and_then(|i| i.creation_time);
            snaps.push((n, t));
        }
        let current = self.drv().snapshot_current(r, 0)?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let victims = crate::health::select_for_prune(&snaps, current.as_deref(), rule, now);
        if !dry && !victims.is_empty() {
            self.drv().snapshot_delete_set(r, &victims)?;
            for v in &victims {
                self.emit_snapshot_event(SnapshotEvent::Pruned, v, None);
            }
        }
        Ok(victims)
    }

    /// Compares the snapshot metadata with the hypervisor's own state
    /// (`virDomainSnapshotVerify`, virsnap 0.2): one finding per
    /// difference, naming the snapshot; none when consistent. With
    /// `flags::verify::REPAIR` the lossless fixes are applied (drop
    /// metadata whose state is gone, adopt a hypervisor snapshot without
    /// metadata, re-point current) and each finding says what was done or
    /// why not.
    ///
    /// Since 0.2.
    pub fn snapshot_verify(&self, flags: u32) -> Result<Vec<crate::health::Finding>> {
        const F: &str = "virDomainSnapshotVerify";
        let repair = flags & crate::flags::verify::REPAIR != 0;
        if repair {
            ro_check(&self.inner.conn, F)?;
        }
        drivers::check_flags(flags, crate::flags::verify::REPAIR, ErrorDomain::DomainSnapshot, F)?;
        self.drv().snapshot_verify(&self.inner.r, repair)
    }

    /// Deletes every snapshot (the seed's `snapshot-delete-all`); returns the count.
    pub fn snapshot_delete_all(&self, flags: u32) -> Result<usize> {
        ro_check(&self.inner.conn, "virDomainSnapshotDeleteAll")?;
        let names = if self.inner.conn.events_wanted() {
            self.drv().snapshot_list(&self.inner.r, crate::flags::list::TOPOLOGICAL, ListKind::Names).unwrap_or_default()
        } else {
            Vec::new()
        };
        let n = self.drv().snapshot_delete_all(&self.inner.r, flags)?;
        for name in names.iter().rev() {
            self.emit_snapshot_event(SnapshotEvent::Deleted, name, None);
        }
        Ok(n)
    }
}

/// A snapshot handle: domain plus name. It stays valid after the snapshot is
/// deleted; operations then fail with `VIR_ERR_NO_DOMAIN_SNAPSHOT`.
/// Clones share the name, so a rename through one is seen by all.
#[derive(Debug)]
pub struct Snapshot {
    domain: Domain,
    /// The name the handle was made with (inline when short: a handle
    /// shares no cache line with the tree), while `shared` is unset.
    first: SnapName,
    /// The name shared with clones, made on the first clone or rename and
    /// from then on the only name: a handle that is never cloned nor renamed
    /// (every handle a listing or lookup returns through the C ABI) costs no
    /// allocation for it.
    shared: OnceLock<Arc<RwLock<Arc<str>>>>,
}

impl Clone for Snapshot {
    fn clone(&self) -> Self {
        Self { domain: self.domain.clone(), first: self.first.clone(), shared: OnceLock::from(self.cell().clone()) }
    }
}

impl Snapshot {
    /// The cell shared with clones, made now if there is none yet.
    fn cell(&self) -> &Arc<RwLock<Arc<str>>> {
        self.shared.get_or_init(|| Arc::new(RwLock::new(self.first.to_arc())))
    }

    /// The snapshot's name (`virDomainSnapshotGetName`).
    pub fn name(&self) -> Arc<str> {
        let Some(cell) = self.shared.get() else { return self.first.to_arc() };
        match cell.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Runs `f` on the current name (no copy while the handle was never
    /// cloned nor renamed).
    fn with_name<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        if self.shared.get().is_some() {
            f(&self.name())
        } else {
            f(self.first.as_str())
        }
    }

    /// The domain (`virDomainSnapshotGetDomain`).
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The connection (`virDomainSnapshotGetConnect`).
    pub fn connection(&self) -> &Connection {
        &self.domain.inner.conn
    }

    fn drv(&self) -> &Arc<dyn Driver> {
        self.domain.drv()
    }

    fn sibling(&self, name: SnapName) -> Snapshot {
        self.domain.snapshot(name)
    }

    /// XML description (`virDomainSnapshotGetXMLDesc`).
    pub fn xml_desc(&self, flags: u32) -> Result<String> {
        if self.domain.inner.conn.inner.read_only && flags & xmlf::SECURE != 0 {
            return Err(Error::new(
                ErrorCode::OperationDenied,
                ErrorDomain::DomainSnapshot,
                "virDomainSnapshotGetXMLDesc with secure flag",
            ));
        }
        self.with_name(|n| self.drv().snapshot_xml_desc(&self.domain.inner.r, n, flags))
    }

    /// Number of children, or descendants with `LIST_DESCENDANTS` (`virDomainSnapshotNumChildren`).
    pub fn num_children(&self, flags: u32) -> Result<usize> {
        self.with_name(|n| self.drv().snapshot_count(&self.domain.inner.r, Some(n), flags))
    }

    /// Children names (`virDomainSnapshotListChildrenNames`).
    pub fn list_children_names(&self, flags: u32) -> Result<Vec<String>> {
        self.with_name(|n| self.drv().snapshot_list_children(&self.domain.inner.r, n, flags, ListKind::Names))
    }

    /// Calls `f` with each name [`Self::list_children_names`] returns, in
    /// order, without building a list. Since 0.1.
    pub fn list_children_names_with(&self, flags: u32, f: &mut dyn FnMut(&SnapName)) -> Result<()> {
        self.with_name(|name| self.drv().snapshot_visit(&self.domain.inner.r, Some(name), flags, ListKind::Names, f))
    }

    /// Children handles (`virDomainSnapshotListAllChildren`).
    pub fn list_all_children(&self, flags: u32) -> Result<Vec<Snapshot>> {
        let mut out = Vec::new();
        self.list_all_children_with(flags, &mut |s| out.push(s))?;
        Ok(out)
    }

    /// Calls `f` with a new handle for each snapshot
    /// [`Self::list_all_children`] returns, in order. Since 0.1.
    pub fn list_all_children_with(&self, flags: u32, f: &mut dyn FnMut(Snapshot)) -> Result<()> {
        let name = self.name();
        self.drv().snapshot_visit(&self.domain.inner.r, Some(&name), flags, ListKind::All, &mut |n| {
            f(self.sibling(n.clone()));
        })
    }

    /// [`Domain::snapshot_tree_entries`] for the children (descendants with
    /// `LIST_DESCENDANTS`) of this snapshot. Since 0.1.0.
    pub fn children_entries(&self, flags: u32, full: bool) -> Result<Vec<crate::model::SnapshotEntry>> {
        self.with_name(|n| self.drv().snapshot_tree_entries(&self.domain.inner.r, Some(n), flags, full))
    }

    /// The entry of this snapshot alone (see
    /// [`Domain::snapshot_tree_entries`]). Since 0.1.0.
    pub fn entry(&self, full: bool) -> Result<crate::model::SnapshotEntry> {
        self.with_name(|n| self.drv().snapshot_entry(&self.domain.inner.r, n, full))
    }

    /// The parent (`virDomainSnapshotGetParent`).
    pub fn parent(&self, flags: u32) -> Result<Snapshot> {
        let name = self.name();
        match self.drv().snapshot_parent(&self.domain.inner.r, &name, flags)? {
            Some(p) => Ok(self.sibling(SnapName::new(&p))),
            None => Err(Error::new(
                ErrorCode::NoDomainSnapshot,
                self.drv().error_domain(),
                format!("snapshot '{name}' does not have a parent"),
            )),
        }
    }

    /// Is this the current snapshot (`virDomainSnapshotIsCurrent`).
    pub fn is_current(&self, flags: u32) -> Result<bool> {
        self.with_name(|n| self.drv().snapshot_is_current(&self.domain.inner.r, n, flags))
    }

    /// State, creation time, parent and location, typed (what virsh's
    /// snapshot-list and snapshot-info show); `None` when the driver's
    /// XML for it does not parse.
    ///
    /// Since 0.1.0.
    pub fn info(&self) -> Result<Option<SnapshotInfo>> {
        self.with_name(|n| self.drv().snapshot_info(&self.domain.inner.r, n))
    }

    /// This snapshot's disk usage (`virDomainSnapshotGetUsage`; `flags`
    /// must be 0). Fields the driver cannot know are `None`.
    ///
    /// Since 0.2.
    pub fn usage(&self, flags: u32) -> Result<SnapshotUsage> {
        let rows = self.with_name(|n| self.drv().snapshot_usage(&self.domain.inner.r, Some(n), flags))?;
        let name = self.name();
        rows.into_iter()
            .next()
            .ok_or_else(|| Error::no_snapshot(self.drv().error_domain(), &name))
    }

    /// Does the driver keep metadata for it (`virDomainSnapshotHasMetadata`).
    pub fn has_metadata(&self, flags: u32) -> Result<bool> {
        self.with_name(|n| self.drv().snapshot_has_metadata(&self.domain.inner.r, n, flags))
    }

    /// Reverts the domain to this snapshot (`virDomainRevertToSnapshot`).
    pub fn revert(&self, flags: u32) -> Result<()> {
        const F: &str = "virDomainRevertToSnapshot";
        ro_check(&self.domain.inner.conn, F)?;
        exclusive(flags, revert::RUNNING, revert::PAUSED, F, revert_name)?;
        let name = self.name();
        let lifecycle = self.domain.revert_events(&name, flags);
        self.drv().snapshot_revert(&self.domain.inner.r, &name, flags)?;
        self.domain.emit_revert(&name, lifecycle);
        Ok(())
    }

    /// Deletes this snapshot (`virDomainSnapshotDelete`), including the
    /// seed's MERGE / MERGE_FORCE / DISCARD / DISCARD_FORCE modes.
    pub fn delete(&self, flags: u32) -> Result<()> {
        const F: &str = "virDomainSnapshotDelete";
        ro_check(&self.domain.inner.conn, F)?;
        exclusive(flags, delete::CHILDREN, delete::CHILDREN_ONLY, F, delete_name)?;
        let seed = flags & delete::SEED_MODES;
        let flags = if seed == 0 {
            flags
        } else {
            if seed.count_ones() > 1 {
                let low = seed & seed.wrapping_neg();
                let high = seed & !low;
                let high = high & high.wrapping_neg();
                return Err(Error::flags_exclusive(F, delete_name(low), delete_name(high)));
            }
            let libvirt_bits = flags & !delete::SEED_MODES;
            if libvirt_bits != 0 {
                let low = libvirt_bits & libvirt_bits.wrapping_neg();
                return Err(Error::flags_exclusive(F, delete_name(seed), delete_name(low)));
            }
            match seed {
                delete::DISCARD => {
                    let name = self.name();
                    if self.drv().snapshot_count(&self.domain.inner.r, Some(&name), 0)? > 0 {
                        return Err(Error::op_invalid(
                            self.drv().error_domain(),
                            format!("snapshot '{name}' has children; DISCARD would discard them (use DISCARD_FORCE)"),
                        ));
                    }
                    0
                }
                delete::DISCARD_FORCE => delete::CHILDREN,
                _ => 0,
            }
        };
        let name = self.name();
        let mut gone = Vec::new();
        if self.domain.inner.conn.events_wanted() {
            if flags & (delete::CHILDREN | delete::CHILDREN_ONLY) != 0 {
                gone = self
                    .drv()
                    .snapshot_list_children(
                        &self.domain.inner.r,
                        &name,
                        crate::flags::list::DESCENDANTS | crate::flags::list::TOPOLOGICAL,
                        ListKind::Names,
                    )
                    .unwrap_or_default();
                gone.reverse();
            }
            if flags & delete::CHILDREN_ONLY == 0 {
                gone.push(name.to_string());
            }
        }
        self.drv().snapshot_delete(&self.domain.inner.r, &name, flags)?;
        for n in &gone {
            self.domain.emit_snapshot_event(SnapshotEvent::Deleted, n, None);
        }
        Ok(())
    }

    /// Renames this snapshot (`virDomainSnapshotRename`, virsnap 0.1). This
    /// handle (and its clones) then carry the new name.
    pub fn rename(&self, new_name: &str, flags: u32) -> Result<()> {
        const F: &str = "virDomainSnapshotRename";
        ro_check(&self.domain.inner.conn, F)?;
        drivers::check_flags(flags, 0, ErrorDomain::DomainSnapshot, F)?;
        validate_snapshot_name(new_name)?;
        let old = self.name();
        self.drv().snapshot_rename(&self.domain.inner.r, &old, new_name, flags)?;
        let mut g = match self.cell().write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = Arc::from(new_name);
        drop(g);
        self.domain.emit_snapshot_event(SnapshotEvent::Renamed, new_name, Some(&old));
        Ok(())
    }

    /// Starts the guest from this snapshot (`virDomainCreateFromSnapshot`,
    /// virsnap 0.1): revert, then make sure the guest runs (paused with
    /// `REVERT_PAUSED`).
    pub fn create_from(&self, flags: u32) -> Result<()> {
        const F: &str = "virDomainCreateFromSnapshot";
        ro_check(&self.domain.inner.conn, F)?;
        exclusive(flags, revert::RUNNING, revert::PAUSED, F, revert_name)?;
        drivers::check_flags(flags, revert::RUNNING | revert::PAUSED | revert::FORCE, ErrorDomain::DomainSnapshot, F)?;
        let name = self.name();
        // A revert that ends running (paused with REVERT_PAUSED).
        let as_revert = if flags & revert::PAUSED != 0 { flags } else { flags | revert::RUNNING };
        let lifecycle = self.domain.revert_events(&name, as_revert);
        self.drv().snapshot_create_from(&self.domain.inner.r, &name, flags)?;
        self.domain.emit_revert(&name, lifecycle);
        Ok(())
    }

    /// The snapshot's UUID string (`virDomainSnapshotGetUUIDString`, virsnap 0.1).
    pub fn uuid_string(&self) -> Result<String> {
        Ok(self.with_name(|n| self.drv().snapshot_uuid(&self.domain.inner.r, n))?.to_string())
    }
}

/// `LIST_*` bits valid on domain-level listing calls.
pub const LIST_DOMAIN_FLAGS: u32 = list::ALL;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_renames_either_way() {
        let path = std::env::temp_dir().join(format!("virsnap-connect-{}.xml", std::process::id()));
        // A private test driver (test:///default is shared by the process).
        std::fs::write(&path, "<node><domain type='test'><name>d</name><memory>1024</memory><os><type>hvm</type></os></domain></node>").unwrap();
        let conn = Connection::open(Some(&format!("test://{}", path.display()))).unwrap();
        let _ = std::fs::remove_file(&path);
        let dom = conn.lookup_by_name("d").unwrap();
        let a = dom.snapshot_create_xml("<domainsnapshot><name>a</name></domainsnapshot>", 0).unwrap();
        // Clone before the rename: both see it.
        let a2 = a.clone();
        a.rename("b", 0).unwrap();
        assert_eq!((&*a.name(), &*a2.name()), ("b", "b"));
        // Rename an uncloned handle, then clone it; a rename through the clone reaches the original.
        let c = dom.snapshot_lookup_by_name("b", 0).unwrap();
        c.rename("c", 0).unwrap();
        let c2 = c.clone();
        c2.rename("e", 0).unwrap();
        assert_eq!((&*c.name(), &*c2.name()), ("e", "e"));
        // The first pair still says "b" (renames go through handles, not the tree).
        assert_eq!(&*a.name(), "b");
        assert_eq!(dom.snapshot_list_names(0).unwrap(), ["e"]);
    }
}

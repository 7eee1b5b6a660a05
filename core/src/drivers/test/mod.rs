//! The test driver: libvirt's `test:///default` (in memory, shared by every
//! connection of the process while one is open) and `test:///ABS/PATH.xml`
//! node files (private to each connection).

mod checkpoint;
mod domain;
mod fixture;
mod snapshot;
mod validate;

use std::sync::{Arc, Mutex, MutexGuard, Weak};


use super::{check_flags, Driver, DomainInfo, DomainRef, ListKind, OpenRequest, ParsedUri};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::flags::{domain as domf, list};
use crate::model::{reason, DomainState};
use crate::names::SnapName;
use crate::uuid::Uuid;
use crate::xml::{format_snapshot, format_snapshot_with, FormatFlags};

use domain::TestDomain;
pub use fixture::DEFAULT_DOMAIN_XML;

const T: ErrorDomain = ErrorDomain::Test;

struct Inner {
    domains: Vec<TestDomain>,
    next_id: i32,
}

/// The test driver's state.
pub struct TestDriver {
    inner: Mutex<Inner>,
}

static DEFAULT: Mutex<Weak<TestDriver>> = Mutex::new(Weak::new());

/// Opens `test:///default` or `test:///ABS/PATH.xml`.
pub(crate) fn open(req: &OpenRequest, uri: &ParsedUri) -> Option<Result<Arc<dyn Driver>>> {
    if uri.scheme != "test" {
        return None;
    }
    Some(open_test(req, uri))
}

fn open_test(req: &OpenRequest, uri: &ParsedUri) -> Result<Arc<dyn Driver>> {
    if !uri.host.is_empty() {
        return Err(Error::new(ErrorCode::NoConnect, ErrorDomain::None, format!("test://{}{}", uri.host, uri.path)));
    }
    if uri.path.is_empty() || uri.path == "/" {
        return Err(Error::invalid_arg(ErrorDomain::Test, "testOpen: supply a path or use test:///default"));
    }
    if uri.path == "/default" {
        let mut slot = DEFAULT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(d) = slot.upgrade() {
            return Ok(d);
        }
        let d = Arc::new(TestDriver::new(fixture::default_domains()?, 2));
        *slot = Arc::downgrade(&d);
        return Ok(d);
    }
    if !uri.path.starts_with('/') || uri.path.len() < 2 {
        return Err(Error::invalid_arg(ErrorDomain::Test, format!("testOpen: supplied path must be absolute: '{}'", uri.path)));
    }
    let node = fixture::load_node_file(std::path::Path::new(&uri.path))?;
    authenticate(&node.users, req.auth.as_ref())?;
    let domains = node.domains;
    let next = domains.iter().map(|d| d.id).max().unwrap_or(0).max(0) + 1;
    Ok(Arc::new(TestDriver::new(domains, next)))
}

/// libvirt's `testConnectAuthenticate`: a node file with an `<auth>`
/// section asks for a username, then (for an unknown user or one with a
/// password) a password, through the caller's callback, and compares.
fn authenticate(users: &[(String, Option<String>)], auth: Option<&super::Auth>) -> Result<()> {
    use super::cred;
    if users.is_empty() {
        return Ok(());
    }
    let username = ask(auth, &[cred::AUTHNAME], "Enter username for localhost".to_owned(), "Username request failed", "VIR_CRED_AUTHNAME")?;
    let user = users.iter().find(|(n, _)| *n == username);
    let password = match user {
        Some((_, None)) => None,
        _ => Some(ask(
            auth,
            &[cred::PASSPHRASE, cred::NOECHOPROMPT],
            format!("Enter {username}'s password for localhost"),
            "Password request failed",
            "VIR_CRED_PASSPHRASE or VIR_CRED_NOECHOPROMPT",
        )?),
    };
    match user {
        Some((_, want)) if *want == password => Ok(()),
        _ => Err(Error::new(
            ErrorCode::AuthFailed,
            T,
            "authentication failed, see test XML for the correct username/password",
        )),
    }
}

/// libvirt's `virAuthGetUsername` / `virAuthGetPassword` for the test
/// driver: the first credential type of `kinds` the caller offers is asked
/// for with `prompt` (challenge `localhost`).
fn ask(auth: Option<&super::Auth>, kinds: &[i32], prompt: String, failed: &str, kind_names: &str) -> Result<String> {
    let auth_err = |code, what: &str| Error::new(code, ErrorDomain::Auth, what);
    let auth = auth.ok_or_else(|| auth_err(ErrorCode::InvalidArg, "Missing authentication credentials"))?;
    let kind = auth
        .cred_types
        .iter()
        .copied()
        .find(|k| kinds.contains(k))
        .ok_or_else(|| auth_err(ErrorCode::AuthFailed, &format!("Missing {kind_names} credential type")))?;
    let mut req = [super::CredRequest {
        kind,
        prompt,
        challenge: Some("localhost".to_owned()),
        default: None,
        result: None,
    }];
    match (auth.callback)(&mut req) {
        // The caller's virConnectAuth has no callback.
        Err(e) if e.code == ErrorCode::InvalidArg => Err(e),
        Err(_) => Err(auth_err(ErrorCode::AuthFailed, failed)),
        Ok(()) => {
            let [r] = req;
            r.result.ok_or_else(|| auth_err(ErrorCode::AuthFailed, failed))
        }
    }
}

fn not_found_uuid(dom: &DomainRef) -> Error {
    Error::new(ErrorCode::NoDomain, T, format!("no domain with matching uuid '{}' ({})", dom.uuid, dom.name))
}

impl TestDriver {
    fn new(domains: Vec<TestDomain>, next_id: i32) -> Self {
        Self { inner: Mutex::new(Inner { domains, next_id }) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the domain `dom` refers to (found by UUID).
    fn with_domain<R>(&self, dom: &DomainRef, f: impl FnOnce(&mut TestDomain, &mut i32) -> Result<R>) -> Result<R> {
        let mut g = self.lock();
        let inner = &mut *g;
        let d = inner.domains.iter_mut().find(|d| d.uuid == dom.uuid).ok_or_else(|| not_found_uuid(dom))?;
        f(d, &mut inner.next_id)
    }

    fn find(&self, pred: impl Fn(&TestDomain) -> bool) -> Result<DomainRef> {
        self.lock()
            .domains
            .iter()
            .find(|d| pred(d))
            .map(TestDomain::as_ref)
            .ok_or_else(|| Error::bare(ErrorCode::NoDomain, T))
    }

    /// Removes a transient domain that just stopped.
    fn reap(&self, uuid: Uuid) {
        let mut g = self.lock();
        g.domains.retain(|d| d.uuid != uuid || d.persistent || d.state.is_active());
    }
}

fn stop(d: &mut TestDomain, why: i32) {
    d.state = DomainState::Shutoff;
    d.reason = why;
    d.id = -1;
}

impl Driver for TestDriver {
    fn type_name(&self) -> &'static str {
        "Test"
    }

    fn error_domain(&self) -> ErrorDomain {
        T
    }

    fn func_prefix(&self) -> &'static str {
        "test"
    }

    fn hypervisor_version(&self) -> Result<u64> {
        Ok(2)
    }

    fn list_domains(&self) -> Result<Vec<DomainRef>> {
        let g = self.lock();
        let mut v: Vec<DomainRef> = g.domains.iter().filter(|d| d.id >= 0).map(TestDomain::as_ref).collect();
        v.sort_by_key(|d| d.id);
        v.extend(g.domains.iter().filter(|d| d.id < 0).map(TestDomain::as_ref));
        Ok(v)
    }

    fn lookup_domain_by_name(&self, name: &str) -> Result<DomainRef> {
        self.find(|d| d.name == name)
    }

    fn lookup_domain_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.find(|d| d.uuid == *uuid)
    }

    fn lookup_domain_by_id(&self, id: i32) -> Result<DomainRef> {
        self.find(|d| d.id == id && id >= 0)
    }

    fn domain_state(&self, dom: &DomainRef) -> Result<(DomainState, i32)> {
        self.with_domain(dom, |d, _| Ok((d.state, d.reason)))
    }

    fn domain_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        self.with_domain(dom, |d, _| {
            let (max_mem, memory) = d.memory_kib();
            let cpu_time = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX))
                .unwrap_or(0);
            Ok(DomainInfo {
                state: d.state as u8,
                max_mem,
                memory,
                nr_virt_cpu: d.vcpus(),
                cpu_time,
            })
        })
    }

    fn domain_is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        self.with_domain(dom, |d, _| Ok(d.persistent))
    }

    fn domain_xml(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        check_flags(
            flags,
            domf::XML_SECURE | domf::XML_INACTIVE | domf::XML_UPDATE_CPU | domf::XML_MIGRATABLE,
            T,
            "testDomainGetXMLDesc",
        )?;
        self.with_domain(dom, |d, _| Ok(d.xml(flags & domf::XML_INACTIVE != 0)))
    }

    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, domf::START_PAUSED, T, "testDomainCreateWithFlags")?;
        self.with_domain(dom, |d, next| {
            if d.state.is_active() {
                return Err(Error::internal(T, format!("Domain '{}' is already running", d.name)));
            }
            d.id = *next;
            *next += 1;
            if flags & domf::START_PAUSED != 0 {
                d.state = DomainState::Paused;
                d.reason = reason::PAUSED_USER;
            } else {
                d.state = DomainState::Running;
                d.reason = reason::RUNNING_BOOTED;
            }
            Ok(())
        })
    }

    fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        // VIR_DOMAIN_DESTROY_GRACEFUL is accepted (and meaningless) as in libvirt.
        check_flags(flags, 1, T, "testDomainDestroyFlags")?;
        self.with_domain(dom, |d, _| {
            if !d.state.is_active() {
                return Err(Error::op_invalid(ErrorDomain::Domain, "domain is not running"));
            }
            stop(d, reason::SHUTOFF_DESTROYED);
            Ok(())
        })?;
        self.reap(dom.uuid);
        Ok(())
    }

    fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, T, "testDomainShutdownFlags")?;
        self.with_domain(dom, |d, _| {
            if !d.state.is_active() {
                return Err(Error::internal(T, format!("domain '{}' not running", d.name)));
            }
            stop(d, reason::SHUTOFF_SHUTDOWN);
            Ok(())
        })?;
        self.reap(dom.uuid);
        Ok(())
    }

    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        self.with_domain(dom, |d, _| {
            if d.state != DomainState::Running {
                return Err(Error::internal(T, format!("domain '{}' not running", d.name)));
            }
            d.state = DomainState::Paused;
            d.reason = reason::PAUSED_USER;
            Ok(())
        })
    }

    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        self.with_domain(dom, |d, _| {
            if d.state != DomainState::Paused {
                return Err(Error::internal(T, format!("domain '{}' not paused", d.name)));
            }
            d.state = DomainState::Running;
            d.reason = reason::RUNNING_UNPAUSED;
            Ok(())
        })
    }

    fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(flags, domf::DEFINE_VALIDATE, T, "testDomainDefineXMLFlags")?;
        let new = domain::parse_domain_xml(xml)?;
        let mut g = self.lock();
        if let Some(d) = g.domains.iter().find(|d| d.name == new.name && d.uuid != new.uuid) {
            return Err(Error::op_failed(
                ErrorDomain::Domain,
                format!("domain '{}' already exists with uuid {}", d.name, d.uuid),
            ));
        }
        if let Some(d) = g.domains.iter_mut().find(|d| d.uuid == new.uuid) {
            if d.name != new.name {
                return Err(Error::op_failed(
                    ErrorDomain::Domain,
                    format!("domain '{}' is already defined with uuid {}", d.name, d.uuid),
                ));
            }
            d.def = new.def;
            d.persistent = true;
            return Ok(d.as_ref());
        }
        let r = new.as_ref();
        g.domains.push(new);
        Ok(r)
    }

    fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(flags, domf::START_PAUSED, T, "testDomainCreateXML")?;
        let mut new = domain::parse_domain_xml(xml)?;
        let mut g = self.lock();
        if g.domains.iter().any(|d| d.name == new.name || d.uuid == new.uuid) {
            return Err(Error::op_failed(ErrorDomain::Domain, format!("domain '{}' already exists", new.name)));
        }
        new.persistent = false;
        new.id = g.next_id;
        g.next_id += 1;
        new.state = if flags & domf::START_PAUSED != 0 { DomainState::Paused } else { DomainState::Running };
        new.reason = if flags & domf::START_PAUSED != 0 { reason::PAUSED_USER } else { reason::RUNNING_BOOTED };
        let r = new.as_ref();
        g.domains.push(new);
        Ok(r)
    }

    fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0x7f, T, "testDomainUndefineFlags")?;
        let mut g = self.lock();
        let pos = g.domains.iter().position(|d| d.uuid == dom.uuid).ok_or_else(|| not_found_uuid(dom))?;
        let d = &mut g.domains[pos];
        let n = d.snapshots.len();
        if n > 0 {
            if flags & domf::UNDEFINE_SNAPSHOTS_METADATA == 0 && !d.state.is_active() {
                return Err(Error::op_invalid(T, format!("cannot delete inactive domain with {n} snapshots")));
            }
            if flags & domf::UNDEFINE_SNAPSHOTS_METADATA != 0 {
                d.snapshots = crate::tree::SnapshotTree::in_memory();
            }
        }
        if flags & domf::UNDEFINE_CHECKPOINTS_METADATA != 0 {
            d.checkpoints.clear();
        }
        if d.state.is_active() {
            d.persistent = false;
        } else {
            g.domains.remove(pos);
        }
        Ok(())
    }

    fn snapshot_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        self.with_domain(dom, |d, _| snapshot::create_xml(d, xml, flags))
    }

    fn checkpoint_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        self.with_domain(dom, |d, _| checkpoint::create_xml(d, xml, flags))
    }

    fn snapshot_create_check(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.with_domain(dom, |d, _| snapshot::check_before_parse(d, flags))
    }

    fn checkpoint_create_check(&self, dom: &DomainRef) -> Result<()> {
        self.with_domain(dom, |d, _| checkpoint::check_state(d))
    }

    fn node_security_model(&self) -> Result<(String, String)> {
        Ok(("testSecurity".to_owned(), String::new()))
    }

    /// Only an active domain has a label.
    fn domain_security_label(&self, dom: &DomainRef) -> Result<(String, bool)> {
        self.with_domain(dom, |d, _| Ok(if d.state.is_active() { ("libvirt-test".to_owned(), true) } else { (String::new(), false) }))
    }

    /// libvirt's test driver answers "linux" for every domain.
    fn domain_os_type(&self, dom: &DomainRef) -> Result<Option<String>> {
        self.with_domain(dom, |_, _| Ok(Some("linux".to_owned())))
    }

    fn snapshot_info(&self, dom: &DomainRef, name: &str) -> Result<Option<crate::model::SnapshotInfo>> {
        self.with_domain(dom, |d, _| snapshot::get(d, name).map(|def| Some(crate::model::SnapshotInfo::from_def(def))))
    }

    fn snapshot_xml_desc(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        check_flags(flags, crate::flags::xml::SECURE, T, "testDomainSnapshotGetXMLDesc")?;
        self.with_domain(dom, |d, _| {
            // SECURE changes nothing here (the stored domain has no secrets),
            // so one cached text serves both.
            let ff = FormatFlags { secure: flags != 0, internal: false, current: false };
            let (domain_text, uuid) = (&mut d.domain_text, d.uuid);
            d.snapshots
                .xml_with(name, |def| match &def.domain {
                    // Snapshots carry their domain and share it: format it
                    // once per shared tree.
                    Some(el) => {
                        let text = domain_text.get(el);
                        (format_snapshot_with(def, None, ff, Some(&text)), true)
                    }
                    // The domain UUID fallback: not cached.
                    None => (format_snapshot(def, Some(&uuid.to_string()), ff), false),
                })
                .ok_or_else(|| Error::no_snapshot(T, name))
        })
    }

    fn snapshot_list(&self, dom: &DomainRef, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        let func = match kind {
            ListKind::Num => "testDomainSnapshotNum",
            ListKind::Names => "testDomainSnapshotListNames",
            ListKind::All => "testDomainListAllSnapshots",
        };
        check_flags(flags, list::ALL, T, func)?;
        self.with_domain(dom, |d, _| {
            Ok(match kind {
                // Only the length is used: no name copies.
                ListKind::Num => vec![String::new(); d.snapshots.count(flags)],
                _ => d.snapshots.list(flags),
            })
        })
    }

    fn snapshot_list_children(&self, dom: &DomainRef, name: &str, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        let func = match kind {
            ListKind::Num => "testDomainSnapshotNumChildren",
            ListKind::Names => "testDomainSnapshotListChildrenNames",
            ListKind::All => "testDomainSnapshotListAllChildren",
        };
        check_flags(flags, list::ALL, T, func)?;
        self.with_domain(dom, |d, _| {
            snapshot::get(d, name)?;
            d.snapshots.list_children(name, flags)
        })
    }

    /// One read of the in-memory tree. Since 0.1.0.
    fn snapshot_tree_entries(&self, dom: &DomainRef, of: Option<&str>, flags: u32, _full: bool) -> Result<Vec<crate::model::SnapshotEntry>> {
        let func = if of.is_some() { "testDomainSnapshotListAllChildren" } else { "testDomainListAllSnapshots" };
        check_flags(flags, list::ALL, T, func)?;
        self.with_domain(dom, |d, _| {
            if let Some(n) = of {
                snapshot::get(d, n)?;
            }
            let mut v = d.snapshots.entries(of, flags)?;
            // Every test-driver snapshot has metadata (testDomainSnapshotHasMetadata).
            v.iter_mut().for_each(|e| e.metadata = true);
            Ok(v)
        })
    }

    fn snapshot_entry(&self, dom: &DomainRef, name: &str, _full: bool) -> Result<crate::model::SnapshotEntry> {
        self.with_domain(dom, |d, _| {
            snapshot::get(d, name)?;
            let mut e = d.snapshots.entry(name).ok_or_else(|| Error::no_snapshot(T, name))?;
            e.metadata = true;
            Ok(e)
        })
    }

    fn snapshot_lookup(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        check_flags(flags, 0, T, "testDomainSnapshotLookupByName")?;
        self.with_domain(dom, |d, _| snapshot::get(d, name).map(|_| name.to_owned()))
    }

    fn snapshot_lookup_shared(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<SnapName> {
        check_flags(flags, 0, T, "testDomainSnapshotLookupByName")?;
        // The index alone: the definition is not touched.
        self.with_domain(dom, |d, _| d.snapshots.shared_name(name).ok_or_else(|| Error::no_snapshot(T, name)))
    }

    fn snapshot_count(&self, dom: &DomainRef, of: Option<&str>, flags: u32) -> Result<usize> {
        let func = if of.is_some() { "testDomainSnapshotNumChildren" } else { "testDomainSnapshotNum" };
        check_flags(flags, list::ALL, T, func)?;
        self.with_domain(dom, |d, _| match of {
            None => Ok(d.snapshots.count(flags)),
            Some(name) => {
                snapshot::get(d, name)?;
                d.snapshots.count_children(name, flags)
            }
        })
    }

    fn snapshot_visit(
        &self,
        dom: &DomainRef,
        of: Option<&str>,
        flags: u32,
        kind: ListKind,
        visit: &mut dyn FnMut(&SnapName),
    ) -> Result<()> {
        let func = match (of.is_some(), kind) {
            (false, ListKind::Num) => "testDomainSnapshotNum",
            (false, ListKind::Names) => "testDomainSnapshotListNames",
            (false, ListKind::All) => "testDomainListAllSnapshots",
            (true, ListKind::Num) => "testDomainSnapshotNumChildren",
            (true, ListKind::Names) => "testDomainSnapshotListChildrenNames",
            (true, ListKind::All) => "testDomainSnapshotListAllChildren",
        };
        check_flags(flags, list::ALL, T, func)?;
        self.with_domain(dom, |d, _| match of {
            None => {
                d.snapshots.visit(flags, visit);
                Ok(())
            }
            Some(name) => {
                snapshot::get(d, name)?;
                d.snapshots.visit_children(name, flags, visit)
            }
        })
    }

    fn snapshot_lookup_by_uuid(&self, dom: &DomainRef, uuid: &Uuid, flags: u32) -> Result<String> {
        check_flags(flags, 0, T, "testDomainSnapshotLookupByUUIDString")?;
        self.with_domain(dom, |d, _| {
            d.snapshots.lookup_uuid(uuid).map(str::to_owned).ok_or_else(|| {
                Error::new(ErrorCode::NoDomainSnapshot, T, format!("no domain snapshot with matching uuid '{uuid}'"))
            })
        })
    }

    fn snapshot_uuid(&self, dom: &DomainRef, name: &str) -> Result<Uuid> {
        self.with_domain(dom, |d, _| d.snapshots.uuid_of(name).ok_or_else(|| Error::no_snapshot(T, name)))
    }

    fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<Option<String>> {
        check_flags(flags, 0, T, "testDomainSnapshotCurrent")?;
        self.with_domain(dom, |d, _| Ok(d.snapshots.current().map(str::to_owned)))
    }

    fn snapshot_has_current(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, T, "testDomainHasCurrentSnapshot")?;
        self.with_domain(dom, |d, _| Ok(d.snapshots.current().is_some()))
    }

    fn snapshot_parent(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<Option<String>> {
        check_flags(flags, 0, T, "testDomainSnapshotGetParent")?;
        self.with_domain(dom, |d, _| {
            snapshot::get(d, name)?;
            Ok(d.snapshots.parent(name).map(str::to_owned))
        })
    }

    fn snapshot_is_current(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<bool> {
        check_flags(flags, 0, T, "testDomainSnapshotIsCurrent")?;
        self.with_domain(dom, |d, _| {
            snapshot::get(d, name)?;
            Ok(d.snapshots.current() == Some(name))
        })
    }

    fn snapshot_has_metadata(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<bool> {
        check_flags(flags, 0, T, "testDomainSnapshotHasMetadata")?;
        self.with_domain(dom, |d, _| snapshot::get(d, name).map(|_| true))
    }

    fn snapshot_revert(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        self.with_domain(dom, |d, next| {
            let mut fresh = || {
                let id = *next;
                *next += 1;
                id
            };
            snapshot::revert_to(d, name, flags, &mut fresh)
        })
    }

    fn snapshot_delete(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        self.with_domain(dom, |d, _| snapshot::delete(d, name, flags))
    }

    /// The test driver's metadata is its only state (in memory): nothing
    /// can drift from it, so a verify always finds it consistent.
    fn snapshot_verify(&self, dom: &DomainRef, _repair: bool) -> Result<Vec<crate::health::Finding>> {
        self.with_domain(dom, |_, _| Ok(Vec::new()))
    }

    fn snapshot_rename(&self, dom: &DomainRef, name: &str, new_name: &str, flags: u32) -> Result<()> {
        check_flags(flags, 0, T, "testDomainSnapshotRename")?;
        self.with_domain(dom, |d, _| snapshot::rename(d, name, new_name))
    }
}

//! The qemu driver: real guests with `qemu-system-x86_64` and `qemu-img`.
//!
//! Layout (`qemu:///embed?root=DIR`, as libvirt's embed mode):
//! - `DIR/etc/qemu/NAME.xml`: persistent domain definitions;
//! - `DIR/lib/qemu/snapshot/NAME/SNAP.xml`: snapshot metadata in libvirt's
//!   internal format ([`crate::store`]), plus the per-domain `.lock` and the
//!   metadata `.journal` (one record + one fdatasync per operation);
//! - `DIR/run/qemu/NAME.{pid,qmp,log,status,xml}`: a running guest's pidfile,
//!   QMP socket, QEMU log, state reason/id, and live (or transient) definition.
//!
//! `qemu:///session` uses `$XDG_CONFIG_HOME/libvirt/qemu` (definitions and
//! `snapshot/`) and `$XDG_RUNTIME_DIR/libvirt/qemu/run`.
//!
//! Every operation on a domain holds that domain's lock, so two processes
//! never interleave on one domain; guests are found again through their
//! pidfile and QMP socket, so nothing is kept between calls but caches.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{check_flags, DomainInfo, DomainRef, Driver, ListKind, OpenRequest, ParsedUri, ProgressFn};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::model::{reason, DomainState};
use crate::fsio::{self, Durability};
use crate::store::{atomic_write, SnapshotStore, StoreLock};
use crate::uuid::Uuid;

mod domjob;
pub mod domxml;
mod external;
pub mod img;
pub mod json;
mod jobs;
mod index;
pub mod process;
pub mod qmp;
mod snapshots;
mod verify;
mod usage;

use domxml::DomainDef;
use process::RunFiles;
use qmp::Qmp;

const DOM: ErrorDomain = ErrorDomain::Qemu;

/// Directories of one driver instance.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Persistent definitions.
    pub config: PathBuf,
    /// Snapshot metadata base (`<snap>/<domain>/<name>.xml`).
    pub snap: PathBuf,
    /// Runtime files.
    pub run: PathBuf,
}

impl Paths {
    fn for_uri(uri: &ParsedUri) -> Result<Self> {
        match uri.path.as_str() {
            "/embed" => {
                let root = uri.param("root").filter(|r| r.starts_with('/')).ok_or_else(|| {
                    Error::new(ErrorCode::InvalidArg, DOM, "root parameter must be an absolute path for qemu:///embed")
                })?;
                let root = PathBuf::from(root);
                Ok(Self { config: root.join("etc/qemu"), snap: root.join("lib/qemu/snapshot"), run: root.join("run/qemu") })
            }
            "/session" => {
                let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
                let cfg = std::env::var("XDG_CONFIG_HOME").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| format!("{home}/.config"));
                let run = std::env::var("XDG_RUNTIME_DIR")
                    .ok()
                    .filter(|s| !s.is_empty())
                    .map(|r| PathBuf::from(r).join("libvirt/qemu/run"))
                    .unwrap_or_else(|| PathBuf::from(format!("{home}/.cache/libvirt/qemu/run")));
                let config = PathBuf::from(cfg).join("libvirt/qemu");
                Ok(Self { snap: config.join("snapshot"), config, run })
            }
            p => Err(Error::new(
                ErrorCode::InvalidArg,
                DOM,
                format!("unexpected QEMU URI path '{p}', try qemu:///session or qemu:///embed?root=DIR"),
            )),
        }
    }
}

/// Runtime status of a guest (`run/NAME.status`): "id reason paused-reason".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Status {
    id: i32,
    /// Reason for the current state (running/paused/shutoff).
    reason: i32,
}

/// The qemu driver.
pub struct QemuDriver {
    paths: Paths,
    kvm: bool,
    progress: Mutex<Option<ProgressFn>>,
    cache: snapshots::Cache,
}

impl std::fmt::Debug for QemuDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QemuDriver").field("paths", &self.paths).finish_non_exhaustive()
    }
}

/// Opens the driver when the URI is for it.
pub(crate) fn open(_req: &OpenRequest, uri: &ParsedUri) -> Option<Result<Arc<dyn Driver>>> {
    if uri.scheme != "qemu" {
        return None;
    }
    Some(QemuDriver::new(uri).map(|d| Arc::new(d) as Arc<dyn Driver>))
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') || name.chars().any(char::is_control) {
        return Err(Error::new(ErrorCode::NoDomain, DOM, format!("no domain with matching name '{}'", crate::names::printable(name))));
    }
    Ok(())
}

/// Replaces a small runtime file without fsync: runtime state (ids, state
/// reasons) is not worth a disk flush. A new file renamed over the old one
/// ([`fsio::replace`]), so a crash leaves the old or the new value and a
/// planted link is never written through.
fn quick_write(path: &Path, data: &[u8]) -> std::io::Result<()> {
    fsio::replace(path, data, Durability::Atomic)
}

/// Largest runtime file (status, id counter, `.gen`) read back.
const SMALL_FILE_BYTES: u64 = 4096;

/// Reads a small runtime file (regular, bounded); `None` when missing or unusable.
pub(super) fn read_small(path: &Path) -> Option<String> {
    fsio::read_regular_string(path, SMALL_FILE_BYTES).ok()
}

fn mkdir(p: &Path) -> Result<()> {
    fs::create_dir_all(p).map_err(|e| Error::system(DOM, format!("cannot create directory '{}'", p.display()), &e))
}

impl QemuDriver {
    fn new(uri: &ParsedUri) -> Result<Self> {
        let paths = Paths::for_uri(uri)?;
        for p in [&paths.config, &paths.snap, &paths.run] {
            mkdir(p)?;
        }
        Ok(Self { paths, kvm: process::kvm_usable(), progress: Mutex::new(None), cache: snapshots::Cache::default() })
    }

    fn files(&self, name: &str) -> RunFiles {
        RunFiles::new(&self.paths.run, name)
    }

    fn store(&self, name: &str) -> Result<SnapshotStore> {
        SnapshotStore::open(self.paths.snap.join(name), DOM)
    }

    /// Takes the per-domain lock.
    fn lock(&self, name: &str) -> Result<(SnapshotStore, StoreLock)> {
        check_name(name)?;
        let s = self.store(name)?;
        let l = s.lock()?;
        Ok((s, l))
    }

    fn config_path(&self, name: &str) -> PathBuf {
        self.paths.config.join(format!("{name}.xml"))
    }

    fn live_path(&self, name: &str) -> PathBuf {
        self.paths.run.join(format!("{name}.xml"))
    }

    fn status_path(&self, name: &str) -> PathBuf {
        self.paths.run.join(format!("{name}.status"))
    }

    fn no_domain(name: &str) -> Error {
        Error::new(ErrorCode::NoDomain, DOM, format!("no domain with matching name '{}'", crate::names::printable(name)))
    }

    /// The persistent definition, if any.
    pub(super) fn persistent_def(&self, name: &str) -> Result<Option<DomainDef>> {
        let p = self.config_path(name);
        match fsio::read_regular_string(&p, crate::xml::MAX_DOCUMENT_BYTES as u64) {
            Ok(t) => Ok(Some(DomainDef::parse(&t)?)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.to_error(DOM, &p)),
        }
    }

    /// The live definition of a running (or transient) guest.
    fn live_def(&self, name: &str) -> Option<DomainDef> {
        fsio::read_regular_string(&self.live_path(name), crate::xml::MAX_DOCUMENT_BYTES as u64).ok().and_then(|t| DomainDef::parse(&t).ok())
    }

    /// The definition in effect: live while running, else persistent.
    fn def(&self, name: &str) -> Result<DomainDef> {
        check_name(name)?;
        if self.pid(name).is_some() {
            if let Some(d) = self.live_def(name) {
                return Ok(d);
            }
        }
        self.persistent_def(name)?.ok_or_else(|| Self::no_domain(name))
    }

    /// The definitions one operation works on, each read and parsed once:
    /// (in effect, persistent). Since 0.2.
    fn defs(&self, name: &str) -> Result<(DomainDef, Option<DomainDef>)> {
        check_name(name)?;
        let persistent = self.persistent_def(name)?;
        if self.pid(name).is_some() {
            if let Some(d) = self.live_def(name) {
                return Ok((d, persistent));
            }
        }
        let def = persistent.clone().ok_or_else(|| Self::no_domain(name))?;
        Ok((def, persistent))
    }

    fn save_config(&self, def: &DomainDef) -> Result<()> {
        atomic_write(&self.config_path(&def.name), def.to_xml().as_bytes())
            .map_err(|e| Error::system(DOM, "cannot write domain definition", &e))
    }

    fn save_live(&self, def: &DomainDef) -> Result<()> {
        atomic_write(&self.live_path(&def.name), def.to_xml().as_bytes())
            .map_err(|e| Error::system(DOM, "cannot write live domain definition", &e))
    }

    fn pid(&self, name: &str) -> Option<u32> {
        process::running_pid(&self.files(name))
    }

    fn status(&self, name: &str) -> Status {
        let t = read_small(&self.status_path(name)).unwrap_or_default();
        let mut it = t.split_whitespace().map(|x| x.parse::<i32>().unwrap_or(0));
        Status { id: it.next().unwrap_or(-1), reason: it.next().unwrap_or(0) }
    }

    fn set_status(&self, name: &str, st: Status) -> Result<()> {
        quick_write(&self.status_path(name), format!("{:>11} {:>11}\n", st.id, st.reason).as_bytes())
            .map_err(|e| Error::system(DOM, "cannot write status", &e))
    }

    fn next_id(&self) -> Result<i32> {
        let store = SnapshotStore::open(self.paths.run.join(".ids"), DOM)?;
        let _l = store.lock()?;
        let p = store.dir().join("next");
        let n: i32 = read_small(&p).and_then(|t| t.trim().parse().ok()).unwrap_or(1);
        quick_write(&p, format!("{:>20}\n", n + 1).as_bytes()).map_err(|e| Error::system(DOM, "cannot write id counter", &e))?;
        Ok(n)
    }

    fn qmp(&self, name: &str) -> Result<Qmp> {
        Qmp::connect(&self.files(name).qmp)
    }

    fn dref(&self, def: &DomainDef) -> DomainRef {
        let id = if self.pid(&def.name).is_some() { self.status(&def.name).id } else { -1 };
        DomainRef { name: def.name.clone(), uuid: def.uuid, id }
    }

    /// State of `name` (caller may or may not hold the lock).
    fn state_of(&self, name: &str) -> Result<(DomainState, i32)> {
        self.state_conn(name).map(|(s, r, _)| (s, r))
    }

    /// State, reason, and the QMP connection used to ask (while running),
    /// for the caller to reuse.
    fn state_conn(&self, name: &str) -> Result<(DomainState, i32, Option<Qmp>)> {
        let st = self.status(name);
        if self.pid(name).is_none() {
            if fs::metadata(self.live_path(name)).is_ok() && self.persistent_def(name)?.is_none() {
                // A transient guest that went away.
                let _ = fs::remove_file(self.live_path(name));
            }
            // id 0 = stopped by us with a recorded reason; anything else = unknown.
            return Ok((DomainState::Shutoff, if st.id == 0 { st.reason } else { 0 }, None));
        }
        let mut q = self.qmp(name)?;
        let (status, running) = q.status()?;
        let (s, r) = if running {
            (DomainState::Running, st.reason)
        } else {
            match status.as_str() {
                "shutdown" => (DomainState::Shutoff, reason::SHUTOFF_SHUTDOWN),
                "internal-error" | "guest-panicked" => (DomainState::Crashed, 0),
                _ => (DomainState::Paused, st.reason),
            }
        };
        Ok((s, r, Some(q)))
    }

    /// Starts `def` (already saved where it belongs); paused unless `run`.
    fn start_guest(&self, def: &DomainDef, loadvm: Option<String>, run: bool, run_reason: i32, pause_reason: i32) -> Result<()> {
        let files = self.files(&def.name);
        self.save_live(def)?;
        let id = self.next_id()?;
        if let Err(e) = process::start(def, &files, &process::StartOpts { loadvm, kvm: self.kvm }) {
            let _ = process::stop(&files);
            let _ = fs::remove_file(self.live_path(&def.name));
            return Err(e);
        }
        let reason = if run { run_reason } else { pause_reason };
        self.set_status(&def.name, Status { id, reason })?;
        if run {
            if let Err(e) = self.qmp(&def.name).and_then(|mut q| q.execute("cont", None)) {
                let _ = process::stop(&files);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Stops the guest and records the shut-off reason.
    fn stop_guest(&self, name: &str, why: i32) -> Result<()> {
        process::stop(&self.files(name))?;
        let transient = self.persistent_def(name)?.is_none();
        let _ = fs::remove_file(self.live_path(name));
        if transient {
            let _ = fs::remove_file(self.status_path(name));
            return Ok(());
        }
        self.set_status(name, Status { id: 0, reason: why })
    }

    fn not_running(name: &str) -> Error {
        let _ = name;
        Error::op_invalid(DOM, "domain is not running")
    }

    fn progress(&self, op: &str, pct: u32) {
        let cb = self.progress.lock().ok().and_then(|g| g.clone());
        if let Some(cb) = cb {
            cb(op, pct);
        }
    }
}

impl Driver for QemuDriver {
    fn type_name(&self) -> &'static str {
        "QEMU"
    }

    fn error_domain(&self) -> ErrorDomain {
        DOM
    }

    fn func_prefix(&self) -> &'static str {
        "qemu"
    }

    fn hypervisor_version(&self) -> Result<u64> {
        let out = std::process::Command::new(domxml::DEFAULT_EMULATOR)
            .arg("--version")
            .output()
            .map_err(|e| Error::op_failed(DOM, format!("cannot run {}: {e}", domxml::DEFAULT_EMULATOR)))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let ver = text.split_whitespace().skip_while(|w| *w != "version").nth(1).unwrap_or("0.0.0");
        let mut n = ver.split(|c: char| !c.is_ascii_digit()).filter_map(|x| x.parse::<u64>().ok());
        Ok(n.next().unwrap_or(0) * 1_000_000 + n.next().unwrap_or(0) * 1000 + n.next().unwrap_or(0))
    }

    fn set_progress(&self, progress: Option<ProgressFn>) {
        if let Ok(mut g) = self.progress.lock() {
            *g = progress;
        }
    }

    fn event_scope(&self) -> String {
        // Every connection to one root (in this process) shares its events.
        format!("qemu:{}", self.paths.run.display())
    }

    fn event_log(&self) -> Option<PathBuf> {
        // Not `NAME.log` (a guest's QEMU log) and no `.xml`: listings skip it.
        Some(self.paths.run.join(".virsnap-events"))
    }

    fn list_domains(&self) -> Result<Vec<DomainRef>> {
        let mut names = std::collections::BTreeSet::new();
        for dir in [&self.paths.config, &self.paths.run] {
            if let Ok(rd) = fs::read_dir(dir) {
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if let Some(stem) = n.strip_suffix(".xml") {
                        if !stem.starts_with('.') {
                            names.insert(stem.to_owned());
                        }
                    }
                }
            }
        }
        let mut active = Vec::new();
        let mut inactive = Vec::new();
        for n in names {
            let Ok(def) = self.def(&n) else { continue };
            let r = self.dref(&def);
            if r.id >= 0 { active.push(r) } else { inactive.push(r) }
        }
        active.sort_by_key(|r| r.id);
        active.extend(inactive);
        Ok(active)
    }

    fn lookup_domain_by_name(&self, name: &str) -> Result<DomainRef> {
        let def = self.def(name)?;
        Ok(self.dref(&def))
    }

    fn lookup_domain_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.list_domains()?
            .into_iter()
            .find(|d| d.uuid == *uuid)
            .ok_or_else(|| Error::new(ErrorCode::NoDomain, DOM, format!("no domain with matching uuid '{uuid}'")))
    }

    fn lookup_domain_by_id(&self, id: i32) -> Result<DomainRef> {
        self.list_domains()?
            .into_iter()
            .find(|d| d.id == id && id >= 0)
            .ok_or_else(|| Error::new(ErrorCode::NoDomain, DOM, format!("no domain with matching id {id}")))
    }

    fn domain_state(&self, dom: &DomainRef) -> Result<(DomainState, i32)> {
        self.def(&dom.name)?;
        self.state_of(&dom.name)
    }

    fn domain_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        let def = self.def(&dom.name)?;
        let (state, _) = self.state_of(&dom.name)?;
        Ok(DomainInfo {
            state: state as u8,
            max_mem: def.memory_kib,
            memory: def.current_memory_kib,
            nr_virt_cpu: def.vcpus as u16,
            cpu_time: 0,
        })
    }

    fn domain_is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        check_name(&dom.name)?;
        Ok(self.persistent_def(&dom.name)?.is_some())
    }

    fn domain_xml(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        use crate::flags::domain as f;
        check_flags(flags, f::XML_SECURE | f::XML_INACTIVE | f::XML_UPDATE_CPU | f::XML_MIGRATABLE, DOM, "qemuDomainGetXMLDesc")?;
        let running = self.pid(&dom.name).is_some();
        if flags & f::XML_INACTIVE != 0 {
            if let Some(d) = self.persistent_def(&dom.name)? {
                return Ok(d.to_xml());
            }
        }
        let def = self.def(&dom.name)?;
        let mut e = def.to_element();
        if running && flags & f::XML_INACTIVE == 0 {
            let id = self.status(&dom.name).id;
            e.attrs.insert(1, ("id".into(), id.to_string()));
        }
        Ok(e.to_libvirt_string())
    }

    fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(flags, crate::flags::domain::DEFINE_VALIDATE, DOM, "qemuDomainDefineXMLFlags")?;
        let def = DomainDef::parse(xml)?;
        let (_s, _l) = self.lock(&def.name)?;
        if let Some(old) = self.persistent_def(&def.name)?.or_else(|| self.live_def(&def.name)) {
            if old.uuid != def.uuid {
                return Err(Error::op_failed(
                    DOM,
                    format!("domain '{}' is already defined with uuid {}", def.name, old.uuid),
                ));
            }
        } else if let Ok(other) = self.lookup_domain_by_uuid(&def.uuid) {
            return Err(Error::op_failed(DOM, format!("domain '{}' already exists with uuid {}", other.name, def.uuid)));
        }
        self.save_config(&def)?;
        Ok(self.dref(&def))
    }

    fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        use crate::flags::domain::START_PAUSED;
        check_flags(flags, START_PAUSED, DOM, "qemuDomainCreateXML")?;
        let def = DomainDef::parse(xml)?;
        let (_s, _l) = self.lock(&def.name)?;
        if self.persistent_def(&def.name)?.is_some() || self.pid(&def.name).is_some() {
            return Err(Error::op_failed(DOM, format!("domain '{}' already exists", def.name)));
        }
        self.start_guest(&def, None, flags & START_PAUSED == 0, reason::RUNNING_BOOTED, reason::PAUSED_USER)?;
        Ok(self.dref(&def))
    }

    fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        use crate::flags::domain as f;
        check_flags(
            flags,
            f::UNDEFINE_MANAGED_SAVE | f::UNDEFINE_SNAPSHOTS_METADATA | f::UNDEFINE_NVRAM | f::UNDEFINE_KEEP_NVRAM | f::UNDEFINE_CHECKPOINTS_METADATA,
            DOM,
            "qemuDomainUndefineFlags",
        )?;
        let (store, _l) = self.lock(&dom.name)?;
        if self.persistent_def(&dom.name)?.is_none() {
            return Err(Error::op_invalid(DOM, "cannot undefine transient domain"));
        }
        let active = self.pid(&dom.name).is_some();
        let n = self.load_tree(&dom.name, &store)?.tree.len();
        if n > 0 && !active {
            if flags & f::UNDEFINE_SNAPSHOTS_METADATA == 0 {
                return Err(Error::op_invalid(DOM, format!("cannot delete inactive domain with {n} snapshots")));
            }
            store.remove_all()?;
            let _ = fs::remove_file(self.index_path(&dom.name));
            self.cache.forget(&dom.name);
        }
        fs::remove_file(self.config_path(&dom.name)).map_err(|e| Error::system(DOM, "cannot remove domain definition", &e))?;
        if !active {
            let _ = fs::remove_file(self.status_path(&dom.name));
        }
        Ok(())
    }

    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        use crate::flags::domain::START_PAUSED;
        check_flags(flags, START_PAUSED, DOM, "qemuDomainCreateWithFlags")?;
        let (_s, _l) = self.lock(&dom.name)?;
        if self.pid(&dom.name).is_some() {
            return Err(Error::op_invalid(DOM, "domain is already running"));
        }
        let def = self.persistent_def(&dom.name)?.ok_or_else(|| Self::no_domain(&dom.name))?;
        self.start_guest(&def, None, flags & START_PAUSED == 0, reason::RUNNING_BOOTED, reason::PAUSED_USER)
    }

    fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 1, DOM, "qemuDomainDestroyFlags")?;
        let (_s, _l) = self.lock(&dom.name)?;
        if self.pid(&dom.name).is_none() {
            self.def(&dom.name)?;
            return Err(Self::not_running(&dom.name));
        }
        self.stop_guest(&dom.name, reason::SHUTOFF_DESTROYED)
    }

    fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0xf, DOM, "qemuDomainShutdownFlags")?;
        let (_s, _l) = self.lock(&dom.name)?;
        if self.pid(&dom.name).is_none() {
            self.def(&dom.name)?;
            return Err(Self::not_running(&dom.name));
        }
        self.qmp(&dom.name)?.execute("system_powerdown", None).map(drop)
    }

    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        let (_s, _l) = self.lock(&dom.name)?;
        if self.pid(&dom.name).is_none() {
            self.def(&dom.name)?;
            return Err(Self::not_running(&dom.name));
        }
        self.qmp(&dom.name)?.execute("stop", None)?;
        let st = self.status(&dom.name);
        self.set_status(&dom.name, Status { id: st.id, reason: reason::PAUSED_USER })
    }

    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        let (_s, _l) = self.lock(&dom.name)?;
        if self.pid(&dom.name).is_none() {
            self.def(&dom.name)?;
            return Err(Self::not_running(&dom.name));
        }
        self.qmp(&dom.name)?.execute("cont", None)?;
        let st = self.status(&dom.name);
        self.set_status(&dom.name, Status { id: st.id, reason: reason::RUNNING_UNPAUSED })
    }

    fn keeps_handle_id_on_stop(&self) -> bool {
        true
    }
    fn qemu_monitor_command(&self, dom: &DomainRef, cmd: &str, flags: u32, _func: &str) -> Result<String> {
        self.monitor_command(dom, cmd, flags)
    }
    fn qemu_agent_command(&self, dom: &DomainRef, _cmd: &str, _timeout: i32, flags: u32) -> Result<String> {
        self.agent_command(dom, flags)
    }
    fn job_stats(&self, dom: &DomainRef, flags: u32) -> Result<crate::job::JobStats> {
        self.domain_job_stats(dom, flags)
    }
    fn job_abort(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.domain_job_abort(dom, flags)
    }
    fn snapshot_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        self.snap_create(dom, xml, flags)
    }
    fn snapshot_xml_desc(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        self.snap_xml(dom, name, flags)
    }
    fn snapshot_list(&self, dom: &DomainRef, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        let func = match kind {
            ListKind::Num => "qemuDomainSnapshotNum",
            ListKind::Names => "qemuDomainSnapshotListNames",
            ListKind::All => "qemuDomainListAllSnapshots",
        };
        check_flags(flags, crate::flags::list::ALL, DOM, func)?;
        self.with_tree(dom, |t| Ok(t.list(flags)))
    }
    fn snapshot_list_children(&self, dom: &DomainRef, name: &str, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        let func = match kind {
            ListKind::Num => "qemuDomainSnapshotNumChildren",
            ListKind::Names => "qemuDomainSnapshotListChildrenNames",
            ListKind::All => "qemuDomainSnapshotListAllChildren",
        };
        check_flags(flags, crate::flags::list::ALL, DOM, func)?;
        self.with_tree(dom, |t| {
            if !t.contains(name) {
                return Err(Error::no_snapshot(DOM, name));
            }
            t.list_children(name, flags)
        })
    }
    fn snapshot_tree_entries(&self, dom: &DomainRef, of: Option<&str>, flags: u32, full: bool) -> Result<Vec<crate::model::SnapshotEntry>> {
        let func = if of.is_some() { "qemuDomainSnapshotListAllChildren" } else { "qemuDomainListAllSnapshots" };
        check_flags(flags, crate::flags::list::ALL, DOM, func)?;
        self.snap_entries(dom, of, flags, full)
    }
    fn snapshot_entry(&self, dom: &DomainRef, name: &str, full: bool) -> Result<crate::model::SnapshotEntry> {
        self.snap_entry(dom, name, full)
    }
    fn snapshot_lookup(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        check_flags(flags, 0, DOM, "qemuDomainSnapshotLookupByName")?;
        self.with_tree(dom, |t| if t.contains(name) { Ok(name.to_owned()) } else { Err(Error::no_snapshot(DOM, name)) })
    }
    fn snapshot_lookup_by_uuid(&self, dom: &DomainRef, uuid: &Uuid, flags: u32) -> Result<String> {
        check_flags(flags, 0, DOM, "qemuDomainSnapshotLookupByUUID")?;
        self.with_tree(dom, |t| {
            t.lookup_uuid(uuid).map(str::to_owned).ok_or_else(|| {
                Error::new(ErrorCode::NoDomainSnapshot, DOM, format!("no domain snapshot with matching uuid '{uuid}'"))
            })
        })
    }
    fn snapshot_uuid(&self, dom: &DomainRef, name: &str) -> Result<Uuid> {
        self.with_tree(dom, |t| t.uuid_of(name).ok_or_else(|| Error::no_snapshot(DOM, name)))
    }
    fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<Option<String>> {
        check_flags(flags, 0, DOM, "qemuDomainSnapshotCurrent")?;
        self.with_tree(dom, |t| Ok(t.current().map(str::to_owned)))
    }
    fn snapshot_parent(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<Option<String>> {
        check_flags(flags, 0, DOM, "qemuDomainSnapshotGetParent")?;
        self.with_tree(dom, |t| {
            if !t.contains(name) {
                return Err(Error::no_snapshot(DOM, name));
            }
            Ok(t.parent(name).map(str::to_owned))
        })
    }
    fn snapshot_is_current(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<bool> {
        check_flags(flags, 0, DOM, "qemuDomainSnapshotIsCurrent")?;
        self.with_tree(dom, |t| {
            if !t.contains(name) {
                return Err(Error::no_snapshot(DOM, name));
            }
            Ok(t.current() == Some(name))
        })
    }
    fn snapshot_has_metadata(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<bool> {
        check_flags(flags, 0, DOM, "qemuDomainSnapshotHasMetadata")?;
        self.with_tree(dom, |t| t.has_metadata(name).ok_or_else(|| Error::no_snapshot(DOM, name)))
    }
    fn snapshot_revert(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        self.snap_revert(dom, name, flags)
    }
    fn snapshot_delete(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        self.snap_delete(dom, name, flags)
    }
    fn snapshot_delete_set(&self, dom: &DomainRef, names: &[String]) -> Result<()> {
        self.snap_delete_set(dom, names)
    }
    fn snapshot_verify(&self, dom: &DomainRef, repair: bool) -> Result<Vec<crate::health::Finding>> {
        self.snap_verify(dom, repair)
    }
    fn snapshot_rename(&self, dom: &DomainRef, name: &str, new_name: &str, flags: u32) -> Result<()> {
        self.snap_rename(dom, name, new_name, flags)
    }
    fn snapshot_usage(&self, dom: &DomainRef, name: Option<&str>, flags: u32) -> Result<Vec<crate::usage::SnapshotUsage>> {
        self.snap_usage(dom, name, flags)
    }
}

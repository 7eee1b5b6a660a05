//! The VirtualBox driver (`vbox:///session`) over `VBoxManage`
//! (reference/vbox.md). Snapshots are read from VirtualBox on every call
//! (`snapshot VM list --machinereadable`, enriched from the `.vbox` file when
//! it is readable) and always addressed by UUID; names are resolved here,
//! the first in depth-first order winning, as VirtualBox's `findSnapshot`.
//! VirtualBox keeps no libvirt metadata, so `hasMetadata` is 0.

pub mod cli;
pub mod errors;
mod journal;
pub mod parse;
mod redefine;
pub mod settings;
mod snapshots;
mod verify;
mod usage;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{check_flags, DomainInfo, DomainRef, Driver, ListKind, OpenRequest, ParsedUri, ProgressFn};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::flags::domain as domf;
use crate::model::DomainState;
use crate::uuid::Uuid;

pub use cli::{CommandRunner, Output, Runner};
use errors::{check, Ctx};

const V: ErrorDomain = ErrorDomain::Vbox;

/// The VirtualBox driver.
pub struct VboxDriver {
    runner: Box<dyn Runner>,
    /// `.vbox` path per machine (`None`: could not be learnt).
    cfg: Mutex<HashMap<Uuid, Option<PathBuf>>>,
    progress: Mutex<Option<ProgressFn>>,
    /// Per machine, the last `snapshot list` and the `.vbox` file's stamp
    /// taken before it ran: reused while the file is unchanged, dropped by
    /// every VBoxManage command of ours that is not a read.
    listings: Mutex<HashMap<Uuid, (FileStamp, parse::Listing)>>,
    /// Per machine, the parsed `.vbox` file and its stamp before the read.
    files: Mutex<HashMap<Uuid, (FileStamp, settings::MachineFile)>>,
}

/// What changes whenever VirtualBox rewrites a machine's `.vbox` file
/// (device, inode, size, modification time in ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp(u64, u64, u64, i128);

impl FileStamp {
    /// The stamp of the regular file at `p` (not followed through a
    /// symlink); `None` when it cannot be read.
    pub(crate) fn of(p: &std::path::Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::symlink_metadata(p).ok()?;
        if !m.file_type().is_file() {
            return None;
        }
        Some(Self(m.dev(), m.ino(), m.size(), i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())))
    }
}

/// True for the VBoxManage commands that change nothing (the listing
/// cache survives them).
fn is_read(a: &[String]) -> bool {
    match a.first().map(String::as_str) {
        Some("list" | "showvminfo" | "showmediuminfo" | "getextradata" | "--version" | "-v" | "-q") => true,
        Some("snapshot") => a.get(2).map(String::as_str) == Some("list"),
        _ => false,
    }
}

/// Opens `vbox:///session`.
pub(crate) fn open(_req: &OpenRequest, uri: &ParsedUri) -> Option<Result<Arc<dyn Driver>>> {
    if uri.scheme != "vbox" {
        return None;
    }
    if !uri.host.is_empty() {
        return Some(Err(Error::new(
            ErrorCode::NoConnect,
            V,
            format!("remote VirtualBox hosts are not supported (vbox://{}{})", uri.host, uri.path),
        )));
    }
    if uri.path != "/session" {
        return Some(Err(Error::new(
            ErrorCode::NoConnect,
            V,
            format!("unknown driver path '{}' specified (try vbox:///session)", uri.path),
        )));
    }
    let runner = CommandRunner::from_env();
    if !runner.program_found() {
        return Some(Err(Error::new(
            ErrorCode::NoConnect,
            V,
            format!(
                "unable to initialize VirtualBox driver: '{}' not found (install VirtualBox or set {})",
                runner.program(),
                cli::ENV_COMMAND
            ),
        )));
    }
    let drv = VboxDriver::with_runner(Box::new(runner));
    // Machines a crashed REDEFINE left unregistered first, then the
    // multi-step operations a crash interrupted.
    redefine::recover(&drv);
    journal::recover(&drv);
    let d: Arc<dyn Driver> = Arc::new(drv);
    Some(Ok(d))
}

/// libvirt's mapping of VirtualBox machine states (vbox_common.c
/// `vboxConvertState`), by `showvminfo`'s short names.
pub fn map_state(s: &str) -> (DomainState, i32) {
    use crate::model::reason;
    match s {
        "running" | "livesnapshotting" | "onlinesnapshotting" | "deletingsnapshotlive" | "teleporting" => {
            (DomainState::Running, reason::RUNNING_BOOTED)
        }
        "paused" | "deletingsnapshotlivepaused" | "teleportingpausedvm" => (DomainState::Paused, reason::PAUSED_USER),
        "gurumeditation" | "stuck" => (DomainState::Blocked, 0),
        "stopping" => (DomainState::Shutdown, 0),
        "poweroff" | "saved" | "teleported" => (DomainState::Shutoff, reason::UNKNOWN),
        "aborted" | "aborted-saved" => (DomainState::Crashed, 0),
        _ => (DomainState::NoState, 0),
    }
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

impl VboxDriver {
    /// A driver over any [`Runner`] (tests use a fake or the replay stand-in).
    pub fn with_runner(runner: Box<dyn Runner>) -> Self {
        Self { runner, cfg: Mutex::new(HashMap::new()), progress: Mutex::new(None), listings: Mutex::new(HashMap::new()), files: Mutex::new(HashMap::new()) }
    }

    /// Drops the cached listings before a command that may change them.
    fn forget_listings(&self, a: &[String]) {
        if !is_read(a) {
            if let Ok(mut g) = self.listings.lock() {
                g.clear();
            }
        }
    }

    /// The cached `snapshot list` of `dom` when its `.vbox` file still
    /// has `stamp`. Since 0.1.0.
    pub(crate) fn cached_listing(&self, dom: &DomainRef, stamp: FileStamp) -> Option<parse::Listing> {
        let g = self.listings.lock().ok()?;
        g.get(&dom.uuid).filter(|(s, _)| *s == stamp).map(|(_, l)| l.clone())
    }

    /// Keeps `listing`, read after the `.vbox` file had `stamp`. Since 0.1.0.
    pub(crate) fn cache_listing(&self, dom: &DomainRef, stamp: FileStamp, listing: &parse::Listing) {
        if let Ok(mut g) = self.listings.lock() {
            g.insert(dom.uuid, (stamp, listing.clone()));
        }
    }

    /// The machine's `.vbox` file, parsed (best effort): reused while the
    /// file keeps the stamp it had before it was read. Since 0.1.0.
    pub(crate) fn machine_file(&self, dom: &DomainRef) -> Option<settings::MachineFile> {
        let p = self.cfg_path(dom)?;
        let stamp = FileStamp::of(&p);
        if let Some(st) = stamp {
            let g = self.files.lock().ok()?;
            if let Some((_, f)) = g.get(&dom.uuid).filter(|(s, _)| *s == st) {
                return Some(f.clone());
            }
        }
        let text = crate::fsio::read_regular_string(&p, redefine::MACHINE_FILE_BYTES).ok()?;
        let f = settings::parse_machine_file(&text).ok()?;
        if let (Some(st), Ok(mut g)) = (stamp, self.files.lock()) {
            g.insert(dom.uuid, (st, f.clone()));
        }
        Some(f)
    }

    /// The stamp of `dom`'s `.vbox` file, `None` when it is unknown or its
    /// path has not been learnt yet (learning it costs a `showvminfo`;
    /// every read of the file learns it).
    pub(crate) fn cfg_stamp(&self, dom: &DomainRef) -> Option<FileStamp> {
        let p = self.cfg.lock().ok()?.get(&dom.uuid).cloned().flatten()?;
        FileStamp::of(&p)
    }

    /// Runs VBoxManage; the output whatever the exit status.
    fn run(&self, a: &[String]) -> Result<Output> {
        self.forget_listings(a);
        let r = self.runner.run(a);
        self.forget_listings(a);
        r
    }

    /// Runs VBoxManage; a failure becomes a libvirt error for context `ctx`.
    fn run_ok(&self, a: &[String], ctx: Ctx<'_>) -> Result<Output> {
        let out = self.run(a)?;
        check(&out, ctx)?;
        Ok(out)
    }

    /// [`Self::run_ok`] for a long operation: VBoxManage's progress goes to
    /// the progress callback as `op` (`snapshot-create`, …).
    fn run_op(&self, a: &[String], ctx: Ctx<'_>, op: &'static str) -> Result<Output> {
        let cb = self.progress.lock().ok().and_then(|g| g.clone());
        let pf: Option<cli::PercentFn> = cb.map(|p| Arc::new(move |n: u32| p(op, n)) as cli::PercentFn);
        self.forget_listings(a);
        let out = self.runner.run_with_progress(a, pf);
        self.forget_listings(a);
        let out = out?;
        check(&out, ctx)?;
        Ok(out)
    }

    fn list_vms(&self, which: &str) -> Result<Vec<(String, Uuid)>> {
        let out = self.run_ok(&args(&["list", which]), Ctx::Plain)?;
        Ok(parse::parse_vm_list(&out.stdout))
    }

    fn running(&self) -> Result<Vec<Uuid>> {
        Ok(self.list_vms("runningvms")?.into_iter().map(|(_, u)| u).collect())
    }

    fn is_active(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.running()?.contains(&dom.uuid))
    }

    fn refs(&self) -> Result<Vec<DomainRef>> {
        let all = self.list_vms("vms")?;
        let running = self.running()?;
        let mut active = Vec::new();
        let mut inactive = Vec::new();
        for (i, (name, uuid)) in all.into_iter().enumerate() {
            if running.contains(&uuid) {
                active.push(DomainRef { name, uuid, id: i32::try_from(i + 1).unwrap_or(i32::MAX) });
            } else {
                inactive.push(DomainRef { name, uuid, id: -1 });
            }
        }
        active.extend(inactive);
        Ok(active)
    }

    fn vminfo(&self, dom: &DomainRef) -> Result<parse::VmInfo> {
        let out = self.run_ok(&args(&["showvminfo", &dom.uuid.to_string(), "--machinereadable"]), Ctx::Domain(dom))?;
        let info = parse::parse_vminfo(&out.stdout)?;
        if let Ok(mut g) = self.cfg.lock() {
            let root = self.runner.file_root();
            g.insert(dom.uuid, info.cfg_file.as_ref().map(|p| host_path(root.as_deref(), p)));
        }
        Ok(info)
    }

    /// The machine's `.vbox` path as this process sees it (best effort).
    fn cfg_path(&self, dom: &DomainRef) -> Option<PathBuf> {
        if let Ok(g) = self.cfg.lock() {
            if let Some(p) = g.get(&dom.uuid) {
                return p.clone();
            }
        }
        match self.vminfo(dom) {
            Ok(_) => self.cfg.lock().ok().and_then(|g| g.get(&dom.uuid).cloned().flatten()),
            Err(_) => {
                if let Ok(mut g) = self.cfg.lock() {
                    g.insert(dom.uuid, None);
                }
                None
            }
        }
    }

    fn find_by<F: Fn(&DomainRef) -> bool>(&self, pred: F, what: String) -> Result<DomainRef> {
        self.refs()?.into_iter().find(|d| pred(d)).ok_or_else(|| Error::new(ErrorCode::NoDomain, V, what))
    }

    fn controlvm(&self, dom: &DomainRef, action: &str) -> Result<()> {
        self.run_ok(&args(&["controlvm", &dom.uuid.to_string(), action]), Ctx::Domain(dom)).map(|_| ())
    }

    fn start(&self, dom: &DomainRef) -> Result<()> {
        self.run_ok(&args(&["startvm", &dom.uuid.to_string(), "--type", "headless"]), Ctx::Domain(dom)).map(|_| ())
    }
}

/// `path` (as VBoxManage prints it) seen from this process: under `root`
/// when VBoxManage runs in a chroot.
fn host_path(root: Option<&std::path::Path>, path: &str) -> PathBuf {
    match root {
        Some(r) => r.join(path.trim_start_matches('/')),
        None => PathBuf::from(path),
    }
}

/// `7.2.22_Debianr175245` → 7002022.
pub fn parse_version(s: &str) -> Option<u64> {
    let line = s.lines().rev().find(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let core: String = line.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
    let (a, b, c) = (it.next()??, it.next().flatten().unwrap_or(0), it.next().flatten().unwrap_or(0));
    Some(a * 1_000_000 + b * 1000 + c)
}

impl Driver for VboxDriver {
    fn type_name(&self) -> &'static str {
        "VBOX"
    }

    fn error_domain(&self) -> ErrorDomain {
        V
    }

    fn func_prefix(&self) -> &'static str {
        "vbox"
    }

    fn hypervisor_version(&self) -> Result<u64> {
        let out = self.run_ok(&args(&["--version"]), Ctx::Plain)?;
        parse_version(&out.stdout).ok_or_else(|| Error::internal(V, "cannot parse the VirtualBox version"))
    }

    fn set_progress(&self, progress: Option<ProgressFn>) {
        if let Ok(mut g) = self.progress.lock() {
            *g = progress;
        }
    }

    fn list_domains(&self) -> Result<Vec<DomainRef>> {
        self.refs()
    }

    fn lookup_domain_by_name(&self, name: &str) -> Result<DomainRef> {
        self.find_by(|d| d.name == name, format!("no domain with matching name '{name}'"))
    }

    fn lookup_domain_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.find_by(|d| d.uuid == *uuid, format!("no domain with matching uuid '{uuid}'"))
    }

    fn lookup_domain_by_id(&self, id: i32) -> Result<DomainRef> {
        self.find_by(|d| d.id == id && id > 0, format!("no domain with matching id {id}"))
    }

    fn domain_state(&self, dom: &DomainRef) -> Result<(DomainState, i32)> {
        Ok(map_state(&self.vminfo(dom)?.state))
    }

    fn domain_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        let info = self.vminfo(dom)?;
        let (state, _) = map_state(&info.state);
        let mem = info.memory_mib.saturating_mul(1024);
        Ok(DomainInfo { state: state as u8, max_mem: mem, memory: mem, nr_virt_cpu: info.cpus, cpu_time: 0 })
    }

    fn domain_is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        self.lookup_domain_by_uuid(&dom.uuid).map(|_| true)
    }

    fn domain_xml(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        check_flags(flags, domf::XML_SECURE | domf::XML_INACTIVE | domf::XML_UPDATE_CPU, V, "vboxDomainGetXMLDesc")?;
        let info = self.vminfo(dom)?;
        let mut out = String::from("<domain type='vbox'>\n");
        let mut esc = String::new();
        crate::xml::escape_into(&mut esc, &info.name);
        out.push_str(&format!("  <name>{esc}</name>\n  <uuid>{}</uuid>\n", dom.uuid));
        let kib = info.memory_mib.saturating_mul(1024);
        out.push_str(&format!("  <memory unit='KiB'>{kib}</memory>\n  <currentMemory unit='KiB'>{kib}</currentMemory>\n"));
        out.push_str(&format!("  <vcpu placement='static'>{}</vcpu>\n", info.cpus.max(1)));
        out.push_str("  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n</domain>\n");
        Ok(out)
    }

    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, domf::START_PAUSED, V, "vboxDomainCreateWithFlags")?;
        if self.is_active(dom)? {
            return Err(Error::op_invalid(V, "domain is already running"));
        }
        self.start(dom)?;
        if flags & domf::START_PAUSED != 0 {
            self.controlvm(dom, "pause")?;
        }
        Ok(())
    }

    fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, V, "vboxDomainDestroyFlags")?;
        if !self.is_active(dom)? {
            return Err(Error::op_invalid(ErrorDomain::Domain, "domain is not running"));
        }
        self.controlvm(dom, "poweroff")
    }

    fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, V, "vboxDomainShutdownFlags")?;
        let (st, _) = self.domain_state(dom)?;
        match st {
            DomainState::Running => self.controlvm(dom, "acpipowerbutton"),
            DomainState::Paused => Err(Error::op_invalid(V, "machine paused, so can't power it down")),
            _ => Err(Error::op_invalid(V, "machine already powered down")),
        }
    }

    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        let (st, _) = self.domain_state(dom)?;
        if st != DomainState::Running {
            return Err(Error::op_invalid(V, "machine not in running state to suspend it"));
        }
        self.controlvm(dom, "pause")
    }

    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        let (st, _) = self.domain_state(dom)?;
        if st != DomainState::Paused {
            return Err(Error::op_invalid(V, "machine not paused, so can't resume it"));
        }
        self.controlvm(dom, "resume")
    }

    fn snapshot_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        snapshots::create(self, dom, xml, flags)
    }

    fn snapshot_xml_desc(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        snapshots::xml_desc(self, dom, name, flags)
    }

    fn snapshot_list(&self, dom: &DomainRef, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        snapshots::list(self, dom, None, flags, kind)
    }

    fn snapshot_list_children(&self, dom: &DomainRef, name: &str, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        snapshots::list(self, dom, Some(name), flags, kind)
    }

    fn snapshot_tree_entries(&self, dom: &DomainRef, of: Option<&str>, flags: u32, _full: bool) -> Result<Vec<crate::model::SnapshotEntry>> {
        snapshots::entries(self, dom, of, flags)
    }

    fn snapshot_entry(&self, dom: &DomainRef, name: &str, _full: bool) -> Result<crate::model::SnapshotEntry> {
        snapshots::entry(self, dom, name)
    }

    fn snapshot_lookup(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        check_flags(flags, 0, V, "vboxDomainSnapshotLookupByName")?;
        let v = snapshots::View::load(self, dom, false)?;
        v.index(name)?;
        Ok(name.to_owned())
    }

    fn snapshot_lookup_by_uuid(&self, dom: &DomainRef, uuid: &Uuid, flags: u32) -> Result<String> {
        check_flags(flags, 0, V, "vboxDomainSnapshotLookupByUUIDString")?;
        let v = snapshots::View::load(self, dom, false)?;
        let i = v.listing.find_uuid(uuid).ok_or_else(|| {
            Error::new(ErrorCode::NoDomainSnapshot, V, format!("no domain snapshot with matching uuid '{uuid}'"))
        })?;
        Ok(v.handle_name(i))
    }

    fn snapshot_uuid(&self, dom: &DomainRef, name: &str) -> Result<Uuid> {
        let v = snapshots::View::load(self, dom, false)?;
        Ok(v.listing.nodes[v.index(name)?].uuid)
    }

    fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<Option<String>> {
        check_flags(flags, 0, V, "vboxDomainSnapshotCurrent")?;
        let v = snapshots::View::load(self, dom, false)?;
        Ok(v.listing.current.map(|i| v.handle_name(i)))
    }

    fn snapshot_has_current(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, V, "vboxDomainHasCurrentSnapshot")?;
        let v = snapshots::View::load(self, dom, false)?;
        Ok(v.listing.current.is_some())
    }

    fn snapshot_parent(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<Option<String>> {
        check_flags(flags, 0, V, "vboxDomainSnapshotGetParent")?;
        let v = snapshots::View::load(self, dom, false)?;
        let i = v.index(name)?;
        Ok(v.listing.nodes[i].parent.map(|p| v.handle_name(p)))
    }

    fn snapshot_is_current(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<bool> {
        check_flags(flags, 0, V, "vboxDomainSnapshotIsCurrent")?;
        let v = snapshots::View::load(self, dom, false)?;
        let i = v.index(name)?;
        Ok(v.listing.current == Some(i))
    }

    fn snapshot_has_metadata(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<bool> {
        check_flags(flags, 0, V, "vboxDomainSnapshotHasMetadata")?;
        let v = snapshots::View::load(self, dom, false)?;
        v.index(name)?;
        Ok(false)
    }

    fn snapshot_revert(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        snapshots::revert(self, dom, name, flags)
    }

    fn snapshot_delete(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        snapshots::delete(self, dom, name, flags)
    }

    fn snapshot_delete_set(&self, dom: &DomainRef, names: &[String]) -> Result<()> {
        snapshots::delete_set(self, dom, names)
    }

    fn snapshot_verify(&self, dom: &DomainRef, repair: bool) -> Result<Vec<crate::health::Finding>> {
        verify::verify(self, dom, repair)
    }

    fn snapshot_rename(&self, dom: &DomainRef, name: &str, new_name: &str, flags: u32) -> Result<()> {
        snapshots::rename(self, dom, name, new_name, flags)
    }

    fn snapshot_usage(&self, dom: &DomainRef, name: Option<&str>, flags: u32) -> Result<Vec<crate::usage::SnapshotUsage>> {
        self.snap_usage(dom, name, flags)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn versions_and_states() {
        assert_eq!(parse_version("7.2.22_Debianr175245\n"), Some(7_002_022));
        assert_eq!(parse_version("WARNING: x\n6.1.50r161033\n"), Some(6_001_050));
        assert_eq!(map_state("poweroff").0, DomainState::Shutoff);
        assert_eq!(map_state("aborted-saved").0, DomainState::Crashed);
        assert_eq!(map_state("paused").0, DomainState::Paused);
    }
}

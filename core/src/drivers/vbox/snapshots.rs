//! Snapshot operations over VBoxManage. Every call re-reads the tree from
//! VirtualBox, resolves the caller's name to a UUID (first in depth-first
//! order) and passes only UUIDs to VBoxManage.

use crate::drivers::{check_flags, DomainRef, ListKind};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::flags::{create, delete, list, revert, xml as xmlf};
use crate::model::{SnapshotDef, SnapshotState};
use crate::names::validate_snapshot_name;
use crate::store::crash_point;
use crate::tree::SnapshotTree;
use crate::uuid::Uuid;
use crate::xml::{format_snapshot, parse_snapshot, FormatFlags, ParseFlags};

use super::errors::Ctx;
use super::journal::{Intent, Plan};
use super::parse::{parse_snapshot_list, parse_taken, Listing};
use super::settings::MachineFile;
use super::{args, VboxDriver};

const V: ErrorDomain = ErrorDomain::Vbox;

/// A machine's snapshots as VirtualBox has them now.
pub struct View {
    /// The listing (structure, current).
    pub listing: Listing,
    /// The `.vbox` file, when it could be read (exact names, times, state files).
    pub file: Option<MachineFile>,
}

impl View {
    /// Reads the listing; with `with_file`, also the `.vbox` file (best effort).
    ///
    /// The listing is reused from the driver's cache while the machine's
    /// `.vbox` file is unchanged (VirtualBox rewrites it with every
    /// snapshot change) and no command of ours changed anything since; so
    /// a caller asking once per snapshot runs VBoxManage once.
    pub fn load(drv: &VboxDriver, dom: &DomainRef, with_file: bool) -> Result<Self> {
        // The file is read anyway: learn its path first, so this listing
        // is cached too.
        if with_file {
            let _path_learnt = drv.cfg_path(dom);
        }
        // Stamped before the read: a change during it misses the cache next time.
        let stamp = drv.cfg_stamp(dom);
        let cached = stamp.and_then(|s| drv.cached_listing(dom, s));
        let listing = match cached {
            Some(l) => l,
            None => {
                let a = args(&["snapshot", &dom.uuid.to_string(), "list", "--machinereadable"]);
                let out = drv.run(&a)?;
                let listing = if out.code == 0 {
                    parse_snapshot_list(&out.stdout)?
                } else if out.is_no_snapshots() {
                    Listing::default()
                } else {
                    return Err(super::errors::to_error(&out, Ctx::Domain(dom)));
                };
                if let Some(s) = stamp {
                    drv.cache_listing(dom, s, &listing);
                }
                listing
            }
        };
        let view = Self { listing, file: None };
        Ok(if with_file { view.with_file(drv, dom) } else { view })
    }

    /// Adds the `.vbox` file (best effort; only a file that agrees with the
    /// listing is trusted) and takes the exact names and descriptions from it.
    pub fn with_file(mut self, drv: &VboxDriver, dom: &DomainRef) -> Self {
        if self.listing.nodes.is_empty() {
            return self;
        }
        self.file = drv
            .machine_file(dom)
            .filter(|f| self.listing.nodes.iter().all(|n| f.snapshots.contains_key(&n.uuid)));
        if let Some(f) = &self.file {
            for n in &mut self.listing.nodes {
                if let Some(s) = f.snapshots.get(&n.uuid) {
                    n.name.clone_from(&s.name);
                    n.description = s.description.clone().filter(|d| !d.is_empty());
                }
            }
        }
        self
    }

    /// Index of the first snapshot named `name` (depth-first, as
    /// VirtualBox's `findSnapshot`), else of the snapshot whose UUID `name`
    /// spells (how a snapshot hidden behind an earlier one of the same name
    /// is addressed, see [`Self::handle_name`]), or libvirt's not-found error.
    pub fn index(&self, name: &str) -> Result<usize> {
        self.listing
            .find_name(name)
            .or_else(|| super::parse::parse_vbox_uuid(name).and_then(|u| self.listing.find_uuid(&u)))
            .ok_or_else(|| Error::no_snapshot(V, name))
    }

    /// The name a handle to node `i` carries: its name, unless an earlier
    /// snapshot (depth-first) has the same name; then its UUID, so that the
    /// handle still acts on this snapshot and not on the first namesake.
    pub fn handle_name(&self, i: usize) -> String {
        if self.listing.find_name(self.name(i)) == Some(i) {
            self.name(i).to_owned()
        } else {
            self.uuid(i).to_string()
        }
    }

    /// Name of node `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.listing.nodes[i].name
    }

    /// UUID of node `i`.
    pub fn uuid(&self, i: usize) -> Uuid {
        self.listing.nodes[i].uuid
    }

    fn online(&self, i: usize) -> bool {
        self.file
            .as_ref()
            .and_then(|f| f.snapshots.get(&self.uuid(i)))
            .is_some_and(|s| s.state_file.is_some())
    }

    /// libvirt's definition of node `i` (vbox_common.c: state running when
    /// the snapshot has a saved state, creationTime from timeStamp).
    pub fn def(&self, i: usize) -> SnapshotDef {
        let n = &self.listing.nodes[i];
        SnapshotDef {
            name: Some(n.name.clone()),
            description: n.description.clone(),
            state: Some(if self.online(i) { SnapshotState::Running } else { SnapshotState::Shutoff }),
            parent: n.parent.map(|p| self.name(p).to_owned()),
            creation_time: self.file.as_ref().and_then(|f| f.snapshots.get(&n.uuid)).map_or(0, |s| s.time),
            ..SnapshotDef::default()
        }
    }

    /// A [`SnapshotTree`] keyed by UUID string (names may repeat in
    /// VirtualBox), in VirtualBox's pre-order, for the LIST filters.
    fn tree(&self) -> Result<SnapshotTree> {
        let mut t = SnapshotTree::new();
        for (i, n) in self.listing.nodes.iter().enumerate() {
            let mut d = SnapshotDef {
                name: Some(n.uuid.to_string()),
                parent: n.parent.map(|p| self.uuid(p).to_string()),
                state: Some(if self.online(i) { SnapshotState::Running } else { SnapshotState::Shutoff }),
                ..SnapshotDef::default()
            };
            d.set_uuid(n.uuid);
            t.insert(d, false)?;
        }
        Ok(t)
    }

    fn name_of_key(&self, key: &str, handles: bool) -> String {
        match Uuid::parse(key).and_then(|u| self.listing.find_uuid(&u)) {
            Some(i) if handles => self.handle_name(i),
            Some(i) => self.name(i).to_owned(),
            None => key.to_owned(),
        }
    }
}

fn list_func(children: bool, kind: ListKind) -> &'static str {
    match (children, kind) {
        (false, ListKind::Num) => "vboxDomainSnapshotNum",
        (false, ListKind::Names) => "vboxDomainSnapshotListNames",
        (false, ListKind::All) => "vboxDomainListAllSnapshots",
        (true, ListKind::Num) => "vboxDomainSnapshotNumChildren",
        (true, ListKind::Names) => "vboxDomainSnapshotListChildrenNames",
        (true, ListKind::All) => "vboxDomainSnapshotListAllChildren",
    }
}

/// Domain-level (`of == None`) or children listing.
pub fn list(drv: &VboxDriver, dom: &DomainRef, of: Option<&str>, flags: u32, kind: ListKind) -> Result<Vec<String>> {
    check_flags(flags, list::ALL, V, list_func(of.is_some(), kind))?;
    let needs_state = flags & (list::INACTIVE | list::ACTIVE | list::DISK_ONLY) != 0;
    let v = View::load(drv, dom, needs_state)?;
    let t = v.tree()?;
    let keys = match of {
        None => t.list(flags),
        Some(name) => {
            let i = v.index(name)?;
            t.list_children(&v.uuid(i).to_string(), flags)?
        }
    };
    // Names for the name lists; unambiguous handle names for handle lists.
    let handles = kind == ListKind::All;
    Ok(keys.iter().map(|k| v.name_of_key(k, handles)).collect())
}

/// Handle names of every node ([`View::handle_name`] in one pass).
fn handle_names(v: &View) -> Vec<String> {
    let mut first: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, n) in v.listing.nodes.iter().enumerate() {
        first.entry(n.name.as_str()).or_insert(i);
    }
    (0..v.listing.nodes.len())
        .map(|i| if first.get(v.name(i)) == Some(&i) { v.name(i).to_owned() } else { v.uuid(i).to_string() })
        .collect()
}

/// The listing entry of node `i` (VirtualBox keeps no libvirt metadata;
/// memory is internal when the snapshot has a saved state).
fn entry_of(v: &View, handles: &[String], i: usize) -> crate::model::SnapshotEntry {
    let n = &v.listing.nodes[i];
    let mut def = v.def(i);
    def.parent = n.parent.map(|p| handles[p].clone());
    crate::model::SnapshotEntry::from_def(&handles[i], &def, n.children.len(), v.listing.current == Some(i), false, Some(n.uuid))
}

/// [`crate::drivers::Driver::snapshot_tree_entries`]: one `snapshot list`
/// and the `.vbox` file. Since 0.1.0.
pub fn entries(drv: &VboxDriver, dom: &DomainRef, of: Option<&str>, flags: u32) -> Result<Vec<crate::model::SnapshotEntry>> {
    check_flags(flags, list::ALL, V, list_func(of.is_some(), ListKind::All))?;
    let v = View::load(drv, dom, true)?;
    let t = v.tree()?;
    let keys = match of {
        None => t.list(flags),
        Some(name) => {
            let i = v.index(name)?;
            t.list_children(&v.uuid(i).to_string(), flags)?
        }
    };
    let by_uuid: std::collections::HashMap<Uuid, usize> = v.listing.nodes.iter().enumerate().map(|(i, n)| (n.uuid, i)).collect();
    let handles = handle_names(&v);
    Ok(keys.iter().filter_map(|k| Uuid::parse(k).and_then(|u| by_uuid.get(&u).copied())).map(|i| entry_of(&v, &handles, i)).collect())
}

/// [`crate::drivers::Driver::snapshot_entry`]. Since 0.1.0.
pub fn entry(drv: &VboxDriver, dom: &DomainRef, name: &str) -> Result<crate::model::SnapshotEntry> {
    let v = View::load(drv, dom, false)?;
    v.index(name)?;
    let v = v.with_file(drv, dom);
    let i = v.index(name)?;
    Ok(entry_of(&v, &handle_names(&v), i))
}

/// `virDomainSnapshotGetXMLDesc`.
pub fn xml_desc(drv: &VboxDriver, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
    check_flags(flags, xmlf::SECURE, V, "vboxDomainSnapshotGetXMLDesc")?;
    let v = View::load(drv, dom, false)?;
    v.index(name)?;
    let v = v.with_file(drv, dom);
    let i = v.index(name)?;
    let uuid = dom.uuid.to_string();
    Ok(format_snapshot(&v.def(i), Some(&uuid), FormatFlags::default()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `virDomainSnapshotCreateXML`: `VBoxManage snapshot VM take` (live with
/// `CREATE_LIVE`; VirtualBox refuses live on a machine that is not running).
pub fn create(drv: &VboxDriver, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
    check_flags(
        flags,
        create::REDEFINE | create::CURRENT | create::HALT | create::LIVE | create::ATOMIC | create::VALIDATE,
        V,
        "vboxDomainSnapshotCreateXML",
    )?;
    if flags & create::REDEFINE != 0 {
        return super::redefine::redefine(drv, dom, xml, flags);
    }
    let def = parse_snapshot(xml, ParseFlags::default())?;
    if def.is_external() {
        return Err(Error::new(
            ErrorCode::ConfigUnsupported,
            V,
            "VirtualBox takes internal snapshots only (external memory or disks requested)",
        ));
    }
    if let Some(u) = &def.domain_uuid {
        if Uuid::parse(u) != Some(dom.uuid) {
            return Err(Error::invalid_arg(
                ErrorDomain::DomainSnapshot,
                format!("definition for snapshot {} must use uuid {}", def.name.as_deref().unwrap_or(""), dom.uuid),
            ));
        }
    }
    let name = def.name.clone().unwrap_or_else(|| now().to_string());
    validate_snapshot_name(&name)?;
    // No uniqueness check: VirtualBox allows duplicate names, and lookup by
    // name then finds the first in depth-first order (as VirtualBox does).
    // A namesake may exist: the new snapshot's handle then carries its UUID
    // (see View::handle_name).
    let namesake = View::load(drv, dom, false)?.listing.find_name(&name).is_some();
    let vm = dom.uuid.to_string();
    // A leading '-' would be read as an option: take under a placeholder
    // name and rename by UUID.
    let placeholder = name.starts_with('-');
    let take_name = if placeholder { format!("virsnap-{}", Uuid::generate()) } else { name.clone() };
    let mut a = args(&["snapshot", &vm, "take", &take_name]);
    if let Some(d) = def.description.as_deref().filter(|d| !d.is_empty()) {
        a.push(format!("--description={d}"));
    }
    if flags & create::LIVE != 0 {
        a.push("--live".to_owned());
    }
    // Take and rename are two calls: journalled, so that a crash between
    // them is finished (renamed) at the next open.
    let intent = if placeholder { Some(Intent::begin(&dom.uuid, &Plan::Rename(take_name.clone(), name.clone()))?) } else { None };
    crash_point("vbox-create-before-take");
    let out = drv.run_op(&a, Ctx::Domain(dom), "snapshot-create")?;
    crash_point("vbox-create-after-take");
    let id = parse_taken(&out.stdout);
    if let Some(intent) = intent {
        // The UUID VBoxManage printed, else the snapshot under the placeholder name.
        let target = match id {
            Some(u) => Some(u),
            None => {
                let v = View::load(drv, dom, false)?;
                v.listing.find_name(&take_name).map(|i| v.uuid(i))
            }
        };
        let target = target.ok_or_else(|| Error::internal(V, "VBoxManage did not print the new snapshot's UUID"))?;
        drv.run_ok(&args(&["snapshot", &vm, "edit", &target.to_string(), &format!("--name={name}")]), Ctx::Snapshot(dom, &name))?;
        crash_point("vbox-create-after-rename");
        intent.end();
    }
    if flags & create::HALT != 0 && drv.is_active(dom)? {
        drv.controlvm(dom, "poweroff")?;
    }
    Ok(match id {
        Some(u) if namesake => u.to_string(),
        _ => name,
    })
}

/// `virDomainRevertToSnapshot`: `snapshot VM restore UUID`, then start
/// (`REVERT_RUNNING`) or start and pause (`REVERT_PAUSED`).
pub fn revert(drv: &VboxDriver, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
    check_flags(flags, revert::RUNNING | revert::PAUSED | revert::FORCE, V, "vboxDomainRevertToSnapshot")?;
    let v = View::load(drv, dom, false)?;
    let i = v.index(name)?;
    if drv.is_active(dom)? {
        return Err(Error::op_invalid(V, "cannot revert snapshot of running domain"));
    }
    let vm = dom.uuid.to_string();
    crash_point("vbox-revert-before-restore");
    drv.run_op(&args(&["snapshot", &vm, "restore", &v.uuid(i).to_string()]), Ctx::Snapshot(dom, name), "snapshot-revert")?;
    crash_point("vbox-revert-after-restore");
    if flags & (revert::RUNNING | revert::PAUSED) != 0 {
        drv.start(dom)?;
        if flags & revert::PAUSED != 0 {
            drv.controlvm(dom, "pause")?;
        }
    }
    Ok(())
}

fn delete_one(drv: &VboxDriver, dom: &DomainRef, name: &str, uuid: Uuid) -> Result<()> {
    let vm = dom.uuid.to_string();
    crash_point("vbox-delete-before-one");
    drv.run_op(&args(&["snapshot", &vm, "delete", &uuid.to_string()]), Ctx::Snapshot(dom, name), "snapshot-delete")?;
    crash_point("vbox-delete-after-one");
    Ok(())
}

/// `virDomainSnapshotDelete`. VirtualBox deletes one snapshot at a time and
/// refuses one with more than one child, so `CHILDREN` / `CHILDREN_ONLY`
/// delete leaf-first (reverse pre-order), one UUID at a time.
pub fn delete(drv: &VboxDriver, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
    check_flags(flags, delete::CHILDREN | delete::CHILDREN_ONLY, V, "vboxDomainSnapshotDelete")?;
    let v = View::load(drv, dom, false)?;
    let i = v.index(name)?;
    if flags & (delete::CHILDREN | delete::CHILDREN_ONLY) == 0 {
        return delete_one(drv, dom, name, v.uuid(i));
    }
    let mut doomed = v.listing.descendants(i);
    doomed.reverse();
    if flags & delete::CHILDREN != 0 {
        doomed.push(i);
    }
    if doomed.is_empty() {
        return Ok(());
    }
    // One call per snapshot: journalled, so that a crash part way is
    // finished (the rest deleted) at the next open.
    let intent = Intent::begin(&dom.uuid, &Plan::Delete(doomed.iter().map(|&d| v.uuid(d)).collect()))?;
    for d in doomed {
        delete_one(drv, dom, v.name(d), v.uuid(d))?;
    }
    intent.end();
    Ok(())
}

/// A prune's deletions (virsnap 0.2): each of `names` with VirtualBox's
/// default delete, in the given order, under one intent journal, so that a
/// process killed part way has the rest deleted at the next open (as
/// `CHILDREN`). Refuses the current snapshot and an unknown name before
/// deleting anything.
pub fn delete_set(drv: &VboxDriver, dom: &DomainRef, names: &[String]) -> Result<()> {
    let v = View::load(drv, dom, false)?;
    let mut doomed: Vec<usize> = Vec::new();
    for n in names {
        let i = v.index(n)?;
        if v.listing.current == Some(i) {
            return Err(Error::op_invalid(V, format!("snapshot '{n}' is the current snapshot; it is never pruned")));
        }
        if !doomed.contains(&i) {
            doomed.push(i);
        }
    }
    if doomed.is_empty() {
        return Ok(());
    }
    let intent = Intent::begin(&dom.uuid, &Plan::Delete(doomed.iter().map(|&d| v.uuid(d)).collect()))?;
    for d in doomed {
        delete_one(drv, dom, v.name(d), v.uuid(d))?;
    }
    intent.end();
    Ok(())
}

/// virsnap's rename: `snapshot VM edit UUID --name=NEW`.
pub fn rename(drv: &VboxDriver, dom: &DomainRef, name: &str, new_name: &str, flags: u32) -> Result<()> {
    check_flags(flags, 0, V, "vboxDomainSnapshotRename")?;
    let v = View::load(drv, dom, false)?;
    let i = v.index(name)?;
    if name == new_name {
        return Ok(());
    }
    if v.listing.find_name(new_name).is_some() {
        return Err(Error::op_invalid(V, format!("snapshot '{new_name}' already exists")));
    }
    let vm = dom.uuid.to_string();
    crash_point("vbox-rename-before-edit");
    drv.run_ok(&args(&["snapshot", &vm, "edit", &v.uuid(i).to_string(), &format!("--name={new_name}")]), Ctx::Snapshot(dom, name))?;
    crash_point("vbox-rename-after-edit");
    Ok(())
}

//! The snapshot API over vSphere: every read is one property read of the
//! VM's `snapshot` (tree + current); every mutation is one task and its
//! wait, after that read.

use super::soap::{el, MoRef};
use super::tree::Tree;
use super::vm::Power;
use super::{EsxDriver, ESX};
use crate::drivers::{check_flags, DomainRef, ListKind};
use crate::error::{Error, ErrorCode, Result};
use crate::flags::{create, delete, list, revert};
use crate::model::{Location, SnapshotDef};
use crate::names::validate_snapshot_name;
use crate::uuid::Uuid;
use crate::xml::{format_snapshot, parse_snapshot, FormatFlags, ParseFlags};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn list_func(kind: ListKind, children: bool) -> &'static str {
    match (kind, children) {
        (ListKind::Num, false) => "esxDomainSnapshotNum",
        (ListKind::Names, false) => "esxDomainSnapshotListNames",
        (ListKind::All, false) => "esxDomainListAllSnapshots",
        (ListKind::Num, true) => "esxDomainSnapshotNumChildren",
        (ListKind::Names, true) => "esxDomainSnapshotListChildrenNames",
        (ListKind::All, true) => "esxDomainSnapshotListAllChildren",
    }
}

impl EsxDriver {
    /// The VM's snapshot tree (one property read), plus its power state.
    pub(super) fn read_tree_power(&self, dom: &DomainRef) -> Result<(MoRef, Tree, Power)> {
        let oc = self.read_vm(dom, &["snapshot", "runtime.powerState"])?;
        let m = self.vm_ref(dom)?;
        let power = Power::parse(oc.text("runtime.powerState").unwrap_or_default());
        Ok((m, Tree::from_info(oc.prop("snapshot")), power))
    }

    /// The VM's snapshot tree (one property read).
    pub(super) fn read_tree(&self, dom: &DomainRef) -> Result<Tree> {
        let oc = self.read_vm(dom, &["snapshot"])?;
        Ok(Tree::from_info(oc.prop("snapshot")))
    }

    /// The first snapshot named `name`, as libvirt's ESX driver finds it.
    pub(super) fn find(&self, t: &Tree, name: &str) -> Result<usize> {
        t.find(name).ok_or_else(|| {
            Error::new(ErrorCode::NoDomainSnapshot, ESX, format!("Could not find snapshot with name '{name}'"))
        })
    }

    pub(super) fn snap_create(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        check_flags(
            flags,
            create::DISK_ONLY | create::QUIESCE | create::NO_METADATA | create::VALIDATE,
            ESX,
            "esxDomainSnapshotCreateXML",
        )?;
        let def = parse_snapshot(xml, ParseFlags::default())?;
        if !def.disks.is_empty() {
            return Err(Error::config_unsupported(ESX, "disk snapshots not supported yet"));
        }
        if let Some(u) = &def.domain_uuid {
            if Uuid::parse(u) != Some(dom.uuid) {
                return Err(Error::invalid_arg(
                    crate::error::ErrorDomain::DomainSnapshot,
                    format!("definition for snapshot {} must use uuid {}", def.name.as_deref().unwrap_or(""), dom.uuid),
                ));
            }
        }
        let name = def.name.clone().unwrap_or_else(|| now().to_string());
        validate_snapshot_name(&name)?;
        let (m, tree, power) = self.read_tree_power(dom)?;
        if tree.find(&name).is_some() {
            return Err(Error::op_invalid(ESX, format!("Snapshot '{name}' already exists")));
        }
        let memory = flags & create::DISK_ONLY == 0 && power == Power::On && def.memory != Location::No;
        let mut body = m.this();
        body.push_str(&el("name", &name));
        if let Some(d) = &def.description {
            body.push_str(&el("description", d));
        }
        body.push_str(&el("memory", if memory { "true" } else { "false" }));
        body.push_str(&el("quiesce", if flags & create::QUIESCE != 0 { "true" } else { "false" }));
        match self.run_task("CreateSnapshot_Task", &body, "snapshot-create")? {
            Ok(_) => Ok(name),
            Err(f) => Err(Error::internal(ESX, format!("Could not create snapshot: {}", f.describe()))),
        }
    }

    /// The listing entry of node `i` (ESX keeps no libvirt metadata; every
    /// snapshot is internal, with memory when the VM was powered on).
    fn entry_of(t: &Tree, dom: &DomainRef, i: usize) -> crate::model::SnapshotEntry {
        let s = &t.nodes[i];
        let def = SnapshotDef {
            name: Some(s.name.clone()),
            description: Some(s.description.clone()).filter(|d| !d.is_empty()),
            state: Some(s.state()),
            parent: s.parent.map(|p| t.nodes[p].name.clone()),
            creation_time: s.create_time,
            ..SnapshotDef::default()
        };
        let current = t.current_index() == Some(i);
        crate::model::SnapshotEntry::from_def(&s.name, &def, s.children.len(), current, false, Some(t.uuid_of(&dom.uuid, i)))
    }

    /// [`crate::drivers::Driver::snapshot_tree_entries`]: one property read. Since 0.1.0.
    pub(super) fn snap_entries(&self, dom: &DomainRef, of: Option<&str>, flags: u32) -> Result<Vec<crate::model::SnapshotEntry>> {
        check_flags(flags, list::ALL, ESX, list_func(ListKind::All, of.is_some()))?;
        let t = self.read_tree(dom)?;
        let of = of.map(|n| self.find(&t, n)).transpose()?;
        Ok(t.indices(of, flags).into_iter().map(|i| Self::entry_of(&t, dom, i)).collect())
    }

    /// [`crate::drivers::Driver::snapshot_entry`]: one property read. Since 0.1.0.
    pub(super) fn snap_entry(&self, dom: &DomainRef, name: &str) -> Result<crate::model::SnapshotEntry> {
        let t = self.read_tree(dom)?;
        let i = self.find(&t, name)?;
        Ok(Self::entry_of(&t, dom, i))
    }

    pub(super) fn snap_xml(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        check_flags(flags, 0, ESX, "esxDomainSnapshotGetXMLDesc")?;
        let t = self.read_tree(dom)?;
        let i = self.find(&t, name)?;
        let s = &t.nodes[i];
        let def = SnapshotDef {
            name: Some(s.name.clone()),
            description: Some(s.description.clone()).filter(|d| !d.is_empty()),
            state: Some(s.state()),
            parent: s.parent.map(|p| t.nodes[p].name.clone()),
            creation_time: s.create_time,
            ..SnapshotDef::default()
        };
        Ok(format_snapshot(&def, Some(&dom.uuid.to_string()), FormatFlags::default()))
    }

    pub(super) fn snap_list(&self, dom: &DomainRef, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        check_flags(flags, list::ALL, ESX, list_func(kind, false))?;
        Ok(self.read_tree(dom)?.list(flags))
    }

    pub(super) fn snap_list_children(&self, dom: &DomainRef, name: &str, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        check_flags(flags, list::ALL, ESX, list_func(kind, true))?;
        let t = self.read_tree(dom)?;
        let i = self.find(&t, name)?;
        Ok(t.list_children(i, flags))
    }

    pub(super) fn snap_revert(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        check_flags(flags, revert::RUNNING | revert::PAUSED | revert::FORCE, ESX, "esxDomainRevertToSnapshot")?;
        let (m, t, before) = self.read_tree_power(dom)?;
        let i = self.find(&t, name)?;
        let paused = flags & revert::PAUSED != 0;
        let suppress = if paused { "<suppressPowerOn>true</suppressPowerOn>" } else { "" };
        let (method, body) = if t.current_index() == Some(i) {
            ("RevertToCurrentSnapshot_Task", format!("{}{suppress}", m.this()))
        } else {
            ("RevertToSnapshot_Task", format!("{}{suppress}", t.nodes[i].moref.this()))
        };
        if let Err(f) = self.run_task(method, &body, "snapshot-revert")? {
            return Err(Error::internal(ESX, format!("Could not revert to snapshot '{name}': {}", f.describe())));
        }
        // The state the guest must end in: the flags', else the snapshot's
        // (real ESX applies it itself; vcsim leaves the power state alone).
        let want = if flags & revert::RUNNING != 0 {
            Power::On
        } else if paused {
            Power::Suspended
        } else {
            match t.nodes[i].power {
                Power::Unknown => return Ok(()),
                p if p == before => return Ok(()),
                p => p,
            }
        };
        let now = self.power(dom)?;
        self.bring_to(dom, &m, now, want)
    }

    /// Powers the guest from `now` to `want` with the fewest tasks.
    fn bring_to(&self, dom: &DomainRef, m: &MoRef, mut now: Power, want: Power) -> Result<()> {
        if now == want {
            return Ok(());
        }
        if want == Power::Off {
            return self.power_task(dom, "PowerOffVM_Task", "Domain is not powered on");
        }
        if now != Power::On {
            self.power_task(dom, "PowerOnVM_Task", "Domain is not powered off")?;
            now = Power::On;
        }
        if want == Power::Suspended && now == Power::On {
            if let Err(f) = self.run_task("SuspendVM_Task", &m.this(), "snapshot-revert")? {
                return Err(Error::internal(ESX, format!("Could not pause after revert: {}", f.describe())));
            }
        }
        Ok(())
    }

    pub(super) fn snap_delete(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        check_flags(
            flags,
            delete::CHILDREN | delete::CHILDREN_ONLY | delete::METADATA_ONLY,
            ESX,
            "esxDomainSnapshotDelete",
        )?;
        let t = self.read_tree(dom)?;
        let i = self.find(&t, name)?;
        if flags & delete::METADATA_ONLY != 0 {
            // ESX keeps no libvirt metadata: nothing to remove.
            return Ok(());
        }
        let targets: Vec<&MoRef> = if flags & delete::CHILDREN_ONLY != 0 {
            t.nodes[i].children.iter().map(|&c| &t.nodes[c].moref).collect()
        } else {
            vec![&t.nodes[i].moref]
        };
        let children = flags & (delete::CHILDREN | delete::CHILDREN_ONLY) != 0;
        for target in targets {
            let body = format!("{}{}", target.this(), el("removeChildren", if children { "true" } else { "false" }));
            if let Err(f) = self.run_task("RemoveSnapshot_Task", &body, "snapshot-delete")? {
                return Err(Error::internal(ESX, format!("Could not delete snapshot '{name}': {}", f.describe())));
            }
        }
        Ok(())
    }

    /// A prune's deletions (default delete of each of `names`, in order)
    /// under one intent journal (see `journal`): the targets are recorded
    /// before the first deletion, so a process killed between two leaves
    /// the rest to the next open. Since 0.2.
    pub(super) fn snap_delete_set(&self, dom: &DomainRef, names: &[String]) -> Result<()> {
        let t = self.read_tree(dom)?;
        let mut targets = Vec::with_capacity(names.len());
        for n in names {
            let i = self.find(&t, n)?;
            targets.push(t.nodes[i].moref.clone());
        }
        if targets.is_empty() {
            return Ok(());
        }
        let intent = super::journal::Intent::begin(&self.server_id(), &dom.uuid, &targets)?;
        let deleted = targets.iter().zip(names).try_for_each(|(target, name)| {
            let body = format!("{}{}", target.this(), el("removeChildren", "false"));
            if let Err(f) = self.run_task("RemoveSnapshot_Task", &body, "snapshot-delete")? {
                return Err(Error::internal(ESX, format!("Could not delete snapshot '{name}': {}", f.describe())));
            }
            crate::store::crash_point("esx-prune-delete");
            Ok(())
        });
        match deleted {
            Ok(()) => intent.done(),
            // The failure is the caller's answer; the journal must not finish it later.
            Err(e) => {
                if let Err(r) = intent.done() {
                    eprintln!("virsnap: {}", r.message);
                }
                Err(e)
            }
        }
    }

    pub(super) fn snap_delete_all(&self, dom: &DomainRef, flags: u32) -> Result<usize> {
        check_flags(flags, 0, ESX, "esxDomainSnapshotDeleteAll")?;
        let m = self.vm_ref(dom)?;
        let t = self.read_tree(dom)?;
        match self.run_task("RemoveAllSnapshots_Task", &m.this(), "snapshot-delete-all")? {
            Ok(_) => Ok(t.len()),
            Err(f) => Err(Error::internal(ESX, format!("Could not delete all snapshots: {}", f.describe()))),
        }
    }

    pub(super) fn snap_rename(&self, dom: &DomainRef, name: &str, new_name: &str, flags: u32) -> Result<()> {
        check_flags(flags, 0, ESX, "esxDomainSnapshotRename")?;
        let t = self.read_tree(dom)?;
        let i = self.find(&t, name)?;
        if name == new_name {
            return Ok(());
        }
        if t.find(new_name).is_some() {
            return Err(Error::op_invalid(ESX, format!("Snapshot '{new_name}' already exists")));
        }
        let body = format!("{}{}", t.nodes[i].moref.this(), el("name", new_name));
        match self.session.call("RenameSnapshot", &body) {
            Ok(_) => Ok(()),
            Err(e) if e.code == ErrorCode::NoSupport => Err(Error::new(
                ErrorCode::NoSupport,
                ESX,
                format!("virDomainSnapshotRename: the server lacks {}", e.str2.as_deref().unwrap_or("RenameSnapshot")),
            )),
            Err(e) => Err(e),
        }
    }
}

impl EsxDriver {
    /// Verify on ESX (virsnap 0.2): vSphere keeps the only snapshot tree
    /// (virsnap records nothing beside it), so what can disagree is the
    /// server's own view: a current-snapshot reference outside the tree, a
    /// snapshot id used twice, a snapshot without a name. No repair is
    /// lossless here: vSphere moves the current snapshot only by reverting
    /// (which changes the guest), and deleting a snapshot merges its disks.
    pub(super) fn snap_verify(&self, dom: &DomainRef, repair: bool) -> Result<Vec<crate::health::Finding>> {
        use crate::health::{Finding, Repair};
        let t = self.read_tree(dom)?;
        let refuse = |f: Finding, why: &str| if repair { Finding { repair: Repair::Refused(why.to_owned()), ..f } } else { f };
        let mut out = Vec::new();
        if let Some(c) = &t.current {
            if t.current_index().is_none() {
                out.push(refuse(
                    Finding::new(&c.value, "vSphere's current snapshot reference names no snapshot of the tree"),
                    "vSphere sets the current snapshot only by a revert, which would change the guest",
                ));
            }
        }
        let mut seen = std::collections::HashMap::new();
        for (i, s) in t.nodes.iter().enumerate() {
            if s.name.is_empty() {
                out.push(refuse(Finding::new(&s.moref.value, "snapshot has no name"), "renaming is the user's call"));
            }
            if s.id >= 0 {
                if let Some(first) = seen.insert(s.id, i) {
                    out.push(refuse(
                        Finding::new(&s.name, format!("snapshot id {} is also used by '{}'", s.id, t.nodes[first].name)),
                        "which one is right only a person can tell",
                    ));
                }
            }
        }
        Ok(out)
    }
}

//! Snapshots on real QEMU: internal snapshots of a running or paused guest
//! through the QMP `snapshot-save`/`-load`/`-delete` jobs with progress (HMP
//! `savevm`/`loadvm`/`delvm` as fallback, [`super::jobs`]) and `qemu-img
//! snapshot` while it is off; external disk-only overlays (revert and delete
//! of those, with their semantics, in [`super::external`]); the metadata in
//! libvirt's internal format through [`crate::store`].
//!
//! Metadata writes: every change of an operation is one batch of the
//! store's per-domain journal ([`SnapshotStore::commit`]): one checksummed
//! record and a single `fdatasync`, then the `.xml` files are replaced
//! without syncing; a crash between the two is repaired by replaying the
//! journal at the next load. Create, revert, redefine and rename are one
//! durable batch; delete is a durable intent batch (the delete journal and
//! `deleting` marks) before the images are touched and an unsynced final
//! batch that the intent rolls forward if it is lost.
//!
//! Reconciliation on every load: a qcow2 snapshot tag without metadata shows
//! up as a snapshot with no metadata; metadata whose tag vanished is kept and
//! reported (revert refuses it with a clear error). A delete records its
//! intent (`<virsnap><deleting>1</deleting>`) before touching the images,
//! so a crash in the middle is rolled forward by the next load.
//!
//! The loaded tree is cached per process and reused while the metadata
//! directory and the disk images are unchanged (mtime/size stamps), so a
//! command on a domain with thousands of snapshots does not re-parse them.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use super::domxml::DomainDef;
use super::domjob::Io;
use super::jobs::VmOp;
use super::{img, index, process, QemuDriver, Status, DOM};
use crate::drivers::{check_flags, DomainRef};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::flags::{create, delete, revert};
use crate::model::{reason, DiskDef, DomainState, Location, SnapshotDef, SnapshotState};
use crate::names::validate_snapshot_name;
use crate::store::{crash_point, Change, SnapshotStore};
use crate::tree::SnapshotTree;
use crate::xml::{format_snapshot, parse_snapshot, Element, FormatFlags, ParseFlags};

type Stamp = String;

/// A loaded, reconciled tree.
#[derive(Debug, Clone, Default)]
pub(super) struct Loaded {
    pub tree: SnapshotTree,
    /// Metadata snapshots whose internal tag is missing from the images.
    pub missing: Vec<String>,
    stamp: Stamp,
}

/// What one snapshot-changing operation works on, read once at its start
/// under the domain's lock ([`QemuDriver::begin_op`]): the store, the
/// definition in effect, the persistent one (when asked for) and the tree.
/// Ownership: the operation's; dropping it releases the lock.
pub(super) struct Op {
    pub store: SnapshotStore,
    /// The domain's store lock; a caller that must hold it past the
    /// operation's body (until its job is finished) takes it out.
    pub lock: Option<crate::store::StoreLock>,
    /// The definition in effect (live while running, else persistent).
    pub def: DomainDef,
    /// The persistent definition (`None`: transient, or not asked for).
    pub persistent: Option<DomainDef>,
    pub loaded: Loaded,
}

/// What crash recovery leaves for reconciling ([`QemuDriver::roll_forward`]).
struct Rolled {
    /// The tag a create in progress hides (not adopted as a foreign snapshot).
    hidden: Option<String>,
    /// The first internal disk's snapshots as roll-forward read them.
    img_snaps: Option<Vec<img::ImgSnapshot>>,
    /// Roll-forward deleted some since: read them again.
    stale: bool,
}

/// Per-process cache of loaded trees, keyed by domain name.
#[derive(Debug, Default)]
pub(super) struct Cache(Mutex<HashMap<String, Loaded>>);

impl Cache {
    pub(super) fn forget(&self, name: &str) {
        if let Ok(mut g) = self.0.lock() {
            g.remove(name);
        }
    }
    /// Takes the cached tree out (mutations put it back with `recache`).
    fn take(&self, name: &str, stamp: &Stamp) -> Option<Loaded> {
        let mut g = self.0.lock().ok()?;
        if g.get(name).is_some_and(|l| &l.stamp == stamp) { g.remove(name) } else { None }
    }
    fn put(&self, name: &str, l: Loaded) {
        if let Ok(mut g) = self.0.lock() {
            g.insert(name.to_owned(), l);
        }
    }
    /// Runs `f` on the cached tree when it is fresh; `None` on a miss.
    fn with<T>(&self, name: &str, stamp: &Stamp, f: impl FnOnce(&SnapshotTree) -> T) -> Option<T> {
        let g = self.0.lock().ok()?;
        let l = g.get(name).filter(|l| &l.stamp == stamp)?;
        Some(f(&l.tree))
    }
}

/// Bumps the metadata generation (`.gen`): file mtimes are too coarse to
/// tell two quick changes from different processes apart.
fn bump_gen(store: &SnapshotStore) {
    let p = store.dir().join(".gen");
    let n: u64 = super::read_small(&p).and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    // No fsync; a lost or stale value only misses the caches (the stamp
    // also holds the directory's mtime, which every change moves).
    let _ = crate::fsio::replace(&p, format!("{:020}\n", n + 1).as_bytes(), crate::fsio::Durability::Rebuildable);
}

/// Journal of a delete in progress: `full` or `metadata-only`, then the
/// names, one a line. Written (atomically) before the first change and
/// removed after the last, so a crash anywhere in between is rolled forward
/// as a whole on the next load, never left half done.
const DELETE_JOURNAL: &str = ".delete-journal";
/// Journal of a rename in progress: the old name, then the new one.
const RENAME_JOURNAL: &str = ".rename-journal";
/// Journal of a create in progress: the snapshot name, its qcow2 tag and
/// its [`CreateKind`]. Written with the `creating`-marked metadata before
/// the hypervisor step, removed with the final metadata.
const CREATE_JOURNAL: &str = ".create-journal";

/// What the hypervisor step of a create makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CreateKind {
    /// Internal qcow2 snapshots.
    Internal,
    /// New external overlays (removed again on undo).
    External,
    /// External overlays the caller provided (`REUSE_EXT`, never removed).
    ExternalReuse,
}

impl CreateKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::External => "external",
            Self::ExternalReuse => "external-reuse",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        [Self::Internal, Self::External, Self::ExternalReuse].into_iter().find(|k| k.as_str() == s)
    }
}

/// libvirt's error when a snapshot's metadata cannot be written
/// (`qemuSnapshotCreateWriteMetadata`); the cause goes to stderr.
fn unable_to_save(name: &str, cause: &Error) -> Error {
    eprintln!("virsnap: qemu: {}", cause.message);
    Error::internal(DOM, format!("unable to save metadata for snapshot {name}"))
}

/// The change writing journal `file` with `lines` (part of a store batch).
fn journal_change(file: &str, lines: &[&str]) -> Change {
    let mut text = lines.join("\n");
    text.push('\n');
    (file.to_owned(), Some(text.into_bytes()))
}

/// Reads operation journal `file` (`None` when there is none), checked:
/// a delete journal is `full` or `metadata-only` then snapshot names, a
/// rename journal two names; anything else is refused with
/// `VIR_ERR_INTERNAL_ERROR` before any of it is acted on.
fn read_journal(store: &SnapshotStore, file: &str) -> Result<Option<Vec<String>>> {
    let p = store.dir().join(file);
    let text = match crate::fsio::read_regular_string(&p, crate::store::MAX_METADATA_BYTES) {
        Ok(t) => t,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.to_error(DOM, &p)),
    };
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let names = match (file, lines.first().map(String::as_str)) {
        (DELETE_JOURNAL, Some("full" | "metadata-only")) => &lines[1..],
        (RENAME_JOURNAL, _) if lines.len() == 2 => &lines[..],
        (CREATE_JOURNAL, _) if lines.len() == 3 && CreateKind::parse(&lines[2]).is_some() => &lines[..2],
        _ => return Err(Error::internal(DOM, format!("journal '{}' is malformed; refusing to act on it", p.display()))),
    };
    if let Some(bad) = names.iter().find(|n| validate_snapshot_name(n).is_err()) {
        return Err(Error::internal(
            DOM,
            format!("journal '{}' names an invalid snapshot '{}'; refusing to act on it", p.display(), crate::names::printable(bad)),
        ));
    }
    Ok(Some(lines))
}

fn remove_journal(store: &SnapshotStore, file: &str) -> Result<()> {
    crash_point("qemu-before-journal-removal");
    if !store.dir().join(file).exists() {
        return Ok(());
    }
    store.commit(&[(file.to_owned(), None)], true)
}

fn mtime_ns(p: &std::path::Path) -> (u128, u64) {
    let m = fs::metadata(p).ok();
    let mt = m.as_ref().and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok());
    (mt.map_or(0, |d| d.as_nanos()), m.map_or(0, |m| m.len()))
}

/// What the cached/indexed tree depends on: metadata generation, metadata
/// directory mtime, each disk image's mtime and size.
fn stamp_of(store: &SnapshotStore, def: &DomainDef) -> Stamp {
    use std::fmt::Write as _;
    let generation: u64 = super::read_small(&store.dir().join(".gen")).and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    let (dm, _) = mtime_ns(store.dir());
    let mut s = format!("gen={generation} dir={dm}");
    for d in &def.disks {
        // A qcow2 disk's snapshot list changes only with its header's
        // snapshot count/table offset (the mtime changes with every guest
        // write, which would defeat the cache for a running guest).
        match img::qcow2_snapshot_header(&d.source) {
            Some((nb, off)) => {
                let dg = img::qcow2_snapshot_digest(&d.source).unwrap_or(0);
                let _ = write!(s, " {}={}:q{nb}:{off}:{dg:x}", d.target, d.source.display());
            }
            None => {
                let (m, l) = mtime_ns(&d.source);
                let _ = write!(s, " {}={}:{m}:{l}", d.target, d.source.display());
            }
        }
    }
    s
}

/// The qcow2 tag of a snapshot (recorded at create; the name before any rename).
pub(super) fn tag_of(def: &SnapshotDef) -> String {
    def.private_value("tag").unwrap_or_else(|| def.name.clone().unwrap_or_default())
}

/// Disks that carry internal snapshots: writable qcow2.
pub(super) fn internal_disks(def: &DomainDef) -> Vec<&super::domxml::Disk> {
    def.disks.iter().filter(|d| d.format == "qcow2" && !d.readonly && d.snapshot != Location::No).collect()
}

pub(super) fn has_internal(def: &SnapshotDef) -> bool {
    def.memory == Location::Internal || def.disks.iter().any(|d| d.snapshot == Location::Internal)
}

pub(super) fn hmp_quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Scans HMP output for errors, as libvirt does.
pub(super) fn hmp_check(cmd: &str, out: &str) -> Result<()> {
    let t = out.trim();
    let bad = ["Error", "error", "No block device", "does not support", "does not exist", "doesn't", "Could not", "not found", "Unknown", "Failed"];
    if bad.iter().any(|b| t.contains(b)) {
        return Err(Error::op_failed(DOM, format!("Failed to {cmd}: {t}")));
    }
    Ok(())
}

/// Removes the private metadata element `key` (`deleting`, `creating`).
fn clear_private(d: &mut SnapshotDef, key: &str) {
    if let Some(p) = d.private.as_mut() {
        p.children.retain(|n| !matches!(n, crate::xml::Node::Element(e) if e.name == key));
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}


impl QemuDriver {
    /// Loads (or reuses) the reconciled tree; the caller holds the lock.
    pub(super) fn load_tree(&self, name: &str, store: &SnapshotStore) -> Result<Loaded> {
        let def = self.def(name)?;
        self.load_tree_for(name, store, &def)
    }

    /// Starts a snapshot-changing operation on domain `name`: takes its
    /// lock, reads and parses its definition(s) once (the persistent one
    /// too with `with_persistent`) and loads its tree once. Since 0.2.
    pub(super) fn begin_op(&self, name: &str, with_persistent: bool) -> Result<Op> {
        let (store, lock) = self.lock(name)?;
        let (def, persistent) = if with_persistent { self.defs(name)? } else { (self.def(name)?, None) };
        let loaded = self.load_tree_for(name, &store, &def)?;
        Ok(Op { store, lock: Some(lock), def, persistent, loaded })
    }

    /// [`Self::load_tree`] with the definition in effect already read by the
    /// operation (one parse of the domain XML per operation).
    pub(super) fn load_tree_for(&self, name: &str, store: &SnapshotStore, def: &DomainDef) -> Result<Loaded> {
        if store.replay()? {
            bump_gen(store);
        }
        let stamp = stamp_of(store, def);
        let mut loaded = match self.cached_tree(name, store, &stamp) {
            Some(l) => l,
            None => {
                let (mut tree, problems) = store.load_all()?;
                let rolled = self.roll_forward(name, store, def, &mut tree, &problems)?;
                let missing = self.reconcile(name, def, &mut tree, rolled);
                // Re-stamp: roll-forward may have changed files.
                let loaded = Loaded { tree, missing, stamp: stamp_of(store, def) };
                index::write(&self.index_path(name), &loaded.stamp, &loaded.tree, &loaded.missing);
                loaded
            }
        };
        // The tree's lookups report "not found" as this driver does.
        loaded.tree.set_not_found_domain(DOM);
        Ok(loaded)
    }

    /// Job 1 of loading a tree: the tree this process or the on-disk index
    /// holds for `stamp`, unless a crash left a journal to finish.
    fn cached_tree(&self, name: &str, store: &SnapshotStore, stamp: &Stamp) -> Option<Loaded> {
        let pending = [DELETE_JOURNAL, RENAME_JOURNAL, CREATE_JOURNAL].iter().any(|j| store.dir().join(j).exists());
        if pending {
            return None;
        }
        if let Some(l) = self.cache.take(name, stamp) {
            return Some(l);
        }
        index::read(&self.index_path(name), stamp).map(|(tree, missing)| Loaded { tree, missing, stamp: stamp.clone() })
    }

    /// Job 2 of loading a tree: crash recovery. Finishes a rename, create
    /// or delete a crash interrupted (their journals ride on the store's),
    /// after reporting the problems `load_all` found. Returns what
    /// reconciling needs: the tag a create in progress hides, and the image
    /// snapshots if they were read and nothing rolled forward since.
    fn roll_forward(
        &self,
        name: &str,
        store: &SnapshotStore,
        def: &DomainDef,
        tree: &mut SnapshotTree,
        problems: &[impl std::fmt::Display],
    ) -> Result<Rolled> {
        // Finish a rename interrupted by a crash once the new name's metadata
        // is durable (else it never happened): children point at the new
        // name, the current marker moves to it, the old file goes.
        if let Some(j) = read_journal(store, RENAME_JOURNAL)? {
            if let [old, new] = j.as_slice() {
                if tree.contains(old) && tree.contains(new) {
                    let uuid = def.uuid.to_string();
                    let mut ch = Vec::new();
                    for c in tree.children(old) {
                        if let Some(mut d) = tree.get(&c).cloned() {
                            d.parent = Some(new.clone());
                            ch.push(store.change_for(&d, &uuid, tree.current() == Some(c.as_str()))?);
                        }
                    }
                    if tree.current() == Some(old.as_str()) {
                        if let Some(mut d) = tree.get(new).cloned() {
                            d.parent = tree.parent(old).map(str::to_owned);
                            ch.push(store.change_for(&d, &uuid, true)?);
                        }
                    }
                    ch.push(store.removal_for(old)?);
                    store.commit(&ch, true)?;
                    bump_gen(store);
                    *tree = store.load_all()?.0;
                }
            }
            remove_journal(store, RENAME_JOURNAL)?;
        }
        let hidden = self.resolve_create(name, store, def, tree)?;
        let journal = read_journal(store, DELETE_JOURNAL)?;
        for p in problems {
            eprintln!("virsnap: qemu: snapshot metadata of '{name}': {p}");
        }
        let idisks = internal_disks(def);
        if let Some(first) = idisks.first() {
            let img_snaps = img::snapshots(&first.source).unwrap_or_default();
            let tags: std::collections::HashSet<&str> = img_snaps.iter().map(|s| s.tag.as_str()).collect();
            // Roll forward deletes interrupted by a crash: every name of the
            // delete journal and every file marked `deleting`.
            let metadata_only = journal.as_ref().and_then(|j| j.first()).is_some_and(|m| m == "metadata-only");
            let journaled: Vec<String> = journal.iter().flat_map(|j| j.iter().skip(1)).filter(|n| tree.contains(n)).cloned().collect();
            let mut doomed: Vec<String> =
                tree.names().into_iter().filter(|n| tree.get(n).and_then(|d| d.private_value("deleting")).as_deref() == Some("1")).collect();
            for n in journaled {
                if !doomed.contains(&n) {
                    doomed.push(n);
                }
            }
            let rolled = !doomed.is_empty();
            if !metadata_only && doomed.iter().any(|n| tree.get(n).is_some_and(SnapshotDef::is_external)) {
                // Finish the image part of an external delete (idempotent:
                // it only commits/removes what the doomed still hold).
                if let Err(e) = self.delete_external(name, store, tree, &doomed) {
                    eprintln!("virsnap: qemu: finishing the interrupted delete of '{name}': {}", e.message);
                }
            }
            for n in doomed {
                let Some(d) = tree.get(&n).cloned() else { continue };
                let tag = tag_of(&d);
                if !metadata_only && has_internal(&d) && !d.is_external() && tags.contains(tag.as_str()) {
                    if let Err(e) = self.delete_tag_everywhere(name, def, &tag) {
                        // The image part cannot be finished: the snapshot
                        // stays, with its metadata, as the delete never was.
                        eprintln!("virsnap: qemu: cannot finish the interrupted delete of snapshot '{n}' of '{name}', kept: {}", e.message);
                        let is_current = tree.current() == Some(n.as_str());
                        if let Some(d) = tree.get_mut(&n) {
                            clear_private(d, "deleting");
                            let ch = store.change_for(d, &def.uuid.to_string(), is_current)?;
                            store.commit(&[ch], true)?;
                            bump_gen(store);
                        }
                        continue;
                    }
                }
                if let Ok(r) = tree.remove(&n) {
                    // Children and the current marker first: a crash before
                    // the removal leaves a state this loop finishes.
                    let mut touched = r.reparented;
                    touched.extend(tree.current().map(str::to_owned));
                    let mut ch = Vec::new();
                    for t in &touched {
                        if let (Some(d), Some(true)) = (tree.get(t), tree.has_metadata(t)) {
                            ch.push(store.change_for(d, &def.uuid.to_string(), tree.current() == Some(t.as_str()))?);
                        }
                    }
                    ch.push(store.removal_for(&n)?);
                    store.commit(&ch, true)?;
                    bump_gen(store);
                }
            }
            if journal.is_some() {
                remove_journal(store, DELETE_JOURNAL)?;
            }
            return Ok(Rolled { hidden, img_snaps: Some(img_snaps), stale: rolled });
        }
        Ok(Rolled { hidden, img_snaps: None, stale: false })
    }

    /// Job 3 of loading a tree: reconciles the metadata with the images.
    /// Returns the snapshots whose internal tag is missing; adds image
    /// snapshots without metadata (taken by other tools) to `tree`.
    fn reconcile(&self, name: &str, def: &DomainDef, tree: &mut SnapshotTree, rolled: Rolled) -> Vec<String> {
        let Rolled { hidden, img_snaps, stale } = rolled;
        let mut missing = Vec::new();
        if let Some(first) = internal_disks(def).first() {
            let img_snaps = match img_snaps {
                Some(v) if stale => img::snapshots(&first.source).unwrap_or(v),
                Some(v) => v,
                None => img::snapshots(&first.source).unwrap_or_default(),
            };
            let tags: std::collections::HashSet<&str> = img_snaps.iter().map(|s| s.tag.as_str()).collect();
            let mut known = std::collections::HashSet::new();
            for n in tree.names() {
                let Some(d) = tree.get(&n) else { continue };
                let tag = tag_of(d);
                if has_internal(d) && !d.is_external() && !tags.contains(tag.as_str()) {
                    missing.push(n.clone());
                }
                known.insert(tag);
            }
            for s in &img_snaps {
                if known.contains(&s.tag) || tree.contains(&s.tag) || hidden.as_ref() == Some(&s.tag) || validate_snapshot_name(&s.tag).is_err() {
                    continue;
                }
                let online = s.vm_state_size > 0;
                let sd = SnapshotDef {
                    name: Some(s.tag.clone()),
                    state: Some(if online { SnapshotState::Running } else { SnapshotState::Shutoff }),
                    creation_time: s.date_sec,
                    memory: if online { Location::Internal } else { Location::No },
                    disks: def
                        .disks
                        .iter()
                        .map(|d| DiskDef {
                            name: d.target.clone(),
                            snapshot: if d.format == "qcow2" && !d.readonly { Location::Internal } else { Location::No },
                            ..DiskDef::default()
                        })
                        .collect(),
                    ..SnapshotDef::default()
                };
                let _ = tree.insert(sd, false);
            }
        }
        for m in &missing {
            eprintln!("virsnap: qemu: snapshot '{m}' of domain '{name}' has metadata but its qcow2 snapshot is missing");
        }
        missing
    }

    pub(super) fn with_tree<T>(&self, dom: &DomainRef, f: impl FnOnce(&SnapshotTree) -> Result<T>) -> Result<T> {
        let (store, _l) = self.lock(&dom.name)?;
        let def = self.def(&dom.name)?;
        if store.replay()? {
            bump_gen(&store);
        }
        let stamp = stamp_of(&store, &def);
        let mut f = Some(f);
        if let Some(r) = self.cache.with(&dom.name, &stamp, |t| f.take().map(|f| f(t))) {
            return r.unwrap_or_else(|| Err(Error::internal(DOM, "cache")));
        }
        let l = self.load_tree_for(&dom.name, &store, &def)?;
        let r = match f.take() {
            Some(f) => f(&l.tree),
            None => Err(Error::internal(DOM, "cache")),
        };
        self.cache.put(&dom.name, l);
        r
    }

    /// [`crate::drivers::Driver::snapshot_tree_entries`]: one read of the
    /// cached tree; with `full`, the description and external disk files
    /// of snapshots the index holds only lightly come from their metadata
    /// files (no hypervisor call either way). Since 0.1.0.
    pub(super) fn snap_entries(&self, dom: &DomainRef, of: Option<&str>, flags: u32, full: bool) -> Result<Vec<crate::model::SnapshotEntry>> {
        let (mut v, light) = self.with_tree(dom, |t| {
            if let Some(n) = of {
                if !t.contains(n) {
                    return Err(Error::no_snapshot(DOM, n));
                }
            }
            let v = t.entries(of, flags)?;
            let light: Vec<bool> = v.iter().map(|e| t.get(&e.name).is_some_and(|d| d.private_value(index::LIGHT).is_some())).collect();
            Ok((v, light))
        })?;
        if full && light.iter().any(|l| *l) {
            let (store, _l) = self.lock(&dom.name)?;
            for (e, _) in v.iter_mut().zip(light).filter(|(_, l)| *l) {
                match self.full_def(&store, &e.name) {
                    Ok(d) => {
                        let whole = crate::model::SnapshotEntry::from_def(&e.name, &d, 0, false, false, None);
                        e.description = whole.description;
                        e.disks = whole.disks;
                        e.memory = whole.memory;
                    }
                    // Deleted by another process since the tree was read.
                    Err(err) if err.code == ErrorCode::NoDomainSnapshot => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(v)
    }

    /// [`crate::drivers::Driver::snapshot_entry`] from the cached tree
    /// (and the metadata file with `full`). Since 0.1.0.
    pub(super) fn snap_entry(&self, dom: &DomainRef, name: &str, full: bool) -> Result<crate::model::SnapshotEntry> {
        let e = self.with_tree(dom, |t| t.entry(name).ok_or_else(|| Error::no_snapshot(DOM, name)))?;
        if !full {
            return Ok(e);
        }
        let (store, _l) = self.lock(&dom.name)?;
        let mut e = e;
        if let Ok(d) = self.full_def(&store, name) {
            let whole = crate::model::SnapshotEntry::from_def(name, &d, 0, false, false, None);
            e.description = whole.description;
            e.disks = whole.disks;
            e.memory = whole.memory;
        }
        Ok(e)
    }

    /// Puts the tree a mutation left behind into the cache (stamped after
    /// every file change), so the next call does not re-read the directory.
    pub(super) fn recache(&self, name: &str, store: &SnapshotStore, loaded: Loaded) {
        if let Ok(def) = self.def(name) {
            self.recache_for(name, store, loaded, &def);
        }
    }

    /// [`Self::recache`] when the operation did not change the definition
    /// in effect (`def`, read at its start).
    fn recache_for(&self, name: &str, store: &SnapshotStore, mut loaded: Loaded, def: &DomainDef) {
        loaded.stamp = stamp_of(store, def);
        index::write(&self.index_path(name), &loaded.stamp, &loaded.tree, &loaded.missing);
        self.cache.put(name, loaded);
    }

    pub(super) fn index_path(&self, name: &str) -> PathBuf {
        self.paths.snap.join(format!(".{name}.index"))
    }

    /// Reads the full definition of `name` from its metadata file.
    pub(super) fn full_def(&self, store: &SnapshotStore, name: &str) -> Result<SnapshotDef> {
        let p = store.path_for(name)?;
        // Gone since the (light) tree was read: another process deleted or
        // renamed it between our lock scopes.
        let text = crate::fsio::read_regular_string(&p, crate::store::MAX_METADATA_BYTES).map_err(|e| {
            if e.is_not_found() { Error::no_snapshot(DOM, name) } else { e.to_error(DOM, &p) }
        })?;
        parse_snapshot(&text, ParseFlags { redefine: true, internal: true })
    }

    /// Replaces light (index) definitions of `names` by their full ones.
    pub(super) fn hydrate(&self, store: &SnapshotStore, tree: &mut SnapshotTree, names: &[String]) -> Result<()> {
        for n in names {
            let light = tree.get(n).is_some_and(|d| d.private_value(index::LIGHT).is_some());
            if !light {
                continue;
            }
            let mut full = self.full_def(store, n)?;
            full.parent = tree.parent(n).map(str::to_owned);
            full.active = None;
            if let Some(d) = tree.get_mut(n) {
                *d = full;
            }
        }
        Ok(())
    }

    /// Deletes internal snapshot `tag` from every writable qcow2 disk of
    /// `domdef` that holds it: through QEMU while the guest runs, else
    /// `qemu-img snapshot -d`. A disk without the tag is fine (a delete
    /// finished earlier); any failure is returned as the hypervisor's error.
    pub(super) fn delete_tag_everywhere(&self, name: &str, domdef: &DomainDef, tag: &str) -> Result<()> {
        self.delete_tag_with(name, domdef, tag, &mut None)
    }

    /// [`Self::delete_tag_everywhere`] on the QMP connection `qmp` (opened
    /// on first use and kept), so that a pass deleting many snapshots of a
    /// running guest talks to QEMU over one connection.
    fn delete_tag_with(&self, name: &str, domdef: &DomainDef, tag: &str, qmp: &mut Option<super::qmp::Qmp>) -> Result<()> {
        let disks: Vec<PathBuf> = internal_disks(domdef).iter().map(|d| d.source.clone()).collect();
        let holding: Vec<&PathBuf> = disks.iter().filter(|p| img::snapshots(p).map_or(true, |v| v.iter().any(|s| s.tag == tag))).collect();
        if holding.is_empty() {
            return Ok(());
        }
        if self.pid(name).is_some() {
            let q = match qmp {
                Some(q) => q,
                None => qmp.insert(self.qmp(name)?),
            };
            return self.vm_snapshot(q, domdef, VmOp::Delete, tag, "snapshot-delete");
        }
        for p in holding {
            if let Err(e) = img::snapshot_delete(p, tag) {
                // Gone meanwhile (a qemu-img of a killed process finished
                // the same delete just before it died): done all the same.
                if img::snapshots(p).is_ok_and(|v| v.iter().all(|s| s.tag != tag)) {
                    continue;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// A delete whose hypervisor step failed: the snapshots in `gone`
    /// (whose images are already deleted) lose their metadata, the other
    /// `targets` keep theirs with the `deleting` intent cleared, and the
    /// delete journal goes, in one durable batch.
    fn abandon_delete(&self, name: &str, store: &SnapshotStore, loaded: &mut Loaded, targets: &[String], gone: &[String], uuid: &str) -> Result<()> {
        let tree = &mut loaded.tree;
        let mut touched: Vec<String> = Vec::new();
        for t in targets.iter().filter(|t| !gone.contains(t)) {
            if let Some(d) = tree.get_mut(t) {
                clear_private(d, "deleting");
                touched.push(t.clone());
            }
        }
        let mut extra = Vec::new();
        for g in gone {
            if let Ok(r) = tree.remove(g) {
                touched.extend(r.reparented);
                extra.push(store.removal_for(g)?);
            }
        }
        touched.retain(|t| !gone.contains(t));
        touched.extend(tree.current().map(str::to_owned));
        extra.push((DELETE_JOURNAL.to_owned(), None));
        self.persist_with(name, store, tree, &touched, uuid, extra, true)?;
        let l = std::mem::take(loaded);
        self.recache(name, store, l);
        Ok(())
    }

    /// Saves the given snapshots' metadata and refreshes the cache.
    fn persist(&self, name: &str, store: &SnapshotStore, tree: &mut SnapshotTree, names: &[String], uuid: &str) -> Result<()> {
        self.persist_with(name, store, tree, names, uuid, Vec::new(), true)
    }

    /// Saves the given snapshots' metadata plus the `extra` file changes as
    /// one store batch: atomic, and at most one fdatasync (none unless
    /// `durable`; see [`SnapshotStore::commit`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn persist_with(
        &self,
        name: &str,
        store: &SnapshotStore,
        tree: &mut SnapshotTree,
        names: &[String],
        uuid: &str,
        extra: Vec<Change>,
        durable: bool,
    ) -> Result<()> {
        let mut uniq: Vec<String> = Vec::new();
        for n in names {
            if !uniq.contains(n) {
                uniq.push(n.clone());
            }
        }
        self.hydrate(store, tree, &uniq)?;
        let cur = tree.current().map(str::to_owned);
        let mut changes = Vec::new();
        for n in uniq.iter().filter(|n| tree.has_metadata(n) == Some(true)) {
            if let Some(d) = tree.get(n) {
                changes.push(store.change_for(d, uuid, cur.as_deref() == Some(n.as_str()))?);
            }
        }
        changes.extend(extra);
        let r = store.commit(&changes, durable);
        bump_gen(store);
        self.cache.forget(name);
        r
    }

    fn align_disks(&self, def: &mut SnapshotDef, dom: &DomainDef, default: Location) -> Result<()> {
        let mut out: Vec<DiskDef> = Vec::new();
        let given = std::mem::take(&mut def.disks);
        if given.len() > dom.disks.len() {
            return Err(Error::config_unsupported(DOM, "too many disk snapshot requests for domain"));
        }
        let mut used = vec![None; dom.disks.len()];
        for g in given {
            let idx = dom
                .disks
                .iter()
                .position(|d| d.target == g.name || d.source.to_str() == Some(g.name.as_str()))
                .ok_or_else(|| Error::config_unsupported(DOM, format!("no disk named '{}'", g.name)))?;
            if used[idx].is_some() {
                return Err(Error::config_unsupported(DOM, format!("disk '{}' specified twice", dom.disks[idx].target)));
            }
            used[idx] = Some(g);
        }
        for (i, d) in dom.disks.iter().enumerate() {
            let mut g = used[i].take().unwrap_or_default();
            g.name = d.target.clone();
            if g.snapshot == Location::Default {
                g.snapshot = if d.snapshot != Location::Default { d.snapshot } else if d.readonly { Location::No } else { default };
            }
            if g.source.is_some() && g.snapshot != Location::External {
                return Err(Error::config_unsupported(
                    DOM,
                    format!("file '{}' for disk '{}' requires use of external snapshot mode", g.source_path().unwrap_or(""), d.target),
                ));
            }
            if g.snapshot == Location::External && g.source.is_none() {
                let stem = d.source.with_extension("");
                let p = format!("{}.{}", stem.display(), def.name.as_deref().unwrap_or(""));
                g.disk_type = Some("file".into());
                g.source = Some(Element::new("source").with_attr("file", p));
            }
            if g.snapshot == Location::External && g.driver.is_none() {
                g.driver = Some(Element::new("driver").with_attr("type", "qcow2"));
            }
            if g.snapshot == Location::Manual {
                return Err(Error::config_unsupported(DOM, "'manual' snapshot mode is not supported by the virsnap qemu driver"));
            }
            out.push(g);
        }
        for (i, a) in out.iter().enumerate() {
            if let Some(p) = a.source_path() {
                if out[..i].iter().any(|b| b.source_path() == Some(p)) {
                    return Err(Error::config_unsupported(DOM, format!("collision with disk '{}'", a.name)));
                }
            }
        }
        def.disks = out;
        Ok(())
    }

    pub(super) fn snap_create(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        check_flags(
            flags,
            create::REDEFINE | create::CURRENT | create::NO_METADATA | create::HALT | create::DISK_ONLY | create::REUSE_EXT | create::ATOMIC | create::LIVE | create::VALIDATE,
            DOM,
            // libvirt 9.0 checks the flags in qemu_snapshot.c's qemuSnapshotCreateXML.
            "qemuSnapshotCreateXML",
        )?;
        // One read of each definition and of the tree for the whole
        // operation; the lock is held here until the job is finished.
        let mut op = self.begin_op(&dom.name, true)?;
        let _l = op.lock.take();
        let mut job = self.begin_job(&dom.name, crate::job::operation::SNAPSHOT)?;
        let r = self.snap_create_locked(dom, xml, flags, op, &mut job);
        job.finish(&r);
        r
    }

    fn snap_create_locked(&self, dom: &DomainRef, xml: &str, flags: u32, op: Op, job: &mut super::domjob::Job<'_>) -> Result<String> {
        let Op { store, def: domdef, persistent: pers, mut loaded, .. } = op;
        let store = &store;
        let uuid = domdef.uuid.to_string();
        let tree = &mut loaded.tree;
        let redefine = flags & create::REDEFINE != 0;
        let mut def = parse_snapshot(xml, ParseFlags { redefine, internal: false })?;
        if let Some(u) = &def.domain_uuid {
            if crate::uuid::Uuid::parse(u) != Some(domdef.uuid) {
                return Err(Error::invalid_arg(
                    DOM,
                    format!("definition for snapshot {} must use uuid {uuid}", def.name.as_deref().unwrap_or("")),
                ));
            }
        }
        if redefine {
            let name = def.name.clone().unwrap_or_default();
            validate_snapshot_name(&name)?;
            if tree.contains(&name) {
                self.hydrate(store, tree, std::slice::from_ref(&name))?;
            }
            if def.domain.is_none() {
                if let Some(old) = tree.get(&name) {
                    def.domain = old.domain.clone();
                }
            }
            if tree.contains(&name) {
                let old = tree.get(&name).cloned().unwrap_or_default();
                def.private = old.private.clone();
                tree.replace(def)?;
            } else {
                tree.check_parent(&name, def.parent.as_deref())?;
                tree.insert(def, true)?;
            }
            let old_cur = tree.current().map(str::to_owned);
            if flags & create::CURRENT != 0 {
                tree.set_current(Some(&name));
            }
            let mut names = vec![name.clone()];
            names.extend(old_cur);
            self.persist(&dom.name, store, tree, &names, &uuid)?;
            self.recache_for(&dom.name, store, loaded, &domdef);
            return Ok(name);
        }
        let name = match def.name.clone() {
            Some(n) => n,
            None => now().to_string(),
        };
        validate_snapshot_name(&name)?;
        def.name = Some(name.clone());
        if tree.contains(&name) {
            return Err(Error::op_failed(ErrorDomain::Domain, format!("domain moment {name} already exists")));
        }
        let (state, _, mut qmp_conn) = self.state_conn(&dom.name)?;
        let active = state.is_active();
        let disk_only = flags & create::DISK_ONLY != 0;
        if state == DomainState::PmSuspended {
            return Err(Error::op_invalid(DOM, "qemu doesn't support taking snapshots of PMSUSPENDED guests"));
        }
        if def.memory == Location::External || def.memory_file.is_some() {
            return Err(Error::config_unsupported(DOM, "external memory snapshots are not supported by the virsnap qemu driver"));
        }
        if disk_only && def.memory == Location::Internal {
            return Err(Error::config_unsupported(DOM, "memory state cannot be saved with disk-only snapshot"));
        }
        def.state = Some(if disk_only && active {
            SnapshotState::DiskSnapshot
        } else {
            SnapshotState::from_domain_state(state)
        });
        def.memory = if active && !disk_only { Location::Internal } else { Location::No };
        let default = if disk_only { Location::External } else { Location::Internal };
        self.align_disks(&mut def, &domdef, default)?;
        let any_ext = def.disks.iter().any(|d| d.snapshot == Location::External);
        let any_int = def.disks.iter().any(|d| d.snapshot == Location::Internal);
        if any_ext && (any_int || def.memory == Location::Internal) {
            return Err(Error::config_unsupported(DOM, "mixing internal and external targets for a snapshot is not yet supported"));
        }
        if active && !any_ext && disk_only {
            return Err(Error::config_unsupported(DOM, "active disk-only snapshot must be external"));
        }
        if !any_ext {
            for d in &def.disks {
                if d.snapshot == Location::Internal {
                    let dd = domdef.disk(&d.name).ok_or_else(|| Error::internal(DOM, "disk vanished"))?;
                    if dd.format != "qcow2" {
                        return Err(Error::config_unsupported(DOM, format!("Disk device '{}' does not support snapshotting", d.name)));
                    }
                }
            }
            if !any_int && !active {
                return Err(Error::config_unsupported(DOM, "internal snapshot of an inactive domain requires at least one disk"));
            }
        }
        def.creation_time = now();
        def.parent = tree.current().map(str::to_owned);
        def.domain = Some(std::sync::Arc::new(pers.as_ref().unwrap_or(&domdef).to_element()));
        def.private_mut().set_child_text("tag", name.clone());
        if active && flags & create::HALT != 0 && pers.is_none() {
            return Err(Error::op_invalid(DOM, "cannot halt after transient domain snapshot"));
        }

        // A name or definition the store cannot keep is refused before the
        // hypervisor makes the snapshot.
        if flags & create::NO_METADATA == 0 {
            store.check_storable(&def, &uuid)?;
        }
        // The intent first (one durable batch): the metadata marked
        // `creating` and the create journal. A failure to write it is
        // libvirt's "unable to save metadata" with nothing made; a crash
        // after it is finished or undone by the next load (resolve_create).
        let journaled = flags & create::NO_METADATA == 0;
        let kind = if !any_ext {
            CreateKind::Internal
        } else if flags & create::REUSE_EXT != 0 {
            CreateKind::ExternalReuse
        } else {
            CreateKind::External
        };
        let old_pers = pers;
        // Abort point: nothing is made yet.
        job.check()?;
        if journaled {
            let mut intent = def.clone();
            intent.private_mut().set_child_text("creating", "1");
            let batch = vec![store.change_for(&intent, &uuid, false)?, journal_change(CREATE_JOURNAL, &[&name, &name, kind.as_str()])];
            let r = store.commit(&batch, true);
            bump_gen(store);
            self.cache.forget(&dom.name);
            if let Err(e) = r {
                return Err(unable_to_save(&name, &e));
            }
        }
        crash_point("qemu-create-after-intent");

        // The hypervisor part.
        self.progress("snapshot-create", 0);
        let mut new_effect = None;
        let made = if any_ext {
            drop(qmp_conn.take());
            self.create_external(&domdef, old_pers.as_ref(), &def, active, flags).map(|d| new_effect = Some(d))
        } else if active {
            match qmp_conn.take().map_or_else(|| self.qmp(&dom.name), Ok) {
                Ok(mut q) => job
                    .measure(self.pid(&dom.name), Io::Write, domdef.memory_kib.saturating_mul(1024))
                    .and_then(|()| self.vm_snapshot(&mut q, &domdef, VmOp::Save, &name, "snapshot-create")),
                Err(e) => Err(e),
            }
        } else {
            let disks: Vec<PathBuf> = def
                .disks
                .iter()
                .filter(|d| d.snapshot == Location::Internal)
                .filter_map(|d| domdef.disk(&d.name).map(|x| x.source.clone()))
                .collect();
            disks.iter().try_for_each(|p| img::snapshot_create(p, &name))
        };
        // Abort point (the last): what QEMU made is undone as after a
        // failure; past it the create completes.
        let made = made.and_then(|()| job.no_return());
        if let Err(e) = made {
            // Partly made (some disks, or QEMU failed half way), or aborted: undone.
            if journaled {
                self.abort_create(&dom.name, store, &name, kind, None, None)?;
            } else if kind == CreateKind::Internal {
                self.delete_tag_everywhere(&dom.name, &domdef, &name)?;
            }
            return Err(e);
        }
        crash_point("qemu-create-after-hypervisor");
        self.progress("snapshot-create", 100);
        if active && flags & create::HALT != 0 {
            self.stop_guest(&dom.name, reason::SHUTOFF_FROM_SNAPSHOT)?;
        }
        if !journaled {
            bump_gen(store);
            self.cache.forget(&dom.name);
            return Ok(name);
        }
        let old_cur = tree.current().map(str::to_owned);
        let made_def = def.clone();
        tree.insert(def, true)?;
        tree.set_current(Some(&name));
        let mut names = vec![name.clone()];
        names.extend(old_cur);
        // Not synced: if a power failure loses it, the durable intent
        // finishes the create on the next load (the hypervisor step is done).
        let extra = vec![(CREATE_JOURNAL.to_owned(), None)];
        if let Err(e) = self.persist_with(&dom.name, store, tree, &names, &uuid, extra, false) {
            // As libvirt: the create fails with "unable to save metadata";
            // unlike libvirt, what QEMU made is undone, so no snapshot
            // without metadata is left behind.
            let undo = if active && !any_ext { None } else { old_pers.as_ref() };
            self.abort_create(&dom.name, store, &name, kind, Some(&made_def), undo)?;
            return Err(unable_to_save(&name, &e));
        }
        match new_effect {
            // The definition in effect changed: to the stopped guest's.
            _ if active && flags & create::HALT != 0 => self.recache(&dom.name, store, loaded),
            // To the overlays create_external made.
            Some(d) => self.recache_for(&dom.name, store, loaded, &d),
            None => self.recache_for(&dom.name, store, loaded, &domdef),
        }
        Ok(name)
    }

    /// Undoes a create whose intent is recorded and which fails: deletes
    /// the internal snapshot (where made) or, for an external one made
    /// while the domain was off (`made` and its old definition `old_pers`
    /// given), switches the definition back and removes the new overlays.
    /// Then the intent goes. When the undo itself fails, the metadata goes
    /// but the create journal stays: the next load retries the undo and
    /// never lists the leftover as a snapshot.
    fn abort_create(
        &self,
        name: &str,
        store: &SnapshotStore,
        snap: &str,
        kind: CreateKind,
        made: Option<&SnapshotDef>,
        old_pers: Option<&DomainDef>,
    ) -> Result<()> {
        let undone = match kind {
            CreateKind::Internal => self.def(name).and_then(|d| self.delete_tag_everywhere(name, &d, snap)),
            CreateKind::External => match (made, old_pers) {
                (Some(m), Some(old)) if self.pid(name).is_none() => self.save_config(old).and_then(|()| {
                    for d in m.disks.iter().filter(|d| d.snapshot == Location::External) {
                        if let Some(p) = d.source_path() {
                            match fs::remove_file(p) {
                                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                                    return Err(Error::system(DOM, format!("cannot remove '{p}'"), &e));
                                }
                                _ => {}
                            }
                        }
                    }
                    Ok(())
                }),
                _ => Ok(()),
            },
            CreateKind::ExternalReuse => Ok(()),
        };
        let mut batch = vec![store.removal_for(snap)?];
        match &undone {
            Ok(()) => batch.push((CREATE_JOURNAL.to_owned(), None)),
            Err(e) => eprintln!("virsnap: qemu: cannot undo the failed create of snapshot '{snap}' of '{name}' (retried on the next load): {}", e.message),
        }
        let r = store.commit(&batch, true);
        bump_gen(store);
        self.cache.forget(name);
        r
    }

    /// Finishes or undoes a create interrupted by a crash (the create
    /// journal names it): when the intent's metadata is there and the
    /// hypervisor step completed (every disk holds the qcow2 snapshot, or
    /// the definition uses every new overlay), the snapshot is completed as
    /// the create would have (it becomes current); otherwise what was made
    /// is removed. Returns a tag to keep out of the listing when the undo
    /// cannot be done now.
    fn resolve_create(&self, name: &str, store: &SnapshotStore, def: &DomainDef, tree: &mut SnapshotTree) -> Result<Option<String>> {
        let Some(j) = read_journal(store, CREATE_JOURNAL)? else { return Ok(None) };
        let (Some(snap), Some(tag), Some(kind)) = (j.first(), j.get(1), j.get(2).and_then(|k| CreateKind::parse(k))) else {
            return Err(Error::internal(DOM, format!("journal '{}' is malformed; refusing to act on it", store.dir().join(CREATE_JOURNAL).display())));
        };
        let intent = tree.get(snap).filter(|d| d.private_value("creating").as_deref() == Some("1")).cloned();
        let running = self.pid(name).is_some();
        if running && kind == CreateKind::Internal {
            // A snapshot-save job of the process that died runs on in QEMU.
            if let Ok(mut q) = self.qmp(name) {
                self.settle_jobs(&mut q)?;
            }
        }
        if !running && kind == CreateKind::Internal {
            // A qemu-img of the process that died may still be ending (its
            // parent-death signal comes after the domain lock is released):
            // wait until no one writes the images before reading them.
            for d in internal_disks(def) {
                img::wait_unlocked(&d.source);
            }
        }
        let done = match (&intent, kind) {
            (None, _) => false,
            (Some(_), CreateKind::Internal) => {
                let disks = internal_disks(def);
                !disks.is_empty() && disks.iter().all(|d| img::snapshots(&d.source).is_ok_and(|v| v.iter().any(|s| &s.tag == tag)))
            }
            (Some(i), _) => {
                let wanted: Vec<(&str, &str)> = i
                    .disks
                    .iter()
                    .filter(|d| d.snapshot == Location::External)
                    .filter_map(|d| d.source_path().map(|p| (d.name.as_str(), p)))
                    .collect();
                !wanted.is_empty() && wanted.iter().all(|(t, p)| def.disk(t).is_some_and(|x| x.source.to_str() == Some(*p)))
            }
        };
        let uuid = def.uuid.to_string();
        if done && kind == CreateKind::External && running {
            // Killed after the live definition was written, before the
            // persistent one: it takes the overlays too (as the create would).
            if let (Some(i), Some(mut p)) = (&intent, self.persistent_def(name)?) {
                let mut changed = false;
                for d in i.disks.iter().filter(|d| d.snapshot == Location::External) {
                    let (Some(ov), Some(x)) = (d.source_path().map(PathBuf::from), p.disks.iter_mut().find(|x| x.target == d.name)) else { continue };
                    if x.source != ov && made_overlay_of(&ov, &x.source) {
                        x.source = ov;
                        x.format = "qcow2".into();
                        changed = true;
                    }
                }
                if changed {
                    self.save_config(&p)?;
                }
            }
        }
        if done {
            let old = tree.current().map(str::to_owned).filter(|c| c != snap);
            let mut batch = Vec::new();
            if let Some(d) = tree.get_mut(snap) {
                clear_private(d, "creating");
            }
            tree.set_current(Some(snap));
            if let Some(d) = tree.get(snap) {
                batch.push(store.change_for(d, &uuid, true)?);
            }
            if let Some(o) = old.as_deref().and_then(|o| tree.get(o)) {
                batch.push(store.change_for(o, &uuid, false)?);
            }
            batch.push((CREATE_JOURNAL.to_owned(), None));
            store.commit(&batch, true)?;
            bump_gen(store);
            return Ok(None);
        }
        let undone = match kind {
            CreateKind::Internal => self.delete_tag_everywhere(name, def, tag),
            CreateKind::External => {
                let pers = self.persistent_def(name)?;
                let live = if running { self.live_def(name) } else { None };
                // A running guest QEMU already switched to an overlay of
                // this create (the crash came before the definitions were
                // written) is pivoted back first: the overlay's writes are
                // committed into the disk's source, then it is unused.
                if running {
                    if let Some(i) = &intent {
                        if let Err(e) = self.unswitch_guest(name, live.as_ref().unwrap_or(def), i) {
                            eprintln!("virsnap: qemu: cannot switch '{name}' back from the overlays of the interrupted create of '{snap}' (retried on the next load): {}", e.message);
                            // Kept on disk for the retry, not listed meanwhile.
                            let _ = tree.remove(snap);
                            return Ok(Some(tag.clone()));
                        }
                    }
                }
                let in_use = |p: &str| pers.iter().chain(live.iter()).any(|d| d.disks.iter().any(|x| x.source.to_str() == Some(p)));
                for d in intent.iter().flat_map(|i| i.disks.iter()).filter(|d| d.snapshot == Location::External) {
                    if let Some(p) = d.source_path().filter(|p| !in_use(p) && std::path::Path::new(p).exists()) {
                        // The path comes from metadata read back from disk:
                        // remove only what this create made, a qcow2
                        // overlay (a regular file) on the disk's source.
                        let base = pers.as_ref().or(live.as_ref()).and_then(|x| x.disk(&d.name)).map(|x| x.source.clone());
                        if !base.is_some_and(|b| made_overlay_of(std::path::Path::new(p), &b)) {
                            eprintln!("virsnap: qemu: not removing '{p}' for the interrupted create of '{snap}': not an overlay of disk {}", d.name);
                            continue;
                        }
                        fs::remove_file(p).map_err(|e| Error::system(DOM, format!("cannot remove '{p}'"), &e))?;
                    }
                }
                Ok(())
            }
            CreateKind::ExternalReuse => Ok(()),
        };
        let mut batch = Vec::new();
        if intent.is_some() {
            batch.push(store.removal_for(snap)?);
            let _ = tree.remove(snap);
        }
        let hidden = match undone {
            Ok(()) => {
                batch.push((CREATE_JOURNAL.to_owned(), None));
                None
            }
            Err(e) => {
                eprintln!("virsnap: qemu: cannot undo the interrupted create of snapshot '{snap}' of '{name}' (retried on the next load): {}", e.message);
                Some(tag.clone())
            }
        };
        if !batch.is_empty() {
            store.commit(&batch, true)?;
            bump_gen(store);
        }
        Ok(hidden)
    }

    /// Makes the overlays of an external snapshot `def` of the domain whose
    /// definition in effect is `domdef` and persistent one `pers` (as the
    /// operation read them) and points the definitions at them. Returns the
    /// new definition in effect.
    fn create_external(&self, domdef: &DomainDef, pers: Option<&DomainDef>, def: &SnapshotDef, active: bool, flags: u32) -> Result<DomainDef> {
        let reuse = flags & create::REUSE_EXT != 0;
        let mut newdef = domdef.clone();
        let mut created: Vec<PathBuf> = Vec::new();
        let result = (|| {
            for d in def.disks.iter().filter(|d| d.snapshot == Location::External) {
                let path = PathBuf::from(d.source_path().unwrap_or(""));
                let dd = newdef.disks.iter_mut().find(|x| x.target == d.name).ok_or_else(|| Error::internal(DOM, "disk vanished"))?;
                if !reuse && path.exists() {
                    return Err(Error::op_invalid(DOM, format!("external snapshot file for disk {} already exists and is not a block device: {}", d.name, path.display())));
                }
                if active {
                    let mut q = self.qmp(&domdef.name)?;
                    let mut args = super::json::json!({
                        "device": format!("drive-{}", d.name),
                        "snapshot-file": path.to_string_lossy(),
                        "format": "qcow2",
                    });
                    if reuse {
                        args["mode"] = "existing".into();
                    } else {
                        created.push(path.clone());
                    }
                    q.execute("blockdev-snapshot-sync", Some(args))?;
                    crash_point("qemu-create-external-after-disk");
                } else if !reuse {
                    img::create_overlay(&path, &dd.source, &dd.format)?;
                    created.push(path.clone());
                }
                dd.source = path;
                dd.format = "qcow2".into();
            }
            Ok(())
        })();
        if let Err(e) = result {
            if !active {
                for p in created {
                    let _ = fs::remove_file(p);
                }
            } else {
                // QEMU failed on a later disk: the guest runs on the
                // overlays of the earlier ones. Switched back first (their
                // writes committed), then those overlays go; if the switch
                // back fails they stay (QEMU may still use them).
                match self.unswitch_guest(&domdef.name, domdef, def) {
                    Ok(()) => {
                        for (p, d) in created.iter().zip(def.disks.iter().filter(|d| d.snapshot == Location::External)) {
                            if domdef.disk(&d.name).is_some_and(|b| made_overlay_of(p, &b.source)) {
                                if let Err(re) = fs::remove_file(p) {
                                    eprintln!("virsnap: qemu: cannot remove '{}' of the failed create: {re}", p.display());
                                }
                            }
                        }
                    }
                    Err(u) => eprintln!("virsnap: qemu: cannot switch '{}' back from the overlays of the failed create: {}", domdef.name, u.message),
                }
            }
            return Err(e);
        }
        if active {
            self.save_live(&newdef)?;
            crash_point("qemu-create-external-after-live");
        }
        if let Some(mut p) = pers.cloned() {
            for d in &mut p.disks {
                if let Some(n) = newdef.disk(&d.target) {
                    d.source = n.source.clone();
                    d.format = n.format.clone();
                }
            }
            self.save_config(&p)?;
            if !active {
                return Ok(p);
            }
        }
        Ok(newdef)
    }

    pub(super) fn snap_xml(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        check_flags(flags, crate::flags::xml::SECURE, DOM, "qemuDomainSnapshotGetXMLDesc")?;
        let (def, light) = self.with_tree(dom, |t| {
            let d = t.get(name).ok_or_else(|| Error::no_snapshot(DOM, name))?;
            Ok((d.clone(), d.private_value(index::LIGHT).is_some()))
        })?;
        let def = if light {
            let (store, _l) = self.lock(&dom.name)?;
            let mut full = self.full_def(&store, name)?;
            full.parent = def.parent.clone();
            full
        } else {
            def
        };
        Ok(format_snapshot(&def, Some(&dom.uuid.to_string()), FormatFlags { secure: flags != 0, internal: false, current: false }))
    }

    pub(super) fn snap_revert(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        check_flags(flags, revert::RUNNING | revert::PAUSED | revert::FORCE, DOM, "qemuDomainRevertToSnapshot")?;
        let mut op = self.begin_op(&dom.name, true)?;
        let _l = op.lock.take();
        let mut job = self.begin_job(&dom.name, crate::job::operation::SNAPSHOT_REVERT)?;
        let r = self.snap_revert_locked(dom, name, flags, op, &mut job);
        job.finish(&r);
        r
    }

    fn snap_revert_locked(&self, dom: &DomainRef, name: &str, flags: u32, op: Op, job: &mut super::domjob::Job<'_>) -> Result<()> {
        let Op { store, def: domdef, persistent, mut loaded, .. } = op;
        let store = &store;
        let uuid = domdef.uuid.to_string();
        if !loaded.tree.contains(name) {
            return Err(Error::no_snapshot(DOM, name));
        }
        self.hydrate(store, &mut loaded.tree, &[name.to_owned()])?;
        let snap = loaded.tree.get(name).cloned().ok_or_else(|| Error::no_snapshot(DOM, name))?;
        let has_meta = loaded.tree.has_metadata(name) == Some(true);
        let st = snap.state.unwrap_or(SnapshotState::Shutoff);
        if persistent.is_none() && !st.is_online() && flags & (revert::RUNNING | revert::PAUSED) == 0 {
            return Err(Error::op_invalid(DOM, "transient domain needs to request run or pause to revert to inactive snapshot"));
        }
        let target: DomainDef = match (&snap.domain, has_meta) {
            (Some(e), _) => DomainDef::from_element(e)?,
            (None, false) => persistent.clone().unwrap_or_else(|| domdef.clone()),
            (None, true) => {
                return Err(Error::new(
                    ErrorCode::SnapshotRevertRisky,
                    DOM,
                    format!("snapshot '{name}' lacks domain '{}' rollback info", dom.name),
                ))
            }
        };
        let mut pending_cont: Option<(super::qmp::Qmp, u64)> = None;
        if snap.is_external() {
            job.no_return()?;
            self.progress("snapshot-revert", 0);
            crash_point("qemu-revert-before-hypervisor");
            self.revert_external(&dom.name, store, &mut loaded.tree, &snap, &target, persistent.is_some(), flags)?;
        } else {
            if loaded.missing.iter().any(|m| m == name) {
                return Err(Error::op_failed(DOM, format!("snapshot '{name}' has metadata but its qcow2 snapshot is missing from the disk images")));
            }
            let tag = tag_of(&snap);
            let running_now = self.pid(&dom.name).is_some();
            // Abort point: nothing is changed yet; past it the revert completes.
            job.no_return()?;
            self.progress("snapshot-revert", 0);
            crash_point("qemu-revert-before-hypervisor");
            if st.is_online() {
                let paused = flags & revert::PAUSED != 0 || (st == SnapshotState::Paused && flags & revert::RUNNING == 0);
                let same = running_now && self.live_def(&dom.name).is_some_and(|l| l == target);
                if same {
                    // Fast path: load the state into the running process.
                    let mut q = self.qmp(&dom.name)?;
                    job.measure(self.pid(&dom.name), Io::Read, target.memory_kib.saturating_mul(1024))?;
                    q.execute("stop", None)?;
                    self.vm_snapshot(&mut q, &target, VmOp::Load, &tag, "snapshot-revert")?;
                    if !paused {
                        // The reply is collected after the metadata write,
                        // which overlaps with QEMU restarting the vCPUs.
                        let id = q.send("cont", None)?;
                        pending_cont = Some((q, id));
                    } else {
                        drop(q);
                    }
                    // libvirt restarts QEMU here, so the domain gets a new id.
                    let id = self.next_id()?;
                    self.set_status(&dom.name, Status { id, reason: if paused { reason::PAUSED_FROM_SNAPSHOT } else { reason::RUNNING_FROM_SNAPSHOT } })?;
                } else {
                    if running_now {
                        self.stop_guest(&dom.name, reason::SHUTOFF_FROM_SNAPSHOT)?;
                    }
                    // The definition is rewritten (two fsyncs) only when it changes.
                    if persistent.as_ref().is_some_and(|p| *p != target) {
                        self.save_config(&target)?;
                    }
                    self.start_guest(&target, Some(tag.clone()), !paused, reason::RUNNING_FROM_SNAPSHOT, reason::PAUSED_FROM_SNAPSHOT)?;
                }
            } else {
                if running_now {
                    self.stop_guest(&dom.name, reason::SHUTOFF_FROM_SNAPSHOT)?;
                }
                if persistent.as_ref().is_some_and(|p| *p != target) {
                    self.save_config(&target)?;
                }
                let mut failed = None;
                for d in snap.disks.iter().filter(|d| d.snapshot == Location::Internal) {
                    if let Some(dd) = target.disk(&d.name) {
                        if let Err(e) = img::snapshot_apply(&dd.source, &tag) {
                            failed = Some(e);
                        }
                    }
                }
                if let Some(e) = failed {
                    return Err(e);
                }
                if flags & (revert::RUNNING | revert::PAUSED) != 0 {
                    let run = flags & revert::RUNNING != 0;
                    self.start_guest(&target, None, run, reason::RUNNING_FROM_SNAPSHOT, reason::PAUSED_USER)?;
                }
                // A guest that was already shut off keeps its shutoff
                // reason (libvirt's qemuSnapshotRevertInactive only sets
                // SHUTOFF_FROM_SNAPSHOT when it stops a running guest).
            }
        }
        crash_point("qemu-revert-after-hypervisor");
        self.progress("snapshot-revert", 100);
        let tree = &mut loaded.tree;
        let old = tree.current().map(str::to_owned);
        tree.set_current(Some(name));
        let mut names = vec![name.to_owned()];
        names.extend(old);
        let persisted = self.persist(&dom.name, store, tree, &names, &uuid);
        if let Some((mut q, id)) = pending_cont {
            q.wait(id, "cont", super::qmp::DEFAULT_TIMEOUT)?;
        }
        persisted?;
        self.recache(&dom.name, store, loaded);
        Ok(())
    }

    pub(super) fn snap_delete(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        check_flags(flags, delete::CHILDREN | delete::CHILDREN_ONLY | delete::METADATA_ONLY, DOM, "qemuDomainSnapshotDelete")?;
        let mut op = self.begin_op(&dom.name, false)?;
        let _l = op.lock.take();
        let mut job = self.begin_job(&dom.name, crate::job::operation::SNAPSHOT_DELETE)?;
        let r = self.snap_delete_locked(dom, name, flags, op, &mut job);
        job.finish(&r);
        r
    }

    fn snap_delete_locked(&self, dom: &DomainRef, name: &str, flags: u32, op: Op, job: &mut super::domjob::Job<'_>) -> Result<()> {
        let Op { store, def: domdef, loaded, .. } = op;
        let tree = &loaded.tree;
        if !tree.contains(name) {
            return Err(Error::no_snapshot(DOM, name));
        }
        let mut targets: Vec<String> = Vec::new();
        if flags & (delete::CHILDREN | delete::CHILDREN_ONLY) != 0 {
            targets = tree.descendants(name);
        }
        if flags & delete::CHILDREN_ONLY == 0 {
            targets.insert(0, name.to_owned());
        }
        // Abort point: nothing is changed yet; past it the delete completes.
        job.no_return()?;
        let metadata_only = flags & delete::METADATA_ONLY != 0;
        let remove = |tree: &mut SnapshotTree| {
            if flags & delete::CHILDREN_ONLY != 0 {
                tree.remove_subtree(name, true)
            } else if flags & delete::CHILDREN != 0 {
                tree.remove_subtree(name, false)
            } else {
                tree.remove(name)
            }
        };
        self.delete_targets(dom, &store, &domdef, loaded, targets, metadata_only, remove)
    }

    /// Deletes each of `names` with libvirt's default delete, all in one
    /// pass: one lock and load, one durable intent batch marking every one
    /// `deleting` (a crash after it rolls them all forward), one hypervisor
    /// call per snapshot and disk (QEMU deletes one tag per `qemu-img
    /// snapshot -d`, QMP `snapshot-delete` or HMP `delvm`), one final batch.
    /// Refuses the current snapshot (`VIR_ERR_OPERATION_INVALID`) and an
    /// unknown name before touching anything. Since 0.2.
    pub(super) fn snap_delete_set(&self, dom: &DomainRef, names: &[String]) -> Result<()> {
        let Op { store, lock: _l, def: domdef, loaded, .. } = self.begin_op(&dom.name, false)?;
        let mut targets: Vec<String> = Vec::new();
        for n in names {
            if !loaded.tree.contains(n) {
                return Err(Error::no_snapshot(DOM, n));
            }
            if loaded.tree.current() == Some(n.as_str()) {
                return Err(Error::op_invalid(DOM, format!("snapshot '{n}' is the current snapshot; it is never pruned")));
            }
            if !targets.contains(n) {
                targets.push(n.clone());
            }
        }
        if targets.is_empty() {
            return Ok(());
        }
        let doomed = targets.clone();
        let remove = move |tree: &mut SnapshotTree| {
            let mut all = crate::tree::Removal::default();
            for n in &doomed {
                let r = tree.remove(n)?;
                all.removed.extend(r.removed);
                all.reparented.extend(r.reparented);
            }
            all.reparented.retain(|r| !all.removed.contains(r));
            Ok(all)
        };
        self.delete_targets(dom, &store, &domdef, loaded, targets, false, remove)
    }

    /// The common part of a delete: `targets` (parents before children)
    /// lose their images unless `metadata_only`, then `remove` takes them
    /// out of the tree and the result is saved. The caller holds the lock.
    #[allow(clippy::too_many_arguments)]
    fn delete_targets(
        &self,
        dom: &DomainRef,
        store: &SnapshotStore,
        domdef: &DomainDef,
        mut loaded: Loaded,
        targets: Vec<String>,
        metadata_only: bool,
        remove: impl FnOnce(&mut SnapshotTree) -> Result<crate::tree::Removal>,
    ) -> Result<()> {
        let uuid = domdef.uuid.to_string();
        let tree = &mut loaded.tree;
        let mut jl: Vec<&str> = vec![if metadata_only { "metadata-only" } else { "full" }];
        jl.extend(targets.iter().map(String::as_str));
        let journal = journal_change(DELETE_JOURNAL, &jl);
        if metadata_only {
            store.commit(std::slice::from_ref(&journal), true)?;
        }
        crash_point("qemu-delete-after-journal");
        // Deleting external snapshots changes the definition in effect.
        let mut any_ext_deleted = false;
        if !metadata_only {
            let any_external = targets.iter().any(|t| tree.get(t).is_some_and(SnapshotDef::is_external));
            any_ext_deleted = any_external;
            // Record the intent, then delete children before parents.
            self.hydrate(store, tree, &targets)?;
            for t in &targets {
                if tree.has_metadata(t) == Some(true) {
                    if let Some(d) = tree.get_mut(t) {
                        d.private_mut().set_child_text("deleting", "1");
                    }
                }
            }
            // The intent is the `deleting` marks alone, one durable batch
            // (one fdatasync) that rewrites files in place: no new file, so
            // a delete works on a full filesystem and makes room there.
            drop(journal);
            self.persist_with(&dom.name, store, tree, &targets, &uuid, Vec::new(), true)?;
            crash_point("qemu-delete-after-intent");
            // Children before parents; the first failing hypervisor step
            // stops the delete: what was deleted so far is gone (as
            // libvirt's per-snapshot discard), the rest keeps its metadata.
            let mut gone: Vec<String> = Vec::new();
            let mut failure = None;
            let mut qmp = None;
            for t in targets.iter().rev() {
                let Some(d) = tree.get(t) else { continue };
                if has_internal(d) && !loaded.missing.contains(t) {
                    let tag = tag_of(d);
                    if let Err(e) = self.delete_tag_with(&dom.name, domdef, &tag, &mut qmp) {
                        failure = Some(e);
                        break;
                    }
                    crash_point("qemu-delete-after-hypervisor");
                }
                gone.push(t.clone());
            }
            // QEMU's monitor serves one client: free it for what follows.
            drop(qmp);
            if let Some(e) = failure {
                self.abandon_delete(&dom.name, store, &mut loaded, &targets, &gone, &uuid)?;
                return Err(e);
            }
            if any_external {
                self.delete_external(&dom.name, store, tree, &targets)?;
                crash_point("qemu-delete-after-hypervisor");
            }
        }
        let removal = remove(tree)?;
        let mut touched = removal.reparented.clone();
        touched.extend(tree.current().map(str::to_owned));
        if metadata_only {
            // Nothing on disk changed: a snapshot whose tag remains would
            // reappear without metadata on the next load; that is intended.
        }
        // Reparented children, the current marker, the removals and the end
        // of the journal in one batch. It need not be synced: until it is,
        // the durable journal above rolls the delete forward on the next
        // load after a power failure; a later synced batch carries it along.
        let mut extra: Vec<Change> = removal.removed.iter().map(|r| store.removal_for(r)).collect::<Result<_>>()?;
        crash_point("qemu-before-journal-removal");
        extra.push((DELETE_JOURNAL.to_owned(), None));
        self.persist_with(&dom.name, store, tree, &touched, &uuid, extra, false)?;
        if !any_ext_deleted {
            self.recache_for(&dom.name, store, loaded, domdef);
        } else {
            self.recache(&dom.name, store, loaded);
        }
        Ok(())
    }

    pub(super) fn snap_rename(&self, dom: &DomainRef, name: &str, new_name: &str, flags: u32) -> Result<()> {
        check_flags(flags, 0, DOM, "qemuDomainSnapshotRename")?;
        validate_snapshot_name(new_name)?;
        let Op { store, lock: _l, def: domdef, mut loaded, .. } = self.begin_op(&dom.name, false)?;
        let uuid = domdef.uuid.to_string();
        let tree = &mut loaded.tree;
        if !tree.contains(name) {
            return Err(Error::no_snapshot(DOM, name));
        }
        let mut children = tree.children(name);
        children.push(name.to_owned());
        self.hydrate(&store, tree, &children)?;
        children.pop();
        let tag = tree.get(name).map(tag_of).ok_or_else(|| Error::no_snapshot(DOM, name))?;
        tree.rename(name, new_name)?;
        if let Some(d) = tree.get_mut(new_name) {
            d.private_mut().set_child_text("tag", tag);
        }
        tree.set_has_metadata(new_name, true);
        // New name, children pointing at it and the old name's removal in
        // one atomic batch (the rename journal of older versions is still
        // honoured by load_tree).
        let mut names = vec![new_name.to_owned()];
        names.extend(children);
        let extra = vec![store.removal_for(name)?];
        self.persist_with(&dom.name, &store, tree, &names, &uuid, extra, true)?;
        self.recache_for(&dom.name, &store, loaded, &domdef);
        Ok(())
    }
}

/// True when `p` is a regular file (not a link) holding a qcow2 image
/// whose backing file is `base`: an overlay a create made on that disk.
impl QemuDriver {
    /// Switches the running guest `name` back from every overlay of the
    /// interrupted external create `intent` QEMU uses: the disk's file in
    /// QEMU is the intent's overlay, an overlay (made by us) of the disk's
    /// source in `base_def`. An active block-commit into that source
    /// pivots QEMU back (the guest's writes since are kept). Since 0.2.
    fn unswitch_guest(&self, name: &str, base_def: &DomainDef, intent: &SnapshotDef) -> Result<()> {
        let blocks = self.qmp(name)?.execute("query-block", None)?;
        let file_of = |target: &str| {
            blocks
                .as_array()
                .into_iter()
                .flatten()
                .find(|b| b.get("device").and_then(super::json::Json::as_str) == Some(format!("drive-{target}").as_str()))
                .and_then(|b| b.get("inserted"))
                .and_then(|i| i.get("file"))
                .and_then(super::json::Json::as_str)
                .map(PathBuf::from)
        };
        for d in intent.disks.iter().filter(|d| d.snapshot == Location::External) {
            let (Some(overlay), Some(base)) = (d.source_path().map(PathBuf::from), base_def.disk(&d.name).map(|x| x.source.clone())) else {
                continue;
            };
            let Some(file) = file_of(&d.name) else { continue };
            if super::external::canon(&file) == super::external::canon(&base) || super::external::canon(&file) != super::external::canon(&overlay) {
                continue;
            }
            if !made_overlay_of(&overlay, &base) {
                return Err(Error::op_failed(DOM, format!("disk {} runs on '{}', which is not an overlay of '{}'", d.name, overlay.display(), base.display())));
            }
            self.block_commit(name, &d.name, &base)?;
        }
        Ok(())
    }
}

fn made_overlay_of(p: &std::path::Path, base: &std::path::Path) -> bool {
    let regular = fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file());
    regular && img::chain(p).is_ok_and(|c| c.len() >= 2 && c[0].format == "qcow2" && c[1].path == base)
}

#[allow(dead_code)]
fn _unused(_: &process::RunFiles) {}

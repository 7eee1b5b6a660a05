//! External (overlay) disk-only snapshots: revert and delete, beyond
//! libvirt 9.0 (which refuses both).
//!
//! # Model
//! Creating external snapshot `s` turns each disk's image `S` (the *base*)
//! into the read-only backing file of a new overlay `P` (recorded as the
//! snapshot's `<disk><source file=P/>`); the domain then writes into `P`.
//! The state of `s` is the content of `S`: `s`'s saved `<domain>` points at
//! `S`. `P` is only "where the domain continued after `s`".
//!
//! A file is **needed** when some snapshot's saved `<domain>` uses it as a
//! disk, or it lies in the backing chain of such a file. Needed files are
//! never deleted and never written to. virsnap only ever **deletes files it
//! created**: snapshot overlays `P` and revert overlays `P-N`, never a
//! user's original image, and never a file that holds an internal (qcow2)
//! snapshot it is not deleting.
//!
//! # Revert to `s`
//! The guest is stopped if it runs. Each external disk gets a fresh overlay
//! on `S`: at `P` when `P` is free (missing, or not needed by any snapshot:
//! it then only holds the state since the last revert/create, which a
//! revert discards, as with internal snapshots), else at the first free
//! `P-1`, `P-2`…; it is created under a temporary name and renamed into
//! place. The definition is switched to the new overlays (durably) before
//! the old top image is deleted, and the old top is deleted only when it is
//! one of virsnap's overlays and not needed. So `S` stays untouched and `s`
//! stays revertible any number of times, later snapshots (whose bases are
//! `P` or above) keep their images, and the domain never points at a
//! deleted file. The guest is then started (paused) when `RUNNING`/`PAUSED`
//! asks, else left shut off; a `disk-snapshot` state is a crash-consistent
//! disk, so it is not resumed by default.
//!
//! # Delete (plain, `CHILDREN`, `CHILDREN_ONLY`)
//! The domain's current disk content is never changed by a delete. With
//! the deleted set `D`, *survivors* are the other snapshots:
//! 1. for each disk, walk the domain's current chain from the top while the
//!    layer is one of virsnap's overlays belonging to `D`, not needed by a
//!    survivor, and the layer below is not needed by a survivor either;
//!    the layers passed are committed into the layer reached (`qemu-img
//!    commit`, or an active QMP `block-commit` + `block-job-complete` while
//!    the guest runs) and the domain is switched to it (this is libvirt
//!    9.0's single-snapshot block-commit, generalised to a subtree);
//! 2. the definition (persistent and live) is saved;
//! 3. then every file of `D` (bases, overlays, revert overlays) that is
//!    one of virsnap's overlays, not needed by a survivor, not in the
//!    domain's current chains and holds no foreign internal snapshot is
//!    deleted. Everything else stays (no file a survivor or the domain uses
//!    is lost; at worst an unreferenced overlay is left behind).
//!
//! A crash leaves the domain on a complete chain: commits only copy data
//! down a chain the domain still reads through, the definition is switched
//! before any file is removed, and the metadata change is rolled forward
//! from the recorded intent on the next load (possibly leaving an
//! unreferenced overlay file, never a missing one).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::domxml::DomainDef;
use super::json::{json, Json};
use super::{img, QemuDriver, Status, DOM};
use crate::error::{Error, Result};
use crate::flags::revert;
use crate::model::{reason, Location, SnapshotDef};
use crate::store::{crash_point, SnapshotStore};
use crate::tree::SnapshotTree;

/// One external disk of a snapshot.
#[derive(Debug, Clone)]
struct ExtDisk {
    target: String,
    base: PathBuf,
    base_fmt: String,
    overlay: PathBuf,
}

pub(super) fn canon(p: &Path) -> PathBuf {
    fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn snap_domain(def: &SnapshotDef) -> Option<DomainDef> {
    def.domain.as_ref().and_then(|e| DomainDef::from_element(e).ok())
}

fn ext_disks(def: &SnapshotDef) -> Result<Vec<ExtDisk>> {
    let dom = snap_domain(def).ok_or_else(|| {
        Error::new(
            crate::error::ErrorCode::SnapshotRevertRisky,
            DOM,
            format!("snapshot '{}' lacks domain rollback info", def.name.as_deref().unwrap_or("")),
        )
    })?;
    let mut out = Vec::new();
    for d in def.disks.iter().filter(|d| d.snapshot == Location::External) {
        let Some(src) = d.source_path() else { continue };
        let base = dom.disk(&d.name).ok_or_else(|| Error::op_failed(DOM, format!("snapshot disk '{}' is not in its domain definition", d.name)))?;
        out.push(ExtDisk { target: d.name.clone(), base: base.source.clone(), base_fmt: base.format.clone(), overlay: PathBuf::from(src) });
    }
    Ok(out)
}

/// `P-N` (revert overlay `N` of overlay `P`).
fn revert_overlay(p: &Path, n: u32) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(format!("-{n}"));
    PathBuf::from(s)
}

/// What the snapshots of a domain use on disk.
struct Files {
    /// Files some snapshot outside the excluded set needs (closed under backing chains).
    needed: HashSet<PathBuf>,
    /// virsnap's overlays (every snapshot's `P`), canonical.
    ours: HashSet<PathBuf>,
    chains: HashMap<PathBuf, Vec<img::Layer>>,
}

impl Files {
    fn chain(&mut self, p: &Path) -> Result<Vec<img::Layer>> {
        let c = canon(p);
        if let Some(v) = self.chains.get(&c) {
            return Ok(v.clone());
        }
        let v = img::chain(p)?;
        self.chains.insert(c, v.clone());
        Ok(v)
    }

    /// Is `p` one of virsnap's overlays (`P` or `P-N`)?
    fn is_ours(&self, p: &Path) -> bool {
        let c = canon(p);
        if self.ours.contains(&c) {
            return true;
        }
        let s = c.to_string_lossy();
        match s.rsplit_once('-') {
            Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => self.ours.contains(Path::new(head)),
            _ => false,
        }
    }

    fn needed(&self, p: &Path) -> bool {
        self.needed.contains(&canon(p))
    }

    /// Tags held by `p` itself (not its backing files).
    fn tags(&mut self, p: &Path) -> Result<Vec<String>> {
        Ok(self.chain(p)?.into_iter().next().map(|l| l.tags).unwrap_or_default())
    }
}

impl QemuDriver {
    /// Loads every snapshot's full definition and computes which files the
    /// snapshots not in `excluded` need.
    fn snap_files(&self, store: &SnapshotStore, tree: &mut SnapshotTree, excluded: &HashSet<String>) -> Result<Files> {
        let all = tree.names();
        self.hydrate(store, tree, &all)?;
        let mut f = Files { needed: HashSet::new(), ours: HashSet::new(), chains: HashMap::new() };
        let mut roots = Vec::new();
        for n in &all {
            let Some(d) = tree.get(n) else { continue };
            for disk in d.disks.iter().filter(|x| x.snapshot == Location::External) {
                if let Some(s) = disk.source_path() {
                    f.ours.insert(canon(Path::new(s)));
                }
            }
            if excluded.contains(n) {
                continue;
            }
            if let Some(dd) = snap_domain(d) {
                roots.extend(dd.disks.into_iter().map(|x| x.source));
            }
        }
        for r in roots {
            f.needed.insert(canon(&r));
            for l in f.chain(&r)? {
                f.needed.insert(canon(&l.path));
            }
        }
        Ok(f)
    }

    /// The definitions in effect now: live (while running) and persistent.
    fn current_defs(&self, name: &str) -> Result<(Option<DomainDef>, Option<DomainDef>)> {
        let live = if self.pid(name).is_some() { self.live_def(name) } else { None };
        Ok((live, self.persistent_def(name)?))
    }

    /// Hypervisor part of a revert to external snapshot `snap`; the caller
    /// updates the metadata afterwards.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn revert_external(
        &self,
        name: &str,
        store: &SnapshotStore,
        tree: &mut SnapshotTree,
        snap: &SnapshotDef,
        target: &DomainDef,
        persistent: bool,
        flags: u32,
    ) -> Result<()> {
        let ext = ext_disks(snap)?;
        for e in &ext {
            if !e.base.exists() {
                return Err(Error::op_failed(
                    DOM,
                    format!("image '{}' of external snapshot '{}' is missing", e.base.display(), snap.name.as_deref().unwrap_or("")),
                ));
            }
        }
        let mut files = self.snap_files(store, tree, &HashSet::new())?;
        let (live, pers) = self.current_defs(name)?;
        let old_tops: Vec<PathBuf> = live.iter().chain(pers.iter()).flat_map(|d| d.disks.iter().map(|x| x.source.clone())).collect();
        if self.pid(name).is_some() {
            self.stop_guest(name, reason::SHUTOFF_FROM_SNAPSHOT)?;
        }
        let mut newdef = target.clone();
        newdef.name = name.to_owned();
        for e in &ext {
            let mut n = 0;
            let path = loop {
                let cand = if n == 0 { e.overlay.clone() } else { revert_overlay(&e.overlay, n) };
                if !cand.exists() || (!files.needed(&cand) && files.tags(&cand)?.is_empty() && canon(&cand) != canon(&e.base)) {
                    break cand;
                }
                n += 1;
                if n > 10_000 {
                    return Err(Error::op_failed(DOM, format!("no free overlay name next to '{}'", e.overlay.display())));
                }
            };
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(".new");
            let tmp = PathBuf::from(tmp);
            let _ = fs::remove_file(&tmp);
            img::create_overlay(&tmp, &e.base, &e.base_fmt)?;
            fs::rename(&tmp, &path).map_err(|er| Error::system(DOM, format!("cannot rename '{}'", tmp.display()), &er))?;
            let d = newdef.disks.iter_mut().find(|d| d.target == e.target).ok_or_else(|| Error::internal(DOM, "disk vanished"))?;
            d.source = path;
            d.format = "qcow2".into();
        }
        crash_point("qemu-revert-external-after-overlay");
        if persistent {
            self.save_config(&newdef)?;
        }
        // Drop the old tops the domain no longer uses (only our overlays
        // that no snapshot needs).
        let in_use: HashSet<PathBuf> = newdef.disks.iter().map(|d| canon(&d.source)).collect();
        for t in old_tops {
            if in_use.contains(&canon(&t)) || !files.is_ours(&t) || files.needed(&t) || !files.tags(&t)?.is_empty() {
                continue;
            }
            let _ = fs::remove_file(&t);
        }
        if flags & (revert::RUNNING | revert::PAUSED) != 0 {
            let run = flags & revert::RUNNING != 0;
            self.start_guest(&newdef, None, run, reason::RUNNING_FROM_SNAPSHOT, reason::PAUSED_FROM_SNAPSHOT)?;
        } else if persistent {
            self.set_status(name, Status { id: 0, reason: reason::SHUTOFF_FROM_SNAPSHOT })?;
        }
        Ok(())
    }

    /// Image part of deleting the snapshots `doomed` (some external); the
    /// caller has recorded the intent and removes the metadata afterwards.
    pub(super) fn delete_external(&self, name: &str, store: &SnapshotStore, tree: &mut SnapshotTree, doomed: &[String]) -> Result<()> {
        let excluded: HashSet<String> = doomed.iter().cloned().collect();
        let mut files = self.snap_files(store, tree, &excluded)?;
        let mut doomed_tags = HashSet::new();
        let mut candidates: Vec<PathBuf> = Vec::new();
        for n in doomed {
            let Some(d) = tree.get(n) else { continue };
            doomed_tags.insert(super::snapshots::tag_of(d));
            if !d.is_external() {
                continue;
            }
            for e in ext_disks(d).unwrap_or_default() {
                candidates.push(e.base.clone());
                candidates.push(e.overlay.clone());
                let mut k = 1;
                while revert_overlay(&e.overlay, k).exists() {
                    candidates.push(revert_overlay(&e.overlay, k));
                    k += 1;
                }
            }
        }
        let cand_set: HashSet<PathBuf> = candidates.iter().map(|c| canon(c)).collect();
        let foreign = |files: &mut Files, p: &Path| -> Result<bool> { Ok(files.tags(p)?.iter().any(|t| !doomed_tags.contains(t))) };
        let running = self.pid(name).is_some();
        let (live, pers) = self.current_defs(name)?;
        let mut active = if running { live.clone() } else { pers.clone() }.ok_or_else(|| Self::no_domain(name))?;
        let mut switched: Vec<(String, PathBuf, String)> = Vec::new();
        for disk in &mut active.disks {
            let chain = files.chain(&disk.source)?;
            let mut i = 0;
            while i + 1 < chain.len() {
                let (cur, below) = (&chain[i].path, &chain[i + 1].path);
                let removable = cand_set.contains(&canon(cur)) && files.is_ours(cur) && !files.needed(cur) && !foreign(&mut files, cur)?;
                if !removable || files.needed(below) || foreign(&mut files, below)? {
                    break;
                }
                i += 1;
            }
            if i == 0 {
                continue;
            }
            let base = chain[i].path.clone();
            self.progress("snapshot-delete", 10);
            if running {
                self.block_commit(name, &disk.target, &base)?;
            } else {
                img::commit(&chain[0].path, &base)?;
            }
            crash_point("qemu-delete-external-after-commit");
            switched.push((disk.target.clone(), base.clone(), chain[i].format.clone()));
            disk.source = base;
            disk.format = chain[i].format.clone();
        }
        if !switched.is_empty() {
            let apply = |d: &mut DomainDef| {
                for (t, src, fmt) in &switched {
                    if let Some(x) = d.disks.iter_mut().find(|x| &x.target == t) {
                        x.source = src.clone();
                        x.format = fmt.clone();
                    }
                }
            };
            if running {
                if let Some(mut l) = live.clone() {
                    apply(&mut l);
                    self.save_live(&l)?;
                }
            }
            if let Some(mut p) = pers.clone() {
                apply(&mut p);
                self.save_config(&p)?;
            }
        }
        // Files the domain still reads (live and persistent chains).
        let (live, pers) = self.current_defs(name)?;
        let mut in_use = HashSet::new();
        for d in live.iter().chain(pers.iter()) {
            for x in &d.disks {
                in_use.insert(canon(&x.source));
                for l in img::chain(&x.source)? {
                    in_use.insert(canon(&l.path));
                }
            }
        }
        let mut seen = HashSet::new();
        for c in candidates {
            let cc = canon(&c);
            if !seen.insert(cc.clone()) || !c.exists() || in_use.contains(&cc) || !files.is_ours(&c) || files.needed(&c) || foreign(&mut files, &c)? {
                continue;
            }
            fs::remove_file(&c).map_err(|e| Error::system(DOM, format!("cannot remove '{}'", c.display()), &e))?;
        }
        Ok(())
    }

    /// Active block-commit of disk `target`'s top layers into `base` while
    /// the guest runs; returns once QEMU has switched to `base`.
    pub(super) fn block_commit(&self, name: &str, target: &str, base: &Path) -> Result<()> {
        let mut q = self.qmp(name)?;
        let job = format!("commit-{target}");
        q.execute(
            "block-commit",
            Some(json!({
                "job-id": job,
                "device": format!("drive-{target}"),
                "base": base.to_string_lossy(),
            })),
        )?;
        let deadline = std::time::Instant::now() + Duration::from_secs(3600);
        let mut completed = false;
        loop {
            let jobs = q.execute("query-block-jobs", None)?;
            let mine = jobs.as_array().into_iter().flatten().find(|j| j.get("device").and_then(Json::as_str) == Some(job.as_str())).cloned();
            let Some(j) = mine else { break };
            let (off, len) = (j.get("offset").and_then(Json::as_u64).unwrap_or(0), j.get("len").and_then(Json::as_u64).unwrap_or(0));
            if let Some(pct) = off.min(len).saturating_mul(80).checked_div(len) {
                self.progress("snapshot-delete", 10 + pct as u32);
            }
            if !completed && j.get("ready").and_then(Json::as_bool) == Some(true) {
                q.execute("block-job-complete", Some(json!({"device": job})))?;
                completed = true;
            }
            if std::time::Instant::now() > deadline {
                return Err(Error::op_failed(DOM, "block commit timed out"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let blocks = q.execute("query-block", None)?;
        let file = blocks
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b.get("device").and_then(Json::as_str) == Some(format!("drive-{target}").as_str()))
            .and_then(|b| b.get("inserted"))
            .and_then(|i| i.get("file"))
            .and_then(Json::as_str)
            .map(PathBuf::from);
        if file.as_deref().map(canon) != Some(canon(base)) {
            return Err(Error::op_failed(DOM, format!("block commit of disk '{target}' did not complete (QEMU uses {file:?})")));
        }
        Ok(())
    }
}

/// What verify finds wrong with external snapshot `def`'s files: each
/// problem in words, and whether its state is gone (a missing base image:
/// dropping the metadata then loses nothing). A missing overlay leaves the
/// state (the base) intact, and a backing chain that points elsewhere than
/// recorded is not "gone": only a person can tell which file is right.
/// Since 0.2.
pub(super) fn verify_external(def: &SnapshotDef) -> Vec<(String, bool)> {
    let disks = match ext_disks(def) {
        Ok(d) => d,
        Err(e) => return vec![(e.message, false)],
    };
    let mut out = Vec::new();
    for e in disks {
        let is_file = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file());
        // The snapshot's state is its base image (a revert makes a new
        // overlay on it): gone with the base, not with the overlay.
        if !is_file(&e.base) {
            out.push((format!("base image '{}' of disk {} (its state) is gone", e.base.display(), e.target), true));
            continue;
        }
        if !is_file(&e.overlay) {
            out.push((format!("overlay '{}' of disk {} is gone", e.overlay.display(), e.target), false));
            continue;
        }
        match img::chain(&e.overlay) {
            Ok(c) if c.len() >= 2 && canon(&c[1].path) == canon(&e.base) => {}
            Ok(c) if c.len() >= 2 => out.push((
                format!(
                    "backing chain of disk {} re-ordered: overlay '{}' is backed by '{}', recorded '{}'",
                    e.target,
                    e.overlay.display(),
                    c[1].path.display(),
                    e.base.display()
                ),
                false,
            )),
            Ok(_) => out.push((
                format!("backing chain of disk {} broken: overlay '{}' has no backing file (recorded '{}')", e.target, e.overlay.display(), e.base.display()),
                false,
            )),
            Err(err) => out.push((format!("backing chain of disk {} unreadable: {}", e.target, err.message), false)),
        }
    }
    out
}

//! Snapshot disk usage on the qemu driver (issue 20).
//!
//! Internal snapshots: each writable qcow2 disk's metadata is read once
//! ([`crate::qcow2::usage`], read-only, no lock: safe while the guest runs)
//! and a snapshot's numbers are the sum over the disks holding its tag.
//! External snapshots: the overlay files' allocated bytes; what a delete
//! (a commit) would free depends on how much of the overlay the base
//! already allocates, which is left unknown (`None`), never guessed.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use std::time::Duration;

use super::snapshots::{has_internal, hmp_check, internal_disks, tag_of};
use super::{QemuDriver, DOM};
use crate::drivers::{check_flags, DomainRef};
use crate::error::{Error, Result};
use crate::model::Location;
use crate::qcow2::{self, Qcow2Error};
use crate::usage::SnapshotUsage;

/// What a snapshot's usage needs from its definition.
struct Plan {
    name: String,
    tag: String,
    internal: bool,
    external: bool,
    overlays: Vec<String>,
    memory_file: Option<String>,
}

/// Allocated bytes of a regular file (not following a symlink).
fn allocated(path: &Path) -> Option<u64> {
    let md = std::fs::symlink_metadata(path).ok()?;
    md.file_type().is_file().then(|| md.blocks() * 512)
}

/// One image of an internal disk's chain.
struct Image {
    /// The disk's own (top) image, where a delete removes the tag; a tag in
    /// a backing image stays there (the driver never writes a backing file).
    top: bool,
    /// Its snapshots' usage by tag; `None` when the image's layout is one
    /// the reader does not account.
    by_tag: Option<HashMap<String, qcow2::SnapshotUsage>>,
}

type Images = Vec<Image>;

/// Deepest backing chain followed.
const MAX_CHAIN: usize = 64;

/// Bound on QEMU's flush of one disk.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(300);

impl QemuDriver {
    /// Reads each internal disk's metadata once. A running QEMU keeps
    /// metadata changes (the discard of a saved VM state from the current
    /// state, refcounts) in its write-back caches: it is asked to flush
    /// each disk first (HMP `qemu-io DRIVE "flush"`, what a guest's own
    /// flush does), so the file on disk is what QEMU knows.
    fn read_images(&self, name: &str, domdef: &super::domxml::DomainDef) -> Result<Images> {
        let disks = internal_disks(domdef);
        if self.pid(name).is_some() {
            let mut q = self.qmp(name)?;
            for d in &disks {
                let out = q.hmp(&format!("qemu-io drive-{} \"flush\"", d.target), FLUSH_TIMEOUT)?;
                hmp_check("flush the disk", &out)?;
            }
        }
        let mut images = Vec::with_capacity(disks.len());
        for disk in disks {
            // The disk, then its backing chain (where internal snapshots
            // taken before an external one stay, read-only).
            let mut path = disk.source.clone();
            for depth in 0..MAX_CHAIN {
                let top = depth == 0;
                let file = match qcow2::ImageFile::open(&path) {
                    Ok(f) => f,
                    Err(_) if !top => break,
                    Err(e) => return Err(Error::system(DOM, format!("cannot open '{}'", path.display()), &e)),
                };
                match qcow2::usage(&file) {
                    Ok(u) => {
                        let mut by_tag = HashMap::with_capacity(u.snapshots.len());
                        for s in u.snapshots {
                            // qemu finds a tag's first entry; keep that one.
                            by_tag.entry(s.tag.clone()).or_insert(s);
                        }
                        images.push(Image { top, by_tag: Some(by_tag) });
                    }
                    Err(Qcow2Error::NotQcow2) if !top => break,
                    // A layout this reader does not account: unknown.
                    Err(Qcow2Error::Unsupported(_) | Qcow2Error::TooLarge(_)) => images.push(Image { top, by_tag: None }),
                    Err(e) => {
                        return Err(Error::op_failed(
                            DOM,
                            format!("cannot read the snapshots' disk usage of '{}': {e}", path.display()),
                        ))
                    }
                }
                let Ok(Some(next)) = qcow2::backing_file(&file) else { break };
                let next = std::path::PathBuf::from(next);
                path = if next.is_absolute() { next } else { path.parent().map_or(next.clone(), |d| d.join(&next)) };
            }
        }
        Ok(images)
    }

    pub(super) fn snap_usage(&self, dom: &DomainRef, name: Option<&str>, flags: u32) -> Result<Vec<SnapshotUsage>> {
        check_flags(flags, 0, DOM, "qemuDomainSnapshotGetUsage")?;
        let domdef = self.def(&dom.name)?;
        // Under the domain's lock (no snapshot operation of ours runs
        // meanwhile): the plans, then each internal disk's metadata.
        let (mut plans, images) = self.with_tree(dom, |t| {
            let names = match name {
                Some(n) if t.contains(n) => vec![n.to_owned()],
                Some(n) => return Err(Error::no_snapshot(DOM, n)),
                None => t.list(0),
            };
            let plans: Vec<Plan> = names
                .into_iter()
                .filter_map(|n| {
                    let d = t.get(&n)?;
                    Some(Plan {
                        tag: tag_of(d),
                        internal: has_internal(d),
                        external: d.is_external(),
                        overlays: d
                            .disks
                            .iter()
                            .filter(|x| x.snapshot == Location::External)
                            .filter_map(|x| x.source_path().map(str::to_owned))
                            .collect(),
                        memory_file: (d.memory == Location::External).then(|| d.memory_file.clone()).flatten(),
                        name: n,
                    })
                })
                .collect();
            let images = if plans.iter().any(|p| p.internal) { self.read_images(&dom.name, &domdef)? } else { Vec::new() };
            Ok((plans, images))
        })?;
        // Light (index) definitions carry no disk sources: read the full
        // definition of an external snapshot for its overlay paths.
        for p in plans.iter_mut().filter(|p| p.external && p.overlays.is_empty()) {
            let xml = self.snap_xml(dom, &p.name, 0)?;
            if let Ok(def) = crate::xml::parse_snapshot(&xml, crate::xml::ParseFlags { redefine: true, internal: false }) {
                p.overlays = def
                    .disks
                    .iter()
                    .filter(|x| x.snapshot == Location::External)
                    .filter_map(|x| x.source_path().map(str::to_owned))
                    .collect();
                p.memory_file = (def.memory == Location::External).then_some(def.memory_file).flatten();
            }
        }
        let mut out = Vec::with_capacity(plans.len());
        for p in plans {
            let mut row = SnapshotUsage::unknown(p.name.clone());
            if p.internal {
                let mut acc = SnapshotUsage { vm_state_bytes: Some(0), ..SnapshotUsage::unknown(p.name.clone()) };
                acc.reclaimable_bytes = Some(0);
                acc.exclusive_bytes = Some(0);
                acc.shared_bytes = Some(0);
                let mut found = false;
                for img in &images {
                    let Some(by_tag) = &img.by_tag else {
                        acc = SnapshotUsage::unknown(p.name.clone());
                        found = true;
                        break;
                    };
                    if let Some(s) = by_tag.get(&p.tag) {
                        found = true;
                        acc.add(&SnapshotUsage {
                            name: String::new(),
                            // Deleting the snapshot leaves a backing image's tag.
                            reclaimable_bytes: if img.top { s.reclaimable_bytes } else { Some(0) },
                            vm_state_bytes: Some(s.vm_state_bytes),
                            exclusive_bytes: Some(s.exclusive_bytes),
                            shared_bytes: s.shared_bytes,
                            overlay_bytes: None,
                        });
                    }
                }
                // A tag no disk holds (metadata whose image snapshot is
                // gone) frees nothing on disk that we can name: unknown.
                if found {
                    row = acc;
                    row.overlay_bytes = None;
                }
            } else if p.external {
                let mut total = Some(0u64);
                for o in &p.overlays {
                    total = total.and_then(|t| allocated(Path::new(o)).map(|a| t + a));
                }
                row.overlay_bytes = if p.overlays.is_empty() { None } else { total };
                row.vm_state_bytes = match &p.memory_file {
                    Some(f) => std::fs::symlink_metadata(f).ok().filter(|m| m.file_type().is_file()).map(|m| m.len()),
                    None => Some(0),
                };
            }
            out.push(row);
        }
        Ok(out)
    }
}

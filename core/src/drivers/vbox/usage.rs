//! Snapshot disk usage on VirtualBox (issue 20): read from the machine's
//! `.vbox` file (no VBoxManage call beyond the listing).
//!
//! A snapshot's disks are the images its `<Hardware>` attaches: the images
//! that were current when it was taken and became immutable then. Those
//! that are differencing images (a child `<HardDisk>` in the media
//! registry, the `.vdi` files in `Snapshots/`) hold what changed between
//! the parent snapshot and this one: their allocated bytes are the
//! snapshot's `overlayBytes`. `vmStateBytes` is the saved state file's size
//! (`stateFile=`, 0 without one). What a delete frees depends on the merge
//! VirtualBox chooses, so `reclaimableBytes` (and exclusive/shared) stay
//! unknown.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::parse::parse_vbox_uuid;
use super::{VboxDriver, V};
use crate::drivers::{check_flags, DomainRef, Driver, ListKind};
use crate::error::Result;
use crate::usage::SnapshotUsage;
use crate::uuid::Uuid;
use crate::xml::{parse_document, Element};

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn kids<'a>(e: &'a Element, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
    e.elements().filter(move |c| local(&c.name) == name)
}

/// One `<Snapshot>`: name, state file, attached hard disk image UUIDs.
struct FileSnap {
    name: String,
    state_file: Option<String>,
    images: Vec<Uuid>,
}

/// Media registry: image UUID → (location, is a differencing image).
fn registry(e: &Element, diff: bool, out: &mut HashMap<Uuid, (String, bool)>) {
    for d in kids(e, "HardDisk") {
        if let (Some(u), Some(loc)) = (d.attr("uuid").and_then(parse_vbox_uuid), d.attr("location")) {
            out.insert(u, (loc.to_owned(), diff));
        }
        registry(d, true, out);
    }
}

/// Hard disk images a `<Hardware>` (or snapshot) attaches.
fn attached(e: &Element) -> Vec<Uuid> {
    let mut v = Vec::new();
    if let Some(ctls) = e.path("Hardware/StorageControllers").or_else(|| e.child("StorageControllers")) {
        for c in kids(ctls, "StorageController") {
            for a in kids(c, "AttachedDevice").filter(|a| a.attr("type") == Some("HardDisk")) {
                if let Some(u) = a.child("Image").and_then(|i| i.attr("uuid")).and_then(parse_vbox_uuid) {
                    v.push(u);
                }
            }
        }
    }
    v
}

fn walk(e: &Element, out: &mut Vec<FileSnap>) {
    out.push(FileSnap {
        name: e.attr("name").unwrap_or_default().to_owned(),
        state_file: e.attr("stateFile").filter(|s| !s.is_empty()).map(str::to_owned),
        images: attached(e),
    });
    if let Some(k) = e.child("Snapshots") {
        for s in kids(k, "Snapshot") {
            walk(s, out);
        }
    }
}

/// Allocated bytes of a regular file (not following a symlink).
fn allocated(p: &Path) -> Option<u64> {
    let md = std::fs::symlink_metadata(p).ok()?;
    md.file_type().is_file().then(|| md.blocks() * 512)
}

impl VboxDriver {
    pub(super) fn snap_usage(&self, dom: &DomainRef, name: Option<&str>, flags: u32) -> Result<Vec<SnapshotUsage>> {
        check_flags(flags, 0, V, "vboxDomainSnapshotGetUsage")?;
        let names = match name {
            Some(n) => vec![self.snapshot_lookup(dom, n, 0)?],
            None => self.snapshot_list(dom, 0, ListKind::All)?,
        };
        let mut rows: Vec<SnapshotUsage> = names.iter().map(|n| SnapshotUsage::unknown(n.clone())).collect();
        let Some(cfg) = self.cfg_path(dom) else { return Ok(rows) };
        let Ok(text) = crate::fsio::read_regular_string(&cfg, super::redefine::MACHINE_FILE_BYTES) else { return Ok(rows) };
        let Ok(root) = parse_document(&text, "vbox_settings", V) else { return Ok(rows) };
        let Some(m) = kids(&root, "Machine").next() else { return Ok(rows) };
        let mut media = HashMap::new();
        if let Some(hd) = m.path("MediaRegistry/HardDisks") {
            registry(hd, false, &mut media);
        }
        let mut snaps = Vec::new();
        if let Some(s) = m.child("Snapshot") {
            walk(s, &mut snaps);
        }
        let dir = cfg.parent().map(Path::to_path_buf).unwrap_or_default();
        let root_dir = self.runner.file_root();
        let resolve = |p: &str| -> PathBuf {
            if p.starts_with('/') { super::host_path(root_dir.as_deref(), p) } else { dir.join(p) }
        };
        // The k-th row of a name is the k-th snapshot of that name in the
        // file's depth-first order (VirtualBox lists duplicates that way).
        let mut seen: HashMap<String, usize> = HashMap::new();
        for row in &mut rows {
            let k = seen.entry(row.name.clone()).or_insert(0);
            let Some(s) = snaps.iter().filter(|s| s.name == row.name).nth(*k) else { continue };
            *k += 1;
            row.vm_state_bytes = match &s.state_file {
                Some(f) => std::fs::symlink_metadata(resolve(f)).ok().filter(|m| m.file_type().is_file()).map(|m| m.len()),
                None => Some(0),
            };
            let mut total = Some(0u64);
            for u in &s.images {
                match media.get(u) {
                    Some((loc, true)) => total = total.and_then(|t| allocated(&resolve(loc)).map(|a| t + a)),
                    Some((_, false)) => {}
                    None => total = None,
                }
            }
            row.overlay_bytes = total;
        }
        Ok(rows)
    }
}

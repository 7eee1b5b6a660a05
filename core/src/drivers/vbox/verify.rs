//! Verify on VirtualBox (virsnap 0.2, issue 21): VirtualBox keeps the only
//! snapshot tree (virsnap records no metadata beside it), in two places:
//! VBoxSVC's view (`snapshot list`) and the machine's `.vbox` file. Found:
//! a snapshot one of them has and the other not, a parent or current
//! snapshot they disagree on, an online snapshot whose saved-state file is
//! gone. None is repaired: VBoxSVC owns the file while the machine is
//! registered, and dropping a snapshot would merge or discard its disks.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::settings::parse_machine_file;
use super::snapshots::View;
use super::VboxDriver;
use crate::drivers::DomainRef;
use crate::error::Result;
use crate::health::{Finding, Repair};

const WHY: &str = "VirtualBox owns its snapshot tree; virsnap does not rewrite it (fix it in VirtualBox)";

/// [`crate::drivers::Driver::snapshot_verify`] on VirtualBox.
pub fn verify(drv: &VboxDriver, dom: &DomainRef, repair: bool) -> Result<Vec<Finding>> {
    let view = View::load(drv, dom, false)?;
    let l = &view.listing;
    let mut out = Vec::new();
    let mut add = |snap: &str, problem: String| {
        let f = Finding::new(snap, problem);
        out.push(if repair { Finding { repair: Repair::Refused(WHY.to_owned()), ..f } } else { f });
    };
    let Some(path) = drv.cfg_path(dom) else {
        return Ok(out);
    };
    let text = match crate::fsio::read_regular_string(&path, super::redefine::MACHINE_FILE_BYTES) {
        Ok(t) => t,
        Err(e) if e.is_not_found() && l.nodes.is_empty() => return Ok(out),
        Err(e) => return Err(e.to_error(super::V, &path)),
    };
    let file = parse_machine_file(&text)?;
    let name_of = |u: &crate::uuid::Uuid| l.find_uuid(u).map_or_else(|| u.to_string(), |i| l.nodes[i].name.clone());
    for n in &l.nodes {
        let Some(fs) = file.snapshots.get(&n.uuid) else {
            add(&n.name, format!("VirtualBox lists snapshot {} but the machine file '{}' does not hold it", n.uuid, path.display()));
            continue;
        };
        let listed_parent = n.parent.map(|p| l.nodes[p].uuid);
        if listed_parent != fs.parent {
            let show = |p: Option<crate::uuid::Uuid>| p.map_or_else(|| "none".to_owned(), |u| format!("'{}'", name_of(&u)));
            add(&n.name, format!("parent differs: VirtualBox lists {}, the machine file records {}", show(listed_parent), show(fs.parent)));
        }
        if let Some(sf) = &fs.state_file {
            let p = Path::new(sf);
            let p = if p.is_absolute() { super::host_path(drv.runner.file_root().as_deref(), sf) } else { path.parent().unwrap_or(Path::new("/")).join(p) };
            if std::fs::symlink_metadata(&p).is_err() {
                add(&n.name, format!("its saved state '{}' is gone", p.display()));
            }
        }
    }
    // Media: each snapshot's attached hard disks (by UUID, under its
    // StorageControllers) must exist where the machine's media registry
    // puts them (a lost or deleted image: the snapshot's disk state is gone).
    let doc = crate::xml::parse_document(&text, "vbox machine file", super::V)?;
    let folder = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut media: HashMap<String, PathBuf> = HashMap::new();
    collect_media(&doc, &folder, drv.runner.file_root().as_deref(), &mut media);
    let mut used: Vec<(String, String)> = Vec::new();
    collect_snapshot_images(&doc, None, &mut used);
    let mut reported: HashSet<(String, String)> = HashSet::new();
    for (snap, img) in used {
        if let Some(p) = media.get(&img) {
            if std::fs::symlink_metadata(p).is_err() && reported.insert((snap.clone(), img.clone())) {
                add(&snap, format!("its disk image '{}' is gone", p.display()));
            }
        }
    }
    for u in &file.order {
        if l.find_uuid(u).is_none() {
            let name = file.snapshots.get(u).map_or("", |s| s.name.as_str());
            add(name, format!("the machine file holds snapshot {u}, which VirtualBox does not list"));
        }
    }
    let listed_current = l.current.map(|i| l.nodes[i].uuid);
    if !l.nodes.is_empty() && listed_current != file.current {
        let who = listed_current.or(file.current).map(|u| name_of(&u)).unwrap_or_default();
        let show = |p: Option<crate::uuid::Uuid>| p.map_or_else(|| "none".to_owned(), |u| format!("'{}'", name_of(&u)));
        add(&who, format!("current snapshot differs: VirtualBox lists {}, the machine file records {}", show(listed_current), show(file.current)));
    }
    Ok(out)
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Every `<HardDisk uuid= location=>` under `e` (nested differencing disks
/// included): UUID (braces stripped, lower case) to the path this process sees.
fn collect_media(e: &crate::xml::Element, folder: &Path, root: Option<&Path>, out: &mut HashMap<String, PathBuf>) {
    for c in e.elements() {
        if local(&c.name) == "HardDisk" {
            if let (Some(u), Some(loc)) = (c.attr("uuid"), c.attr("location")) {
                let p = if Path::new(loc).is_absolute() { super::host_path(root, loc) } else { folder.join(loc) };
                out.insert(norm(u), p);
            }
        }
        collect_media(c, folder, root, out);
    }
}

/// (snapshot name, image UUID) for each `<Image uuid=>` a `<Snapshot>`'s own
/// hardware attaches (not its child snapshots').
fn collect_snapshot_images(e: &crate::xml::Element, snap: Option<&str>, out: &mut Vec<(String, String)>) {
    for c in e.elements() {
        match local(&c.name) {
            "Snapshot" => collect_snapshot_images(c, c.attr("name"), out),
            "Image" => {
                if let (Some(s), Some(u)) = (snap, c.attr("uuid")) {
                    out.push((s.to_owned(), norm(u)));
                }
            }
            _ => collect_snapshot_images(c, snap, out),
        }
    }
}

fn norm(u: &str) -> String {
    u.trim_matches(|c| c == '{' || c == '}').to_ascii_lowercase()
}

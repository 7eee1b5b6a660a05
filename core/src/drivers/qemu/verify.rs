//! Verify and repair (issue 21 item 2): the snapshot metadata against the
//! qcow2 images' own snapshot tables and the external overlays' backing
//! chains.
//!
//! Found, one finding each, naming the snapshot:
//! - metadata whose internal snapshot is gone from every disk (repair: drop
//!   the metadata, children re-parented; nothing is lost, the state is
//!   gone) or from some disks only (refused: the rest of its state stays);
//! - an external snapshot whose base image (its state) is gone (repair:
//!   drop the metadata), whose overlay is gone (refused: the state is
//!   intact), or whose overlay is backed by another file than recorded, or
//!   by none (refused: only a person can tell which file is right);
//! - a qcow2 snapshot with no metadata (repair: adopt it, i.e. write the
//!   metadata the load reconstructed; a tag on some disks only, or one that
//!   is no valid snapshot name, is refused);
//! - metadata naming a parent that does not exist (repair: made a root, as
//!   every load already treats it) and a second `<active>` marker (repair:
//!   cleared);
//! - the current marker on a snapshot whose state is gone (repair: moved
//!   to its nearest surviving ancestor, as a delete moves it).
//!
//! A repair is one durable batch of the store's journal: a crash before it
//! leaves the state as found, after it the repaired one (the next open
//! replays it).

use std::collections::HashSet;

use super::external::verify_external;
use super::snapshots::{has_internal, internal_disks, tag_of};
use super::{img, QemuDriver};
use crate::drivers::DomainRef;
use crate::error::Result;
use crate::health::{Finding, Repair};
use crate::store::{crash_point, Change};

/// A lossless fix verify may apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fix {
    /// Drop the metadata of a snapshot whose state is gone.
    Drop,
    /// Write metadata for a snapshot that has none.
    Adopt,
    /// Rewrite the metadata as the tree holds it (parent, current marker).
    Rewrite,
}

impl QemuDriver {
    /// [`crate::drivers::Driver::snapshot_verify`] on qemu.
    pub(super) fn snap_verify(&self, dom: &DomainRef, repair: bool) -> Result<Vec<Finding>> {
        let name = &dom.name;
        let (store, _l) = self.lock(name)?;
        let domdef = self.def(name)?;
        let uuid = domdef.uuid.to_string();
        // From the files, not a cached tree: the index is keyed by the
        // qcow2 header's snapshot count and table offset, which a delete
        // plus a create behind our back can leave as they were.
        self.cache.forget(name);
        match std::fs::remove_file(self.index_path(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(crate::error::Error::system(super::DOM, format!("cannot remove '{}'", self.index_path(name).display()), &e));
            }
            _ => {}
        }
        let mut loaded = self.load_tree_for(name, &store, &domdef)?;
        let tree = &mut loaded.tree;
        let mut disk_tags: Vec<(String, HashSet<String>)> = Vec::new();
        for d in internal_disks(&domdef) {
            let tags = img::snapshots(&d.source)?.into_iter().map(|s| s.tag).collect();
            disk_tags.push((d.target.clone(), tags));
        }
        let names = tree.names();
        let with_meta: Vec<String> = names.iter().filter(|n| tree.has_metadata(n) == Some(true)).cloned().collect();
        self.hydrate(&store, tree, &with_meta)?;
        let mut found: Vec<(Finding, Option<Fix>)> = Vec::new();
        let mut known_tags: HashSet<String> = HashSet::new();
        let current = tree.current().map(str::to_owned);
        for n in &names {
            let Some(d) = tree.get(n) else { continue };
            let tag = tag_of(d);
            known_tags.insert(tag.clone());
            if tree.has_metadata(n) != Some(true) {
                let disk = disk_tags.first().map_or("", |(t, _)| t.as_str());
                let missing_on: Vec<&str> = disk_tags.iter().filter(|(_, t)| !t.contains(&tag)).map(|(d, _)| d.as_str()).collect();
                let f = Finding::new(n, format!("qcow2 snapshot '{tag}' on disk {disk} has no metadata"));
                if missing_on.is_empty() {
                    found.push((f, Some(Fix::Adopt)));
                } else {
                    let why = format!("it is not on disk(s) {}; adopting it would make a snapshot that cannot be reverted", missing_on.join(", "));
                    found.push((Finding { repair: Repair::Refused(why), ..f }, None));
                }
                continue;
            }
            let mut gone = false;
            if has_internal(d) && !d.is_external() && !disk_tags.is_empty() {
                let missing_on: Vec<&str> = disk_tags.iter().filter(|(_, t)| !t.contains(&tag)).map(|(d, _)| d.as_str()).collect();
                if missing_on.len() == disk_tags.len() {
                    found.push((Finding::new(n, format!("has metadata but its internal snapshot '{tag}' is gone from disk(s) {}", missing_on.join(", "))), Some(Fix::Drop)));
                    gone = true;
                } else if !missing_on.is_empty() {
                    let kept: Vec<&str> = disk_tags.iter().filter(|(_, t)| t.contains(&tag)).map(|(d, _)| d.as_str()).collect();
                    let f = Finding::new(n, format!("its internal snapshot '{tag}' is gone from disk(s) {} but still on {}", missing_on.join(", "), kept.join(", ")));
                    let why = format!("dropping the metadata would abandon the state still on {}", kept.join(", "));
                    found.push((Finding { repair: Repair::Refused(why), ..f }, None));
                }
            }
            if d.is_external() {
                let problems = verify_external(d);
                let all_gone = problems.iter().any(|(_, g)| *g);
                for (p, state_gone) in problems {
                    if state_gone && !gone {
                        found.push((Finding::new(n, p), Some(Fix::Drop)));
                        gone = true;
                    } else if state_gone {
                        found.push((Finding::new(n, p), None));
                    } else {
                        let why = if all_gone {
                            "its state is gone (see above)".to_owned()
                        } else if p.starts_with("overlay") {
                            "its state, the base image, is intact: dropping the metadata would lose it".to_owned()
                        } else {
                            "re-pointing a backing file could expose the wrong data; check the chain and use 'qemu-img rebase -u'".to_owned()
                        };
                        found.push((Finding { repair: Repair::Refused(why), ..Finding::new(n, p) }, None));
                    }
                }
            }
            if gone && current.as_deref() == Some(n.as_str()) {
                found.push((Finding::new(n, "carries the current marker but its state is gone"), None));
            }
            // The raw file: a parent that does not exist, a second marker.
            let raw = self.full_def(&store, n)?;
            if let Some(p) = raw.parent.as_deref() {
                if !tree.contains(p) && !gone {
                    found.push((Finding::new(n, format!("its metadata names parent '{p}', which does not exist")), Some(Fix::Rewrite)));
                }
            }
            if raw.active == Some(true) && current.as_deref() != Some(n.as_str()) && !gone {
                let cur = current.as_deref().unwrap_or("");
                found.push((Finding::new(n, format!("carries a second current marker (the current snapshot is '{cur}')")), Some(Fix::Rewrite)));
            }
        }
        for (disk, tags) in &disk_tags {
            let mut stray: Vec<&String> = tags.iter().filter(|t| !known_tags.contains(*t)).collect();
            stray.sort();
            for t in stray {
                let f = Finding::new(t, format!("qcow2 snapshot '{t}' on disk {disk} has no metadata"));
                let why = if crate::names::validate_snapshot_name(t).is_err() {
                    "its tag is not a valid snapshot name".to_owned()
                } else {
                    "it is not on the first disk; adopting it would make a snapshot that cannot be reverted".to_owned()
                };
                found.push((Finding { repair: Repair::Refused(why), ..f }, None));
            }
        }
        if !repair || found.iter().all(|(_, fix)| fix.is_none()) {
            return Ok(found.into_iter().map(|(f, _)| f).collect());
        }
        // Apply: one durable batch.
        let mut touched: Vec<String> = Vec::new();
        let mut extra: Vec<Change> = Vec::new();
        let mut dropped: Vec<String> = Vec::new();
        for (f, fix) in &mut found {
            let n = f.snapshot.clone();
            let Some(fix) = *fix else { continue };
            match fix {
                Fix::Drop => {
                    if dropped.contains(&n) {
                        f.repair = Repair::Done("metadata dropped".into());
                        continue;
                    }
                    let parent = tree.parent(&n).map(str::to_owned);
                    let r = tree.remove(&n)?;
                    extra.push(store.removal_for(&n)?);
                    let mut what = "metadata dropped".to_owned();
                    if !r.reparented.is_empty() {
                        what += &format!(", children {} re-parented to {}", r.reparented.join(", "), parent.as_deref().map_or("the root".into(), |p| format!("'{p}'")));
                    }
                    touched.extend(r.reparented);
                    dropped.push(n);
                    f.repair = Repair::Done(what);
                }
                Fix::Adopt => {
                    // The definition it reverts with today (a snapshot
                    // without metadata reverts with the one in effect), so
                    // adopting changes nothing about a later revert.
                    let pers = self.persistent_def(name)?;
                    let el = std::sync::Arc::new(pers.as_ref().unwrap_or(&domdef).to_element());
                    if let Some(d) = tree.get_mut(&n) {
                        d.domain = Some(el);
                    }
                    tree.set_has_metadata(&n, true);
                    touched.push(n);
                    f.repair = Repair::Done("adopted: metadata written".into());
                }
                Fix::Rewrite => {
                    touched.push(n);
                    f.repair = Repair::Done("metadata rewritten".into());
                }
            }
        }
        // The current marker of a dropped snapshot moved (tree.remove) to its
        // nearest surviving ancestor, or away.
        let new_current = tree.current().map(str::to_owned);
        for (f, fix) in &mut found {
            if fix.is_none() && f.problem == "carries the current marker but its state is gone" && dropped.contains(&f.snapshot) {
                f.repair = Repair::Done(match &new_current {
                    Some(c) => format!("current marker moved to '{c}'"),
                    None => "no snapshot is current now".to_owned(),
                });
            }
        }
        touched.retain(|t| !dropped.contains(t));
        touched.extend(new_current);
        crash_point("qemu-verify-before-repair");
        self.persist_with(name, &store, tree, &touched, &uuid, extra, true)?;
        let l = std::mem::take(&mut loaded);
        self.recache(name, &store, l);
        Ok(found.into_iter().map(|(f, _)| f).collect())
    }
}

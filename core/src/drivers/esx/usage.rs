//! Snapshot disk usage on ESX (issue 20): the snapshot's files from the
//! VM's `layoutEx`, read with the snapshot tree in one property read.
//!
//! `vmStateBytes`: the size of the snapshot's memory file (`memoryKey`); a
//! snapshot without one taken powered off has none (0), otherwise unknown.
//! `overlayBytes`: the delta disks the snapshot froze, i.e. the last link
//! of each of its disk chains when the chain has more than the base disk.
//! What a delete (a consolidation) frees is the server's business:
//! `reclaimableBytes`, exclusive and shared stay unknown.

use std::collections::HashMap;

use super::soap::{MoRef, Node};
use super::tree::Tree;
use super::vm::Power;
use super::{EsxDriver, ESX};
use crate::drivers::{check_flags, DomainRef};
use crate::error::Result;
use crate::usage::SnapshotUsage;

fn num(n: &Node, child: &str) -> Option<i64> {
    n.child_text(child).and_then(|t| t.trim().parse().ok())
}

/// One snapshot's layout: memory file key, disk chains (file keys per link).
struct Layout {
    memory: i64,
    chains: Vec<Vec<Vec<i64>>>,
}

fn layouts(v: Option<&Node>) -> (HashMap<i64, u64>, HashMap<MoRef, Layout>) {
    let mut files = HashMap::new();
    let mut snaps = HashMap::new();
    let Some(v) = v else { return (files, snaps) };
    for f in v.children_named("file") {
        if let (Some(k), Some(s)) = (num(f, "key"), num(f, "size")) {
            files.insert(k, u64::try_from(s).unwrap_or(0));
        }
    }
    for s in v.children_named("snapshot") {
        let Some(key) = s.child("key").and_then(MoRef::from_node) else { continue };
        let chains = s
            .children_named("disk")
            .map(|d| d.children_named("chain").map(|c| c.children_named("fileKey").filter_map(|k| k.text.trim().parse().ok()).collect()).collect())
            .collect();
        snaps.insert(key, Layout { memory: num(s, "memoryKey").unwrap_or(-1), chains });
    }
    (files, snaps)
}

impl EsxDriver {
    pub(super) fn snap_usage(&self, dom: &DomainRef, name: Option<&str>, flags: u32) -> Result<Vec<SnapshotUsage>> {
        check_flags(flags, 0, ESX, "esxDomainSnapshotGetUsage")?;
        let oc = self.read_vm(dom, &["snapshot", "layoutEx"])?;
        let t = Tree::from_info(oc.prop("snapshot"));
        let idx: Vec<usize> = match name {
            Some(n) => vec![self.find(&t, n)?],
            None => (0..t.len()).collect(),
        };
        let (files, snaps) = layouts(oc.prop("layoutEx"));
        let size = |k: &i64| files.get(k).copied();
        Ok(idx
            .into_iter()
            .map(|i| {
                let s = &t.nodes[i];
                let mut row = SnapshotUsage::unknown(s.name.clone());
                if let Some(l) = snaps.get(&s.moref) {
                    row.vm_state_bytes = if l.memory >= 0 {
                        size(&l.memory)
                    } else if s.power == Power::Off {
                        Some(0)
                    } else {
                        None
                    };
                    let mut total = Some(0u64);
                    for chain in &l.chains {
                        if chain.len() >= 2 {
                            for k in chain.last().into_iter().flatten() {
                                total = total.and_then(|t| size(k).map(|s| t + s));
                            }
                        }
                    }
                    row.overlay_bytes = total;
                }
                row
            })
            .collect())
    }
}

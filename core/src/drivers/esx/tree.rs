//! A VM's snapshot tree as the server reports it in one read of the
//! `snapshot` property (`currentSnapshot` + `rootSnapshotList`), kept in
//! depth-first pre-order. ESX allows duplicate names: lookup by name takes
//! the first in that order (libvirt's and VirtualBox's rule), listings show
//! every snapshot.

use super::soap::{parse_datetime, MoRef, Node};
use super::vm::Power;
use crate::flags::list;
use crate::model::SnapshotState;
use crate::uuid::Uuid;

/// One snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snap {
    /// `VirtualMachineSnapshot` reference.
    pub moref: MoRef,
    /// Name (may repeat within a VM).
    pub name: String,
    /// Description (empty when unset).
    pub description: String,
    /// The server's per-VM snapshot id.
    pub id: i64,
    /// `createTime`, Unix seconds.
    pub create_time: i64,
    /// Power state recorded in the snapshot.
    pub power: Power,
    /// `quiesced`.
    pub quiesced: bool,
    /// Parent index.
    pub parent: Option<usize>,
    /// Child indices, in the server's order.
    pub children: Vec<usize>,
    /// Index one past this snapshot's subtree in pre-order.
    pub subtree_end: usize,
}

impl Snap {
    /// libvirt's snapshot state for the recorded power state.
    pub fn state(&self) -> SnapshotState {
        match self.power {
            Power::On => SnapshotState::Running,
            Power::Suspended => SnapshotState::Paused,
            Power::Off | Power::Unknown => SnapshotState::Shutoff,
        }
    }
}

/// The tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    /// Snapshots in depth-first pre-order.
    pub nodes: Vec<Snap>,
    /// Root indices.
    pub roots: Vec<usize>,
    /// `currentSnapshot`, if set (it may name a snapshot not in the tree).
    pub current: Option<MoRef>,
}

impl Tree {
    /// Reads the `snapshot` property's value (`VirtualMachineSnapshotInfo`);
    /// also accepts a bare `ArrayOfVirtualMachineSnapshotTree`.
    pub fn from_info(val: Option<&Node>) -> Self {
        let mut t = Self::default();
        let Some(v) = val else { return t };
        t.current = v.child("currentSnapshot").and_then(MoRef::from_node);
        for r in v.children.iter().filter(|c| c.name == "rootSnapshotList" || c.name == "VirtualMachineSnapshotTree") {
            if let Some(i) = t.add(r, None) {
                t.roots.push(i);
            }
        }
        t
    }

    fn add(&mut self, n: &Node, parent: Option<usize>) -> Option<usize> {
        let moref = n.child("snapshot").and_then(MoRef::from_node)?;
        let i = self.nodes.len();
        self.nodes.push(Snap {
            moref,
            name: n.child_text("name").unwrap_or_default().to_owned(),
            description: n.child_text("description").unwrap_or_default().to_owned(),
            id: n.child_text("id").and_then(|s| s.trim().parse().ok()).unwrap_or(-1),
            create_time: n.child_text("createTime").and_then(parse_datetime).unwrap_or(0),
            power: Power::parse(n.child_text("state").unwrap_or_default()),
            quiesced: n.child_text("quiesced").map(str::trim) == Some("true"),
            parent,
            children: Vec::new(),
            subtree_end: i + 1,
        });
        for c in n.children_named("childSnapshotList") {
            if let Some(ci) = self.add(c, Some(i)) {
                self.nodes[i].children.push(ci);
            }
        }
        let end = self.nodes.len();
        self.nodes[i].subtree_end = end;
        Some(i)
    }

    /// Number of snapshots.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The first snapshot named `name` in pre-order.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|s| s.name == name)
    }

    /// The snapshot with server id `id`.
    pub fn find_id(&self, id: i64) -> Option<usize> {
        self.nodes.iter().position(|s| s.id == id)
    }

    /// The current snapshot's index, when it is in the tree.
    pub fn current_index(&self) -> Option<usize> {
        let c = self.current.as_ref()?;
        self.nodes.iter().position(|s| &s.moref == c)
    }

    fn keep(&self, i: usize, flags: u32) -> bool {
        let s = &self.nodes[i];
        let leaf = s.children.is_empty();
        if flags & list::LEAVES != 0 && !leaf {
            return false;
        }
        if flags & list::NO_LEAVES != 0 && leaf {
            return false;
        }
        // ESX keeps no libvirt metadata: every snapshot is metadata-less.
        if flags & (list::METADATA | list::NO_METADATA) == list::METADATA {
            return false;
        }
        if flags & (list::INACTIVE | list::ACTIVE | list::DISK_ONLY) != 0 {
            let off = s.state() == SnapshotState::Shutoff;
            if (off && flags & list::INACTIVE == 0) || (!off && flags & list::ACTIVE == 0) {
                return false;
            }
        }
        // Every ESX snapshot is internal.
        if flags & (list::INTERNAL | list::EXTERNAL) == list::EXTERNAL {
            return false;
        }
        true
    }

    fn names(&self, idx: impl Iterator<Item = usize>, flags: u32) -> Vec<String> {
        idx.filter(|&i| self.keep(i, flags)).map(|i| self.nodes[i].name.clone()).collect()
    }

    /// Indices [`Self::list`] (`of` is `None`) or [`Self::list_children`]
    /// of `of` would name, in the same order. Since 0.1.0.
    pub fn indices(&self, of: Option<usize>, flags: u32) -> Vec<usize> {
        let all: Vec<usize> = match of {
            None if flags & list::ROOTS != 0 => self.roots.clone(),
            None => (0..self.nodes.len()).collect(),
            Some(i) if flags & list::DESCENDANTS != 0 => (i + 1..self.nodes[i].subtree_end).collect(),
            Some(i) => self.nodes[i].children.clone(),
        };
        all.into_iter().filter(|&i| self.keep(i, flags)).collect()
    }

    /// Names matching `flags` (`ROOTS` = roots only), in pre-order.
    pub fn list(&self, flags: u32) -> Vec<String> {
        if flags & list::ROOTS != 0 {
            self.names(self.roots.iter().copied(), flags)
        } else {
            self.names(0..self.nodes.len(), flags)
        }
    }

    /// Children of `i` matching `flags` (`DESCENDANTS` = the whole subtree).
    pub fn list_children(&self, i: usize, flags: u32) -> Vec<String> {
        if flags & list::DESCENDANTS != 0 {
            self.names(i + 1..self.nodes[i].subtree_end, flags)
        } else {
            self.names(self.nodes[i].children.iter().copied(), flags)
        }
    }

    /// A stable UUID for snapshot `i` of the domain `dom`: the domain's
    /// first 8 bytes, then its last 8 XOR the server's snapshot id.
    pub fn uuid_of(&self, dom: &Uuid, i: usize) -> Uuid {
        snapshot_uuid(dom, self.nodes[i].id)
    }

    /// The snapshot a UUID from [`Self::uuid_of`] names.
    pub fn find_uuid(&self, dom: &Uuid, u: &Uuid) -> Option<usize> {
        if u.0[..8] != dom.0[..8] {
            return None;
        }
        let mut tail = [0u8; 8];
        for (k, t) in tail.iter_mut().enumerate() {
            *t = u.0[8 + k] ^ dom.0[8 + k];
        }
        let id = i64::from_be_bytes(tail);
        self.find_id(id).filter(|_| id > 0)
    }
}

/// See [`Tree::uuid_of`].
pub fn snapshot_uuid(dom: &Uuid, id: i64) -> Uuid {
    let mut b = dom.0;
    for (k, x) in id.to_be_bytes().iter().enumerate() {
        b[8 + k] ^= x;
    }
    Uuid(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::esx::soap::parse;

    fn tree() -> Tree {
        let xml = r#"<val xmlns:X="http://www.w3.org/2001/XMLSchema-instance" X:type="VirtualMachineSnapshotInfo">
          <currentSnapshot type="VirtualMachineSnapshot">snapshot-17</currentSnapshot>
          <rootSnapshotList><snapshot type="VirtualMachineSnapshot">snapshot-15</snapshot><name>a</name><id>1</id>
            <createTime>2026-11-25T17:38:38.98Z</createTime><state>poweredOn</state>
            <childSnapshotList><snapshot type="VirtualMachineSnapshot">snapshot-17</snapshot><name>b</name><id>2</id><state>poweredOff</state>
              <childSnapshotList><snapshot type="VirtualMachineSnapshot">snapshot-19</snapshot><name>c</name><id>3</id><state>poweredOn</state></childSnapshotList>
            </childSnapshotList>
            <replaySupported>false</replaySupported>
            <childSnapshotList><snapshot type="VirtualMachineSnapshot">snapshot-21</snapshot><name>a</name><id>4</id><state>suspended</state></childSnapshotList>
          </rootSnapshotList>
          <rootSnapshotList><snapshot type="VirtualMachineSnapshot">snapshot-23</snapshot><name>r2</name><id>5</id><state>poweredOff</state></rootSnapshotList>
        </val>"#;
        Tree::from_info(Some(&parse(xml).expect("parses")))
    }

    #[test]
    fn preorder_and_filters() {
        let t = tree();
        assert_eq!(t.list(0), ["a", "b", "c", "a", "r2"]);
        assert_eq!(t.list(list::ROOTS), ["a", "r2"]);
        assert_eq!(t.list(list::LEAVES), ["c", "a", "r2"]);
        assert_eq!(t.list(list::NO_LEAVES), ["a", "b"]);
        assert_eq!(t.list(list::INACTIVE), ["b", "r2"]);
        assert_eq!(t.list(list::ACTIVE), ["a", "c", "a"]);
        assert!(t.list(list::METADATA).is_empty());
        assert_eq!(t.list(list::NO_METADATA).len(), 5);
        assert_eq!(t.find("a"), Some(0));
        assert_eq!(t.current_index(), Some(1));
        assert_eq!(t.list_children(0, 0), ["b", "a"]);
        assert_eq!(t.list_children(0, list::DESCENDANTS), ["b", "c", "a"]);
        assert_eq!(t.nodes[0].create_time, 1_795_628_318);
        assert_eq!(t.nodes[3].state(), SnapshotState::Paused);
        let dom = Uuid([7; 16]);
        for i in 0..t.len() {
            assert_eq!(t.find_uuid(&dom, &t.uuid_of(&dom, i)), Some(i));
        }
        assert_eq!(t.find_uuid(&Uuid([8; 16]), &t.uuid_of(&dom, 0)), None);
        assert!(Tree::from_info(None).is_empty());
    }

    /// Property test: mutated snapshot-tree responses either fail to parse
    /// or give a tree whose every listing and lookup works, never a panic.
    #[test]
    fn mutated_trees_never_panic() {
        let doc = format!(
            "<v><currentSnapshot type='VirtualMachineSnapshot'>snapshot-17</currentSnapshot>{}</v>",
            "<rootSnapshotList><snapshot type='VirtualMachineSnapshot'>snapshot-15</snapshot><name>a</name><id>1</id><createTime>2026-11-25T17:38:38Z</createTime><state>poweredOn</state><childSnapshotList><snapshot type='VirtualMachineSnapshot'>snapshot-17</snapshot><name>b</name><id>2</id><state>poweredOff</state></childSnapshotList></rootSnapshotList>"
        );
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"<>/'=:xT-9Z";
        let mut parsed = 0;
        for _ in 0..5000 {
            let mut b = doc.as_bytes().to_vec();
            for _ in 0..(next() % 3 + 1) {
                let i = usize::try_from(next() % b.len() as u64).unwrap_or(0);
                let c = alphabet[usize::try_from(next() % alphabet.len() as u64).unwrap_or(0)];
                if next() % 2 == 0 { b[i] = c } else { b.insert(i, c) }
            }
            let Ok(n) = parse(&String::from_utf8_lossy(&b)) else { continue };
            parsed += 1;
            let t = Tree::from_info(Some(&n));
            for f in [0, list::ROOTS, list::LEAVES, list::NO_LEAVES, list::ACTIVE, list::INACTIVE] {
                let _ = t.list(f);
            }
            for i in 0..t.len() {
                let _ = t.list_children(i, list::DESCENDANTS);
                let _ = t.find_uuid(&Uuid([1; 16]), &t.uuid_of(&Uuid([1; 16]), i));
            }
            let _ = t.current_index();
        }
        assert!(parsed > 100, "too few mutants parsed ({parsed}) to mean anything");
    }
}

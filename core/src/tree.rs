//! The snapshot tree of one domain: an arena with a name index, a UUID index,
//! creation order and the current snapshot.
//!
//! Costs: lookup O(1); insert amortized O(1); list O(n); children O(k);
//! removing a subtree O(size of subtree), amortized. Nothing walks the whole
//! tree unless the caller asked for the whole tree.

use std::collections::HashMap;
use std::sync::Arc;

pub(crate) mod fxhash;
mod name_index;
mod order;

use name_index::NameIndex;
use order::CreationOrder;

use crate::error::{Error, ErrorDomain, Result};
use crate::flags::list;
use crate::model::{SnapshotDef, SnapshotState};
use crate::names::SnapName;
use crate::uuid::Uuid;

type Idx = usize;

/// `LIST_*` bits that filter (the others choose the set or the order).
const FILTERS: u32 = list::LEAVES
    | list::NO_LEAVES
    | list::METADATA
    | list::NO_METADATA
    | list::INACTIVE
    | list::ACTIVE
    | list::DISK_ONLY
    | list::INTERNAL
    | list::EXTERNAL;

/// What a walk reads (name, children, parent, seq) comes first, in the
/// node's first cache line: nodes are line-aligned.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
struct Node {
    /// `def.name` by value ([`SnapshotTree::visit`] hands it out; a short
    /// name is copied from this line, which a walk reads anyway).
    name: SnapName,
    /// Children in creation order.
    children: Vec<Idx>,
    parent: Option<Idx>,
    /// Position in [`CreationOrder`] (renumbered, in order, when it compacts).
    seq: usize,
    def: SnapshotDef,
    uuid: Uuid,
    has_metadata: bool,
    /// The definition formatted by the driver ([`SnapshotTree::cache_xml`]);
    /// cleared by every mutable access to the node.
    xml: Option<Arc<str>>,
    /// Formatted once through [`SnapshotTree::xml_with`] since the last
    /// change: the next format is kept (what is read twice is cached).
    formatted: bool,
}

/// What a removal did, so a persistent driver can update its files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// Names removed.
    pub removed: Vec<String>,
    /// Names whose parent changed (their metadata must be rewritten).
    pub reparented: Vec<String>,
}

/// A domain's snapshots.
#[derive(Debug, Clone, Default)]
pub struct SnapshotTree {
    nodes: Vec<Option<Node>>,
    free: Vec<Idx>,
    /// Name → slot. Short names sit in the table itself ([`SnapName`]): a
    /// lookup reads no node and no string elsewhere in memory.
    by_name: NameIndex,
    by_uuid: HashMap<Uuid, Idx>,
    /// Creation order with a copy of each name, so listing names in
    /// creation order without filters reads one dense array and not one
    /// scattered node per name.
    order: CreationOrder,
    roots: Vec<Idx>,
    current: Option<Idx>,
    /// UUIDs live only in the index ([`Self::in_memory`]): definitions do not
    /// get a `<virsnap><uuid>` private element (fewer allocations per
    /// snapshot for drivers that never write definitions out).
    index_only_uuids: bool,
    /// The error domain of "snapshot not found" from this tree: the owning
    /// driver's (`None`: `VIR_FROM_DOMAIN_SNAPSHOT`), so the error is made
    /// right where it arises.
    not_found_domain: Option<ErrorDomain>,
}

/// A random (version 4) UUID without a system call per snapshot: 128 bits
/// from `/dev/urandom` once per process, then a counter mixed through
/// splitmix64 (a bijection of the counter, so repeats need a 122-bit
/// coincidence; the caller still checks its index). Uniqueness is what
/// snapshot UUIDs need, not secrecy.
fn fresh_uuid() -> Uuid {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static SEED: OnceLock<(u64, u64)> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let &(s0, s1) = SEED.get_or_init(|| {
        let b = Uuid::generate().0;
        let (lo, hi) = b.split_at(8);
        (
            u64::from_le_bytes(lo.try_into().unwrap_or_default()),
            u64::from_le_bytes(hi.try_into().unwrap_or_default()),
        )
    });
    let c = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&mix(s1 ^ c.wrapping_mul(0xD1B5_4A32_D192_ED03)).to_le_bytes());
    b[8..].copy_from_slice(&mix(s0.wrapping_add(c)).to_le_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Uuid(b)
}

fn moment_exists(name: &str) -> Error {
    Error::op_failed(ErrorDomain::Domain, format!("domain moment {name} already exists"))
}

impl SnapshotTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty tree for a driver that never persists definitions (the test
    /// driver): UUIDs are kept in the index only, not recorded in each
    /// definition's private data. UUIDs already in a definition are used.
    pub fn in_memory() -> Self {
        Self { index_only_uuids: true, ..Self::default() }
    }

    /// Makes "snapshot not found" from this tree's lookups an error of
    /// `domain` (the driver's own, as libvirt's drivers report it).
    /// Since 0.1.0.
    pub fn set_not_found_domain(&mut self, domain: ErrorDomain) {
        self.not_found_domain = Some(domain);
    }

    fn not_found(&self, name: &str) -> Error {
        Error::no_snapshot(self.not_found_domain.unwrap_or(ErrorDomain::DomainSnapshot), name)
    }

    /// Number of snapshots.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when there are no snapshots.
    pub fn is_empty(&self) -> bool {
        self.by_name.len() == 0
    }

    fn node(&self, i: Idx) -> &Node {
        // Indices come only from our own maps and lists, which hold live slots.
        match self.nodes.get(i) {
            Some(Some(n)) => n,
            _ => unreachable!("snapshot tree index {i} is dangling"),
        }
    }

    fn node_mut(&mut self, i: Idx) -> &mut Node {
        match self.nodes.get_mut(i) {
            Some(Some(n)) => {
                // Any change may touch what the cached XML shows.
                n.xml = None;
                n.formatted = false;
                n
            }
            _ => unreachable!("snapshot tree index {i} is dangling"),
        }
    }

    fn idx(&self, name: &str) -> Option<Idx> {
        self.by_name.get(name.as_bytes())
    }

    fn name_of(&self, i: Idx) -> &str {
        self.node(i).name.as_str()
    }

    /// `name` by value for a handle that outlives the call, or `None` when
    /// it does not exist. Reads the index only: no node, no allocation (a
    /// long name shares the tree's string). Since 0.1.
    pub fn shared_name(&self, name: &str) -> Option<SnapName> {
        self.by_name.get_name(name.as_bytes()).cloned()
    }

    /// True when `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains(name.as_bytes())
    }

    /// The definition of `name`.
    pub fn get(&self, name: &str) -> Option<&SnapshotDef> {
        self.idx(name).map(|i| &self.node(i).def)
    }

    /// The definition of `name`, mutable. Do not change its name or parent
    /// here; use [`Self::rename`] and [`Self::set_parent`].
    pub fn get_mut(&mut self, name: &str) -> Option<&mut SnapshotDef> {
        let i = self.idx(name)?;
        Some(&mut self.node_mut(i).def)
    }

    /// The XML a driver cached for `name` with [`Self::cache_xml`], if the
    /// node has not been changed since.
    pub fn cached_xml(&self, name: &str) -> Option<Arc<str>> {
        self.idx(name).and_then(|i| self.node(i).xml.clone())
    }

    /// Caches the formatted XML of `name` (dropped on its next change:
    /// [`Self::get_mut`], rename, reparenting, redefinition).
    pub fn cache_xml(&mut self, name: &str, xml: Arc<str>) {
        if let Some(i) = self.idx(name) {
            // Not node_mut: that is what clears the cache.
            if let Some(Some(n)) = self.nodes.get_mut(i) {
                n.xml = Some(xml);
            }
        }
    }

    /// The XML of `name`: the cached text, else `format(def)`, which is
    /// cached from its second use on (a snapshot read once costs no copy and
    /// no memory; one read again is a copy). One index lookup. `None` when
    /// `name` does not exist.
    pub fn xml_with(&mut self, name: &str, format: impl FnOnce(&SnapshotDef) -> (String, bool)) -> Option<String> {
        let i = self.idx(name)?;
        // Not node_mut: that is what clears the cache.
        let Some(Some(n)) = self.nodes.get_mut(i) else { return None };
        if let Some(x) = &n.xml {
            return Some(String::from(&**x));
        }
        let (text, cacheable) = format(&n.def);
        if cacheable {
            if n.formatted {
                n.xml = Some(Arc::from(text.as_str()));
            }
            n.formatted = true;
        }
        Some(text)
    }

    /// The UUID of `name`.
    pub fn uuid_of(&self, name: &str) -> Option<Uuid> {
        self.idx(name).map(|i| self.node(i).uuid)
    }

    /// The name of the snapshot with `uuid`.
    pub fn lookup_uuid(&self, uuid: &Uuid) -> Option<&str> {
        self.by_uuid.get(uuid).map(|&i| self.name_of(i))
    }

    /// Does `name` carry metadata (false for snapshots found only in images).
    pub fn has_metadata(&self, name: &str) -> Option<bool> {
        self.idx(name).map(|i| self.node(i).has_metadata)
    }

    /// Marks whether `name` carries metadata.
    pub fn set_has_metadata(&mut self, name: &str, value: bool) {
        if let Some(i) = self.idx(name) {
            self.node_mut(i).has_metadata = value;
        }
    }

    /// Inserts a new snapshot under `def.parent` (which must exist, or be
    /// `None` for a root). A missing UUID is generated and recorded in `def`.
    /// A duplicate name gives libvirt's `domain moment X already exists`.
    pub fn insert(&mut self, mut def: SnapshotDef, has_metadata: bool) -> Result<()> {
        let name = match def.name.as_deref() {
            Some(n) => SnapName::new(n),
            None => return Err(Error::internal(ErrorDomain::DomainSnapshot, "snapshot without a name")),
        };
        if self.by_name.contains(name.as_bytes()) {
            return Err(moment_exists(name.as_str()));
        }
        let parent = match &def.parent {
            Some(p) => Some(self.idx(p).ok_or_else(|| {
                Error::invalid_arg(ErrorDomain::Domain, format!("parent {p} for moment {name} not found"))
            })?),
            None => None,
        };
        let uuid = match def.uuid() {
            Some(u) if !self.by_uuid.contains_key(&u) => u,
            _ => {
                let mut u = fresh_uuid();
                while self.by_uuid.contains_key(&u) {
                    u = fresh_uuid();
                }
                if !self.index_only_uuids {
                    def.set_uuid(u);
                }
                u
            }
        };
        let i = self.free.pop().unwrap_or(self.nodes.len());
        let node = Node {
            def,
            name: name.clone(),
            parent,
            children: Vec::new(),
            seq: self.order.push(i, name.clone()),
            uuid,
            has_metadata,
            xml: None,
            formatted: false,
        };
        if i == self.nodes.len() {
            self.nodes.push(Some(node));
        } else {
            self.nodes[i] = Some(node);
        }
        match parent {
            Some(p) => self.node_mut(p).children.push(i),
            None => self.roots.push(i),
        }
        self.by_name.insert(name, i);
        self.by_uuid.insert(uuid, i);
        Ok(())
    }

    /// Builds a tree from definitions read back from disk (each with its
    /// has-metadata flag), in time linear in their number whatever their
    /// order. Since 0.1.
    ///
    /// The order given is the creation order (and so the order of
    /// siblings); parents need not come first. Links are made after every
    /// definition is placed, as
    /// libvirt's `virDomainMomentUpdateRelations` does: a snapshot whose
    /// parent is missing becomes a root (its own children keep their link);
    /// one that would close a cycle becomes a root. The last definition
    /// with `<active>1` is current. Each such repair, and each definition
    /// that cannot be placed (a duplicate name), is one line of the returned
    /// problems: "NAME: what happened".
    pub fn from_loaded(defs: impl IntoIterator<Item = (SnapshotDef, bool)>) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let mut tree = Self::new();
        let mut current = None;
        // placed nodes in creation order, with the parent each names
        let mut placed: Vec<(Idx, Option<String>)> = Vec::new();
        for (mut d, has_metadata) in defs {
            let wanted = d.parent.take();
            let name = d.name.clone().unwrap_or_default();
            let active = d.active == Some(true);
            match tree.insert(d, has_metadata) {
                Ok(()) => {
                    if let Some(i) = tree.idx(&name) {
                        placed.push((i, wanted));
                        if active {
                            current = Some(i);
                        }
                    }
                }
                Err(e) => problems.push(format!("{name}: {}", e.message)),
            }
        }
        // parent links, without touching child lists yet
        for (i, wanted) in &placed {
            let Some(p) = wanted else { continue };
            match tree.idx(p) {
                Some(pi) => tree.node_mut(*i).parent = Some(pi),
                None => problems.push(format!("{}: parent {p} not found; made a root", tree.name_of(*i))),
            }
        }
        // Break cycles: follow each unvisited node's parents, stamping the
        // path; meeting this walk's own stamp closes a cycle, whose newest
        // member becomes a root (libvirt cuts at the last one it links).
        // Every node is stamped once: linear.
        let mut stamp = vec![0usize; tree.nodes.len()];
        for (walk, (start, _)) in placed.iter().enumerate() {
            let walk = walk + 1;
            let mut cur = *start;
            loop {
                if stamp[cur] != 0 {
                    if stamp[cur] == walk {
                        let mut newest = cur;
                        let mut k = tree.node(cur).parent;
                        while let Some(c) = k {
                            if c == cur {
                                break;
                            }
                            if tree.node(c).seq > tree.node(newest).seq {
                                newest = c;
                            }
                            k = tree.node(c).parent;
                        }
                        let p = tree.node(newest).parent.map(|p| tree.name_of(p).to_owned()).unwrap_or_default();
                        problems.push(format!("{}: parent {p} would create a cycle; made a root", tree.name_of(newest)));
                        tree.node_mut(newest).parent = None;
                    }
                    break;
                }
                stamp[cur] = walk;
                match tree.node(cur).parent {
                    Some(p) => cur = p,
                    None => break,
                }
            }
        }
        // child lists and roots in creation order, parent names from links
        tree.roots.clear();
        for (i, _) in &placed {
            let i = *i;
            match tree.node(i).parent {
                Some(p) => {
                    let pname = tree.name_of(p).to_owned();
                    tree.node_mut(i).def.parent = Some(pname);
                    tree.node_mut(p).children.push(i);
                }
                None => tree.roots.push(i),
            }
        }
        tree.current = current;
        (tree, problems)
    }

    /// Replaces the definition of an existing snapshot (redefine), keeping its
    /// children, UUID and creation order. The parent follows `def.parent`.
    pub fn replace(&mut self, mut def: SnapshotDef) -> Result<()> {
        let name = def.name.clone().unwrap_or_default();
        let i = self.idx(&name).ok_or_else(|| self.not_found(&name))?;
        let new_parent = def.parent.clone();
        self.check_parent(&name, new_parent.as_deref())?;
        if !self.index_only_uuids {
            def.set_uuid(self.node(i).uuid);
        }
        def.parent = self.parent(&name).map(str::to_owned);
        self.node_mut(i).def = def;
        self.set_parent(&name, new_parent.as_deref())
    }

    /// libvirt's redefine checks for making `parent` the parent of `name`.
    pub fn check_parent(&self, name: &str, parent: Option<&str>) -> Result<()> {
        let Some(p) = parent else { return Ok(()) };
        if p == name {
            return Err(Error::invalid_arg(ErrorDomain::Domain, format!("cannot set moment {name} as its own parent")));
        }
        let Some(mut cur) = self.idx(p) else {
            return Err(Error::invalid_arg(ErrorDomain::Domain, format!("parent {p} for moment {name} not found")));
        };
        if let Some(me) = self.idx(name) {
            loop {
                if cur == me {
                    return Err(Error::invalid_arg(
                        ErrorDomain::Domain,
                        format!("parent {p} would create cycle to {name}"),
                    ));
                }
                match self.node(cur).parent {
                    Some(next) => cur = next,
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Moves `name` under `parent` (or to the roots).
    pub fn set_parent(&mut self, name: &str, parent: Option<&str>) -> Result<()> {
        self.check_parent(name, parent)?;
        let i = self.idx(name).ok_or_else(|| self.not_found(name))?;
        let new_p = parent.and_then(|p| self.idx(p));
        let old_p = self.node(i).parent;
        if old_p == new_p {
            self.node_mut(i).def.parent = parent.map(str::to_owned);
            return Ok(());
        }
        self.detach(i);
        self.attach(i, new_p);
        Ok(())
    }

    fn detach(&mut self, i: Idx) {
        match self.node(i).parent {
            Some(p) => self.node_mut(p).children.retain(|&c| c != i),
            None => self.roots.retain(|&c| c != i),
        }
    }

    fn attach(&mut self, i: Idx, parent: Option<Idx>) {
        let parent_name = parent.map(|p| self.name_of(p).to_owned());
        {
            let n = self.node_mut(i);
            n.parent = parent;
            n.def.parent = parent_name;
        }
        let seq = self.node(i).seq;
        let siblings = match parent {
            Some(p) => &self.node(p).children,
            None => &self.roots,
        };
        // Keep creation order among siblings.
        let pos = siblings.partition_point(|&c| self.node(c).seq < seq);
        match parent {
            Some(p) => self.node_mut(p).children.insert(pos, i),
            None => self.roots.insert(pos, i),
        }
    }

    /// The parent of `name`.
    pub fn parent(&self, name: &str) -> Option<&str> {
        let i = self.idx(name)?;
        self.node(i).parent.map(|p| self.name_of(p))
    }

    /// Direct children of `name`, in creation order.
    pub fn children(&self, name: &str) -> Vec<String> {
        self.idx(name)
            .map(|i| self.node(i).children.iter().map(|&c| self.name_of(c).to_owned()).collect())
            .unwrap_or_default()
    }

    /// Number of direct children of `name`.
    pub fn num_children(&self, name: &str) -> usize {
        self.idx(name).map_or(0, |i| self.node(i).children.len())
    }

    /// All descendants of `name`, parents first.
    pub fn descendants(&self, name: &str) -> Vec<String> {
        let Some(i) = self.idx(name) else { return Vec::new() };
        let mut out = Vec::new();
        self.preorder(&self.node(i).children, false, &mut out);
        out.into_iter().map(|c| self.name_of(c).to_owned()).collect()
    }

    /// The current snapshot.
    pub fn current(&self) -> Option<&str> {
        self.current.map(|i| self.name_of(i))
    }

    /// Sets (or clears) the current snapshot; unknown names clear it.
    pub fn set_current(&mut self, name: Option<&str>) {
        self.current = name.and_then(|n| self.idx(n));
    }

    /// Every name in creation order.
    pub fn names(&self) -> Vec<String> {
        self.order.names().map(|n| n.as_str().to_owned()).collect()
    }

    fn free_slot(&mut self, i: Idx) -> Option<String> {
        let mut node = self.nodes.get_mut(i)?.take()?;
        let name = node.def.name.take().unwrap_or_default();
        self.by_name.remove(node.name.as_bytes());
        self.by_uuid.remove(&node.uuid);
        let nodes = &mut self.nodes;
        self.order.remove(node.seq, &mut |j, seq| {
            if let Some(Some(n)) = nodes.get_mut(j) {
                n.seq = seq;
            }
        });
        self.free.push(i);
        if self.current == Some(i) {
            self.current = None;
        }
        Some(name)
    }

    /// True when `name` is the only root, i.e. its subtree is the whole tree.
    pub fn is_sole_root(&self, name: &str) -> bool {
        self.idx(name).is_some_and(|i| self.roots.len() == 1 && self.roots[0] == i)
    }

    /// Removes every snapshot (no list of names is built); returns how many.
    pub fn clear(&mut self) -> usize {
        let n = self.len();
        // Drop the nodes in memory order, then the indexes.
        self.nodes.clear();
        self.free.clear();
        self.by_name.clear();
        self.by_uuid.clear();
        self.order.clear();
        self.roots.clear();
        self.current = None;
        n
    }

    /// Removes `name` alone: its children move to its parent (libvirt's
    /// default delete). If it was current, its parent becomes current.
    pub fn remove(&mut self, name: &str) -> Result<Removal> {
        let i = self.idx(name).ok_or_else(|| self.not_found(name))?;
        let parent = self.node(i).parent;
        let was_current = self.current == Some(i);
        let children = std::mem::take(&mut self.node_mut(i).children);
        self.detach(i);
        let mut reparented = Vec::with_capacity(children.len());
        for c in children {
            self.attach(c, parent);
            reparented.push(self.name_of(c).to_owned());
        }
        let removed = self.free_slot(i).into_iter().collect();
        if was_current {
            self.current = parent;
        }
        Ok(Removal { removed, reparented })
    }

    /// Removes the descendants of `name`, and `name` itself unless
    /// `keep_self` (CHILDREN vs CHILDREN_ONLY). Current moves to the parent
    /// (CHILDREN) or to `name` (CHILDREN_ONLY) if it was among the removed.
    pub fn remove_subtree(&mut self, name: &str, keep_self: bool) -> Result<Removal> {
        let i = self.idx(name).ok_or_else(|| self.not_found(name))?;
        let mut doomed = Vec::new();
        self.preorder(&self.node(i).children, false, &mut doomed);
        if !keep_self {
            doomed.insert(0, i);
        }
        if !keep_self && doomed.len() == self.len() {
            // The whole tree goes (DELETE_CHILDREN on the only root): empty
            // the indexes wholesale instead of unhashing every name and UUID.
            let mut removed = Vec::with_capacity(doomed.len());
            for d in doomed {
                if let Some(mut node) = self.nodes.get_mut(d).and_then(Option::take) {
                    removed.push(node.def.name.take().unwrap_or_default());
                }
            }
            self.nodes.clear();
            self.free.clear();
            self.by_name.clear();
            self.by_uuid.clear();
            self.order.clear();
            self.roots.clear();
            self.current = None;
            return Ok(Removal { removed, reparented: Vec::new() });
        }
        let current_doomed = self.current.is_some_and(|c| doomed.contains(&c));
        let parent = self.node(i).parent;
        if keep_self {
            self.node_mut(i).children.clear();
        } else {
            self.detach(i);
        }
        let mut removed = Vec::with_capacity(doomed.len());
        for d in doomed {
            if let Some(n) = self.free_slot(d) {
                removed.push(n);
            }
        }
        if current_doomed {
            self.current = if keep_self { Some(i) } else { parent };
        }
        Ok(Removal { removed, reparented: Vec::new() })
    }

    /// Renames `old` to `new`; children follow. `VIR_ERR_OPERATION_INVALID`
    /// when `new` exists.
    pub fn rename(&mut self, old: &str, new: &str) -> Result<()> {
        let i = self.idx(old).ok_or_else(|| self.not_found(old))?;
        if old == new {
            return Ok(());
        }
        if self.by_name.contains(new.as_bytes()) {
            return Err(Error::op_invalid(
                ErrorDomain::DomainSnapshot,
                format!("snapshot '{new}' already exists"),
            ));
        }
        self.by_name.remove(old.as_bytes());
        let shared = SnapName::new(new);
        self.by_name.insert(shared.clone(), i);
        self.order.rename(self.node(i).seq, shared.clone());
        let n = self.node_mut(i);
        n.def.name = Some(new.to_owned());
        n.name = shared;
        let children = self.node(i).children.clone();
        for c in children {
            self.node_mut(c).def.parent = Some(new.to_owned());
        }
        Ok(())
    }

    /// Pre-order walk with children newest first (libvirt's TOPOLOGICAL order)
    /// when `newest_first`, else in creation order.
    fn preorder(&self, start: &[Idx], newest_first: bool, out: &mut Vec<Idx>) {
        self.walk(start, newest_first, |i| out.push(i));
    }

    /// [`Self::preorder`] calling `f` on each node as it is reached.
    fn walk(&self, start: &[Idx], newest_first: bool, mut f: impl FnMut(Idx)) {
        let mut stack: Vec<Idx> = if newest_first { start.to_vec() } else { start.iter().rev().copied().collect() };
        while let Some(i) = stack.pop() {
            f(i);
            let ch = &self.node(i).children;
            if newest_first {
                stack.extend(ch.iter().copied());
            } else {
                stack.extend(ch.iter().rev().copied());
            }
        }
    }

    fn filter(&self, i: Idx, flags: u32) -> bool {
        if flags & FILTERS == 0 {
            return true;
        }
        let n = self.node(i);
        if flags & list::LEAVES != 0 && !n.children.is_empty() {
            return false;
        }
        if flags & list::NO_LEAVES != 0 && n.children.is_empty() {
            return false;
        }
        let meta = flags & (list::METADATA | list::NO_METADATA);
        if meta == list::METADATA && !n.has_metadata {
            return false;
        }
        if meta == list::NO_METADATA && n.has_metadata {
            return false;
        }
        if flags & (list::INACTIVE | list::ACTIVE | list::DISK_ONLY) != 0 {
            let st = n.def.state;
            let shutoff = st == Some(SnapshotState::Shutoff);
            let disk = st == Some(SnapshotState::DiskSnapshot);
            if flags & list::INACTIVE == 0 && shutoff {
                return false;
            }
            if flags & list::DISK_ONLY == 0 && disk {
                return false;
            }
            if flags & list::ACTIVE == 0 && !shutoff && !disk {
                return false;
            }
        }
        if flags & (list::INTERNAL | list::EXTERNAL) != 0 {
            let ext = n.def.is_external();
            if flags & list::INTERNAL == 0 && !ext {
                return false;
            }
            if flags & list::EXTERNAL == 0 && ext {
                return false;
            }
        }
        true
    }

    /// Number of snapshots [`Self::list`] would return for `flags`, without
    /// building the list.
    pub fn count(&self, flags: u32) -> usize {
        if flags & list::ROOTS != 0 {
            self.roots.iter().filter(|&&i| self.filter(i, flags)).count()
        } else if flags & FILTERS == 0 {
            self.len()
        } else {
            self.order.iter().filter(|&(i, _)| self.filter(i, flags)).count()
        }
    }

    /// Domain-level listing (`virDomainSnapshotListNames` semantics): ROOTS
    /// means roots only; every filter bit applies; creation order unless
    /// TOPOLOGICAL (parents first, siblings newest first, as libvirt).
    pub fn list(&self, flags: u32) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(flags, &mut |n| out.push(n.as_str().to_owned()));
        out
    }

    /// Calls `f` with each name [`Self::list`] returns, in the same order,
    /// without copying names or building a list (clone the name to keep
    /// it). Since 0.1.
    pub fn visit(&self, flags: u32, f: &mut dyn FnMut(&SnapName)) {
        let topo = flags & list::TOPOLOGICAL != 0;
        if flags & (list::ROOTS | list::TOPOLOGICAL) == 0 {
            // Creation order: the names come from the order map itself; a
            // node is read only when a filter needs it.
            if flags & FILTERS == 0 {
                self.order.names().for_each(f);
            } else {
                for (i, n) in self.order.iter() {
                    if self.filter(i, flags) {
                        f(n);
                    }
                }
            }
            return;
        }
        let mut each = |i: Idx| {
            if self.filter(i, flags) {
                f(&self.node(i).name);
            }
        };
        if flags & list::ROOTS == 0 {
            self.walk(&self.roots, true, each);
        } else if topo {
            self.roots.iter().rev().for_each(|&i| each(i));
        } else {
            self.roots.iter().for_each(|&i| each(i));
        }
    }

    /// Children listing (`virDomainSnapshotListChildrenNames`): DESCENDANTS
    /// means all descendants; same filters and order rules as [`Self::list`].
    pub fn list_children(&self, name: &str, flags: u32) -> Result<Vec<String>> {
        let mut out = Vec::new();
        self.visit_children(name, flags, &mut |n| out.push(n.as_str().to_owned()))?;
        Ok(out)
    }

    /// Calls `f` with each name [`Self::list_children`] returns, in the same
    /// order, without copying names. `VIR_ERR_NO_DOMAIN_SNAPSHOT` when `name`
    /// does not exist. Since 0.1.
    pub fn visit_children(&self, name: &str, flags: u32, f: &mut dyn FnMut(&SnapName)) -> Result<()> {
        let i = self.idx(name).ok_or_else(|| self.not_found(name))?;
        let topo = flags & list::TOPOLOGICAL != 0;
        let ch = &self.node(i).children;
        let mut each = |i: Idx| {
            if self.filter(i, flags) {
                f(&self.node(i).name);
            }
        };
        if flags & list::DESCENDANTS != 0 {
            if topo {
                self.walk(ch, true, each);
            } else {
                let mut v = Vec::new();
                self.preorder(ch, false, &mut v);
                v.sort_by_key(|&c| self.node(c).seq);
                v.into_iter().for_each(each);
            }
        } else if topo {
            ch.iter().rev().for_each(|&c| each(c));
        } else {
            ch.iter().for_each(|&c| each(c));
        }
        Ok(())
    }

    /// Number of names [`Self::list_children`] would return. Since 0.1.
    pub fn count_children(&self, name: &str, flags: u32) -> Result<usize> {
        let i = self.idx(name).ok_or_else(|| self.not_found(name))?;
        if flags & (list::DESCENDANTS | FILTERS) == 0 {
            return Ok(self.node(i).children.len());
        }
        let mut n = 0;
        self.visit_children(name, flags, &mut |_| n += 1)?;
        Ok(n)
    }

    /// The listing entry of `name` (parent, children count, current,
    /// metadata and UUID from the tree; the rest from its definition).
    /// Since 0.1.0.
    pub fn entry(&self, name: &str) -> Option<crate::model::SnapshotEntry> {
        let i = self.idx(name)?;
        let n = self.node(i);
        let mut e = crate::model::SnapshotEntry::from_def(
            n.name.as_str(),
            &n.def,
            n.children.len(),
            self.current == Some(i),
            n.has_metadata,
            Some(n.uuid),
        );
        e.parent = n.parent.map(|p| self.name_of(p).to_owned());
        Some(e)
    }

    /// [`Self::entry`] for each name [`Self::list`] (`of` is `None`) or
    /// [`Self::list_children`] of `of` returns for `flags`, in that order.
    /// Since 0.1.0.
    pub fn entries(&self, of: Option<&str>, flags: u32) -> Result<Vec<crate::model::SnapshotEntry>> {
        let mut out = Vec::new();
        let mut push = |n: &SnapName| {
            if let Some(e) = self.entry(n.as_str()) {
                out.push(e);
            }
        };
        match of {
            None => self.visit(flags, &mut push),
            Some(name) => self.visit_children(name, flags, &mut push)?,
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn def(name: &str, parent: Option<&str>) -> SnapshotDef {
        SnapshotDef {
            name: Some(name.into()),
            parent: parent.map(Into::into),
            state: Some(SnapshotState::Running),
            ..SnapshotDef::default()
        }
    }

    /// a→{b→c, d}, d created last.
    fn sample() -> SnapshotTree {
        let mut t = SnapshotTree::new();
        t.insert(def("a", None), true).unwrap();
        t.insert(def("b", Some("a")), true).unwrap();
        t.insert(def("c", Some("b")), true).unwrap();
        t.insert(def("d", Some("a")), true).unwrap();
        t
    }

    fn timed(name: &str, parent: Option<&str>, t: i64) -> SnapshotDef {
        SnapshotDef { creation_time: t, ..def(name, parent) }
    }

    /// The store's order: creation time, then name.
    fn by_time(mut defs: Vec<SnapshotDef>) -> impl Iterator<Item = (SnapshotDef, bool)> {
        defs.sort_by(|a, b| a.creation_time.cmp(&b.creation_time).then_with(|| a.name.cmp(&b.name)));
        defs.into_iter().map(|d| (d, true))
    }

    /// Loading links after placing: times against the tree order keep every
    /// link; siblings and creation order follow the times.
    #[test]
    fn from_loaded_links_whatever_the_times() {
        let defs = vec![
            timed("c", Some("b"), 1),
            timed("b", Some("a"), 2),
            SnapshotDef { active: Some(true), ..timed("e", Some("a"), 3) },
            timed("a", None, 4),
            timed("d", Some("a"), 0),
        ];
        let (t, problems) = SnapshotTree::from_loaded(by_time(defs));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(t.parent("c"), Some("b"));
        assert_eq!(t.get("c").unwrap().parent.as_deref(), Some("b"));
        assert_eq!(t.parent("b"), Some("a"));
        assert_eq!(t.parent("a"), None);
        assert_eq!(t.children("a"), ["d", "b", "e"]);
        assert_eq!(t.names(), ["d", "c", "b", "e", "a"]);
        assert_eq!(t.current(), Some("e"));
        assert_eq!(t.list(list::ROOTS), ["a"]);
    }

    /// A missing parent orphans only its direct child (as libvirt); a cycle
    /// is cut at its newest member; a duplicate name is reported.
    #[test]
    fn from_loaded_repairs_only_what_is_broken() {
        let defs = vec![
            timed("x", Some("gone"), 1),
            timed("y", Some("x"), 2),
            timed("z", Some("y"), 3),
            timed("p", Some("q"), 4),
            timed("q", Some("r"), 5),
            timed("r", Some("p"), 6),
            timed("s", Some("q"), 7),
            timed("z", None, 8),
        ];
        let (t, problems) = SnapshotTree::from_loaded(by_time(defs));
        assert_eq!(
            problems,
            [
                "z: operation failed: domain moment z already exists",
                "x: parent gone not found; made a root",
                "r: parent p would create a cycle; made a root",
            ]
        );
        assert_eq!(t.parent("x"), None);
        assert_eq!(t.get("x").unwrap().parent, None);
        assert_eq!(t.parent("y"), Some("x"));
        assert_eq!(t.parent("z"), Some("y"));
        assert_eq!(t.parent("r"), None);
        assert_eq!(t.parent("q"), Some("r"));
        assert_eq!(t.parent("p"), Some("q"));
        assert_eq!(t.children("q"), ["p", "s"]);
        assert_eq!(t.list(list::ROOTS), ["x", "r"]);
        assert_eq!(t.len(), 7);
    }

    /// A 100 000-deep chain loaded newest first: no recursion, no pass per
    /// level (the old loader needed one pass per level).
    #[test]
    fn from_loaded_deep_chain_against_time() {
        let n = 100_000;
        let names: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
        let defs = (0..n)
            .map(|i| timed(&names[i], (i > 0).then(|| names[i - 1].as_str()), (n - i) as i64))
            .collect();
        let (t, problems) = SnapshotTree::from_loaded(by_time(defs));
        assert!(problems.is_empty());
        assert_eq!(t.parent("s99999"), Some("s99998"));
        assert_eq!(t.descendants("s0").len(), n - 1);
    }

    #[test]
    fn topological_order_matches_libvirt() {
        let t = sample();
        assert_eq!(t.list(list::TOPOLOGICAL), ["a", "d", "b", "c"]);
        assert_eq!(t.list(0), ["a", "b", "c", "d"]);
        assert_eq!(t.list_children("a", list::DESCENDANTS).unwrap(), ["b", "c", "d"]);
        assert_eq!(t.list_children("a", list::DESCENDANTS | list::TOPOLOGICAL).unwrap(), ["d", "b", "c"]);
        assert_eq!(t.list_children("a", 0).unwrap(), ["b", "d"]);
    }

    #[test]
    fn leaf_filters() {
        let t = sample();
        assert_eq!(t.list(list::LEAVES), ["c", "d"]);
        assert_eq!(t.list(list::NO_LEAVES), ["a", "b"]);
        assert!(t.list(list::LEAVES | list::NO_LEAVES).is_empty());
        assert!(t.list(list::ROOTS | list::LEAVES).is_empty());
        assert_eq!(t.list(list::ROOTS), ["a"]);
        assert_eq!(t.list(list::METADATA | list::NO_METADATA).len(), 4);
        assert!(t.list(list::NO_METADATA).is_empty());
        assert!(t.list(list::INACTIVE).is_empty());
        assert_eq!(t.list(list::ACTIVE | list::INTERNAL).len(), 4);
        assert!(t.list(list::EXTERNAL).is_empty());
    }

    #[test]
    fn remove_reparents_and_moves_current() {
        let mut t = sample();
        t.set_current(Some("b"));
        let r = t.remove("b").unwrap();
        assert_eq!(r.removed, ["b"]);
        assert_eq!(r.reparented, ["c"]);
        assert_eq!(t.parent("c"), Some("a"));
        assert_eq!(t.get("c").unwrap().parent.as_deref(), Some("a"));
        assert_eq!(t.current(), Some("a"));
        assert_eq!(t.children("a"), ["c", "d"]);
    }

    #[test]
    fn subtree_removal() {
        let mut t = sample();
        t.set_current(Some("c"));
        let r = t.remove_subtree("a", true).unwrap();
        assert_eq!(r.removed.len(), 3);
        assert_eq!(t.current(), Some("a"));
        assert_eq!(t.len(), 1);
        let mut t = sample();
        t.set_current(Some("c"));
        t.remove_subtree("b", false).unwrap();
        assert_eq!(t.current(), Some("a"));
        assert_eq!(t.names(), ["a", "d"]);
        // slot reuse keeps indices consistent
        t.insert(def("e", Some("d")), true).unwrap();
        assert_eq!(t.list(list::TOPOLOGICAL), ["a", "d", "e"]);
    }

    #[test]
    fn not_found_is_made_in_the_owning_drivers_domain() {
        let mut t = sample();
        let e = t.remove("nope").unwrap_err();
        assert_eq!((e.code, e.domain), (crate::error::ErrorCode::NoDomainSnapshot, ErrorDomain::DomainSnapshot));
        t.set_not_found_domain(ErrorDomain::Qemu);
        for e in [t.remove("nope").unwrap_err(), t.rename("nope", "x").unwrap_err(), t.count_children("nope", 0).unwrap_err()] {
            assert_eq!((e.code, e.domain), (crate::error::ErrorCode::NoDomainSnapshot, ErrorDomain::Qemu));
            assert_eq!(e.message, "Domain snapshot not found: no domain snapshot with matching name 'nope'");
        }
    }

    #[test]
    fn duplicate_and_cycles() {
        let mut t = sample();
        let e = t.insert(def("a", None), true).unwrap_err();
        assert_eq!(e.message, "operation failed: domain moment a already exists");
        assert_eq!(e.domain, ErrorDomain::Domain);
        assert!(t.set_parent("a", Some("c")).unwrap_err().message.contains("would create cycle"));
        assert!(t.set_parent("a", Some("a")).unwrap_err().message.contains("as its own parent"));
        t.set_parent("d", Some("c")).unwrap();
        assert_eq!(t.descendants("b"), ["c", "d"]);
    }

    #[test]
    fn cached_xml_dropped_on_change() {
        let mut t = sample();
        let x: Arc<str> = Arc::from("<x/>");
        for n in ["a", "b", "c", "d"] {
            t.cache_xml(n, x.clone());
        }
        assert_eq!(t.cached_xml("c").as_deref(), Some("<x/>"));
        t.rename("b", "bee").unwrap();
        assert!(t.cached_xml("bee").is_none());
        assert!(t.cached_xml("c").is_none(), "child's <parent> changed");
        assert_eq!(t.cached_xml("d").as_deref(), Some("<x/>"));
        t.get_mut("d").unwrap().description = Some("x".into());
        assert!(t.cached_xml("d").is_none());
        t.cache_xml("c", x.clone());
        t.remove("bee").unwrap();
        assert!(t.cached_xml("c").is_none(), "reparented");
        t.cache_xml("c", x);
        t.set_parent("c", Some("d")).unwrap();
        assert!(t.cached_xml("c").is_none());
        assert!(t.cached_xml("nope").is_none());
    }

    #[test]
    fn whole_tree_removal_resets_indexes() {
        let mut t = sample();
        t.set_current(Some("c"));
        let u = t.uuid_of("c").unwrap();
        let r = t.remove_subtree("a", false).unwrap();
        assert_eq!(r.removed, ["a", "b", "c", "d"]);
        assert!(t.is_empty() && t.current().is_none() && t.lookup_uuid(&u).is_none());
        assert!(t.list(0).is_empty() && t.list(list::TOPOLOGICAL).is_empty());
        t.insert(def("z", None), true).unwrap();
        assert_eq!(t.list(list::TOPOLOGICAL), ["z"]);
        assert_eq!(t.count(0), 1);
    }

    #[test]
    fn xml_with_caches_from_the_second_read() {
        let mut t = sample();
        let mut calls = 0;
        let mut read = |t: &mut SnapshotTree| {
            t.xml_with("b", |d| {
                calls += 1;
                (format!("<{}/>", d.name.as_deref().unwrap_or("")), true)
            })
        };
        assert_eq!(read(&mut t).as_deref(), Some("<b/>"));
        assert!(t.cached_xml("b").is_none());
        assert_eq!(read(&mut t).as_deref(), Some("<b/>"));
        assert_eq!(t.cached_xml("b").as_deref(), Some("<b/>"));
        assert_eq!(read(&mut t).as_deref(), Some("<b/>"));
        t.get_mut("b").unwrap().description = Some("x".into());
        assert!(t.cached_xml("b").is_none());
        assert_eq!(read(&mut t).as_deref(), Some("<b/>"));
        assert!(t.cached_xml("b").is_none(), "first read after a change is not kept");
        assert_eq!(calls, 3);
        assert!(t.xml_with("nope", |_| (String::new(), true)).is_none());
        assert_eq!(t.xml_with("a", |_| ("u".into(), false)).as_deref(), Some("u"));
        assert_eq!(t.xml_with("a", |_| ("u".into(), false)).as_deref(), Some("u"));
        assert!(t.cached_xml("a").is_none(), "not cacheable");
    }

    #[test]
    fn clear_and_sole_root() {
        let mut t = sample();
        assert!(t.is_sole_root("a") && !t.is_sole_root("b") && !t.is_sole_root("zz"));
        t.set_current(Some("c"));
        assert_eq!(t.clear(), 4);
        assert!(t.is_empty() && t.current().is_none() && t.list(list::TOPOLOGICAL).is_empty());
        t.insert(def("x", None), true).unwrap();
        t.insert(def("y", None), true).unwrap();
        assert!(!t.is_sole_root("x"));
        assert_eq!(t.list(0), ["x", "y"]);
    }

    #[test]
    fn creation_order_survives_compaction() {
        let mut t = SnapshotTree::new();
        t.insert(def("r", None), true).unwrap();
        for i in 0..20 {
            t.insert(def(&format!("c{i}"), Some("r")), true).unwrap();
        }
        for i in (0..20).filter(|i| i % 4 != 3) {
            t.remove(&format!("c{i}")).unwrap();
        }
        t.insert(def("late", Some("c7")), true).unwrap();
        t.rename("c11", "eleven").unwrap();
        assert_eq!(t.list(0), ["r", "c3", "c7", "eleven", "c15", "c19", "late"]);
        assert_eq!(t.list(list::LEAVES), ["c3", "eleven", "c15", "c19", "late"]);
        assert_eq!(t.children("r"), ["c3", "c7", "eleven", "c15", "c19"]);
        // Moving a child back keeps creation order among siblings.
        t.set_parent("c3", Some("c7")).unwrap();
        t.set_parent("c3", Some("r")).unwrap();
        assert_eq!(t.children("r"), ["c3", "c7", "eleven", "c15", "c19"]);
        assert_eq!(t.list_children("r", list::DESCENDANTS).unwrap(), ["c3", "c7", "eleven", "c15", "c19", "late"]);
        assert_eq!(t.count(list::LEAVES), 5);
    }

    #[test]
    fn rename_and_uuid_index() {
        let mut t = sample();
        let u = t.uuid_of("b").unwrap();
        t.rename("b", "bee").unwrap();
        assert_eq!(t.lookup_uuid(&u), Some("bee"));
        // Creation-order listings read the order map's copy of the name.
        assert_eq!(t.list(0), ["a", "bee", "c", "d"]);
        assert_eq!(t.names(), ["a", "bee", "c", "d"]);
        assert_eq!(t.list(list::LEAVES), ["c", "d"]);
        assert_eq!(t.parent("c"), Some("bee"));
        assert_eq!(t.get("c").unwrap().parent.as_deref(), Some("bee"));
        assert!(t.rename("bee", "a").is_err());
        assert!(!t.contains("b"));
    }
}

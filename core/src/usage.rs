//! Disk usage per snapshot (DESIGN §4.5, issue 20): what a snapshot costs
//! on the host's storage and what deleting it would free.
//!
//! Every field is `None` where the driver cannot know it; no field is ever
//! an estimate.
//!
//! Since 0.2.

/// The disk usage of one snapshot. Owned plain data.
///
/// Since 0.2.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotUsage {
    /// The snapshot's name.
    pub name: String,
    /// Bytes on the host's storage that deleting this snapshot alone
    /// (default delete, children kept) would free.
    pub reclaimable_bytes: Option<u64>,
    /// Size of the saved memory state (0 for a disk-only snapshot).
    pub vm_state_bytes: Option<u64>,
    /// Bytes of storage that only this snapshot references.
    pub exclusive_bytes: Option<u64>,
    /// Bytes of storage this snapshot references that another snapshot or
    /// the domain's current state references too.
    pub shared_bytes: Option<u64>,
    /// Bytes the snapshot's external overlay files take on the host
    /// (allocated blocks); `None` for internal snapshots and where unknown.
    pub overlay_bytes: Option<u64>,
}

impl SnapshotUsage {
    /// A row with every field unknown.
    pub fn unknown(name: impl Into<String>) -> Self {
        Self { name: name.into(), ..Self::default() }
    }

    /// Adds `other`'s numbers (another disk of the same snapshot); a field
    /// unknown on either side stays unknown.
    pub fn add(&mut self, other: &SnapshotUsage) {
        fn sum(a: &mut Option<u64>, b: Option<u64>) {
            *a = match (*a, b) {
                (Some(x), Some(y)) => Some(x.saturating_add(y)),
                _ => None,
            };
        }
        sum(&mut self.reclaimable_bytes, other.reclaimable_bytes);
        sum(&mut self.vm_state_bytes, other.vm_state_bytes);
        sum(&mut self.exclusive_bytes, other.exclusive_bytes);
        sum(&mut self.shared_bytes, other.shared_bytes);
        sum(&mut self.overlay_bytes, other.overlay_bytes);
    }
}

//! libvirt's flag values for the snapshot and domain APIs, plus virsnap's
//! extensions. Flags cross every boundary as `u32`; the names here are the
//! C names without the `VIR_` prefix.
//!
//! Note: `LIST_ROOTS` and `LIST_DESCENDANTS` are the same bit (1). On the
//! domain-level listing calls it means "roots only"; on the children calls it
//! means "all descendants, not only direct children".

/// `virDomainSnapshotCreateFlags`.
pub mod create {
    /// Restore or alter metadata (Since 0.9.5).
    pub const REDEFINE: u32 = 1;
    /// With REDEFINE, make the snapshot current (Since 0.9.5).
    pub const CURRENT: u32 = 2;
    /// Make the snapshot without remembering it (Since 0.9.5).
    pub const NO_METADATA: u32 = 4;
    /// Stop the running guest after the snapshot (Since 0.9.5).
    pub const HALT: u32 = 8;
    /// Disk state only (Since 0.9.5).
    pub const DISK_ONLY: u32 = 16;
    /// Reuse existing external files (Since 0.9.10).
    pub const REUSE_EXT: u32 = 32;
    /// Use the guest agent to quiesce file systems (Since 0.9.10).
    pub const QUIESCE: u32 = 64;
    /// All or nothing (Since 0.9.11).
    pub const ATOMIC: u32 = 128;
    /// Keep the guest running while saving memory (Since 1.0.1).
    pub const LIVE: u32 = 256;
    /// Validate the XML against the schema (Since 5.6.0).
    pub const VALIDATE: u32 = 512;
    /// Every bit libvirt 9.0 defines.
    pub const ALL: u32 = 1023;
}

/// `virDomainSnapshotXMLFlags`.
pub mod xml {
    /// Include security-sensitive data (Since 5.1.0).
    pub const SECURE: u32 = 1;
}

/// `virDomainSnapshotListFlags`.
pub mod list {
    /// Domain-level calls: only roots (Since 0.9.5).
    pub const ROOTS: u32 = 1;
    /// Children calls: all descendants (Since 0.9.7). Same bit as ROOTS.
    pub const DESCENDANTS: u32 = 1;
    /// With metadata (Since 0.9.5).
    pub const METADATA: u32 = 2;
    /// Leaves only (Since 0.9.7).
    pub const LEAVES: u32 = 4;
    /// Non-leaves only (Since 0.9.13).
    pub const NO_LEAVES: u32 = 8;
    /// Without metadata (Since 0.9.13).
    pub const NO_METADATA: u32 = 16;
    /// Taken while the domain was shut off (Since 1.0.1).
    pub const INACTIVE: u32 = 32;
    /// Taken while the domain was running or paused (Since 1.0.1).
    pub const ACTIVE: u32 = 64;
    /// Disk-only snapshots (Since 1.0.1).
    pub const DISK_ONLY: u32 = 128;
    /// Internal snapshots (Since 1.0.1).
    pub const INTERNAL: u32 = 256;
    /// External snapshots (Since 1.0.1).
    pub const EXTERNAL: u32 = 512;
    /// Parents before children (Since 5.2.0).
    pub const TOPOLOGICAL: u32 = 1024;
    /// Every bit libvirt 9.0 defines.
    pub const ALL: u32 = 2047;
}

/// `virDomainSnapshotRevertFlags`.
pub mod revert {
    /// Run after revert (Since 0.9.5).
    pub const RUNNING: u32 = 1;
    /// Pause after revert (Since 0.9.5).
    pub const PAUSED: u32 = 2;
    /// Allow risky reverts (Since 0.9.7).
    pub const FORCE: u32 = 4;
    /// Re-create NVRAM from its template (Since 8.1.0).
    pub const RESET_NVRAM: u32 = 8;
}

/// `virDomainSnapshotDeleteFlags` plus virsnap's seed delete modes.
pub mod delete {
    /// Also delete the children (Since 0.8.0).
    pub const CHILDREN: u32 = 1;
    /// Delete only libvirt's metadata (Since 0.9.5).
    pub const METADATA_ONLY: u32 = 2;
    /// Delete only the children (Since 0.9.5).
    pub const CHILDREN_ONLY: u32 = 4;
    /// Seed mode: merge into the children (= libvirt's default delete). virsnap 0.1.
    pub const MERGE: u32 = 1 << 16;
    /// Seed mode: merge even when children exist (= MERGE). virsnap 0.1.
    pub const MERGE_FORCE: u32 = 1 << 17;
    /// Seed mode: delete a childless snapshot, else OPERATION_INVALID. virsnap 0.1.
    pub const DISCARD: u32 = 1 << 18;
    /// Seed mode: delete with all children (= CHILDREN). virsnap 0.1.
    pub const DISCARD_FORCE: u32 = 1 << 19;
    /// The four seed modes.
    pub const SEED_MODES: u32 = MERGE | MERGE_FORCE | DISCARD | DISCARD_FORCE;
}

/// `virDomainSnapshotPrune` flags (virsnap 0.2).
pub mod prune {
    /// Report what would be deleted; delete nothing. Since 0.2.
    pub const DRY_RUN: u32 = 1;
}

/// `virDomainSnapshotVerify` flags (virsnap 0.2).
pub mod verify {
    /// Apply the lossless repairs. Since 0.2.
    pub const REPAIR: u32 = 1;
}

/// Domain-level flags a snapshot caller uses.
pub mod domain {
    /// `VIR_DOMAIN_UNDEFINE_MANAGED_SAVE`.
    pub const UNDEFINE_MANAGED_SAVE: u32 = 1;
    /// `VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA`.
    pub const UNDEFINE_SNAPSHOTS_METADATA: u32 = 2;
    /// `VIR_DOMAIN_UNDEFINE_NVRAM`.
    pub const UNDEFINE_NVRAM: u32 = 4;
    /// `VIR_DOMAIN_UNDEFINE_KEEP_NVRAM`.
    pub const UNDEFINE_KEEP_NVRAM: u32 = 8;
    /// `VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA`.
    pub const UNDEFINE_CHECKPOINTS_METADATA: u32 = 16;
    /// `VIR_DOMAIN_UNDEFINE_TPM`.
    pub const UNDEFINE_TPM: u32 = 32;
    /// `VIR_DOMAIN_UNDEFINE_KEEP_TPM`.
    pub const UNDEFINE_KEEP_TPM: u32 = 64;
    /// `VIR_DOMAIN_XML_SECURE`.
    pub const XML_SECURE: u32 = 1;
    /// `VIR_DOMAIN_XML_INACTIVE`.
    pub const XML_INACTIVE: u32 = 2;
    /// `VIR_DOMAIN_XML_UPDATE_CPU`.
    pub const XML_UPDATE_CPU: u32 = 4;
    /// `VIR_DOMAIN_XML_MIGRATABLE`.
    pub const XML_MIGRATABLE: u32 = 8;
    /// `VIR_DOMAIN_START_PAUSED`.
    pub const START_PAUSED: u32 = 1;
    /// `VIR_DOMAIN_DEFINE_VALIDATE`.
    pub const DEFINE_VALIDATE: u32 = 1;
}

/// `virConnectListAllDomainsFlags`.
pub mod list_domains {
    /// Active domains.
    pub const ACTIVE: u32 = 1;
    /// Inactive domains.
    pub const INACTIVE: u32 = 2;
    /// Persistent domains.
    pub const PERSISTENT: u32 = 4;
    /// Transient domains.
    pub const TRANSIENT: u32 = 8;
    /// Running domains.
    pub const RUNNING: u32 = 16;
    /// Paused domains.
    pub const PAUSED: u32 = 32;
    /// Shut-off domains.
    pub const SHUTOFF: u32 = 64;
    /// Domains in another state.
    pub const OTHER: u32 = 128;
    /// With a managed save image.
    pub const MANAGEDSAVE: u32 = 256;
    /// Without a managed save image.
    pub const NO_MANAGEDSAVE: u32 = 512;
    /// Marked autostart.
    pub const AUTOSTART: u32 = 1024;
    /// Not marked autostart.
    pub const NO_AUTOSTART: u32 = 2048;
    /// With snapshots.
    pub const HAS_SNAPSHOT: u32 = 4096;
    /// Without snapshots.
    pub const NO_SNAPSHOT: u32 = 8192;
    /// With checkpoints.
    pub const HAS_CHECKPOINT: u32 = 16384;
    /// Without checkpoints.
    pub const NO_CHECKPOINT: u32 = 32768;
    /// Every bit libvirt 9.0 defines.
    pub const ALL: u32 = 65535;
}

/// C names of single flag bits, for libvirt's flag-check messages.
pub fn create_name(bit: u32) -> &'static str {
    match bit {
        create::REDEFINE => "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE",
        create::CURRENT => "VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT",
        create::NO_METADATA => "VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA",
        create::HALT => "VIR_DOMAIN_SNAPSHOT_CREATE_HALT",
        create::DISK_ONLY => "VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY",
        create::LIVE => "VIR_DOMAIN_SNAPSHOT_CREATE_LIVE",
        _ => "VIR_DOMAIN_SNAPSHOT_CREATE_?",
    }
}

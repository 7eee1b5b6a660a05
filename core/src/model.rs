//! The snapshot definition (`<domainsnapshot>`) and its enumerations.

use std::sync::Arc;

use crate::xml::Element;

/// State of the domain when the snapshot was taken (`<state>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapshotState {
    /// `running`
    Running,
    /// `blocked`
    Blocked,
    /// `paused`
    Paused,
    /// `shutdown`
    Shutdown,
    /// `shutoff`
    Shutoff,
    /// `crashed`
    Crashed,
    /// `pmsuspended`
    PmSuspended,
    /// `disk-snapshot`: a disk-only snapshot of an active domain.
    DiskSnapshot,
}

impl SnapshotState {
    /// libvirt's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Blocked => "blocked",
            Self::Paused => "paused",
            Self::Shutdown => "shutdown",
            Self::Shutoff => "shutoff",
            Self::Crashed => "crashed",
            Self::PmSuspended => "pmsuspended",
            Self::DiskSnapshot => "disk-snapshot",
        }
    }

    /// Parses libvirt's spelling; the seed's upper-case form is accepted too.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "running" => Self::Running,
            "blocked" => Self::Blocked,
            "paused" => Self::Paused,
            "shutdown" => Self::Shutdown,
            "shutoff" => Self::Shutoff,
            "crashed" => Self::Crashed,
            "pmsuspended" => Self::PmSuspended,
            "disk-snapshot" | "disk_snapshot" => Self::DiskSnapshot,
            _ => return None,
        })
    }

    /// Taken while the guest ran (the snapshot holds memory state):
    /// running, paused, blocked or pmsuspended.
    pub fn is_online(self) -> bool {
        matches!(self, Self::Running | Self::Paused | Self::Blocked | Self::PmSuspended)
    }

    /// Matches `VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE` (shut off).
    pub fn is_inactive(self) -> bool {
        matches!(self, Self::Shutoff | Self::Shutdown | Self::Crashed)
    }

    /// `virDomainState` number of the equivalent domain state.
    pub fn domain_state(self) -> DomainState {
        match self {
            Self::Running => DomainState::Running,
            Self::Blocked => DomainState::Blocked,
            Self::Paused => DomainState::Paused,
            Self::Shutdown => DomainState::Shutdown,
            Self::Shutoff | Self::DiskSnapshot => DomainState::Shutoff,
            Self::Crashed => DomainState::Crashed,
            Self::PmSuspended => DomainState::PmSuspended,
        }
    }

    /// The snapshot state recorded for a domain in `state`.
    pub fn from_domain_state(state: DomainState) -> Self {
        match state {
            DomainState::Running | DomainState::NoState => Self::Running,
            DomainState::Blocked => Self::Blocked,
            DomainState::Paused => Self::Paused,
            DomainState::Shutdown => Self::Shutdown,
            DomainState::Shutoff => Self::Shutoff,
            DomainState::Crashed => Self::Crashed,
            DomainState::PmSuspended => Self::PmSuspended,
        }
    }
}

/// libvirt's `virDomainState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum DomainState {
    /// No state.
    NoState = 0,
    /// Running.
    Running = 1,
    /// Blocked on a resource.
    Blocked = 2,
    /// Paused by the user.
    Paused = 3,
    /// Being shut down.
    Shutdown = 4,
    /// Shut off.
    Shutoff = 5,
    /// Crashed.
    Crashed = 6,
    /// Suspended by guest power management.
    PmSuspended = 7,
}

impl DomainState {
    /// virsh's wording (`domstate`, `list`).
    pub fn virsh_name(self) -> &'static str {
        match self {
            Self::NoState => "no state",
            Self::Running => "running",
            Self::Blocked => "idle",
            Self::Paused => "paused",
            Self::Shutdown => "in shutdown",
            Self::Shutoff => "shut off",
            Self::Crashed => "crashed",
            Self::PmSuspended => "pmsuspended",
        }
    }

    /// True for every state but shut off / crashed / no state (libvirt's "active").
    pub fn is_active(self) -> bool {
        !matches!(self, Self::Shutoff | Self::Crashed | Self::NoState)
    }
}

/// State reasons a snapshot operation sets (`virDomain*Reason`).
pub mod reason {
    /// `VIR_DOMAIN_RUNNING_UNKNOWN` and friends.
    pub const UNKNOWN: i32 = 0;
    /// `VIR_DOMAIN_RUNNING_BOOTED`.
    pub const RUNNING_BOOTED: i32 = 1;
    /// `VIR_DOMAIN_RUNNING_FROM_SNAPSHOT`.
    pub const RUNNING_FROM_SNAPSHOT: i32 = 4;
    /// `VIR_DOMAIN_RUNNING_UNPAUSED`.
    pub const RUNNING_UNPAUSED: i32 = 5;
    /// `VIR_DOMAIN_PAUSED_USER`.
    pub const PAUSED_USER: i32 = 1;
    /// `VIR_DOMAIN_PAUSED_FROM_SNAPSHOT`.
    pub const PAUSED_FROM_SNAPSHOT: i32 = 7;
    /// `VIR_DOMAIN_SHUTOFF_SHUTDOWN`.
    pub const SHUTOFF_SHUTDOWN: i32 = 1;
    /// `VIR_DOMAIN_SHUTOFF_DESTROYED`.
    pub const SHUTOFF_DESTROYED: i32 = 2;
    /// `VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT`.
    pub const SHUTOFF_FROM_SNAPSHOT: i32 = 7;
}

/// Where a disk's or the memory's snapshot goes (`snapshot='…'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Location {
    /// Not given; the driver decides.
    #[default]
    Default,
    /// `no`
    No,
    /// `internal`
    Internal,
    /// `external`
    External,
    /// `manual`
    Manual,
}

impl Location {
    /// libvirt's spelling (`None` for Default).
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Self::Default => None,
            Self::No => Some("no"),
            Self::Internal => Some("internal"),
            Self::External => Some("external"),
            Self::Manual => Some("manual"),
        }
    }

    /// Parses libvirt's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "no" => Self::No,
            "internal" => Self::Internal,
            "external" => Self::External,
            "manual" => Self::Manual,
            _ => return None,
        })
    }
}

/// One `<disk>` of a snapshot definition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskDef {
    /// Target device (`vda`) or, before alignment, a source path.
    pub name: String,
    /// Snapshot mode.
    pub snapshot: Location,
    /// `type='file|block|network'`, written only with a source or format.
    pub disk_type: Option<String>,
    /// `<source …>` kept as an element (file/dev/protocol, hosts, seclabel).
    pub source: Option<Element>,
    /// `<driver …>` kept as an element (type, metadata_cache).
    pub driver: Option<Element>,
    /// `<snapshotDeleteInProgress/>` (libvirt 9.0 internal marker).
    pub delete_in_progress: bool,
}

impl DiskDef {
    /// The source path (`file=` or `dev=`), if any.
    pub fn source_path(&self) -> Option<&str> {
        let s = self.source.as_ref()?;
        s.attr("file").or_else(|| s.attr("dev"))
    }

    /// The new image format (`<driver type=…>`), if any.
    pub fn format(&self) -> Option<&str> {
        self.driver.as_ref()?.attr("type")
    }
}

/// A `<domainsnapshot>` definition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotDef {
    /// `<name>`
    pub name: Option<String>,
    /// `<description>`
    pub description: Option<String>,
    /// `<state>`
    pub state: Option<SnapshotState>,
    /// `<parent><name>`
    pub parent: Option<String>,
    /// `<creationTime>` (Unix seconds; 0 = not set).
    pub creation_time: i64,
    /// `<memory snapshot=…>`
    pub memory: Location,
    /// `<memory file=…>`
    pub memory_file: Option<String>,
    /// `<disks>`
    pub disks: Vec<DiskDef>,
    /// Full inactive `<domain type=…>` at snapshot time. Shared: snapshots
    /// taken from one unchanged domain definition point at one tree (no deep
    /// copy per snapshot; `Arc::make_mut` to change it).
    pub domain: Option<Arc<Element>>,
    /// UUID from an old-style `<domain><uuid>…</uuid></domain>` (seed form too).
    pub domain_uuid: Option<String>,
    /// `<inactiveDomain>`
    pub inactive_domain: Option<Element>,
    /// `<cookie>` (driver-private save cookie).
    pub cookie: Option<Element>,
    /// `<active>` from internal metadata: this snapshot is current.
    pub active: Option<bool>,
    /// virsnap's own metadata (snapshot UUID, qcow2 tag…), internal form only.
    pub private: Option<Element>,
}

/// What virsh shows of a snapshot in `snapshot-list` and `snapshot-info`,
/// typed (`Snapshot::info`): read from the driver's definition, or from
/// the snapshot XML by drivers that only have that.
///
/// Since 0.1.0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotInfo {
    /// `<state>`.
    pub state: Option<SnapshotState>,
    /// `<creationTime>`; `None` when the XML has none (libvirt omits 0).
    pub creation_time: Option<i64>,
    /// `<parent><name>`.
    pub parent: Option<String>,
    /// virsh's "Location: external": with a `<memory>` element, memory or
    /// any disk `snapshot='external'`; without one (before libvirt 1.0.1),
    /// a `disk-snapshot` state.
    pub external: bool,
}

impl SnapshotInfo {
    /// The summary of `def` as its dumpxml reads.
    pub fn from_def(def: &SnapshotDef) -> Self {
        let external = if def.memory.as_str().is_some() {
            def.is_external()
        } else {
            def.state == Some(SnapshotState::DiskSnapshot)
        };
        Self { state: def.state, creation_time: (def.creation_time != 0).then_some(def.creation_time), parent: def.parent.clone(), external }
    }

    /// The summary read from snapshot XML (`virDomainSnapshotGetXMLDesc`
    /// output); `None` when it does not parse.
    pub fn from_xml(xml: &str) -> Option<Self> {
        let root = crate::xml::parse_document(xml, "domain_snapshot", crate::error::ErrorDomain::DomainSnapshot).ok()?;
        let state = root.child_text("state");
        let external = if let Some(mem) = root.child("memory") {
            mem.attr("snapshot") == Some("external")
                || root.child("disks").is_some_and(|d| d.elements().any(|e| e.name == "disk" && e.attr("snapshot") == Some("external")))
        } else {
            state.as_deref() == Some("disk-snapshot")
        };
        Some(Self {
            state: state.as_deref().and_then(SnapshotState::parse),
            creation_time: root.child_text("creationTime").and_then(|t| t.trim().parse().ok()),
            parent: root.path("parent/name").map(|e| e.text()),
            external,
        })
    }
}

/// One disk of a [`SnapshotEntry`]. Since 0.1.0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntryDisk {
    /// Target device (`vda`) or the hypervisor's disk name.
    pub name: String,
    /// Snapshot mode (`internal`, `external`, `no`, `manual`).
    pub snapshot: Location,
    /// The new file of an external snapshot, where the driver knows it.
    pub file: Option<String>,
}

/// Everything a listing shows of one snapshot, as one driver call
/// ([`crate::drivers::Driver::snapshot_tree_entries`]) returns it for a
/// whole tree. Owned by the caller. Since 0.1.0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotEntry {
    /// The name a handle to the snapshot carries.
    pub name: String,
    /// The parent's name; `None` for a root.
    pub parent: Option<String>,
    /// Number of direct children.
    pub children: usize,
    /// `<creationTime>` (Unix seconds; 0 when not set).
    pub creation_time: i64,
    /// `<state>`; `None` when the driver has none.
    pub state: Option<SnapshotState>,
    /// The domain's current snapshot.
    pub current: bool,
    /// `<description>`, `None` when empty or absent.
    pub description: Option<String>,
    /// virsnap's UUID of the snapshot, where the driver has one.
    pub uuid: Option<crate::uuid::Uuid>,
    /// `virDomainSnapshotHasMetadata`.
    pub metadata: bool,
    /// Where the memory state went: `Internal`, `External` or `No`
    /// (never `Default`: filled in from the state when the XML has none).
    pub memory: Location,
    /// The disks, in definition order.
    pub disks: Vec<EntryDisk>,
    /// virsh's "Location: external" ([`SnapshotInfo::external`]).
    pub external: bool,
}

impl SnapshotEntry {
    /// The entry for `def` named `name`; `children`, `current`, `metadata`
    /// and `uuid` come from the tree around it. With `full` false the
    /// description and disk files may be left out by callers that do not
    /// need them. Since 0.1.0.
    pub fn from_def(name: &str, def: &SnapshotDef, children: usize, current: bool, metadata: bool, uuid: Option<crate::uuid::Uuid>) -> Self {
        let memory = match def.memory {
            Location::Default if def.state.is_some_and(SnapshotState::is_online) => Location::Internal,
            Location::Default => Location::No,
            m => m,
        };
        Self {
            name: name.to_owned(),
            parent: def.parent.clone(),
            children,
            creation_time: def.creation_time,
            state: def.state,
            current,
            description: def.description.clone().filter(|d| !d.is_empty()),
            uuid: uuid.or_else(|| def.uuid()),
            metadata,
            memory,
            disks: def
                .disks
                .iter()
                .map(|d| EntryDisk {
                    name: d.name.clone(),
                    snapshot: d.snapshot,
                    file: (d.snapshot == Location::External).then(|| d.source_path().map(str::to_owned)).flatten(),
                })
                .collect(),
            external: SnapshotInfo::from_def(def).external,
        }
    }

    /// The [`SnapshotInfo`] virsh's table reads. Since 0.1.0.
    pub fn info(&self) -> SnapshotInfo {
        SnapshotInfo {
            state: self.state,
            creation_time: (self.creation_time != 0).then_some(self.creation_time),
            parent: self.parent.clone(),
            external: self.external,
        }
    }
}

impl SnapshotDef {
    /// True when the memory or any disk is external (`LIST_EXTERNAL`).
    pub fn is_external(&self) -> bool {
        self.memory == Location::External || self.disks.iter().any(|d| d.snapshot == Location::External)
    }

    /// The snapshot's virsnap UUID, from the private metadata.
    pub fn uuid(&self) -> Option<crate::uuid::Uuid> {
        crate::uuid::Uuid::parse(&self.private.as_ref()?.child_text("uuid")?)
    }

    /// Records the snapshot's virsnap UUID in the private metadata.
    pub fn set_uuid(&mut self, uuid: crate::uuid::Uuid) {
        self.private_mut().set_child_text("uuid", uuid_string(&uuid));
    }

    /// A private metadata value (`<virsnap><KEY>value</KEY></virsnap>`).
    pub fn private_value(&self, key: &str) -> Option<String> {
        self.private.as_ref()?.child_text(key)
    }

    /// The private metadata element, created on first use.
    pub fn private_mut(&mut self) -> &mut Element {
        self.private.get_or_insert_with(|| Element::new("virsnap"))
    }
}

/// `uuid.to_string()` without the formatting machinery (one allocation; the
/// same lower-case 8-4-4-4-12 text, encoded by the `uuid` crate).
pub fn uuid_string(uuid: &crate::uuid::Uuid) -> String {
    let mut buf = [0u8; ::uuid::fmt::Hyphenated::LENGTH];
    ::uuid::Uuid::from_bytes(uuid.0).hyphenated().encode_lower(&mut buf).to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuid_string_matches_display() {
        for _ in 0..16 {
            let u = crate::uuid::Uuid::generate();
            assert_eq!(super::uuid_string(&u), u.to_string());
        }
    }
}

//! Flag and enum types for the header only (cbindgen `[export] include`).
//! Values are libvirt 9.0's; flags cross the ABI as `unsigned int`, never as
//! these enums.

use std::os::raw::c_uint;

/// Flags for `virDomainSnapshotCreateXML`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainSnapshotCreateFlags {
    /// Restore or alter metadata (0.9.5).
    VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE = 1,
    /// With REDEFINE, make snapshot current (0.9.5).
    VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT = 2,
    /// Make snapshot without remembering it (0.9.5).
    VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA = 4,
    /// Stop running guest after snapshot (0.9.5).
    VIR_DOMAIN_SNAPSHOT_CREATE_HALT = 8,
    /// Disk snapshot, not full system (0.9.5).
    VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY = 16,
    /// Reuse any existing external files (0.9.10).
    VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT = 32,
    /// Use guest agent to quiesce all mounted file systems (0.9.10).
    VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE = 64,
    /// Atomically avoid partial changes (0.9.11).
    VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC = 128,
    /// Create the snapshot while the guest is running (1.0.1).
    VIR_DOMAIN_SNAPSHOT_CREATE_LIVE = 256,
    /// Validate the XML against the schema (5.6.0).
    VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE = 512,
}

/// Flags for `virDomainSnapshotGetXMLDesc`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainSnapshotXMLFlags {
    /// Dump security sensitive information too (5.1.0).
    VIR_DOMAIN_SNAPSHOT_XML_SECURE = 1,
}

/// Flags for the snapshot listing calls. `VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS` (same bit as ROOTS) is a `#define`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainSnapshotListFlags {
    /// Filter by snapshots with no parents, when listing a domain (0.9.5).
    VIR_DOMAIN_SNAPSHOT_LIST_ROOTS = 1,
    /// Ensure parents occur before children (5.2.0).
    VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL = 1024,
    /// Filter by snapshots with no children (0.9.7).
    VIR_DOMAIN_SNAPSHOT_LIST_LEAVES = 4,
    /// Filter by snapshots that have children (0.9.13).
    VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES = 8,
    /// Filter by snapshots which have metadata (0.9.5).
    VIR_DOMAIN_SNAPSHOT_LIST_METADATA = 2,
    /// Filter by snapshots with no metadata (0.9.13).
    VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA = 16,
    /// Filter by snapshots taken while guest was shut off (1.0.1).
    VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE = 32,
    /// Filter by snapshots taken while guest was active, and with memory state (1.0.1).
    VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE = 64,
    /// Filter by snapshots taken while guest was active, but without memory state (1.0.1).
    VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY = 128,
    /// Filter by snapshots stored internal to disk images (1.0.1).
    VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL = 256,
    /// Filter by snapshots that use files external to disk images (1.0.1).
    VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL = 512,
}

/// Flags for `virDomainRevertToSnapshot`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainSnapshotRevertFlags {
    /// Run after revert (0.9.5).
    VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING = 1,
    /// Pause after revert (0.9.5).
    VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED = 2,
    /// Allow risky reverts (0.9.7).
    VIR_DOMAIN_SNAPSHOT_REVERT_FORCE = 4,
    /// Re-initialize NVRAM from template (8.1.0).
    VIR_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM = 8,
}

/// Flags for `virDomainSnapshotDelete`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainSnapshotDeleteFlags {
    /// Also delete children (0.8.0).
    VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN = 1,
    /// Delete just metadata (0.9.5).
    VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY = 2,
    /// Delete just children (0.9.5).
    VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY = 4,
}

/// A domain's state.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainState {
    /// no state.
    VIR_DOMAIN_NOSTATE = 0,
    /// the domain is running.
    VIR_DOMAIN_RUNNING = 1,
    /// the domain is blocked on resource.
    VIR_DOMAIN_BLOCKED = 2,
    /// the domain is paused by user.
    VIR_DOMAIN_PAUSED = 3,
    /// the domain is being shut down.
    VIR_DOMAIN_SHUTDOWN = 4,
    /// the domain is shut off.
    VIR_DOMAIN_SHUTOFF = 5,
    /// the domain is crashed.
    VIR_DOMAIN_CRASHED = 6,
    /// the domain is suspended by guest power management.
    VIR_DOMAIN_PMSUSPENDED = 7,
}

/// Flags for `virDomainGetXMLDesc`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainXMLFlags {
    /// dump security sensitive information too.
    VIR_DOMAIN_XML_SECURE = 1,
    /// dump inactive domain information.
    VIR_DOMAIN_XML_INACTIVE = 2,
    /// update guest CPU requirements according to host CPU.
    VIR_DOMAIN_XML_UPDATE_CPU = 4,
    /// dump XML suitable for migration.
    VIR_DOMAIN_XML_MIGRATABLE = 8,
}

/// Flags for `virDomainCreateWithFlags`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainCreateFlags {
    /// Default behavior.
    VIR_DOMAIN_NONE = 0,
    /// Launch guest in paused state.
    VIR_DOMAIN_START_PAUSED = 1,
    /// Automatically kill guest when virConnectPtr is closed.
    VIR_DOMAIN_START_AUTODESTROY = 2,
    /// Avoid file system cache pollution.
    VIR_DOMAIN_START_BYPASS_CACHE = 4,
    /// Boot, discarding any managed save.
    VIR_DOMAIN_START_FORCE_BOOT = 8,
    /// Validate the XML document against schema.
    VIR_DOMAIN_START_VALIDATE = 16,
    /// Re-initialize NVRAM from template.
    VIR_DOMAIN_START_RESET_NVRAM = 32,
}

/// Flags for `virDomainUndefineFlags`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainUndefineFlagsValues {
    /// Also remove any managed save.
    VIR_DOMAIN_UNDEFINE_MANAGED_SAVE = 1,
    /// If last use of domain, then also remove any snapshot metadata.
    VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA = 2,
    /// Also remove any nvram file.
    VIR_DOMAIN_UNDEFINE_NVRAM = 4,
    /// Keep nvram file.
    VIR_DOMAIN_UNDEFINE_KEEP_NVRAM = 8,
    /// If last use of domain, then also remove any checkpoint metadata.
    VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA = 16,
    /// Also remove any TPM state.
    VIR_DOMAIN_UNDEFINE_TPM = 32,
    /// Keep TPM state.
    VIR_DOMAIN_UNDEFINE_KEEP_TPM = 64,
}

/// Flags for `virConnectListAllDomains`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virConnectListAllDomainsFlags {
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_ACTIVE = 1,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_INACTIVE = 2,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_PERSISTENT = 4,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_TRANSIENT = 8,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_RUNNING = 16,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_PAUSED = 32,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_SHUTOFF = 64,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_OTHER = 128,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE = 256,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE = 512,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_AUTOSTART = 1024,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART = 2048,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT = 4096,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT = 8192,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT = 16384,
    /// filter.
    VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT = 32768,
}

/// Flags for `virConnectOpenAuth`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virConnectFlags {
    /// A readonly connection.
    VIR_CONNECT_RO = 1,
    /// Don't try to resolve URI aliases.
    VIR_CONNECT_NO_ALIASES = 2,
}

/// Credential types for `virConnectOpenAuth` callbacks.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virConnectCredentialType {
    /// Identity to act as.
    VIR_CRED_USERNAME = 1,
    /// Identify to authorize as.
    VIR_CRED_AUTHNAME = 2,
    /// RFC 1766 languages.
    VIR_CRED_LANGUAGE = 3,
    /// client supplies a nonce.
    VIR_CRED_CNONCE = 4,
    /// Passphrase secret.
    VIR_CRED_PASSPHRASE = 5,
    /// Challenge response.
    VIR_CRED_ECHOPROMPT = 6,
    /// Challenge response.
    VIR_CRED_NOECHOPROMPT = 7,
    /// Authentication realm.
    VIR_CRED_REALM = 8,
    /// Externally managed credential.
    VIR_CRED_EXTERNAL = 9,
}

/// How serious an error is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virErrorLevel {
    /// no error.
    VIR_ERR_NONE = 0,
    /// A simple warning.
    VIR_ERR_WARNING = 1,
    /// An error.
    VIR_ERR_ERROR = 2,
}

/// Error codes (the subset virsnap reports; values are libvirt's).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virErrorNumber {
    /// libvirt error code.
    VIR_ERR_OK = 0,
    /// libvirt error code.
    VIR_ERR_INTERNAL_ERROR = 1,
    /// libvirt error code.
    VIR_ERR_NO_MEMORY = 2,
    /// libvirt error code.
    VIR_ERR_NO_SUPPORT = 3,
    /// libvirt error code.
    VIR_ERR_UNKNOWN_HOST = 4,
    /// libvirt error code.
    VIR_ERR_NO_CONNECT = 5,
    /// libvirt error code.
    VIR_ERR_INVALID_CONN = 6,
    /// libvirt error code.
    VIR_ERR_INVALID_DOMAIN = 7,
    /// libvirt error code.
    VIR_ERR_INVALID_ARG = 8,
    /// libvirt error code.
    VIR_ERR_OPERATION_FAILED = 9,
    /// libvirt error code.
    VIR_ERR_HTTP_ERROR = 12,
    /// libvirt error code.
    VIR_ERR_XML_ERROR = 27,
    /// libvirt error code.
    VIR_ERR_OPERATION_DENIED = 29,
    /// libvirt error code.
    VIR_ERR_OPEN_FAILED = 30,
    /// libvirt error code.
    VIR_ERR_READ_FAILED = 31,
    /// libvirt error code.
    VIR_ERR_PARSE_FAILED = 32,
    /// libvirt error code.
    VIR_ERR_WRITE_FAILED = 34,
    /// libvirt error code.
    VIR_ERR_XML_DETAIL = 35,
    /// libvirt error code.
    VIR_ERR_SYSTEM_ERROR = 38,
    /// libvirt error code.
    VIR_ERR_RPC = 39,
    /// libvirt error code.
    VIR_ERR_NO_DOMAIN = 42,
    /// libvirt error code.
    VIR_ERR_AUTH_FAILED = 45,
    /// libvirt error code.
    VIR_ERR_OPERATION_INVALID = 55,
    /// libvirt error code.
    VIR_ERR_CONFIG_UNSUPPORTED = 67,
    /// libvirt error code.
    VIR_ERR_OPERATION_TIMEOUT = 68,
    /// libvirt error code.
    VIR_ERR_INVALID_DOMAIN_SNAPSHOT = 71,
    /// libvirt error code.
    VIR_ERR_NO_DOMAIN_SNAPSHOT = 72,
    /// libvirt error code.
    VIR_ERR_ARGUMENT_UNSUPPORTED = 74,
    /// libvirt error code.
    VIR_ERR_SNAPSHOT_REVERT_RISKY = 77,
    /// libvirt error code.
    VIR_ERR_OPERATION_ABORTED = 78,
    /// libvirt error code.
    VIR_ERR_AUTH_CANCELLED = 79,
    /// libvirt error code.
    VIR_ERR_OPERATION_UNSUPPORTED = 84,
    /// libvirt error code.
    VIR_ERR_RESOURCE_BUSY = 87,
    /// libvirt error code.
    VIR_ERR_XML_INVALID_SCHEMA = 92,
    /// libvirt error code.
    VIR_ERR_AUTH_UNAVAILABLE = 94,
}

/// Which part of the library raised an error (the subset virsnap reports).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virErrorDomain {
    /// error domain.
    VIR_FROM_NONE = 0,
    /// error domain.
    VIR_FROM_XML = 5,
    /// error domain.
    VIR_FROM_DOM = 6,
    /// error domain.
    VIR_FROM_RPC = 7,
    /// error domain.
    VIR_FROM_CONF = 9,
    /// error domain.
    VIR_FROM_QEMU = 10,
    /// error domain.
    VIR_FROM_TEST = 12,
    /// error domain.
    VIR_FROM_DOMAIN = 20,
    /// error domain.
    VIR_FROM_VBOX = 25,
    /// error domain.
    VIR_FROM_ESX = 28,
    /// error domain.
    VIR_FROM_DOMAIN_SNAPSHOT = 35,
    /// error domain.
    VIR_FROM_URI = 45,
    /// error domain.
    VIR_FROM_AUTH = 46,
}

/// virsnap 0.1 delete modes for `virDomainSnapshotDelete` (the seed's MERGE/DISCARD, on bits 16..19; at most one, never combined with libvirt's delete flags).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virsnapDomainSnapshotDeleteMode {
    /// libvirt's default delete: children re-parented, data merged into them.
    VIR_DOMAIN_SNAPSHOT_DELETE_MERGE = 65536,
    /// same as MERGE.
    VIR_DOMAIN_SNAPSHOT_DELETE_MERGE_FORCE = 131072,
    /// delete a snapshot that has no children, else VIR_ERR_OPERATION_INVALID.
    VIR_DOMAIN_SNAPSHOT_DELETE_DISCARD = 262144,
    /// same as VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN.
    VIR_DOMAIN_SNAPSHOT_DELETE_DISCARD_FORCE = 524288,
}

/// `VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS`: on the children calls, list all
/// descendants, not only direct children. Same bit as
/// `VIR_DOMAIN_SNAPSHOT_LIST_ROOTS`. Since: libvirt 0.9.7.
pub const VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS: c_uint = 1;

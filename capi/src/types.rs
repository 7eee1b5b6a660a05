//! Opaque handle types and the plain structs of libvirt's public headers.

use std::os::raw::{c_char, c_int, c_uint, c_ulong, c_ulonglong, c_ushort, c_void};

/// A connection to a hypervisor (`struct _virConnect`, opaque).
/// The pointer is a registry key: it is never dereferenced by the library.
pub struct _virConnect {
    _p: [u8; 0],
}
/// `virConnect` (opaque).
pub type virConnect = _virConnect;
/// A reference to a connection, owned by the caller when returned by
/// `virConnectOpen*`; release it with `virConnectClose`.
pub type virConnectPtr = *mut virConnect;

/// A domain (`struct _virDomain`, opaque).
pub struct _virDomain {
    _p: [u8; 0],
}
/// `virDomain` (opaque).
pub type virDomain = _virDomain;
/// A reference to a domain; release owned references with `virDomainFree`.
pub type virDomainPtr = *mut virDomain;

/// A domain snapshot (`struct _virDomainSnapshot`, opaque).
pub struct _virDomainSnapshot {
    _p: [u8; 0],
}
/// `virDomainSnapshot` (opaque).
pub type virDomainSnapshot = _virDomainSnapshot;
/// A reference to a snapshot; release owned references with `virDomainSnapshotFree`.
pub type virDomainSnapshotPtr = *mut virDomainSnapshot;

/// A network (`struct _virNetwork`, opaque). Only used by the deprecated
/// `net` field of `virError`, which is always NULL.
pub struct _virNetwork {
    _p: [u8; 0],
}
/// `virNetwork` (opaque).
pub type virNetwork = _virNetwork;
/// Pointer to a network (unused by virsnap).
pub type virNetworkPtr = *mut virNetwork;

/// `virDomainInfo`, filled by `virDomainGetInfo`. Layout as libvirt's.
#[repr(C)]
pub struct _virDomainInfo {
    /// The running state, one of `virDomainState`.
    pub state: u8,
    /// The maximum memory in KBytes allowed.
    pub maxMem: c_ulong,
    /// The memory in KBytes used by the domain.
    pub memory: c_ulong,
    /// The number of virtual CPUs for the domain.
    pub nrVirtCpu: c_ushort,
    /// The CPU time used in nanoseconds.
    pub cpuTime: c_ulonglong,
}
/// `virDomainInfo`.
pub type virDomainInfo = _virDomainInfo;
/// Pointer to a caller-owned `virDomainInfo`.
pub type virDomainInfoPtr = *mut virDomainInfo;

/// One credential request of `virConnectOpenAuth` (`virConnectCredential`).
#[repr(C)]
pub struct _virConnectCredential {
    /// One of `virConnectCredentialType`.
    pub r#type: c_int,
    /// Prompt to show to the user.
    pub prompt: *const c_char,
    /// Additional challenge to show.
    pub challenge: *const c_char,
    /// Optional default result.
    pub defresult: *const c_char,
    /// Result to be filled with the user response (malloc'd by the callback; freed by the library).
    pub result: *mut c_char,
    /// Length of the result.
    pub resultlen: c_uint,
}
/// `virConnectCredential`.
pub type virConnectCredential = _virConnectCredential;
/// Pointer to an array of credentials.
pub type virConnectCredentialPtr = *mut virConnectCredential;

/// The credential callback of `virConnectAuth`: returns 0 when every
/// credential was filled, −1 otherwise.
pub type virConnectAuthCallbackPtr = Option<
    unsafe extern "C" fn(
        cred: virConnectCredentialPtr,
        ncred: c_uint,
        cbdata: *mut c_void,
    ) -> c_int,
>;

/// Authentication parameters of `virConnectOpenAuth` (`virConnectAuth`).
#[repr(C)]
pub struct _virConnectAuth {
    /// List of supported `virConnectCredentialType` values.
    pub credtype: *mut c_int,
    /// Number of entries in `credtype`.
    pub ncredtype: c_uint,
    /// Callback used to collect credentials.
    pub cb: virConnectAuthCallbackPtr,
    /// Opaque data passed to the callback.
    pub cbdata: *mut c_void,
}
/// `virConnectAuth`.
pub type virConnectAuth = _virConnectAuth;
/// Pointer to caller-owned authentication parameters.
pub type virConnectAuthPtr = *mut virConnectAuth;

/// `LIBVIR_VERSION_NUMBER`: the libvirt version whose API this library implements
/// (major * 1,000,000 + minor * 1,000 + micro).
pub const LIBVIR_VERSION_NUMBER: u32 = 9_000_000;
/// `VIR_UUID_BUFLEN`: bytes in a raw UUID.
pub const VIR_UUID_BUFLEN: u32 = 16;
/// `VIR_UUID_STRING_BUFLEN`: bytes needed for a UUID string and its NUL.
pub const VIR_UUID_STRING_BUFLEN: u32 = 37;
/// virsnap's own version (major * 1,000,000 + minor * 1,000 + micro).
pub const VIRSNAP_VERSION_NUMBER: u32 = 1_000;

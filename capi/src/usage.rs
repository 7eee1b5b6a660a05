//! Snapshot disk usage (virsnap 0.2, DESIGN §4.5): `virDomainSnapshotGetUsage`
//! for one snapshot, `virDomainListSnapshotUsage` for every snapshot of a
//! domain in one pass over its images.
//!
//! Ownership: the caller owns the `virDomainSnapshotUsage` it passes in;
//! the list call returns two malloc'd arrays the caller releases with
//! `free()` (each name, then the names array; the usage array).

use std::os::raw::{c_char, c_int, c_uint, c_ulonglong};
use std::ptr;

use virsnap_core::{Error, ErrorCode, ErrorDomain, SnapshotUsage};

use crate::boundary::{self, entry};
use crate::handles;
use crate::types::{virDomainPtr, virDomainSnapshotPtr};

const SNAP: ErrorDomain = ErrorDomain::DomainSnapshot;
const DOM: ErrorDomain = ErrorDomain::Domain;

/// Which fields of a `virDomainSnapshotUsage` the driver knows (bits of
/// its `known` member). A field whose bit is clear is 0 and means
/// "unknown", never an estimate. Since: virsnap 0.2.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virDomainSnapshotUsageFields {
    /// `reclaimableBytes` is known.
    VIR_DOMAIN_SNAPSHOT_USAGE_RECLAIMABLE = 1,
    /// `vmStateBytes` is known.
    VIR_DOMAIN_SNAPSHOT_USAGE_VM_STATE = 2,
    /// `exclusiveBytes` is known.
    VIR_DOMAIN_SNAPSHOT_USAGE_EXCLUSIVE = 4,
    /// `sharedBytes` is known.
    VIR_DOMAIN_SNAPSHOT_USAGE_SHARED = 8,
    /// `overlayBytes` is known.
    VIR_DOMAIN_SNAPSHOT_USAGE_OVERLAY = 16,
}

/// The disk usage of one snapshot, filled by `virDomainSnapshotGetUsage`
/// and `virDomainListSnapshotUsage`. Plain data owned by the caller.
/// Since: virsnap 0.2.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct _virDomainSnapshotUsage {
    /// `virDomainSnapshotUsageFields` bits of the fields that are known.
    pub known: c_uint,
    /// Bytes on the host's storage that deleting this snapshot alone
    /// (default delete, children kept) would free.
    pub reclaimableBytes: c_ulonglong,
    /// Size of the saved memory state (0 for a disk-only snapshot).
    pub vmStateBytes: c_ulonglong,
    /// Bytes of storage only this snapshot references.
    pub exclusiveBytes: c_ulonglong,
    /// Bytes of storage this snapshot shares with another snapshot or the
    /// domain's current state.
    pub sharedBytes: c_ulonglong,
    /// Bytes the snapshot's external overlay files take on the host.
    pub overlayBytes: c_ulonglong,
}
/// `virDomainSnapshotUsage`.
pub type virDomainSnapshotUsage = _virDomainSnapshotUsage;
/// Pointer to a `virDomainSnapshotUsage`.
pub type virDomainSnapshotUsagePtr = *mut virDomainSnapshotUsage;

fn to_c(u: &SnapshotUsage) -> virDomainSnapshotUsage {
    use virDomainSnapshotUsageFields as F;
    let mut c = virDomainSnapshotUsage::default();
    let mut set = |v: Option<u64>, bit: F, out: &mut c_ulonglong| {
        if let Some(v) = v {
            *out = v;
            c.known |= bit as c_uint;
        }
    };
    let mut r = 0;
    let mut m = 0;
    let mut e = 0;
    let mut s = 0;
    let mut o = 0;
    set(u.reclaimable_bytes, F::VIR_DOMAIN_SNAPSHOT_USAGE_RECLAIMABLE, &mut r);
    set(u.vm_state_bytes, F::VIR_DOMAIN_SNAPSHOT_USAGE_VM_STATE, &mut m);
    set(u.exclusive_bytes, F::VIR_DOMAIN_SNAPSHOT_USAGE_EXCLUSIVE, &mut e);
    set(u.shared_bytes, F::VIR_DOMAIN_SNAPSHOT_USAGE_SHARED, &mut s);
    set(u.overlay_bytes, F::VIR_DOMAIN_SNAPSHOT_USAGE_OVERLAY, &mut o);
    c.reclaimableBytes = r;
    c.vmStateBytes = m;
    c.exclusiveBytes = e;
    c.sharedBytes = s;
    c.overlayBytes = o;
    c
}

/// Fills `usage` with the disk usage of `snapshot` (`flags` must be 0).
/// Fields the driver cannot know have their `known` bit clear.
///
/// Returns: 0, or −1. Since: virsnap 0.2.
///
/// # Safety
/// `snapshot` is a registry key; `usage` must be NULL or point to a
/// writable `virDomainSnapshotUsage`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotGetUsage(
    snapshot: virDomainSnapshotPtr,
    usage: virDomainSnapshotUsagePtr,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainSnapshotGetUsage";
    entry(F, || {
        let s = handles::snapshot(snapshot, F)?;
        if usage.is_null() {
            return Err(boundary::null_arg(F, "usage", SNAP));
        }
        let u = s.snap.usage(flags)?;
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *usage = to_c(&u) };
        Ok(0)
    })
}

/// Disk usage of every snapshot of `domain` (`flags` must be 0), in
/// `virDomainSnapshotListNames` order, from one read of the domain's images.
///
/// Returns: the number of snapshots n, or −1 (then `*names` and `*usages`
/// are NULL). On success `*names` is a malloc'd array of n+1 malloc'd
/// strings ending with NULL and `*usages` a malloc'd array of n entries
/// (NULL when n is 0): `free()` each name, the names array and the usage
/// array. Since: virsnap 0.2.
///
/// # Safety
/// `domain` is a registry key; `names` and `usages` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainListSnapshotUsage(
    domain: virDomainPtr,
    names: *mut *mut *mut c_char,
    usages: *mut virDomainSnapshotUsagePtr,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainListSnapshotUsage";
    for p in [names.cast::<*mut u8>(), usages.cast::<*mut u8>()] {
        if !p.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { *p = ptr::null_mut() };
        }
    }
    entry(F, || {
        let d = handles::domain(domain, F)?;
        if names.is_null() {
            return Err(boundary::null_arg(F, "names", DOM));
        }
        if usages.is_null() {
            return Err(boundary::null_arg(F, "usages", DOM));
        }
        let rows = d.dom.snapshot_usage(flags)?;
        let n = rows.len();
        let count = c_int::try_from(n).map_err(|_| Error::new(ErrorCode::InternalError, DOM, "too many snapshots"))?;
        let arr = boundary::out_array::<c_char>(n)?;
        let mut u: virDomainSnapshotUsagePtr = ptr::null_mut();
        if n > 0 {
            // SAFETY: calloc returns NULL or zeroed room for n entries.
            u = unsafe { libc::calloc(n, std::mem::size_of::<virDomainSnapshotUsage>()) }.cast();
        }
        let cleanup = |filled: usize| {
            for i in 0..filled {
                // SAFETY: entries 0..filled were malloc'd by out_string.
                unsafe { libc::free((*arr.add(i)).cast()) };
            }
            // SAFETY: both came from calloc (free(NULL) is a no-op).
            unsafe {
                libc::free(arr.cast());
                libc::free(u.cast());
            }
        };
        if n > 0 && u.is_null() {
            cleanup(0);
            return Err(Error::bare(ErrorCode::NoMemory, ErrorDomain::None));
        }
        for (i, r) in rows.iter().enumerate() {
            match boundary::out_string(&r.name) {
                // SAFETY: i < n: inside both arrays.
                Ok(p) => unsafe {
                    *arr.add(i) = p;
                    *u.add(i) = to_c(r);
                },
                Err(e) => {
                    cleanup(i);
                    return Err(e);
                }
            }
        }
        // SAFETY: non-NULL (checked) and writable per the contract.
        unsafe {
            *names = arr;
            *usages = u;
        }
        Ok(count)
    })
}

//! virsnap 0.2 snapshot health calls (issue 21): retention (prune) and
//! verify/repair, exported under the ELF version node `VIRSNAP_0.2` by
//! capi/abi/gen-link.py like every `vir*` extension.

use std::os::raw::{c_char, c_int, c_longlong, c_uint};
use std::time::Duration;

use virsnap_core::health::PruneRule;
use virsnap_core::{Error, ErrorDomain};

use crate::boundary::{self, entry};
use crate::handles;
use crate::types::virDomainPtr;

const SNAP: ErrorDomain = ErrorDomain::DomainSnapshot;

/// Flags of `virDomainSnapshotPrune` (virsnap 0.2).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virsnapDomainSnapshotPruneFlags {
    /// report what would be deleted, delete nothing.
    VIR_DOMAIN_SNAPSHOT_PRUNE_DRY_RUN = 1,
}

/// Flags of `virDomainSnapshotVerify` (virsnap 0.2).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum virsnapDomainSnapshotVerifyFlags {
    /// apply the fixes that lose nothing.
    VIR_DOMAIN_SNAPSHOT_VERIFY_REPAIR = 1,
}

/// Stores `lines` in `*out` as a malloc'd NULL-terminated array of malloc'd
/// strings (nothing when `out` is NULL). All or nothing: on failure what
/// was allocated is freed and `*out` stays NULL.
///
/// # Safety
/// `out` must be NULL or writable.
unsafe fn out_lines(out: *mut *mut *mut c_char, lines: &[String]) -> Result<(), Error> {
    if out.is_null() {
        return Ok(());
    }
    let arr = boundary::out_array::<c_char>(lines.len())?;
    for (i, l) in lines.iter().enumerate() {
        match boundary::out_string(l) {
            // SAFETY: `arr` has lines.len() + 1 slots; i < lines.len().
            Ok(p) => unsafe { *arr.add(i) = p },
            Err(e) => {
                for j in 0..i {
                    // SAFETY: entries 0..i were malloc'd just above.
                    unsafe { libc::free((*arr.add(j)).cast()) };
                }
                // SAFETY: `arr` came from calloc in out_array.
                unsafe { libc::free(arr.cast()) };
                return Err(e);
            }
        }
    }
    // SAFETY: non-NULL (checked) and writable per the contract.
    unsafe { *out = arr };
    Ok(())
}

/// Deletes the snapshots of `domain` that a retention rule does not keep:
/// all but the `keep` newest (by creation time, ties by creation order;
/// `keep` < 0: no count rule) that were created more than `olderThan`
/// seconds ago (`olderThan` < 0: no age rule); at least one rule must be
/// given. The current snapshot is never deleted; each deletion is libvirt's
/// default delete (children re-parented, data merged into them). With
/// `VIR_DOMAIN_SNAPSHOT_PRUNE_DRY_RUN` nothing is deleted.
///
/// Returns: the number of snapshots deleted (or that would be), or −1. If
/// `names` is not NULL, `*names` gets a malloc'd NULL-terminated array of
/// their malloc'd names, oldest first: `free()` each, then the array (NULL
/// on failure).
/// Since: virsnap 0.2.
///
/// # Safety
/// `domain` is a registry key; `names` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotPrune(
    domain: virDomainPtr,
    keep: c_int,
    olderThan: c_longlong,
    names: *mut *mut *mut c_char,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainSnapshotPrune";
    if !names.is_null() {
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *names = std::ptr::null_mut() };
    }
    entry(F, || {
        let d = handles::domain(domain, F)?;
        if keep < 0 && olderThan < 0 {
            return Err(Error::invalid_arg(SNAP, format!("{F}: no retention rule (give keep and/or olderThan)")));
        }
        let rule = PruneRule {
            keep: usize::try_from(keep).ok(),
            older_than: u64::try_from(olderThan).ok().map(Duration::from_secs),
        };
        let gone = d.dom.snapshot_prune(&rule, flags)?;
        // SAFETY: forwarded contract.
        unsafe { out_lines(names, &gone) }?;
        c_int::try_from(gone.len()).map_err(|_| Error::internal(SNAP, "too many snapshots"))
    })
}

/// Compares the snapshot metadata of `domain` with the hypervisor's own
/// state. With `VIR_DOMAIN_SNAPSHOT_VERIFY_REPAIR` the fixes that lose
/// nothing are applied (drop metadata whose state is gone, adopt a
/// hypervisor snapshot without metadata, re-point current); the others are
/// refused.
///
/// Returns: the number of differences left (0: consistent), or −1. If
/// `problems` is not NULL, `*problems` gets a malloc'd NULL-terminated
/// array of malloc'd lines, one per difference found, each naming the
/// snapshot and, after a repair, what was done or why not: `free()` each,
/// then the array (NULL on failure).
/// Since: virsnap 0.2.
///
/// # Safety
/// `domain` is a registry key; `problems` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotVerify(
    domain: virDomainPtr,
    problems: *mut *mut *mut c_char,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainSnapshotVerify";
    if !problems.is_null() {
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *problems = std::ptr::null_mut() };
    }
    entry(F, || {
        let d = handles::domain(domain, F)?;
        let found = d.dom.snapshot_verify(flags)?;
        let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
        // SAFETY: forwarded contract.
        unsafe { out_lines(problems, &lines) }?;
        let left = found.iter().filter(|f| f.remains()).count();
        c_int::try_from(left).map_err(|_| Error::internal(SNAP, "too many differences"))
    })
}

//! virsnap 0.1 extensions from the seed proposal (DESIGN §4.3), exported
//! under the ELF version node `VIRSNAP_0.1`.

use std::os::raw::{c_char, c_int, c_uint};

use virsnap_core::ErrorDomain;

use crate::boundary::{self, entry};
use crate::domain_snapshot::fill_names;
use crate::handles;
use crate::types::{virDomainPtr, virDomainSnapshotPtr};

const SNAP: ErrorDomain = ErrorDomain::DomainSnapshot;

/// Same as `virDomainSnapshotListNames` (the seed's name for it).
///
/// Returns: the number of matching snapshots, or −1; names are malloc'd.
/// Since: virsnap 0.1.
///
/// # Safety
/// `domain` is a registry key; `names` must be NULL or have room for `nameslen` pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainListSnapshotNames(
    domain: virDomainPtr,
    names: *mut *mut c_char,
    nameslen: c_int,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainListSnapshotNames";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        // SAFETY: forwarded contract.
        unsafe { fill_names(names, nameslen, F, |f| d.dom.snapshot_list_names_with(flags, f)) }
    })
}

/// Reverts to `snapshot`, then makes sure the guest runs (paused with
/// `VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED`).
///
/// Returns: 0, or −1. Since: virsnap 0.1.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainCreateFromSnapshot(
    snapshot: virDomainSnapshotPtr,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainCreateFromSnapshot";
    entry(F, || {
        handles::snapshot(snapshot, F)?.snap.create_from(flags)?;
        Ok(0)
    })
}

/// Renames `snapshot` to `newname` (`flags` must be 0). The handle then
/// carries the new name; pointers returned earlier by
/// `virDomainSnapshotGetName` stay valid. A name collision gives
/// `VIR_ERR_OPERATION_INVALID`.
///
/// Returns: 0, or −1. Since: virsnap 0.1.
///
/// # Safety
/// `snapshot` is a registry key; `newname` must be NULL or a C string (not modified).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotRename(
    snapshot: virDomainSnapshotPtr,
    newname: *mut c_char,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainSnapshotRename";
    entry(F, || {
        let s = handles::snapshot(snapshot, F)?;
        // SAFETY: forwarded contract.
        let n = unsafe { boundary::cstr_arg(newname, "newname", F, SNAP) }?;
        s.snap.rename(n, flags)?;
        Ok(0)
    })
}

/// Writes the snapshot's UUID string (36 characters and a NUL) into `buf`.
///
/// Returns: 0, or −1. Since: virsnap 0.1.
///
/// # Safety
/// `snapshot` is a registry key; `buf` must be NULL or `VIR_UUID_STRING_BUFLEN` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotGetUUIDString(
    snapshot: virDomainSnapshotPtr,
    buf: *mut c_char,
) -> c_int {
    const F: &str = "virDomainSnapshotGetUUIDString";
    entry(F, || {
        let s = handles::snapshot(snapshot, F)?;
        if buf.is_null() {
            return Err(boundary::null_arg(F, "buf", SNAP));
        }
        let u = s.snap.uuid_string()?;
        // SAFETY: non-NULL with 37 writable bytes per the contract.
        unsafe { crate::domain::write_uuid(buf, &u) };
        Ok(0)
    })
}

/// Looks up a snapshot of `domain` by its virsnap UUID string.
///
/// Returns: a new reference (`virDomainSnapshotFree`), or NULL. Since: virsnap 0.1.
///
/// # Safety
/// `domain` is a registry key; `uuid` must be NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotLookupByUUIDString(
    domain: virDomainPtr,
    uuid: *const c_char,
    flags: c_uint,
) -> virDomainSnapshotPtr {
    const F: &str = "virDomainSnapshotLookupByUUIDString";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        // SAFETY: forwarded contract.
        let u = unsafe { boundary::cstr_arg(uuid, "uuid", F, SNAP) }?;
        let s = d.dom.snapshot_lookup_by_uuid_string(u, flags)?;
        handles::publish_snapshot(&d, s)
    })
}

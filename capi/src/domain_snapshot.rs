//! Every `virDomainSnapshot*` call (libvirt's `libvirt-domain-snapshot.c`).
//!
//! Ownership (style.md §8.2): handles returned by CreateXML, LookupByName,
//! Current, GetParent and the ListAll calls are new references released
//! with `virDomainSnapshotFree`; GetName/GetDomain/GetConnect return
//! borrowed values; strings and arrays come from `malloc`.

use std::os::raw::{c_char, c_int, c_uint};
use std::ptr;

use virsnap_core::names::SnapName;
use virsnap_core::{Error, ErrorDomain};

use crate::boundary::{self, entry};
use crate::handles::{self, SnapHandle, SnapList};
use crate::types::{virConnectPtr, virDomainPtr, virDomainSnapshotPtr};

/// libvirt-domain-snapshot.c reports argument errors in `VIR_FROM_DOMAIN_SNAPSHOT`.
const SNAP: ErrorDomain = ErrorDomain::DomainSnapshot;

/// The name of `snapshot`.
///
/// Returns: a string owned by the handle, valid while the handle has a
/// reference (even after a rename); do not free. NULL on error.
/// Since: libvirt 0.9.5.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotGetName(snapshot: virDomainSnapshotPtr) -> *const c_char {
    entry("virDomainSnapshotGetName", || {
        Ok(handles::snapshot(snapshot, "virDomainSnapshotGetName")?.name_c())
    })
}

/// The domain of `snapshot`.
///
/// Returns: a borrowed pointer (no new reference; valid while the snapshot
/// handle lives; `virDomainRef` it to keep it longer), or NULL.
/// Since: libvirt 0.9.5.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotGetDomain(
    snapshot: virDomainSnapshotPtr,
) -> virDomainPtr {
    entry("virDomainSnapshotGetDomain", || {
        Ok(handles::snapshot(snapshot, "virDomainSnapshotGetDomain")?.dom_ptr())
    })
}

/// The connection of `snapshot`.
///
/// Returns: a borrowed pointer (no new reference), or NULL. Since: libvirt 0.9.5.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotGetConnect(
    snapshot: virDomainSnapshotPtr,
) -> virConnectPtr {
    entry("virDomainSnapshotGetConnect", || {
        Ok(handles::snapshot(snapshot, "virDomainSnapshotGetConnect")?
            .dom
            .conn_ptr())
    })
}

/// Creates a snapshot from `<domainsnapshot>` XML (`VIR_DOMAIN_SNAPSHOT_CREATE_*` flags).
///
/// Returns: a new reference (`virDomainSnapshotFree`), or NULL. Since: libvirt 0.8.0.
///
/// # Safety
/// `domain` is a registry key; `xmlDesc` must be NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotCreateXML(
    domain: virDomainPtr,
    xmlDesc: *const c_char,
    flags: c_uint,
) -> virDomainSnapshotPtr {
    const F: &str = "virDomainSnapshotCreateXML";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        // SAFETY: forwarded contract.
        let xml = unsafe { boundary::cstr_arg(xmlDesc, "xmlDesc", F, SNAP) }?;
        let s = d.dom.snapshot_create_xml(xml, flags)?;
        handles::publish_snapshot(&d, s)
    })
}

/// The snapshot's XML (`VIR_DOMAIN_SNAPSHOT_XML_SECURE`).
///
/// Returns: a malloc'd string the caller `free()`s, or NULL. Since: libvirt 0.8.0.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotGetXMLDesc(
    snapshot: virDomainSnapshotPtr,
    flags: c_uint,
) -> *mut c_char {
    const F: &str = "virDomainSnapshotGetXMLDesc";
    entry(F, || {
        let s = handles::snapshot(snapshot, F)?;
        boundary::out_string(&s.snap.xml_desc(flags)?)
    })
}

/// Number of snapshots matching `VIR_DOMAIN_SNAPSHOT_LIST_*` `flags`.
///
/// Returns: the count, or −1. Since: libvirt 0.8.0.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotNum(domain: virDomainPtr, flags: c_uint) -> c_int {
    const F: &str = "virDomainSnapshotNum";
    entry(F, || {
        Ok(handles::domain(domain, F)?.dom.snapshot_num(flags)? as c_int)
    })
}

/// Checks `names`/`nameslen`, then fills at most `nameslen` malloc'd copies
/// straight from `visit` (which calls its argument with every matching name,
/// in order; no list is built). Returns the total count, as libvirt does; on
/// error nothing is left in `names`.
///
/// # Safety
/// `names` must be NULL or have room for `nameslen` pointers.
pub(crate) unsafe fn fill_names(
    names: *mut *mut c_char,
    nameslen: c_int,
    func: &str,
    visit: impl FnOnce(&mut dyn FnMut(&SnapName)) -> virsnap_core::Result<()>,
) -> Result<c_int, Error> {
    if nameslen < 0 {
        return Err(boundary::negative_arg(func, "nameslen", SNAP));
    }
    if names.is_null() && nameslen > 0 {
        return Err(boundary::null_arg(func, "names", SNAP));
    }
    let room = nameslen as usize;
    let mut total = 0usize;
    let mut written = 0usize;
    let mut failed: Option<Error> = None;
    let res = visit(&mut |n| {
        if written == total && written < room {
            match boundary::out_bytes(n.as_bytes()) {
                Ok(p) => {
                    // SAFETY: written < nameslen, room guaranteed by the caller.
                    unsafe { *names.add(written) = p };
                    written += 1;
                }
                Err(e) => failed = Some(e),
            }
        }
        total += 1;
    });
    let err = match (res, failed) {
        (Err(e), _) | (Ok(()), Some(e)) => Some(e),
        (Ok(()), None) => None,
    };
    if let Some(e) = err {
        for j in 0..written {
            // SAFETY: entries 0..written were malloc'd just above; free them
            // and clear the slots so no partial result is left.
            unsafe {
                libc::free((*names.add(j)).cast());
                *names.add(j) = ptr::null_mut();
            }
        }
        return Err(e);
    }
    Ok(total as c_int)
}

/// Fills `names` with up to `nameslen` snapshot names matching `flags`.
///
/// Returns: the number of matching snapshots (which may exceed `nameslen`),
/// or −1. Each name written is malloc'd; the caller `free()`s it.
/// Since: libvirt 0.8.0.
///
/// # Safety
/// `domain` is a registry key; `names` must be NULL or have room for `nameslen` pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotListNames(
    domain: virDomainPtr,
    names: *mut *mut c_char,
    nameslen: c_int,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainSnapshotListNames";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        // SAFETY: forwarded contract.
        unsafe { fill_names(names, nameslen, F, |f| d.dom.snapshot_list_names_with(flags, f)) }
    })
}

/// Lists the snapshots matching `flags`. With `snaps` NULL only the count is returned.
///
/// Returns: the count, or −1 (then `*snaps` is NULL). On success `*snaps` is
/// a malloc'd array of count+1 entries ending with NULL, each a new
/// reference: `virDomainSnapshotFree` each, then `free()` the array.
/// Since: libvirt 0.9.13.
///
/// # Safety
/// `domain` is a registry key; `snaps` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainListAllSnapshots(
    domain: virDomainPtr,
    snaps: *mut *mut virDomainSnapshotPtr,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainListAllSnapshots";
    if !snaps.is_null() {
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *snaps = ptr::null_mut() };
    }
    entry(F, || {
        let d = handles::domain(domain, F)?;
        if snaps.is_null() {
            // Only the count (the driver's checks and errors are those of ListAll).
            let mut n = 0;
            d.dom.list_all_snapshots_with(flags, &mut |_| n += 1)?;
            return Ok(n as c_int);
        }
        let mut list = SnapList::new(&d);
        d.dom.list_all_snapshots_with(flags, &mut |s| list.push(s))?;
        // SAFETY: `snaps` is non-NULL (checked) and writable per the contract.
        Ok(unsafe { list.finish(snaps) }? as c_int)
    })
}

/// Number of children (all descendants with `VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS`).
///
/// Returns: the count, or −1. Since: libvirt 0.9.7.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotNumChildren(
    snapshot: virDomainSnapshotPtr,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainSnapshotNumChildren";
    entry(F, || {
        Ok(handles::snapshot(snapshot, F)?.snap.num_children(flags)? as c_int)
    })
}

/// Fills `names` with up to `nameslen` children names.
///
/// Returns: the number of matching children, or −1; names are malloc'd (`free()` each).
/// Since: libvirt 0.9.7.
///
/// # Safety
/// `snapshot` is a registry key; `names` must be NULL or have room for `nameslen` pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotListChildrenNames(
    snapshot: virDomainSnapshotPtr,
    names: *mut *mut c_char,
    nameslen: c_int,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainSnapshotListChildrenNames";
    entry(F, || {
        let s = handles::snapshot(snapshot, F)?;
        // SAFETY: forwarded contract.
        unsafe { fill_names(names, nameslen, F, |f| s.snap.list_children_names_with(flags, f)) }
    })
}

/// Lists the children of `snapshot`, like `virDomainListAllSnapshots`.
///
/// Returns: the count, or −1 (then `*snaps` is NULL). Ownership as
/// `virDomainListAllSnapshots`. Since: libvirt 0.9.13.
///
/// # Safety
/// `snapshot` is a registry key; `snaps` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotListAllChildren(
    snapshot: virDomainSnapshotPtr,
    snaps: *mut *mut virDomainSnapshotPtr,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainSnapshotListAllChildren";
    if !snaps.is_null() {
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *snaps = ptr::null_mut() };
    }
    entry(F, || {
        let s = handles::snapshot(snapshot, F)?;
        if snaps.is_null() {
            let mut n = 0;
            s.snap.list_all_children_with(flags, &mut |_| n += 1)?;
            return Ok(n as c_int);
        }
        let mut list = SnapList::new(&s.dom);
        s.snap.list_all_children_with(flags, &mut |c| list.push(c))?;
        // SAFETY: `snaps` is non-NULL (checked) and writable per the contract.
        Ok(unsafe { list.finish(snaps) }? as c_int)
    })
}

/// Looks up a snapshot by name.
///
/// Returns: a new reference (`virDomainSnapshotFree`), or NULL. Since: libvirt 0.8.0.
///
/// # Safety
/// `domain` is a registry key; `name` must be NULL or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotLookupByName(
    domain: virDomainPtr,
    name: *const c_char,
    flags: c_uint,
) -> virDomainSnapshotPtr {
    const F: &str = "virDomainSnapshotLookupByName";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        // SAFETY: forwarded contract.
        let name = unsafe { boundary::cstr_arg(name, "name", F, SNAP) }?;
        let s = d.dom.snapshot_lookup_by_name(name, flags)?;
        handles::publish_snapshot(&d, s)
    })
}

/// Whether the domain has a current snapshot.
///
/// Returns: 1, 0, or −1. Since: libvirt 0.8.0.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainHasCurrentSnapshot(domain: virDomainPtr, flags: c_uint) -> c_int {
    const F: &str = "virDomainHasCurrentSnapshot";
    entry(F, || {
        Ok(c_int::from(
            handles::domain(domain, F)?
                .dom
                .has_current_snapshot(flags)?,
        ))
    })
}

/// The current snapshot.
///
/// Returns: a new reference (`virDomainSnapshotFree`), or NULL
/// (`VIR_ERR_NO_DOMAIN_SNAPSHOT` when there is none). Since: libvirt 0.8.0.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotCurrent(
    domain: virDomainPtr,
    flags: c_uint,
) -> virDomainSnapshotPtr {
    const F: &str = "virDomainSnapshotCurrent";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        let s = d.dom.snapshot_current(flags)?;
        handles::publish_snapshot(&d, s)
    })
}

/// The parent of `snapshot`.
///
/// Returns: a new reference (`virDomainSnapshotFree`), or NULL
/// (`VIR_ERR_NO_DOMAIN_SNAPSHOT` for a root). Since: libvirt 0.9.7.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotGetParent(
    snapshot: virDomainSnapshotPtr,
    flags: c_uint,
) -> virDomainSnapshotPtr {
    const F: &str = "virDomainSnapshotGetParent";
    entry(F, || {
        let s = handles::snapshot(snapshot, F)?;
        let p = s.snap.parent(flags)?;
        handles::publish_snapshot(&s.dom, p)
    })
}

/// Whether `snapshot` is the domain's current snapshot.
///
/// Returns: 1, 0, or −1. Since: libvirt 0.9.13.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotIsCurrent(
    snapshot: virDomainSnapshotPtr,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainSnapshotIsCurrent";
    entry(F, || {
        Ok(c_int::from(
            handles::snapshot(snapshot, F)?.snap.is_current(flags)?,
        ))
    })
}

/// Whether the driver keeps metadata for `snapshot`.
///
/// Returns: 1, 0, or −1. Since: libvirt 0.9.13.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotHasMetadata(
    snapshot: virDomainSnapshotPtr,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainSnapshotHasMetadata";
    entry(F, || {
        Ok(c_int::from(
            handles::snapshot(snapshot, F)?.snap.has_metadata(flags)?,
        ))
    })
}

/// Reverts the domain to `snapshot` (`VIR_DOMAIN_SNAPSHOT_REVERT_*`).
///
/// Returns: 0, or −1. Since: libvirt 0.8.0.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainRevertToSnapshot(
    snapshot: virDomainSnapshotPtr,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainRevertToSnapshot";
    entry(F, || {
        handles::snapshot(snapshot, F)?.snap.revert(flags)?;
        Ok(0)
    })
}

/// Deletes `snapshot` (`VIR_DOMAIN_SNAPSHOT_DELETE_*`, including virsnap's
/// MERGE/MERGE_FORCE/DISCARD/DISCARD_FORCE modes). The handle stays valid;
/// later calls on it fail with `VIR_ERR_NO_DOMAIN_SNAPSHOT`.
///
/// Returns: 0, or −1. Since: libvirt 0.8.0.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotDelete(
    snapshot: virDomainSnapshotPtr,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainSnapshotDelete";
    entry(F, || {
        handles::snapshot(snapshot, F)?.snap.delete(flags)?;
        Ok(0)
    })
}

/// Adds a reference to `snapshot`; each needs a matching `virDomainSnapshotFree`.
///
/// Returns: 0, or −1. Since: libvirt 0.9.13.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotRef(snapshot: virDomainSnapshotPtr) -> c_int {
    entry("virDomainSnapshotRef", || {
        handles::add_ref::<SnapHandle, _>(snapshot, "virDomainSnapshotRef")?;
        Ok(0)
    })
}

/// Releases one reference to `snapshot` (the snapshot itself is unaffected).
/// The last reference also releases the handle's domain and connection references.
///
/// Returns: 0, or −1 for an invalid or over-freed handle. Since: libvirt 0.8.0.
///
/// # Safety
/// `snapshot` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainSnapshotFree(snapshot: virDomainSnapshotPtr) -> c_int {
    entry("virDomainSnapshotFree", || {
        handles::release::<SnapHandle, _>(snapshot, "virDomainSnapshotFree")?;
        Ok(0)
    })
}

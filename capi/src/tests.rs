//! Unit tests calling the exports directly, as a C caller would (rustls-ffi
//! style): NULL, stale, forged and double-freed handles, panics at the
//! boundary, malloc'd results, registry bookkeeping.

use std::ffi::{CStr, CString};
use std::os::raw::{c_int, c_void};
use std::ptr;

use crate::boundary;
use crate::connect::*;
use crate::domain::*;
use crate::domain_snapshot::*;
use crate::errors::*;
use crate::extensions::*;
use crate::types::*;

fn last_code() -> c_int {
    // SAFETY: no arguments.
    unsafe { virGetLastErrorCode() }
}

fn last_message() -> String {
    // SAFETY: returns a valid C string ("no error" at worst).
    unsafe { CStr::from_ptr(virGetLastErrorMessage()) }
        .to_string_lossy()
        .into_owned()
}

unsafe extern "C" fn quiet(_: *mut c_void, _: virErrorPtr) {}

/// Serializes the tests that use `test:///default`: its driver is shared by
/// every connection in the process, so one test's snapshots would show up
/// in another's counts.
static DEFAULT_DRIVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn default_driver() -> std::sync::MutexGuard<'static, ()> {
    DEFAULT_DRIVER.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn quiet_errors() {
    // SAFETY: a valid handler function.
    unsafe { virSetErrorFunc(ptr::null_mut(), Some(quiet)) };
}

#[test]
fn null_handles_give_libvirt_errors() {
    quiet_errors();
    // SAFETY: NULL handles are allowed and must be rejected.
    unsafe {
        assert!(virDomainSnapshotGetName(ptr::null_mut()).is_null());
        assert_eq!(last_code(), 71);
        assert_eq!(virGetLastErrorDomain(), 35);
        assert_eq!(
            last_message(),
            "Invalid domain snapshot: virDomainSnapshotGetName"
        );
        assert_eq!(virDomainSnapshotFree(ptr::null_mut()), -1);
        assert_eq!(virDomainFree(ptr::null_mut()), -1);
        assert_eq!((last_code(), virGetLastErrorDomain()), (7, 6));
        assert_eq!(last_message(), "invalid domain pointer in virDomainFree");
        assert_eq!(virConnectClose(ptr::null_mut()), -1);
        assert_eq!((last_code(), virGetLastErrorDomain()), (6, 0));
        assert!(virConnectGetURI(ptr::null_mut()).is_null());
        assert_eq!((last_code(), virGetLastErrorDomain()), (6, 20));
        assert_eq!(virDomainGetID(ptr::null_mut()), u32::MAX);
    }
}

#[test]
fn forged_and_stale_handles_never_crash() {
    let _serial = default_driver();
    quiet_errors();
    let mut on_stack = 0u64;
    let forged = (&mut on_stack as *mut u64).cast::<virDomainSnapshot>();
    // SAFETY: forged pointers are only used as registry keys.
    unsafe {
        assert_eq!(virDomainSnapshotRef(forged), -1);
        assert_eq!(last_code(), 71);
        assert_eq!(virDomainSnapshotDelete(0x10 as virDomainSnapshotPtr, 0), -1);
        assert_eq!(virDomainRef(usize::MAX as virDomainPtr), -1);
        assert_eq!(last_code(), 7);
    }
    let uri = CString::new("test:///default").expect("cstring");
    // SAFETY: valid C strings and handles from the library.
    unsafe {
        let conn = virConnectOpen(uri.as_ptr());
        assert!(!conn.is_null(), "{}", last_message());
        let dom = virDomainLookupByName(conn, c"test".as_ptr());
        assert!(!dom.is_null());
        // a connection pointer is not a domain
        assert!(virDomainGetName(conn.cast()).is_null());
        assert_eq!(last_code(), 7);
        let snap = virDomainSnapshotCreateXML(
            dom,
            c"<domainsnapshot><name>u1</name></domainsnapshot>".as_ptr(),
            0,
        );
        assert!(!snap.is_null(), "{}", last_message());
        assert!(virGetLastError().is_null());
        let name = virDomainSnapshotGetName(snap);
        assert_eq!(CStr::from_ptr(name).to_str().ok(), Some("u1"));
        let xml = virDomainSnapshotGetXMLDesc(snap, 0);
        assert!(!xml.is_null());
        libc::free(xml.cast());
        assert_eq!(virDomainSnapshotDelete(snap, 0), 0);
        assert_eq!(virDomainSnapshotFree(snap), 0);
        // stale and double free
        assert_eq!(virDomainSnapshotFree(snap), -1);
        assert_eq!(last_code(), 71);
        assert!(virDomainSnapshotGetName(snap).is_null());
        assert_eq!(virDomainFree(dom), 0);
        assert_eq!(virDomainFree(dom), -1);
        assert_eq!(virConnectClose(conn), 0);
        assert_eq!(virConnectClose(conn), -1);
    }
}

#[test]
fn null_arguments_and_negative_lengths() {
    let _serial = default_driver();
    quiet_errors();
    // SAFETY: valid handles; NULL arguments are rejected by the library.
    unsafe {
        let conn = virConnectOpen(c"test:///default".as_ptr());
        let dom = virDomainLookupByName(conn, c"test".as_ptr());
        assert!(virDomainSnapshotCreateXML(dom, ptr::null(), 0).is_null());
        assert_eq!(last_code(), 8);
        assert_eq!(
            last_message(),
            "xmlDesc in virDomainSnapshotCreateXML must not be NULL"
        );
        assert_eq!(virDomainSnapshotListNames(dom, ptr::null_mut(), -1, 0), -1);
        assert_eq!(
            last_message(),
            "nameslen in virDomainSnapshotListNames must be zero or greater"
        );
        assert_eq!(virDomainSnapshotListNames(dom, ptr::null_mut(), 0, 0), 0);
        let mut snaps: *mut virDomainSnapshotPtr = ptr::dangling_mut();
        assert_eq!(virDomainListAllSnapshots(dom, &mut snaps, 0), 0);
        assert!(!snaps.is_null());
        assert!((*snaps).is_null());
        libc::free(snaps.cast());
        assert_eq!(virDomainListSnapshotNames(dom, ptr::null_mut(), 3, 0), -1);
        assert_eq!(
            last_message(),
            "names in virDomainListSnapshotNames must not be NULL"
        );
        assert_eq!(virDomainFree(dom), 0);
        assert_eq!(virConnectClose(conn), 0);
    }
}

#[test]
fn panics_stop_at_the_boundary() {
    quiet_errors();
    let r: c_int = boundary::entry("virsnapTestPanic", || panic!("boom"));
    assert_eq!(r, -1);
    assert_eq!(last_code(), 1);
    assert!(last_message().contains("boom"), "{}", last_message());
    let p: *mut c_void = boundary::entry("virsnapTestPanic", || panic!("boom"));
    assert!(p.is_null());
}

#[test]
fn error_copies_are_malloced() {
    quiet_errors();
    // SAFETY: NULL handle rejected; copies released with the library's functions.
    unsafe {
        assert!(virDomainSnapshotGetDomain(ptr::null_mut()).is_null());
        let saved = virSaveLastError();
        assert!(!saved.is_null());
        assert_eq!((*saved).code, 71);
        let mut copy = virError::empty();
        assert_eq!(virCopyLastError(&mut copy), 71);
        assert_eq!(
            CStr::from_ptr(copy.message),
            CStr::from_ptr((*saved).message)
        );
        virResetError(&mut copy);
        assert!(copy.message.is_null());
        virFreeError(saved);
        virResetLastError();
        assert!(virGetLastError().is_null());
        assert_eq!(last_message(), "no error");
    }
}

#[test]
fn version_and_layout() {
    assert_eq!(std::mem::size_of::<virError>(), 80);
    let mut v: std::os::raw::c_ulong = 0;
    // SAFETY: valid out-pointer.
    unsafe {
        assert_eq!(virGetVersion(&mut v, ptr::null(), ptr::null_mut()), 0);
        assert_eq!(virInitialize(), 0);
    }
    assert_eq!(v, 9_000_000);
}

/// Task: a stale snapshot pointer freed again after thousands of other
/// handles came and went must still be refused (keys are never reused),
/// and must not touch any live handle.
#[test]
fn stale_free_after_many_handles_is_refused() {
    let _serial = default_driver();
    quiet_errors();
    // SAFETY: valid C strings and handles from the library; stale pointers
    // are only used as registry keys.
    unsafe {
        let conn = virConnectOpen(c"test:///default".as_ptr());
        assert!(!conn.is_null(), "{}", last_message());
        let dom = virDomainLookupByName(conn, c"test".as_ptr());
        assert!(!dom.is_null());
        let snap = virDomainSnapshotCreateXML(
            dom,
            c"<domainsnapshot><name>stale1</name></domainsnapshot>".as_ptr(),
            0,
        );
        assert!(!snap.is_null(), "{}", last_message());
        // Handles that stay alive across the churn.
        let keep: Vec<_> = (0..8)
            .map(|_| virDomainSnapshotLookupByName(dom, c"stale1".as_ptr(), 0))
            .collect();
        assert!(keep.iter().all(|p| !p.is_null()));
        let stale = snap;
        assert_eq!(virDomainSnapshotFree(snap), 0);
        // More than 3000 create/free cycles of other handles (lookups and
        // listings), so a slot or address reuse would hand `stale` out again.
        let mut seen_stale = false;
        for i in 0..3500 {
            let s = virDomainSnapshotLookupByName(dom, c"stale1".as_ptr(), 0);
            assert!(!s.is_null());
            seen_stale |= s == stale;
            if i % 500 == 0 {
                let mut list: *mut virDomainSnapshotPtr = ptr::null_mut();
                let n = virDomainListAllSnapshots(dom, &mut list, 0);
                assert!(n >= 1, "{}", last_message());
                for j in 0..n as usize {
                    seen_stale |= *list.add(j) == stale;
                    assert_eq!(virDomainSnapshotFree(*list.add(j)), 0);
                }
                libc::free(list.cast());
            }
            assert_eq!(virDomainSnapshotFree(s), 0);
        }
        assert!(!seen_stale, "a freed key was handed out again");
        // The stale pointer: -1, VIR_ERR_INVALID_DOMAIN_SNAPSHOT, nothing freed.
        let before = crate::handles::live_counts().2;
        assert_eq!(virDomainSnapshotFree(stale), -1);
        assert_eq!(last_code(), 71);
        assert_eq!(virGetLastErrorDomain(), 35);
        assert_eq!(virDomainSnapshotRef(stale), -1);
        assert_eq!(last_code(), 71);
        assert!(virDomainSnapshotGetName(stale).is_null());
        assert_eq!(crate::handles::live_counts().2, before);
        // Every live handle still works, with its borrowed pointers.
        for &k in &keep {
            let name = virDomainSnapshotGetName(k);
            assert!(!name.is_null(), "{}", last_message());
            assert_eq!(CStr::from_ptr(name).to_str().ok(), Some("stale1"));
            assert_eq!(virDomainSnapshotGetDomain(k), dom);
            assert_eq!(virDomainSnapshotGetConnect(k), conn);
            assert_eq!(virDomainGetConnect(virDomainSnapshotGetDomain(k)), conn);
        }
        // Keys of the three kinds never resolve as one another, and are
        // non-NULL values that are not canonical x86_64 addresses.
        for p in [snap as usize, dom as usize, conn as usize] {
            assert_ne!(p, 0);
            assert_ne!((p >> 63) & 1, (p >> 62) & 1, "{p:#x} is canonical");
        }
        assert!(virDomainGetName(keep[0].cast()).is_null());
        assert_eq!(last_code(), 7);
        assert!(virConnectGetURI(dom.cast()).is_null());
        assert_eq!(last_code(), 6);
        assert_eq!(virDomainSnapshotDelete(keep[0], 0), 0);
        for &k in &keep {
            assert_eq!(virDomainSnapshotFree(k), 0);
            assert_eq!(virDomainSnapshotFree(k), -1);
            assert_eq!(last_code(), 71);
        }
        assert_eq!(virDomainFree(dom), 0);
        assert_eq!(virConnectClose(conn), 0);
    }
}

/// A domain pointer borrowed from a snapshot keeps resolving while the
/// snapshot lives, even after C freed its own domain reference, and
/// `virDomainRef` on it then gives C a reference of its own.
#[test]
fn borrowed_pointers_live_as_long_as_their_owner() {
    let _serial = default_driver();
    quiet_errors();
    // SAFETY: valid C strings and handles from the library.
    unsafe {
        let conn = virConnectOpen(c"test:///default".as_ptr());
        let dom = virDomainLookupByName(conn, c"test".as_ptr());
        let snap = virDomainSnapshotCreateXML(
            dom,
            c"<domainsnapshot><name>borrow1</name></domainsnapshot>".as_ptr(),
            0,
        );
        assert!(!snap.is_null(), "{}", last_message());
        assert_eq!(virDomainFree(dom), 0);
        assert_eq!(virDomainFree(dom), -1); // C owns no domain reference now
        assert_eq!(virConnectClose(conn), 1); // still held by the domain
        let d = virDomainSnapshotGetDomain(snap);
        assert_eq!(d, dom);
        assert!(!virDomainGetName(d).is_null());
        assert_eq!(virDomainGetConnect(d), conn);
        assert_eq!(virDomainRef(d), 0);
        assert_eq!(virDomainSnapshotDelete(snap, 0), 0);
        assert_eq!(virDomainSnapshotFree(snap), 0);
        // C's own reference keeps the domain (and its connection) alive.
        assert!(!virDomainGetName(d).is_null());
        assert_eq!(virDomainFree(d), 0);
        assert!(virDomainGetName(d).is_null());
        assert_eq!(last_code(), 7);
        assert!(virConnectGetURI(conn).is_null());
        assert_eq!(last_code(), 6);
    }
}

#[test]
fn a_defined_handle_reports_the_live_id_after_create() {
    let _serial = default_driver();
    quiet_errors();
    let uri = CString::new("test:///default").unwrap();
    let xml = CString::new(
        "<domain type='test'><name>capi-id</name><memory>1024</memory><os><type>hvm</type></os></domain>",
    )
    .unwrap();
    // SAFETY: valid C strings; every handle is released below.
    unsafe {
        let conn = virConnectOpen(uri.as_ptr());
        assert!(!conn.is_null());
        let dom = virDomainDefineXML(conn, xml.as_ptr());
        assert!(!dom.is_null());
        assert_eq!(virDomainGetID(dom), u32::MAX);
        assert_eq!(virDomainCreate(dom), 0);
        let live = virDomainGetID(dom);
        assert!(live != u32::MAX && live > 0, "id after create: {live}");
        let again = virDomainLookupByName(conn, c"capi-id".as_ptr());
        assert_eq!(virDomainGetID(again), live);
        assert_eq!(virDomainDestroy(dom), 0);
        assert_eq!(virDomainGetID(dom), u32::MAX);
        assert_eq!(virDomainFree(again), 0);
        assert_eq!(virDomainUndefine(dom), 0);
        assert_eq!(virDomainFree(dom), 0);
        assert_eq!(virConnectClose(conn), 0);
    }
}

#[test]
fn unimplemented_entry_points_are_libvirts_no_support() {
    quiet_errors();
    let uri = CString::new("test:///default").unwrap();
    let _serial = default_driver();
    // SAFETY: generated stubs take any argument values; the connection is
    // a registry key and released below.
    unsafe {
        let conn = virConnectOpen(uri.as_ptr());
        assert!(!conn.is_null());
        let r = crate::unsupported::generated::virNWFilterLookupByName(conn.cast(), c"x".as_ptr().cast_mut().cast());
        assert!(r.is_null());
        assert_eq!((last_code(), virGetLastErrorDomain()), (3, 33));
        assert_eq!(
            last_message(),
            "this function is not supported by the connection driver: virNWFilterLookupByName"
        );
        let r = crate::unsupported::generated::virNWFilterLookupByName(ptr::null_mut(), ptr::null_mut());
        assert!(r.is_null());
        assert_eq!((last_code(), virGetLastErrorDomain()), (6, 33));
        assert_eq!(virConnectClose(conn), 0);
    }
}

//! The registry of live handles (style.md §8.3).
//!
//! C pointers are keys, never dereferenced. Each registry maps
//! `Arc::as_ptr` → `{ Weak<T>, c_refs }`:
//! - a lookup upgrades the `Weak` under the lock, so a stale, foreign or
//!   freed pointer yields `VIR_ERR_INVALID_*` instead of undefined behaviour;
//! - each reference C owns is one strong count (`Arc::into_raw` at publish,
//!   a leaked clone on `Ref`), counted in `c_refs`;
//! - `Free` needs `c_refs > 0` (an over-free is refused) and releases one
//!   strong count after the lock is dropped, because `Drop` removes the key;
//! - a snapshot handle holds its domain handle, which holds its connection
//!   handle, as libvirt's objects do, so borrowed pointers from
//!   `virDomainSnapshotGetDomain`/`GetConnect` keep resolving;
//! - one lock per call on the hot paths: a `Free` of the last reference to
//!   a snapshot handle unregisters it in the same critical section (so its
//!   `Drop` does not lock again), and a listing registers its handles in
//!   chunks under one lock.

use std::collections::hash_map::Entry as HashEntry;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::ffi::CString;
use std::os::raw::c_char;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use virsnap_core::{Connection, Domain, Error, ErrorCode, ErrorDomain, Snapshot};

use crate::boundary;
use crate::errors::{Handler, virError};
use crate::types::{virConnectPtr, virDomainPtr, virDomainSnapshotPtr};

struct Entry<T> {
    weak: Weak<T>,
    c_refs: usize,
}

/// Hashes a handle address so that neighbouring addresses land in
/// neighbouring buckets: the low bits (the bucket) are the address without
/// its always-zero alignment bits, the top 7 bits (hashbrown's tag) come
/// from a multiply. Handles of one listing are allocated, and usually
/// freed, in address order, so publishing and freeing them walks the table
/// instead of missing the cache on every entry. Keys are distinct live
/// allocations, never equal; SipHash is not needed (our own addresses,
/// not attacker-chosen strings).
#[derive(Default)]
pub struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8 | u64::from(*b)).rotate_left(5);
        }
    }
    fn write_usize(&mut self, k: usize) {
        let k = k as u64;
        let tag = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) & (0x7F << 57);
        self.0 = (k >> 4) ^ tag;
    }
}

type Map<T> = HashMap<usize, Entry<T>, BuildHasherDefault<AddrHasher>>;

/// How many dead handles keep their address reserved (see [`Registry::forget`]).
const QUARANTINE: usize = 1024;

/// What a registry's lock guards.
struct Slots<T> {
    map: Map<T>,
    /// Allocations of the last [`QUARANTINE`] dropped handles, held by a
    /// `Weak` only (the object and the references it held are gone), so the
    /// allocator cannot hand the same address to a new handle right away.
    dead: VecDeque<Weak<T>>,
}

impl<T> Slots<T> {
    /// Unregisters `key`; returns the quarantined allocation that falls
    /// out, to be freed after the lock is dropped.
    fn unregister(&mut self, key: usize) -> Option<Weak<T>> {
        let e = self.map.remove(&key)?;
        bury(&mut self.dead, e.weak)
    }
}

/// Quarantines a dead handle's allocation; returns the one that falls out.
fn bury<T>(dead: &mut VecDeque<Weak<T>>, weak: Weak<T>) -> Option<Weak<T>> {
    dead.push_back(weak);
    if dead.len() > QUARANTINE { dead.pop_front() } else { None }
}

/// One registry per handle type.
pub struct Registry<T> {
    slots: Mutex<Slots<T>>,
}

impl<T> Registry<T> {
    const fn new() -> Self {
        Self {
            slots: Mutex::new(Slots {
                map: HashMap::with_hasher(BuildHasherDefault::new()),
                dead: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots<T>> {
        match self.slots.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Called from a handle's `Drop`: the key stops resolving at once. The
    /// address stays reserved for the next [`QUARANTINE`] drops, so a late
    /// double free or a stale pointer from one thread is refused instead of
    /// hitting a new handle another thread just got at the same address.
    fn forget(&self, key: usize) {
        let old = self.lock().unregister(key);
        // Frees only memory (the value was dropped already), outside the lock.
        drop(old);
    }

    /// Number of live entries (for tests).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// True when no handle is alive (for tests).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A handle type kept in a registry.
pub trait Kind: Sized + Send + Sync + 'static {
    /// The registry of this kind.
    fn registry() -> &'static Registry<Self>;
    /// libvirt's error for an invalid pointer of this kind in `func`.
    fn invalid(func: &str) -> Error;
    /// For kinds only C holds: the flag [`release`] sets when it has
    /// unregistered the object itself, so its `Drop` skips
    /// [`Registry::forget`]. `None`: `Drop` always unregisters.
    fn unlisted(&self) -> Option<&AtomicBool> {
        None
    }
}

/// Publishes a new object: C owns one reference (`c_refs = 1`).
pub fn publish<T: Kind, P>(obj: Arc<T>) -> *mut P {
    let key = Arc::as_ptr(&obj) as usize;
    let weak = Arc::downgrade(&obj);
    T::registry().lock().map.insert(key, Entry { weak, c_refs: 1 });
    Arc::into_raw(obj) as *mut P
}

/// How many objects [`publish_all`] registers per lock.
const PUBLISH_CHUNK: usize = 512;

/// Publishes every object of `objs` as [`publish`] does, writing the
/// pointers to `out` in order (`out` must be as long as `objs`; extra
/// objects are dropped unpublished). One lock per [`PUBLISH_CHUNK`] objects.
pub fn publish_all<T: Kind, P>(objs: Vec<Arc<T>>, out: &mut [*mut P]) {
    let mut it = objs.into_iter().zip(out.iter_mut());
    loop {
        let mut done = 0;
        {
            let mut g = T::registry().lock();
            // All at once: growing step by step would rehash the table
            // several times over during one large listing.
            g.map.reserve(it.len());
            for (obj, slot) in it.by_ref() {
                let key = Arc::as_ptr(&obj) as usize;
                g.map.insert(key, Entry { weak: Arc::downgrade(&obj), c_refs: 1 });
                *slot = Arc::into_raw(obj) as *mut P;
                done += 1;
                if done == PUBLISH_CHUNK {
                    break;
                }
            }
        }
        if done < PUBLISH_CHUNK {
            return;
        }
    }
}

/// Resolves a key to a live object (a fresh strong reference), or `None`.
pub fn resolve<T: Kind, P>(p: *mut P) -> Option<Arc<T>> {
    if p.is_null() {
        return None;
    }
    let g = T::registry().lock();
    g.map.get(&(p as usize)).and_then(|e| e.weak.upgrade())
    // The guard is dropped after the upgrade; the returned Arc is dropped by
    // the caller, never under the lock.
}

/// Adds a C-owned reference to a live object (`virDomainSnapshotRef` …).
pub fn add_ref<T: Kind, P>(p: *mut P, func: &str) -> Result<(), Error> {
    let obj = resolve::<T, P>(p).ok_or_else(|| T::invalid(func))?;
    {
        let mut g = T::registry().lock();
        match g.map.get_mut(&(p as usize)) {
            Some(e) => e.c_refs += 1,
            None => return Err(T::invalid(func)),
        }
    }
    // The strong count that backs the new C reference.
    let _ = Arc::into_raw(obj);
    Ok(())
}

/// Releases one C-owned reference. Returns whether the object is still alive
/// afterwards (held by C or by another handle).
pub fn release<T: Kind, P>(p: *mut P, func: &str) -> Result<bool, Error> {
    if p.is_null() {
        return Err(T::invalid(func));
    }
    let key = p as usize;
    let (arc, quarantined) = {
        let mut g = T::registry().lock();
        let Slots { map, dead } = &mut *g;
        // One probe: the entry is removed through the same handle.
        let HashEntry::Occupied(mut slot) = map.entry(key) else {
            return Err(T::invalid(func));
        };
        let last = match slot.get_mut() {
            e if e.c_refs > 0 && e.weak.strong_count() > 0 => {
                e.c_refs -= 1;
                e.c_refs == 0
            }
            _ => return Err(T::invalid(func)),
        };
        // SAFETY: the registry said C owned at least one reference to this
        // live object, i.e. one strong count leaked by `publish` or `add_ref`
        // with `Arc::into_raw` at exactly this address; we just took it back
        // from the count, so it is reclaimed exactly once.
        let arc = unsafe { Arc::from_raw(p as *const T) };
        let mut quarantined = None;
        // The last C reference and no other holder: nobody can get a new
        // one (upgrades happen under this lock), so unregister now instead
        // of locking again in Drop.
        if last
            && Arc::strong_count(&arc) == 1
            && let Some(flag) = arc.unlisted()
        {
            flag.store(true, Ordering::Relaxed);
            quarantined = bury(dead, slot.remove().weak);
        }
        (arc, quarantined)
    };
    // The lock is released, so a Drop that takes it cannot deadlock.
    let alive = Arc::strong_count(&arc) > 1;
    drop(arc);
    drop(quarantined);
    Ok(alive)
}

// ---------------------------------------------------------------- connection

/// A connection handle.
pub struct ConnHandle {
    /// The core connection.
    pub conn: Connection,
    uri: CString,
    type_name: CString,
    state: Mutex<ConnState>,
}

struct ConnState {
    handler: Option<Handler>,
    err: Box<virError>,
}

// SAFETY: the raw pointers inside `ConnState` (error strings, handler user
// data) are only touched under the mutex, and the strings are owned by it.
unsafe impl Send for ConnState {}

impl ConnHandle {
    /// Wraps a freshly opened connection.
    pub fn new(conn: Connection) -> Arc<Self> {
        let uri = CString::new(conn.uri().replace('\0', "")).unwrap_or_default();
        let type_name = CString::new(conn.type_name().to_uppercase()).unwrap_or_default();
        Arc::new(Self {
            conn,
            uri,
            type_name,
            state: Mutex::new(ConnState {
                handler: None,
                err: Box::new(virError::empty()),
            }),
        })
    }

    fn st(&self) -> MutexGuard<'_, ConnState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The URI as a C string owned by the handle.
    pub fn uri_c(&self) -> &CString {
        &self.uri
    }

    /// The driver type (`TEST`, `QEMU` …) as a C string owned by the handle.
    pub fn type_c(&self) -> *const c_char {
        self.type_name.as_ptr()
    }

    pub(crate) fn handler(&self) -> Option<Handler> {
        self.st().handler.filter(|h| h.func.is_some())
    }

    pub(crate) fn set_handler(&self, h: Handler) {
        self.st().handler = Some(h);
    }

    pub(crate) fn record_error(&self, e: &virError) {
        self.st().err.copy_from(e);
    }

    pub(crate) fn reset_error(&self) {
        self.st().err.reset();
    }

    pub(crate) fn error_ptr(&self) -> *mut virError {
        let mut g = self.st();
        &mut *g.err as *mut virError
    }
}

impl Drop for ConnHandle {
    fn drop(&mut self) {
        Self::registry().forget(self as *const Self as usize);
        match self.state.get_mut() {
            Ok(s) => s.err.reset(),
            Err(p) => p.into_inner().err.reset(),
        }
    }
}

static CONNS: Registry<ConnHandle> = Registry::new();

impl Kind for ConnHandle {
    fn registry() -> &'static Registry<Self> {
        &CONNS
    }
    fn invalid(func: &str) -> Error {
        let domain = if func == "virConnectClose" {
            ErrorDomain::None
        } else {
            ErrorDomain::Domain
        };
        Error::new(ErrorCode::InvalidConn, domain, func)
    }
}

/// Resolves a connection pointer or fails with `VIR_ERR_INVALID_CONN`.
pub fn conn(p: virConnectPtr, func: &str) -> Result<Arc<ConnHandle>, Error> {
    let c = resolve::<ConnHandle, _>(p).ok_or_else(|| ConnHandle::invalid(func))?;
    boundary::note_conn(&c);
    Ok(c)
}

/// Resolves a connection pointer without reporting an error.
pub fn conn_quiet(p: virConnectPtr) -> Option<Arc<ConnHandle>> {
    resolve::<ConnHandle, _>(p)
}

// ---------------------------------------------------------------- domain

/// A domain handle; keeps its connection handle alive.
pub struct DomainHandle {
    /// The connection handle this domain came from.
    pub conn: Arc<ConnHandle>,
    /// The core domain.
    pub dom: Domain,
    name: CString,
}

impl DomainHandle {
    /// Wraps a core domain.
    pub fn new(conn: Arc<ConnHandle>, dom: Domain) -> Arc<Self> {
        let name = CString::new(dom.name().replace('\0', "")).unwrap_or_default();
        Arc::new(Self { conn, dom, name })
    }

    /// The name as a C string owned by the handle.
    pub fn name_c(&self) -> *const c_char {
        self.name.as_ptr()
    }

    /// The borrowed connection pointer (no new reference).
    pub fn conn_ptr(&self) -> virConnectPtr {
        Arc::as_ptr(&self.conn) as virConnectPtr
    }
}

impl Drop for DomainHandle {
    fn drop(&mut self) {
        Self::registry().forget(self as *const Self as usize);
    }
}

static DOMAINS: Registry<DomainHandle> = Registry::new();

impl Kind for DomainHandle {
    fn registry() -> &'static Registry<Self> {
        &DOMAINS
    }
    fn invalid(func: &str) -> Error {
        // libvirt reports VIR_FROM_DOM (6), which core's ErrorDomain lacks:
        // errors::VIR_FROM_DOM is substituted when the virError is filled.
        Error::new(ErrorCode::InvalidDomain, ErrorDomain::None, func)
    }
}

/// Resolves a domain pointer or fails with `VIR_ERR_INVALID_DOMAIN`.
pub fn domain(p: virDomainPtr, func: &str) -> Result<Arc<DomainHandle>, Error> {
    let d = resolve::<DomainHandle, _>(p).ok_or_else(|| DomainHandle::invalid(func))?;
    boundary::note_conn(&d.conn);
    Ok(d)
}

/// Publishes a new domain handle (C owns one reference).
pub fn publish_domain(conn: &Arc<ConnHandle>, dom: Domain) -> virDomainPtr {
    publish(DomainHandle::new(conn.clone(), dom))
}

// ---------------------------------------------------------------- snapshot

/// A snapshot handle; keeps its domain handle (and so its connection) alive.
pub struct SnapHandle {
    /// The domain handle this snapshot belongs to.
    pub dom: Arc<DomainHandle>,
    /// The core snapshot (name shared with its clones).
    pub snap: Snapshot,
    /// Every name this handle has shown to C: pointers returned by
    /// `virDomainSnapshotGetName` stay valid for the handle's life, even after
    /// a rename. Boxed on the first `GetName` (most handles never show a
    /// name: 16 bytes per handle instead of 32).
    #[allow(clippy::box_collection)] // the Box is the point: 8 bytes until used
    names: Mutex<Option<Box<Vec<CString>>>>,
    /// Set by [`release`] when it unregistered the handle (see [`Kind::unlisted`]).
    unlisted: AtomicBool,
}

impl SnapHandle {
    /// Wraps a core snapshot.
    pub fn new(dom: Arc<DomainHandle>, snap: Snapshot) -> Arc<Self> {
        Arc::new(Self {
            dom,
            snap,
            names: Mutex::new(None),
            unlisted: AtomicBool::new(false),
        })
    }

    /// The current name as a C string owned by the handle.
    pub fn name_c(&self) -> *const c_char {
        let name = self.snap.name();
        let mut g = match self.names.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let g = g.get_or_insert_with(Box::default);
        if let Some(last) = g.last()
            && last.as_bytes() == name.as_bytes()
        {
            return last.as_ptr();
        }
        let c = CString::new(name.replace('\0', "")).unwrap_or_default();
        let p = c.as_ptr();
        g.push(c);
        p
    }

    /// The borrowed domain pointer (no new reference).
    pub fn dom_ptr(&self) -> virDomainPtr {
        Arc::as_ptr(&self.dom) as virDomainPtr
    }
}

impl Drop for SnapHandle {
    fn drop(&mut self) {
        if !self.unlisted.load(Ordering::Relaxed) {
            Self::registry().forget(self as *const Self as usize);
        }
    }
}

static SNAPSHOTS: Registry<SnapHandle> = Registry::new();

impl Kind for SnapHandle {
    fn registry() -> &'static Registry<Self> {
        &SNAPSHOTS
    }
    fn invalid(func: &str) -> Error {
        Error::new(
            ErrorCode::InvalidDomainSnapshot,
            ErrorDomain::DomainSnapshot,
            func,
        )
    }
    fn unlisted(&self) -> Option<&AtomicBool> {
        Some(&self.unlisted)
    }
}

/// Resolves a snapshot pointer or fails with `VIR_ERR_INVALID_DOMAIN_SNAPSHOT`.
pub fn snapshot(p: virDomainSnapshotPtr, func: &str) -> Result<Arc<SnapHandle>, Error> {
    let s = resolve::<SnapHandle, _>(p).ok_or_else(|| SnapHandle::invalid(func))?;
    boundary::note_conn(&s.dom.conn);
    Ok(s)
}

/// Publishes a new snapshot handle (C owns one reference).
pub fn publish_snapshot(dom: &Arc<DomainHandle>, snap: Snapshot) -> virDomainSnapshotPtr {
    publish(SnapHandle::new(dom.clone(), snap))
}

/// Live handle counts (connections, domains, snapshots), for tests.
pub fn live_counts() -> (usize, usize, usize) {
    (CONNS.len(), DOMAINS.len(), SNAPSHOTS.len())
}

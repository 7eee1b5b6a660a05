//! The registry of live handles (style.md §8.3).
//!
//! C pointers are keys, never dereferenced and never reused:
//! - a key is a 64-bit value `0b10 | kind (2 bits) | slot index (28 bits) |
//!   generation (32 bits)`. Bit 63 set and bit 62 clear make it
//!   non-canonical on x86_64 (and a kernel address elsewhere), so a caller
//!   that dereferences it faults at once; it is never NULL, and a key of
//!   one kind never resolves as another kind;
//! - each kind has a registry: a slab of slots in chunks that are never
//!   freed (so a slot's address is stable and a [`Ref`] can point into it).
//!   A slot holds the handle in place, its generation, the references C
//!   owns (`c_refs`) and a count of all references (`strong`: C's plus the
//!   [`Ref`]s held by Rust, as an `Arc`'s strong count);
//! - when the last reference goes, the slot's generation is bumped under
//!   the lock and the slot is reused, LIFO, by a later handle (warm memory,
//!   no malloc per handle). A slot whose generation would wrap is retired
//!   instead, so no key is ever given out twice in the life of the
//!   process: a stale, foreign or double-freed pointer is refused with
//!   `VIR_ERR_INVALID_*` however many handles were made since;
//! - a lookup ([`resolve`]) checks kind, index and generation under the
//!   lock and takes a strong count only if one is left (like
//!   `Weak::upgrade`), so it never revives a dying handle;
//! - each reference C owns is one strong count, counted in `c_refs`;
//!   `Free` needs `c_refs > 0` (an over-free is refused); the `Free` of the
//!   last reference ends the handle in the same critical section, and the
//!   handle's value is always dropped after the lock is released (its drop
//!   may release its domain, its connection and so the driver);
//! - a snapshot handle holds its domain handle, which holds its connection
//!   handle, as libvirt's objects do, so borrowed pointers from
//!   `virDomainSnapshotGetDomain`/`GetConnect`/`virDomainGetConnect` keep
//!   resolving while the handle that lent them lives;
//! - a listing ([`SnapList`]) takes slots and domain references in batches
//!   (one lock per [`BATCH`] handles) and writes keys straight into the
//!   malloc'd array it returns.
//!
//! Locks: one mutex per registry, never held across a driver call nor
//! while a handle is dropped, and no code holds two of them. A listing
//! takes the snapshot registry's lock briefly inside the driver's visit
//! callback (to reserve a batch of slots): a leaf lock, under which nothing
//! else is locked or dropped, so no lock order can close a cycle.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::ffi::CString;
use std::mem::MaybeUninit;
use std::ops::Deref;
use std::os::raw::c_char;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering, fence};
use std::sync::{Mutex, MutexGuard};

use virsnap_core::{Connection, Domain, Error, ErrorCode, ErrorDomain, Snapshot};

use crate::boundary;
use crate::errors::{Handler, virError};
use crate::types::{virConnectPtr, virDomainPtr, virDomainSnapshotPtr};

// The key layout needs 64-bit pointers.
const _: () = assert!(usize::BITS == 64, "virsnap handle keys need 64-bit pointers");

/// Bits 63..62 of every key: `10`.
const KEY_TAG: u64 = 0b10 << 62;
const KEY_TAG_MASK: u64 = 0b11 << 62;
const KIND_SHIFT: u32 = 60;
const INDEX_SHIFT: u32 = 32;
const INDEX_MASK: u64 = (1 << 28) - 1;

/// Slots in chunk 0; chunk `c` has `FIRST_CHUNK << c` slots.
const FIRST_CHUNK_SHIFT: u32 = 6;
/// Number of chunks: together they hold `64 * (2^22 - 1)` slots, just under
/// the 28-bit index space.
const CHUNKS: usize = 22;
const CAPACITY: u64 = (1 << FIRST_CHUNK_SHIFT) * ((1 << CHUNKS) - 1);

/// References beyond this abort (as `Arc` does) or are refused (`Ref` calls).
const MAX_REFS: u32 = i32::MAX as u32;

/// The key of slot `index` at generation `gen` for handles of kind `kind`.
fn encode(kind: u64, index: u32, generation: u32) -> usize {
    (KEY_TAG | kind << KIND_SHIFT | u64::from(index) << INDEX_SHIFT | u64::from(generation)) as usize
}

/// Index and generation of `key` if it is a key of kind `kind`.
fn decode(kind: u64, key: usize) -> Option<(u32, u32)> {
    let k = key as u64;
    if k & KEY_TAG_MASK != KEY_TAG || (k >> KIND_SHIFT) & 0b11 != kind {
        return None;
    }
    Some((((k >> INDEX_SHIFT) & INDEX_MASK) as u32, k as u32))
}

/// Chunk and offset of slot `index`.
fn locate(index: u32) -> (usize, usize) {
    let j = u64::from(index) + (1 << FIRST_CHUNK_SHIFT);
    let c = (63 - j.leading_zeros() - FIRST_CHUNK_SHIFT) as usize;
    (c, (j - ((1u64 << FIRST_CHUNK_SHIFT) << c)) as usize)
}

/// One handle's place. All zero is a valid free slot (chunks come from
/// `alloc_zeroed`, untouched until used).
struct Slot<T> {
    /// Generation of the current handle, or of the next one while free.
    /// Changed only under the registry lock, when the handle ends.
    generation: AtomicU32,
    /// References C owns (only touched under the registry lock).
    c_refs: AtomicU32,
    /// All references: C's plus live [`Ref`]s. 0: no handle (free, or
    /// ending). Goes from 0 to 1 only for a slot taken off the free list.
    strong: AtomicU32,
    /// Free-list link while free: next index + 1, 0 = end (under the lock).
    next: AtomicU32,
    /// The handle, initialised while `strong > 0`.
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is shared between threads only as `&T` (T: Sync) while
// `strong > 0`, and moved out or written only by the one thread that owns
// the slot at that moment (strong == 0, under the lock or reserved); the
// other fields are atomics.
unsafe impl<T: Send + Sync> Sync for Slot<T> {}

/// What a registry's lock guards.
struct State<T: 'static> {
    /// Chunk `c` has `64 << c` slots; allocated on demand, never freed.
    chunks: [Option<&'static [Slot<T>]>; CHUNKS],
    /// Slots below this index have been used at least once.
    high: u32,
    /// Head of the free list: index + 1, 0 = empty.
    free: u32,
    /// Live and reserved slots.
    live: usize,
    /// End address of the prefaulted part of the newest chunk (see
    /// [`prefault`]).
    faulted_to: usize,
}

impl<T: Kind> State<T> {
    fn slot(&self, index: u32) -> Option<&'static Slot<T>> {
        let (c, off) = locate(index);
        self.chunks.get(c).copied().flatten()?.get(off)
    }

    /// The index of `slot` (a slot of this registry), by address.
    fn index_of(&self, slot: &Slot<T>) -> Option<u32> {
        let p = slot as *const Slot<T> as usize;
        let size = std::mem::size_of::<Slot<T>>();
        let mut first = 0u64;
        for chunk in self.chunks.iter().flatten() {
            let start = chunk.as_ptr() as usize;
            if p >= start && p < start + std::mem::size_of_val(*chunk) {
                return Some((first + ((p - start) / size) as u64) as u32);
            }
            first += chunk.len() as u64;
        }
        None
    }

    /// Takes a free slot (reserved: strong 0, off the free list), growing
    /// the slab when none is free. `None`: out of memory or of keys.
    fn take(&mut self) -> Option<(u32, &'static Slot<T>)> {
        if let Some(s) = self.pop_free() {
            return Some(s);
        }
        let (index, run) = self.fresh(1)?;
        Some((index, run.first()?))
    }

    /// Takes up to `want` slots into `out` as [`Self::take`] does, free
    /// ones first, then fresh ones a run at a time; `out` pops them in
    /// index order. Fewer only when out of memory or of keys.
    fn take_into(&mut self, mut want: usize, out: &mut Vec<(u32, &'static Slot<T>)>) {
        while want > 0
            && let Some(s) = self.pop_free()
        {
            out.push(s);
            want -= 1;
        }
        while want > 0
            && let Some((index, run)) = self.fresh(want)
        {
            for (i, slot) in run.iter().enumerate().rev() {
                out.push((index + i as u32, slot));
            }
            want -= run.len();
        }
    }

    /// The head of the free list, taken off it.
    fn pop_free(&mut self) -> Option<(u32, &'static Slot<T>)> {
        let index = self.free.checked_sub(1)?;
        let slot = self.slot(index)?;
        self.free = slot.next.load(Ordering::Relaxed);
        self.live += 1;
        Some((index, slot))
    }

    /// Up to `want` (at least 1) never-used slots, consecutive in one
    /// chunk, with the index of the first; prefaulted.
    fn fresh(&mut self, want: usize) -> Option<(u32, &'static [Slot<T>])> {
        let index = self.high;
        if u64::from(index) >= CAPACITY {
            return None;
        }
        let (c, off) = locate(index);
        let chunk = self.chunk(c)?;
        let run = want.clamp(1, chunk.len() - off);
        let slots = chunk.get(off..off + run)?;
        self.high += run as u32;
        self.live += run;
        self.prefault_to(chunk, off + run);
        Some((index, slots))
    }

    /// Chunk `c`, allocated if needed.
    fn chunk(&mut self, c: usize) -> Option<&'static [Slot<T>]> {
        if let Some(chunk) = *self.chunks.get(c)? {
            return Some(chunk);
        }
        let chunk = new_chunk::<T>((1usize << FIRST_CHUNK_SHIFT) << c)?;
        self.chunks[c] = Some(chunk);
        // Chunks fill in order: the new one is the one to prefault.
        self.faulted_to = chunk.as_ptr() as usize;
        Some(chunk)
    }

    /// Makes sure the first `used` slots of `chunk` (the newest) are
    /// mapped, and [`PREFAULT`] bytes beyond them.
    fn prefault_to(&mut self, chunk: &'static [Slot<T>], used: usize) {
        let start = chunk.as_ptr() as usize;
        let end = start + used * std::mem::size_of::<Slot<T>>();
        if end > self.faulted_to {
            let to = (end + PREFAULT).min(start + std::mem::size_of_val(chunk));
            prefault(self.faulted_to.max(start), to);
            self.faulted_to = to;
        }
    }

    /// Gives back a reserved slot that never held a handle (its
    /// generation was never shown, so it stays).
    fn untake(&mut self, index: u32, slot: &Slot<T>) {
        slot.next.store(self.free, Ordering::Relaxed);
        self.free = index + 1;
        self.live -= 1;
    }

    /// Ends the handle in `slot` (strong already 0, nobody can reach the
    /// value): bumps the generation, frees the slot (or retires it when the
    /// generation is exhausted) and returns the value, to be dropped after
    /// the lock is released.
    fn kill(&mut self, index: u32, slot: &Slot<T>) -> T {
        // SAFETY: strong is 0 and the lock is held, so no `Ref` exists, no
        // new one can be made, and the value, initialised when the handle
        // was published, is moved out exactly once.
        let value = unsafe { (*slot.value.get()).assume_init_read() };
        slot.c_refs.store(0, Ordering::Relaxed);
        let generation = slot.generation.load(Ordering::Relaxed);
        if generation != u32::MAX {
            slot.generation.store(generation + 1, Ordering::Relaxed);
            slot.next.store(self.free, Ordering::Relaxed);
            self.free = index + 1;
        }
        // else: retired, never handed out again (its keys are used up).
        self.live -= 1;
        value
    }
}

const PAGE: usize = 4096;
/// How far ahead of the newest slot in use [`prefault`] maps memory.
const PREFAULT: usize = 64 << 10;

/// Maps the pages of `[from, to)` (inside one of our allocations) in one
/// system call instead of one page fault per page as slots are first
/// written: a page fault costs microseconds on a VM, and a listing of 10k
/// snapshots writes about 180 new pages. Only a hint: on kernels without
/// `MADV_POPULATE_WRITE` (before 5.14) nothing happens and the pages fault
/// in as usual. The memory's contents do not change.
fn prefault(from: usize, to: usize) {
    let from = from & !(PAGE - 1);
    if to <= from {
        return;
    }
    // SAFETY: the range lies in memory this process has allocated (a slot
    // chunk, start rounded down to its page); MADV_POPULATE_WRITE only
    // maps pages as a write would, without changing their contents.
    unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_POPULATE_WRITE) };
}

/// A zeroed chunk of `len` slots, leaked (the registry lives as long as the
/// process). Mapped directly: the kernel's pages are already zero, so
/// nothing is written until a slot is used (calloc would clear a heap
/// chunk page by page), and [`prefault`] maps them in bulk.
fn new_chunk<T>(len: usize) -> Option<&'static [Slot<T>]> {
    let layout = Layout::array::<Slot<T>>(len).ok()?;
    // SAFETY: an anonymous private mapping of a non-zero size; no address
    // hint, no file.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            layout.size(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED || p.is_null() {
        return None;
    }
    // SAFETY: `p` is a page-aligned (so slot-aligned), zero-filled mapping
    // of room for `len` slots; all-zero atomics and an uninitialised
    // `MaybeUninit` make a valid free slot, and the mapping is never
    // unmapped, so the slice lives for 'static.
    Some(unsafe { std::slice::from_raw_parts(p.cast::<Slot<T>>(), len) })
}

/// One registry per handle type.
pub struct Registry<T: 'static> {
    state: Mutex<State<T>>,
}

impl<T: Kind> Registry<T> {
    const fn new() -> Self {
        Self {
            state: Mutex::new(State { chunks: [None; CHUNKS], high: 0, free: 0, live: 0, faulted_to: 0 }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Ends the handle in `slot` after its last [`Ref`] went (strong is 0).
    #[cold]
    fn reclaim(&self, slot: &'static Slot<T>) {
        let mut st = self.lock();
        let value = match st.index_of(slot) {
            Some(index) => st.kill(index, slot),
            None => {
                // Not one of ours (cannot happen): drop the value, keep the slot.
                st.live -= 1;
                // SAFETY: as in `State::kill`.
                unsafe { (*slot.value.get()).assume_init_read() }
            }
        };
        drop(st);
        drop(value);
    }

    /// Number of live handles (for tests).
    pub fn len(&self) -> usize {
        self.lock().live
    }

    /// True when no handle is alive (for tests).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A handle type kept in a registry.
pub trait Kind: Sized + Send + Sync + 'static {
    /// The kind's 2-bit tag in its keys (1, 2, 3).
    const TAG: u64;
    /// The registry of this kind.
    fn registry() -> &'static Registry<Self>;
    /// libvirt's error for an invalid pointer of this kind in `func`.
    fn invalid(func: &str) -> Error;
    /// Called with the handle's key just before it is published.
    fn bind(&mut self, _key: usize) {}
}

/// A counted reference to a live handle, held by Rust (a call in progress,
/// or a snapshot handle holding its domain): the handle lives at least as
/// long. Like `Arc<T>`, without an allocation of its own.
pub struct Ref<T: Kind> {
    slot: &'static Slot<T>,
}

impl<T: Kind> Ref<T> {
    /// Takes over one strong count of `slot`.
    ///
    /// # Safety
    /// The caller owns one strong count of the live handle in `slot` (taken
    /// or transferred), which this `Ref` will release.
    unsafe fn adopt(slot: &'static Slot<T>) -> Self {
        Self { slot }
    }

    /// Releases this reference; returns whether the handle is still alive
    /// afterwards.
    fn release(self) -> bool {
        let slot = self.slot;
        std::mem::forget(self);
        if slot.strong.fetch_sub(1, Ordering::Release) != 1 {
            return true;
        }
        fence(Ordering::Acquire);
        T::registry().reclaim(slot);
        false
    }
}

impl<T: Kind> Deref for Ref<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this Ref holds a strong count, so the value was
        // initialised before the count was handed out (Release/Acquire on
        // `strong`) and is not moved out before the count is returned; only
        // shared access happens while strong > 0.
        unsafe { (*self.slot.value.get()).assume_init_ref() }
    }
}

impl<T: Kind> Clone for Ref<T> {
    fn clone(&self) -> Self {
        if self.slot.strong.fetch_add(1, Ordering::Relaxed) > MAX_REFS {
            std::process::abort();
        }
        Self { slot: self.slot }
    }
}

impl<T: Kind> Drop for Ref<T> {
    fn drop(&mut self) {
        if self.slot.strong.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        T::registry().reclaim(self.slot);
    }
}

/// Adds a strong count to `slot` unless it has none left (under the lock,
/// where nothing else adds one; `Ref` drops may still take it to 0).
fn upgrade<T: Kind>(slot: &'static Slot<T>) -> Option<Ref<T>> {
    let mut n = slot.strong.load(Ordering::Relaxed);
    loop {
        if n == 0 || n >= MAX_REFS {
            return None;
        }
        match slot.strong.compare_exchange_weak(n, n + 1, Ordering::Acquire, Ordering::Relaxed) {
            // SAFETY: we just took one strong count of a live handle.
            Ok(_) => return Some(unsafe { Ref::adopt(slot) }),
            Err(cur) => n = cur,
        }
    }
}

/// Writes `value` into the reserved slot `index` and publishes it with one
/// C reference; returns its key.
fn fill<T: Kind>(index: u32, slot: &'static Slot<T>, mut value: T) -> usize {
    let key = encode(T::TAG, index, slot.generation.load(Ordering::Relaxed));
    value.bind(key);
    // SAFETY: the slot is reserved by this thread (taken off the free list,
    // strong 0): nobody else reads or writes its value until `strong`
    // becomes non-zero below.
    unsafe { (*slot.value.get()).write(value) };
    slot.c_refs.store(1, Ordering::Relaxed);
    // Release: whoever sees strong > 0 sees the value and c_refs.
    slot.strong.store(1, Ordering::Release);
    key
}

fn out_of_handles() -> Error {
    Error::bare(ErrorCode::NoMemory, ErrorDomain::None)
}

/// Publishes a new handle: C owns one reference. Returns its key.
pub fn publish<T: Kind, P>(value: T) -> Result<*mut P, Error> {
    let taken = T::registry().lock().take();
    let (index, slot) = taken.ok_or_else(out_of_handles)?;
    Ok(fill(index, slot, value) as *mut P)
}

/// Resolves a key to a live handle (a new [`Ref`]), or `None` for NULL,
/// stale, foreign or forged keys.
pub fn resolve<T: Kind, P>(p: *mut P) -> Option<Ref<T>> {
    let (index, generation) = decode(T::TAG, p as usize)?;
    let st = T::registry().lock();
    let slot = st.slot(index)?;
    if slot.generation.load(Ordering::Relaxed) != generation {
        return None;
    }
    upgrade(slot)
    // The guard is dropped after the upgrade; the Ref is dropped by the
    // caller, never under the lock.
}

/// Adds a C-owned reference to a live handle (`virDomainSnapshotRef` …).
pub fn add_ref<T: Kind, P>(p: *mut P, func: &str) -> Result<(), Error> {
    let (index, generation) = decode(T::TAG, p as usize).ok_or_else(|| T::invalid(func))?;
    let st = T::registry().lock();
    let got = st
        .slot(index)
        .filter(|s| s.generation.load(Ordering::Relaxed) == generation)
        .and_then(|s| {
            let c = s.c_refs.load(Ordering::Relaxed);
            if c >= MAX_REFS {
                return None;
            }
            let r = upgrade(s)?;
            s.c_refs.store(c + 1, Ordering::Relaxed);
            Some(r)
        });
    drop(st);
    // The strong count taken by the upgrade now backs the C reference.
    std::mem::forget(got.ok_or_else(|| T::invalid(func))?);
    Ok(())
}

/// Releases one C-owned reference. Returns whether the handle is still
/// alive afterwards (held by C or by another handle).
pub fn release<T: Kind, P>(p: *mut P, func: &str) -> Result<bool, Error> {
    release_key::<T>(p as usize).ok_or_else(|| T::invalid(func))
}

/// [`release`] without the error: `None` for an invalid key or an over-free.
fn release_key<T: Kind>(key: usize) -> Option<bool> {
    let (index, generation) = decode(T::TAG, key)?;
    let mut st = T::registry().lock();
    let slot = st.slot(index)?;
    if slot.generation.load(Ordering::Relaxed) != generation {
        return None;
    }
    // Acquire: the last drops of other references happen before a kill here.
    let strong = slot.strong.load(Ordering::Acquire);
    let c = slot.c_refs.load(Ordering::Relaxed);
    if strong == 0 || c == 0 {
        return None;
    }
    slot.c_refs.store(c - 1, Ordering::Relaxed);
    if strong == 1 {
        // The only reference is the one C gives up: no `Ref` exists and
        // none can be made (upgrades happen under this lock), so the
        // handle ends here, in one critical section.
        slot.strong.store(0, Ordering::Relaxed);
        let value = st.kill(index, slot);
        drop(st);
        drop(value);
        return Some(false);
    }
    drop(st);
    // SAFETY: the C reference just given up carried one strong count.
    Some(unsafe { Ref::adopt(slot) }.release())
}

// ---------------------------------------------------------------- connection

/// A connection handle.
pub struct ConnHandle {
    /// The core connection.
    pub conn: Connection,
    uri: CString,
    type_name: CString,
    state: Mutex<ConnState>,
    key: usize,
}

struct ConnState {
    handler: Option<Handler>,
    err: Box<virError>,
}

// SAFETY: the raw pointers inside `ConnState` (error strings, handler user
// data) are only touched under the mutex, and the strings are owned by it.
unsafe impl Send for ConnState {}

impl ConnHandle {
    /// Wraps a freshly opened connection (not yet published).
    pub fn new(conn: Connection) -> Self {
        let uri = CString::new(conn.uri().replace('\0', "")).unwrap_or_default();
        let type_name = CString::new(conn.type_name().to_uppercase()).unwrap_or_default();
        Self {
            conn,
            uri,
            type_name,
            state: Mutex::new(ConnState {
                handler: None,
                err: Box::new(virError::empty()),
            }),
            key: 0,
        }
    }

    fn st(&self) -> MutexGuard<'_, ConnState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The connection's key (its C pointer), borrowed: no new reference.
    pub fn key(&self) -> usize {
        self.key
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
        match self.state.get_mut() {
            Ok(s) => s.err.reset(),
            Err(p) => p.into_inner().err.reset(),
        }
    }
}

static CONNS: Registry<ConnHandle> = Registry::new();

impl Kind for ConnHandle {
    const TAG: u64 = 1;
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
    fn bind(&mut self, key: usize) {
        self.key = key;
    }
}

/// Resolves a connection pointer or fails with `VIR_ERR_INVALID_CONN`.
/// The `Ref` is the caller's, for the call.
pub fn conn(p: virConnectPtr, func: &str) -> Result<Ref<ConnHandle>, Error> {
    let c = resolve::<ConnHandle, _>(p).ok_or_else(|| ConnHandle::invalid(func))?;
    boundary::note_conn(&c);
    Ok(c)
}

/// Resolves a connection pointer without reporting an error.
pub fn conn_quiet(p: virConnectPtr) -> Option<Ref<ConnHandle>> {
    resolve::<ConnHandle, _>(p)
}

/// Publishes a new connection handle (C owns one reference).
pub fn publish_conn(conn: Connection) -> Result<virConnectPtr, Error> {
    publish(ConnHandle::new(conn))
}

// ---------------------------------------------------------------- domain

/// A domain handle; keeps its connection handle alive.
pub struct DomainHandle {
    /// The connection handle this domain came from.
    pub conn: Ref<ConnHandle>,
    /// The core domain.
    pub dom: Domain,
    name: CString,
    key: usize,
}

impl DomainHandle {
    /// Wraps a core domain (not yet published).
    pub fn new(conn: Ref<ConnHandle>, dom: Domain) -> Self {
        let name = CString::new(dom.name().replace('\0', "")).unwrap_or_default();
        Self { conn, dom, name, key: 0 }
    }

    /// The name as a C string owned by the handle.
    pub fn name_c(&self) -> *const c_char {
        self.name.as_ptr()
    }

    /// The borrowed connection pointer (no new reference).
    pub fn conn_ptr(&self) -> virConnectPtr {
        self.conn.key() as virConnectPtr
    }
}

static DOMAINS: Registry<DomainHandle> = Registry::new();

impl Kind for DomainHandle {
    const TAG: u64 = 2;
    fn registry() -> &'static Registry<Self> {
        &DOMAINS
    }
    fn invalid(func: &str) -> Error {
        Error::new(ErrorCode::InvalidDomain, ErrorDomain::Dom, func)
    }
    fn bind(&mut self, key: usize) {
        self.key = key;
    }
}

/// Resolves a domain pointer or fails with `VIR_ERR_INVALID_DOMAIN`.
/// The `Ref` is the caller's, for the call.
pub fn domain(p: virDomainPtr, func: &str) -> Result<Ref<DomainHandle>, Error> {
    let d = resolve::<DomainHandle, _>(p).ok_or_else(|| DomainHandle::invalid(func))?;
    boundary::note_conn(&d.conn);
    Ok(d)
}

/// Publishes a new domain handle (C owns one reference).
pub fn publish_domain(conn: &Ref<ConnHandle>, dom: Domain) -> Result<virDomainPtr, Error> {
    publish(DomainHandle::new(conn.clone(), dom))
}

/// Releases a domain reference C never saw (rolling back a listing).
pub(crate) fn unpublish_domain(p: virDomainPtr) {
    let _ = release_key::<DomainHandle>(p as usize);
}

// ---------------------------------------------------------------- snapshot

/// One name a snapshot handle has shown to C (a stack, newest first).
struct NameNode {
    name: CString,
    prev: *mut NameNode,
}

/// A snapshot handle; keeps its domain handle (and so its connection) alive.
pub struct SnapHandle {
    /// The domain handle this snapshot belongs to.
    pub dom: Ref<DomainHandle>,
    /// The core snapshot (name shared with its clones).
    pub snap: Snapshot,
    /// Every name this handle has shown to C, newest first (owned by the
    /// handle, freed with it): pointers returned by
    /// `virDomainSnapshotGetName` stay valid for the handle's life, even
    /// after a rename. NULL until the first `GetName` (8 bytes per handle).
    names: AtomicPtr<NameNode>,
}

impl SnapHandle {
    fn new(dom: Ref<DomainHandle>, snap: Snapshot) -> Self {
        Self { dom, snap, names: AtomicPtr::new(ptr::null_mut()) }
    }

    /// The current name as a C string owned by the handle.
    pub fn name_c(&self) -> *const c_char {
        let name = self.snap.name();
        let mut head = self.names.load(Ordering::Acquire);
        // SAFETY: nodes are published with Release below and freed only in
        // Drop (exclusive access), so a non-NULL head is a live node.
        if let Some(last) = unsafe { head.as_ref() }
            && last.name.as_bytes() == name.as_bytes()
        {
            return last.name.as_ptr();
        }
        let name = CString::new(name.replace('\0', "")).unwrap_or_default();
        let node = Box::into_raw(Box::new(NameNode { name, prev: head }));
        loop {
            match self.names.compare_exchange_weak(head, node, Ordering::AcqRel, Ordering::Acquire) {
                // SAFETY: `node` is now owned by the list, freed only in Drop.
                Ok(_) => return unsafe { (*node).name.as_ptr() },
                Err(cur) => {
                    head = cur;
                    // SAFETY: `node` is not shared yet; only this thread
                    // writes it.
                    unsafe { (*node).prev = cur };
                }
            }
        }
    }

    /// The borrowed domain pointer (no new reference).
    pub fn dom_ptr(&self) -> virDomainPtr {
        self.dom.key as virDomainPtr
    }
}

impl Drop for SnapHandle {
    fn drop(&mut self) {
        let mut p = *self.names.get_mut();
        while !p.is_null() {
            // SAFETY: every node was made by `Box::into_raw` in `name_c` and
            // is owned by this list alone; `&mut self` means nobody reads it.
            let node = unsafe { Box::from_raw(p) };
            p = node.prev;
        }
    }
}

static SNAPSHOTS: Registry<SnapHandle> = Registry::new();

impl Kind for SnapHandle {
    const TAG: u64 = 3;
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
}

/// Resolves a snapshot pointer or fails with `VIR_ERR_INVALID_DOMAIN_SNAPSHOT`.
/// The `Ref` is the caller's, for the call.
pub fn snapshot(p: virDomainSnapshotPtr, func: &str) -> Result<Ref<SnapHandle>, Error> {
    let s = resolve::<SnapHandle, _>(p).ok_or_else(|| SnapHandle::invalid(func))?;
    boundary::note_conn(&s.dom.conn);
    Ok(s)
}

/// Publishes a new snapshot handle (C owns one reference).
pub fn publish_snapshot(dom: &Ref<DomainHandle>, snap: Snapshot) -> Result<virDomainSnapshotPtr, Error> {
    publish(SnapHandle::new(dom.clone(), snap))
}

/// Slots a [`SnapList`] takes per lock.
const BATCH: usize = 256;

/// The handles of one snapshot listing, published as they come into a
/// malloc'd NULL-terminated array (libvirt's `virDomainListAllSnapshots`
/// result). Slots and domain references are taken [`BATCH`] at a time.
/// Dropped without [`SnapList::finish`], it releases every handle it made
/// and frees the array: a failed listing leaves nothing behind.
pub struct SnapList<'a> {
    dom: &'a Ref<DomainHandle>,
    /// Reserved slots not used yet.
    spare: Vec<(u32, &'static Slot<SnapHandle>)>,
    /// Strong counts of `dom` taken for handles not made yet.
    credits: u32,
    /// The malloc'd array of keys (NULL until the first handle).
    arr: *mut virDomainSnapshotPtr,
    cap: usize,
    len: usize,
    failed: Option<Error>,
}

impl<'a> SnapList<'a> {
    /// An empty listing of snapshots of `dom`.
    pub fn new(dom: &'a Ref<DomainHandle>) -> Self {
        Self { dom, spare: Vec::new(), credits: 0, arr: ptr::null_mut(), cap: 0, len: 0, failed: None }
    }

    /// Publishes a handle for `snap` (C will own its one reference once
    /// [`Self::finish`] hands over the array). After a failure the rest is
    /// ignored and `finish` reports it.
    pub fn push(&mut self, snap: Snapshot) {
        if self.failed.is_none()
            && let Err(e) = self.try_push(snap)
        {
            self.failed = Some(e);
        }
    }

    fn try_push(&mut self, snap: Snapshot) -> Result<(), Error> {
        if self.len + 1 >= self.cap {
            self.grow()?;
        }
        if self.spare.is_empty() {
            self.refill()?;
        }
        let (index, slot) = self.spare.pop().ok_or_else(out_of_handles)?;
        self.credits -= 1;
        // SAFETY: one of the strong counts of `dom` taken in `refill`.
        let dom = unsafe { Ref::adopt(self.dom.slot) };
        let key = fill(index, slot, SnapHandle::new(dom, snap));
        // SAFETY: len + 1 < cap: the array has room.
        unsafe { *self.arr.add(self.len) = key as virDomainSnapshotPtr };
        self.len += 1;
        Ok(())
    }

    /// Reserves up to [`BATCH`] slots and as many domain references.
    #[cold]
    fn refill(&mut self) -> Result<(), Error> {
        {
            let want = BATCH - self.spare.len();
            SnapHandle::registry().lock().take_into(want, &mut self.spare);
        }
        let n = self.spare.len() as u32;
        if n == 0 {
            return Err(out_of_handles());
        }
        let before = self.dom.slot.strong.fetch_add(n, Ordering::Relaxed);
        if before > MAX_REFS {
            std::process::abort();
        }
        self.credits += n;
        Ok(())
    }

    /// Grows the array (realloc keeps it malloc'd for the caller's free()):
    /// 64, 1024 and 16384 entries, then doubling. The big steps spare a
    /// large listing the chain of heap copies (each one new memory to
    /// fault in); from 16384 entries (128 KiB) glibc maps the array, and
    /// later growth moves pages (mremap) instead of copying them.
    #[cold]
    fn grow(&mut self) -> Result<(), Error> {
        let cap = match self.cap {
            0 => 64,
            c if c < 16384 => c * 16,
            c => c * 2,
        };
        let bytes = cap.checked_mul(std::mem::size_of::<virDomainSnapshotPtr>()).ok_or_else(out_of_handles)?;
        // SAFETY: `arr` is NULL or our malloc'd array; on failure it stays valid.
        let p = unsafe { libc::realloc(self.arr.cast(), bytes) }.cast::<virDomainSnapshotPtr>();
        if p.is_null() {
            return Err(Error::bare(ErrorCode::NoMemory, ErrorDomain::None));
        }
        self.arr = p;
        self.cap = cap;
        Ok(())
    }

    /// Gives back unused slots and domain references.
    fn give_back(&mut self) {
        if !self.spare.is_empty() {
            let mut st = SnapHandle::registry().lock();
            for (index, slot) in self.spare.drain(..) {
                st.untake(index, slot);
            }
        }
        if self.credits > 0 {
            // Never the last count: `self.dom` holds one.
            self.dom.slot.strong.fetch_sub(self.credits, Ordering::Relaxed);
            self.credits = 0;
        }
    }

    /// Hands the NULL-terminated array to C: `*out` owns it (`free()`) and
    /// one reference to each handle (`virDomainSnapshotFree`). Returns the
    /// count, or the first error (then nothing is left behind).
    ///
    /// # Safety
    /// `out` must be non-NULL and writable.
    pub unsafe fn finish(mut self, out: *mut *mut virDomainSnapshotPtr) -> Result<usize, Error> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if self.arr.is_null() {
            self.grow()?;
        }
        self.give_back();
        // SAFETY: len < cap (push keeps one entry free for the terminator).
        unsafe { *self.arr.add(self.len) = ptr::null_mut() };
        // SAFETY: `out` is non-NULL and writable per the caller's contract.
        unsafe { *out = self.arr };
        let n = self.len;
        self.arr = ptr::null_mut();
        self.len = 0;
        Ok(n)
    }
}

impl Drop for SnapList<'_> {
    fn drop(&mut self) {
        self.give_back();
        for i in 0..self.len {
            // SAFETY: entries below len were written by `try_push`.
            let key = unsafe { *self.arr.add(i) } as usize;
            let _ = release_key::<SnapHandle>(key);
        }
        // SAFETY: NULL or our malloc'd array, not handed out.
        unsafe { libc::free(self.arr.cast()) };
    }
}

/// Live handle counts (connections, domains, snapshots), for tests.
pub fn live_counts() -> (usize, usize, usize) {
    (CONNS.len(), DOMAINS.len(), SNAPSHOTS.len())
}

#[cfg(test)]
mod slab_tests {
    //! The slab's bookkeeping on a kind of its own (so other tests' handles
    //! do not interfere).
    use super::*;

    struct Dummy(u32);

    static DUMMIES: Registry<Dummy> = Registry::new();

    /// The tests below share `DUMMIES` and expect LIFO slot reuse.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    impl Kind for Dummy {
        const TAG: u64 = 0;
        fn registry() -> &'static Registry<Self> {
            &DUMMIES
        }
        fn invalid(func: &str) -> Error {
            Error::new(ErrorCode::InvalidArg, ErrorDomain::None, func)
        }
    }

    fn key_parts(key: usize) -> (u32, u32) {
        decode(Dummy::TAG, key).expect("a Dummy key")
    }

    #[test]
    fn keys_are_never_reused_and_exhausted_slots_retire() {
        let _serial = serial();
        let k1: *mut u8 = publish(Dummy(1)).expect("publish");
        let (i1, g1) = key_parts(k1 as usize);
        assert_eq!(resolve::<Dummy, _>(k1).map(|r| r.0), Some(1));
        assert_eq!(release::<Dummy, _>(k1, "t").ok(), Some(false));
        assert!(resolve::<Dummy, _>(k1).is_none());
        assert!(release::<Dummy, _>(k1, "t").is_err());
        // The slot comes back (LIFO) under a new generation.
        let k2: *mut u8 = publish(Dummy(2)).expect("publish");
        assert_eq!(key_parts(k2 as usize), (i1, g1 + 1));
        assert!(resolve::<Dummy, _>(k1).is_none());
        assert_eq!(release::<Dummy, _>(k2, "t").ok(), Some(false));
        // A slot at the last generation is retired, not reused.
        DUMMIES.lock().slot(i1).expect("slot").generation.store(u32::MAX, Ordering::Relaxed);
        let k3: *mut u8 = publish(Dummy(3)).expect("publish");
        assert_eq!(key_parts(k3 as usize), (i1, u32::MAX));
        assert_eq!(release::<Dummy, _>(k3, "t").ok(), Some(false));
        let k4: *mut u8 = publish(Dummy(4)).expect("publish");
        assert_ne!(key_parts(k4 as usize).0, i1);
        for k in [k1, k2, k3] {
            assert!(resolve::<Dummy, _>(k).is_none());
        }
        assert_eq!(resolve::<Dummy, _>(k4).map(|r| r.0), Some(4));
        assert_eq!(release::<Dummy, _>(k4, "t").ok(), Some(false));
    }

    #[test]
    fn a_rust_reference_outlives_the_last_c_reference() {
        let _serial = serial();
        let k: *mut u8 = publish(Dummy(7)).expect("publish");
        let r = resolve::<Dummy, _>(k).expect("live");
        let r2 = r.clone();
        drop(r);
        assert!(add_ref::<Dummy, _>(k, "t").is_ok());
        assert_eq!(release::<Dummy, _>(k, "t").ok(), Some(true));
        assert_eq!(release::<Dummy, _>(k, "t").ok(), Some(true)); // r2 still holds it
        assert!(release::<Dummy, _>(k, "t").is_err()); // over-free refused
        assert_eq!(r2.0, 7);
        assert!(resolve::<Dummy, _>(k).is_some());
        drop(r2); // the last reference: the slot is reclaimed
        assert!(resolve::<Dummy, _>(k).is_none());
        assert!(add_ref::<Dummy, _>(k, "t").is_err());
    }

    #[test]
    fn foreign_values_are_not_keys() {
        let _serial = serial();
        let k: *mut u8 = publish(Dummy(9)).expect("publish");
        let key = k as usize;
        for bad in [0usize, 0x10, 0x7fff_ffff_f000, usize::MAX, key & !(1 << 63), key | 1 << 62] {
            assert!(resolve::<Dummy, _>(bad as *mut u8).is_none(), "{bad:#x}");
        }
        // The same index and generation under another kind's tag.
        assert!(resolve::<SnapHandle, _>((key | 3 << KIND_SHIFT) as *mut u8).is_none());
        assert_eq!(release::<Dummy, _>(k, "t").ok(), Some(false));
    }
}

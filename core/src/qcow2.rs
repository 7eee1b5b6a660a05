//! A read-only qcow2 metadata reader that accounts, per internal snapshot,
//! the host clusters only that snapshot references.
//!
//! It reads the header, the snapshot table, every L1 table (the active one
//! and each snapshot's), each distinct L2 table once, and the refcount
//! table and blocks, through positioned reads of a file opened read-only
//! (no lock: safe while a guest holds the image). Every offset and size read
//! from the file is checked against the file's length and qemu's own limits
//! before it is used, and nothing is allocated from an untrusted size
//! without a cap, so a hostile image gives a [`Qcow2Error`], never a panic
//! or an unbounded allocation.
//!
//! The accounting follows qemu's refcount rules (`qcow2_update_snapshot_refcount`,
//! `qcow2_snapshot_delete`): a host cluster's refcount is the number of
//! references to it from all L1 tables (each L1 table's own clusters once,
//! each L2 table once per L1 entry pointing at it, each data cluster once
//! per L2 entry per L1 entry reaching that L2 table). Deleting a snapshot
//! drops the references reached from its L1 table, so a cluster is freed
//! exactly when all of its refcount comes from that snapshot.
//!
//! Since 0.2.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Why an image could not be accounted. Since 0.2.
#[derive(Debug, thiserror::Error)]
pub enum Qcow2Error {
    /// Reading the file failed.
    #[error("cannot read qcow2 image: {0}")]
    Io(#[from] io::Error),
    /// The file is not a qcow2 image.
    #[error("not a qcow2 image")]
    NotQcow2,
    /// A qcow2 feature this reader does not account.
    #[error("unsupported qcow2 image: {0}")]
    Unsupported(String),
    /// Metadata that qemu itself would reject.
    #[error("corrupt qcow2 image: {0}")]
    Corrupt(String),
    /// Metadata larger than this reader's caps.
    #[error("qcow2 image too large to account: {0}")]
    TooLarge(String),
}

type R<T> = std::result::Result<T, Qcow2Error>;

/// Positioned reads from an image (a [`File`] or, for tests and fuzzing, a
/// byte slice). Since 0.2.
pub trait Source {
    /// Fills `buf` from offset `off`; an error when the range is not all there.
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()>;
    /// The image's length in bytes.
    fn len(&self) -> u64;
    /// True for an empty image.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Source for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let start = usize::try_from(off).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start.checked_add(buf.len()).ok_or(io::ErrorKind::UnexpectedEof)?;
        let src = self.get(start..end).ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
}

/// An image file opened read-only, with its length taken at open.
#[derive(Debug)]
pub struct ImageFile {
    file: File,
    len: u64,
}

impl ImageFile {
    /// Opens `path` read-only, refusing a symlink at the last component and
    /// anything but a regular file (no lock is taken). Since 0.2.
    pub fn open(path: &Path) -> io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)?;
        let md = file.metadata()?;
        if !md.file_type().is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        Ok(Self { len: md.len(), file })
    }
}

impl Source for ImageFile {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        FileExt::read_exact_at(&self.file, buf, off)
    }
    fn len(&self) -> u64 {
        self.len
    }
}

/// One internal snapshot's usage. Since 0.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotUsage {
    /// The snapshot's id string.
    pub id: String,
    /// The snapshot's tag (name) as stored (lossy UTF-8).
    pub tag: String,
    /// Saved VM state size from the snapshot table (0 for disk-only).
    pub vm_state_bytes: u64,
    /// Bytes of host clusters that only this snapshot references (its L1
    /// table, L2 tables, data and VM state clusters).
    pub exclusive_bytes: u64,
    /// Bytes of host clusters this snapshot references that another
    /// snapshot or the current disk state references too; `None` when the
    /// image's layout makes the count inexact (a host cluster reached from
    /// two guest offsets, as compressed clusters may be).
    pub shared_bytes: Option<u64>,
    /// Bytes `qemu-img snapshot -d` would free: exclusive clusters whose
    /// refcount comes from this snapshot alone, plus the snapshot-table
    /// clusters the table without this entry no longer needs. `None` when the image is
    /// marked dirty (refcounts on disk may lag: lazy refcounts).
    pub reclaimable_bytes: Option<u64>,
}

/// The usage of every internal snapshot of one image. Since 0.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUsage {
    /// Cluster size in bytes.
    pub cluster_size: u64,
    /// One entry per snapshot, in snapshot-table order.
    pub snapshots: Vec<SnapshotUsage>,
}

/// qemu's limits (block/qcow2.h), used as caps.
const MAX_L1_BYTES: u64 = 32 << 20;
/// Most L1 bytes read over all tables of one image (bounds the work a
/// hostile table of many snapshots sharing one huge L1 could ask for).
const MAX_L1_TOTAL_BYTES: u64 = 1 << 30;
const MAX_REFTABLE_BYTES: u64 = 8 << 20;
const MAX_SNAPSHOTS: u64 = 65536;
const MAX_SNAPSHOTS_BYTES: u64 = 64 << 20;
const MAX_EXTRA_DATA: u64 = 1024;
/// Most host clusters tracked (8 bytes of bookkeeping each: 256 MiB).
const MAX_HOST_CLUSTERS: u64 = 1 << 25;

const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const REFT_OFFSET_MASK: u64 = 0xffff_ffff_ffff_fe00;
const COMPRESSED: u64 = 1 << 62;

/// Incompatible feature bits: dirty, corrupt, external data file,
/// compression type, extended L2 entries.
const INCOMPAT_DIRTY: u64 = 1;
const INCOMPAT_CORRUPT: u64 = 2;
const INCOMPAT_DATA_FILE: u64 = 4;
const INCOMPAT_COMPRESSION: u64 = 8;
const INCOMPAT_EXTL2: u64 = 16;

fn be64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}
fn be32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[derive(Debug)]
struct Header {
    cluster_bits: u32,
    l1_size: u64,
    l1_offset: u64,
    reftable_offset: u64,
    reftable_clusters: u64,
    nb_snapshots: u64,
    snapshots_offset: u64,
    incompat: u64,
    refcount_order: u32,
}

impl Header {
    fn cs(&self) -> u64 {
        1 << self.cluster_bits
    }
}

/// Checks that `[off, off+len)` lies inside the file.
fn in_file(src: &(impl Source + ?Sized), off: u64, len: u64, what: &str) -> R<()> {
    match off.checked_add(len) {
        Some(end) if end <= src.len() => Ok(()),
        _ => Err(Qcow2Error::Corrupt(format!("{what} at offset {off:#x} (+{len}) lies beyond the end of the file"))),
    }
}

/// Reads `len` bytes at `off` after checking the range and `cap`.
fn read_vec(src: &(impl Source + ?Sized), off: u64, len: u64, cap: u64, what: &str) -> R<Vec<u8>> {
    if len > cap {
        return Err(Qcow2Error::TooLarge(format!("{what} of {len} bytes (limit {cap})")));
    }
    in_file(src, off, len, what)?;
    let mut v = vec![0u8; len as usize];
    src.read_exact_at(&mut v, off)?;
    Ok(v)
}

fn read_header(src: &(impl Source + ?Sized)) -> R<Header> {
    let mut h = [0u8; 104];
    if src.len() < 72 {
        return Err(Qcow2Error::NotQcow2);
    }
    let n = if src.len() >= 104 { 104 } else { 72 };
    src.read_exact_at(&mut h[..n], 0)?;
    if &h[0..4] != b"QFI\xfb" {
        return Err(Qcow2Error::NotQcow2);
    }
    let version = be32(&h, 4);
    if version != 2 && version != 3 {
        return Err(Qcow2Error::Unsupported(format!("qcow2 version {version}")));
    }
    let cluster_bits = be32(&h, 20);
    if !(9..=21).contains(&cluster_bits) {
        return Err(Qcow2Error::Corrupt(format!("cluster bits {cluster_bits}")));
    }
    let (incompat, refcount_order) = if version == 3 {
        if n < 104 {
            return Err(Qcow2Error::Corrupt("truncated version 3 header".into()));
        }
        (be64(&h, 72), be32(&h, 96))
    } else {
        (0, 4)
    };
    let known = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;
    if incompat & !known != 0 {
        return Err(Qcow2Error::Unsupported(format!("incompatible features {:#x}", incompat & !known)));
    }
    if incompat & INCOMPAT_DATA_FILE != 0 {
        return Err(Qcow2Error::Unsupported("external data file".into()));
    }
    if incompat & INCOMPAT_CORRUPT != 0 {
        return Err(Qcow2Error::Corrupt("the image is marked corrupt".into()));
    }
    if refcount_order > 6 {
        return Err(Qcow2Error::Corrupt(format!("refcount order {refcount_order}")));
    }
    Ok(Header {
        cluster_bits,
        l1_size: u64::from(be32(&h, 36)),
        l1_offset: be64(&h, 40),
        reftable_offset: be64(&h, 48),
        reftable_clusters: u64::from(be32(&h, 56)),
        nb_snapshots: u64::from(be32(&h, 60)),
        snapshots_offset: be64(&h, 64),
        incompat,
        refcount_order,
    })
}

#[derive(Debug)]
struct SnapEntry {
    id: String,
    tag: String,
    l1_offset: u64,
    l1_size: u64,
    vm_state: u64,
    /// Bytes the entry takes in the table now (padded to 8).
    stored: u64,
    /// Bytes qemu writes for it when it rewrites the table (its extra data
    /// grows to qemu's 24 bytes).
    rewritten: u64,
}

fn read_snapshot_table(src: &(impl Source + ?Sized), h: &Header) -> R<Vec<SnapEntry>> {
    if h.nb_snapshots > MAX_SNAPSHOTS {
        return Err(Qcow2Error::TooLarge(format!("{} snapshots", h.nb_snapshots)));
    }
    if h.nb_snapshots == 0 {
        return Ok(Vec::new());
    }
    if !h.snapshots_offset.is_multiple_of(h.cs()) {
        return Err(Qcow2Error::Corrupt("snapshot table offset not cluster aligned".into()));
    }
    // The table's length is not stored: read it in growing chunks, up to
    // qemu's cap (or the file's end).
    let avail = src.len().saturating_sub(h.snapshots_offset).min(MAX_SNAPSHOTS_BYTES) as usize;
    let mut buf: Vec<u8> = Vec::new();
    let ensure = |buf: &mut Vec<u8>, end: usize| -> R<()> {
        if end <= buf.len() {
            return Ok(());
        }
        if end > avail {
            return Err(Qcow2Error::Corrupt("snapshot table truncated".into()));
        }
        let new_len = end.max(buf.len() * 2).max(64 << 10).min(avail);
        let old = buf.len();
        buf.resize(new_len, 0);
        src.read_exact_at(&mut buf[old..], h.snapshots_offset + old as u64)?;
        Ok(())
    };
    let mut out = Vec::with_capacity(h.nb_snapshots.min(4096) as usize);
    let mut p = 0usize;
    for _ in 0..h.nb_snapshots {
        ensure(&mut buf, p + 40)?;
        let fixed = &buf[p..p + 40];
        let l1_offset = be64(fixed, 0);
        let l1_size = u64::from(be32(fixed, 8));
        let id_len = usize::from(be16(fixed, 12));
        let name_len = usize::from(be16(fixed, 14));
        let vm32 = u64::from(be32(fixed, 32));
        let extra_len = u64::from(be32(fixed, 36));
        if extra_len > MAX_EXTRA_DATA {
            return Err(Qcow2Error::Corrupt(format!("snapshot extra data of {extra_len} bytes")));
        }
        let extra_len = extra_len as usize;
        p += 40;
        // The padding after the last entry may lie past the file's end.
        let used = p + extra_len + id_len + name_len;
        ensure(&mut buf, used)?;
        let vm_state = if extra_len >= 8 { be64(&buf, p) } else { vm32 };
        p += extra_len;
        let id = &buf[p..p + id_len];
        p += id_len;
        let tag = &buf[p..p + name_len];
        out.push(SnapEntry {
            id: String::from_utf8_lossy(id).into_owned(),
            tag: String::from_utf8_lossy(tag).into_owned(),
            l1_offset,
            l1_size,
            vm_state,
            stored: (40 + extra_len + id_len + name_len).next_multiple_of(8) as u64,
            rewritten: (40 + extra_len.max(24) + id_len + name_len).next_multiple_of(8) as u64,
        });
        p = used.next_multiple_of(8);
    }
    Ok(out)
}

/// Owner code of a cluster reached from more than one L1 table.
const MULTI: u32 = u32::MAX;
/// Position code of a cluster not reached yet.
const NO_POS: u64 = u64::MAX;
/// Position tags: L1 table clusters and L2 table clusters are told apart
/// from data clusters (whose position is the guest cluster index).
const POS_L1: u64 = 1 << 62;
const POS_L2: u64 = 1 << 61;

/// Per-host-cluster bookkeeping.
struct Clusters {
    /// 0 = unreferenced, 1 = active L1, 2 + i = snapshot i, [`MULTI`].
    owner: Vec<u32>,
    /// References found (saturating).
    refs: Vec<u32>,
    /// Where the cluster is referenced from; a second, different position
    /// makes the shared counts inexact.
    pos: Vec<u64>,
    bits: u32,
    dup_pos: bool,
}

impl Clusters {
    fn mark(&mut self, host_off: u64, owner: u32, n: u32, pos: u64, what: &str) -> R<usize> {
        let i = (host_off >> self.bits) as usize;
        if i >= self.owner.len() || i == 0 {
            return Err(Qcow2Error::Corrupt(format!("{what} at offset {host_off:#x} outside the image's data area")));
        }
        let o = &mut self.owner[i];
        if *o == 0 {
            *o = owner;
        } else if *o != owner {
            *o = MULTI;
        }
        self.refs[i] = self.refs[i].saturating_add(n);
        let p = &mut self.pos[i];
        if *p == NO_POS {
            *p = pos;
        } else if *p != pos {
            self.dup_pos = true;
        }
        Ok(i)
    }
}

/// One distinct L2 table: who reaches it, how often, from which L1 index.
struct L2Use {
    owner: u32,
    mult: u32,
    l1_index: u64,
}

/// Accounts every internal snapshot of the image in `src`. Since 0.2.
pub fn usage(src: &(impl Source + ?Sized)) -> R<ImageUsage> {
    let h = read_header(src)?;
    let cs = h.cs();
    let bits = h.cluster_bits;
    let snaps = read_snapshot_table(src, &h)?;
    if snaps.is_empty() {
        return Ok(ImageUsage { cluster_size: cs, snapshots: Vec::new() });
    }
    let host_clusters = src.len().div_ceil(cs);
    if host_clusters > MAX_HOST_CLUSTERS {
        return Err(Qcow2Error::TooLarge(format!("{host_clusters} host clusters")));
    }
    let n = host_clusters as usize;
    let mut cl = Clusters { owner: vec![0; n], refs: vec![0; n], pos: vec![NO_POS; n], bits, dup_pos: false };
    let entry_bytes: u64 = if h.incompat & INCOMPAT_EXTL2 != 0 { 16 } else { 8 };
    let l2_entries = cs / entry_bytes;

    // L1 tables: the active one (owner 1), then each snapshot's (2 + i).
    let mut l1s = vec![(1u32, h.l1_offset, h.l1_size)];
    for (i, s) in snaps.iter().enumerate() {
        l1s.push((2 + i as u32, s.l1_offset, s.l1_size));
    }
    let mut l1_total = 0u64;
    let mut l2s: HashMap<u64, L2Use> = HashMap::new();
    // Per snapshot: clusters of its L1 table, its L2 tables (with multiplicity).
    let mut l1_clusters = vec![0u64; l1s.len() + 2];
    let mut snap_l2: Vec<Vec<u64>> = vec![Vec::new(); l1s.len() + 2];
    for &(owner, off, size) in &l1s {
        if size == 0 {
            continue;
        }
        if !off.is_multiple_of(cs) {
            return Err(Qcow2Error::Corrupt(format!("L1 table offset {off:#x} not cluster aligned")));
        }
        let bytes = size.checked_mul(8).ok_or_else(|| Qcow2Error::Corrupt("L1 size".into()))?;
        l1_total += bytes;
        if l1_total > MAX_L1_TOTAL_BYTES {
            return Err(Qcow2Error::TooLarge(format!("L1 tables of {l1_total} bytes in all")));
        }
        let table = read_vec(src, off, bytes, MAX_L1_BYTES, "L1 table")?;
        let ncl = bytes.div_ceil(cs);
        for k in 0..ncl {
            cl.mark(off + k * cs, owner, 1, POS_L1 | u64::from(owner), "L1 table")?;
        }
        l1_clusters[owner as usize] = ncl;
        for (idx, e) in table.chunks_exact(8).enumerate() {
            let l2 = u64::from_be_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]) & OFFSET_MASK;
            if l2 == 0 {
                continue;
            }
            if !l2.is_multiple_of(cs) {
                return Err(Qcow2Error::Corrupt(format!("L2 table offset {l2:#x} not cluster aligned")));
            }
            cl.mark(l2, owner, 1, POS_L2 | idx as u64, "L2 table")?;
            let u = l2s.entry(l2).or_insert(L2Use { owner, mult: 0, l1_index: idx as u64 });
            if u.owner != owner {
                u.owner = MULTI;
            }
            u.mult = u.mult.saturating_add(1);
            snap_l2[owner as usize].push(l2);
        }
    }

    // Each distinct L2 table once: its data clusters take the table's owner.
    let csize_shift = 62 - (bits - 8);
    let csize_mask = (1u64 << (bits - 8)) - 1;
    let coff_mask = (1u64 << csize_shift) - 1;
    let mut l2_data: HashMap<u64, u64> = HashMap::with_capacity(l2s.len());
    let mut buf = vec![0u8; cs as usize];
    for (&l2, u) in &l2s {
        in_file(src, l2, cs, "L2 table")?;
        src.read_exact_at(&mut buf, l2)?;
        let mut count = 0u64;
        for j in 0..l2_entries {
            let at = (j * entry_bytes) as usize;
            let e = be64(&buf, at);
            let guest = (u.l1_index * l2_entries + j) & (POS_L2 - 1);
            if e & COMPRESSED != 0 {
                let coff = e & coff_mask;
                let nsec = ((e >> csize_shift) & csize_mask) + 1;
                let csize = (nsec * 512).saturating_sub(coff & 511);
                if csize == 0 {
                    continue;
                }
                let first = coff >> bits;
                let last = (coff + csize - 1) >> bits;
                for c in first..=last {
                    cl.mark(c << bits, u.owner, u.mult, guest, "compressed cluster")?;
                    count += 1;
                }
                continue;
            }
            let off = e & OFFSET_MASK;
            if off == 0 {
                continue;
            }
            if !off.is_multiple_of(cs) {
                return Err(Qcow2Error::Corrupt(format!("data cluster offset {off:#x} not cluster aligned")));
            }
            cl.mark(off, u.owner, u.mult, guest, "data cluster")?;
            count += 1;
        }
        l2_data.insert(l2, count);
    }

    let refcounts = read_refcounts(src, &h, n)?;
    let dirty = h.incompat & INCOMPAT_DIRTY != 0;
    let mut exclusive = vec![0u64; l1s.len() + 2];
    let mut reclaim = vec![0u64; l1s.len() + 2];
    for (i, &o) in cl.owner.iter().enumerate() {
        if o == 0 || o == MULTI {
            continue;
        }
        exclusive[o as usize] += cs;
        if refcounts[i] == u64::from(cl.refs[i]) {
            reclaim[o as usize] += cs;
        }
    }
    let exact_shared = !cl.dup_pos;
    // Deleting a snapshot rewrites the snapshot table without its entry:
    // the clusters the shorter table no longer needs are freed too.
    let old_table = snaps.iter().map(|s| s.stored).sum::<u64>().div_ceil(cs);
    let all_rewritten: u64 = snaps.iter().map(|s| s.rewritten).sum();
    let out = snaps
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let o = i + 2;
            let shared = exact_shared.then(|| {
                let mut referenced = l1_clusters[o];
                let mut seen = snap_l2[o].clone();
                seen.sort_unstable();
                seen.dedup();
                for l2 in &seen {
                    referenced += 1 + l2_data.get(l2).copied().unwrap_or(0);
                }
                (referenced * cs).saturating_sub(exclusive[o])
            });
            SnapshotUsage {
                id: s.id,
                tag: s.tag,
                vm_state_bytes: s.vm_state,
                exclusive_bytes: exclusive[o],
                shared_bytes: shared,
                reclaimable_bytes: (!dirty).then(|| {
                    let new_table = (all_rewritten - s.rewritten).div_ceil(cs);
                    reclaim[o] + old_table.saturating_sub(new_table) * cs
                }),
            }
        })
        .collect();
    Ok(ImageUsage { cluster_size: cs, snapshots: out })
}

/// Refcount of each of the first `n` host clusters.
fn read_refcounts(src: &(impl Source + ?Sized), h: &Header, n: usize) -> R<Vec<u64>> {
    let cs = h.cs();
    let mut rc = vec![0u64; n];
    if !h.reftable_offset.is_multiple_of(cs) {
        return Err(Qcow2Error::Corrupt("refcount table offset not cluster aligned".into()));
    }
    let bytes = h.reftable_clusters.checked_mul(cs).ok_or_else(|| Qcow2Error::Corrupt("refcount table size".into()))?;
    let table = read_vec(src, h.reftable_offset, bytes, MAX_REFTABLE_BYTES, "refcount table")?;
    let rbits = 1u64 << h.refcount_order;
    let per_block = cs * 8 / rbits;
    let mut block = vec![0u8; cs as usize];
    for (ti, e) in table.chunks_exact(8).enumerate() {
        let first = ti as u64 * per_block;
        if first >= n as u64 {
            break;
        }
        let off = u64::from_be_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]) & REFT_OFFSET_MASK;
        if off == 0 {
            continue;
        }
        if !off.is_multiple_of(cs) {
            return Err(Qcow2Error::Corrupt(format!("refcount block offset {off:#x} not cluster aligned")));
        }
        in_file(src, off, cs, "refcount block")?;
        src.read_exact_at(&mut block, off)?;
        let count = per_block.min(n as u64 - first) as usize;
        let dst = &mut rc[first as usize..first as usize + count];
        match rbits {
            64 => dst.iter_mut().enumerate().for_each(|(k, d)| *d = be64(&block, k * 8)),
            32 => dst.iter_mut().enumerate().for_each(|(k, d)| *d = u64::from(be32(&block, k * 4))),
            16 => dst.iter_mut().enumerate().for_each(|(k, d)| *d = u64::from(be16(&block, k * 2))),
            8 => dst.iter_mut().enumerate().for_each(|(k, d)| *d = u64::from(block[k])),
            _ => dst.iter_mut().enumerate().for_each(|(k, d)| {
                let bit = k as u64 * rbits;
                let byte = block[(bit / 8) as usize];
                // Sub-byte refcounts are packed from the least significant bits.
                *d = u64::from(byte >> (bit % 8)) & ((1 << rbits) - 1);
            }),
        }
    }
    Ok(rc)
}

/// The backing file name recorded in the header (as written, possibly
/// relative to the image's directory); `None` when there is none. Since 0.2.
pub fn backing_file(src: &(impl Source + ?Sized)) -> R<Option<String>> {
    let mut h = [0u8; 20];
    if src.len() < 20 {
        return Err(Qcow2Error::NotQcow2);
    }
    src.read_exact_at(&mut h, 0)?;
    if &h[0..4] != b"QFI\xfb" {
        return Err(Qcow2Error::NotQcow2);
    }
    let off = be64(&h, 8);
    let len = u64::from(be32(&h, 16));
    if off == 0 || len == 0 {
        return Ok(None);
    }
    // qemu's limit on the name's length.
    let name = read_vec(src, off, len, 1023, "backing file name")?;
    String::from_utf8(name).map(Some).map_err(|_| Qcow2Error::Corrupt("backing file name is not UTF-8".into()))
}

/// [`usage`] of the image file at `path`. Since 0.2.
pub fn usage_of(path: &Path) -> R<ImageUsage> {
    usage(&ImageFile::open(path)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(matches!(usage(&b"nope"[..]), Err(Qcow2Error::NotQcow2)));
        let mut h = vec![0u8; 200];
        h[..4].copy_from_slice(b"QFI\xfb");
        h[7] = 3;
        h[23] = 40;
        assert!(matches!(usage(&h[..]), Err(Qcow2Error::Corrupt(_))));
        h[23] = 16;
        // Huge L1 size and offsets beyond the end.
        h[36..40].copy_from_slice(&u32::MAX.to_be_bytes());
        h[40..48].copy_from_slice(&(1u64 << 40).to_be_bytes());
        // With no snapshot there is nothing to read past the header.
        assert!(usage(&h[..]).unwrap().snapshots.is_empty());
        // One snapshot whose table lies beyond the end of the file.
        h[60..64].copy_from_slice(&1u32.to_be_bytes());
        h[64..72].copy_from_slice(&(1u64 << 40).to_be_bytes());
        assert!(usage(&h[..]).is_err());
    }
}

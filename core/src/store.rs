//! Crash-safe on-disk snapshot metadata, one file per snapshot in libvirt's
//! internal format (`<dir>/<name>.xml`, `<active>` marks the current one).
//!
//! Every write goes through [`crate::fsio`] (new temporary file, rename over
//! the target; fsync of file and directory unless the journal can rebuild
//! it), every read takes a regular file of bounded size, and every file
//! name read back (metadata files, journal records) is checked to name a
//! file of this directory. A per-domain lock file serialises processes
//! working on the same domain.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorDomain, Result};
use crate::fsio::{self, Durability};
use crate::model::SnapshotDef;
use crate::names::{printable, validate_snapshot_name};
use crate::tree::SnapshotTree;
use crate::xml::{format_snapshot, parse_snapshot, FormatFlags, ParseFlags};

/// Largest metadata file read back (libvirt uses the same cap).
pub const MAX_METADATA_BYTES: u64 = 1024 * 1024;

const HEADER: &str = "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\nOVERWRITTEN AND LOST. Changes to this xml configuration should be made using:\n  virsh snapshot-edit\nor other application using the libvirt API.\n-->\n\n";

/// Writes `data` to `path` atomically and durably ([`fsio::replace`]).
pub fn atomic_write(path: &Path, data: &[u8]) -> std::io::Result<()> {
    fsio::replace(path, data, Durability::Synced)
}

/// Metadata file name of snapshot `name`: `<name>.xml` as libvirt writes
/// it, except that a leading `.` is written `%2e` (hidden names would mix
/// with the store's own files) and, so that no two names share a file, a
/// leading `%` is written `%25`. Refused with `VIR_ERR_INVALID_ARG` when
/// the name is invalid or the file name would exceed NAME_MAX. Since 0.2.
pub fn file_name_for(name: &str) -> Result<String> {
    validate_snapshot_name(name)?;
    let file = if let Some(rest) = name.strip_prefix('.') {
        format!("%2e{rest}.xml")
    } else if let Some(rest) = name.strip_prefix('%') {
        format!("%25{rest}.xml")
    } else {
        format!("{name}.xml")
    };
    if file.len() > fsio::NAME_MAX {
        return Err(Error::invalid_arg(
            ErrorDomain::DomainSnapshot,
            format!(
                "snapshot name '{}' is too long: its metadata file name would have {} bytes, more than {}",
                printable(name),
                file.len(),
                fsio::NAME_MAX
            ),
        ));
    }
    Ok(file)
}

/// The snapshot name whose metadata file is `file` (inverse of
/// [`file_name_for`]); `None` for any other file name. Since 0.2.
pub fn name_of_file(file: &str) -> Option<String> {
    let stem = file.strip_suffix(".xml")?;
    let name = if let Some(rest) = stem.strip_prefix("%2e") {
        format!(".{rest}")
    } else if let Some(rest) = stem.strip_prefix("%25") {
        format!("%{rest}")
    } else if stem.starts_with(['%', '.']) {
        return None;
    } else {
        stem.to_owned()
    };
    (file_name_for(&name).ok()?.as_str() == file).then_some(name)
}

/// Metadata file name that versions before 0.2 used for `name` (a leading
/// `%` was kept), when it differs from [`file_name_for`].
fn legacy_file_name(name: &str) -> Option<String> {
    name.starts_with('%').then(|| format!("{name}.xml"))
}

/// Fault injection, compiled only with the `fault-injection` feature
/// (test builds; a no-op otherwise). When `VIRSNAP_CRASH_AT` names `point`, the process dies at once
/// (as `kill -9` would), to test crash safety. `point#N` dies at the N-th
/// time the point is reached (1-based; plain `point` is `point#1`), so a
/// sweep can stop an operation at each of several writes.
/// `VIRSNAP_CRASH_TRACE=FILE` appends every point reached to FILE, one per
/// line, for the sweep to enumerate them (core/tests/reliability_crash.rs).
#[cfg(feature = "fault-injection")]
pub fn crash_point(point: &str) {
    static HITS: std::sync::Mutex<Vec<(String, u32)>> = std::sync::Mutex::new(Vec::new());
    let at = std::env::var("VIRSNAP_CRASH_AT").ok();
    let trace = std::env::var_os("VIRSNAP_CRASH_TRACE");
    if at.is_none() && trace.is_none() {
        return;
    }
    let n = {
        let mut hits = HITS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match hits.iter_mut().find(|(p, _)| p == point) {
            Some((_, c)) => {
                *c += 1;
                *c
            }
            None => {
                hits.push((point.to_owned(), 1));
                1
            }
        }
    };
    if let Some(path) = trace {
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
            let _ = std::io::Write::write_fmt(&mut f, format_args!("{point}\n"));
            let _ = f.sync_all();
        }
    }
    if let Some(v) = at {
        let (want, nth) = match v.split_once('#') {
            Some((p, k)) => (p, k.parse::<u32>().unwrap_or(1)),
            None => (v.as_str(), 1),
        };
        if want == point && nth == n {
            std::process::abort();
        }
    }
}

/// Fault injection point: compiled out (the crate was built without the
/// `fault-injection` feature).
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn crash_point(_point: &str) {}

/// An exclusive lock on one domain's metadata, released on drop.
#[derive(Debug)]
pub struct StoreLock {
    file: File,
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// One domain's snapshot metadata directory.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
    domain: ErrorDomain,
}

impl SnapshotStore {
    /// Opens (creating) `dir`; errors are reported in `domain`.
    pub fn open(dir: impl Into<PathBuf>, domain: ErrorDomain) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| Error::system(domain, format!("cannot create directory '{}'", dir.display()), &e))?;
        Ok(Self { dir, domain })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the per-domain lock (blocks until other processes release it).
    pub fn lock(&self) -> Result<StoreLock> {
        let path = self.dir.join(".lock");
        let file = fsio::open_lock(&path)
            .map_err(|e| Error::system(self.domain, format!("cannot open lock file '{}'", path.display()), &e))?;
        file.lock().map_err(|e| Error::system(self.domain, format!("cannot lock '{}'", path.display()), &e))?;
        Ok(StoreLock { file })
    }

    /// The metadata file of `name` ([`file_name_for`]).
    pub fn path_for(&self, name: &str) -> Result<PathBuf> {
        Ok(self.dir.join(file_name_for(name)?))
    }

    /// The metadata text of `def`, refused with `VIR_ERR_INVALID_ARG` when
    /// it exceeds [`MAX_METADATA_BYTES`] (it could not be read back).
    fn metadata_text(def: &SnapshotDef, domain_uuid: &str, current: bool) -> Result<String> {
        let mut text = String::from(HEADER);
        text.push_str(&format_snapshot(def, Some(domain_uuid), FormatFlags { secure: true, internal: true, current }));
        if text.len() as u64 > MAX_METADATA_BYTES {
            return Err(Error::invalid_arg(
                ErrorDomain::DomainSnapshot,
                format!(
                    "metadata of snapshot '{}' would be {} bytes, more than the {MAX_METADATA_BYTES} bytes that can be read back",
                    printable(def.name.as_deref().unwrap_or_default()),
                    text.len()
                ),
            ));
        }
        Ok(text)
    }

    /// Checks that `def` can be stored (file name within NAME_MAX, metadata
    /// within [`MAX_METADATA_BYTES`]) before a hypervisor step makes it.
    /// Since 0.2.
    pub fn check_storable(&self, def: &SnapshotDef, domain_uuid: &str) -> Result<()> {
        file_name_for(def.name.as_deref().unwrap_or_default())?;
        Self::metadata_text(def, domain_uuid, true).map(drop)
    }

    /// Writes `def` (internal format, `<active>` = `current`) atomically.
    pub fn save(&self, def: &SnapshotDef, domain_uuid: &str, current: bool) -> Result<()> {
        let name = def.name.as_deref().unwrap_or_default();
        let path = self.path_for(name)?;
        let text = Self::metadata_text(def, domain_uuid, current)?;
        atomic_write(&path, text.as_bytes())
            .map_err(|e| Error::system(self.domain, format!("cannot write snapshot metadata '{}'", path.display()), &e))
    }

    /// Saves every snapshot of `tree` named in `names` (current taken from the tree).
    pub fn save_names(&self, tree: &SnapshotTree, names: &[String], domain_uuid: &str) -> Result<()> {
        for n in names {
            if let Some(def) = tree.get(n) {
                if tree.has_metadata(n) == Some(true) {
                    self.save(def, domain_uuid, tree.current() == Some(n.as_str()))?;
                }
            }
        }
        Ok(())
    }

    /// Removes the metadata of `name` (missing files are fine).
    pub fn remove(&self, name: &str) -> Result<()> {
        let path = self.path_for(name)?;
        crash_point("store-before-remove");
        fsio::remove_if_exists(&path).map_err(|e| Error::system(self.domain, format!("cannot remove '{}'", path.display()), &e))?;
        fsio::sync_dir(&self.dir)
            .map_err(|e| Error::system(self.domain, format!("cannot sync '{}'", self.dir.display()), &e))
    }

    /// Removes every metadata file and the directory itself.
    pub fn remove_all(&self) -> Result<()> {
        fs::remove_dir_all(&self.dir)
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            .map_err(|e| Error::system(self.domain, format!("cannot remove '{}'", self.dir.display()), &e))
    }

    /// Loads every snapshot into a tree. Unreadable or unparsable files
    /// (not regular, too large, bad XML, or a file whose name is not the
    /// one of the snapshot it holds) are skipped and reported in the second
    /// value, never deleted; the file of a name starting with `%` written by
    /// an older version is renamed to its current name (through the
    /// journal). Parents are linked after all files are read (a file whose
    /// parent is missing becomes a root); if several claim `<active>1`, the
    /// last wins. The caller holds the lock.
    pub fn load_all(&self) -> Result<(SnapshotTree, Vec<String>)> {
        let mut problems = Vec::new();
        let mut defs: Vec<SnapshotDef> = Vec::new();
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| Error::system(self.domain, format!("cannot read '{}'", self.dir.display()), &e))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "xml") && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        paths.sort();
        for p in paths {
            let file = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let d = match read_def(&p) {
                Ok(d) => d,
                Err(e) => {
                    problems.push(format!("{}: {e}", p.display()));
                    continue;
                }
            };
            let name = d.name.clone().unwrap_or_default();
            match file_name_for(&name) {
                Ok(f) if f == file => defs.push(d),
                Ok(f) if legacy_file_name(&name).as_deref() == Some(file.as_str()) && !self.dir.join(&f).exists() => {
                    let text = fsio::read_regular(&p, MAX_METADATA_BYTES).map_err(|e| e.to_error(self.domain, &p))?;
                    self.commit(&[(f, Some(text)), (file, None)], true)?;
                    defs.push(d);
                }
                _ => problems.push(format!("{}: holds snapshot '{}', whose file this is not; skipped", p.display(), printable(&name))),
            }
        }
        let mut tree = SnapshotTree::new();
        let mut current = None;
        // Insert parents before children; creation time keeps a stable order.
        defs.sort_by(|a, b| a.creation_time.cmp(&b.creation_time).then_with(|| a.name.cmp(&b.name)));
        // As libvirt's virDomainMomentSetRelations: a snapshot whose parent
        // was not loaded (missing or unreadable file) becomes a root, in
        // memory only; its own children keep their links. A parent cycle
        // is broken the same way, at one of its members.
        let loaded: std::collections::HashSet<String> = defs.iter().filter_map(|d| d.name.clone()).collect();
        let mut pending = Vec::with_capacity(defs.len());
        for mut d in defs {
            if let Some(p) = d.parent.as_deref() {
                if !loaded.contains(p) {
                    problems.push(format!("{}: parent {p} not found; made a root", d.name.as_deref().unwrap_or("")));
                    d.parent = None;
                }
            }
            pending.push(d);
        }
        loop {
            let before = pending.len();
            let mut rest = Vec::new();
            for d in pending {
                let ready = d.parent.as_deref().is_none_or(|p| tree.contains(p));
                if ready {
                    if d.active == Some(true) {
                        current = d.name.clone();
                    }
                    let name = d.name.clone().unwrap_or_default();
                    if let Err(e) = tree.insert(d, true) {
                        problems.push(format!("{name}: {}", e.message));
                    }
                } else {
                    rest.push(d);
                }
            }
            pending = rest;
            if pending.is_empty() {
                break;
            }
            if pending.len() == before {
                // Only cycles (or links to a file that failed to insert) remain.
                if let Some(d) = pending.first_mut() {
                    problems.push(format!("{}: parent {} is part of a cycle or not loaded; made a root", d.name.as_deref().unwrap_or(""), d.parent.as_deref().unwrap_or("")));
                    d.parent = None;
                }
            }
        }
        tree.set_current(current.as_deref());
        Ok((tree, problems))
    }
}

/// One file change of a [`SnapshotStore::commit`] batch: a file name in the
/// store's directory and its new content, or `None` to remove it.
pub type Change = (String, Option<Vec<u8>>);

/// The journal of [`SnapshotStore::commit`].
const JOURNAL: &str = ".journal";
/// What has been applied from the journal: "boot-id inode length" (a
/// checkpoint replaces the journal by a new file, so a stale line never
/// matches a new journal of the same length).
const APPLIED: &str = ".journal-applied";
/// Journal size that triggers a checkpoint (files synced, journal emptied).
const CHECKPOINT_BYTES: u64 = 512 * 1024;
/// Journal file size, written as zeros up front (see [`SnapshotStore::commit`]).
const PREALLOC: u64 = CHECKPOINT_BYTES + 256 * 1024;

fn fnv64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// Files of a store directory besides metadata that a [`SnapshotStore::commit`]
/// batch may write or remove (the qemu driver's operation journals).
pub const CONTROL_FILES: &[&str] = &[".delete-journal", ".rename-journal", ".create-journal"];

/// True when a batch may change file `n` of the store directory: a
/// metadata file (of the current or the pre-0.2 name mapping) or one of
/// [`CONTROL_FILES`]. Checked when a record is written and again when it
/// is read back, so a planted record cannot reach outside the directory.
fn valid_change_name(n: &str) -> bool {
    if CONTROL_FILES.contains(&n) {
        return true;
    }
    n.len() <= fsio::NAME_MAX
        && !n.starts_with('.')
        && n.strip_suffix(".xml").is_some_and(|stem| validate_snapshot_name(stem).is_ok())
}

/// Encodes one record: `VSJ <payload-len> <fnv64-hex>\n` + payload, the
/// payload being `W <name-len> <data-len>\n<name><data>` or
/// `D <name-len>\n<name>` per change.
fn encode(changes: &[Change]) -> Vec<u8> {
    let mut payload = Vec::new();
    for (name, data) in changes {
        match data {
            Some(d) => {
                payload.extend_from_slice(format!("W {} {}\n", name.len(), d.len()).as_bytes());
                payload.extend_from_slice(name.as_bytes());
                payload.extend_from_slice(d);
            }
            None => {
                payload.extend_from_slice(format!("D {}\n", name.len()).as_bytes());
                payload.extend_from_slice(name.as_bytes());
            }
        }
    }
    let mut rec = format!("VSJ {} {:016x}\n", payload.len(), fnv64(&payload)).into_bytes();
    rec.extend_from_slice(&payload);
    rec
}

fn take_line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a str> {
    let rest = buf.get(*pos..)?;
    let nl = rest.iter().take(64).position(|b| *b == b'\n')?;
    let line = std::str::from_utf8(&rest[..nl]).ok()?;
    *pos += nl + 1;
    Some(line)
}

fn take_bytes<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Option<&'a [u8]> {
    let end = pos.checked_add(n)?;
    let b = buf.get(*pos..end)?;
    *pos = end;
    Some(b)
}

/// Replaces `path` by `data` without fsync ([`Durability::Rebuildable`]).
/// Only for files the journal can rebuild: a crash can leave them missing.
fn overwrite(path: &Path, data: &[u8]) -> std::io::Result<()> {
    fsio::remove_if_exists(path)?;
    crash_point("store-overwrite-after-unlink");
    fsio::replace(path, data, Durability::Rebuildable)
}

/// Largest journal read back (a checkpoint keeps it near 768 KiB; a single
/// batch of many metadata files can make it larger).
const MAX_JOURNAL_BYTES: u64 = 256 * 1024 * 1024;

/// Opens a file for reading without following a symlink or blocking on a FIFO.
fn open_read(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)
}

/// Decodes the valid records of a journal; returns them and the length of
/// the valid prefix (a torn or corrupt tail is not part of it).
fn decode(buf: &[u8]) -> (Vec<Vec<Change>>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let start = pos;
        let rec = (|| {
            let head = take_line(buf, &mut pos)?;
            let mut f = head.split(' ');
            if f.next()? != "VSJ" {
                return None;
            }
            let len: usize = f.next()?.parse().ok()?;
            let sum = u64::from_str_radix(f.next()?, 16).ok()?;
            let payload = take_bytes(buf, &mut pos, len)?;
            if fnv64(payload) != sum {
                return None;
            }
            let mut changes = Vec::new();
            let mut p = 0;
            while p < payload.len() {
                let line = take_line(payload, &mut p)?;
                let mut f = line.split(' ');
                match f.next()? {
                    "W" => {
                        let nl: usize = f.next()?.parse().ok()?;
                        let dl: usize = f.next()?.parse().ok()?;
                        let name = std::str::from_utf8(take_bytes(payload, &mut p, nl)?).ok()?.to_owned();
                        let data = take_bytes(payload, &mut p, dl)?.to_vec();
                        changes.push((name, Some(data)));
                    }
                    "D" => {
                        let nl: usize = f.next()?.parse().ok()?;
                        let name = std::str::from_utf8(take_bytes(payload, &mut p, nl)?).ok()?.to_owned();
                        changes.push((name, None));
                    }
                    _ => return None,
                }
            }
            Some(changes)
        })();
        match rec {
            Some(c) => out.push(c),
            None => return (out, start),
        }
    }
}

impl SnapshotStore {
    /// The metadata file name (in [`Self::dir`]) and content of `def`, as
    /// [`Self::save`] would write them, for a [`Self::commit`] batch.
    pub fn change_for(&self, def: &SnapshotDef, domain_uuid: &str, current: bool) -> Result<Change> {
        let file = file_name_for(def.name.as_deref().unwrap_or_default())?;
        let text = Self::metadata_text(def, domain_uuid, current)?;
        Ok((file, Some(text.into_bytes())))
    }

    /// The change removing the metadata of snapshot `name`.
    pub fn removal_for(&self, name: &str) -> Result<Change> {
        Ok((file_name_for(name)?, None))
    }

    /// Applies a batch of file changes atomically with at most one
    /// `fdatasync`: the batch is appended to the directory's journal as one
    /// checksummed record (synced when `durable`), then applied to the files
    /// without syncing them. A crash before the record is complete leaves
    /// the old files; after it, [`Self::replay`] (which every reader under
    /// the lock calls first) re-applies it. A non-durable batch becomes
    /// durable with the next durable one (same file, appended later), or is
    /// lost as a whole on power failure; callers use that only when an
    /// earlier durable record lets them redo it. When the journal grows past
    /// 512 KiB the files are synced (one `syncfs`) and it is emptied.
    ///
    /// Every change to the files of a directory that uses the journal must
    /// go through it (a direct write could be undone by a replay). The
    /// caller holds the lock.
    pub fn commit(&self, changes: &[Change], durable: bool) -> Result<()> {
        use std::os::unix::fs::FileExt as _;
        if changes.is_empty() {
            return Ok(());
        }
        for (n, _) in changes {
            if !valid_change_name(n) {
                return Err(Error::internal(self.domain, format!("bad metadata file name '{}'", printable(n))));
            }
        }
        let err = |what: &str, e: &std::io::Error| Error::system(self.domain, format!("cannot {what} '{}'", self.dir.join(JOURNAL).display()), e);
        let jpath = self.dir.join(JOURNAL);
        // Records of a process that died before applying them come first.
        let (mut end, _) = self.journal_end()?;
        crash_point("store-before-rename");
        if fs::symlink_metadata(&jpath).is_err() {
            self.fresh_journal()?;
            end = 0;
        }
        // What the batch replaces, to put back if applying it fails; a
        // file that cannot be written at all (a directory or other
        // non-file in the way, a name over NAME_MAX) refuses the batch
        // before anything is recorded.
        let old = self.before_images(changes)?;
        let rec = encode(changes);
        let f = fsio::open_log(&jpath).map_err(|e| err("open", &e))?;
        if let Err(e) = f.write_all_at(&rec, end) {
            // A torn record is not part of the valid prefix; zero it so that
            // no later, shorter record is followed by its remains.
            let _ = f.write_all_at(&vec![0u8; rec.len()], end);
            return Err(err("write", &e));
        }
        if durable {
            // In place over preallocated blocks: no size or allocation
            // change, so no filesystem-journal commit (which in ext4's
            // ordered mode would also flush QEMU's fresh image data).
            f.sync_data().map_err(|e| err("sync", &e))?;
        }
        crash_point("store-after-journal");
        if let Err(e) = self.apply_or_restore(changes, &old) {
            // Roll back: the files are as before (restored above) and the
            // record is dropped, so no later replay makes a batch that
            // reported failure happen after all.
            f.write_all_at(&vec![0u8; rec.len()], end)
                .and_then(|()| f.sync_data())
                .map_err(|e2| err("drop a failed record from", &e2))?;
            self.mark_applied(end);
            return Err(e);
        }
        drop(f);
        let end = end + rec.len() as u64;
        self.mark_applied(end);
        if end > CHECKPOINT_BYTES {
            // Only an optimisation: the batch is applied; a checkpoint that
            // fails (a full disk) is retried by the next commit.
            if let Err(e) = self.checkpoint() {
                eprintln!("virsnap: {}", e.message);
            }
        }
        Ok(())
    }

    /// The current content of every file `changes` touches (`None`:
    /// absent or a symlink), read bounded; refuses a name over NAME_MAX or
    /// an existing entry that is neither a regular file nor a symlink.
    fn before_images(&self, changes: &[Change]) -> Result<Vec<Option<Vec<u8>>>> {
        let refuse = |name: &str, errno: i32| {
            let path = self.dir.join(name);
            Error::system(self.domain, format!("cannot write '{}'", path.display()), &std::io::Error::from_raw_os_error(errno))
        };
        let mut out = Vec::with_capacity(changes.len());
        for (name, _) in changes {
            if name.len() > 255 {
                return Err(refuse(name, libc::ENAMETOOLONG));
            }
            let path = self.dir.join(name);
            match fs::symlink_metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.push(None),
                // A planted symlink is replaced (as libvirt's rename does),
                // never read through; a rollback leaves no file there.
                Ok(m) if m.file_type().is_symlink() => out.push(None),
                Err(e) => return Err(Error::system(self.domain, format!("cannot stat '{}'", path.display()), &e)),
                Ok(m) if !m.file_type().is_file() => {
                    return Err(refuse(name, if m.is_dir() { libc::EISDIR } else { libc::EINVAL }));
                }
                Ok(_) => out.push(Some(fsio::read_regular(&path, MAX_METADATA_BYTES).map_err(|e| e.to_error(self.domain, &path))?)),
            }
        }
        Ok(out)
    }

    /// Applies `changes`; on a failure puts back the files already
    /// changed (and the failing one) from `old` and returns the error.
    fn apply_or_restore(&self, changes: &[Change], old: &[Option<Vec<u8>>]) -> Result<()> {
        for (i, (name, data)) in changes.iter().enumerate() {
            if let Err(e) = self.apply_one(name, data.as_deref()) {
                for ((n, _), before) in changes.iter().zip(old).take(i + 1) {
                    let path = self.dir.join(n);
                    let r = match before {
                        Some(b) => overwrite(&path, b),
                        None => match fs::remove_file(&path) {
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                            r => r,
                        },
                    };
                    if let Err(re) = r {
                        eprintln!("virsnap: cannot restore '{}' after a failed write: {re}", path.display());
                    }
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Creates an empty journal of [`PREALLOC`] real zero bytes (durably) in
    /// place of the current one.
    fn fresh_journal(&self) -> Result<()> {
        let zeros = vec![0u8; usize::try_from(PREALLOC).unwrap_or(0)];
        fsio::replace(&self.dir.join(JOURNAL), &zeros, Durability::Synced).map_err(|e| Error::system(self.domain, format!("cannot create journal in '{}'", self.dir.display()), &e))
    }

    fn apply_one(&self, name: &str, data: Option<&[u8]>) -> Result<()> {
        crash_point("store-apply");
        let path = self.dir.join(name);
        let r = match data {
            Some(d) => overwrite(&path, d),
            None => fsio::remove_if_exists(&path),
        };
        r.map_err(|e| Error::system(self.domain, format!("cannot write '{}'", path.display()), &e))
    }

    fn applied_line(&self, len: u64) -> String {
        use std::os::unix::fs::MetadataExt as _;
        let ino = fs::symlink_metadata(self.dir.join(JOURNAL)).map_or(0, |m| m.ino());
        format!("{} {ino} {len}", boot_id())
    }

    fn mark_applied(&self, len: u64) {
        // A hint only: a missing or stale marker makes the next reader replay.
        let _ = fsio::replace(&self.dir.join(APPLIED), format!("{}\n", self.applied_line(len)).as_bytes(), Durability::Rebuildable);
    }

    /// Makes every file the journal names durable, then empties it.
    fn checkpoint(&self) -> Result<()> {
        let jpath = self.dir.join(JOURNAL);
        let buf = fsio::read_regular(&jpath, MAX_JOURNAL_BYTES).map_err(|e| e.to_error(self.domain, &jpath))?;
        let (records, _) = decode(&buf);
        self.check_records(&jpath, &records)?;
        self.sync_dir_files(&records)?;
        // A new, empty journal file replaces the old one.
        self.fresh_journal()?;
        self.mark_applied(0);
        Ok(())
    }

    /// Makes the files `records` name durable.
    fn sync_dir_files(&self, records: &[Vec<Change>]) -> Result<()> {
        // One syncfs (the kernel writes the files back in one go) instead
        // of an fsync per file; per-file fsyncs if syncfs is refused.
        // (`sync -f`: this crate has no unsafe code to call syncfs itself.)
        let synced = std::process::Command::new("sync")
            .arg("-f")
            .arg(&self.dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !synced {
            let mut names: Vec<&str> = records.iter().flatten().map(|(n, _)| n.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            for n in names {
                if let Ok(f) = open_read(&self.dir.join(n)) {
                    f.sync_all().map_err(|e| Error::system(self.domain, format!("cannot sync '{n}'"), &e))?;
                }
            }
        }
        Ok(())
    }

    /// Re-applies the journal after a crash (a process killed between a
    /// record and its files, or a reboot that lost unsynced files) and cuts
    /// a torn tail; cheap (one small read) when nothing is pending. Returns
    /// true when it changed files. The caller holds the lock.
    pub fn replay(&self) -> Result<bool> {
        Ok(self.journal_end()?.1)
    }

    /// Where the next record goes (the end of the valid records), after
    /// replaying the journal if anything may be unapplied; and whether it
    /// replayed. Fast path: the applied marker names this boot, this
    /// journal file and an end after which the file is still zero.
    fn journal_end(&self) -> Result<(u64, bool)> {
        use std::os::unix::fs::{FileExt as _, MetadataExt as _};
        let jpath = self.dir.join(JOURNAL);
        let meta = match fs::symlink_metadata(&jpath) {
            Ok(m) => m,
            Err(_) => return Ok((0, false)),
        };
        // A hint: unreadable means "replay".
        let applied = fsio::read_regular_string(&self.dir.join(APPLIED), 256).unwrap_or_default();
        let mut f = applied.split_whitespace();
        let marker = (f.next(), f.next().and_then(|x| x.parse::<u64>().ok()), f.next().and_then(|x| x.parse::<u64>().ok()));
        if let (Some(boot), Some(ino), Some(end)) = marker {
            if boot == boot_id() && ino == meta.ino() && end <= meta.len() {
                let mut peek = [0u8; 8];
                let n = open_read(&jpath).and_then(|f| f.read_at(&mut peek, end)).unwrap_or(usize::MAX);
                if n <= peek.len() && peek[..n].iter().all(|b| *b == 0) {
                    return Ok((end, false));
                }
            }
        }
        let buf = fsio::read_regular(&jpath, MAX_JOURNAL_BYTES).map_err(|e| e.to_error(self.domain, &jpath))?;
        let (records, valid) = decode(&buf);
        // Every record is checked before any is applied.
        self.check_records(&jpath, &records)?;
        fsio::remove_stale_temps(&self.dir, "");
        let mut failed = false;
        for r in &records {
            // A record that cannot be applied (its files cannot be written:
            // a directory in the way, a full disk) is dropped rather than
            // failing every later command: the files stay as they were.
            let old = match self.before_images(r) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("virsnap: dropping a journal record of '{}': {}", self.dir.display(), e.message);
                    failed = true;
                    continue;
                }
            };
            if let Err(e) = self.apply_or_restore(r, &old) {
                eprintln!("virsnap: dropping a journal record of '{}': {}", self.dir.display(), e.message);
                failed = true;
            }
        }
        if failed {
            // The other records' files are made durable, then the journal
            // is emptied in place (no allocation: works on a full disk).
            self.sync_dir_files(&records)?;
            let used = buf.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
            let f = fsio::open_log(&jpath).map_err(|e| Error::system(self.domain, "cannot open journal", &e))?;
            f.write_all_at(&vec![0u8; used], 0)
                .and_then(|()| f.sync_data())
                .map_err(|e| Error::system(self.domain, "cannot empty journal", &e))?;
            self.mark_applied(0);
            return Ok((0, true));
        }
        // Zero a torn record after the valid ones, so that no later, shorter
        // record can be followed by its remains.
        let used = buf.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
        if used > valid {
            let f = fsio::open_log(&jpath).map_err(|e| Error::system(self.domain, "cannot open journal", &e))?;
            f.write_all_at(&vec![0u8; used - valid], valid as u64)
                .and_then(|()| f.sync_data())
                .map_err(|e| Error::system(self.domain, "cannot cut journal", &e))?;
        }
        self.mark_applied(valid as u64);
        Ok((valid as u64, true))
    }

    /// Refuses a journal holding a record for a file that is not one of
    /// this directory's metadata or control files (`VIR_ERR_INTERNAL_ERROR`;
    /// nothing is applied).
    fn check_records(&self, jpath: &Path, records: &[Vec<Change>]) -> Result<()> {
        for (n, _) in records.iter().flatten() {
            if !valid_change_name(n) {
                return Err(Error::internal(
                    self.domain,
                    format!("journal '{}' holds a record for file '{}', which is not snapshot metadata of this directory; refusing to replay it", jpath.display(), printable(n)),
                ));
            }
        }
        Ok(())
    }
}

/// Reads one metadata file (size-capped, parsed as REDEFINE+INTERNAL, name checked).
pub fn read_def(path: &Path) -> Result<SnapshotDef, String> {
    let text = fsio::read_regular_string(path, MAX_METADATA_BYTES).map_err(|e| e.to_string())?;
    let def = parse_snapshot(&text, ParseFlags { redefine: true, internal: true }).map_err(|e| e.message)?;
    let name = def.name.clone().unwrap_or_default();
    validate_snapshot_name(&name).map_err(|e| e.message)?;
    Ok(def)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::SnapshotState;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("virsnap-store-{tag}-{}-{}", std::process::id(), crate::uuid::Uuid::generate()));
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn def(name: &str, parent: Option<&str>, t: i64) -> SnapshotDef {
        SnapshotDef {
            name: Some(name.into()),
            parent: parent.map(Into::into),
            state: Some(SnapshotState::Shutoff),
            creation_time: t,
            ..SnapshotDef::default()
        }
    }

    #[test]
    fn save_load_round_trip_keeps_tree_current_and_uuid() {
        let dir = tmpdir("rt");
        let store = SnapshotStore::open(dir.join("dom"), ErrorDomain::Qemu).unwrap();
        let _l = store.lock().unwrap();
        let mut tree = SnapshotTree::new();
        tree.insert(def("a", None, 1), true).unwrap();
        tree.insert(def("b", Some("a"), 2), true).unwrap();
        tree.insert(def(".hidden", Some("a"), 3), true).unwrap();
        tree.set_current(Some("b"));
        store.save_names(&tree, &tree.names(), "9d37b878-a7cc-9f9a-b78f-49b3abad25a8").unwrap();
        fs::write(store.dir().join("junk.xml"), "<not-a-snapshot/>").unwrap();
        let (loaded, problems) = store.load_all().unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(loaded.names(), ["a", "b", ".hidden"]);
        assert_eq!(loaded.current(), Some("b"));
        assert_eq!(loaded.parent(".hidden"), Some("a"));
        assert_eq!(loaded.uuid_of("b"), tree.uuid_of("b"));
        let text = fs::read_to_string(store.dir().join("b.xml")).unwrap();
        assert!(text.starts_with("<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE."));
        assert!(text.contains("<active>1</active>"));
        store.remove("b").unwrap();
        assert!(!store.dir().join("b.xml").exists());
        store.remove_all().unwrap();
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn journal_commit_replay_and_torn_tail() {
        use std::os::unix::fs::FileExt as _;
        let dir = tmpdir("journal");
        let store = SnapshotStore::open(dir.join("dom"), ErrorDomain::Qemu).unwrap();
        let _l = store.lock().unwrap();
        let a = store.change_for(&def("a", None, 1), "u", true).unwrap();
        store.commit(&[a.clone(), (".rename-journal".into(), Some(b"1".to_vec()))], true).unwrap();
        assert!(store.dir().join("a.xml").exists());
        assert_eq!(fs::metadata(store.dir().join(".journal")).unwrap().len(), PREALLOC, "preallocated");
        assert!(!store.replay().unwrap(), "nothing pending");
        let (end, _) = store.journal_end().unwrap();
        // A process that wrote a record and died before its files...
        let j = OpenOptions::new().write(true).open(store.dir().join(".journal")).unwrap();
        let b = store.change_for(&def("b", None, 2), "u", false).unwrap();
        let rec_b = encode(std::slice::from_ref(&b));
        j.write_all_at(&rec_b, end).unwrap();
        // ...and one that died in the middle of the next record.
        let rec_c = encode(&[store.removal_for("a").unwrap()]);
        j.write_all_at(&rec_c[..rec_c.len() - 1], end + rec_b.len() as u64).unwrap();
        drop(j);
        assert!(store.replay().unwrap());
        assert!(store.dir().join("b.xml").exists(), "the complete record is applied");
        assert!(store.dir().join("a.xml").exists(), "the torn one is not");
        assert_eq!(fs::read(store.dir().join(".rename-journal")).unwrap(), b"1");
        let (end2, replayed) = store.journal_end().unwrap();
        assert_eq!((end2, replayed), (end + rec_b.len() as u64, false));
        // The torn remains were zeroed: a shorter record now parses alone.
        store.commit(&[store.removal_for("a").unwrap()], false).unwrap();
        assert!(!store.dir().join("a.xml").exists());
        let (recs, _) = decode(&fs::read(store.dir().join(".journal")).unwrap());
        assert_eq!(recs.len(), 3);
        // A stale marker (another boot) replays everything, idempotently.
        fs::write(store.dir().join(".journal-applied"), "stale 0 0\n").unwrap();
        assert!(store.replay().unwrap());
        assert!(!store.dir().join("a.xml").exists() && store.dir().join("b.xml").exists());
        assert!(store.commit(&[("../x".into(), None)], true).is_err());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn journal_checkpoint_starts_a_new_file() {
        let dir = tmpdir("ckpt");
        let store = SnapshotStore::open(dir.join("dom"), ErrorDomain::Qemu).unwrap();
        let _l = store.lock().unwrap();
        let big = vec![b'x'; 200 * 1024];
        for i in 0..7 {
            store.commit(&[(format!("f{i}.xml"), Some(big.clone()))], i % 2 == 0).unwrap();
        }
        let (end, _) = store.journal_end().unwrap();
        assert!(end < CHECKPOINT_BYTES, "checkpointed ({end} bytes left)");
        for i in 0..7 {
            assert_eq!(fs::read(store.dir().join(format!("f{i}.xml"))).unwrap().len(), big.len());
        }
        assert!(!store.replay().unwrap());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn file_names_are_injective_and_within_name_max() {
        for (name, file) in [("a", "a.xml"), (".a", "%2ea.xml"), ("%2ea", "%252ea.xml"), ("%", "%25.xml"), ("a%2e", "a%2e.xml")] {
            assert_eq!(file_name_for(name).unwrap(), file);
            assert_eq!(name_of_file(file).as_deref(), Some(name));
        }
        for f in ["%41.xml", ".a.xml", "a", "%2e.xml"] {
            assert_eq!(name_of_file(f), None, "{f}");
        }
        assert!(file_name_for(&"x".repeat(251)).is_ok());
        let e = file_name_for(&"x".repeat(252)).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidArg);
        assert_eq!(file_name_for(&format!(".{}", "x".repeat(249))).unwrap_err().code, crate::ErrorCode::InvalidArg);
    }

    #[test]
    fn dot_and_percent_names_keep_their_own_files() {
        let dir = tmpdir("inj");
        let store = SnapshotStore::open(dir.join("dom"), ErrorDomain::Qemu).unwrap();
        let _l = store.lock().unwrap();
        let a = store.change_for(&def(".a", None, 1), "u", false).unwrap();
        let b = store.change_for(&def("%2ea", None, 2), "u", true).unwrap();
        store.commit(&[a, b], true).unwrap();
        store.commit(&[store.removal_for("%2ea").unwrap()], true).unwrap();
        let (t, problems) = store.load_all().unwrap();
        assert_eq!(t.names(), [".a"], "{problems:?}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn old_percent_files_are_renamed_and_foreign_files_skipped() {
        let dir = tmpdir("legacy");
        let store = SnapshotStore::open(dir.join("dom"), ErrorDomain::Qemu).unwrap();
        let _l = store.lock().unwrap();
        let (_, text) = store.change_for(&def("%p", None, 1), "u", false).unwrap();
        fs::write(store.dir().join("%p.xml"), text.as_ref().unwrap()).unwrap();
        fs::write(store.dir().join("other.xml"), text.unwrap()).unwrap();
        let (t, problems) = store.load_all().unwrap();
        assert_eq!(t.names(), ["%p"]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("other.xml"), "{problems:?}");
        assert!(store.dir().join("%25p.xml").exists() && !store.dir().join("%p.xml").exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn hostile_journal_records_are_refused_on_read() {
        use std::os::unix::fs::FileExt as _;
        let dir = tmpdir("hostile");
        let outside = dir.join("outside");
        fs::write(&outside, "keep").unwrap();
        let store = SnapshotStore::open(dir.join("dom"), ErrorDomain::Qemu).unwrap();
        let _l = store.lock().unwrap();
        store.commit(&[store.change_for(&def("a", None, 1), "u", true).unwrap()], true).unwrap();
        let (end, _) = store.journal_end().unwrap();
        for bad in ["../outside", "../../x.xml", ".lock", ".journal", "x", ".a.xml", "a/b.xml"] {
            let j = OpenOptions::new().write(true).open(store.dir().join(".journal")).unwrap();
            let rec = encode(&[("b.xml".into(), Some(b"b".to_vec())), (bad.into(), None)]);
            j.write_all_at(&rec, end).unwrap();
            let e = store.replay().unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InternalError, "{bad}");
            assert!(e.message.contains("refusing to replay"), "{}", e.message);
            assert_eq!(fs::read(&outside).unwrap(), b"keep");
            assert!(!store.dir().join("b.xml").exists(), "nothing of the batch applied ({bad})");
            j.write_all_at(&vec![0; rec.len()], end).unwrap();
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn metadata_over_the_cap_is_refused_at_write() {
        let dir = tmpdir("cap");
        let store = SnapshotStore::open(dir.join("dom"), ErrorDomain::Qemu).unwrap();
        let mut d = def("big", None, 1);
        d.description = Some("x".repeat(usize::try_from(MAX_METADATA_BYTES).unwrap()));
        assert_eq!(store.change_for(&d, "u", false).unwrap_err().code, crate::ErrorCode::InvalidArg);
        assert_eq!(store.check_storable(&d, "u").unwrap_err().code, crate::ErrorCode::InvalidArg);
        assert_eq!(store.save(&d, "u", false).unwrap_err().code, crate::ErrorCode::InvalidArg);
        d.description = Some("x".repeat(1000));
        store.check_storable(&d, "u").unwrap();
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn fifo_device_and_symlinked_metadata_are_skipped_not_read() {
        let dir = tmpdir("fifo");
        let store = SnapshotStore::open(dir.join("dom"), ErrorDomain::Qemu).unwrap();
        let _l = store.lock().unwrap();
        store.commit(&[store.change_for(&def("a", None, 1), "u", true).unwrap()], true).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(store.dir().join("f.xml")).status().unwrap().success());
        std::os::unix::fs::symlink("/dev/zero", store.dir().join("z.xml")).unwrap();
        let (t, problems) = store.load_all().unwrap();
        assert_eq!(t.names(), ["a"]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn writes_replace_symlinks_instead_of_following_them() {
        let dir = tmpdir("symlink");
        let victim = dir.join("victim");
        fs::write(&victim, "precious").unwrap();
        let store = SnapshotStore::open(dir.join("dom"), ErrorDomain::Qemu).unwrap();
        let _l = store.lock().unwrap();
        std::os::unix::fs::symlink(&victim, store.dir().join("a.xml")).unwrap();
        std::os::unix::fs::symlink(&victim, store.dir().join("b.xml")).unwrap();
        std::os::unix::fs::symlink(&victim, store.dir().join(".journal-applied")).unwrap();
        store.commit(&[store.change_for(&def("a", None, 1), "u", true).unwrap()], true).unwrap();
        store.save(&def("b", None, 2), "u", false).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        let (t, _) = store.load_all().unwrap();
        assert_eq!(t.names(), ["a", "b"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rejects_path_tricks() {
        let dir = tmpdir("bad");
        let store = SnapshotStore::open(&dir, ErrorDomain::Qemu).unwrap();
        assert!(store.save(&def("../x", None, 1), "u", false).is_err());
        assert!(store.remove("..").is_err());
        fs::remove_dir_all(dir).unwrap();
    }
}

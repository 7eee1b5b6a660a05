//! Crash-safe on-disk snapshot metadata, one file per snapshot in libvirt's
//! internal format (`<dir>/<name>.xml`, `<active>` marks the current one).
//!
//! Writes are atomic: a temporary file in the same directory, `fsync`,
//! `rename` over the target, then `fsync` of the directory. A per-domain lock
//! file serialises processes working on the same domain.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorDomain, Result};
use crate::model::SnapshotDef;
use crate::names::validate_snapshot_name;
use crate::tree::SnapshotTree;
use crate::xml::{format_snapshot, parse_snapshot, FormatFlags, ParseFlags};

/// Largest metadata file read back (libvirt uses the same cap).
pub const MAX_METADATA_BYTES: u64 = 1024 * 1024;

const HEADER: &str = "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\nOVERWRITTEN AND LOST. Changes to this xml configuration should be made using:\n  virsh snapshot-edit\nor other application using the libvirt API.\n-->\n\n";

/// Writes `data` to `path` atomically (temp file, fsync, rename, fsync dir).
pub fn atomic_write(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{file_name}.new.{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        crash_point("store-before-rename");
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Test hook: when `VIRSNAP_CRASH_AT` names `point`, the process dies at once
/// (as `kill -9` would), to test crash safety. `point#N` dies at the N-th
/// time the point is reached (1-based; plain `point` is `point#1`), so a
/// sweep can stop an operation at each of several writes.
/// `VIRSNAP_CRASH_TRACE=FILE` appends every point reached to FILE, one per
/// line, for the sweep to enumerate them (core/tests/reliability_crash.rs).
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
            let _ = writeln!(f, "{point}");
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
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::system(self.domain, format!("cannot open lock file '{}'", path.display()), &e))?;
        file.lock().map_err(|e| Error::system(self.domain, format!("cannot lock '{}'", path.display()), &e))?;
        Ok(StoreLock { file })
    }

    /// The metadata file of `name` (validated; a leading `.` is written `%2e`).
    pub fn path_for(&self, name: &str) -> Result<PathBuf> {
        validate_snapshot_name(name)?;
        if let Some(rest) = name.strip_prefix('.') {
            // Hidden names would collide with our temp and lock files.
            return Ok(self.dir.join(format!("%2e{rest}.xml")));
        }
        Ok(self.dir.join(format!("{name}.xml")))
    }

    /// Writes `def` (internal format, `<active>` = `current`) atomically.
    pub fn save(&self, def: &SnapshotDef, domain_uuid: &str, current: bool) -> Result<()> {
        let name = def.name.as_deref().unwrap_or_default();
        let path = self.path_for(name)?;
        let mut text = String::from(HEADER);
        text.push_str(&format_snapshot(def, Some(domain_uuid), FormatFlags { secure: true, internal: true, current }));
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
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::system(self.domain, format!("cannot remove '{}'", path.display()), &e)),
        }
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::system(self.domain, format!("cannot sync '{}'", self.dir.display()), &e))
    }

    /// Removes every metadata file and the directory itself.
    pub fn remove_all(&self) -> Result<()> {
        fs::remove_dir_all(&self.dir)
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            .map_err(|e| Error::system(self.domain, format!("cannot remove '{}'", self.dir.display()), &e))
    }

    /// Loads every snapshot into a tree. Unreadable or unparsable files are
    /// skipped and reported in the second value, never deleted. Parents are
    /// linked after all files are read (a file whose parent is missing
    /// becomes a root); if several claim `<active>1`, the last wins.
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
            match read_def(&p) {
                Ok(d) => defs.push(d),
                Err(e) => problems.push(format!("{}: {e}", p.display())),
            }
        }
        // Creation time keeps a stable order; links are made after placing.
        defs.sort_by(|a, b| a.creation_time.cmp(&b.creation_time).then_with(|| a.name.cmp(&b.name)));
        let (tree, unplaced) = SnapshotTree::from_loaded(defs.into_iter().map(|d| (d, true)));
        problems.extend(unplaced);
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

fn valid_change_name(n: &str) -> bool {
    !n.is_empty() && n != "." && n != ".." && !n.contains('/') && !n.contains('\0') && n != JOURNAL && n != APPLIED && n != ".lock"
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

/// Replaces the content of `path` in place: written over the old bytes,
/// then cut to length; never truncated to zero and never renamed over, as
/// both make ext4 (`auto_da_alloc`) start writing the file back at once.
/// Only for files the journal can rebuild: a crash can leave them torn.
fn overwrite(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    let f = OpenOptions::new().write(true).create(true).truncate(false).open(path)?;
    f.write_all_at(data, 0)?;
    crash_point("store-overwrite-before-cut");
    f.set_len(data.len() as u64)
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
        let path = self.path_for(def.name.as_deref().unwrap_or_default())?;
        let mut text = String::from(HEADER);
        text.push_str(&format_snapshot(def, Some(domain_uuid), FormatFlags { secure: true, internal: true, current }));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok((name, Some(text.into_bytes())))
    }

    /// The change removing the metadata of snapshot `name`.
    pub fn removal_for(&self, name: &str) -> Result<Change> {
        let path = self.path_for(name)?;
        Ok((path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), None))
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
                return Err(Error::internal(self.domain, format!("bad metadata file name '{n}'")));
            }
        }
        let err = |what: &str, e: &std::io::Error| Error::system(self.domain, format!("cannot {what} '{}'", self.dir.join(JOURNAL).display()), e);
        let jpath = self.dir.join(JOURNAL);
        // Records of a process that died before applying them come first.
        let (mut end, _) = self.journal_end()?;
        crash_point("store-before-rename");
        if !jpath.exists() {
            self.fresh_journal()?;
            end = 0;
        }
        let rec = encode(changes);
        let f = OpenOptions::new().write(true).open(&jpath).map_err(|e| err("open", &e))?;
        f.write_all_at(&rec, end).map_err(|e| err("write", &e))?;
        if durable {
            // In place over preallocated blocks: no size or allocation
            // change, so no filesystem-journal commit (which in ext4's
            // ordered mode would also flush QEMU's fresh image data).
            f.sync_data().map_err(|e| err("sync", &e))?;
        }
        drop(f);
        crash_point("store-after-journal");
        let end = end + rec.len() as u64;
        self.apply(changes)?;
        self.mark_applied(end);
        if end > CHECKPOINT_BYTES {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Creates an empty journal of [`PREALLOC`] real zero bytes (durably) in
    /// place of the current one.
    fn fresh_journal(&self) -> Result<()> {
        let fresh = self.dir.join(format!("{JOURNAL}.new"));
        let r = File::create(&fresh)
            .and_then(|mut f| {
                let zeros = vec![0u8; 64 * 1024];
                let mut left = PREALLOC;
                while left > 0 {
                    let n = left.min(zeros.len() as u64) as usize;
                    f.write_all(&zeros[..n])?;
                    left -= n as u64;
                }
                f.sync_all()
            })
            .and_then(|()| fs::rename(&fresh, self.dir.join(JOURNAL)))
            .and_then(|()| File::open(&self.dir))
            .and_then(|d| d.sync_all());
        r.map_err(|e| Error::system(self.domain, format!("cannot create journal in '{}'", self.dir.display()), &e))
    }

    fn apply(&self, changes: &[Change]) -> Result<()> {
        for (name, data) in changes {
            crash_point("store-apply");
            let path = self.dir.join(name);
            let r = match data {
                Some(d) => overwrite(&path, d),
                None => match fs::remove_file(&path) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    r => r,
                },
            };
            r.map_err(|e| Error::system(self.domain, format!("cannot write '{}'", path.display()), &e))?;
        }
        Ok(())
    }

    fn applied_line(&self, len: u64) -> String {
        use std::os::unix::fs::MetadataExt as _;
        let ino = fs::metadata(self.dir.join(JOURNAL)).map_or(0, |m| m.ino());
        format!("{} {ino} {len}", boot_id())
    }

    fn mark_applied(&self, len: u64) {
        let _ = overwrite(&self.dir.join(APPLIED), format!("{}\n", self.applied_line(len)).as_bytes());
    }

    /// Makes every file the journal names durable, then empties it.
    fn checkpoint(&self) -> Result<()> {
        let jpath = self.dir.join(JOURNAL);
        let buf = fs::read(&jpath).unwrap_or_default();
        let (records, _) = decode(&buf);
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
                if let Ok(f) = File::open(self.dir.join(n)) {
                    f.sync_all().map_err(|e| Error::system(self.domain, format!("cannot sync '{n}'"), &e))?;
                }
            }
        }
        // A new, empty journal file replaces the old one.
        self.fresh_journal()?;
        self.mark_applied(0);
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
        let meta = match fs::metadata(&jpath) {
            Ok(m) => m,
            Err(_) => return Ok((0, false)),
        };
        let applied = fs::read_to_string(self.dir.join(APPLIED)).unwrap_or_default();
        let mut f = applied.split_whitespace();
        let marker = (f.next(), f.next().and_then(|x| x.parse::<u64>().ok()), f.next().and_then(|x| x.parse::<u64>().ok()));
        if let (Some(boot), Some(ino), Some(end)) = marker {
            if boot == boot_id() && ino == meta.ino() && end <= meta.len() {
                let mut peek = [0u8; 8];
                let n = File::open(&jpath).and_then(|f| f.read_at(&mut peek, end)).unwrap_or(usize::MAX);
                if n <= peek.len() && peek[..n].iter().all(|b| *b == 0) {
                    return Ok((end, false));
                }
            }
        }
        let buf = fs::read(&jpath).map_err(|e| Error::system(self.domain, "cannot read journal", &e))?;
        let (records, valid) = decode(&buf);
        for r in &records {
            self.apply(r)?;
        }
        // Zero a torn record after the valid ones, so that no later, shorter
        // record can be followed by its remains.
        let used = buf.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
        if used > valid {
            let f = OpenOptions::new().write(true).open(&jpath).map_err(|e| Error::system(self.domain, "cannot open journal", &e))?;
            f.write_all_at(&vec![0u8; used - valid], valid as u64)
                .and_then(|()| f.sync_data())
                .map_err(|e| Error::system(self.domain, "cannot cut journal", &e))?;
        }
        self.mark_applied(valid as u64);
        Ok((valid as u64, true))
    }
}

/// Reads one metadata file (size-capped, parsed as REDEFINE+INTERNAL, name checked).
pub fn read_def(path: &Path) -> Result<SnapshotDef, String> {
    let meta = fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_METADATA_BYTES {
        return Err(format!("larger than {MAX_METADATA_BYTES} bytes"));
    }
    let text = fs::read_to_string(path).map_err(|e| e.to_string())?;
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
        store.commit(&[a.clone(), (".x".into(), Some(b"1".to_vec()))], true).unwrap();
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
        assert_eq!(fs::read(store.dir().join(".x")).unwrap(), b"1");
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
            store.commit(&[(format!("f{i}"), Some(big.clone()))], i % 2 == 0).unwrap();
        }
        let (end, _) = store.journal_end().unwrap();
        assert!(end < CHECKPOINT_BYTES, "checkpointed ({end} bytes left)");
        for i in 0..7 {
            assert_eq!(fs::read(store.dir().join(format!("f{i}"))).unwrap().len(), big.len());
        }
        assert!(!store.replay().unwrap());
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

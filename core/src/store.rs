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
        let mut tree = SnapshotTree::new();
        let mut current = None;
        // Insert parents before children; creation time keeps a stable order.
        defs.sort_by(|a, b| a.creation_time.cmp(&b.creation_time).then_with(|| a.name.cmp(&b.name)));
        let mut pending = defs;
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
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        for mut d in pending {
            let name = d.name.clone().unwrap_or_default();
            problems.push(format!("{name}: parent {} not found; made a root", d.parent.as_deref().unwrap_or("")));
            d.parent = None;
            if d.active == Some(true) {
                current = d.name.clone();
            }
            let _ = tree.insert(d, true);
        }
        tree.set_current(current.as_deref());
        Ok((tree, problems))
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
    fn rejects_path_tricks() {
        let dir = tmpdir("bad");
        let store = SnapshotStore::open(&dir, ErrorDomain::Qemu).unwrap();
        assert!(store.save(&def("../x", None, 1), "u", false).is_err());
        assert!(store.remove("..").is_err());
        fs::remove_dir_all(dir).unwrap();
    }
}

//! Safe file access for every file virsnap persists (the snapshot store,
//! qemu's runtime and index files, vbox's journals). Since 0.2.
//!
//! * Writes never go through an existing file: [`replace`] writes a new
//!   temporary file in the target's directory, created with
//!   `O_CREAT|O_EXCL|O_NOFOLLOW`, and renames it over the target, so a
//!   symlink or hard link planted at the target is replaced, never written
//!   through. The one in-place writer is [`open_log`], for an append-only
//!   log virsnap created itself (checked: regular file, one link).
//! * Reads take regular files only ([`read_regular`]): opened with
//!   `O_NOFOLLOW|O_NONBLOCK` (a FIFO does not block the open), checked with
//!   `fstat`, read at most `cap + 1` bytes (a device or a growing file cannot
//!   exhaust memory).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, ErrorDomain};

/// Longest file name the filesystems virsnap runs on accept.
pub const NAME_MAX: usize = 255;

/// Marker in the name of [`replace`]'s temporary files.
const TMP_MARK: &str = ".virsnap-tmp-";

/// How much of a [`replace`] must survive a power failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The file and the directory entry are fsynced before returning.
    Synced,
    /// Renamed over the target without fsync: a process crash leaves the
    /// old or the new content (small runtime files not worth a flush).
    Atomic,
    /// No fsync: the caller can rebuild the file (a journal record that is
    /// already durable, or a cache that is checked before use). The old
    /// target is unlinked before the rename: renaming over an existing file
    /// makes ext4 (`auto_da_alloc`) start writing the new one back at once,
    /// milliseconds under load; a crash between the two leaves no file,
    /// which such callers handle.
    Rebuildable,
}

/// Why [`read_regular`] refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Open or read failed (`NotFound` when there is no file).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A FIFO, socket, device, directory or symlink.
    #[error("not a regular file")]
    NotRegular,
    /// Longer than the cap.
    #[error("larger than {0} bytes")]
    TooLarge(u64),
}

impl ReadError {
    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }

    /// The libvirt error for reading `path`: `VIR_ERR_SYSTEM_ERROR` for an
    /// I/O failure, `VIR_ERR_INTERNAL_ERROR` for a file that is not regular
    /// or too large.
    pub fn to_error(&self, domain: ErrorDomain, path: &Path) -> Error {
        match self {
            Self::Io(e) => Error::system(domain, format!("cannot read '{}'", path.display()), e),
            other => Error::internal(domain, format!("cannot read '{}': {other}", path.display())),
        }
    }
}

/// Reads `path` when it is a regular file of at most `cap` bytes. The
/// final component is not followed if it is a symlink (`ELOOP`, reported
/// as [`ReadError::Io`]).
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    read_bounded(path, cap, libc::O_NOFOLLOW)
}

/// [`read_regular`] following a symlink at `path` (for files the user
/// names, such as a test driver's node file, where libvirt follows links).
pub fn read_regular_following(path: &Path, cap: u64) -> Result<String, ReadError> {
    let b = read_bounded(path, cap, 0)?;
    String::from_utf8(b).map_err(|e| ReadError::Io(io::Error::new(io::ErrorKind::InvalidData, e)))
}

fn read_bounded(path: &Path, cap: u64, flags: i32) -> Result<Vec<u8>, ReadError> {
    let f = OpenOptions::new().read(true).custom_flags(flags | libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)?;
    let meta = f.metadata()?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular);
    }
    let mut buf = Vec::with_capacity(usize::try_from(meta.len().min(cap)).unwrap_or(0).saturating_add(1));
    f.take(cap.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(ReadError::TooLarge(cap));
    }
    Ok(buf)
}

/// [`read_regular`] as UTF-8 text (invalid UTF-8 is [`io::ErrorKind::InvalidData`]).
pub fn read_regular_string(path: &Path, cap: u64) -> Result<String, ReadError> {
    let b = read_regular(path, cap)?;
    String::from_utf8(b).map_err(|e| ReadError::Io(io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// A fresh temporary file name beside `path` (within [`NAME_MAX`]).
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let suffix = format!("{TMP_MARK}{}-{n}", std::process::id());
    let mut keep = NAME_MAX.saturating_sub(suffix.len()).min(name.len());
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    Ok(path.with_file_name(format!("{}{suffix}", &name[..keep])))
}

/// Creates a new file (never an existing one, never through a symlink).
fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path)
}

/// Fsyncs directory `dir` (makes a rename or unlink in it durable).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `path` by a file holding `data`: temporary file created
/// exclusively in the same directory, written, (fsynced), renamed over
/// `path`, (directory fsynced). A symlink, hard link or FIFO at `path` is
/// replaced, its target untouched. On error the temporary file is removed
/// and `path` is as before.
pub fn replace(path: &Path, data: &[u8], durability: Durability) -> io::Result<()> {
    let tmp = temp_path(path)?;
    let result = (|| {
        let mut f = create_new(&tmp)?;
        f.write_all(data)?;
        if durability == Durability::Synced {
            f.sync_all()?;
        }
        drop(f);
        if durability == Durability::Synced {
            crate::store::crash_point("store-before-rename");
        }
        if durability == Durability::Rebuildable {
            remove_if_exists(path)?;
        }
        fs::rename(&tmp, path)?;
        if durability == Durability::Synced {
            sync_dir(path.parent().unwrap_or(Path::new(".")))?;
        }
        Ok(())
    })();
    if result.is_err() {
        // Best effort: the error being returned is the one that matters.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes `path` (a symlink itself, not its target); a missing file is fine.
pub fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Opens an existing append-only log virsnap created (with [`replace`]) for
/// writing in place: refused unless it is a regular file with one link,
/// so a planted symlink or hard link is never written through.
pub fn open_log(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new().write(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)?;
    check_own(&f, path)?;
    Ok(f)
}

/// Opens (creating) a lock file: never through a symlink, regular only.
pub fn open_lock(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    if !f.metadata()?.file_type().is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("'{}' is not a regular file", path.display())));
    }
    Ok(f)
}

fn check_own(f: &File, path: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let m = f.metadata()?;
    if !m.file_type().is_file() || m.nlink() != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{}' is not a regular file with one link; refusing to write it", path.display()),
        ));
    }
    Ok(())
}

/// Removes from `dir` the temporary files of [`replace`] whose names start
/// with `prefix` and whose process is gone (left by a crash).
pub fn remove_stale_temps(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let n = e.file_name();
        // Exactly `…TMP_MARK<pid>-<n>`: never a file that merely contains the mark.
        let Some(pid) = n
            .to_str()
            .filter(|n| n.starts_with(prefix))
            .and_then(|n| n.rsplit_once(TMP_MARK))
            .and_then(|(_, p)| p.split_once('-'))
            .filter(|(p, k)| !p.is_empty() && !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
            .map(|(p, _)| p)
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok_and(|p| p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists()) {
            // Best effort: a leftover temp file is harmless.
            let _ = fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("virsnap-fsio-{tag}-{}-{}", std::process::id(), crate::uuid::Uuid::generate()));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn replace_never_writes_through_links() {
        let d = tmpdir("links");
        let victim = d.join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, d.join("sym")).unwrap();
        fs::hard_link(&victim, d.join("hard")).unwrap();
        assert!(open_log(&victim).is_err(), "two links");
        assert!(open_log(&d.join("sym")).is_err(), "a symlink");
        for mode in [Durability::Synced, Durability::Rebuildable] {
            replace(&d.join("sym"), b"new", mode).unwrap();
            replace(&d.join("hard"), b"new", mode).unwrap();
        }
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(fs::read(d.join("sym")).unwrap(), b"new");
        assert!(!fs::symlink_metadata(d.join("sym")).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_dir(&d).unwrap().count(), 3, "no temporary file left");
        let long = d.join("x".repeat(NAME_MAX));
        replace(&long, b"1", Durability::Synced).unwrap();
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn reads_only_bounded_regular_files() {
        let d = tmpdir("reads");
        fs::write(d.join("f"), "12345").unwrap();
        assert_eq!(read_regular(&d.join("f"), 5).unwrap(), b"12345");
        assert!(matches!(read_regular(&d.join("f"), 4), Err(ReadError::TooLarge(4))));
        assert!(matches!(read_regular(Path::new("/dev/zero"), 10), Err(ReadError::NotRegular)));
        std::os::unix::fs::symlink(d.join("f"), d.join("l")).unwrap();
        assert!(matches!(read_regular(&d.join("l"), 10), Err(ReadError::Io(_))));
        let fifo = d.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(matches!(read_regular(&fifo, 10), Err(ReadError::NotRegular)));
        assert!(read_regular(&d.join("none"), 10).unwrap_err().is_not_found());
        fs::remove_dir_all(d).unwrap();
    }
}

//! Intent journal of an ESX/vCenter prune, so that a process killed between
//! two `RemoveSnapshot_Task` calls leaves the VM's snapshots as before or as
//! after the prune, never between: the prune's targets (the snapshots'
//! `VirtualMachineSnapshot` references, which the server never reuses) are
//! written durably before the first deletion and the file is removed after
//! the last; [`recover`], run when an `esx://` or `vpx://` connection is
//! opened, deletes the recorded snapshots that are still there (never the
//! current one) for journals of owners that are gone (rolls forward).
//!
//! `DIR/VM-UUID.PID-N.prune` (DIR: `$VIRSNAP_ESX_STATE_DIR`, else
//! `$XDG_STATE_HOME/virsnap/esx`, else `~/.local/state/virsnap/esx`) holds
//! `server` and the server's URL (and vCenter host), `pid P`, `delete` and
//! the references, then `mac` and an HMAC-SHA256 of
//! the server's URL, the VM's UUID and that text under the per-user key
//! `DIR/intent.key` (32 random bytes, mode 0600, created once), as the
//! VirtualBox driver signs its intents. A file that is not a regular file
//! owned by this user and writable by no one else, or whose HMAC does not
//! verify for this server and VM, is refused and kept (with a message on
//! stderr): it must not make us delete snapshots. Since 0.2.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use ring::hmac;

use super::soap::{el, MoRef};
use super::{EsxDriver, ESX};
use crate::drivers::{DomainRef, Driver as _};
use crate::error::{Error, Result};
use crate::store::crash_point;
use crate::uuid::Uuid;

/// Largest intent file read back.
const INTENT_BYTES: u64 = 1024 * 1024;
/// The signing key's file name.
const KEY_FILE: &str = "intent.key";
/// Length of the signing key.
const KEY_BYTES: usize = 32;
/// Suffix of an intent file.
const SUFFIX: &str = ".prune";

/// The journal directory.
pub(super) fn journal_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VIRSNAP_ESX_STATE_DIR").filter(|d| !d.is_empty()) {
        return d.into();
    }
    let base = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()).map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".local/state"),
        PathBuf::from,
    );
    base.join("virsnap/esx")
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Reads `path` (not through a symlink, bounded) when it is a regular file
/// with one link, owned by this user and writable by no one else;
/// `private` also refuses group/other read access.
fn read_own(path: &Path, cap: u64, private: bool) -> std::result::Result<Vec<u8>, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.file_type().is_file() || meta.nlink() != 1 {
        return Err("it is not a regular file".into());
    }
    if meta.uid() != euid() {
        return Err(format!("it is owned by uid {}, not by this user", meta.uid()));
    }
    let forbidden = if private { 0o077 } else { 0o022 };
    if meta.mode() & forbidden != 0 {
        return Err(format!("its mode {:o} lets others write or read it", meta.mode() & 0o7777));
    }
    crate::fsio::read_regular(path, cap).map_err(|e| format!("{e:?}"))
}

fn read_key(dir: &Path) -> std::result::Result<hmac::Key, String> {
    let b = read_own(&dir.join(KEY_FILE), KEY_BYTES as u64, true)?;
    if b.len() != KEY_BYTES {
        return Err("the key has the wrong length".into());
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &b))
}

/// The key of `dir`, created (private temporary file, fsynced, hard-linked
/// into place, so never overwritten) when there is none.
fn key_for_writing(dir: &Path) -> Result<hmac::Key> {
    let path = dir.join(KEY_FILE);
    if path.symlink_metadata().is_ok() {
        return read_key(dir).map_err(|e| Error::internal(ESX, format!("cannot use the intent signing key {}: {e}", path.display())));
    }
    let mut bytes = [0u8; KEY_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::internal(ESX, "cannot generate the intent signing key: no system randomness"))?;
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!("{KEY_FILE}.virsnap-tmp-{}-{n}", std::process::id()));
    let sys = |e: &std::io::Error| Error::system(ESX, format!("cannot create {}", path.display()), e);
    let linked = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, &path)
    })();
    let removed = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(sys(&e)),
    }
    removed.map_err(|e| sys(&e))?;
    crate::fsio::sync_dir(dir).map_err(|e| sys(&e))?;
    read_key(dir).map_err(|e| Error::internal(ESX, format!("cannot use the intent signing key {}: {e}", path.display())))
}

fn signed_text(server: &str, vm: &Uuid, body: &str) -> String {
    format!("virsnap esx intent 1\n{server}\n{vm}\n{body}")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The prune journal of one running prune; removed by [`Intent::done`]
/// (also when the prune fails: an error is reported, not rolled forward).
#[derive(Debug)]
pub(super) struct Intent {
    path: PathBuf,
}

impl Intent {
    /// Records durably that `targets` of `vm` on `server` are to be deleted.
    pub(super) fn begin(server: &str, vm: &Uuid, targets: &[MoRef]) -> Result<Self> {
        let dir = journal_dir();
        std::fs::create_dir_all(&dir).map_err(|e| Error::system(ESX, format!("cannot create {}", dir.display()), &e))?;
        let key = key_for_writing(&dir)?;
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("{vm}.{}-{n}{SUFFIX}", std::process::id()));
        let mut body = format!("server {server}\npid {}\ndelete", std::process::id());
        for t in targets {
            body.push(' ');
            body.push_str(&t.value);
        }
        body.push('\n');
        let tag = hmac::sign(&key, signed_text(server, vm, &body).as_bytes());
        let text = format!("{body}mac {}\n", hex(tag.as_ref()));
        crate::fsio::replace(&path, text.as_bytes(), crate::fsio::Durability::Synced)
            .map_err(|e| Error::system(ESX, format!("cannot write the prune journal {}", path.display()), &e))?;
        crash_point("esx-prune-intent");
        Ok(Self { path })
    }

    /// The prune is finished: removes the journal (durably).
    pub(super) fn done(self) -> Result<()> {
        remove(&self.path)
    }
}

fn remove(path: &Path) -> Result<()> {
    crate::fsio::remove_if_exists(path)
        .and_then(|()| crate::fsio::sync_dir(path.parent().unwrap_or(Path::new("."))))
        .map_err(|e| Error::system(ESX, format!("cannot remove the prune journal {}", path.display()), &e))
}

/// Parses a verified body: owner pid and the references to delete.
fn parse(body: &str) -> Option<(i32, Vec<String>)> {
    let mut lines = body.lines();
    lines.next()?.strip_prefix("server ")?;
    let pid = lines.next()?.strip_prefix("pid ")?.parse().ok()?;
    let refs: Vec<String> = lines.next()?.strip_prefix("delete")?.split_whitespace().map(str::to_owned).collect();
    let ok = |r: &String| !r.is_empty() && r.len() <= 256 && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    (lines.next().is_none() && refs.iter().all(ok)).then_some((pid, refs))
}

fn alive(pid: i32) -> bool {
    let Some(p) = rustix::process::Pid::from_raw(pid) else { return false };
    !matches!(rustix::process::test_kill_process(p), Err(rustix::io::Errno::SRCH))
}

/// Finishes the prunes of owners that are gone, for VMs on this server:
/// deletes each recorded snapshot still present and not current, then
/// removes the journal. Returns the VMs whose prune was finished. Problems
/// are reported on stderr and leave the journal for the next open.
pub(super) fn recover(drv: &EsxDriver) -> Vec<Uuid> {
    let dir = journal_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let server = drv.server_id();
    let mut done = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(SUFFIX) else { continue };
        let Some(vm) = stem.split_once('.').and_then(|(u, _)| Uuid::parse(u)) else { continue };
        let path = dir.join(name);
        let raw = match read_own(&path, INTENT_BYTES, false) {
            Ok(r) => r,
            Err(why) => {
                eprintln!("virsnap: ignoring ESX prune journal {}: {why}", path.display());
                continue;
            }
        };
        let refuse = |why: &str| eprintln!("virsnap: ignoring ESX prune journal {}: {why}", path.display());
        let Ok(text) = String::from_utf8(raw) else {
            refuse("it is not UTF-8 text");
            continue;
        };
        // Another server's (or vCenter host's) journal: not for this connection.
        if text.lines().next() != Some(format!("server {server}").as_str()) {
            continue;
        }
        let key = match read_key(&dir) {
            Ok(k) => k,
            Err(why) => {
                refuse(&format!("no usable signing key {}: {why}", dir.join(KEY_FILE).display()));
                continue;
            }
        };
        let verified = text.strip_suffix('\n').and_then(|t| t.rfind('\n').map(|i| (&text[..=i], &t[i + 1..]))).and_then(|(body, last)| {
            let mac = last.strip_prefix("mac ").and_then(unhex)?;
            hmac::verify(&key, signed_text(&server, &vm, body).as_bytes(), &mac).is_ok().then_some(body)
        });
        let Some(body) = verified else {
            refuse("its signature does not verify (not written by this user's virsnap for this server and VM)");
            continue;
        };
        let Some((pid, refs)) = parse(body) else {
            eprintln!("virsnap: ignoring ESX prune journal {}: malformed", path.display());
            continue;
        };
        if pid != i32::try_from(std::process::id()).unwrap_or(-1) && alive(pid) {
            continue;
        }
        match finish(drv, &vm, &refs).and_then(|()| remove(&path)) {
            Ok(()) => done.push(vm),
            Err(err) => eprintln!("virsnap: cannot finish the ESX prune of {}: {}", path.display(), err.message),
        }
    }
    done
}

/// Deletes the snapshots of `vm` among `refs` that still exist, never the current one.
fn finish(drv: &EsxDriver, vm: &Uuid, refs: &[String]) -> Result<()> {
    let dom: DomainRef = match drv.lookup_domain_by_uuid(vm) {
        Ok(d) => d,
        // The VM is gone, and its snapshots with it.
        Err(e) if e.code == crate::error::ErrorCode::NoDomain => return Ok(()),
        Err(e) => return Err(e),
    };
    for r in refs {
        let t = drv.read_tree(&dom)?;
        let Some(node) = t.nodes.iter().find(|n| &n.moref.value == r) else { continue };
        if t.current.as_ref().is_some_and(|c| c.value == *r) {
            continue;
        }
        let body = format!("{}{}", node.moref.this(), el("removeChildren", "false"));
        if let Err(f) = drv.run_task("RemoveSnapshot_Task", &body, "snapshot-delete")? {
            return Err(Error::internal(ESX, format!("Could not delete snapshot '{}': {}", node.name, f.describe())));
        }
    }
    Ok(())
}

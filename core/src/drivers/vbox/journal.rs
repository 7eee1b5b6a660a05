//! Intent journal for the snapshot operations that take more than one
//! VBoxManage call, so that a process killed between two calls leaves
//! VirtualBox in the state before or after the operation, never between:
//!
//! * create under a placeholder name (a name starting with `-`): `take`,
//!   then `edit --name=`. Killed in between, the snapshot would keep the
//!   placeholder name; the next open renames it (rolls forward).
//! * delete with `CHILDREN` / `CHILDREN_ONLY`: one `snapshot delete` per
//!   snapshot, leaf first. Killed in between, only part of the subtree would
//!   be gone; the next open deletes the rest (rolls forward).
//!
//! `DIR/MACHINE-UUID.PID-N.intent` (DIR as for REDEFINE's journal) holds the
//! owner's pid, then `rename`, the placeholder and the final name, or
//! `delete` and the UUIDs still to delete, in order, then `mac` and an
//! HMAC-SHA256 of the machine's UUID and all that text under the per-user
//! key `DIR/intent.key` (32 random bytes, mode 0600, created once). It is
//! written before the first VBoxManage call and removed after the last;
//! [`recover`] (run when `vbox:///session` is opened) finishes the
//! operation of an owner that is gone.
//!
//! Only an intent this user's virsnap wrote is carried out: a file that
//! is not a regular file owned by this user and writable by no one else,
//! or whose HMAC does not verify (planted, copied from another machine or
//! for another machine, edited), is refused and kept, with a message on
//! stderr naming it: it must not make us delete snapshots. Since 0.2.

use std::fs::OpenOptions;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use ring::hmac;

use crate::drivers::DomainRef;
use crate::error::{Error, Result};
use crate::names::validate_snapshot_name;
use crate::store::crash_point;
use crate::uuid::Uuid;

use super::errors::Ctx;
use super::redefine::{journal_dir, remove_stale_tmp_in, write_atomic};
use super::snapshots::View;
use super::{args, VboxDriver};

/// The journal of one running multi-step operation; removed when dropped.
#[derive(Debug)]
pub struct Intent {
    path: PathBuf,
}

/// What an intent finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Rename the snapshot named `.0` (a placeholder) to `.1`.
    Rename(String, String),
    /// Delete these snapshots, in this order.
    Delete(Vec<Uuid>),
}

/// Largest intent file read back.
const INTENT_BYTES: u64 = 1024 * 1024;

/// The signing key's file name in the journal directory.
const KEY_FILE: &str = "intent.key";
/// Length of the signing key.
const KEY_BYTES: u64 = 32;

/// Why an intent file (or the key) is not accepted as this user's own.
#[derive(Debug, thiserror::Error)]
enum Untrusted {
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
    #[error("it is not a regular file")]
    NotRegular,
    #[error("it is owned by uid {0}, not by this user")]
    Owner(u32),
    #[error("it is writable by group or others (mode {0:o})")]
    Mode(u32),
    #[error("it is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the signing key {0} is missing or not this user's own")]
    NoKey(String),
    #[error("it carries no signature")]
    Unsigned,
    #[error("its signature does not verify (not written by this user's virsnap for this machine)")]
    BadSignature,
    #[error("it is not UTF-8 text")]
    NotText,
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Reads `path` (not through a symlink, bounded by `cap`) when it is a
/// regular file with one link, owned by this user and writable by no one
/// else; `private` also refuses group/other read access.
fn read_own(path: &Path, cap: u64, private: bool) -> std::result::Result<Vec<u8>, Untrusted> {
    let f = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)?;
    let m = f.metadata()?;
    if !m.file_type().is_file() || m.nlink() != 1 {
        return Err(Untrusted::NotRegular);
    }
    if m.uid() != euid() {
        return Err(Untrusted::Owner(m.uid()));
    }
    let forbidden = if private { 0o077 } else { 0o022 };
    if m.mode() & forbidden != 0 {
        return Err(Untrusted::Mode(m.mode() & 0o7777));
    }
    let mut buf = Vec::new();
    f.take(cap.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(Untrusted::TooLarge(cap));
    }
    Ok(buf)
}

/// The key of `dir`, if it exists and is this user's private 32 bytes.
fn read_key(dir: &Path) -> std::result::Result<hmac::Key, Untrusted> {
    let b = read_own(&dir.join(KEY_FILE), KEY_BYTES, true)?;
    if b.len() as u64 != KEY_BYTES {
        return Err(Untrusted::TooLarge(KEY_BYTES));
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &b))
}

/// The key of `dir`, created when there is none: written to a new private
/// temporary file (fsynced) and hard-linked into place, so that a key is
/// never overwritten or seen half-written by a concurrent process.
fn key_for_writing(dir: &Path) -> Result<hmac::Key> {
    let path = dir.join(KEY_FILE);
    let refused = |e: Untrusted| Error::internal(super::V, format!("cannot use the intent signing key {}: {e}", path.display()));
    match read_key(dir) {
        Ok(k) => return Ok(k),
        Err(Untrusted::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(refused(e)),
    }
    let mut bytes = [0u8; KEY_BYTES as usize];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::internal(super::V, "cannot generate the intent signing key: no system randomness"))?;
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // The name of fsio's temporary files: a crash leaves it to remove_stale_tmp_in.
    let tmp = dir.join(format!("{KEY_FILE}.virsnap-tmp-{}-{n}", std::process::id()));
    let sys = |what: &str, e: &std::io::Error| Error::system(super::V, format!("cannot {what} {}", path.display()), e);
    let linked = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, &path)
    })();
    let removed = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        // Another process created it first: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(sys("create", &e)),
    }
    removed.map_err(|e| sys("create (removing the temporary file of)", &e))?;
    crate::fsio::sync_dir(dir).map_err(|e| sys("create", &e))?;
    read_key(dir).map_err(refused)
}

/// What is signed: a version tag, the machine and the file's text.
fn signed_text(machine: &Uuid, body: &str) -> String {
    format!("virsnap vbox intent 1\n{machine}\n{body}")
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

/// The text of an intent file for `machine`, signed.
fn seal(key: &hmac::Key, machine: &Uuid, body: &str) -> String {
    let tag = hmac::sign(key, signed_text(machine, body).as_bytes());
    format!("{body}mac {}\n", hex(tag.as_ref()))
}

/// The signed text of an intent file read back (pid line and plan), when
/// its last line is a `mac` that verifies for `machine` under `key`.
fn unseal<'a>(key: &hmac::Key, machine: &Uuid, text: &'a str) -> std::result::Result<&'a str, Untrusted> {
    let trimmed = text.strip_suffix('\n').ok_or(Untrusted::Unsigned)?;
    let (body, last) = match trimmed.rfind('\n') {
        Some(i) => (&text[..=i], &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    let mac = last.strip_prefix("mac ").and_then(unhex).ok_or(Untrusted::Unsigned)?;
    hmac::verify(key, signed_text(machine, body).as_bytes(), &mac).map_err(|_| Untrusted::BadSignature)?;
    Ok(body)
}

/// Reads the intent at `path` for `machine` if this user's virsnap wrote it.
fn read_trusted(dir: &Path, path: &Path, machine: &Uuid) -> std::result::Result<String, Untrusted> {
    let raw = read_own(path, INTENT_BYTES, false)?;
    let text = String::from_utf8(raw).map_err(|_| Untrusted::NotText)?;
    let key = read_key(dir).map_err(|_| Untrusted::NoKey(dir.join(KEY_FILE).display().to_string()))?;
    unseal(&key, machine, &text).map(str::to_owned)
}

/// One file per operation: threads of one process may run several at once.
fn path_for(machine: &Uuid) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    journal_dir().join(format!("{machine}.{}-{n}.intent", std::process::id()))
}

impl Plan {
    fn to_text(&self) -> String {
        match self {
            Self::Rename(from, to) => format!("rename\n{from}\n{to}\n"),
            Self::Delete(uuids) => {
                let mut t = String::from("delete\n");
                for u in uuids {
                    t.push_str(&format!("{u}\n"));
                }
                t
            }
        }
    }

    /// Reads a plan back, checked as every name read from disk: a rename
    /// is from a placeholder (`virsnap-UUID`) to a valid snapshot name
    /// with nothing after it; a delete lists UUIDs only.
    fn parse<'a>(mut lines: impl Iterator<Item = &'a str>) -> Option<Self> {
        match lines.next()? {
            "rename" => {
                let (from, to) = (lines.next()?, lines.next()?);
                let placeholder = from.strip_prefix("virsnap-").and_then(Uuid::parse).is_some();
                (placeholder && validate_snapshot_name(to).is_ok() && lines.next().is_none())
                    .then(|| Self::Rename(from.to_owned(), to.to_owned()))
            }
            "delete" => lines.map(Uuid::parse).collect::<Option<Vec<_>>>().map(Self::Delete),
            _ => None,
        }
    }
}

impl Intent {
    /// Records `plan` for `machine` (durably) before its first step.
    pub fn begin(machine: &Uuid, plan: &Plan) -> Result<Self> {
        let dir = journal_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| crate::error::Error::system(super::V, format!("cannot create {}", dir.display()), &e))?;
        let key = key_for_writing(&dir)?;
        let path = path_for(machine);
        write_atomic(&path, &seal(&key, machine, &format!("{}\n{}", std::process::id(), plan.to_text())))?;
        crash_point("vbox-after-intent");
        Ok(Self { path })
    }

    /// The operation is complete: forgets it.
    pub fn end(self) {
        crash_point("vbox-before-intent-removal");
    }
}

/// Forgets the operation also when it returns an error: the caller has
/// been told, and the next open must not finish what VirtualBox refused.
/// Only a process that dies leaves the file.
impl Drop for Intent {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Carries out `plan` on `machine` from whatever point it had reached.
fn finish(drv: &VboxDriver, machine: Uuid, plan: &Plan) -> Result<()> {
    let dom = DomainRef { name: machine.to_string(), uuid: machine, id: -1 };
    let vm = machine.to_string();
    let view = View::load(drv, &dom, false)?;
    match plan {
        Plan::Rename(from, to) => {
            if let Some(i) = view.listing.find_name(from) {
                drv.run_ok(&args(&["snapshot", &vm, "edit", &view.uuid(i).to_string(), &format!("--name={to}")]), Ctx::Snapshot(&dom, to))?;
            }
        }
        Plan::Delete(uuids) => {
            for u in uuids.iter().filter(|u| view.listing.find_uuid(u).is_some()) {
                drv.run_op(&args(&["snapshot", &vm, "delete", &u.to_string()]), Ctx::Snapshot(&dom, &u.to_string()), "snapshot-delete")?;
            }
        }
    }
    Ok(())
}

/// Finishes every operation whose process died before it was done
/// (called when `vbox:///session` is opened). An intent is dropped once
/// carried out, or when its machine is no longer registered; one that
/// fails stays for the next open. Returns the machines dealt with.
pub fn recover(drv: &VboxDriver) -> Vec<Uuid> {
    let mut done = Vec::new();
    let dir = journal_dir();
    // Half-written journal files of processes that are gone.
    remove_stale_tmp_in(&dir, "");
    let Ok(entries) = std::fs::read_dir(&dir) else { return done };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("intent") {
            continue;
        }
        let Some(machine) = p.file_name().and_then(|s| s.to_str()).and_then(|s| s.split('.').next()).and_then(Uuid::parse) else {
            continue;
        };
        let text = match read_trusted(&dir, &p, &machine) {
            Ok(t) => t,
            Err(Untrusted::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                // Never act on what this user's virsnap did not write; kept
                // for whoever looks into it (the message names it).
                eprintln!("virsnap: vbox: refusing the intent journal '{}': {e}; nothing done for machine {machine} (file kept)", p.display());
                continue;
            }
        };
        let mut lines = text.lines();
        // An operation still running (this process or another) owns it.
        if let Some(pid) = lines.next().and_then(|l| l.trim().parse::<u32>().ok()) {
            if pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
        }
        // None: VirtualBox could not be asked; try again at the next open.
        let registered = match drv.run(&args(&["list", "vms"])) {
            Ok(o) if o.code == 0 => Some(super::parse::parse_vm_list(&o.stdout).iter().any(|(_, u)| *u == machine)),
            _ => None,
        };
        let finished = match (Plan::parse(lines), registered) {
            (_, None) => false,
            (Some(plan), Some(true)) => finish(drv, machine, &plan).is_ok(),
            (None, Some(true)) => {
                eprintln!("virsnap: vbox: intent journal '{}' is malformed; refusing to act on it (removed)", p.display());
                true
            }
            // The machine is gone: nothing left to finish.
            (_, Some(false)) => true,
        };
        if finished {
            let _ = std::fs::remove_file(&p);
            done.push(machine);
        }
    }
    done
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plans_read_back() {
        let u = Uuid::generate();
        for plan in [Plan::Rename(format!("virsnap-{u}"), "-a b".into()), Plan::Delete(vec![u, Uuid::generate()]), Plan::Delete(vec![])] {
            let t = plan.to_text();
            assert_eq!(Plan::parse(t.lines()), Some(plan));
        }
        assert_eq!(Plan::parse("bogus\n".lines()), None);
        assert_eq!(Plan::parse("delete\nnot-a-uuid\n".lines()), None);
        // Names are checked when read back: only a placeholder is renamed,
        // only to a valid name.
        let ph = format!("virsnap-{u}");
        assert_eq!(Plan::parse(format!("rename\n{ph}\n-a\n").lines()), Some(Plan::Rename(ph.clone(), "-a".into())));
        for bad in ["rename\nreal-snapshot\n-a\n".to_owned(), format!("rename\n{ph}\na/b\n"), format!("rename\n{ph}\n-a\nextra\n"), format!("rename\n{ph}\n")] {
            assert_eq!(Plan::parse(bad.lines()), None, "{bad:?}");
        }
    }

    #[test]
    fn only_our_signature_opens_an_intent() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &[7u8; 32]);
        let other = hmac::Key::new(hmac::HMAC_SHA256, &[8u8; 32]);
        let (m, n) = (Uuid::generate(), Uuid::generate());
        let body = format!("12\n{}", Plan::Delete(vec![Uuid::generate()]).to_text());
        let sealed = seal(&key, &m, &body);
        assert_eq!(unseal(&key, &m, &sealed).unwrap(), body);
        // Another key, another machine, an edit, no signature: refused.
        assert!(matches!(unseal(&other, &m, &sealed), Err(Untrusted::BadSignature)));
        assert!(matches!(unseal(&key, &n, &sealed), Err(Untrusted::BadSignature)));
        assert!(matches!(unseal(&key, &m, &sealed.replacen("12", "13", 1)), Err(Untrusted::BadSignature)));
        assert!(matches!(unseal(&key, &m, &body), Err(Untrusted::Unsigned)));
        assert!(matches!(unseal(&key, &m, ""), Err(Untrusted::Unsigned)));
    }
}

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
//! `delete` and the UUIDs still to delete, in order. It is written before
//! the first VBoxManage call and removed after the last; [`recover`] (run
//! when `vbox:///session` is opened) finishes the operation of an owner
//! that is gone.

use std::path::PathBuf;

use crate::drivers::DomainRef;
use crate::error::Result;
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
        let path = path_for(machine);
        write_atomic(&path, &format!("{}\n{}", std::process::id(), plan.to_text()))?;
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
        let Ok(text) = crate::fsio::read_regular_string(&p, INTENT_BYTES) else { continue };
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
}

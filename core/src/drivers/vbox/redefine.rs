//! `VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE` on VirtualBox.
//!
//! * An existing snapshot (by name): its metadata is altered through
//!   VBoxManage (`snapshot edit UUID --description=…`). Moving it to another
//!   parent, or making it current (VirtualBox does that only by restoring),
//!   is refused.
//! * A new snapshot: written into the machine's `.vbox` file while the
//!   machine is UNREGISTERED (libvirt's procedure: `unregistervm`, rewrite,
//!   `registervm`; VBoxSVC owns the file while the machine is registered).
//!   The snapshot carries the machine's current hardware without hard-disk
//!   attachments: VirtualBox has no disk state for it, so deleting it never
//!   merges images (verified on 7.2), and reverting to it leaves the machine
//!   without disks until another snapshot is restored. The first snapshot of
//!   a machine becomes its current snapshot (VirtualBox requires one). If VirtualBox refuses
//!   the rewritten file, the original is put back and registered again.
//!   A journal (`$VIRSNAP_VBOX_STATE_DIR`, else `$XDG_STATE_HOME/virsnap/vbox`,
//!   else `~/.local/state/virsnap/vbox`) names the machine file while it is
//!   unregistered, with VirtualBox's original text beside it; the next
//!   `vbox:///session` open registers any machine a crash left unregistered
//!   ([`recover`]).

use crate::drivers::DomainRef;
use crate::error::{Error, ErrorDomain, Result};
use crate::flags::create;
use crate::model::SnapshotState;
use crate::names::validate_snapshot_name;
use crate::store::crash_point;
use crate::uuid::Uuid;
use crate::xml::{parse_snapshot, ParseFlags};

use super::errors::Ctx;
use super::settings::{NewSnapshot, VboxFile};
use super::snapshots::View;
use super::{args, host_path, VboxDriver};

const V: ErrorDomain = ErrorDomain::Vbox;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Redefines a snapshot; returns its name.
pub fn redefine(drv: &VboxDriver, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
    let def = parse_snapshot(xml, ParseFlags { redefine: true, internal: false })?;
    let name = def.name.clone().unwrap_or_default();
    validate_snapshot_name(&name)?;
    if let Some(u) = &def.domain_uuid {
        if Uuid::parse(u) != Some(dom.uuid) {
            return Err(Error::invalid_arg(
                ErrorDomain::DomainSnapshot,
                format!("definition for snapshot {name} must use uuid {}", dom.uuid),
            ));
        }
    }
    if def.is_external() {
        return Err(Error::config_unsupported(V, "VirtualBox snapshots are internal; external memory or disks cannot be redefined"));
    }
    let v = View::load(drv, dom, false)?;
    let vm = dom.uuid.to_string();
    if let Some(i) = v.listing.find_name(&name) {
        let node = &v.listing.nodes[i];
        let actual_parent = node.parent.map(|p| v.name(p).to_owned());
        if def.parent.is_some() && def.parent != actual_parent {
            return Err(Error::config_unsupported(V, format!("cannot move VirtualBox snapshot '{name}' to another parent")));
        }
        if flags & create::CURRENT != 0 && v.listing.current != Some(i) {
            return Err(Error::config_unsupported(
                V,
                format!("VirtualBox makes snapshot '{name}' current only by reverting to it"),
            ));
        }
        let want = def.description.clone().unwrap_or_default();
        if node.description.clone().unwrap_or_default() != want {
            crash_point("vbox-redefine-before-edit");
            drv.run_ok(
                &args(&["snapshot", &vm, "edit", &node.uuid.to_string(), &format!("--description={want}")]),
                Ctx::Snapshot(dom, &name),
            )?;
            crash_point("vbox-redefine-after-edit");
        }
        return Ok(name);
    }
    // The first snapshot of a machine is necessarily current (VirtualBox
    // requires one once there are snapshots); any other cannot be made
    // current without disk state.
    if flags & create::CURRENT != 0 && !v.listing.nodes.is_empty() {
        return Err(Error::config_unsupported(
            V,
            "a redefined VirtualBox snapshot has no disk state and cannot be made current",
        ));
    }
    if def.state.is_some_and(|s| s != SnapshotState::Shutoff && s != SnapshotState::DiskSnapshot) {
        return Err(Error::config_unsupported(
            V,
            format!("snapshot '{name}' would need a saved state, which VirtualBox cannot take from XML"),
        ));
    }
    let parent = match &def.parent {
        Some(p) => Some(v.listing.nodes[v.listing.find_name(p).ok_or_else(|| {
            Error::invalid_arg(ErrorDomain::Domain, format!("parent {p} for moment {name} not found"))
        })?]
        .uuid),
        None => None,
    };
    if drv.is_active(dom)? {
        return Err(Error::op_invalid(V, "cannot redefine snapshots of a running domain"));
    }
    let info = drv.vminfo(dom)?;
    let vpath = info.cfg_file.ok_or_else(|| Error::internal(V, "VirtualBox did not say where the machine's .vbox file is"))?;
    let hpath = host_path(drv.runner.file_root().as_deref(), &vpath);
    let snap = NewSnapshot {
        uuid: Uuid::generate(),
        name: name.clone(),
        description: def.description.clone(),
        time: if def.creation_time != 0 { def.creation_time } else { now() },
    };

    let journal = Journal::new(&dom.uuid)?;
    journal.begin(&vpath, &hpath)?;
    crash_point("vbox-redefine-after-journal");
    if let Err(e) = drv.run_ok(&args(&["unregistervm", &vm]), Ctx::Domain(dom)) {
        journal.end();
        return Err(e);
    }
    crash_point("vbox-redefine-after-unregister");
    let register = || drv.run_ok(&args(&["registervm", &vpath]), Ctx::Domain(dom)).map(|_| ());
    let original = match crate::fsio::read_regular_string(&hpath, MACHINE_FILE_BYTES) {
        Ok(t) => t,
        Err(e) => {
            let err = e.to_error(V, &hpath);
            register()?;
            journal.end();
            return Err(err);
        }
    };
    journal.keep_original(&original)?;
    crash_point("vbox-redefine-after-original-kept");
    let rewritten = VboxFile::parse(&original).and_then(|mut f| {
        f.add_snapshot(parent.as_ref(), &snap)?;
        f.set_last_state_change(now())?;
        Ok(f.to_text())
    });
    let outcome = rewritten
        .and_then(|text| write_atomic(&hpath, &text))
        .and_then(|()| {
            crash_point("vbox-redefine-after-write");
            register()
        })
        .map(|()| crash_point("vbox-redefine-after-register"));
    if let Err(e) = outcome {
        // Put VirtualBox's own file back and register the machine again.
        let _ = write_atomic(&hpath, &original);
        if register().is_ok() {
            journal.end();
        }
        return Err(e);
    }
    journal.end();
    Ok(name)
}

/// Where REDEFINE records machines it has unregistered.
pub(super) fn journal_dir() -> std::path::PathBuf {
    if let Some(d) = std::env::var_os("VIRSNAP_VBOX_STATE_DIR").filter(|d| !d.is_empty()) {
        return d.into();
    }
    let base = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()).map_or_else(
        || std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".local/state"),
        std::path::PathBuf::from,
    );
    base.join("virsnap/vbox")
}

/// `DIR/UUID.pending` (VirtualBox's path of the `.vbox`, the path seen here,
/// the owner's pid) and `DIR/UUID.orig` (VirtualBox's text before the rewrite).
struct Journal {
    pending: std::path::PathBuf,
    orig: std::path::PathBuf,
}

impl Journal {
    fn new(uuid: &Uuid) -> Result<Self> {
        let dir = journal_dir();
        std::fs::create_dir_all(&dir).map_err(|e| Error::system(V, format!("cannot create {}", dir.display()), &e))?;
        Ok(Self { pending: dir.join(format!("{uuid}.pending")), orig: dir.join(format!("{uuid}.orig")) })
    }

    fn begin(&self, vpath: &str, hpath: &std::path::Path) -> Result<()> {
        write_atomic(&self.pending, &format!("{vpath}\n{}\n{}\n", hpath.display(), std::process::id()))
    }

    fn keep_original(&self, text: &str) -> Result<()> {
        write_atomic(&self.orig, text)
    }

    fn end(&self) {
        crash_point("vbox-redefine-before-journal-removal");
        let _ = std::fs::remove_file(&self.orig);
        let _ = std::fs::remove_file(&self.pending);
    }
}

/// Registers again every machine a crashed REDEFINE left unregistered
/// (called when `vbox:///session` is opened). The rewritten file is tried
/// first, then VirtualBox's original text. Returns the machines registered.
pub fn recover(drv: &VboxDriver) -> Vec<String> {
    let mut done = Vec::new();
    let Ok(entries) = std::fs::read_dir(journal_dir()) else { return done };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("pending") {
            continue;
        }
        let Ok(text) = crate::fsio::read_regular_string(&p, 64 * 1024) else { continue };
        let mut lines = text.lines();
        let (Some(vpath), Some(_)) = (lines.next(), lines.next()) else { continue };
        // Checked as read back: the machine file is found again from
        // VirtualBox's path (the host path written beside it is not
        // trusted), and only a file holding this machine is replaced.
        let uuid = match check_pending(&p, vpath) {
            Ok(u) => u,
            Err(why) => {
                eprintln!("virsnap: vbox: redefine journal '{}' {why}; refusing to act on it", p.display());
                continue;
            }
        };
        let hpath_buf = host_path(drv.runner.file_root().as_deref(), vpath);
        let hpath = hpath_buf.as_path();
        // A REDEFINE still running (this process or another) owns it.
        if let Some(pid) = lines.next().and_then(|l| l.trim().parse::<u32>().ok()) {
            if pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
        }
        let register = || drv.run(&args(&["registervm", vpath])).is_ok_and(|o| o.code == 0);
        let registered =
            drv.run(&args(&["list", "vms"])).is_ok_and(|o| super::parse::parse_vm_list(&o.stdout).iter().any(|(_, x)| *x == uuid));
        let orig = p.with_extension("orig");
        let ok = registered
            || register()
            || (machine_in(hpath) == Some(uuid)
                && crate::fsio::read_regular_string(&orig, MACHINE_FILE_BYTES)
                    .is_ok_and(|t| machine_of(&t) == Some(uuid) && write_atomic(hpath, &t).is_ok())
                && register());
        if ok {
            remove_stale_tmp(hpath);
            let _ = std::fs::remove_file(&orig);
            let _ = std::fs::remove_file(&p);
            done.push(vpath.to_owned());
        }
    }
    done
}

/// Largest `.vbox` file read.
pub(super) const MACHINE_FILE_BYTES: u64 = crate::xml::MAX_DOCUMENT_BYTES as u64;

/// The machine UUID of `.vbox` text.
fn machine_of(text: &str) -> Option<Uuid> {
    super::settings::parse_machine_file(text).ok().and_then(|m| m.uuid)
}

/// The machine UUID of the `.vbox` file at `path` (regular, bounded).
fn machine_in(path: &std::path::Path) -> Option<Uuid> {
    crate::fsio::read_regular_string(path, MACHINE_FILE_BYTES).ok().as_deref().and_then(machine_of)
}

/// Checks a REDEFINE journal read back: its name is `UUID.pending` and the
/// machine path VirtualBox gave is an absolute, normalised `.vbox` path.
/// Returns the machine UUID, or why the journal is refused.
fn check_pending(journal: &std::path::Path, vpath: &str) -> std::result::Result<Uuid, &'static str> {
    let uuid = journal
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(super::parse::parse_vbox_uuid)
        .ok_or("is not named after a machine UUID")?;
    let normal = vpath.starts_with('/') && vpath.split('/').skip(1).all(|c| !c.is_empty() && c != "." && c != "..");
    if !normal || !vpath.ends_with(".vbox") || vpath.chars().any(char::is_control) {
        return Err("names no absolute, normalised .vbox path");
    }
    Ok(uuid)
}

/// Removes the temporary files [`write_atomic`] left for `path` in
/// processes that are gone.
pub(super) fn remove_stale_tmp(path: &std::path::Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else { return };
    remove_stale_tmp_in(dir, name);
}

/// Removes from `dir` the temporary files of [`write_atomic`] whose names
/// start with `prefix` and whose process is gone.
pub(super) fn remove_stale_tmp_in(dir: &std::path::Path, prefix: &str) {
    crate::fsio::remove_stale_temps(dir, prefix);
}

/// Replaces `path` by `text` durably ([`crate::fsio::replace`]: new
/// temporary file, fsync, rename, fsync of the directory).
pub(super) fn write_atomic(path: &std::path::Path, text: &str) -> Result<()> {
    crash_point("vbox-write-before-rename");
    crate::fsio::replace(path, text.as_bytes(), crate::fsio::Durability::Synced)
        .map_err(|e| Error::system(V, format!("cannot write {}", path.display()), &e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pending_journals_are_checked_when_read_back() {
        let u = Uuid::generate();
        let j = std::path::PathBuf::from(format!("/state/{u}.pending"));
        assert_eq!(check_pending(&j, "/home/u/VirtualBox VMs/vm/vm.vbox"), Ok(u));
        for bad in ["relative/vm.vbox", "/home/u/../../etc/passwd.vbox", "/etc/passwd", "/a/./b.vbox", "/a/b\n.vbox"] {
            assert!(check_pending(&j, bad).is_err(), "{bad:?}");
        }
        assert!(check_pending(std::path::Path::new("/state/not-a-uuid.pending"), "/a/vm.vbox").is_err());
        assert_eq!(machine_of("<VirtualBox><Machine uuid='{00000000-0000-0000-0000-000000000000}'/></VirtualBox>"), Uuid::parse("00000000-0000-0000-0000-000000000000"));
        assert_eq!(machine_of("root:x:0:0::/root:/bin/sh"), None);
    }
}

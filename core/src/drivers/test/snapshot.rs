//! Test-driver snapshot operations (libvirt's `testDomainSnapshot*`), with
//! virsnap's deliberate differences (DESIGN §4): name rules, revert of a
//! shut-off snapshot with RUNNING/PAUSED starts the domain, seed `<domain><uuid>`
//! checked on create.

use crate::drivers::align::{align_disks, domain_disks};
use crate::drivers::check_flags;
use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::flags::{create, delete, revert};
use crate::model::{reason, DomainState, Location, SnapshotDef, SnapshotState};
use crate::names::validate_snapshot_name;
use crate::uuid::Uuid;
use crate::xml::{parse_snapshot, ParseFlags};

use super::domain::TestDomain;
use super::validate::validate_snapshot_schema;

const T: ErrorDomain = ErrorDomain::Test;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Checks a seed/old-style `<domain><uuid>` against the domain.
fn check_domain_uuid(def: &SnapshotDef, dom: &TestDomain) -> Result<()> {
    if let Some(u) = &def.domain_uuid {
        if Uuid::parse(u) != Some(dom.uuid) {
            return Err(Error::invalid_arg(
                ErrorDomain::DomainSnapshot,
                format!(
                    "definition for snapshot {} must use uuid {}",
                    def.name.as_deref().unwrap_or(""),
                    dom.uuid
                ),
            ));
        }
    }
    Ok(())
}

/// `testDomainSnapshotCreateXML`; returns the new snapshot's name.
/// `next_id` hands out domain ids (HALT never needs one).
pub fn create_xml(dom: &mut TestDomain, xml: &str, flags: u32) -> Result<String> {
    check_before_parse(dom, flags)?;
    let redefine = flags & create::REDEFINE != 0;
    let mut def = parse_snapshot(xml, ParseFlags { redefine, internal: false })?;
    if redefine {
        super::domain::normalize_snapshot_domains(&mut def)?;
    }
    if flags & create::VALIDATE != 0 {
        validate_snapshot_schema(xml)?;
    }
    if let Some(n) = def.name.as_deref() {
        validate_snapshot_name(n)?;
    }
    check_domain_uuid(&def, dom)?;
    if redefine {
        return redefine_snapshot(dom, def, flags);
    }

    let active = dom.state.is_active();
    def.state = Some(SnapshotState::from_domain_state(dom.state));
    def.creation_time = now();
    if def.name.is_none() {
        def.name = Some(def.creation_time.to_string());
    }
    def.domain_uuid = None;
    def.domain = Some(dom.def.clone());
    def.inactive_domain = None;
    def.cookie = None;
    // The test driver decides the memory location itself (an explicit 'no'
    // on a running domain still gives 'internal'), except for external memory.
    if def.memory != Location::External {
        def.memory = if active { Location::Internal } else { Location::No };
    }
    if def.disks.iter().any(|d| d.snapshot == Location::Manual) {
        return Err(Error::new(
            ErrorCode::OperationUnsupported,
            T,
            "'manual' snapshot mode is not supported by the test driver",
        ));
    }
    let default = if def.memory == Location::External { Location::External } else { Location::Internal };
    align_disks(&mut def, &domain_disks(&dom.def), default, ErrorDomain::DomainSnapshot)?;
    def.parent = dom.snapshots.current().map(str::to_owned);
    let name = def.name.clone().unwrap_or_default();
    dom.snapshots.insert(def, true)?;
    dom.snapshots.set_current(Some(&name));
    if flags & create::HALT != 0 && active {
        dom.state = DomainState::Shutoff;
        dom.reason = reason::SHUTOFF_FROM_SNAPSHOT;
        dom.id = -1;
    }
    Ok(name)
}

fn redefine_snapshot(dom: &mut TestDomain, mut def: SnapshotDef, flags: u32) -> Result<String> {
    let name = def.name.clone().unwrap_or_default();
    dom.snapshots.check_parent(&name, def.parent.as_deref())?;
    if let Some(old) = dom.snapshots.get(&name) {
        let (old_state, new_state) = (old.state.unwrap_or(SnapshotState::Shutoff), def.state.unwrap_or(SnapshotState::Shutoff));
        if old_state.is_online() != new_state.is_online() {
            return Err(Error::invalid_arg(
                ErrorDomain::DomainSnapshot,
                format!("cannot change between online and offline snapshot state in snapshot {name}"),
            ));
        }
        if (old_state == SnapshotState::DiskSnapshot) != (new_state == SnapshotState::DiskSnapshot) {
            return Err(Error::invalid_arg(
                ErrorDomain::DomainSnapshot,
                format!("cannot change between disk only and full system in snapshot {name}"),
            ));
        }
        if def.domain.is_none() {
            def.domain = old.domain.clone();
        }
    }
    let Some(snap_dom) = def.domain.clone() else {
        return Err(Error::internal(ErrorDomain::DomainSnapshot, "missing domain in snapshot"));
    };
    def.domain_uuid = None;
    let default = if def.memory == Location::External || def.state == Some(SnapshotState::DiskSnapshot) || def.is_external() {
        Location::External
    } else {
        Location::Internal
    };
    align_disks(&mut def, &domain_disks(&snap_dom), default, ErrorDomain::DomainSnapshot)?;
    if def.memory == Location::Default {
        def.memory = if def.state.is_some_and(SnapshotState::is_online) { Location::Internal } else { Location::No };
    }
    if dom.snapshots.contains(&name) {
        dom.snapshots.replace(def)?;
    } else {
        dom.snapshots.insert(def, true)?;
    }
    if flags & create::CURRENT != 0 {
        dom.snapshots.set_current(Some(&name));
    }
    Ok(name)
}

/// The definition of `name`, or libvirt's not-found error.
pub fn get<'a>(dom: &'a TestDomain, name: &str) -> Result<&'a SnapshotDef> {
    dom.snapshots.get(name).ok_or_else(|| Error::no_snapshot(T, name))
}

/// What `testDomainSnapshotCreateXML` checks before it parses the XML:
/// flags, no checkpoint, no halt of a transient domain.
pub fn check_before_parse(dom: &TestDomain, flags: u32) -> Result<()> {
    check_flags(
        flags,
        create::REDEFINE | create::CURRENT | create::HALT | create::QUIESCE | create::ATOMIC | create::LIVE | create::VALIDATE,
        T,
        "testDomainSnapshotCreateXML",
    )?;
    if !dom.checkpoints.is_empty() {
        return Err(Error::new(ErrorCode::OperationUnsupported, T, "cannot create snapshot while checkpoint exists"));
    }
    if !dom.persistent && flags & create::HALT != 0 {
        return Err(Error::op_invalid(T, "cannot halt after transient domain snapshot"));
    }
    Ok(())
}

/// `testDomainRevertToSnapshot`. `next_id` yields a fresh domain id.
pub fn revert_to(dom: &mut TestDomain, name: &str, flags: u32, next_id: &mut dyn FnMut() -> i32) -> Result<()> {
    check_flags(flags, revert::RUNNING | revert::PAUSED | revert::FORCE, T, "testDomainRevertToSnapshot")?;
    let def = get(dom, name)?;
    let state = def.state.unwrap_or(SnapshotState::Shutoff);
    let online = state.is_online();
    if !dom.persistent && !online && flags & (revert::RUNNING | revert::PAUSED) == 0 {
        return Err(Error::op_invalid(
            T,
            "transient domain needs to request run or pause to revert to inactive snapshot",
        ));
    }
    let Some(snap_dom) = def.domain.clone() else {
        return Err(Error::new(
            ErrorCode::SnapshotRevertRisky,
            T,
            format!("snapshot '{name}' lacks domain '{}' rollback info", dom.name),
        ));
    };
    let want = if flags & revert::RUNNING != 0 {
        Some(DomainState::Running)
    } else if flags & revert::PAUSED != 0 {
        Some(DomainState::Paused)
    } else if online {
        Some(if matches!(state, SnapshotState::Paused | SnapshotState::PmSuspended) {
            DomainState::Paused
        } else {
            DomainState::Running
        })
    } else {
        None
    };
    // Keep the domain's identity whatever the snapshot recorded.
    let mut new_def = snap_dom;
    let uuid = dom.uuid.to_string();
    // Copy on write only when the identity differs from what was recorded.
    if new_def.child_text("name").as_deref() != Some(dom.name.as_str()) {
        std::sync::Arc::make_mut(&mut new_def).set_child_text("name", dom.name.clone());
    }
    if new_def.child_text("uuid").as_deref() != Some(uuid.as_str()) {
        std::sync::Arc::make_mut(&mut new_def).set_child_text("uuid", uuid);
    }
    dom.def = new_def;
    match want {
        Some(target) => {
            // Running or paused before: libvirt stops and restarts (new id).
            dom.id = next_id();
            dom.state = target;
            dom.reason = if target == DomainState::Running { reason::RUNNING_FROM_SNAPSHOT } else { reason::PAUSED_FROM_SNAPSHOT };
        }
        None if !dom.state.is_active() => {
            // Inactive to inactive: libvirt leaves state and reason alone.
        }
        None => {
            dom.state = DomainState::Shutoff;
            dom.reason = reason::SHUTOFF_FROM_SNAPSHOT;
            dom.id = -1;
        }
    }
    dom.snapshots.set_current(Some(name));
    Ok(())
}

/// `testDomainSnapshotDelete`.
pub fn delete(dom: &mut TestDomain, name: &str, flags: u32) -> Result<()> {
    check_flags(flags, delete::CHILDREN | delete::CHILDREN_ONLY, T, "testDomainSnapshotDelete")?;
    get(dom, name)?;
    if flags & delete::CHILDREN != 0 && dom.snapshots.is_sole_root(name) {
        // The whole tree: nothing to report back, nothing to unhash.
        dom.snapshots.clear();
    } else if flags & delete::CHILDREN != 0 {
        dom.snapshots.remove_subtree(name, false)?;
    } else if flags & delete::CHILDREN_ONLY != 0 {
        dom.snapshots.remove_subtree(name, true)?;
    } else {
        dom.snapshots.remove(name)?;
    }
    Ok(())
}

/// virsnap's rename: metadata only.
pub fn rename(dom: &mut TestDomain, name: &str, new_name: &str) -> Result<()> {
    get(dom, name)?;
    if dom.snapshots.contains(new_name) && name != new_name {
        return Err(Error::op_invalid(T, format!("snapshot '{new_name}' already exists")));
    }
    dom.snapshots.rename(name, new_name)
}

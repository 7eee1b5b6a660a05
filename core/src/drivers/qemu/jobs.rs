//! Internal snapshots of a running or paused guest through QEMU's QMP jobs
//! (`snapshot-save` / `snapshot-load` / `snapshot-delete`, QEMU ≥ 6.0),
//! which name the vmstate disk and the disks explicitly and report
//! progress; the progress is passed to the driver's progress callback
//! (`Driver::set_progress`) as it advances. When QEMU lacks the commands
//! (or `VIRSNAP_QEMU_HMP_SNAPSHOTS=1` asks), the HMP `savevm` / `loadvm` /
//! `delvm` commands are used instead, as libvirt 9.0 does.
//!
//! The vmstate goes to the first writable qcow2 disk (in definition order),
//! the disk set is every writable qcow2 disk: the same disks HMP would use.

use std::time::{Duration, Instant};

use super::domxml::DomainDef;
use super::json::{json, Json};
use super::qmp::Qmp;
use super::{QemuDriver, DOM};
use crate::error::{Error, Result};

/// The three internal-snapshot operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VmOp {
    Save,
    Load,
    Delete,
}

impl VmOp {
    fn qmp(self) -> &'static str {
        match self {
            Self::Save => "snapshot-save",
            Self::Load => "snapshot-load",
            Self::Delete => "snapshot-delete",
        }
    }
    fn hmp(self) -> &'static str {
        match self {
            Self::Save => "savevm",
            Self::Load => "loadvm",
            Self::Delete => "delvm",
        }
    }
    fn what(self) -> &'static str {
        match self {
            Self::Save => "create snapshot",
            Self::Load => "revert snapshot",
            Self::Delete => "delete snapshot",
        }
    }
}

const TIMEOUT: Duration = Duration::from_secs(600);
/// Longest wait for a job's status change before its progress is read
/// again. Completion ends the wait at once (QEMU's `JOB_STATUS_CHANGE`
/// event), so this bounds only how stale the progress may get.
const TICK: Duration = Duration::from_millis(100);

fn hmp_only() -> bool {
    std::env::var("VIRSNAP_QEMU_HMP_SNAPSHOTS").is_ok_and(|v| v == "1")
}

/// Format node names of the writable qcow2 disks of `def`, in order.
fn nodes(q: &mut Qmp, def: &DomainDef) -> Result<Vec<String>> {
    let blocks = q.execute("query-block", None)?;
    let mut out = Vec::new();
    for d in def.disks.iter().filter(|d| d.format == "qcow2" && !d.readonly && d.snapshot != crate::model::Location::No) {
        let dev = format!("drive-{}", d.target);
        let node = blocks
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b.get("device").and_then(Json::as_str) == Some(dev.as_str()))
            .and_then(|b| b.get("inserted"))
            .and_then(|i| i.get("node-name"))
            .and_then(Json::as_str)
            .ok_or_else(|| Error::op_failed(DOM, format!("QEMU has no node for disk '{}'", d.target)))?;
        out.push(node.to_owned());
    }
    if out.is_empty() {
        return Err(Error::op_failed(DOM, "no writable qcow2 disk to hold the snapshot"));
    }
    Ok(out)
}

impl QemuDriver {
    /// Runs `op` for `tag` on the running guest `def` over `q`: as a QMP
    /// job with progress reported under `progress_op`, or through HMP when
    /// the job commands are unavailable.
    pub(super) fn vm_snapshot(&self, q: &mut Qmp, def: &DomainDef, op: VmOp, tag: &str, progress_op: &str) -> Result<()> {
        if !hmp_only() {
            match self.vm_snapshot_job(q, def, op, tag, progress_op) {
                Ok(()) => return Ok(()),
                Err(e) if e.message.contains("has not been found") => {}
                Err(e) => return Err(e),
            }
        }
        let out = q.hmp(&format!("{} {}", op.hmp(), super::snapshots::hmp_quote(tag)), TIMEOUT)?;
        super::snapshots::hmp_check(op.what(), &out)
    }

    /// Waits until no snapshot job of virsnap (of this or a process that
    /// died) is still running in QEMU, and dismisses the finished ones, so
    /// that the images show their final snapshot list.
    pub(super) fn settle_jobs(&self, q: &mut Qmp) -> Result<()> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let jobs = match q.execute("query-jobs", None) {
                Ok(j) => j,
                // QEMU without the job commands: HMP snapshots are synchronous.
                Err(e) if e.message.contains("has not been found") => return Ok(()),
                Err(e) => return Err(e),
            };
            let mut busy = false;
            for j in jobs.as_array().map(Vec::as_slice).unwrap_or(&[]) {
                let Some(id) = j.get("id").and_then(Json::as_str) else { continue };
                if !id.starts_with("virsnap-") {
                    continue;
                }
                if j.get("status").and_then(Json::as_str) == Some("concluded") {
                    q.execute("job-dismiss", Some(json!({"id": id})))?;
                } else {
                    busy = true;
                }
            }
            if !busy {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::new(crate::error::ErrorCode::OperationTimeout, DOM, "a snapshot job of QEMU did not finish"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn vm_snapshot_job(&self, q: &mut Qmp, def: &DomainDef, op: VmOp, tag: &str, progress_op: &str) -> Result<()> {
        let nodes = nodes(q, def)?;
        let job = format!("virsnap-{}-{}", op.hmp(), std::process::id());
        let mut args = json!({"job-id": job, "tag": tag, "devices": nodes});
        if op != VmOp::Delete {
            args["vmstate"] = nodes[0].clone().into();
        }
        // Completion is awaited as QEMU's JOB_STATUS_CHANGE event, not by
        // polling: the job's end wakes the wait at once.
        q.subscribe(&["JOB_STATUS_CHANGE"]);
        let r = q.execute(op.qmp(), Some(args)).and_then(|_| self.await_job(q, op, &job, progress_op));
        q.unsubscribe(&["JOB_STATUS_CHANGE"]);
        let error = r?;
        match error {
            Some(e) => Err(Error::op_failed(DOM, format!("Failed to {}: {e}", op.what()))),
            None => Ok(()),
        }
    }

    /// Runs `op`'s job `job` (already started) to its end: QEMU's error
    /// text if it failed. Progress goes to the callback as QEMU reports it.
    fn await_job(&self, q: &mut Qmp, op: VmOp, job: &str, progress_op: &str) -> Result<Option<String>> {
        let deadline = Instant::now() + TIMEOUT;
        let mut last = 0;
        loop {
            let jobs = q.execute("query-jobs", None)?;
            let mine = jobs.as_array().into_iter().flatten().find(|j| j.get("id").and_then(Json::as_str) == Some(job)).cloned();
            let Some(j) = mine else { return Ok(None) };
            let cur = j.get("current-progress").and_then(Json::as_u64).unwrap_or(0);
            let total = j.get("total-progress").and_then(Json::as_u64).unwrap_or(0);
            if let Some(pct) = cur.min(total).saturating_mul(100).checked_div(total) {
                let pct = pct as u32;
                if pct > last && pct < 100 {
                    last = pct;
                    self.progress(progress_op, pct);
                }
            }
            if j.get("status").and_then(Json::as_str) == Some("concluded") {
                let err = j.get("error").and_then(Json::as_str).map(str::to_owned);
                // The job's outcome is already read; a failed dismiss only
                // leaves a concluded job, which settle_jobs dismisses later.
                let _ = q.execute("job-dismiss", Some(json!({"id": job})));
                return Ok(err);
            }
            let now = Instant::now();
            if now > deadline {
                // The timeout is the error reported; a job the cancel misses
                // is waited for by settle_jobs before the next operation.
                let _ = q.execute("job-cancel", Some(json!({"id": job})));
                return Err(Error::new(crate::error::ErrorCode::OperationTimeout, DOM, format!("{} timed out", op.qmp())));
            }
            let ended = |e: &Json| {
                let d = e.get("data");
                d.and_then(|d| d.get("id")).and_then(Json::as_str) == Some(job)
                    && matches!(d.and_then(|d| d.get("status")).and_then(Json::as_str), Some("concluded" | "null"))
            };
            q.next_event(TICK.min(deadline - now), ended)?;
        }
    }
}

//! Tasks: start a `*_Task` method, then poll the task's `info` (one
//! property read per poll, backing off from 50 ms to 1 s) until it succeeds
//! or fails, reporting progress on the way.

use std::time::{Duration, Instant};

use super::props;
use super::session::Session;
use super::soap::{MoRef, Node};
use crate::drivers::ProgressFn;
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

/// How a task that ran ended badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// The fault type (`InvalidPowerState`).
    pub kind: String,
    /// `localizedMessage`.
    pub message: String,
}

impl TaskFailure {
    /// `Kind - message`, as libvirt words it.
    pub fn describe(&self) -> String {
        if self.message.is_empty() { self.kind.clone() } else { format!("{} - {}", self.kind, self.message) }
    }
}

/// Calls `method` (a `*_Task`) and returns the task's reference.
pub fn start(session: &Session, method: &str, inner: &str) -> Result<MoRef> {
    let r = session.call(method, inner)?;
    r.child("returnval").and_then(MoRef::from_node).ok_or_else(|| {
        Error::new(ErrorCode::Rpc, ErrorDomain::Esx, format!("SOAP call to '{method}' returned no task"))
    })
}

/// Waits for `task`; `Ok(Ok(result))` on success (`info.result`, if any).
pub fn wait(
    session: &Session,
    task: &MoRef,
    what: &str,
    progress: Option<&ProgressFn>,
    timeout: Duration,
) -> Result<std::result::Result<Option<Node>, TaskFailure>> {
    let t0 = Instant::now();
    let mut delay = Duration::from_millis(50);
    let mut last = None;
    loop {
        let oc = props::read(session, task, &["info"])?;
        let info = oc.prop("info").ok_or_else(|| {
            Error::new(ErrorCode::Rpc, ErrorDomain::Esx, format!("task {} has no info", task.value))
        })?;
        let state = info.child_text("state").map(str::trim).unwrap_or_default();
        match state {
            "success" => {
                if let Some(p) = progress {
                    p(what, 100);
                }
                return Ok(Ok(info.child("result").cloned()));
            }
            "error" => {
                let err = info.child("error");
                let kind = err
                    .and_then(|e| e.child("fault"))
                    .map(|f| f.xsi_type.clone().unwrap_or_else(|| f.name.clone()))
                    .unwrap_or_else(|| "UnknownFault".to_owned());
                let message = err.and_then(|e| e.child_text("localizedMessage")).unwrap_or_default().trim().to_owned();
                return Ok(Err(TaskFailure { kind, message }));
            }
            "queued" | "running" => {
                super::session::THREAD_TASK_REPOLLS.with(|c| c.set(c.get() + 1));
                let pct = info.child_text("progress").and_then(|p| p.trim().parse::<u32>().ok()).map(|p| p.min(99));
                if let (Some(cb), Some(p)) = (progress, pct) {
                    if last != Some(p) {
                        cb(what, p);
                        last = Some(p);
                    }
                }
            }
            other => {
                return Err(Error::new(
                    ErrorCode::Rpc,
                    ErrorDomain::Esx,
                    format!("task {} is in unknown state '{other}'", task.value),
                ));
            }
        }
        if t0.elapsed() >= timeout {
            return Err(Error::new(
                ErrorCode::OperationTimeout,
                ErrorDomain::Esx,
                format!("{what}: task {} did not finish within {} s", task.value, timeout.as_secs()),
            ));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

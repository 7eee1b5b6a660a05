//! Domain jobs of the qemu driver: a snapshot create / revert / delete is
//! a job that `virDomainGetJobInfo` / `virDomainGetJobStats` report and
//! `virDomainAbortJob` stops, from any thread or process on the same root.
//!
//! Design: the operation (holding the domain lock) publishes its job in
//! the runtime file `<run>/NAME.job` (written atomically: temp file and
//! rename). A reader never takes the domain lock: it reads that file and
//! computes the figures itself, so it answers at once even while QEMU's
//! main loop is busy saving (QEMU's snapshot jobs report no progress of
//! their own until they end). The memory figures are the bytes QEMU has
//! written (create) or read (revert) since the job's QMP step began, from
//! `/proc/QEMU_PID/io`, against the guest's memory size. A job whose
//! process died is no job. The finished job goes to `NAME.job-done`
//! (`VIR_DOMAIN_JOB_STATS_COMPLETED`).
//!
//! Abort: `NAME.job-abort` names the job to stop. The operation checks it
//! at its abort points and undoes what it made (no snapshot, no metadata,
//! no qcow2 tag or overlay left); once it passes its point of no return
//! (the revert's load, the delete's removal of a qcow2 tag) the job says so
//! and an abort fails with `VIR_ERR_OPERATION_INVALID` while the operation
//! completes. `virDomainAbortJob` returns when the job has ended.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{quick_write, read_small, QemuDriver, DOM};
use crate::drivers::DomainRef;
use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::job::{stats_flags, JobStats, JobType};

/// How long `virDomainAbortJob` waits for the job to end (far above need:
/// the unabortable steps are one QMP command each).
const ABORT_WAIT: Duration = Duration::from_secs(600);

/// The error an operation returns when it was aborted (libvirt's for a
/// snapshot job cancelled by the client).
pub(super) fn aborted() -> Error {
    Error::new(ErrorCode::OperationAborted, DOM, "snapshot job: canceled by client")
}

/// Which of QEMU's I/O counters measures a job's memory transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Io {
    /// `wchar`: the vmstate being saved.
    Write,
    /// `rchar`: the vmstate being loaded.
    Read,
}

/// The published state of a running job (the `NAME.job` file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Record {
    id: String,
    pid: u32,
    operation: i32,
    start_ms: u64,
    /// QEMU's pid, counter (`w`/`r`), its value at the start, memory bytes.
    io: Option<(u32, char, u64, u64)>,
    abortable: bool,
}

impl Record {
    fn to_text(&self) -> String {
        let mut t = format!("id={}\npid={}\noperation={}\nstart_ms={}\nabortable={}\n", self.id, self.pid, self.operation, self.start_ms, u8::from(self.abortable));
        if let Some((qpid, c, base, total)) = self.io {
            t.push_str(&format!("io={qpid} {c} {base} {total}\n"));
        }
        t
    }

    /// Parses a record; `None` for anything malformed.
    fn parse(text: &str) -> Option<Self> {
        let mut r = Record::default();
        for line in text.lines() {
            let (k, v) = line.split_once('=')?;
            match k {
                "id" if v.len() <= 64 && v.bytes().all(|b| b.is_ascii_digit() || b == b'-') => r.id = v.to_owned(),
                "pid" => r.pid = v.parse().ok()?,
                "operation" => r.operation = v.parse().ok()?,
                "start_ms" => r.start_ms = v.parse().ok()?,
                "abortable" => r.abortable = v == "1",
                "io" => {
                    let f: Vec<&str> = v.split(' ').collect();
                    let [qpid, c, base, total] = f.as_slice() else { return None };
                    let c = match *c {
                        "w" => 'w',
                        "r" => 'r',
                        _ => return None,
                    };
                    r.io = Some((qpid.parse().ok()?, c, base.parse().ok()?, total.parse().ok()?));
                }
                _ => return None,
            }
        }
        (!r.id.is_empty() && r.pid != 0).then_some(r)
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn alive(pid: u32) -> bool {
    pid != 0 && std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// QEMU's `wchar` / `rchar` counter (all its threads), if readable.
fn io_counter(qpid: u32, c: char) -> Option<u64> {
    let text = crate::fsio::read_regular_string(std::path::Path::new(&format!("/proc/{qpid}/io")), 4096).ok()?;
    let key = if c == 'w' { "wchar:" } else { "rchar:" };
    text.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().parse().ok())
}

/// A running job's figures, from its record, now.
fn stats_of(r: &Record) -> JobStats {
    let mut s = JobStats {
        kind: JobType::Unbounded,
        operation: r.operation,
        time_elapsed_ms: now_ms().saturating_sub(r.start_ms),
        ..JobStats::default()
    };
    if let Some((qpid, c, base, total)) = r.io {
        // The counter only grows, so the figures never go back; clamped to
        // the memory size (the vmstate carries some device state too).
        let done = io_counter(qpid, c).map_or(0, |v| v.saturating_sub(base)).min(total);
        s.memory_total = Some(total);
        s.memory_processed = Some(done);
        s.memory_remaining = Some(total - done);
        s.data_total = s.memory_total;
        s.data_processed = s.memory_processed;
        s.data_remaining = s.memory_remaining;
    }
    s
}

/// The finished job in `NAME.job-done`: type, then the figures.
fn done_text(s: &JobStats) -> String {
    let o = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let mut t = format!(
        "{} {} {} {} {} {}\n",
        s.kind as i32,
        s.operation,
        s.time_elapsed_ms,
        o(s.memory_total),
        o(s.memory_processed),
        o(s.memory_remaining)
    );
    if let Some(m) = &s.errmsg {
        t.push_str(&m.replace('\n', " "));
        t.push('\n');
    }
    t
}

fn parse_done(text: &str) -> Option<JobStats> {
    let mut lines = text.lines();
    let f: Vec<&str> = lines.next()?.split(' ').collect();
    let [kind, op, elapsed, mt, mp, mr] = f.as_slice() else { return None };
    let o = |v: &str| if v == "-" { Ok(None) } else { v.parse::<u64>().map(Some) };
    let kind = JobType::from_i32(kind.parse().ok()?);
    if !matches!(kind, JobType::Completed | JobType::Failed | JobType::Cancelled) {
        return None;
    }
    let (memory_total, memory_processed, memory_remaining) = (o(mt).ok()?, o(mp).ok()?, o(mr).ok()?);
    Some(JobStats {
        kind,
        operation: op.parse().ok()?,
        time_elapsed_ms: elapsed.parse().ok()?,
        data_total: memory_total,
        data_processed: memory_processed,
        data_remaining: memory_remaining,
        memory_total,
        memory_processed,
        memory_remaining,
        success: Some(kind == JobType::Completed),
        errmsg: lines.next().filter(|m| !m.is_empty() && kind == JobType::Failed).map(str::to_owned),
        ..JobStats::default()
    })
}

/// The running job of one operation (held while it holds the domain
/// lock). Ending it ([`Job::finish`]) publishes the outcome; a job dropped
/// unfinished is recorded as failed.
#[derive(Debug)]
pub(super) struct Job<'a> {
    drv: &'a QemuDriver,
    name: String,
    rec: Record,
    started: Instant,
    finished: bool,
}

impl QemuDriver {
    fn job_path(&self, name: &str, suffix: &str) -> PathBuf {
        self.paths.run.join(format!("{name}.{suffix}"))
    }

    /// Publishes the job `operation` of domain `name` (its lock held).
    pub(super) fn begin_job(&self, name: &str, operation: i32) -> Result<Job<'_>> {
        let start_ms = now_ms();
        let pid = std::process::id();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let rec = Record { id: format!("{pid}-{start_ms}-{nanos}"), pid, operation, start_ms, io: None, abortable: true };
        // A stale request (for a job of a process that died) is not ours.
        match std::fs::remove_file(self.job_path(name, "job-abort")) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::system(DOM, "cannot remove a stale job abort request", &e)),
        }
        let job = Job { drv: self, name: name.to_owned(), rec, started: Instant::now(), finished: false };
        job.publish()?;
        Ok(job)
    }

    /// The live job record of `name`, if its process is alive.
    fn live_job(&self, name: &str) -> Option<Record> {
        read_small(&self.job_path(name, "job")).and_then(|t| Record::parse(&t)).filter(|r| alive(r.pid))
    }

    /// `virDomainGetJobStats` on the qemu driver.
    pub(super) fn domain_job_stats(&self, dom: &DomainRef, flags: u32) -> Result<JobStats> {
        crate::drivers::check_flags(flags, stats_flags::COMPLETED | stats_flags::KEEP_COMPLETED, DOM, "qemuDomainGetJobStats")?;
        if flags & stats_flags::KEEP_COMPLETED != 0 && flags & stats_flags::COMPLETED == 0 {
            return Err(Error::invalid_arg(DOM, "VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED requires VIR_DOMAIN_JOB_STATS_COMPLETED"));
        }
        super::check_name(&dom.name)?;
        self.def(&dom.name)?;
        if flags & stats_flags::COMPLETED != 0 {
            // As libvirt: no completed stats while a job runs.
            if self.live_job(&dom.name).is_some() {
                return Ok(JobStats::default());
            }
            let path = self.job_path(&dom.name, "job-done");
            let done = read_small(&path).and_then(|t| parse_done(&t));
            if done.is_some() && flags & stats_flags::KEEP_COMPLETED == 0 {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::system(DOM, "cannot forget the completed job", &e)),
                }
            }
            return Ok(done.unwrap_or_default());
        }
        if self.pid(&dom.name).is_none() {
            return Err(Error::op_invalid(ErrorDomain::Domain, "domain is not running"));
        }
        Ok(self.live_job(&dom.name).map(|r| stats_of(&r)).unwrap_or_default())
    }

    /// `virDomainAbortJob` on the qemu driver.
    pub(super) fn domain_job_abort(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        crate::drivers::check_flags(flags, 0, DOM, "qemuDomainAbortJobFlags")?;
        super::check_name(&dom.name)?;
        self.def(&dom.name)?;
        if self.pid(&dom.name).is_none() {
            return Err(Error::op_invalid(ErrorDomain::Domain, "domain is not running"));
        }
        let Some(rec) = self.live_job(&dom.name) else {
            return Err(Error::op_invalid(DOM, "no job is active on the domain"));
        };
        if !rec.abortable {
            return Err(past_return(rec.operation));
        }
        quick_write(&self.job_path(&dom.name, "job-abort"), rec.id.as_bytes())
            .map_err(|e| Error::system(DOM, "cannot request the job's abort", &e))?;
        // Wait for the job to end, then read how.
        let deadline = Instant::now() + ABORT_WAIT;
        let mut delay = Duration::from_millis(1);
        while self.live_job(&dom.name).is_some_and(|r| r.id == rec.id) {
            if Instant::now() > deadline {
                return Err(Error::new(ErrorCode::OperationTimeout, DOM, "the job did not stop"));
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(20));
        }
        let done = read_small(&self.job_path(&dom.name, "job-done"));
        let ended = done.as_deref().and_then(|t| t.lines().nth(2)).is_some_and(|id| id == rec.id);
        let cancelled = done.as_deref().and_then(parse_done).is_some_and(|s| s.kind == JobType::Cancelled);
        if ended && cancelled {
            Ok(())
        } else {
            Err(past_return(rec.operation))
        }
    }
}

/// The abort of a job past its point of no return.
fn past_return(operation: i32) -> Error {
    let what = match operation {
        crate::job::operation::SNAPSHOT_REVERT => "snapshot revert",
        crate::job::operation::SNAPSHOT_DELETE => "snapshot delete",
        _ => "snapshot",
    };
    Error::op_invalid(DOM, format!("cannot abort {what}: QEMU has started the part of it that cannot be stopped; it completes"))
}

impl Job<'_> {
    fn publish(&self) -> Result<()> {
        quick_write(&self.drv.job_path(&self.name, "job"), self.rec.to_text().as_bytes())
            .map_err(|e| Error::system(DOM, "cannot publish the domain job", &e))
    }

    /// Whether an abort of this job was requested.
    pub(super) fn abort_requested(&self) -> bool {
        read_small(&self.drv.job_path(&self.name, "job-abort")).is_some_and(|t| t == self.rec.id)
    }

    /// `Err(aborted)` if an abort was requested: call at an abort point,
    /// after undoing nothing (nothing is made yet).
    pub(super) fn check(&self) -> Result<()> {
        if self.abort_requested() {
            Err(aborted())
        } else {
            Ok(())
        }
    }

    /// Counts QEMU `qpid`'s memory transfer from now (`mem_bytes` in all).
    pub(super) fn measure(&mut self, qpid: Option<u32>, io: Io, mem_bytes: u64) -> Result<()> {
        let Some(qpid) = qpid else { return Ok(()) };
        let c = if io == Io::Write { 'w' } else { 'r' };
        let Some(base) = io_counter(qpid, c) else { return Ok(()) };
        self.rec.io = Some((qpid, c, base, mem_bytes));
        self.publish()
    }

    /// The point of no return: an abort requested up to now is honoured
    /// (`Err(aborted)`, nothing made yet); later ones fail.
    pub(super) fn no_return(&mut self) -> Result<()> {
        self.check()?;
        self.rec.abortable = false;
        self.publish()?;
        // A request that raced the mark is still honoured: nothing is made yet.
        self.check()
    }

    /// Ends the job with the operation's outcome `r`.
    pub(super) fn finish<T>(mut self, r: &Result<T>) {
        self.end(r.as_ref().err());
    }

    fn end(&mut self, err: Option<&Error>) {
        self.finished = true;
        let mut s = stats_of(&self.rec);
        s.time_elapsed_ms = self.started.elapsed().as_millis() as u64;
        match err {
            None => s.kind = JobType::Completed,
            Some(e) if e.code == ErrorCode::OperationAborted => s.kind = JobType::Cancelled,
            Some(e) => {
                s.kind = JobType::Failed;
                s.errmsg = Some(e.message.clone());
            }
        }
        if s.kind == JobType::Completed {
            // Everything was transferred.
            if let Some(t) = s.memory_total {
                s.memory_processed = Some(t);
                s.memory_remaining = Some(0);
            }
        }
        // The done record names the job (third line) for the abort's waiter.
        let mut text = done_text(&s);
        if s.errmsg.is_none() {
            text.push('\n');
        }
        text.push_str(&self.rec.id);
        text.push('\n');
        // The outcome is the operation's result; a runtime file that cannot
        // be written only loses the completed-job report, and a job file
        // left behind is ignored once this process is gone.
        let _ = quick_write(&self.drv.job_path(&self.name, "job-done"), text.as_bytes());
        let _ = std::fs::remove_file(self.drv.job_path(&self.name, "job"));
        let _ = std::fs::remove_file(self.drv.job_path(&self.name, "job-abort"));
    }
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.end(Some(&Error::internal(DOM, "the operation ended without a result")));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_no_job() {
        let r = Record { id: "12-34-56".into(), pid: 12, operation: 6, start_ms: 34, io: Some((99, 'w', 5, 100)), abortable: true };
        assert_eq!(Record::parse(&r.to_text()), Some(r));
        for bad in ["", "id=../x\npid=1\n", "id=1\npid=x\n", "id=1\npid=1\nio=1 q 2 3\n", "junk"] {
            assert_eq!(Record::parse(bad), None, "{bad:?}");
        }
        let s = JobStats { kind: JobType::Failed, operation: 7, time_elapsed_ms: 5, errmsg: Some("boom".into()), ..JobStats::default() };
        let back = parse_done(&done_text(&s)).unwrap();
        assert_eq!((back.kind, back.operation, back.time_elapsed_ms, back.errmsg.as_deref(), back.success), (JobType::Failed, 7, 5, Some("boom"), Some(false)));
    }
}

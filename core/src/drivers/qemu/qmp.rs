//! QMP client over the guest's unix socket. Every call has a deadline; a
//! peer that answers garbage or too much gets an error, never a hang.
//!
//! QEMU serves one QMP client per socket at a time, so each driver
//! operation opens a short-lived connection (while holding the domain
//! lock) and drops it when done. That is also how a later process
//! re-attaches to a running guest.

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::json::{self, json, Json};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

const DOM: ErrorDomain = ErrorDomain::Qemu;
/// Default deadline for one QMP command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_LINE: usize = 16 << 20;

/// Most events kept unread per connection; older ones are dropped first.
const MAX_QUEUED_EVENTS: usize = 1024;

/// One negotiated QMP connection.
///
/// Events: QEMU sends asynchronous events (`{"event": NAME, "data": …}`)
/// between replies. Those whose name was [`Qmp::subscribe`]d are queued
/// (whether they arrive while a command waits for its reply or while
/// [`Qmp::next_event`] waits for them); all others are dropped.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
    /// A line read in part when a wait timed out; the next read continues it.
    partial: String,
    /// Event names whose events are queued.
    subscribed: HashSet<String>,
    /// Subscribed events not yet taken, oldest first.
    events: VecDeque<Json>,
    /// Upper bound on any single wait (only lowered by the fuzzing entry point).
    max_wait: Duration,
}

impl std::fmt::Debug for Qmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qmp").finish_non_exhaustive()
    }
}

fn io_err(what: &str, e: &std::io::Error) -> Error {
    Error::new(ErrorCode::OperationFailed, DOM, format!("QMP {what}: {e}"))
}

impl Qmp {
    /// Connects to `sock`, reads the greeting and leaves capabilities negotiation done.
    pub fn connect(sock: &Path) -> Result<Self> {
        let stream = UnixStream::connect(sock)
            .map_err(|e| Error::new(ErrorCode::OperationInvalid, DOM, format!("cannot connect to QMP socket {}: {e}", sock.display())))?;
        Self::negotiate(stream, Duration::from_secs(10))
    }

    /// Reads the greeting on a connected `stream` and negotiates
    /// capabilities; no single wait exceeds `max_wait`.
    fn negotiate(stream: UnixStream, max_wait: Duration) -> Result<Self> {
        let io_timeout = max_wait.min(Duration::from_secs(10)).max(Duration::from_millis(1));
        stream.set_read_timeout(Some(io_timeout)).map_err(|e| io_err("socket", &e))?;
        stream.set_write_timeout(Some(io_timeout)).map_err(|e| io_err("socket", &e))?;
        let writer = stream.try_clone().map_err(|e| io_err("socket", &e))?;
        let mut q = Qmp {
            reader: BufReader::new(stream),
            writer,
            next_id: 1,
            partial: String::new(),
            subscribed: HashSet::new(),
            events: VecDeque::new(),
            max_wait,
        };
        let greeting = q.read_msg(Instant::now() + io_timeout)?;
        if greeting.get("QMP").is_none() {
            return Err(Error::internal(DOM, "QMP greeting missing"));
        }
        q.execute("qmp_capabilities", None)?;
        Ok(q)
    }

    fn read_msg(&mut self, deadline: Instant) -> Result<Json> {
        let line = self.read_line(deadline)?;
        json::parse(line.trim()).map_err(|e| Error::internal(DOM, format!("malformed QMP reply: {e}")))
    }

    /// One message line as QEMU sent it (bounded, within `deadline`). A
    /// line cut off by the deadline is kept and continued by the next call,
    /// so a timed-out wait never loses or splits a message.
    fn read_line(&mut self, deadline: Instant) -> Result<String> {
        let mut line = std::mem::take(&mut self.partial);
        let r = self.read_line_into(&mut line, deadline);
        match r {
            Ok(()) => Ok(line),
            Err(e) => {
                if e.code == ErrorCode::OperationTimeout {
                    self.partial = line;
                }
                Err(e)
            }
        }
    }

    fn read_line_into(&mut self, line: &mut String, deadline: Instant) -> Result<()> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(ErrorCode::OperationTimeout, DOM, "timed out waiting for a QMP reply"));
            }
            let left = (deadline - now).max(Duration::from_millis(1));
            self.reader.get_ref().set_read_timeout(Some(left)).map_err(|e| io_err("socket", &e))?;
            // At most MAX_LINE + 1 bytes per line: a peer that never sends a
            // newline cannot make the buffer grow without bound.
            let room = (MAX_LINE + 1).saturating_sub(line.len()) as u64;
            match (&mut self.reader).take(room).read_line(line) {
                Ok(0) => return Err(Error::new(ErrorCode::OperationFailed, DOM, "QMP connection closed by QEMU")),
                Ok(_) if line.ends_with('\n') => break,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Err(Error::new(ErrorCode::OperationTimeout, DOM, "timed out waiting for a QMP reply"));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err("read", &e)),
            }
            if line.len() > MAX_LINE {
                line.clear();
                return Err(Error::internal(DOM, "QMP reply too large"));
            }
        }
        Ok(())
    }

    /// Queues `msg` if it is an event of a subscribed name; true if it is
    /// an event at all (queued or dropped).
    fn take_if_event(&mut self, msg: &Json) -> bool {
        let Some(name) = msg.get("event").and_then(Json::as_str) else { return false };
        if self.subscribed.contains(name) {
            if self.events.len() >= MAX_QUEUED_EVENTS {
                self.events.pop_front();
            }
            self.events.push_back(msg.clone());
        }
        true
    }

    /// Queues the events named in `names` from now on (see [`Qmp`]).
    /// Since 0.2.
    pub fn subscribe(&mut self, names: &[&str]) {
        self.subscribed.extend(names.iter().map(|n| (*n).to_owned()));
    }

    /// Stops queueing the events named in `names` and drops those queued.
    /// Since 0.2.
    pub fn unsubscribe(&mut self, names: &[&str]) {
        for n in names {
            self.subscribed.remove(*n);
        }
        let subscribed = &self.subscribed;
        self.events.retain(|e| e.get("event").and_then(Json::as_str).is_some_and(|n| subscribed.contains(n)));
    }

    /// The oldest queued event matching `pred` (removed from the queue), or
    /// else the first such event QEMU sends within `timeout`; `None` when
    /// none came in time. Non-matching subscribed events stay queued;
    /// replies to no pending command are dropped. The whole event is
    /// returned (`event`, `data`, `timestamp`). Since 0.2.
    pub fn next_event(&mut self, timeout: Duration, pred: impl Fn(&Json) -> bool) -> Result<Option<Json>> {
        if let Some(i) = self.events.iter().position(&pred) {
            return Ok(self.events.remove(i));
        }
        let deadline = Instant::now() + timeout.min(self.max_wait);
        loop {
            let line = match self.read_line(deadline) {
                Ok(l) => l,
                Err(e) if e.code == ErrorCode::OperationTimeout => return Ok(None),
                Err(e) => return Err(e),
            };
            let msg = json::parse(line.trim()).map_err(|e| Error::internal(DOM, format!("malformed QMP reply: {e}")))?;
            let subscribed = msg.get("event").and_then(Json::as_str).is_some_and(|n| self.subscribed.contains(n));
            if subscribed && pred(&msg) {
                return Ok(Some(msg));
            }
            self.take_if_event(&msg);
        }
    }

    /// Every queued event, oldest first (the queue is left empty). Since 0.2.
    pub fn take_events(&mut self) -> Vec<Json> {
        self.events.drain(..).collect()
    }

    /// Runs `cmd` with optional `args` within [`DEFAULT_TIMEOUT`].
    pub fn execute(&mut self, cmd: &str, args: Option<Json>) -> Result<Json> {
        self.execute_timeout(cmd, args, DEFAULT_TIMEOUT)
    }

    /// Runs `cmd`; returns its `return` value, or the QMP error as `VIR_ERR_OPERATION_FAILED`.
    pub fn execute_timeout(&mut self, cmd: &str, args: Option<Json>, timeout: Duration) -> Result<Json> {
        let id = self.send(cmd, args)?;
        self.wait(id, cmd, timeout)
    }

    /// Sends `cmd` without waiting for its reply (collect it with
    /// [`Self::wait`]), so the caller can overlap other work with it.
    pub fn send(&mut self, cmd: &str, args: Option<Json>) -> Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let mut m = json!({"execute": cmd, "id": id});
        if let Some(a) = args {
            m["arguments"] = a;
        }
        let mut text = m.to_string();
        text.push('\n');
        self.writer.write_all(text.as_bytes()).map_err(|e| io_err("write", &e))?;
        Ok(id)
    }

    /// Waits for the reply to the command [`Self::send`] returned `id` for.
    pub fn wait(&mut self, id: u64, cmd: &str, timeout: Duration) -> Result<Json> {
        let deadline = Instant::now() + timeout.min(self.max_wait);
        loop {
            let msg = self.read_msg(deadline)?;
            if self.take_if_event(&msg) {
                continue;
            }
            if msg.get("id").and_then(Json::as_u64).is_some_and(|i| i != id) {
                continue;
            }
            if let Some(r) = msg.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = msg.get("error") {
                let desc = e.get("desc").and_then(Json::as_str).unwrap_or("unknown error");
                return Err(Error::new(ErrorCode::OperationFailed, DOM, format!("QMP {cmd}: {desc}")));
            }
            return Err(Error::internal(DOM, format!("unexpected QMP message for {cmd}")));
        }
    }

    /// Runs an HMP command through `human-monitor-command`; returns its text.
    pub fn hmp(&mut self, line: &str, timeout: Duration) -> Result<String> {
        let r = self.execute_timeout("human-monitor-command", Some(json!({"command-line": line})), timeout)?;
        Ok(r.as_str().unwrap_or("").to_owned())
    }

    /// Sends `cmd`, a caller's QMP command text, as libvirt's
    /// `virDomainQemuMonitorCommand` does: an object gets an `"id"` member
    /// appended (one already there is libvirt's "Unable to append command
    /// 'id' string"); returns the reply to it as compact JSON with QEMU's
    /// member order, errors included (they are the caller's to read).
    pub fn pass_through(&mut self, cmd: &str, timeout: Duration) -> Result<String> {
        let parsed = json::parse(cmd.trim())
            .map_err(|e| Error::internal(ErrorDomain::None, format!("cannot parse json {cmd}: {e}")))?;
        let compact = compact_json(cmd.trim());
        let (text, id) = match &parsed {
            Json::Object(m) if m.contains_key("id") => {
                return Err(Error::internal(DOM, "Unable to append command 'id' string"));
            }
            Json::Object(m) => {
                let id = format!("libvirt-{}", self.next_id);
                self.next_id += 1;
                let body = &compact[..compact.len() - 1]; // without the closing brace
                let sep = if m.is_empty() { "" } else { "," };
                (format!("{body}{sep}\"id\":\"{id}\"}}\n"), Some(id))
            }
            _ => (format!("{compact}\n"), None),
        };
        self.writer.write_all(text.as_bytes()).map_err(|e| io_err("write", &e))?;
        let deadline = Instant::now() + timeout.min(self.max_wait);
        loop {
            let line = self.read_line(deadline)?;
            let msg = json::parse(line.trim()).map_err(|e| Error::internal(DOM, format!("malformed QMP reply: {e}")))?;
            if self.take_if_event(&msg) {
                continue;
            }
            let reply_id = msg.get("id").and_then(Json::as_str);
            if id.is_none() || reply_id == id.as_deref() {
                return Ok(compact_json(line.trim()));
            }
        }
    }

    /// `query-status` → (status string, running).
    pub fn status(&mut self) -> Result<(String, bool)> {
        let r = self.execute("query-status", None)?;
        let status = r.get("status").and_then(Json::as_str).unwrap_or("unknown").to_owned();
        let running = r.get("running").and_then(Json::as_bool).unwrap_or(false);
        Ok((status, running))
    }
}

/// `text` (valid JSON) without the whitespace between tokens, members in
/// their order: libvirt's compact re-serialization of a monitor reply.
fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_str = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Timeout of a monitor command passed through for a caller (libvirt waits
/// without bound; this is far above any command's need).
const PASS_THROUGH_TIMEOUT: Duration = Duration::from_secs(600);

impl super::QemuDriver {
    /// `virDomainQemuMonitorCommand[WithFiles]` on the qemu driver: flag 1
    /// (`VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP`) sends `cmd` through
    /// `human-monitor-command` and returns its text; otherwise `cmd` is QMP
    /// JSON and the reply comes back as JSON text.
    pub(super) fn monitor_command(&self, dom: &crate::drivers::DomainRef, cmd: &str, flags: u32) -> Result<String> {
        crate::drivers::check_flags(flags, 1, DOM, "qemuDomainQemuMonitorCommandWithFiles")?;
        let (_s, _l) = self.lock(&dom.name)?;
        self.def(&dom.name)?;
        if self.pid(&dom.name).is_none() {
            return Err(Error::op_invalid(ErrorDomain::Domain, "domain is not running"));
        }
        let mut q = self.qmp(&dom.name)?;
        if flags & 1 != 0 {
            q.hmp(cmd, PASS_THROUGH_TIMEOUT)
        } else {
            q.pass_through(cmd, PASS_THROUGH_TIMEOUT)
        }
    }

    /// `virDomainQemuAgentCommand` on the qemu driver. The virsnap qemu
    /// driver accepts no `<channel>` devices, so no guest has an agent
    /// channel: a running guest gives libvirt's error for that case.
    pub(super) fn agent_command(&self, dom: &crate::drivers::DomainRef, flags: u32) -> Result<String> {
        crate::drivers::check_flags(flags, 0, DOM, "qemuDomainQemuAgentCommand")?;
        let (_s, _l) = self.lock(&dom.name)?;
        self.def(&dom.name)?;
        if self.pid(&dom.name).is_none() {
            return Err(Error::op_invalid(ErrorDomain::Domain, "domain is not running"));
        }
        // qemuDomainAgentAvailable: a paused guest's agent cannot answer.
        if self.state_of(&dom.name)?.0 != crate::model::DomainState::Running {
            return Err(Error::op_invalid(DOM, "domain is not running"));
        }
        Err(Error::new(ErrorCode::ArgumentUnsupported, DOM, "QEMU guest agent is not configured"))
    }
}

/// Fuzzing entry point: one snapshot operation's QMP conversation with a
/// scripted peer. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::Duration;

    use super::super::domxml::DomainDef;
    use super::super::jobs::VmOp;
    use super::super::json::{self, Json};
    use super::super::QemuDriver;
    use super::Qmp;
    use crate::drivers::ParsedUri;
    use crate::error::{ErrorCode, ErrorDomain, Result};


    const DOMAIN: &str = "<domain type='qemu'><name>fuzz</name><memory>65536</memory><devices>\
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/nonexistent/a.qcow2'/><target dev='vda' bus='virtio'/></disk>\
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/nonexistent/b.img'/><target dev='vdb' bus='virtio'/></disk>\
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/nonexistent/c.qcow2'/><target dev='vdc' bus='virtio'/></disk>\
</devices></domain>";

    /// What the scripted peer saw: every command line the client sent.
    #[derive(Debug, Default)]
    pub struct Seen {
        /// `(execute, arguments)` per command, in order.
        pub commands: Vec<(String, Option<Json>)>,
    }

    fn driver() -> Option<&'static QemuDriver> {
        static D: OnceLock<Option<QemuDriver>> = OnceLock::new();
        D.get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("virsnap-qmp-fuzz-{}", std::process::id()));
            let uri = ParsedUri::parse(&format!("qemu:///embed?root={}", dir.display())).ok()?;
            QemuDriver::new(&uri).ok()
        })
        .as_ref()
    }

    fn def() -> Option<&'static DomainDef> {
        static D: OnceLock<Option<DomainDef>> = OnceLock::new();
        D.get_or_init(|| DomainDef::parse(DOMAIN).ok()).as_ref()
    }

    /// The peer: sends chunk 0 (the greeting) at once, then one chunk per
    /// command line it reads, with `$ID` replaced by that command's id and
    /// `$JOB` by the last `job-id` the client named. Out of chunks it
    /// closes the socket, or with `stall` keeps it open and silent until
    /// the client hangs up.
    fn peer(mut sock: UnixStream, chunks: Vec<Vec<u8>>, stall: bool, split: bool, idle: Duration) -> Seen {
        let mut seen = Seen::default();
        let Ok(rd) = sock.try_clone() else { return seen };
        // A client that sends nothing soon is waiting for a reply the
        // script does not hold (an unmatched id, say): hang up then,
        // unless stalling is what is being tested.
        if !stall && rd.set_read_timeout(Some(idle)).is_err() {
            return seen;
        }
        let mut rd = BufReader::new(rd);
        let mut chunks = chunks.into_iter();
        let (mut id, mut job) = (String::new(), String::new());
        let send = |sock: &mut UnixStream, c: Vec<u8>, id: &str, job: &str| -> bool {
            let text = String::from_utf8_lossy(&c).replace("$ID", id).replace("$JOB", job);
            let bytes = if std::str::from_utf8(&c).is_ok() { text.into_bytes() } else { c };
            if split {
                bytes.chunks(7).all(|p| sock.write_all(p).and_then(|()| sock.flush()).is_ok())
            } else {
                sock.write_all(&bytes).is_ok()
            }
        };
        if let Some(c) = chunks.next() {
            if !send(&mut sock, c, &id, &job) {
                return seen;
            }
        }
        loop {
            let next = chunks.next();
            if next.is_none() && !stall {
                let _ = sock.shutdown(std::net::Shutdown::Both);
                return seen;
            }
            let mut line = String::new();
            match rd.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let _ = sock.shutdown(std::net::Shutdown::Both);
                    return seen;
                }
                Ok(_) => {}
            }
            // The client only ever sends well-formed commands with rising ids.
            let msg = json::parse(line.trim()).unwrap_or_else(|e| panic!("client sent malformed JSON ({e}): {line}"));
            let cmd = msg.get("execute").and_then(Json::as_str).unwrap_or_else(|| panic!("client line without execute: {line}"));
            let n = msg.get("id").and_then(Json::as_u64).unwrap_or_else(|| panic!("client line without id: {line}"));
            id = n.to_string();
            let args = msg.get("arguments").cloned();
            if let Some(j) = args.as_ref().and_then(|a| a.get("job-id")).and_then(Json::as_str) {
                job = j.to_owned();
            }
            seen.commands.push((cmd.to_owned(), args));
            if let Some(c) = next {
                if !send(&mut sock, c, &id, &job) {
                    return seen;
                }
            }
        }
    }

    /// Runs one conversation scripted by `data`: byte 0 picks the
    /// operation (bits 0-2), a stalling peer (bit 3) and replies written
    /// in 7-byte pieces (bit 4); the rest is the peer's chunks, separated
    /// by NUL bytes. Returns the operation's result and what the peer saw.
    /// Panics when an invariant breaks: an error that is not a QEMU-domain
    /// operation/timeout/internal error, a malformed or out-of-order
    /// command, a progress value outside 1..=99 or not rising, or success
    /// reported for a snapshot operation QEMU was never asked to do.
    pub fn qmp_session(data: &[u8]) -> (Result<()>, Seen) {
        session(data, Duration::from_millis(20), Duration::from_millis(2))
    }

    /// [`qmp_session`] with time to spare, for tests on a loaded machine
    /// where the outcome must not depend on its speed: the client waits up
    /// to 120 s for a reply (10 s when the peer stalls, bit 3: that wait
    /// always ends in the timeout under test), the peer up to 10 s for the
    /// next command. Each is far above what the exchange needs.
    pub fn qmp_session_patient(data: &[u8]) -> (Result<()>, Seen) {
        let stall = data.first().is_some_and(|&sel| sel & 8 != 0);
        let max_wait = Duration::from_secs(if stall { 10 } else { 120 });
        session(data, max_wait, Duration::from_secs(10))
    }

    fn session(data: &[u8], max_wait: Duration, idle: Duration) -> (Result<()>, Seen) {
        let (Some(drv), Some(def)) = (driver(), def()) else { panic!("fuzzing driver cannot be set up") };
        let (&sel, rest) = data.split_first().unwrap_or((&0, &[]));
        let chunks: Vec<Vec<u8>> = if rest.is_empty() { Vec::new() } else { rest.split(|&b| b == 0).map(<[u8]>::to_vec).collect() };
        let (stall, split) = (sel & 8 != 0, sel & 16 != 0);
        let Ok((client, server)) = UnixStream::pair() else { panic!("socketpair failed") };
        let peer = std::thread::spawn(move || peer(server, chunks, stall, split, idle));
        let last = Arc::new(Mutex::new(0u32));
        let seen_progress = Arc::clone(&last);
        if let Ok(mut p) = drv.progress.lock() {
            *p = Some(Arc::new(move |_op: &str, pct: u32| {
                let mut l = seen_progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                assert!((1..=99).contains(&pct) && pct > *l, "progress {pct} after {}", *l);
                *l = pct;
            }));
        }
        // (operation, its QMP job command, its HMP command)
        let (op, qmp_cmd, hmp_cmd) = match sel & 7 {
            1 | 4 => (Some(VmOp::Save), "snapshot-save", "savevm"),
            2 | 5 => (Some(VmOp::Load), "snapshot-load", "loadvm"),
            3 | 6 => (Some(VmOp::Delete), "snapshot-delete", "delvm"),
            _ => (None, "", ""),
        };
        let tag = "snap 1";
        let result = Qmp::negotiate(client, max_wait).and_then(|mut q| {
            let (_status, running) = q.status()?;
            match (sel & 7, op) {
                // What create/revert/delete do on a running guest: pause, the job, resume.
                (4..=6, Some(op)) => {
                    if running {
                        q.execute("stop", None)?;
                    }
                    drv.vm_snapshot(&mut q, def, op, tag, "fuzz")?;
                    // revert overlaps its metadata write with cont
                    let id = q.send("cont", None)?;
                    q.wait(id, "cont", max_wait).map(drop)
                }
                (_, Some(op)) => drv.vm_snapshot(&mut q, def, op, tag, "fuzz"),
                _ => {
                    let text = q.hmp("info snapshots", max_wait)?;
                    let _ = text.lines().count();
                    q.execute("cont", None).map(drop)
                }
            }
        });
        if let Ok(mut p) = drv.progress.lock() {
            *p = None;
        }
        let seen = match peer.join() {
            Ok(s) => s,
            Err(e) => std::panic::resume_unwind(e),
        };
        if let Err(e) = &result {
            assert_eq!(e.domain, ErrorDomain::Qemu, "error from the wrong domain: {e:?}");
            assert!(
                matches!(e.code, ErrorCode::OperationFailed | ErrorCode::OperationTimeout | ErrorCode::InternalError),
                "unexpected error code: {e:?}"
            );
        }
        if let (Ok(()), Some(op)) = (&result, op) {
            let asked = seen.commands.iter().any(|(c, a)| {
                let arg = |k: &str| a.as_ref().and_then(|a| a.get(k)).and_then(Json::as_str).map(str::to_owned);
                (c == qmp_cmd && arg("tag").as_deref() == Some(tag))
                    || (c == "human-monitor-command" && arg("command-line").is_some_and(|l| l.starts_with(hmp_cmd) && l.contains("snap")))
            });
            assert!(asked, "{op:?} reported success but QEMU was never asked: {:?}", seen.commands);
        }
        (result, seen)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use super::{Json, Qmp};

    /// A subscribed event arriving while a command waits for its reply is
    /// kept for `next_event`; others are dropped; a line cut by a timed-out
    /// wait is continued, not lost.
    #[test]
    fn events_are_queued_by_subscription_and_partial_lines_survive_timeouts() {
        let (client, server) = UnixStream::pair().unwrap();
        let peer = std::thread::spawn(move || {
            let mut w = server.try_clone().unwrap();
            let mut r = BufReader::new(server);
            let mut line = String::new();
            w.write_all(b"{\"QMP\": {}}\n").unwrap();
            r.read_line(&mut line).unwrap(); // qmp_capabilities
            w.write_all(b"{\"return\": {}, \"id\": 1}\n").unwrap();
            line.clear();
            r.read_line(&mut line).unwrap(); // query-status
            w.write_all(b"{\"event\": \"STOP\", \"data\": {}}\n{\"event\": \"JOB_STATUS_CHANGE\", \"data\": {\"id\": \"a\", \"status\": \"running\"}}\n").unwrap();
            w.write_all(b"{\"event\": \"JOB_STATUS_CHANGE\", \"data\": {\"id\": \"a\", \"status\": \"concluded\"}}\n").unwrap();
            w.write_all(b"{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": 2}\n").unwrap();
            // Half an event, a pause longer than the client's wait, the rest.
            w.write_all(b"{\"event\": \"RESUME\", ").unwrap();
            std::thread::sleep(Duration::from_millis(300));
            w.write_all(b"\"data\": {}}\n").unwrap();
            line.clear();
            let _ = r.read_line(&mut line); // until the client hangs up
        });
        let mut q = Qmp::negotiate(client, Duration::from_secs(60)).unwrap();
        q.subscribe(&["JOB_STATUS_CHANGE", "RESUME"]);
        assert_eq!(q.status().unwrap(), ("running".to_owned(), true));
        let concluded = |e: &Json| e.get("data").and_then(|d| d.get("status")).and_then(Json::as_str) == Some("concluded");
        let e = q.next_event(Duration::from_secs(60), concluded).unwrap().unwrap();
        assert_eq!(e.get("event").and_then(Json::as_str), Some("JOB_STATUS_CHANGE"));
        let is_resume = |e: &Json| e.get("event").and_then(Json::as_str) == Some("RESUME");
        assert!(q.next_event(Duration::from_millis(20), is_resume).unwrap().is_none());
        assert!(q.next_event(Duration::from_secs(60), is_resume).unwrap().is_some());
        // Left: the `running` change (STOP was never subscribed).
        let left = q.take_events();
        assert_eq!(left.len(), 1, "{left:?}");
        drop(q);
        peer.join().unwrap();
    }
}

//! QMP client over the guest's unix socket. Every call has a deadline; a
//! peer that answers garbage or too much gets an error, never a hang.
//!
//! QEMU serves one QMP client per socket at a time, so each driver
//! operation opens a short-lived connection (while holding the domain
//! lock) and drops it when done. That is also how a later process
//! re-attaches to a running guest.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::json::{self, Json};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

const DOM: ErrorDomain = ErrorDomain::Qemu;
/// Default deadline for one QMP command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_LINE: usize = 16 << 20;

/// One negotiated QMP connection.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
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
        stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| io_err("socket", &e))?;
        stream.set_write_timeout(Some(Duration::from_secs(10))).map_err(|e| io_err("socket", &e))?;
        let writer = stream.try_clone().map_err(|e| io_err("socket", &e))?;
        let mut q = Qmp { reader: BufReader::new(stream), writer, next_id: 1 };
        let greeting = q.read_msg(Instant::now() + Duration::from_secs(10))?;
        if greeting.get("QMP").is_none() {
            return Err(Error::internal(DOM, "QMP greeting missing"));
        }
        q.execute("qmp_capabilities", None)?;
        Ok(q)
    }

    fn read_msg(&mut self, deadline: Instant) -> Result<Json> {
        let mut line = String::new();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(ErrorCode::OperationTimeout, DOM, "timed out waiting for a QMP reply"));
            }
            let left = (deadline - now).max(Duration::from_millis(1));
            self.reader.get_ref().set_read_timeout(Some(left)).map_err(|e| io_err("socket", &e))?;
            match self.reader.read_line(&mut line) {
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
                return Err(Error::internal(DOM, "QMP reply too large"));
            }
        }
        json::parse(line.trim()).map_err(|e| Error::internal(DOM, format!("malformed QMP reply: {e}")))
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
        let mut m = vec![("execute", Json::str(cmd)), ("id", Json::Num(id as f64, id.to_string()))];
        if let Some(a) = args {
            m.push(("arguments", a));
        }
        let mut text = Json::obj(m).to_string_compact();
        text.push('\n');
        self.writer.write_all(text.as_bytes()).map_err(|e| io_err("write", &e))?;
        Ok(id)
    }

    /// Waits for the reply to the command [`Self::send`] returned `id` for.
    pub fn wait(&mut self, id: u64, cmd: &str, timeout: Duration) -> Result<Json> {
        let deadline = Instant::now() + timeout;
        loop {
            let msg = self.read_msg(deadline)?;
            if msg.get("event").is_some() {
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
        let r = self.execute_timeout("human-monitor-command", Some(Json::obj([("command-line", Json::str(line))])), timeout)?;
        Ok(r.as_str().unwrap_or("").to_owned())
    }

    /// `query-status` → (status string, running).
    pub fn status(&mut self) -> Result<(String, bool)> {
        let r = self.execute("query-status", None)?;
        let status = r.get("status").and_then(Json::as_str).unwrap_or("unknown").to_owned();
        let running = r.get("running").and_then(Json::as_bool).unwrap_or(false);
        Ok((status, running))
    }
}

//! Running VBoxManage: the command comes from `VIRSNAP_VBOXMANAGE` (a
//! command line split on whitespace, e.g. a chroot wrapper), else
//! `VBoxManage` on PATH. Every call has a timeout; stdout and stderr are
//! captured separately (progress goes to stderr).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorCode, ErrorDomain, Result};

use super::parse::{parse_error, VboxError, NO_SNAPSHOTS};

const V: ErrorDomain = ErrorDomain::Vbox;

/// Environment variable naming the VBoxManage command line.
pub const ENV_COMMAND: &str = "VIRSNAP_VBOXMANAGE";
/// Environment variable overriding the per-call timeout, in seconds.
pub const ENV_TIMEOUT: &str = "VIRSNAP_VBOXMANAGE_TIMEOUT";
/// Environment variable: directory that VBoxManage's file paths are relative
/// to (a chroot). Defaults to ROOT when the command is `chroot ROOT …`.
pub const ENV_ROOT: &str = "VIRSNAP_VBOX_ROOT";

/// What one VBoxManage run printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit status (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// True for "This machine does not have any snapshots" (exit 1).
    pub fn is_no_snapshots(&self) -> bool {
        self.code != 0 && (self.stdout.contains(NO_SNAPSHOTS) || self.stderr.contains(NO_SNAPSHOTS))
    }

    /// The parsed `VBoxManage: error:` lines.
    pub fn error(&self) -> VboxError {
        parse_error(&self.stderr)
    }
}

/// Receives the percentages VBoxManage prints on stderr (`0%...10%...`).
pub type PercentFn = std::sync::Arc<dyn Fn(u32) + Send + Sync>;

/// Something that runs VBoxManage with arguments (fakeable in tests).
pub trait Runner: Send + Sync {
    /// Runs VBoxManage with `args`; `Err` only when it could not run at all.
    fn run(&self, args: &[String]) -> Result<Output>;
    /// Like [`Runner::run`], reporting progress as it is printed.
    fn run_with_progress(&self, args: &[String], progress: Option<PercentFn>) -> Result<Output> {
        let out = self.run(args)?;
        if let Some(p) = progress {
            percentages(&out.stderr).into_iter().for_each(|n| p(n));
        }
        Ok(out)
    }
    /// Directory the hypervisor's file paths are relative to, if any.
    fn file_root(&self) -> Option<std::path::PathBuf> {
        None
    }
}

/// Runs a real command line.
#[derive(Debug, Clone)]
pub struct CommandRunner {
    argv: Vec<String>,
    timeout: Duration,
    root: Option<std::path::PathBuf>,
}

impl CommandRunner {
    /// From `VIRSNAP_VBOXMANAGE` (else `VBoxManage`), `VIRSNAP_VBOXMANAGE_TIMEOUT`
    /// (default 600 s) and `VIRSNAP_VBOX_ROOT`.
    pub fn from_env() -> Self {
        let line = std::env::var(ENV_COMMAND).ok().filter(|s| !s.trim().is_empty());
        let argv: Vec<String> = match &line {
            Some(l) => l.split_whitespace().map(str::to_owned).collect(),
            None => vec!["VBoxManage".to_owned()],
        };
        let timeout = std::env::var(ENV_TIMEOUT)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|&s| s > 0)
            .map_or(Duration::from_secs(600), Duration::from_secs);
        let root = std::env::var(ENV_ROOT)
            .ok()
            .filter(|s| !s.is_empty())
            .map(std::path::PathBuf::from)
            .or_else(|| chroot_root(&argv));
        Self { argv, timeout, root }
    }

    /// Whether the program exists (a path, or a name found on PATH).
    pub fn program_found(&self) -> bool {
        let Some(prog) = self.argv.first() else { return false };
        let p = std::path::Path::new(prog);
        if p.components().count() > 1 {
            return p.is_file();
        }
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(prog).is_file()))
    }

    /// The program (first word of the command line).
    pub fn program(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }

    /// An explicit command line.
    pub fn new(argv: Vec<String>, timeout: Duration) -> Self {
        let root = chroot_root(&argv);
        Self { argv, timeout, root }
    }
}

/// ROOT of a `chroot [OPTIONS] ROOT …` command line.
fn chroot_root(argv: &[String]) -> Option<std::path::PathBuf> {
    let first = argv.first()?;
    if std::path::Path::new(first).file_name()? != "chroot" {
        return None;
    }
    argv.iter().skip(1).find(|a| !a.starts_with('-')).map(std::path::PathBuf::from)
}

/// The percentages in VBoxManage's progress text (`0%...10%...100%`).
pub fn percentages(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in text.split('%').collect::<Vec<_>>().iter().rev().skip(1).rev() {
        let digits: String = part.chars().rev().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.chars().rev().collect::<String>().parse::<u32>() {
            if n <= 100 {
                out.push(n);
            }
        }
    }
    out
}

fn drain(mut r: impl Read + Send + 'static, progress: Option<PercentFn>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 512];
        let mut reported = 0;
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if let Some(p) = &progress {
                // Report only complete "NN%" tokens not reported yet.
                if let Some(end) = buf.iter().rposition(|&b| b == b'%') {
                    let text = String::from_utf8_lossy(&buf[..=end]);
                    let all = percentages(&text);
                    for &pct in all.iter().skip(reported) {
                        p(pct);
                    }
                    reported = all.len().max(reported);
                }
            }
        }
        buf
    })
}

/// The crash point of a VBoxManage call that changes the machine (the
/// read-only ones have none).
fn changing_call(args: &[String]) -> Option<&'static str> {
    let a = |i: usize| args.get(i).map_or("", String::as_str);
    match (a(0), a(2)) {
        ("snapshot", "take") => Some("vbox-during-take"),
        ("snapshot", "delete") => Some("vbox-during-delete"),
        ("snapshot", "restore" | "restorecurrent") => Some("vbox-during-restore"),
        ("snapshot", "edit") => Some("vbox-during-edit"),
        ("unregistervm", _) => Some("vbox-during-unregistervm"),
        ("registervm", _) => Some("vbox-during-registervm"),
        _ => None,
    }
}

/// VBoxManage could not reach VBoxSVC (it was starting or shutting down,
/// e.g. two clients racing its `--auto-shutdown` restart): nothing was done,
/// so the command can be run again.
fn no_server(out: &Output) -> bool {
    out.code != 0 && out.stderr.contains("Failed to create the VirtualBox object")
}

impl Runner for CommandRunner {
    fn run(&self, args: &[String]) -> Result<Output> {
        self.run_with_progress(args, None)
    }

    fn run_with_progress(&self, args: &[String], progress: Option<PercentFn>) -> Result<Output> {
        let mut attempt = 0;
        loop {
            let out = self.run_once(args, progress.clone())?;
            attempt += 1;
            if !no_server(&out) || attempt >= 8 {
                return Ok(out);
            }
            std::thread::sleep(Duration::from_millis(500 * attempt));
        }
    }

    fn file_root(&self) -> Option<std::path::PathBuf> {
        self.root.clone()
    }
}

impl CommandRunner {
    fn run_once(&self, args: &[String], progress: Option<PercentFn>) -> Result<Output> {
        let (prog, pre) = self
            .argv
            .split_first()
            .ok_or_else(|| Error::internal(V, format!("{ENV_COMMAND} is empty")))?;
        let mut child = Command::new(prog)
            .args(pre)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::system(V, format!("cannot run VBoxManage ({prog})"), &e))?;
        let out = child.stdout.take().map(|r| drain(r, None));
        let err = child.stderr.take().map(|r| drain(r, progress));
        if let Some(point) = changing_call(args) {
            // Dies while VBoxManage works, as `kill -9` of this process would.
            crate::store::crash_point(point);
        }
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if start.elapsed() < self.timeout => std::thread::sleep(Duration::from_millis(10)),
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::new(
                        ErrorCode::OperationTimeout,
                        V,
                        format!("VBoxManage {} did not finish in {} s", args.join(" "), self.timeout.as_secs()),
                    ));
                }
                Err(e) => return Err(Error::system(V, "waiting for VBoxManage", &e)),
            }
        };
        let text = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
            h.and_then(|h| h.join().ok()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
        };
        Ok(Output { code: status.code().unwrap_or(-1), stdout: text(out), stderr: text(err) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_percentages() {
        assert_eq!(percentages("0%...10%...20%...100%"), [0, 10, 20, 100]);
        assert_eq!(percentages("VBoxManage: error: 5 x"), Vec::<u32>::new());
        assert_eq!(percentages("0%...1"), [0]);
    }
}

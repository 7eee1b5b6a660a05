//! Starting, finding and stopping `qemu-system-x86_64` processes.
//!
//! A guest runs daemonised (`-daemonize`) with a pidfile and a QMP unix
//! socket in the run directory, so it outlives the process that started it;
//! any later process finds it again through the pidfile (checked against
//! `/proc/PID/cmdline`, so a recycled pid is not mistaken for the guest) and
//! talks to it through the socket.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::domxml::DomainDef;
use super::qmp::Qmp;
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

const DOM: ErrorDomain = ErrorDomain::Qemu;

/// Where one guest's runtime files live.
#[derive(Debug, Clone)]
pub struct RunFiles {
    /// `NAME.pid`
    pub pidfile: PathBuf,
    /// `NAME.qmp` (QMP socket)
    pub qmp: PathBuf,
    /// `NAME.log` (QEMU's stderr)
    pub log: PathBuf,
}

impl RunFiles {
    /// The files for domain `name` under `run_dir`.
    pub fn new(run_dir: &Path, name: &str) -> Self {
        Self {
            pidfile: run_dir.join(format!("{name}.pid")),
            qmp: run_dir.join(format!("{name}.qmp")),
            log: run_dir.join(format!("{name}.log")),
        }
    }
}

/// True when KVM can be used (`/dev/kvm` opens read-write).
pub fn kvm_usable() -> bool {
    if std::env::var("VIRSNAP_QEMU_ACCEL").is_ok_and(|v| v == "tcg") {
        return false;
    }
    OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok()
}

fn proc_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            // Field 3 (after the parenthesised comm) is the state; Z/X = dead.
            let state = s.rsplit_once(')').and_then(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some('Z' | 'X') | None)
        }
        Err(_) => false,
    }
}

/// The pid of the guest using `files`, when it runs.
pub fn running_pid(files: &RunFiles) -> Option<u32> {
    let pid: u32 = super::read_small(&files.pidfile)?.trim().parse().ok()?;
    if !proc_alive(pid) {
        return None;
    }
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let want = files.qmp.to_string_lossy();
    let hit = cmdline.split(|b| *b == 0).any(|arg| String::from_utf8_lossy(arg).contains(want.as_ref()));
    hit.then_some(pid)
}

/// Options for one start.
#[derive(Debug, Clone, Default)]
pub struct StartOpts {
    /// `-loadvm TAG`
    pub loadvm: Option<String>,
    /// Use KVM.
    pub kvm: bool,
}

fn drive_args(def: &DomainDef, args: &mut Vec<String>) {
    for d in &def.disks {
        let mut drive = format!("file={},format={},if=none,id=drive-{}", d.source.display(), d.format, d.target);
        if d.readonly {
            drive.push_str(",readonly=on");
        }
        args.push("-drive".into());
        args.push(drive);
        args.push("-device".into());
        if d.bus == "ide" {
            let idx = d.target.as_bytes().get(2).map_or(0, |c| c.saturating_sub(b'a')) as u32;
            args.push(format!("ide-hd,drive=drive-{t},id={t},bus=ide.{},unit={}", idx / 2, idx % 2, t = d.target));
        } else {
            args.push(format!("virtio-blk-pci,drive=drive-{t},id={t}", t = d.target));
        }
    }
}

/// The command line for `def`.
pub fn command_line(def: &DomainDef, files: &RunFiles, opts: &StartOpts) -> Vec<String> {
    let accel = if opts.kvm { "kvm" } else { "tcg" };
    let mib = def.memory_kib.div_ceil(1024).max(16);
    let mut a: Vec<String> = vec![
        "-name".into(),
        format!("guest={},debug-threads=on", def.name.replace(',', ",,")),
        "-uuid".into(),
        def.uuid.to_string(),
        "-machine".into(),
        format!("{},accel={accel}", def.machine),
        "-m".into(),
        format!("{mib}"),
        "-smp".into(),
        def.vcpus.to_string(),
        "-nodefaults".into(),
        "-no-user-config".into(),
        "-display".into(),
        "none".into(),
        "-S".into(),
        "-daemonize".into(),
        "-pidfile".into(),
        files.pidfile.to_string_lossy().into_owned(),
        "-qmp".into(),
        format!("unix:{},server=on,wait=off", files.qmp.display()),
    ];
    if def.on[0] == "preserve" || def.on[2] == "preserve" {
        a.push("-no-shutdown".into());
    }
    if def.on[1] == "destroy" {
        a.push("-no-reboot".into());
    }
    drive_args(def, &mut a);
    if let Some(tag) = &opts.loadvm {
        a.push("-loadvm".into());
        a.push(tag.clone());
    }
    a
}

/// Starts `def` paused (`-S`); returns the pid. The caller resumes it.
pub fn start(def: &DomainDef, files: &RunFiles, opts: &StartOpts) -> Result<u32> {
    if files.qmp.as_os_str().len() >= 100 {
        return Err(Error::config_unsupported(DOM, format!("QMP socket path '{}' is too long", files.qmp.display())));
    }
    if let Some(dir) = files.qmp.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::system(DOM, format!("cannot create '{}'", dir.display()), &e))?;
    }
    let _ = fs::remove_file(&files.qmp);
    let _ = fs::remove_file(&files.pidfile);
    // Appended to as libvirt does, but never through a planted symlink and
    // only when it is a regular file.
    let log = {
        use std::os::unix::fs::OpenOptionsExt as _;
        OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&files.log)
            .and_then(|f| {
                if f.metadata()?.file_type().is_file() {
                    Ok(f)
                } else {
                    Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"))
                }
            })
            .map_err(|e| Error::system(DOM, format!("cannot open log '{}'", files.log.display()), &e))?
    };
    let log2 = log.try_clone().map_err(|e| Error::system(DOM, "cannot open log", &e))?;
    let args = command_line(def, files, opts);
    let out = Command::new(&def.emulator)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .status()
        .map_err(|e| Error::new(ErrorCode::OperationFailed, DOM, format!("cannot run {}: {e}", def.emulator)))?;
    if !out.success() {
        let text = crate::fsio::read_regular_string(&files.log, 16 * 1024 * 1024).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Error::new(
            ErrorCode::OperationFailed,
            DOM,
            format!("internal error: process exited while connecting to monitor: {}", tail.join(" ")),
        ));
    }
    // libvirt waits 30 s for the monitor (QEMU_DEFAULT_MONITOR_WAIT); a TCG
    // guest on a loaded 2-core machine can need more than the 10 s used before.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(pid) = running_pid(files) {
            if files.qmp.exists() {
                return Ok(pid);
            }
        }
        if Instant::now() > deadline {
            return Err(Error::new(ErrorCode::OperationFailed, DOM, "QEMU did not come up"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while proc_alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// Stops the guest: QMP `quit`, then SIGKILL if it lingers. Removes the runtime files.
pub fn stop(files: &RunFiles) -> Result<()> {
    if let Some(pid) = running_pid(files) {
        let quit_ok = Qmp::connect(&files.qmp).and_then(|mut q| q.execute("quit", None)).is_ok();
        if !quit_ok || !wait_gone(pid, Duration::from_secs(3)) {
            // Checked by wait_gone below: the process being gone is what counts.
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).stderr(Stdio::null()).status();
            if !wait_gone(pid, Duration::from_secs(5)) {
                return Err(Error::new(ErrorCode::OperationFailed, DOM, format!("failed to kill QEMU process {pid}")));
            }
        }
    }
    let _ = fs::remove_file(&files.qmp);
    let _ = fs::remove_file(&files.pidfile);
    Ok(())
}

//! Helpers shared by the VirtualBox tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use virsnap_core::Connection;

/// The captured VirtualBox 7.2.22 output the repository keeps
/// (tests/vbox/transcripts, see its README).
pub fn conformance() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vbox/transcripts")
}

/// libvirt's `.vbox` test files (core/tests/data/libvirt-vbox).
pub fn libvirt_vbox_files() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/libvirt-vbox")
}

/// The five `.vbox` files of [`libvirt_vbox_files`] (not its README).
pub fn libvirt_vbox_file_list() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(libvirt_vbox_files())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "vbox"))
        .collect();
    v.sort();
    v
}

pub fn transcripts() -> PathBuf {
    conformance().join("vbox72-cli/transcripts")
}

pub fn after_step(step: &str) -> PathBuf {
    conformance().join("vbox72-cli/vbox-after-step").join(format!("{step}.vbox"))
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A fresh scratch directory.
pub fn scratch(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!("virsnap-vbox-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Serialises the environment changes of `open_with`.
pub static ENV: Mutex<()> = Mutex::new(());

/// Opens `vbox:///session` with `VIRSNAP_VBOXMANAGE=command` (and optionally
/// `VIRSNAP_VBOX_ROOT`), read once at open.
pub fn open_with(command: &str, root: Option<&Path>) -> Connection {
    let _g = ENV.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // SAFETY: tests change the environment only under ENV, and the driver
    // reads it only in Connection::open, also under ENV.
    unsafe {
        std::env::set_var("VIRSNAP_VBOXMANAGE", command);
        match root {
            Some(r) => std::env::set_var("VIRSNAP_VBOX_ROOT", r),
            None => std::env::remove_var("VIRSNAP_VBOX_ROOT"),
        }
    }
    Connection::open(Some("vbox:///session")).expect("open vbox:///session")
}

/// A connection whose VBoxManage is the replay stand-in, starting in the
/// state VirtualBox had after step `start` (`None`: before step 01).
pub struct Replay {
    pub conn: Connection,
    pub state: PathBuf,
    pub dir: PathBuf,
}

impl Replay {
    pub fn new(start: Option<&str>) -> Self {
        let dir = scratch("replay");
        let state = dir.join("state");
        std::fs::write(&state, start.unwrap_or("")).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vbox/replay.py");
        let cmd = format!("python3 {} {} {}", script.display(), transcripts().display(), state.display());
        let conn = open_with(&cmd, None);
        Self { conn, state, dir }
    }

    /// The calls made so far: (argv, step answered or "NONE").
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.state.with_extension("log"))
            .or_else(|_| std::fs::read_to_string(format!("{}.log", self.state.display())))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The step the replay is at.
    pub fn at(&self) -> String {
        std::fs::read_to_string(&self.state).unwrap_or_default().trim().to_owned()
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The VirtualBox chroot built by tests/vbox/build-chroot.sh
/// (`VIRSNAP_VBOX_CHROOT`, default /var/cache/virsnap/vbox-chroot); always
/// `Some`, panics when it is not usable (the tests are ignored where
/// build.rs found no chroot).
pub fn chroot(what: &str) -> Option<PathBuf> {
    let root = PathBuf::from(std::env::var("VIRSNAP_VBOX_CHROOT").unwrap_or_else(|_| "/var/cache/virsnap/vbox-chroot".into()));
    let why = if !root.join(".virsnap-ready").exists() {
        Some(format!("no VirtualBox chroot at {} (run tests/vbox/build-chroot.sh)", root.display()))
    } else if !root.join("proc/self").exists() {
        Some(format!("{}/proc is not mounted (run tests/vbox/build-chroot.sh)", root.display()))
    } else if !root.join("usr/lib/virtualbox/VBoxManage").exists() {
        Some(format!("no VBoxManage in {}", root.display()))
    } else {
        None
    };
    if let Some(w) = why {
        panic!("{what}: the VirtualBox chroot is required: {w}");
    }
    Some(root)
}

/// Runs VBoxManage inside the chroot `root`: (exit code, stdout, stderr).
/// Retries while VBoxSVC is restarting (auto-shutdown race: nothing was done).
pub fn vbm_in(root: &Path, args: &[&str]) -> (i32, String, String) {
    let mut attempt = 1;
    loop {
        let o = std::process::Command::new("chroot")
            .arg(root)
            .args(["env", "HOME=/root", "/usr/lib/virtualbox/VBoxManage"])
            .args(args)
            .output()
            .unwrap();
        let r: (i32, String, String) = (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into(), String::from_utf8_lossy(&o.stderr).into());
        if r.0 != 0 && r.2.contains("Failed to create the VirtualBox object") && attempt < 10 {
            std::thread::sleep(std::time::Duration::from_millis(500 * attempt));
            attempt += 1;
            continue;
        }
        return r;
    }
}

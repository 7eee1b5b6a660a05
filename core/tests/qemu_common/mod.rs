//! Shared helpers for the real-QEMU tests: require QEMU, a temporary root
//! whose guests are killed on drop (even when a test fails).
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use virsnap_core::Connection;

/// Requires qemu-system-x86_64 and qemu-img; always `false` (it never
/// skips). A test calling it carries `#[cfg_attr(virsnap_no_qemu, ignore)]`,
/// so it runs only where build.rs found QEMU (or under
/// `VIRSNAP_REQUIRE_ALL=1`), and a missing tool is then a failure.
pub fn skip() -> bool {
    for bin in ["qemu-system-x86_64", "qemu-img"] {
        let ok = Command::new(bin).arg("--version").output().is_ok_and(|o| o.status.success());
        assert!(ok, "{bin} is required and not installed");
    }
    false
}

/// A temporary embed root; kills its guests and removes itself on drop.
pub struct Root {
    pub dir: PathBuf,
}

impl Root {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("vsq-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Root { dir }
    }

    pub fn uri(&self) -> String {
        format!("qemu:///embed?root={}", self.dir.display())
    }

    pub fn conn(&self) -> Connection {
        Connection::open(Some(&self.uri())).unwrap()
    }

    /// Creates a qcow2 image and returns its path.
    pub fn image(&self, name: &str) -> PathBuf {
        let p = self.dir.join(name);
        let st = Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&p).arg("16M").status().unwrap();
        assert!(st.success());
        p
    }

    /// Domain XML for `name` with one qcow2 disk at `img`.
    pub fn domain_xml(name: &str, img: &Path) -> String {
        format!(
            "<domain type='qemu'><name>{name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
             <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{}'/>\
             <target dev='vda' bus='virtio'/></disk></devices></domain>",
            img.display()
        )
    }

    /// Tags in the image (`qemu-img snapshot -l`).
    pub fn tags(img: &Path) -> Vec<String> {
        let out = Command::new("qemu-img").args(["snapshot", "-U", "-l"]).arg(img).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut tags: Vec<String> =
            text.lines().skip(2).filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned)).collect();
        tags.sort();
        tags
    }

    pub fn kill_guests(&self) {
        let run = self.dir.join("run/qemu");
        if let Ok(rd) = std::fs::read_dir(&run) {
            for e in rd.flatten() {
                if e.path().extension().is_some_and(|x| x == "pid") {
                    if let Ok(pid) = std::fs::read_to_string(e.path()) {
                        let _ = Command::new("kill").args(["-9", pid.trim()]).stderr(std::process::Stdio::null()).status();
                    }
                }
            }
        }
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        self.kill_guests();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

//! `qemu:///session`: definitions and snapshot metadata under
//! `$XDG_CONFIG_HOME/libvirt/qemu`, runtime files under
//! `$XDG_RUNTIME_DIR/libvirt/qemu/run`. The test re-runs itself with both
//! pointed at a temporary directory (setting the environment in-process
//! would be unsafe with other threads around).
#![allow(clippy::unwrap_used)]

mod qemu_common;

use std::path::PathBuf;

use qemu_common::{skip, Root};
use virsnap_core::model::DomainState;
use virsnap_core::Connection;

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn session_uri_uses_xdg_dirs() {
    if skip() {
        return;
    }
    if let Ok(dir) = std::env::var("VSQ_SESSION_DIR") {
        return child(PathBuf::from(dir));
    }
    let root = Root::new("session");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "session_uri_uses_xdg_dirs", "--nocapture", "--test-threads=1"])
        .env("XDG_CONFIG_HOME", root.dir.join("cfg"))
        .env("XDG_RUNTIME_DIR", root.dir.join("rt"))
        .env("VSQ_SESSION_DIR", &root.dir)
        .status()
        .unwrap();
    // Kill a guest a failed child may have left.
    if let Ok(pid) = std::fs::read_to_string(root.dir.join("rt/libvirt/qemu/run/vm.pid")) {
        let _ = std::process::Command::new("kill").args(["-9", pid.trim()]).stderr(std::process::Stdio::null()).status();
    }
    assert!(status.success());
    assert!(root.dir.join("cfg/libvirt/qemu/snapshot/vm/s.xml").exists());
}

fn child(dir: PathBuf) {
    let img = dir.join("vm.qcow2");
    assert!(std::process::Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&img).arg("16M").status().unwrap().success());
    let conn = Connection::open(Some("qemu:///session")).unwrap();
    let dom = conn.define_xml(&Root::domain_xml("vm", &img), 0).unwrap();
    dom.create(0).unwrap();
    dom.snapshot_create_xml("<domainsnapshot><name>s</name></domainsnapshot>", 0).unwrap();
    assert!(dir.join("cfg/libvirt/qemu/vm.xml").exists());
    assert!(dir.join("rt/libvirt/qemu/run/vm.pid").exists());
    dom.destroy(0).unwrap();
    assert_eq!(dom.state(0).unwrap().0, DomainState::Shutoff);
}

//! Real qcow2 chains: revert to and delete external (DISK_ONLY) snapshots,
//! offline and on a running guest. Disk content is checked with `qemu-io`
//! patterns, so "no data lost" means the bytes, not just the file names.
#![allow(clippy::unwrap_used)]

mod qemu_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use qemu_common::{skip, Root};
use virsnap_core::flags::{create, delete, revert};
use virsnap_core::model::{reason, DomainState};
use virsnap_core::Domain;

fn have_qemu_io() -> bool {
    // Required: the tests are ignored where build.rs found no qemu-io.
    let ok = Command::new("qemu-io").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(ok, "qemu-io is required and not installed");
    ok
}

/// Writes byte `pat` over the first 64 KiB of the image at `p`.
fn write(p: &Path, pat: u8) {
    let st = Command::new("qemu-io").args(["-c", &format!("write -P {pat} 0 64k")]).arg(p).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
}

/// True when the first 64 KiB of `p` (through its backing chain) are `pat`.
fn reads(p: &Path, pat: u8) -> bool {
    let o = Command::new("qemu-io").args(["-r", "-U", "-c", &format!("read -P {pat} 0 64k")]).arg(p).output().unwrap();
    o.status.success() && !String::from_utf8_lossy(&o.stdout).contains("verification failed")
}

/// The domain's (persistent) disk source.
fn disk(dom: &Domain) -> PathBuf {
    let x = dom.xml_desc(virsnap_core::flags::domain::XML_INACTIVE).unwrap();
    let i = x.find("<source file='").unwrap() + "<source file='".len();
    PathBuf::from(&x[i..i + x[i..].find('\'').unwrap()])
}

fn files(root: &Root) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(&root.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("vm."))
        .collect();
    v.sort();
    v
}

fn snap(dom: &Domain, name: &str) -> virsnap_core::Snapshot {
    dom.snapshot_lookup_by_name(name, 0).unwrap()
}

#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-system-x86_64 and qemu-img; qemu-io")]
fn offline_revert_and_delete_keep_every_state() {
    if skip() || !have_qemu_io() {
        return;
    }
    let root = Root::new("xoff");
    let base = root.image("vm.qcow2");
    let conn = root.conn();
    let dom = conn.define_xml(&Root::domain_xml("vm", &base), 0).unwrap();
    write(&base, 1);
    dom.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>", create::DISK_ONLY).unwrap();
    assert_eq!(disk(&dom), root.dir.join("vm.s1"));
    write(&disk(&dom), 2);
    dom.snapshot_create_xml("<domainsnapshot><name>s2</name></domainsnapshot>", create::DISK_ONLY).unwrap();
    assert_eq!(disk(&dom), root.dir.join("vm.s2"));
    write(&disk(&dom), 3);

    // Revert to s1: vm.s1 is s2's base, so a new overlay vm.s1-1 on vm.qcow2;
    // vm.s2 (only the discarded current state) goes.
    snap(&dom, "s1").revert(0).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Shutoff, reason::SHUTOFF_FROM_SNAPSHOT));
    assert_eq!(disk(&dom), root.dir.join("vm.s1-1"));
    assert!(reads(&disk(&dom), 1));
    assert_eq!(files(&root), ["vm.qcow2", "vm.s1", "vm.s1-1"]);
    assert!(reads(&root.dir.join("vm.s1"), 2), "s2's state survives");
    assert_eq!(dom.snapshot_current(0).unwrap().name().as_ref(), "s1");

    // Revert to s2 (its overlay vm.s2 is free again); vm.s1-1 goes.
    snap(&dom, "s2").revert(0).unwrap();
    assert_eq!(disk(&dom), root.dir.join("vm.s2"));
    assert!(reads(&disk(&dom), 2));
    assert_eq!(files(&root), ["vm.qcow2", "vm.s1", "vm.s2"]);

    // And back to s1 again: it stays revertible.
    snap(&dom, "s1").revert(0).unwrap();
    assert!(reads(&disk(&dom), 1));
    write(&disk(&dom), 4);

    // Delete s2: nothing of the domain's chain is s2's, so only s2's now
    // unneeded image vm.s1 goes.
    snap(&dom, "s2").delete(0).unwrap();
    assert_eq!(files(&root), ["vm.qcow2", "vm.s1-1"]);
    assert!(reads(&disk(&dom), 4));

    // Delete s1: its overlay is the domain's top: committed into vm.qcow2.
    snap(&dom, "s1").delete(0).unwrap();
    assert_eq!(disk(&dom), base);
    assert_eq!(files(&root), ["vm.qcow2"]);
    assert!(reads(&base, 4), "the current state was committed, not lost");
    assert!(dom.snapshot_list_names(0).unwrap().is_empty());
    // The guest boots on the result.
    dom.create(0).unwrap();
    assert_eq!(dom.state(0).unwrap().0, DomainState::Running);
}

#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-system-x86_64 and qemu-img; qemu-io")]
fn delete_children_commits_the_chain() {
    if skip() || !have_qemu_io() {
        return;
    }
    let root = Root::new("xchild");
    let base = root.image("vm.qcow2");
    let conn = root.conn();
    let dom = conn.define_xml(&Root::domain_xml("vm", &base), 0).unwrap();
    for (i, n) in ["a", "b", "c"].iter().enumerate() {
        write(&disk(&dom), i as u8 + 1);
        dom.snapshot_create_xml(&format!("<domainsnapshot><name>{n}</name></domainsnapshot>"), create::DISK_ONLY).unwrap();
    }
    write(&disk(&dom), 9);
    assert_eq!(files(&root), ["vm.a", "vm.b", "vm.c", "vm.qcow2"]);

    // CHILDREN_ONLY of b: c goes; the top (vm.c) is committed into vm.b,
    // which b still needs? No: b's state is vm.a, so vm.b is free to take it.
    snap(&dom, "b").delete(delete::CHILDREN_ONLY).unwrap();
    assert_eq!(disk(&dom), root.dir.join("vm.b"));
    assert_eq!(files(&root), ["vm.a", "vm.b", "vm.qcow2"]);
    assert!(reads(&disk(&dom), 9));
    assert!(reads(&root.dir.join("vm.a"), 2), "b's state untouched");
    snap(&dom, "b").revert(0).unwrap();
    assert!(reads(&disk(&dom), 2));
    write(&disk(&dom), 7);

    // CHILDREN of a: everything is merged into the original image.
    snap(&dom, "a").delete(delete::CHILDREN).unwrap();
    assert!(dom.snapshot_list_names(0).unwrap().is_empty());
    assert_eq!(disk(&dom), base);
    assert_eq!(files(&root), ["vm.qcow2"]);
    assert!(reads(&base, 7));
}

#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-system-x86_64 and qemu-img; qemu-io")]
fn internal_snapshot_in_an_overlay_pins_it() {
    if skip() || !have_qemu_io() {
        return;
    }
    let root = Root::new("xpin");
    let base = root.image("vm.qcow2");
    let conn = root.conn();
    let dom = conn.define_xml(&Root::domain_xml("vm", &base), 0).unwrap();
    write(&base, 1);
    dom.snapshot_create_xml("<domainsnapshot><name>e</name></domainsnapshot>", create::DISK_ONLY).unwrap();
    write(&disk(&dom), 2);
    // An internal snapshot inside the overlay vm.e.
    dom.snapshot_create_xml("<domainsnapshot><name>i</name></domainsnapshot>", 0).unwrap();
    write(&disk(&dom), 3);
    snap(&dom, "e").revert(0).unwrap();
    assert_eq!(disk(&dom), root.dir.join("vm.e-1"), "vm.e holds 'i': not reused");
    assert!(reads(&disk(&dom), 1));
    snap(&dom, "i").revert(0).unwrap();
    assert_eq!(disk(&dom), root.dir.join("vm.e"));
    assert!(reads(&disk(&dom), 2));
    // Deleting e: vm.e is needed by i, so no commit and no file removed.
    snap(&dom, "e").delete(0).unwrap();
    assert_eq!(files(&root), ["vm.e", "vm.qcow2"]);
    assert!(reads(&disk(&dom), 2));
    assert_eq!(dom.snapshot_list_names(0).unwrap(), ["i"]);
}

#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-system-x86_64 and qemu-img; qemu-io")]
fn running_guest_revert_and_delete() {
    if skip() || !have_qemu_io() {
        return;
    }
    let root = Root::new("xrun");
    let base = root.image("vm.qcow2");
    write(&base, 1);
    let conn = root.conn();
    let dom = conn.define_xml(&Root::domain_xml("vm", &base), 0).unwrap();
    dom.create(0).unwrap();
    let s = dom.snapshot_create_xml("<domainsnapshot><name>r1</name></domainsnapshot>", create::DISK_ONLY).unwrap();
    assert!(dom.xml_desc(0).unwrap().contains("vm.r1"));
    // Live delete: active block-commit into vm.qcow2; the guest keeps running.
    let id = conn.lookup_by_name("vm").unwrap().id();
    s.delete(0).unwrap();
    assert_eq!(dom.state(0).unwrap().0, DomainState::Running);
    assert_eq!(conn.lookup_by_name("vm").unwrap().id(), id);
    assert!(!dom.xml_desc(0).unwrap().contains("vm.r1"));
    assert_eq!(disk(&dom), base);
    assert_eq!(files(&root), ["vm.qcow2"]);

    // Live revert: QEMU is restarted on a fresh overlay.
    let s = dom.snapshot_create_xml("<domainsnapshot><name>r2</name></domainsnapshot>", create::DISK_ONLY).unwrap();
    s.revert(revert::RUNNING).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Running, reason::RUNNING_FROM_SNAPSHOT));
    assert!(dom.xml_desc(0).unwrap().contains("vm.r2"));
    s.revert(revert::PAUSED).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Paused, reason::PAUSED_FROM_SNAPSHOT));
    dom.destroy(0).unwrap();
    assert!(reads(&disk(&dom), 1));
    s.delete(0).unwrap();
    assert_eq!(files(&root), ["vm.qcow2"]);

    // Two live layers, CHILDREN delete: one active block-commit of both
    // overlays down into vm.qcow2 while the guest runs.
    dom.create(0).unwrap();
    for n in ["l1", "l2"] {
        dom.snapshot_create_xml(&format!("<domainsnapshot><name>{n}</name></domainsnapshot>"), create::DISK_ONLY).unwrap();
    }
    assert!(dom.xml_desc(0).unwrap().contains("vm.l2"));
    snap(&dom, "l1").delete(delete::CHILDREN).unwrap();
    assert_eq!(dom.state(0).unwrap().0, DomainState::Running);
    let live = dom.xml_desc(0).unwrap();
    assert!(live.contains(&format!("'{}'", base.display())), "{live}");
    assert_eq!(disk(&dom), base);
    assert_eq!(files(&root), ["vm.qcow2"]);
    dom.destroy(0).unwrap();
    assert!(reads(&base, 1));
}

/// The file QEMU runs disk `target` on (`query-block`).
fn qemu_file_of(dom: &Domain, target: &str) -> String {
    let out = dom.qemu_monitor_command(r#"{"execute":"query-block"}"#, 0, "virDomainQemuMonitorCommand").unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["return"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["device"] == format!("drive-{target}").as_str())
        .and_then(|b| b["inserted"]["file"].as_str())
        .unwrap_or_else(|| panic!("no {target} in {out}"))
        .to_owned()
}

/// A live external create over two disks where QEMU refuses the second
/// overlay (its directory does not exist) after it switched the first:
/// the create fails and the guest is switched back onto its first disk
/// (block-commit, its writes kept), the first overlay removed. Before, the
/// guest was left running on that overlay while its definition named the
/// base, and the overlay stayed behind.
#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn a_live_external_create_failing_on_a_later_disk_switches_the_guest_back() {
    if skip() {
        return;
    }
    let root = Root::new("xhalf");
    let (a, b) = (root.image("a.qcow2"), root.image("b.qcow2"));
    let xml = format!(
        "<domain type='qemu'><name>vm</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
         <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{}'/><target dev='vda' bus='virtio'/></disk>\
         <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{}'/><target dev='vdb' bus='virtio'/></disk>\
         </devices></domain>",
        a.display(),
        b.display()
    );
    let conn = root.conn();
    let dom = conn.define_xml(&xml, 0).unwrap();
    dom.create(0).unwrap();
    let ov = root.dir.join("ov-a.qcow2");
    let snap = format!(
        "<domainsnapshot><name>half</name><disks>\
         <disk name='vda' snapshot='external'><source file='{}'/></disk>\
         <disk name='vdb' snapshot='external'><source file='{}'/></disk></disks></domainsnapshot>",
        ov.display(),
        root.dir.join("no-such-dir/ov-b.qcow2").display()
    );
    assert!(dom.snapshot_create_xml(&snap, create::DISK_ONLY).is_err());
    assert_eq!(qemu_file_of(&dom, "vda"), a.display().to_string(), "the guest was left on the first overlay");
    assert_eq!(qemu_file_of(&dom, "vdb"), b.display().to_string());
    assert!(!ov.exists(), "the first overlay is left");
    assert_eq!(disk(&dom), a);
    assert!(dom.snapshot_list_names(0).unwrap().is_empty());
    assert_eq!(dom.state(0).unwrap().0, DomainState::Running);
    // Later creates work.
    dom.snapshot_create_xml("<domainsnapshot><name>ok</name></domainsnapshot>", create::DISK_ONLY).unwrap();
    dom.destroy(0).unwrap();
}

//! Real QEMU: lifecycle, re-attach from a second connection, internal
//! snapshots of running, paused and shut-off guests, revert across states,
//! delete, rename, NO_METADATA and reconciliation, HALT.
#![allow(clippy::unwrap_used)]

mod qemu_common;

use qemu_common::{skip, Root};
use virsnap_core::flags::{create, delete, list, revert};
use virsnap_core::model::{reason, DomainState};
use virsnap_core::{Connection, ErrorCode};

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn lifecycle_and_internal_snapshots() {
    if skip() {
        return;
    }
    let root = Root::new("life");
    let img = root.image("vm.qcow2");
    let conn = root.conn();
    assert_eq!(conn.type_name(), "QEMU");
    let dom = conn.define_xml(&Root::domain_xml("vm", &img), 0).unwrap();
    assert_eq!(dom.state(0).unwrap().0, DomainState::Shutoff);

    // Unsupported devices are refused, not dropped.
    let bad = Root::domain_xml("vm2", &img).replace("</devices>", "<interface type='network'><source network='default'/></interface></devices>");
    assert_eq!(conn.define_xml(&bad, 0).unwrap_err().code, ErrorCode::ConfigUnsupported);

    // Shut-off snapshot through qemu-img.
    let s0 = dom.snapshot_create_xml("<domainsnapshot><name>off0</name></domainsnapshot>", 0).unwrap();
    let x = s0.xml_desc(0).unwrap();
    assert!(x.contains("<state>shutoff</state>") && x.contains("<memory snapshot='no'/>"), "{x}");
    assert!(x.contains("<disk name='vda' snapshot='internal'/>"), "{x}");
    assert_eq!(Root::tags(&img), ["off0"]);

    dom.create(0).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Running, reason::RUNNING_BOOTED));

    // A second connection (as another process would) re-attaches through QMP.
    let conn2 = Connection::open(Some(&root.uri())).unwrap();
    let dom2 = conn2.lookup_by_name("vm").unwrap();
    assert!(dom2.id() > 0);
    dom2.suspend().unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Paused, reason::PAUSED_USER));
    dom2.resume().unwrap();
    assert_eq!(dom.state(0).unwrap().0, DomainState::Running);

    // Running snapshot: savevm.
    let s1 = dom.snapshot_create_xml("<domainsnapshot><name>run1</name><description>d</description></domainsnapshot>", 0).unwrap();
    let x = s1.xml_desc(0).unwrap();
    assert!(x.contains("<state>running</state>") && x.contains("<memory snapshot='internal'/>"), "{x}");
    assert!(x.contains("<parent>\n    <name>off0</name>"), "{x}");
    dom.suspend().unwrap();
    let s2 = dom.snapshot_create_xml("<domainsnapshot><name>pause2</name></domainsnapshot>", 0).unwrap();
    assert!(s2.xml_desc(0).unwrap().contains("<state>paused</state>"));
    assert_eq!(dom.state(0).unwrap().0, DomainState::Paused);
    assert_eq!(Root::tags(&img), ["off0", "pause2", "run1"]);
    assert_eq!(dom.snapshot_current(0).unwrap().name().as_ref(), "pause2");

    // Metadata files in libvirt's internal format.
    let meta = root.dir.join("lib/qemu/snapshot/vm/run1.xml");
    let text = std::fs::read_to_string(&meta).unwrap();
    assert!(text.starts_with("<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE."));
    assert!(text.contains("<active>0</active>"), "{text}");
    assert!(std::fs::read_to_string(root.dir.join("lib/qemu/snapshot/vm/pause2.xml")).unwrap().contains("<active>1</active>"));

    // Revert running <-> paused, and a new id each time (as libvirt's restart).
    let id_before = conn2.lookup_by_name("vm").unwrap().id();
    s1.revert(0).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Running, reason::RUNNING_FROM_SNAPSHOT));
    assert!(conn2.lookup_by_name("vm").unwrap().id() > id_before);
    s2.revert(0).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Paused, reason::PAUSED_FROM_SNAPSHOT));
    s2.revert(revert::RUNNING).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Running, reason::RUNNING_FROM_SNAPSHOT));
    s1.revert(revert::PAUSED).unwrap();
    assert_eq!(dom.state(0).unwrap().0, DomainState::Paused);

    // Revert a running guest to a shut-off snapshot stops it.
    s0.revert(0).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Shutoff, reason::SHUTOFF_FROM_SNAPSHOT));
    // ...and from shut off into a running snapshot starts it (-loadvm).
    s1.revert(0).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Running, reason::RUNNING_FROM_SNAPSHOT));
    // Shut-off snapshot with REVERT_PAUSED starts it paused (reason 'user',
    // as libvirt's qemu driver: the process is started paused).
    s0.revert(revert::PAUSED).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Paused, reason::PAUSED_USER));
    dom.resume().unwrap();

    // Delete while running (delvm), with children reparented.
    let names = |f| {
        let mut v = dom.snapshot_list_names(f).unwrap();
        v.sort();
        v
    };
    assert_eq!(names(0), ["off0", "pause2", "run1"]);
    s1.delete(0).unwrap();
    assert_eq!(Root::tags(&img), ["off0", "pause2"]);
    assert_eq!(s2.parent(0).unwrap().name().as_ref(), "off0");

    // Rename: metadata only, tag stays, revert still works.
    s2.rename("renamed", 0).unwrap();
    assert_eq!(Root::tags(&img), ["off0", "pause2"]);
    let r = dom.snapshot_lookup_by_name("renamed", 0).unwrap();
    // A fresh connection reads the one-file index, then the full definition on demand.
    let fresh = Connection::open(Some(&root.uri())).unwrap().lookup_by_name("vm").unwrap();
    let fx = fresh.snapshot_lookup_by_name("renamed", 0).unwrap().xml_desc(0).unwrap();
    assert!(fx.contains("<state>paused</state>") && fx.contains("<domain type='qemu'>") && fx.contains("<name>renamed</name>"), "{fx}");
    assert!(!fx.contains("light"), "{fx}");
    assert_eq!(fresh.snapshot_current(0).unwrap().name().as_ref(), "off0");
    r.revert(0).unwrap();
    assert!(!root.dir.join("lib/qemu/snapshot/vm/pause2.xml").exists());
    assert_eq!(names(0), ["off0", "renamed"]);

    // HALT: snapshot then stop.
    dom.resume().unwrap();
    let h = dom.snapshot_create_xml("<domainsnapshot><name>halt</name></domainsnapshot>", create::HALT).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Shutoff, reason::SHUTOFF_FROM_SNAPSHOT));
    assert!(h.xml_desc(0).unwrap().contains("<state>running</state>"));

    // NO_METADATA and snapshots made behind our back show up without metadata.
    dom.snapshot_create_xml("<domainsnapshot><name>nometa</name></domainsnapshot>", create::NO_METADATA).unwrap();
    let st = std::process::Command::new("qemu-img").args(["snapshot", "-c", "outside"]).arg(&img).status().unwrap();
    assert!(st.success());
    let conn3 = Connection::open(Some(&root.uri())).unwrap();
    let dom3 = conn3.lookup_by_name("vm").unwrap();
    let mut nm = dom3.snapshot_list_names(list::NO_METADATA).unwrap();
    nm.sort();
    assert_eq!(nm, ["nometa", "outside"]);
    assert!(!dom3.snapshot_lookup_by_name("outside", 0).unwrap().has_metadata(0).unwrap());
    dom3.snapshot_lookup_by_name("outside", 0).unwrap().revert(0).unwrap();

    // Delete with children, and METADATA_ONLY.
    let off0 = dom3.snapshot_lookup_by_name("off0", 0).unwrap();
    off0.delete(delete::CHILDREN).unwrap();
    let mut left = dom3.snapshot_list_names(0).unwrap();
    left.sort();
    assert_eq!(left, ["nometa", "outside"]);
    assert_eq!(Root::tags(&img), ["nometa", "outside"]);
    dom3.snapshot_lookup_by_name("nometa", 0).unwrap().delete(0).unwrap();
    assert_eq!(Root::tags(&img), ["outside"]);

    // Undefine needs SNAPSHOTS_METADATA while snapshots exist.
    dom3.snapshot_create_xml("<domainsnapshot><name>last</name></domainsnapshot>", 0).unwrap();
    assert_eq!(dom3.undefine(0).unwrap_err().code, ErrorCode::OperationInvalid);
    dom3.undefine(virsnap_core::flags::domain::UNDEFINE_SNAPSHOTS_METADATA).unwrap();
}

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn refuses_raw_internal_and_transient_halt() {
    if skip() {
        return;
    }
    let root = Root::new("raw");
    let raw = root.dir.join("raw.img");
    assert!(std::process::Command::new("qemu-img").args(["create", "-q", "-f", "raw"]).arg(&raw).arg("4M").status().unwrap().success());
    let conn = root.conn();
    let xml = Root::domain_xml("r", &raw).replace("type='qcow2'", "type='raw'");
    let dom = conn.define_xml(&xml, 0).unwrap();
    let e = dom.snapshot_create_xml("<domainsnapshot/>", 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{e:?}");
    assert!(e.message.contains("does not support snapshotting"), "{}", e.message);
    // External disk-only works on raw, offline: overlay with qemu-img.
    let s = dom.snapshot_create_xml("<domainsnapshot><name>ext</name></domainsnapshot>", create::DISK_ONLY).unwrap();
    let x = s.xml_desc(0).unwrap();
    assert!(x.contains("snapshot='external'") && x.contains(&format!("{}/raw.ext", root.dir.display())), "{x}");
    let dx = dom.xml_desc(0).unwrap();
    assert!(dx.contains("raw.ext") && dx.contains("type='qcow2'"), "{dx}");
    // Revert puts a fresh overlay on the raw image (the snapshot's state).
    s.revert(0).unwrap();
    assert!(dom.xml_desc(0).unwrap().contains("raw.ext"));
    s.delete(delete::METADATA_ONLY).unwrap();
    assert!(dom.snapshot_list_names(0).unwrap().is_empty());
}

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn external_disk_only_online_and_offline() {
    if skip() {
        return;
    }
    let root = Root::new("ext");
    let img = root.image("vm.qcow2");
    let conn = root.conn();
    let dom = conn.define_xml(&Root::domain_xml("vm", &img), 0).unwrap();
    dom.create(0).unwrap();
    // Online: blockdev-snapshot-sync; the guest keeps running on the overlay.
    let s = dom.snapshot_create_xml("<domainsnapshot><name>e1</name></domainsnapshot>", create::DISK_ONLY).unwrap();
    let x = s.xml_desc(0).unwrap();
    assert!(x.contains("<state>disk-snapshot</state>") && x.contains("snapshot='external'"), "{x}");
    let overlay = root.dir.join("vm.e1");
    assert!(overlay.exists());
    assert_eq!(dom.state(0).unwrap().0, DomainState::Running);
    let live = dom.xml_desc(0).unwrap();
    assert!(live.contains("vm.e1"), "{live}");
    let info = std::process::Command::new("qemu-img").args(["info", "-U"]).arg(&overlay).output().unwrap();
    assert!(String::from_utf8_lossy(&info.stdout).contains("backing file: "), "overlay has a backing file");
    assert_eq!(dom.snapshot_list_names(list::EXTERNAL | list::DISK_ONLY).unwrap(), ["e1"]);
    // Internal snapshots on an external chain are refused as mixing? No: a
    // later internal snapshot of the overlay is fine (it is qcow2).
    dom.destroy(0).unwrap();
    // Offline: qemu-img create -b.
    let s2 = dom.snapshot_create_xml("<domainsnapshot><name>e2</name></domainsnapshot>", create::DISK_ONLY).unwrap();
    assert!(s2.xml_desc(0).unwrap().contains("<state>shutoff</state>"));
    assert!(root.dir.join("vm.e2").exists());
    assert_eq!(s2.parent(0).unwrap().name().as_ref(), "e1");
    dom.create(0).unwrap();
    assert_eq!(dom.state(0).unwrap().0, DomainState::Running);
    // Revert to an external snapshot stops the guest and restarts it only when asked.
    s2.revert(0).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Shutoff, reason::SHUTOFF_FROM_SNAPSHOT));
    s.delete(delete::METADATA_ONLY | delete::CHILDREN).unwrap();
    assert!(dom.snapshot_list_names(0).unwrap().is_empty());
}

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn progress_is_reported() {
    if skip() {
        return;
    }
    let root = Root::new("prog");
    let img = root.image("vm.qcow2");
    let conn = root.conn();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    conn.set_progress(Some(std::sync::Arc::new(move |op: &str, pct: u32| s2.lock().unwrap().push(format!("{op}:{pct}")))));
    let dom = conn.define_xml(&Root::domain_xml("vm", &img), 0).unwrap();
    let s = dom.snapshot_create_xml("<domainsnapshot><name>p</name></domainsnapshot>", 0).unwrap();
    s.revert(0).unwrap();
    assert_eq!(*seen.lock().unwrap(), ["snapshot-create:0", "snapshot-create:100", "snapshot-revert:0", "snapshot-revert:100"]);
}

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn vanished_qcow2_snapshot_is_reported_not_dropped() {
    if skip() {
        return;
    }
    let root = Root::new("vanish");
    let img = root.image("vm.qcow2");
    let conn = root.conn();
    let dom = conn.define_xml(&Root::domain_xml("vm", &img), 0).unwrap();
    dom.snapshot_create_xml("<domainsnapshot><name>keep</name></domainsnapshot>", 0).unwrap();
    dom.snapshot_create_xml("<domainsnapshot><name>gone</name></domainsnapshot>", 0).unwrap();
    // Someone deletes the qcow2 snapshot behind our back.
    assert!(std::process::Command::new("qemu-img").args(["snapshot", "-d", "gone"]).arg(&img).status().unwrap().success());
    let fresh = Connection::open(Some(&root.uri())).unwrap().lookup_by_name("vm").unwrap();
    let mut names = fresh.snapshot_list_names(0).unwrap();
    names.sort();
    assert_eq!(names, ["gone", "keep"], "metadata is kept");
    let e = fresh.snapshot_lookup_by_name("gone", 0).unwrap().revert(0).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert!(e.message.contains("qcow2 snapshot is missing"), "{}", e.message);
    // Deleting it works (nothing left to remove from the image).
    fresh.snapshot_lookup_by_name("gone", 0).unwrap().delete(0).unwrap();
    assert_eq!(fresh.snapshot_list_names(0).unwrap(), ["keep"]);
    assert_eq!(Root::tags(&img), ["keep"]);
}

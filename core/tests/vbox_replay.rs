//! The VirtualBox driver end to end through the public API, against the
//! REPLAY stand-in (tests/vbox/replay.py): every answer is real VirtualBox
//! 7.2.22 output captured in tests/vbox/transcripts. Each test starts the
//! replay in the state VirtualBox had after a given captured step and checks
//! that the driver issued exactly the captured commands (by UUID).
#![allow(clippy::unwrap_used)]

mod vbox_common;

use vbox_common::*;
use virsnap_core::flags::{create, delete, list, revert};
use virsnap_core::{Domain, ErrorCode};

const GOLDEN: &str = "11111111-2222-3333-4444-555555555555";

fn golden(r: &Replay) -> Domain {
    r.conn.lookup_by_name("golden").expect("golden")
}

fn assert_all_answered(r: &Replay) {
    let calls = r.calls();
    assert!(!calls.is_empty());
    for c in &calls {
        assert!(!c.ends_with("-> NONE"), "uncaptured call {c}\nall calls:\n{}", calls.join("\n"));
    }
}

#[test]
fn domains_list_and_lookup() {
    let r = Replay::new(Some("13-list"));
    let doms = r.conn.list_all_domains(0).unwrap();
    let names: Vec<&str> = doms.iter().map(|d| d.name()).collect();
    assert_eq!(names, ["snaptest", "golden"]);
    assert!(doms.iter().all(|d| d.id() == -1));
    let d = golden(&r);
    assert_eq!(d.uuid_string(), GOLDEN);
    assert_eq!(r.conn.lookup_by_uuid_string(GOLDEN).unwrap().name(), "golden");
    let e = r.conn.lookup_by_name("nosuchvm").unwrap_err();
    assert_eq!(e.code, ErrorCode::NoDomain);
    assert_eq!(r.conn.type_name(), "VBOX");
    assert_all_answered(&r);
}

#[test]
fn tree_with_duplicate_names() {
    let r = Replay::new(Some("13-list"));
    let d = golden(&r);
    assert_eq!(d.snapshot_num(0).unwrap(), 3);
    assert_eq!(d.snapshot_list_names(0).unwrap(), ["s1", "s2", "s2"]);
    assert_eq!(d.snapshot_list_names(list::ROOTS).unwrap(), ["s1"]);
    assert_eq!(d.snapshot_list_names(list::LEAVES).unwrap(), ["s2"]);
    assert_eq!(d.snapshot_list_names(list::NO_LEAVES).unwrap(), ["s1", "s2"]);
    assert_eq!(d.snapshot_list_names(list::METADATA).unwrap(), Vec::<String>::new());
    assert_eq!(d.snapshot_num(list::NO_METADATA).unwrap(), 3);
    let s1 = d.snapshot_lookup_by_name("s1", 0).unwrap();
    assert_eq!(s1.list_children_names(0).unwrap(), ["s2"]);
    assert_eq!(s1.num_children(list::DESCENDANTS).unwrap(), 2);
    // Lookup by name: the first in depth-first order, as VirtualBox.
    let s2 = d.snapshot_lookup_by_name("s2", 0).unwrap();
    assert_eq!(s2.uuid_string().unwrap(), "21f85aa9-3e3b-4c13-8ac4-7ec2d2a3eb2b");
    assert_eq!(&*s2.parent(0).unwrap().name(), "s1");
    assert!(!s2.is_current(0).unwrap());
    assert!(!s2.has_metadata(0).unwrap());
    // The current one is the second "s2", hidden by the first: its handle
    // carries its UUID, so it acts on it.
    assert!(d.has_current_snapshot(0).unwrap());
    let cur = d.snapshot_current(0).unwrap();
    assert_eq!(&*cur.name(), "296e38c7-7022-4f94-a14b-09142ff81df2");
    assert!(cur.is_current(0).unwrap());
    assert!(cur.xml_desc(0).unwrap().starts_with("<domainsnapshot>\n  <name>s2</name>\n"));
    assert_eq!(&*cur.parent(0).unwrap().name(), "s2");
    assert_eq!(&*d.snapshot_lookup_by_uuid_string("296e38c7-7022-4f94-a14b-09142ff81df2", 0).unwrap().name(), "296e38c7-7022-4f94-a14b-09142ff81df2");
    assert_eq!(&*d.snapshot_lookup_by_uuid_string("21f85aa9-3e3b-4c13-8ac4-7ec2d2a3eb2b", 0).unwrap().name(), "s2");
    let handles: Vec<String> = d.list_all_snapshots(0).unwrap().iter().map(|s| s.name().to_string()).collect();
    assert_eq!(handles, ["s1", "s2", "296e38c7-7022-4f94-a14b-09142ff81df2"]);
    let e = d.snapshot_lookup_by_uuid_string("296e38c7-7022-4f94-a14b-000000000000", 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoDomainSnapshot);
    let e = d.snapshot_lookup_by_name("nosuch", 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoDomainSnapshot);
    assert_eq!(e.message, "Domain snapshot not found: no domain snapshot with matching name 'nosuch'");
    let e = d.snapshot_list_names(1 << 20).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    // XML: libvirt's form; without the .vbox file no creation time.
    let x = s1.xml_desc(0).unwrap();
    assert_eq!(
        x,
        format!(
            "<domainsnapshot>\n  <name>s1</name>\n  <description>first</description>\n  <state>shutoff</state>\n  <domain>\n    <uuid>{GOLDEN}</uuid>\n  </domain>\n</domainsnapshot>\n"
        )
    );
    assert!(d.snapshot_lookup_by_name("s2", 0).unwrap().xml_desc(0).unwrap().contains("<parent>\n    <name>s1</name>"));
    assert_eq!(r.at(), "13-list", "read-only calls do not change the state");
}

#[test]
fn revert_by_name_restores_the_first_duplicate_by_uuid() {
    let r = Replay::new(Some("15-list-details"));
    let d = golden(&r);
    d.snapshot_lookup_by_name("s2", 0).unwrap().revert(0).unwrap();
    assert_eq!(r.at(), "16-restore-dupname");
    assert!(r.calls().iter().any(|c| c.contains("'restore', '21f85aa9-3e3b-4c13-8ac4-7ec2d2a3eb2b'")));
    assert_all_answered(&r);
}

#[test]
fn weird_names_and_multi_line_descriptions() {
    let r = Replay::new(Some("19-take-weird-name"));
    let d = golden(&r);
    assert_eq!(d.snapshot_list_names(0).unwrap(), ["s1", "s2", "s2", "s3", "we\"ird = name"]);
    assert_eq!(d.snapshot_list_names(list::TOPOLOGICAL).unwrap(), ["s1", "s3", "we\"ird = name", "s2", "s2"]);
    let cur = d.snapshot_current(0).unwrap();
    assert_eq!(&*cur.name(), "we\"ird = name");
    let x = d.snapshot_lookup_by_name("s3", 0).unwrap().xml_desc(0).unwrap();
    assert!(x.contains("<description>has &quot;quotes&quot; = and\na second line</description>"), "{x}");
    assert!(cur.xml_desc(0).unwrap().contains("<name>we&quot;ird = name</name>"));
    assert_all_answered(&r);
}

#[test]
fn take_delete_leaf_and_middle() {
    let r = Replay::new(Some("52-state-after-failed-start"));
    let d = golden(&r);
    let leaf = d.snapshot_create_xml("<domainsnapshot><name>leaf</name><description>to be deleted</description></domainsnapshot>", 0).unwrap();
    assert_eq!(&*leaf.name(), "leaf");
    assert_eq!(r.at(), "53-take-leaf");
    assert!(leaf.is_current(0).unwrap());
    leaf.delete(0).unwrap();
    assert_eq!(r.at(), "55-delete-current-leaf");
    let e = leaf.xml_desc(0).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoDomainSnapshot);
    // Deleting the current leaf made its parent current.
    assert_eq!(&*d.snapshot_current(0).unwrap().name(), "s1 2026-11-25T17:41:28Z");
    // s3 has one child: VirtualBox merges it, the child moves to s1's end.
    d.snapshot_lookup_by_name("s3", 0).unwrap().delete(0).unwrap();
    assert_eq!(r.at(), "57-delete-middle-one-child");
    let s1 = d.snapshot_lookup_by_name("s1", 0).unwrap();
    assert_eq!(s1.list_children_names(0).unwrap(), ["s2", "weird-renamed"]);
    assert_all_answered(&r);
}

#[test]
fn hypervisor_refusals_map_by_code() {
    let r = Replay::new(Some("31-take-uniq-ts-space"));
    let d = golden(&r);
    // Live snapshot of a powered-off machine: VBOX_E_INVALID_VM_STATE.
    let e = d.snapshot_create_xml("<domainsnapshot><name>livetry</name></domainsnapshot>", create::LIVE).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid, "{}", e.message);
    assert!(e.message.contains("Cannot take a live snapshot"), "{}", e.message);
    assert_eq!(r.at(), "33-take-live-offvm");
    // A snapshot with two children: VBOX_E_INVALID_OBJECT_STATE.
    let e = d.snapshot_lookup_by_name("s1", 0).unwrap().delete(0).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid, "{}", e.message);
    assert!(e.message.contains("VBOX_E_INVALID_OBJECT_STATE"));
    assert_eq!(r.at(), "37-delete-2children");
    assert!(r.calls().iter().any(|c| c.contains("'delete', '50cbacaf-0e21-428a-958e-bb96338b29a3'")));
    // Flags VirtualBox cannot honour are refused before any call.
    let e = d.snapshot_create_xml("<domainsnapshot/>", create::DISK_ONLY).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    let e = d.snapshot_lookup_by_name("s1", 0).unwrap().delete(delete::METADATA_ONLY).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    let e = d
        .snapshot_create_xml("<domainsnapshot><memory snapshot='external' file='/m'/></domainsnapshot>", 0)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert_all_answered(&r);
}

#[test]
fn rename_by_uuid_and_collisions() {
    let r = Replay::new(Some("62-list-after-uuid-delete"));
    let d = golden(&r);
    let s2 = d.snapshot_lookup_by_name("s2", 0).unwrap();
    let e = s2.rename("s1", 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    assert_eq!(r.at(), "62-list-after-uuid-delete");
    s2.rename("s2-renamed", 0).unwrap();
    assert_eq!(&*s2.name(), "s2-renamed");
    assert_eq!(r.at(), "63-edit-by-uuid");
    assert!(r.calls().iter().any(|c| c.contains("'edit', '296e38c7-7022-4f94-a14b-09142ff81df2', '--name=s2-renamed'")));
    assert_all_answered(&r);
}

#[test]
fn empty_machine_then_first_take() {
    let r = Replay::new(Some("06-attach2"));
    let d = golden(&r);
    assert_eq!(d.snapshot_num(0).unwrap(), 0);
    assert!(!d.has_current_snapshot(0).unwrap());
    let e = d.snapshot_current(0).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoDomainSnapshot);
    let s = d.snapshot_create_xml("<domainsnapshot><name>s1</name><description>first</description></domainsnapshot>", 0).unwrap();
    assert_eq!(&*s.name(), "s1");
    assert_eq!(r.at(), "10-take-s1");
    assert_all_answered(&r);
}

#[test]
fn saved_state_snapshot_is_running_with_times_from_the_vbox_file() {
    // VBoxManage's paths are under a root this process can read (as for a chroot).
    let root = scratch("root");
    let machine_dir = root.join("home/vbox/VirtualBox VMs/golden");
    std::fs::create_dir_all(&machine_dir).unwrap();
    std::fs::copy(after_step("65-adoptstate"), machine_dir.join("golden.vbox")).unwrap();
    let dir = scratch("replay-saved");
    let state = dir.join("state");
    std::fs::write(&state, "65-adoptstate").unwrap();
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vbox/replay.py");
    let conn = open_with(&format!("python3 {} {} {}", script.display(), transcripts().display(), state.display()), Some(&root));
    let d = conn.lookup_by_name("golden").unwrap();
    let (st, _) = d.state(0).unwrap();
    assert_eq!(st, virsnap_core::model::DomainState::Shutoff, "Saved is shut off for libvirt");
    let s = d
        .snapshot_create_xml("<domainsnapshot><name>insaved</name><description>taken while saved</description></domainsnapshot>", 0)
        .unwrap();
    // VirtualBox rewrote its file.
    std::fs::copy(after_step("67-take-in-saved"), machine_dir.join("golden.vbox")).unwrap();
    let x = s.xml_desc(0).unwrap();
    assert!(x.contains("<state>running</state>"), "{x}");
    assert!(x.contains("<creationTime>1795628505</creationTime>"), "{x}");
    assert!(x.contains("<parent>\n    <name>s2-renamed</name>"), "{x}");
    assert_eq!(d.snapshot_list_names(list::ACTIVE).unwrap(), ["insaved"]);
    assert_eq!(d.snapshot_num(list::INACTIVE).unwrap(), 8);
    let s1 = d.snapshot_lookup_by_name("s1", 0).unwrap().xml_desc(0).unwrap();
    assert!(s1.contains("<creationTime>1795628488</creationTime>"), "{s1}");
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn starting_fails_here_and_is_reported() {
    let r = Replay::new(Some("45-showvminfo-missing"));
    let d = golden(&r);
    let e = d.create(0).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert!(e.message.contains("terminated unexpectedly"), "{}", e.message);
    assert_eq!(r.at(), "46-startvm-headless");
    // Not running: refused before any controlvm call (libvirt's checks).
    assert_eq!(d.destroy(0).unwrap_err().code, ErrorCode::OperationInvalid);
    assert_eq!(d.suspend().unwrap_err().code, ErrorCode::OperationInvalid);
    assert!(!d.is_active().unwrap());
    let e = d.snapshot_lookup_by_name("s1", 0).unwrap().revert(revert::RUNNING | revert::PAUSED).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert_all_answered(&r);
}

#[test]
fn open_needs_vboxmanage_and_the_session_path() {
    let _g = ENV.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // SAFETY: under ENV, as open_with.
    unsafe { std::env::set_var("VIRSNAP_VBOXMANAGE", "/nonexistent/VBoxManage --x") };
    let e = virsnap_core::Connection::open(Some("vbox:///session")).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoConnect);
    assert!(e.message.contains("/nonexistent/VBoxManage"), "{}", e.message);
    // SAFETY: under ENV, as open_with.
    unsafe { std::env::set_var("VIRSNAP_VBOXMANAGE", "true") };
    assert_eq!(virsnap_core::Connection::open(Some("vbox:///system")).unwrap_err().code, ErrorCode::NoConnect);
    assert_eq!(virsnap_core::Connection::open(Some("vbox://host/session")).unwrap_err().code, ErrorCode::NoConnect);
    assert!(virsnap_core::Connection::open(Some("vbox:///session")).is_ok());
}

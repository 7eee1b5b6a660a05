//! File-level safety of the `qemu:///embed` snapshot store (issue 15 items
//! 1, 2, 6, 7, 8) on real qemu-img: journal records and journals planted
//! by a hostile user are refused, writes never go through a planted link,
//! every snapshot name has its own metadata file, metadata that could not
//! be read back is refused at create time, and a FIFO planted as metadata
//! neither hangs nor is read.
#![allow(clippy::unwrap_used)]

mod qemu_common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use qemu_common::{skip, Root};
use virsnap_core::{Connection, ErrorCode};

fn snap_xml(name: &str) -> String {
    format!("<domainsnapshot><name>{name}</name></domainsnapshot>")
}

/// A root with domain `vm` (one qcow2 disk) and snapshots `names`.
fn setup(tag: &str, names: &[&str]) -> (Root, PathBuf) {
    let root = Root::new(tag);
    let img = root.image("vm.qcow2");
    let conn = root.conn();
    let dom = conn.define_xml(&Root::domain_xml("vm", &img), 0).unwrap();
    for n in names {
        dom.snapshot_create_xml(&snap_xml(n), 0).unwrap();
    }
    (root, img)
}

fn snap_dir(root: &Root) -> PathBuf {
    root.dir.join("lib/qemu/snapshot/vm")
}

fn names(root: &Root) -> virsnap_core::Result<Vec<String>> {
    let conn = Connection::open(Some(&root.uri()))?;
    let mut n = conn.lookup_by_name("vm")?.snapshot_list_names(0)?;
    n.sort();
    Ok(n)
}

fn fnv64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Appends a well-formed (checksummed) store journal record writing
/// `name` and marks the journal as not applied, as a hostile user could.
fn plant_record(dir: &Path, name: &str, data: &[u8]) {
    use std::os::unix::fs::FileExt as _;
    let mut payload = format!("W {} {}\n", name.len(), data.len()).into_bytes();
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    let mut rec = format!("VSJ {} {:016x}\n", payload.len(), fnv64(&payload)).into_bytes();
    rec.extend_from_slice(&payload);
    let jpath = dir.join(".journal");
    let buf = fs::read(&jpath).unwrap();
    let end = buf.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
    fs::OpenOptions::new().write(true).open(&jpath).unwrap().write_all_at(&rec, end as u64).unwrap();
    let _ = fs::remove_file(dir.join(".journal-applied"));
}

#[test]
fn a_journal_record_naming_a_file_outside_the_store_is_refused() {
    if skip() {
        return;
    }
    let (root, _img) = setup("hostile-rec", &["s1"]);
    let dir = snap_dir(&root);
    let outside = root.dir.join("outside");
    plant_record(&dir, "../../../../outside", b"owned");
    let e = names(&root).unwrap_err();
    assert_eq!(e.code, ErrorCode::InternalError, "{}", e.message);
    assert!(e.message.contains("refusing to replay"), "{}", e.message);
    assert!(!outside.exists(), "the record was applied outside the store");
    // Nothing else changed: once the record is gone the domain is as before.
    fs::remove_file(dir.join(".journal")).unwrap();
    assert_eq!(names(&root).unwrap(), ["s1"]);
}

#[test]
fn planted_delete_and_rename_journals_are_refused() {
    if skip() {
        return;
    }
    let (root, _img) = setup("hostile-journals", &["s1", "s2"]);
    let dir = snap_dir(&root);
    for (file, text) in [
        (".delete-journal", "full\n../../../s1\n"),
        (".delete-journal", "everything\ns1\n"),
        (".rename-journal", "s1\n../x\n"),
        (".rename-journal", "s1\n"),
    ] {
        fs::write(dir.join(file), text).unwrap();
        let e = names(&root).unwrap_err();
        assert_eq!(e.code, ErrorCode::InternalError, "{file} {text:?}: {}", e.message);
        assert!(e.message.contains("refusing to act on it"), "{}", e.message);
        fs::remove_file(dir.join(file)).unwrap();
        assert_eq!(names(&root).unwrap(), ["s1", "s2"], "{file} {text:?}");
    }
}

#[test]
fn an_index_with_a_bad_name_is_not_trusted() {
    if skip() {
        return;
    }
    let (root, _img) = setup("hostile-index", &["s1"]);
    let index = root.dir.join("lib/qemu/snapshot/.vm.index");
    assert_eq!(names(&root).unwrap(), ["s1"]);
    let text = fs::read_to_string(&index).unwrap();
    let body = &text[..text.trim_end().rfind('\n').unwrap() + 1];
    let forged = body.replacen("\ns1\t", "\n../evil\t", 1);
    assert_ne!(forged, body);
    let sealed = format!("{forged}END {} {:016x}\n", forged.len(), fnv64(forged.as_bytes()));
    fs::write(&index, sealed).unwrap();
    assert_eq!(names(&root).unwrap(), ["s1"]);
}

#[test]
fn writes_replace_planted_symlinks_and_leave_their_targets_alone() {
    if skip() {
        return;
    }
    let (root, _img) = setup("symlinks", &["s1"]);
    let dir = snap_dir(&root);
    let victim = root.dir.join("victim");
    fs::write(&victim, "precious").unwrap();
    for f in ["new.xml", ".journal-applied", ".gen"] {
        let _ = fs::remove_file(dir.join(f));
        std::os::unix::fs::symlink(&victim, dir.join(f)).unwrap();
    }
    let index = root.dir.join("lib/qemu/snapshot/.vm.index");
    let _ = fs::remove_file(&index);
    std::os::unix::fs::symlink(&victim, &index).unwrap();
    let conn = root.conn();
    let dom = conn.lookup_by_name("vm").unwrap();
    dom.snapshot_create_xml(&snap_xml("new"), 0).unwrap();
    dom.snapshot_create_xml(&snap_xml("newer"), 0).unwrap();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert!(fs::symlink_metadata(dir.join("new.xml")).unwrap().file_type().is_file());
    assert_eq!(names(&root).unwrap(), ["new", "newer", "s1"]);
}

#[test]
fn a_dot_name_and_its_percent_spelling_have_separate_files() {
    if skip() {
        return;
    }
    let (root, _img) = setup("inject", &[".a", "%2ea"]);
    let conn = root.conn();
    let dom = conn.lookup_by_name("vm").unwrap();
    dom.snapshot_lookup_by_name("%2ea", 0).unwrap().delete(0).unwrap();
    drop(conn);
    // A full reload from the files (no cache, no index).
    let _ = fs::remove_file(root.dir.join("lib/qemu/snapshot/.vm.index"));
    let conn = root.conn();
    let dom = conn.lookup_by_name("vm").unwrap();
    assert_eq!(dom.snapshot_list_names(0).unwrap(), [".a"]);
    assert!(dom.snapshot_lookup_by_name(".a", 0).unwrap().has_metadata(0).unwrap());
    assert!(dom.snapshot_lookup_by_name(".a", 0).unwrap().xml_desc(0).unwrap().contains("<name>.a</name>"));
}

#[test]
fn a_name_whose_file_would_exceed_name_max_is_refused_before_qemu_img() {
    if skip() {
        return;
    }
    let (root, img) = setup("namemax", &[]);
    let dom = root.conn().lookup_by_name("vm").unwrap();
    for n in ["x".repeat(252), format!(".{}", "y".repeat(250))] {
        let e = dom.snapshot_create_xml(&snap_xml(&n), 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArg, "{}", e.message);
    }
    assert!(Root::tags(&img).is_empty(), "a qcow2 snapshot was made: {:?}", Root::tags(&img));
    dom.snapshot_create_xml(&snap_xml(&"x".repeat(251)), 0).unwrap();
    assert_eq!(names(&root).unwrap(), ["x".repeat(251)]);
}

#[test]
fn metadata_over_the_read_back_cap_is_refused_at_create_and_redefine() {
    if skip() {
        return;
    }
    let (root, img) = setup("cap", &[]);
    let dom = root.conn().lookup_by_name("vm").unwrap();
    let big = "d".repeat(1024 * 1024 + 1);
    let e = dom
        .snapshot_create_xml(&format!("<domainsnapshot><name>big</name><description>{big}</description></domainsnapshot>"), 0)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg, "{}", e.message);
    assert!(Root::tags(&img).is_empty());
    let e = dom
        .snapshot_create_xml(
            &format!("<domainsnapshot><name>big2</name><description>{big}</description><state>shutoff</state><creationTime>1</creationTime></domainsnapshot>"),
            virsnap_core::flags::create::REDEFINE,
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg, "{}", e.message);
    assert!(names(&root).unwrap().is_empty());
}

#[test]
fn a_fifo_planted_as_metadata_does_not_hang_the_listing() {
    if skip() {
        return;
    }
    let (root, _img) = setup("fifo", &["s1"]);
    let dir = snap_dir(&root);
    assert!(std::process::Command::new("mkfifo").arg(dir.join("trap.xml")).status().unwrap().success());
    let _ = fs::remove_file(root.dir.join("lib/qemu/snapshot/.vm.index"));
    let (tx, rx) = std::sync::mpsc::channel();
    let uri = root.uri();
    std::thread::spawn(move || {
        let r = Connection::open(Some(&uri)).and_then(|c| c.lookup_by_name("vm")?.snapshot_list_names(0));
        let _ = tx.send(r);
    });
    // Far above what listing one snapshot needs on a loaded machine.
    let r = rx.recv_timeout(Duration::from_secs(120));
    if r.is_err() {
        // Unblock the reader (open the FIFO for writing) before failing.
        let _ = fs::OpenOptions::new().write(true).open(dir.join("trap.xml"));
    }
    assert_eq!(r.expect("snapshot listing hung on a FIFO").unwrap(), ["s1"]);
}

#[test]
fn the_guest_log_is_not_appended_through_a_planted_symlink() {
    if skip() {
        return;
    }
    let (root, _img) = setup("log", &[]);
    let run = root.dir.join("run/qemu");
    fs::create_dir_all(&run).unwrap();
    let victim = root.dir.join("victim");
    fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, run.join("vm.log")).unwrap();
    let dom = root.conn().lookup_by_name("vm").unwrap();
    let e = dom.create(0).unwrap_err();
    assert_eq!(e.code, ErrorCode::SystemError, "{}", e.message);
    assert!(e.message.contains("cannot open log"), "{}", e.message);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
}

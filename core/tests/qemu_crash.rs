//! Crash safety and two-process locking on real qemu-img / QEMU.
//!
//! A child process (this test binary re-run on `child_entry`) performs one
//! operation with `VIRSNAP_CRASH_AT` naming an injected point, and dies
//! there as `kill -9` would. The parent then reopens and checks that no
//! snapshot was lost and that metadata and qcow2 agree (or were reconciled).
#![allow(clippy::unwrap_used)]

mod qemu_common;

use std::path::Path;
use std::process::Command;

use qemu_common::{skip, Root};
use virsnap_core::flags::list;
use virsnap_core::Connection;

/// Child mode: does VSQ_OP on VSQ_URI's domain `vm`; a no-op in normal runs.
#[test]
fn child_entry() {
    let (Ok(op), Ok(uri)) = (std::env::var("VSQ_OP"), std::env::var("VSQ_URI")) else { return };
    let conn = Connection::open(Some(&uri)).unwrap();
    let dom = conn.lookup_by_name("vm").unwrap();
    let arg = std::env::var("VSQ_ARG").unwrap_or_default();
    match op.as_str() {
        "create" => {
            dom.snapshot_create_xml(&format!("<domainsnapshot><name>{arg}</name></domainsnapshot>"), 0).unwrap();
        }
        "delete" => dom.snapshot_lookup_by_name(&arg, 0).unwrap().delete(0).unwrap(),
        "revert" => dom.snapshot_lookup_by_name(&arg, 0).unwrap().revert(0).unwrap(),
        "xcreate" => {
            dom.snapshot_create_xml(&format!("<domainsnapshot><name>{arg}</name></domainsnapshot>"), virsnap_core::flags::create::DISK_ONLY)
                .unwrap();
        }
        "xdelete-children" => dom.snapshot_lookup_by_name(&arg, 0).unwrap().delete(virsnap_core::flags::delete::CHILDREN).unwrap(),
        "worker" => {
            // Create 6 snapshots, delete every other one of ours.
            for i in 0..6 {
                dom.snapshot_create_xml(&format!("<domainsnapshot><name>{arg}{i}</name></domainsnapshot>"), 0).unwrap();
                if i % 2 == 1 {
                    dom.snapshot_lookup_by_name(&format!("{arg}{}", i - 1), 0).unwrap().delete(0).unwrap();
                }
            }
        }
        other => panic!("unknown op {other}"),
    }
}

fn child(root: &Root, op: &str, arg: &str, crash_at: Option<&str>) -> std::process::Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("VSQ_OP", op)
        .env("VSQ_URI", root.uri())
        .env("VSQ_ARG", arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match crash_at {
        Some(p) => c.env("VIRSNAP_CRASH_AT", p),
        None => c.env_remove("VIRSNAP_CRASH_AT"),
    };
    c.spawn().unwrap()
}

fn run_child(root: &Root, op: &str, arg: &str, crash_at: Option<&str>) -> bool {
    child(root, op, arg, crash_at).wait().unwrap().success()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn names(root: &Root, flags: u32) -> Vec<String> {
    let conn = Connection::open(Some(&root.uri())).unwrap();
    sorted(conn.lookup_by_name("vm").unwrap().snapshot_list_names(flags).unwrap())
}

fn setup(tag: &str) -> (Root, std::path::PathBuf) {
    let root = Root::new(tag);
    let img = root.image("vm.qcow2");
    root.conn().define_xml(&Root::domain_xml("vm", &img), 0).unwrap();
    (root, img)
}

fn meta_exists(root: &Root, name: &str) -> bool {
    root.dir.join(format!("lib/qemu/snapshot/vm/{name}.xml")).exists()
}

fn agree(root: &Root, img: &Path) {
    // Every snapshot listed has its qcow2 tag and vice versa.
    assert_eq!(names(root, 0), Root::tags(img));
}

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn crash_during_create_finishes_or_undoes_it() {
    if skip() {
        return;
    }
    // A create records its intent, then QEMU's part, then the metadata: a
    // crash before QEMU's part leaves nothing, after it the next open
    // finishes the create (it becomes current); never a qcow2 snapshot
    // without metadata (issue 15 item 12).
    let (root, img) = setup("ccreate");
    assert!(run_child(&root, "create", "a", None));
    let points = [
        ("store-before-rename", false),
        ("store-after-journal", false),
        ("qemu-create-after-intent", false),
        ("qemu-create-after-hypervisor", true),
        ("store-after-journal#2", true),
    ];
    for (i, (point, kept)) in points.iter().enumerate() {
        let name = format!("c{i}");
        assert!(!run_child(&root, "create", &name, Some(point)), "child should have died at {point}");
        agree(&root, &img);
        assert!(names(&root, list::NO_METADATA).is_empty(), "{point}");
        assert_eq!(names(&root, list::METADATA).contains(&name), *kept, "{point}");
        assert_eq!(meta_exists(&root, &name), *kept, "{point}");
        if *kept {
            assert_eq!(current(&root).as_deref(), Some(name.as_str()), "{point}");
        }
    }
    // Running guest: savevm done, metadata not written: finished too.
    let conn = root.conn();
    conn.lookup_by_name("vm").unwrap().create(0).unwrap();
    assert!(!run_child(&root, "create", "live", Some("qemu-create-after-hypervisor")));
    agree(&root, &img);
    assert!(names(&root, list::METADATA).contains(&"live".to_owned()));
    assert!(!run_child(&root, "create", "live2", Some("qemu-create-after-intent")));
    agree(&root, &img);
    assert!(!names(&root, 0).contains(&"live2".to_owned()));
    // Reverting to it works (it is a real snapshot).
    let dom = conn.lookup_by_name("vm").unwrap();
    dom.snapshot_lookup_by_name("live", 0).unwrap().revert(0).unwrap();
    assert_eq!(names(&root, list::METADATA), ["a", "c3", "c4", "live"]);
}

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn crash_during_delete_rolls_forward() {
    if skip() {
        return;
    }
    let (root, img) = setup("cdelete");
    for n in ["a", "b", "c", "d"] {
        assert!(run_child(&root, "create", n, None));
    }
    assert!(!run_child(&root, "delete", "b", Some("qemu-delete-after-intent")));
    agree(&root, &img);
    assert_eq!(names(&root, 0), ["a", "c", "d"]);
    assert!(!meta_exists(&root, "b"));
    assert!(!run_child(&root, "delete", "c", Some("qemu-delete-after-hypervisor")));
    assert_eq!(names(&root, 0), ["a", "d"]);
    agree(&root, &img);
    // The tree is whole: d's parent is a now.
    let conn = root.conn();
    let d = conn.lookup_by_name("vm").unwrap().snapshot_lookup_by_name("d", 0).unwrap();
    assert_eq!(d.parent(0).unwrap().name().as_ref(), "a");
    assert!(std::fs::read_to_string(root.dir.join("lib/qemu/snapshot/vm/d.xml")).unwrap().contains("<name>a</name>"));
}

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn crash_during_revert_keeps_everything() {
    if skip() {
        return;
    }
    let (root, img) = setup("crevert");
    for n in ["a", "b"] {
        assert!(run_child(&root, "create", n, None));
    }
    for point in ["qemu-revert-before-hypervisor", "qemu-revert-after-hypervisor", "store-before-rename"] {
        assert!(!run_child(&root, "revert", "a", Some(point)), "{point}");
        assert_eq!(names(&root, list::METADATA), ["a", "b"], "{point}");
        agree(&root, &img);
    }
    assert!(run_child(&root, "revert", "a", None));
    let conn = root.conn();
    assert_eq!(conn.lookup_by_name("vm").unwrap().snapshot_current(0).unwrap().name().as_ref(), "a");
}

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn two_processes_lose_nothing() {
    if skip() {
        return;
    }
    let (root, img) = setup("two");
    let mut a = child(&root, "worker", "p", None);
    let mut b = child(&root, "worker", "q", None);
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    let want = ["p1", "p3", "p5", "q1", "q3", "q5"];
    assert_eq!(names(&root, 0), want);
    assert_eq!(names(&root, list::METADATA), want);
    agree(&root, &img);
    // Every parent link points at a live snapshot.
    let conn = root.conn();
    let dom = conn.lookup_by_name("vm").unwrap();
    for s in dom.list_all_snapshots(0).unwrap() {
        if let Ok(p) = s.parent(0) {
            assert!(want.contains(&p.name().as_ref()));
        }
    }
}

fn current(root: &Root) -> Option<String> {
    let conn = Connection::open(Some(&root.uri())).unwrap();
    conn.lookup_by_name("vm").unwrap().snapshot_current(0).ok().map(|s| s.name().as_ref().to_owned())
}

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn crash_after_the_journal_record_is_the_after_state() {
    if skip() {
        return;
    }
    // Metadata changes are one journal record (one fdatasync) then the
    // files; dying in between must give the after state on reopen, with
    // the current marker where the operation put it.
    let (root, img) = setup("cjournal");
    for n in ["a", "b"] {
        assert!(run_child(&root, "create", n, None));
    }
    // (A create's first record is its intent, undone when QEMU's part is
    // not done; its second one is the metadata.)
    assert!(!run_child(&root, "create", "c", Some("store-after-journal")));
    assert_eq!(names(&root, list::METADATA), ["a", "b"]);
    agree(&root, &img);
    assert!(!run_child(&root, "create", "c", Some("store-after-journal#2")));
    assert_eq!(names(&root, list::METADATA), ["a", "b", "c"]);
    assert_eq!(current(&root).as_deref(), Some("c"));
    agree(&root, &img);
    assert!(meta_exists(&root, "c"));
    assert!(!run_child(&root, "revert", "a", Some("store-after-journal")));
    assert_eq!(current(&root).as_deref(), Some("a"));
    assert_eq!(names(&root, list::METADATA), ["a", "b", "c"]);
    // Delete: the intent record is durable; dying after it rolls forward.
    assert!(!run_child(&root, "delete", "b", Some("store-after-journal")));
    assert_eq!(names(&root, 0), ["a", "c"]);
    agree(&root, &img);
    // The second record of a delete (not synced) and its files.
    assert!(!run_child(&root, "delete", "c", Some("store-after-journal#2")));
    assert_eq!(names(&root, 0), ["a"]);
    assert_eq!(current(&root).as_deref(), Some("a"));
    agree(&root, &img);
    // Dying half way through applying a record (a file removed and its
    // replacement not yet renamed in, or only some of the files done) is
    // repaired from the journal.
    assert!(run_child(&root, "create", "d", None));
    assert!(run_child(&root, "create", "e", None));
    for (i, point) in ["store-overwrite-after-unlink", "store-apply#2", "store-overwrite-after-unlink#2"].iter().enumerate() {
        let target = ["d", "e", "a"][i];
        assert!(!run_child(&root, "revert", target, Some(point)), "{point}");
        assert_eq!(current(&root).as_deref(), Some(target), "{point}");
        assert_eq!(names(&root, list::METADATA), ["a", "d", "e"], "{point}");
    }
    assert!(run_child(&root, "delete", "d", None));
    assert!(run_child(&root, "delete", "e", None));
    // Each file on disk parses and exactly one claims to be current.
    let dir = root.dir.join("lib/qemu/snapshot/vm");
    let actives = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "xml"))
        .filter(|e| std::fs::read_to_string(e.path()).unwrap().contains("<active>1</active>"))
        .count();
    assert_eq!(actives, 1);
}

/// The domain's disk source and whether every layer of its chain exists.
fn chain_ok(root: &Root) -> (String, bool) {
    let conn = Connection::open(Some(&root.uri())).unwrap();
    let x = conn.lookup_by_name("vm").unwrap().xml_desc(virsnap_core::flags::domain::XML_INACTIVE).unwrap();
    let i = x.find("<source file='").unwrap() + 14;
    let src = x[i..i + x[i..].find('\'').unwrap()].to_owned();
    let ok = Command::new("qemu-img").args(["info", "-U", "--backing-chain"]).arg(&src).output().unwrap().status.success();
    (src, ok)
}

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn crash_during_external_revert_and_delete_never_leaves_a_dangling_disk() {
    if skip() {
        return;
    }
    let (root, _img) = setup("cext");
    for n in ["e1", "e2"] {
        assert!(run_child(&root, "xcreate", n, None));
    }
    for point in ["qemu-revert-before-hypervisor", "qemu-revert-external-after-overlay", "store-before-rename", "store-after-journal"] {
        assert!(!run_child(&root, "revert", "e1", Some(point)), "{point}");
        let (src, ok) = chain_ok(&root);
        assert!(ok, "{point}: domain on {src}, whose chain is broken");
        assert_eq!(names(&root, list::METADATA), ["e1", "e2"], "{point}");
    }
    assert!(run_child(&root, "revert", "e2", None));
    for point in ["qemu-delete-after-intent", "qemu-delete-external-after-commit", "qemu-delete-after-hypervisor", "store-after-journal#2"] {
        // Fresh chain each round: delete e1 with its child e2.
        let (src, ok) = chain_ok(&root);
        assert!(ok, "before {point}: {src}");
        assert!(!run_child(&root, "xdelete-children", "e1", Some(point)), "{point}");
        let (src, ok) = chain_ok(&root);
        assert!(ok, "{point}: domain on {src}, whose chain is broken");
        // Rolled forward: both gone (their files may stay behind, never the domain's).
        assert!(names(&root, 0).is_empty(), "{point}: {:?}", names(&root, 0));
        for n in ["e1", "e2"] {
            assert!(run_child(&root, "xcreate", n, None), "{point}");
        }
    }
}

/// The file QEMU itself runs disk vda on (`query-block`), not the definition.
fn qemu_file(root: &Root) -> String {
    let dom = Connection::open(Some(&root.uri())).unwrap().lookup_by_name("vm").unwrap();
    let out = dom.qemu_monitor_command(r#"{"execute":"query-block"}"#, 0, "virDomainQemuMonitorCommand").unwrap();
    let i = out.find(r#""file":""#).unwrap_or_else(|| panic!("{out}")) + 8;
    out[i..i + out[i..].find('"').unwrap()].to_owned()
}

/// A live external create (running TCG guest, blockdev-snapshot-sync of an
/// overlay) killed half way. After QEMU switched the guest but before the
/// definitions were written, the next open undoes it: the guest is pivoted
/// back onto its disk (block-commit, its writes kept) and only then is the
/// overlay removed. Before, the open removed the overlay QEMU was running
/// on (QEMU kept writing a deleted file; the definition named the base).
/// After the live definition was written, it is finished, the persistent
/// definition taking the overlay too (before, it kept naming the base: the
/// next boot lost the overlay's data).
#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn crash_during_live_external_create_undoes_or_finishes_it() {
    if skip() {
        return;
    }
    let (root, img) = setup("cxlive");
    root.conn().lookup_by_name("vm").unwrap().create(0).unwrap();
    let base = img.display().to_string();
    assert_eq!(qemu_file(&root), base);

    assert!(!run_child(&root, "xcreate", "u", Some("qemu-create-external-after-disk")), "child should have died");
    let overlay = root.dir.join("vm.u");
    // The next load of the domain's snapshots (here a listing) recovers.
    assert!(names(&root, 0).is_empty(), "{:?}", names(&root, 0));
    assert_eq!(qemu_file(&root), base, "the guest still runs on the overlay of the undone create");
    assert!(!overlay.exists(), "the overlay of the undone create is left");
    let (src, ok) = chain_ok(&root);
    assert!(ok && src == base, "{src}");
    let conn = Connection::open(Some(&root.uri())).unwrap();
    assert_eq!(conn.lookup_by_name("vm").unwrap().state(0).unwrap().0, virsnap_core::model::DomainState::Running);

    assert!(!run_child(&root, "xcreate", "f", Some("qemu-create-external-after-live")), "child should have died");
    let overlay = root.dir.join("vm.f").display().to_string();
    assert_eq!(names(&root, list::METADATA), ["f"]);
    assert_eq!(qemu_file(&root), overlay);
    let (src, ok) = chain_ok(&root);
    assert!(ok && src == overlay, "persistent definition on {src}, not on the finished create's overlay");
    // And it is a working snapshot: deleted live (block-commit) back onto the base.
    assert!(run_child(&root, "delete", "f", None));
    assert_eq!(qemu_file(&root), base);
}

//! Snapshot health (issue 21): prune (retention) and verify/repair.
//!
//! The retention rule on the test driver (creation times from a node file);
//! prune, verify and repair on real qemu-img / qemu-io images, faults made
//! behind virsnap's back with qemu-img, surviving snapshots' data read back
//! with qemu-io after a revert.
#![allow(clippy::unwrap_used)]

mod qemu_common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use qemu_common::{skip, Root};
use virsnap_core::flags::{list, prune, verify};
use virsnap_core::health::{PruneRule, Repair};
use virsnap_core::{Connection, Domain, ErrorCode};

const NODE: &str = r#"<node>
  <domain type='test'>
    <name>fc4</name>
    <uuid>ef861801-45b9-11cb-88e3-afbfe5370493</uuid>
    <memory>261072</memory>
    <os><type>hvm</type></os>
    <test:domainsnapshot xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
      <domainsnapshot>
        <name>base</name><state>shutoff</state><creationTime>1000</creationTime><memory snapshot='no'/>
        <domain type='test'><name>fc4</name><uuid>ef861801-45b9-11cb-88e3-afbfe5370493</uuid><memory>261072</memory><os><type>hvm</type></os></domain>
        <active>0</active>
      </domainsnapshot>
    </test:domainsnapshot>
    <test:domainsnapshot xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
      <domainsnapshot>
        <name>mid</name><state>shutoff</state><parent><name>base</name></parent><creationTime>2000</creationTime><memory snapshot='no'/>
        <domain type='test'><name>fc4</name><uuid>ef861801-45b9-11cb-88e3-afbfe5370493</uuid><memory>261072</memory><os><type>hvm</type></os></domain>
        <active>0</active>
      </domainsnapshot>
    </test:domainsnapshot>
  </domain>
</node>
"#;

fn node() -> (Connection, Domain) {
    let path = std::env::temp_dir().join(format!("virsnap-health-{}-{:?}.xml", std::process::id(), std::thread::current().id()));
    std::fs::write(&path, NODE).unwrap();
    let conn = Connection::open(Some(&format!("test://{}", path.display()))).unwrap();
    std::fs::remove_file(&path).unwrap();
    let dom = conn.lookup_by_name("fc4").unwrap();
    (conn, dom)
}

fn names(dom: &Domain, flags: u32) -> Vec<String> {
    let mut v = dom.snapshot_list_names(flags).unwrap();
    v.sort();
    v
}

#[test]
fn prune_rules_on_the_test_driver() {
    let (_c, dom) = node();
    // base (1000) <- mid (2000) <- fresh (now, current) <- leaf (now)
    for n in ["fresh", "leaf"] {
        dom.snapshot_create_xml(&format!("<domainsnapshot><name>{n}</name></domainsnapshot>"), 0).unwrap();
    }
    dom.snapshot_lookup_by_name("fresh", 0).unwrap().revert(0).unwrap();
    let hour = Some(Duration::from_secs(3600));
    // Dry run: names, nothing deleted.
    let would = dom.snapshot_prune(&PruneRule { keep: None, older_than: hour }, prune::DRY_RUN).unwrap();
    assert_eq!(would, ["base", "mid"]);
    assert_eq!(names(&dom, 0), ["base", "fresh", "leaf", "mid"]);
    // Count: the current one is never deleted even when not among the kept
    // (ties by creation order: leaf is newer than fresh).
    assert_eq!(dom.snapshot_prune(&PruneRule { keep: Some(0), older_than: None }, prune::DRY_RUN).unwrap(), ["base", "mid", "leaf"]);
    assert_eq!(dom.snapshot_prune(&PruneRule { keep: Some(3), older_than: None }, prune::DRY_RUN).unwrap(), ["base"]);
    // Combined: both rules must agree.
    assert_eq!(dom.snapshot_prune(&PruneRule { keep: Some(1), older_than: hour }, prune::DRY_RUN).unwrap(), ["base", "mid"]);
    // No rule, unknown flags: errors, nothing changed.
    let e = dom.snapshot_prune(&PruneRule::default(), 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    let e = dom.snapshot_prune(&PruneRule { keep: Some(1), older_than: None }, 0x80).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert_eq!(names(&dom, 0), ["base", "fresh", "leaf", "mid"]);
    // The real thing: default delete, children re-parented.
    assert_eq!(dom.snapshot_prune(&PruneRule { keep: None, older_than: hour }, 0).unwrap(), ["base", "mid"]);
    assert_eq!(names(&dom, 0), ["fresh", "leaf"]);
    let fresh = dom.snapshot_lookup_by_name("fresh", 0).unwrap();
    assert_eq!(fresh.parent(0).unwrap_err().code, ErrorCode::NoDomainSnapshot);
    assert!(fresh.is_current(0).unwrap());
    // The test driver's metadata is its state: always consistent.
    assert!(dom.snapshot_verify(verify::REPAIR).unwrap().is_empty());
}

#[test]
fn read_only_connections_may_dry_run_and_verify_only() {
    let path = std::env::temp_dir().join(format!("virsnap-health-ro-{}.xml", std::process::id()));
    std::fs::write(&path, NODE).unwrap();
    let conn = Connection::open_read_only(Some(&format!("test://{}", path.display()))).unwrap();
    std::fs::remove_file(&path).unwrap();
    let dom = conn.lookup_by_name("fc4").unwrap();
    let rule = PruneRule { keep: Some(0), older_than: None };
    assert_eq!(dom.snapshot_prune(&rule, prune::DRY_RUN).unwrap(), ["base", "mid"]);
    assert_eq!(dom.snapshot_prune(&rule, 0).unwrap_err().code, ErrorCode::OperationDenied);
    assert!(dom.snapshot_verify(0).unwrap().is_empty());
    assert_eq!(dom.snapshot_verify(verify::REPAIR).unwrap_err().code, ErrorCode::OperationDenied);
}

fn have_qemu_io() -> bool {
    let ok = Command::new("qemu-io").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(ok, "qemu-io is required and not installed");
    ok
}

fn write_pattern(img: &Path, pat: u8) {
    let out = Command::new("qemu-io").args(["-c", &format!("write -P {pat} 0 64k")]).arg(img).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn reads_pattern(img: &Path, pat: u8) -> bool {
    let out = Command::new("qemu-io").args(["-r", "-U", "-c", &format!("read -P {pat} 0 64k")]).arg(img).output().unwrap();
    out.status.success() && !String::from_utf8_lossy(&out.stdout).contains("Pattern verification failed")
}

fn qemu_img(args: &[&str], img: &Path) {
    let out = Command::new("qemu-img").args(args).arg(img).output().unwrap();
    assert!(out.status.success(), "qemu-img {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A domain `vm` with snapshots s0..s{n-1}, pattern 0x10+i written before s{i}.
fn setup(tag: &str, n: u8) -> (Root, std::path::PathBuf, Domain) {
    let root = Root::new(tag);
    let img = root.image("vm.qcow2");
    let dom = root.conn().define_xml(&Root::domain_xml("vm", &img), 0).unwrap();
    for i in 0..n {
        write_pattern(&img, 0x10 + i);
        dom.snapshot_create_xml(&format!("<domainsnapshot><name>s{i}</name></domainsnapshot>"), 0).unwrap();
    }
    (root, img, dom)
}

fn revert_reads(dom: &Domain, img: &Path, name: &str, pat: u8) {
    dom.snapshot_lookup_by_name(name, 0).unwrap().revert(0).unwrap();
    assert!(reads_pattern(img, pat), "after revert to {name}: pattern {pat:#x} expected");
}

#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-system-x86_64 and qemu-img; qemu-io")]
fn qemu_prune_deletes_the_oldest_and_keeps_every_survivors_data() {
    if skip() || !have_qemu_io() {
        return;
    }
    let (root, img, dom) = setup("prune", 5);
    // Current s1: s0 <- s1 <- s2 <- s3 <- s4.
    dom.snapshot_lookup_by_name("s1", 0).unwrap().revert(0).unwrap();
    let rule = PruneRule { keep: Some(2), older_than: None };
    assert_eq!(dom.snapshot_prune(&rule, prune::DRY_RUN).unwrap(), ["s0", "s2"]);
    assert_eq!(Root::tags(&img), ["s0", "s1", "s2", "s3", "s4"]);
    assert_eq!(dom.snapshot_prune(&rule, 0).unwrap(), ["s0", "s2"]);
    // Gone from the metadata and from qcow2; s3 re-parented to s1.
    assert_eq!(Root::tags(&img), ["s1", "s3", "s4"]);
    assert_eq!(names(&dom, list::METADATA), ["s1", "s3", "s4"]);
    assert!(!root.dir.join("lib/qemu/snapshot/vm/s0.xml").exists());
    assert_eq!(dom.snapshot_lookup_by_name("s3", 0).unwrap().parent(0).unwrap().name().as_ref(), "s1");
    assert!(dom.snapshot_lookup_by_name("s1", 0).unwrap().is_current(0).unwrap());
    assert!(dom.snapshot_verify(0).unwrap().is_empty());
    // Each survivor's data is intact.
    revert_reads(&dom, &img, "s4", 0x14);
    revert_reads(&dom, &img, "s1", 0x11);
    revert_reads(&dom, &img, "s3", 0x13);
    // Nothing left to prune by age (all are new).
    assert!(dom.snapshot_prune(&PruneRule { keep: None, older_than: Some(Duration::from_secs(3600)) }, 0).unwrap().is_empty());
}

#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-system-x86_64 and qemu-img; qemu-io")]
fn qemu_verify_finds_and_repairs_drift_without_losing_data() {
    if skip() || !have_qemu_io() {
        return;
    }
    let (root, img, dom) = setup("verify", 4);
    assert!(dom.snapshot_verify(0).unwrap().is_empty());
    // Faults behind virsnap's back: current s1's qcow2 snapshot deleted, a
    // stray qcow2 snapshot made (its data: s1's, which the disk holds now).
    dom.snapshot_lookup_by_name("s1", 0).unwrap().revert(0).unwrap();
    qemu_img(&["snapshot", "-d", "s1"], &img);
    qemu_img(&["snapshot", "-c", "stray"], &img);
    let meta_dir = root.dir.join("lib/qemu/snapshot/vm");
    let before = std::fs::read_dir(&meta_dir).unwrap().count();
    let found = dom.snapshot_verify(0).unwrap();
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "snapshot 's1': has metadata but its internal snapshot 's1' is gone from disk(s) vda",
            "snapshot 's1': carries the current marker but its state is gone",
            "snapshot 'stray': qcow2 snapshot 'stray' on disk vda has no metadata",
        ],
        "{lines:#?}"
    );
    assert!(found.iter().all(|f| f.repair == Repair::NotAsked && f.remains()));
    // Verify alone changes nothing.
    assert_eq!(std::fs::read_dir(&meta_dir).unwrap().count(), before);
    assert!(meta_dir.join("s1.xml").exists());
    // Repair: each says what it did; verify is clean afterwards.
    let fixed = dom.snapshot_verify(verify::REPAIR).unwrap();
    let lines: Vec<String> = fixed.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "snapshot 's1': has metadata but its internal snapshot 's1' is gone from disk(s) vda; repaired: metadata dropped, children s2 re-parented to 's0'",
            "snapshot 's1': carries the current marker but its state is gone; repaired: current marker moved to 's0'",
            "snapshot 'stray': qcow2 snapshot 'stray' on disk vda has no metadata; repaired: adopted: metadata written",
        ],
        "{lines:#?}"
    );
    assert!(fixed.iter().all(|f| !f.remains()));
    assert!(dom.snapshot_verify(0).unwrap().is_empty());
    // From a fresh connection too (the repair is on disk, not in a cache).
    let dom2 = root.conn().lookup_by_name("vm").unwrap();
    assert!(dom2.snapshot_verify(0).unwrap().is_empty());
    assert_eq!(names(&dom2, list::METADATA), ["s0", "s2", "s3", "stray"]);
    assert!(names(&dom2, list::NO_METADATA).is_empty());
    assert_eq!(dom2.snapshot_current(0).unwrap().name().as_ref(), "s0");
    assert_eq!(dom2.snapshot_lookup_by_name("s2", 0).unwrap().parent(0).unwrap().name().as_ref(), "s0");
    // The survivors' data, the adopted one's included.
    revert_reads(&dom2, &img, "stray", 0x11);
    revert_reads(&dom2, &img, "s0", 0x10);
    revert_reads(&dom2, &img, "s2", 0x12);
    revert_reads(&dom2, &img, "s3", 0x13);
}

#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-system-x86_64 and qemu-img; qemu-io")]
fn qemu_verify_refuses_what_would_lose_data() {
    if skip() || !have_qemu_io() {
        return;
    }
    // An external (disk-only) snapshot whose overlay is re-pointed at
    // another image: reported, and repair refuses (only a person knows
    // which backing file is right); re-pointing it back makes it clean.
    let (root, img, dom) = setup("refuse", 0);
    dom.snapshot_create_xml("<domainsnapshot><name>x1</name></domainsnapshot>", virsnap_core::flags::create::DISK_ONLY).unwrap();
    let overlay = root.dir.join("vm.x1");
    assert!(overlay.exists(), "external overlay expected at {}", overlay.display());
    assert!(dom.snapshot_verify(0).unwrap().is_empty());
    let other = root.image("other.qcow2");
    qemu_img(&["rebase", "-u", "-F", "qcow2", "-b", other.to_str().unwrap()], &overlay);
    let found = dom.snapshot_verify(verify::REPAIR).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].snapshot, "x1");
    assert!(found[0].problem.contains("re-ordered"), "{}", found[0].problem);
    assert!(matches!(found[0].repair, Repair::Refused(_)), "{:?}", found[0].repair);
    assert!(found[0].remains());
    assert!(root.dir.join("lib/qemu/snapshot/vm/x1.xml").exists());
    qemu_img(&["rebase", "-u", "-F", "qcow2", "-b", img.to_str().unwrap()], &overlay);
    assert!(dom.snapshot_verify(0).unwrap().is_empty());
    // A qcow2 tag that is no valid snapshot name cannot be adopted.
    qemu_img(&["snapshot", "-c", "a/b"], &overlay);
    let found = dom.snapshot_verify(verify::REPAIR).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].to_string(), "snapshot 'a/b': qcow2 snapshot 'a/b' on disk vda has no metadata; not repaired: its tag is not a valid snapshot name");
    assert_eq!(names(&dom, 0), ["x1"]);
}

#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-system-x86_64 and qemu-img; qemu-io")]
fn qemu_a_qcow2_snapshot_swapped_behind_our_back_shows_at_once() {
    if skip() || !have_qemu_io() {
        return;
    }
    // One tag deleted and another made: the table keeps its length and
    // offset. The tree index used to be keyed by those alone (and the
    // native table reader failed on a table ending the file unpadded), so
    // the listing kept showing the old tree and hid the stray snapshot.
    let (root, img, dom) = setup("swap", 4);
    dom.snapshot_lookup_by_name("s1", 0).unwrap().revert(0).unwrap();
    assert_eq!(names(&dom, 0), ["s0", "s1", "s2", "s3"]);
    qemu_img(&["snapshot", "-d", "s1"], &img);
    qemu_img(&["snapshot", "-c", "stray"], &img);
    let dom = root.conn().lookup_by_name("vm").unwrap();
    assert_eq!(names(&dom, list::NO_METADATA), ["stray"]);
    assert_eq!(names(&dom, 0), ["s0", "s1", "s2", "s3", "stray"]);
}

#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-system-x86_64 and qemu-img; qemu-io")]
fn qemu_prune_of_a_running_guest() {
    if skip() || !have_qemu_io() {
        return;
    }
    // Running (TCG): QEMU deletes each tag (QMP snapshot-delete job), all
    // over one monitor connection; the metadata and the qcow2 table agree.
    let (root, img, dom) = setup("prune-live", 1);
    dom.create(0).unwrap();
    for n in ["l1", "l2", "l3"] {
        dom.snapshot_create_xml(&format!("<domainsnapshot><name>{n}</name></domainsnapshot>"), 0).unwrap();
    }
    let rule = PruneRule { keep: Some(1), older_than: None };
    assert_eq!(dom.snapshot_prune(&rule, 0).unwrap(), ["s0", "l1", "l2"]);
    assert_eq!(names(&dom, 0), ["l3"]);
    assert_eq!(Root::tags(&img), ["l3"]);
    assert!(dom.snapshot_verify(0).unwrap().is_empty());
    dom.destroy(0).unwrap();
    assert_eq!(Root::tags(&img), ["l3"]);
    drop(root);
}

#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-system-x86_64 and qemu-img; qemu-io")]
fn qemu_verify_refuses_a_snapshot_gone_from_one_disk_only() {
    if skip() || !have_qemu_io() {
        return;
    }
    // Two disks: s1's qcow2 snapshot deleted on vdb only (its vda half
    // remains: dropping the metadata would abandon it), and a snapshot made
    // on vdb alone (adopting it would make one that cannot be reverted).
    let root = Root::new("twodisk");
    let (a, b) = (root.image("a.qcow2"), root.image("b.qcow2"));
    let xml = Root::domain_xml("vm", &a).replace(
        "</devices>",
        &format!(
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{}'/>\
             <target dev='vdb' bus='virtio'/></disk></devices>",
            b.display()
        ),
    );
    let dom = root.conn().define_xml(&xml, 0).unwrap();
    for n in ["s0", "s1"] {
        dom.snapshot_create_xml(&format!("<domainsnapshot><name>{n}</name></domainsnapshot>"), 0).unwrap();
    }
    assert!(dom.snapshot_verify(0).unwrap().is_empty());
    qemu_img(&["snapshot", "-d", "s1"], &b);
    qemu_img(&["snapshot", "-c", "only-b"], &b);
    let found = dom.snapshot_verify(verify::REPAIR).unwrap();
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "snapshot 's1': its internal snapshot 's1' is gone from disk(s) vdb but still on vda; not repaired: dropping the metadata would abandon the state still on vda",
            "snapshot 'only-b': qcow2 snapshot 'only-b' on disk vdb has no metadata; not repaired: it is not on the first disk; adopting it would make a snapshot that cannot be reverted",
        ],
        "{lines:#?}"
    );
    assert!(found.iter().all(|f| f.remains()));
    // Nothing changed: both snapshots keep their metadata, the tags stay.
    assert_eq!(names(&dom, list::METADATA), ["s0", "s1"]);
    assert_eq!(Root::tags(&a), ["s0", "s1"]);
    assert_eq!(Root::tags(&b), ["only-b", "s0"]);
}

#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-system-x86_64 and qemu-img; qemu-io")]
fn qemu_verify_repairs_a_dangling_parent_and_a_second_current_marker() {
    if skip() || !have_qemu_io() {
        return;
    }
    // Metadata edited behind virsnap's back (a tool without its journal):
    // s2 names a parent that does not exist, s0 claims to be current too.
    let (root, img, dom) = setup("meta", 3);
    let dir = root.dir.join("lib/qemu/snapshot/vm");
    let edit = |file: &str, from: &str, to: &str| {
        let p = dir.join(file);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{file}: {from}");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    };
    edit("s2.xml", "<name>s1</name>\n  </parent>", "<name>ghost</name>\n  </parent>");
    edit("s0.xml", "<active>0</active>", "<active>1</active>");
    let found = dom.snapshot_verify(0).unwrap();
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "snapshot 's0': carries a second current marker (the current snapshot is 's2')",
            "snapshot 's2': its metadata names parent 'ghost', which does not exist",
        ],
        "{lines:#?}"
    );
    let fixed = dom.snapshot_verify(verify::REPAIR).unwrap();
    assert!(fixed.iter().all(|f| f.repair == Repair::Done("metadata rewritten".into())), "{fixed:?}");
    let dom = root.conn().lookup_by_name("vm").unwrap();
    assert!(dom.snapshot_verify(0).unwrap().is_empty());
    assert!(std::fs::read_to_string(dir.join("s0.xml")).unwrap().contains("<active>0</active>"));
    assert!(!std::fs::read_to_string(dir.join("s2.xml")).unwrap().contains("ghost"));
    assert_eq!(dom.snapshot_current(0).unwrap().name().as_ref(), "s2");
    assert_eq!(dom.snapshot_lookup_by_name("s2", 0).unwrap().parent(0).unwrap_err().code, ErrorCode::NoDomainSnapshot);
    // The data of every snapshot is untouched.
    revert_reads(&dom, &img, "s0", 0x10);
    revert_reads(&dom, &img, "s2", 0x12);
}

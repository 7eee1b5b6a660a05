//! The VirtualBox driver against a REAL VirtualBox 7.2 (VBoxSVC +
//! VBoxManage from Debian's `virtualbox` package in a sid chroot built by
//! tests/vbox/build-chroot.sh). Without /dev/vboxdrv no VM can start, so
//! only offline operations run; after each step VirtualBox's own
//! `snapshot VM list --machinereadable` is checked.
//!
//! Ignored (cargo counts it, with the reason) unless build.rs found the
//! chroot: `VIRSNAP_VBOX_CHROOT` (default /var/cache/virsnap/vbox-chroot,
//! ready when `.virsnap-ready` is there).
#![allow(clippy::unwrap_used)]

mod vbox_common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use vbox_common::*;
use virsnap_core::flags::{delete, list};
use virsnap_core::model::DomainState;
use virsnap_core::{Connection, Domain, ErrorCode};

struct Vm {
    root: PathBuf,
    name: String,
    conn: Connection,
}

fn command(root: &std::path::Path) -> String {
    format!("chroot {} env HOME=/root /usr/lib/virtualbox/VBoxManage", root.display())
}

impl Vm {
    /// Registers a fresh VM with one 16 MB VDI on SATA.
    fn new(root: PathBuf, tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("virsnap-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
        let vm = Self { conn: open_with(&command(&root), None), root, name };
        let disk = format!("/root/virsnap-disks/{}/disk1.vdi", vm.name);
        vm.vbm_ok(&["createvm", "--name", &vm.name, "--ostype", "Linux_64", "--register"]);
        vm.vbm_ok(&["createmedium", "disk", "--filename", &disk, "--size", "16", "--format", "VDI"]);
        vm.vbm_ok(&["storagectl", &vm.name, "--name", "SATA", "--add", "sata", "--controller", "IntelAhci"]);
        vm.vbm_ok(&["storageattach", &vm.name, "--storagectl", "SATA", "--port", "0", "--device", "0", "--type", "hdd", "--medium", &disk]);
        vm
    }

    fn vbm(&self, args: &[&str]) -> (i32, String, String) {
        vbox_common::vbm_in(&self.root, args)
    }

    fn vbm_ok(&self, args: &[&str]) -> String {
        let (rc, out, err) = self.vbm(args);
        assert_eq!(rc, 0, "VBoxManage {args:?}: {out}{err}");
        out
    }

    fn dom(&self) -> Domain {
        self.conn.lookup_by_name(&self.name).unwrap()
    }

    /// VirtualBox's own listing: (key suffix, name) in order, and the current name.
    fn listing(&self) -> (Vec<(String, String)>, Option<String>) {
        let (rc, out, _) = self.vbm(&["snapshot", &self.name, "list", "--machinereadable"]);
        if rc == 1 && out.contains("does not have any snapshots") {
            return (Vec::new(), None);
        }
        assert_eq!(rc, 0, "{out}");
        let mut v = Vec::new();
        let mut cur = None;
        for l in out.lines() {
            if let Some(rest) = l.strip_prefix("SnapshotName") {
                let (suffix, val) = rest.split_once("=\"").unwrap();
                v.push((suffix.to_owned(), val.trim_end_matches('"').to_owned()));
            } else if let Some(c) = l.strip_prefix("CurrentSnapshotName=\"") {
                cur = Some(c.trim_end_matches('"').to_owned());
            }
        }
        (v, cur)
    }

    fn expect(&self, tree: &[(&str, &str)], current: Option<&str>) {
        let (v, cur) = self.listing();
        let got: Vec<(&str, &str)> = v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(got, tree, "VirtualBox's listing");
        assert_eq!(cur.as_deref(), current, "VirtualBox's current snapshot");
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.vbm(&["unregistervm", &self.name, "--delete-all"]);
        let _ = std::fs::remove_dir_all(self.root.join("root/virsnap-disks").join(&self.name));
    }
}

fn take(d: &Domain, name: &str) {
    let s = d.snapshot_create_xml(&format!("<domainsnapshot><name>{name}</name></domainsnapshot>"), 0).unwrap();
    assert_eq!(&*s.name(), name);
}

#[test]
#[cfg_attr(virsnap_no_vbox, ignore = "needs the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn offline_lifecycle_agrees_with_virtualbox() {
    let Some(root) = vbox_common::chroot("real VirtualBox") else { return };
    let vm = Vm::new(root, "life");
    let d = vm.dom();
    assert_eq!(d.state(0).unwrap().0, DomainState::Shutoff);
    assert!(vm.conn.hypervisor_version().unwrap() >= 7_000_000);
    assert_eq!(d.snapshot_num(0).unwrap(), 0);
    vm.expect(&[], None);

    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    vm.conn.set_progress(Some(std::sync::Arc::new(move |op: &str, pct: u32| sink.lock().unwrap().push((op.to_owned(), pct)))));
    let s1 = d
        .snapshot_create_xml("<domainsnapshot><name>s1</name><description>first &amp; \"quoted\"</description></domainsnapshot>", 0)
        .unwrap();
    vm.conn.set_progress(None);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last(), Some(&("snapshot-create".to_owned(), 100)), "VBoxManage's progress reported: {seen:?}");
    vm.expect(&[("", "s1")], Some("s1"));
    let x = s1.xml_desc(0).unwrap();
    assert!(x.contains("<description>first &amp; &quot;quoted&quot;</description>"), "{x}");
    assert!(x.contains("<state>shutoff</state>"), "{x}");
    assert!(x.contains("<creationTime>"), "creation time from the .vbox file: {x}");
    take(&d, "s2");
    vm.expect(&[("", "s1"), ("-1", "s2")], Some("s2"));
    assert_eq!(&*d.snapshot_current(0).unwrap().name(), "s2");

    s1.revert(0).unwrap();
    vm.expect(&[("", "s1"), ("-1", "s2")], Some("s1"));
    assert!(s1.is_current(0).unwrap());
    take(&d, "s3");
    vm.expect(&[("", "s1"), ("-1", "s2"), ("-2", "s3")], Some("s3"));
    assert_eq!(s1.list_children_names(0).unwrap(), ["s2", "s3"]);

    let s3 = d.snapshot_lookup_by_name("s3", 0).unwrap();
    s3.rename("s3 renamed", 0).unwrap();
    vm.expect(&[("", "s1"), ("-1", "s2"), ("-2", "s3 renamed")], Some("s3 renamed"));
    assert_eq!(s3.rename("s2", 0).unwrap_err().code, ErrorCode::OperationInvalid);

    // VirtualBox refuses to merge a snapshot with two children.
    let e = s1.delete(0).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid, "{}", e.message);
    vm.expect(&[("", "s1"), ("-1", "s2"), ("-2", "s3 renamed")], Some("s3 renamed"));

    d.snapshot_lookup_by_name("s2", 0).unwrap().delete(0).unwrap();
    vm.expect(&[("", "s1"), ("-1", "s3 renamed")], Some("s3 renamed"));

    // Restore to s1 then delete s1 itself (one child): merged, child re-parented.
    take(&d, "s4");
    take(&d, "s5");
    vm.expect(&[("", "s1"), ("-1", "s3 renamed"), ("-1-1", "s4"), ("-1-1-1", "s5")], Some("s5"));
    s3.delete(delete::CHILDREN_ONLY).unwrap();
    vm.expect(&[("", "s1"), ("-1", "s3 renamed")], Some("s3 renamed"));
    s1.delete(0).unwrap();
    vm.expect(&[("", "s3 renamed")], Some("s3 renamed"));
    assert_eq!(d.snapshot_list_names(list::ROOTS).unwrap(), ["s3 renamed"]);

    take(&d, "a");
    d.snapshot_lookup_by_name("s3 renamed", 0).unwrap().revert(0).unwrap();
    take(&d, "b");
    take(&d, "c");
    vm.expect(&[("", "s3 renamed"), ("-1", "a"), ("-2", "b"), ("-2-1", "c")], Some("c"));
    d.snapshot_lookup_by_name("s3 renamed", 0).unwrap().delete(delete::CHILDREN).unwrap();
    vm.expect(&[], None);
    assert_eq!(d.snapshot_num(0).unwrap(), 0);
    assert_eq!(d.snapshot_current(0).unwrap_err().code, ErrorCode::NoDomainSnapshot);

    // Starting needs /dev/vboxdrv: the failure is reported, nothing changes.
    take(&d, "x");
    let e = d.snapshot_lookup_by_name("x", 0).unwrap().create_from(0).unwrap_err();
    assert!(matches!(e.code, ErrorCode::OperationFailed | ErrorCode::OperationInvalid), "{e:?}");
    vm.expect(&[("", "x")], Some("x"));
    assert_eq!(d.snapshot_delete_all(0).unwrap(), 1);
    vm.expect(&[], None);
}

#[test]
#[cfg_attr(virsnap_no_vbox, ignore = "needs the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn duplicates_saved_state_and_delete_all() {
    let Some(root) = vbox_common::chroot("real VirtualBox") else { return };
    let vm = Vm::new(root.clone(), "dup");
    let d = vm.dom();
    take(&d, "a");
    // A second "a": VirtualBox allows it; its handle carries its UUID, so
    // it acts on this snapshot and not on the first "a".
    let second = d.snapshot_create_xml("<domainsnapshot><name>a</name></domainsnapshot>", 0).unwrap();
    assert_eq!(*second.name(), *second.uuid_string().unwrap());
    assert!(second.is_current(0).unwrap());
    assert_eq!(&*d.snapshot_current(0).unwrap().name(), &*second.name());
    take(&d, "b");
    vm.expect(&[("", "a"), ("-1", "a"), ("-1-1", "b")], Some("b"));
    assert_eq!(d.snapshot_list_names(0).unwrap(), ["a", "a", "b"]);
    let handles: Vec<String> = d.list_all_snapshots(0).unwrap().iter().map(|s| s.name().to_string()).collect();
    assert_eq!(handles, ["a", &*second.name(), "b"]);
    assert_eq!(&*d.snapshot_lookup_by_name("b", 0).unwrap().parent(0).unwrap().name(), &*second.name());
    let first = d.snapshot_lookup_by_name("a", 0).unwrap();
    let (_, out, _) = vm.vbm(&["snapshot", &vm.name, "list", "--machinereadable"]);
    let root_uuid = out.lines().find_map(|l| l.strip_prefix("SnapshotUUID=\"")).unwrap().trim_end_matches('"').to_owned();
    assert_eq!(first.uuid_string().unwrap(), root_uuid, "lookup by name finds the first, depth-first");

    // A saved machine: VirtualBox does not look inside the state file.
    let sav = format!("/root/virsnap-disks/{}/fake.sav", vm.name);
    std::fs::write(root.join(sav.trim_start_matches('/')), b"x").unwrap();
    vm.vbm_ok(&["adoptstate", &vm.name, &sav]);
    assert_eq!(d.state(0).unwrap().0, DomainState::Shutoff);
    let s = d.snapshot_create_xml("<domainsnapshot><name>insaved</name></domainsnapshot>", 0).unwrap();
    assert!(s.xml_desc(0).unwrap().contains("<state>running</state>"));
    assert_eq!(d.snapshot_list_names(list::ACTIVE).unwrap(), ["insaved"]);
    vm.vbm_ok(&["discardstate", &vm.name]);
    first.revert(0).unwrap();
    vm.expect(&[("", "a"), ("-1", "a"), ("-1-1", "b"), ("-1-1-1", "insaved")], Some("a"));
    assert_eq!(d.snapshot_delete_all(0).unwrap(), 4);
    vm.expect(&[], None);
}

#[test]
#[cfg_attr(virsnap_no_vbox, ignore = "needs the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn redefine_writes_the_vbox_file_of_the_unregistered_machine() {
    let Some(root) = vbox_common::chroot("real VirtualBox") else { return };
    let vm = Vm::new(root, "redef");
    let d = vm.dom();
    // A root snapshot on a machine without snapshots (7.2 dialect: before <Hardware>).
    let r0 = d
        .snapshot_create_xml(
            "<domainsnapshot><name>r0</name><description>redefined root</description><state>shutoff</state><creationTime>1000000000</creationTime></domainsnapshot>",
            virsnap_core::flags::create::REDEFINE,
        )
        .unwrap();
    vm.expect(&[("", "r0")], Some("r0"));
    let x = r0.xml_desc(0).unwrap();
    assert!(x.contains("<creationTime>1000000000</creationTime>") && x.contains("<description>redefined root</description>"), "{x}");
    take(&d, "s1");
    vm.expect(&[("", "r0"), ("-1", "s1")], Some("s1"));
    let r1 = d
        .snapshot_create_xml(
            "<domainsnapshot><name>r1</name><parent><name>s1</name></parent><state>shutoff</state><creationTime>1000000001</creationTime></domainsnapshot>",
            virsnap_core::flags::create::REDEFINE,
        )
        .unwrap();
    vm.expect(&[("", "r0"), ("-1", "s1"), ("-1-1", "r1")], Some("s1"));
    assert_eq!(&*r1.parent(0).unwrap().name(), "s1");
    // Existing snapshot: metadata altered through VBoxManage.
    d.snapshot_create_xml("<domainsnapshot><name>s1</name><description>now described</description><state>shutoff</state><creationTime>1000000002</creationTime></domainsnapshot>", virsnap_core::flags::create::REDEFINE)
        .unwrap();
    assert!(vm.vbm_ok(&["snapshot", &vm.name, "list", "--machinereadable"]).contains("SnapshotDescription-1=\"now described\""));
    // Refusals change nothing.
    for (xml, flags, code) in [
        ("<domainsnapshot><name>r2</name><state>shutoff</state><creationTime>5</creationTime></domainsnapshot>", 0u32, ErrorCode::ConfigUnsupported),
        ("<domainsnapshot><name>r2</name><parent><name>s1</name></parent><state>shutoff</state><creationTime>5</creationTime></domainsnapshot>", virsnap_core::flags::create::CURRENT, ErrorCode::ConfigUnsupported),
        ("<domainsnapshot><name>r2</name><parent><name>nosuch</name></parent><state>shutoff</state><creationTime>5</creationTime></domainsnapshot>", 0, ErrorCode::InvalidArg),
        ("<domainsnapshot><name>r2</name><parent><name>s1</name></parent><state>running</state><creationTime>5</creationTime></domainsnapshot>", 0, ErrorCode::ConfigUnsupported),
        ("<domainsnapshot><name>s1</name><parent><name>r1</name></parent><state>shutoff</state><creationTime>5</creationTime></domainsnapshot>", 0, ErrorCode::ConfigUnsupported),
    ] {
        let e = d.snapshot_create_xml(xml, virsnap_core::flags::create::REDEFINE | flags).unwrap_err();
        assert_eq!(e.code, code, "{xml}: {}", e.message);
    }
    vm.expect(&[("", "r0"), ("-1", "s1"), ("-1-1", "r1")], Some("s1"));
    // The redefined snapshots carry no disk state: deleting them merges nothing.
    r1.delete(0).unwrap();
    r0.delete(0).unwrap();
    vm.expect(&[("", "s1")], Some("s1"));
    let info = vm.vbm_ok(&["showvminfo", &vm.name, "--machinereadable"]);
    assert!(info.contains("\"SATA-0-0\"=\"/root/VirtualBox VMs/"), "the disk chain is intact: {info}");
    d.snapshot_lookup_by_name("s1", 0).unwrap().revert(0).unwrap();
    d.snapshot_delete_all(0).unwrap();
    vm.expect(&[], None);
    let info = vm.vbm_ok(&["showvminfo", &vm.name, "--machinereadable"]);
    assert!(info.contains("\"SATA-0-0\"=\"/root/virsnap-disks/"), "back on the base disk: {info}");
}

#[test]
#[cfg_attr(virsnap_no_vbox, ignore = "needs the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn an_interrupted_redefine_is_recovered_at_the_next_open() {
    let Some(root) = vbox_common::chroot("real VirtualBox") else { return };
    let vm = Vm::new(root.clone(), "crash");
    take(&vm.dom(), "s1");
    let info = vm.vbm_ok(&["showvminfo", &vm.name, "--machinereadable"]);
    let vpath = info.lines().find_map(|l| l.strip_prefix("CfgFile=\"")).unwrap().trim_end_matches('"').to_owned();
    let uuid = vm.dom().uuid_string();
    // What a crash between `unregistervm` and `registervm` leaves behind
    // (owner pid 0 stands for a process that is gone).
    let dir = match (std::env::var_os("VIRSNAP_VBOX_STATE_DIR"), std::env::var_os("XDG_STATE_HOME")) {
        (Some(d), _) if !d.is_empty() => PathBuf::from(d),
        (_, Some(x)) if !x.is_empty() => PathBuf::from(x).join("virsnap/vbox"),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/state/virsnap/vbox"),
    };
    std::fs::create_dir_all(&dir).unwrap();
    let hpath = root.join(vpath.trim_start_matches('/'));
    std::fs::write(dir.join(format!("{uuid}.pending")), format!("{vpath}\n{}\n0\n", hpath.display())).unwrap();
    vm.vbm_ok(&["unregistervm", &vm.name]);
    assert!(vm.conn.lookup_by_name(&vm.name).is_err());
    let conn = open_with(&command(&root), None);
    let d = conn.lookup_by_name(&vm.name).expect("registered again by the open");
    assert_eq!(d.snapshot_list_names(0).unwrap(), ["s1"]);
    assert!(!dir.join(format!("{uuid}.pending")).exists());
}

/// Prune and verify (issue 21) on real VirtualBox: a prune is one default
/// delete per snapshot (VirtualBox merges the disks), never the current
/// one; verify finds a snapshot's disk image deleted behind VirtualBox's
/// back, refuses to "repair" VirtualBox's own tree, and is clean before.
#[test]
#[cfg_attr(virsnap_no_vbox, ignore = "needs the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn prune_and_verify_agree_with_virtualbox() {
    use virsnap_core::flags::{prune, verify};
    use virsnap_core::health::{PruneRule, Repair};
    let Some(root) = vbox_common::chroot("real VirtualBox") else { return };
    let vm = Vm::new(root, "health");
    let d = vm.dom();
    for n in ["s0", "s1", "s2", "s3"] {
        take(&d, n);
    }
    // current s3 (the last taken); ties in time go by creation order.
    let rule = PruneRule { keep: Some(2), older_than: None };
    assert_eq!(d.snapshot_prune(&rule, prune::DRY_RUN).unwrap(), ["s0", "s1"]);
    vm.expect(&[("", "s0"), ("-1", "s1"), ("-1-1", "s2"), ("-1-1-1", "s3")], Some("s3"));
    assert_eq!(d.snapshot_prune(&rule, 0).unwrap(), ["s0", "s1"]);
    vm.expect(&[("", "s2"), ("-1", "s3")], Some("s3"));
    assert!(d.snapshot_verify(0).unwrap().is_empty());
    // Fault: the image s2's hardware attaches is deleted.
    let (_, info, _) = vm.vbm(&["showvminfo", &vm.name, "--machinereadable"]);
    let cfg = info.lines().find_map(|l| l.strip_prefix("CfgFile=\"")).unwrap().trim_end_matches('"').to_owned();
    let cfg_text = std::fs::read_to_string(vm.root.join(cfg.trim_start_matches('/'))).unwrap();
    let found = d.snapshot_verify(0).unwrap();
    assert!(found.is_empty(), "{found:?}");
    let s2_at = cfg_text.find("name=\"s2\"").unwrap();
    let img = &cfg_text[s2_at..];
    let img_uuid = &img[img.find("<Image uuid=\"").unwrap() + 13..];
    let img_uuid = &img_uuid[..img_uuid.find('"').unwrap()];
    let loc_at = cfg_text.find(&format!("uuid=\"{img_uuid}\" location=\"")).unwrap();
    let loc = &cfg_text[loc_at + img_uuid.len() + 18..];
    let loc = &loc[..loc.find('"').unwrap()];
    let cfg_dir = std::path::Path::new(&cfg).parent().unwrap().to_path_buf();
    let file = if loc.starts_with('/') { vm.root.join(loc.trim_start_matches('/')) } else { vm.root.join(cfg_dir.strip_prefix("/").unwrap()).join(loc) };
    std::fs::remove_file(&file).unwrap();
    let found = d.snapshot_verify(verify::REPAIR).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].snapshot, "s2");
    assert_eq!(found[0].problem, format!("its disk image '{}' is gone", file.display()));
    assert!(matches!(found[0].repair, Repair::Refused(_)));
    // Nothing was changed in VirtualBox.
    vm.expect(&[("", "s2"), ("-1", "s3")], Some("s3"));
}

/// Snapshot disk usage from the `.vbox` file: a snapshot's differencing
/// images (the `.vdi` files in `Snapshots/`) are its `overlayBytes` (the
/// first snapshot attaches the base image: 0), no saved state offline, and
/// what a delete frees is unknown (never guessed). Every differencing image
/// but the current state's belongs to exactly one snapshot.
#[test]
#[cfg_attr(virsnap_no_vbox, ignore = "needs the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn snapshot_usage_counts_differencing_images() {
    use std::os::unix::fs::MetadataExt;
    let Some(root) = vbox_common::chroot("real VirtualBox") else { return };
    let vm = Vm::new(root.clone(), "usage");
    let d = vm.dom();
    for n in ["a", "b", "c"] {
        take(&d, n);
    }
    let rows = d.snapshot_usage(0).unwrap();
    assert_eq!(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), d.snapshot_list_names(0).unwrap());
    for r in &rows {
        assert_eq!((r.reclaimable_bytes, r.exclusive_bytes, r.shared_bytes), (None, None, None), "{r:?}");
        assert_eq!(r.vm_state_bytes, Some(0), "{r:?}");
    }
    let by = |n: &str| rows.iter().find(|r| r.name == n).unwrap().overlay_bytes.unwrap();
    assert_eq!(by("a"), 0);
    assert!(by("b") > 0 && by("c") > 0);
    // The machine folder's Snapshots/: three diffs (b's, c's, the current state's).
    let info = vm.vbm_ok(&["showvminfo", &vm.name, "--machinereadable"]);
    let cfg = info.lines().find_map(|l| l.strip_prefix("CfgFile=\"")).unwrap().trim_end_matches('"').to_owned();
    let snapdir = root.join(cfg.trim_start_matches('/')).parent().unwrap().join("Snapshots");
    let mut sizes: Vec<u64> = std::fs::read_dir(&snapdir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap())
        .filter(|m| m.is_file())
        .map(|m| m.blocks() * 512)
        .collect();
    assert_eq!(sizes.len(), 3, "{}", snapdir.display());
    sizes.sort_unstable();
    let total: u64 = sizes.iter().sum();
    assert!(total - sizes.iter().max().unwrap() <= by("b") + by("c") && by("b") + by("c") <= total - sizes[0]);
    assert_eq!(d.snapshot_lookup_by_name("b", 0).unwrap().usage(0).unwrap().overlay_bytes, Some(by("b")));
}

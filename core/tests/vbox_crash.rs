//! Crash-safety sweep of the VirtualBox driver on a REAL VirtualBox 7.2 (the
//! sid chroot of tests/vbox/build-chroot.sh, offline machines).
//!
//! For each operation (create, create under a placeholder name, delete,
//! delete with children, revert, rename, redefine of a new snapshot, of the
//! first snapshot, of an existing one) the operation first runs once in a
//! child process (this test binary re-run on `child_entry`) with
//! `VIRSNAP_CRASH_TRACE` to learn the crash points it passes; then, for
//! each point, a child runs the operation with `VIRSNAP_CRASH_AT` and dies
//! there as `kill -9` would, a second child opens `vbox:///session` (which
//! recovers), and VirtualBox's own listing must equal the state before or
//! the state after the operation (names, parents, descriptions and the
//! current snapshot), with no journal left behind.
//!
//! Ignored (cargo counts it, with the reason) unless build.rs found the
//! chroot.
#![allow(clippy::unwrap_used)]

mod vbox_common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use virsnap_core::flags::{create, delete};
use virsnap_core::Connection;

fn command(root: &Path) -> String {
    format!("chroot {} env HOME=/root /usr/lib/virtualbox/VBoxManage", root.display())
}

/// Child mode: `VSC_OP` on machine `VSC_VM`; a no-op in normal runs.
#[test]
fn child_entry() {
    let Ok(op) = std::env::var("VSC_OP") else { return };
    let conn = Connection::open(Some("vbox:///session")).unwrap();
    if op == "open" {
        return;
    }
    let dom = conn.lookup_by_name(&std::env::var("VSC_VM").unwrap()).unwrap();
    let a = std::env::var("VSC_ARG").unwrap_or_default();
    let b = std::env::var("VSC_ARG2").unwrap_or_default();
    let snap = |n: &str| dom.snapshot_lookup_by_name(n, 0).unwrap();
    match op.as_str() {
        "create" => drop(dom.snapshot_create_xml(&format!("<domainsnapshot><name>{a}</name></domainsnapshot>"), 0).unwrap()),
        "delete" => snap(&a).delete(0).unwrap(),
        "delete-children" => snap(&a).delete(delete::CHILDREN).unwrap(),
        "delete-children-only" => snap(&a).delete(delete::CHILDREN_ONLY).unwrap(),
        "revert" => snap(&a).revert(0).unwrap(),
        "prune-all" => {
            let rule = virsnap_core::health::PruneRule { keep: Some(0), older_than: None };
            drop(dom.snapshot_prune(&rule, 0).unwrap());
        }
        "rename" => snap(&a).rename(&b, 0).unwrap(),
        "redefine" => {
            let parent = if b.is_empty() { String::new() } else { format!("<parent><name>{b}</name></parent>") };
            let xml = format!("<domainsnapshot><name>{a}</name>{parent}<state>shutoff</state><creationTime>1000000000</creationTime></domainsnapshot>");
            drop(dom.snapshot_create_xml(&xml, create::REDEFINE).unwrap());
        }
        "redefine-edit" => {
            let xml = format!("<domainsnapshot><name>{a}</name><description>{b}</description><state>shutoff</state><creationTime>1</creationTime></domainsnapshot>");
            drop(dom.snapshot_create_xml(&xml, create::REDEFINE).unwrap());
        }
        other => panic!("unknown op {other}"),
    }
}

/// One snapshot as VirtualBox lists it: parent name and description.
type Node = (Option<String>, String);

/// A machine's snapshot set (by name; names are unique in these tests) and
/// its current snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct State {
    snaps: BTreeMap<String, Node>,
    current: Option<String>,
}

impl State {
    fn parent(&self, n: &str) -> Option<String> {
        self.snaps[n].0.clone()
    }
    fn descendants(&self, n: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (k, (p, _)) in &self.snaps {
            if p.as_deref() == Some(n) {
                out.push(k.clone());
                out.extend(self.descendants(k));
            }
        }
        out
    }
    fn with(mut self, name: &str, parent: Option<&str>) -> Self {
        self.snaps.insert(name.to_owned(), (parent.map(str::to_owned), String::new()));
        self
    }
    /// Removes `gone`; the children of a removed snapshot move to its
    /// parent and a removed current snapshot passes to the nearest survivor.
    fn without(mut self, gone: &[String]) -> Self {
        let before = self.clone();
        let survivor = |mut n: Option<String>| {
            while let Some(x) = n.clone().filter(|x| gone.contains(x)) {
                n = before.parent(&x);
            }
            n
        };
        for g in gone {
            self.snaps.remove(g);
        }
        for v in self.snaps.values_mut() {
            v.0 = survivor(v.0.clone());
        }
        self.current = survivor(self.current.clone());
        self
    }
}

struct Vm {
    root: PathBuf,
    name: String,
    state_dir: PathBuf,
}

impl Vm {
    /// Registers a fresh VM with one 16 MB VDI on SATA.
    fn new(root: &Path, tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("virsnap-crash-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
        let state_dir = vbox_common::scratch(&format!("crash-{tag}"));
        let vm = Self { root: root.to_owned(), name, state_dir };
        let disk = format!("/root/virsnap-disks/{}/disk1.vdi", vm.name);
        vm.vbm_ok(&["createvm", "--name", &vm.name, "--ostype", "Linux_64", "--register"]);
        vm.vbm_ok(&["createmedium", "disk", "--filename", &disk, "--size", "16", "--format", "VDI"]);
        vm.vbm_ok(&["storagectl", &vm.name, "--name", "SATA", "--add", "sata", "--controller", "IntelAhci"]);
        vm.vbm_ok(&["storageattach", &vm.name, "--storagectl", "SATA", "--port", "0", "--device", "0", "--type", "hdd", "--medium", &disk]);
        vm.uuid();
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

    fn take(&self, name: &str) {
        self.vbm_ok(&["snapshot", &self.name, "take", name]);
    }

    fn restore(&self, name: &str) {
        self.vbm_ok(&["snapshot", &self.name, "restore", name]);
    }

    /// VirtualBox's own view of the snapshots.
    fn state(&self) -> State {
        let (rc, out, err) = self.vbm(&["snapshot", &self.name, "list", "--machinereadable"]);
        if rc != 0 && (out.contains("does not have any snapshots") || err.contains("does not have any snapshots")) {
            return State::default();
        }
        assert_eq!(rc, 0, "snapshot list: {out}{err}");
        let mut by_key: BTreeMap<String, String> = BTreeMap::new();
        let mut desc: BTreeMap<String, String> = BTreeMap::new();
        let mut st = State::default();
        for l in out.lines() {
            let Some((k, v)) = l.split_once("=\"") else { continue };
            let v = v.trim_end_matches('"').to_owned();
            if let Some(key) = k.strip_prefix("SnapshotName") {
                by_key.insert(key.to_owned(), v);
            } else if let Some(key) = k.strip_prefix("SnapshotDescription") {
                desc.insert(key.to_owned(), v);
            } else if k == "CurrentSnapshotName" {
                st.current = Some(v);
            }
        }
        for (key, name) in &by_key {
            let parent = key.rsplit_once('-').and_then(|(p, _)| by_key.get(p)).cloned();
            let d = desc.get(key).cloned().unwrap_or_default();
            assert!(st.snaps.insert(name.clone(), (parent, d)).is_none(), "duplicate snapshot name {name}");
        }
        st
    }

    /// Runs `op` in a child; `crash` as VIRSNAP_CRASH_AT, `trace` as VIRSNAP_CRASH_TRACE.
    fn child(&self, op: &[String], crash: Option<&str>, trace: Option<&Path>) -> std::process::ExitStatus {
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
            .env("VIRSNAP_VBOXMANAGE", command(&self.root))
            .env("VIRSNAP_VBOX_STATE_DIR", &self.state_dir)
            .env("VSC_OP", &op[0])
            .env("VSC_VM", &self.name)
            .env("VSC_ARG", op.get(1).map_or("", String::as_str))
            .env("VSC_ARG2", op.get(2).map_or("", String::as_str))
            .env_remove("VIRSNAP_VBOX_ROOT")
            .env_remove("VIRSNAP_CRASH_AT")
            .env_remove("VIRSNAP_CRASH_TRACE")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(p) = crash {
            c.env("VIRSNAP_CRASH_AT", p);
        }
        if let Some(t) = trace {
            c.env("VIRSNAP_CRASH_TRACE", t);
        }
        let out = c.output().unwrap();
        if !out.status.success() && out.status.signal().is_none() {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().rev().take(6).collect();
            println!("child {op:?} exited {:?}; stderr tail: {}", out.status, tail.into_iter().rev().collect::<Vec<_>>().join(" | "));
        }
        out.status
    }

    /// After a crash during a VBoxManage call: waits until that (orphaned)
    /// VBoxManage is gone and VirtualBox has released the machine's session.
    fn settle(&self) {
        let uuid = self.uuid();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let busy = || {
            std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
                std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains("VBoxManage") && (c.contains(&uuid) || c.contains(&self.name)) && !c.contains("showvminfo")
                })
            })
        };
        while busy() {
            assert!(std::time::Instant::now() < deadline, "VBoxManage still running for {}", self.name);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        loop {
            let (rc, out, _) = self.vbm(&["showvminfo", &uuid, "--machinereadable"]);
            // A locked machine lists its session (SessionName=…).
            if rc != 0 || !out.contains("Session") || std::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    fn uuid(&self) -> String {
        static CACHE: std::sync::Mutex<BTreeMap<String, String>> = std::sync::Mutex::new(BTreeMap::new());
        let mut c = CACHE.lock().unwrap();
        c.entry(self.name.clone())
            .or_insert_with(|| {
                let info = self.vbm_ok(&["showvminfo", &self.name, "--machinereadable"]);
                info.lines().find_map(|l| l.strip_prefix("UUID=\"")).unwrap().trim_end_matches('"').to_owned()
            })
            .clone()
    }

    /// Journal files left in the state directory.
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(&self.state_dir)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n != "trace" && n != "intent.key").collect())
            .unwrap_or_default()
    }

    /// The sweep of one operation. `next(vm, state, k)` prepares iteration
    /// `k` (through VBoxManage directly) and returns the child's op and
    /// the state expected after it. Returns the points swept.
    fn sweep(&self, label: &str, mut next: impl FnMut(&Vm, &State, usize) -> (Vec<String>, State)) -> Vec<String> {
        let trace = self.state_dir.join("trace");
        let s = self.state();
        let (op, after) = next(self, &s, 0);
        let _ = std::fs::remove_file(&trace);
        assert!(self.child(&op, None, Some(&trace)).success(), "{label}: {op:?} failed without a crash");
        assert_eq!(self.state(), after, "{label}: {op:?} without a crash");
        let mut points: Vec<String> = Vec::new();
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        for p in std::fs::read_to_string(&trace).unwrap_or_default().lines() {
            let n = seen.entry(p.to_owned()).or_insert(0);
            *n += 1;
            points.push(if *n == 1 { p.to_owned() } else { format!("{p}#{n}") });
        }
        assert!(!points.is_empty(), "{label}: no crash point reached");
        let mut report = Vec::new();
        for (k, point) in points.iter().enumerate() {
            let before = self.state();
            let (op, after) = next(self, &before, k + 1);
            let before = self.state();
            let mut st = self.child(&op, Some(point), None);
            if st.signal().is_none() && self.state() == before {
                // The operation failed before reaching the point and changed
                // nothing: VirtualBox still held the machine's session from
                // the previous crash (seen under load). Once more, settled.
                println!("{label}: {op:?} ended ({st:?}) before {point} with nothing changed; retrying once");
                self.settle();
                std::thread::sleep(std::time::Duration::from_secs(2));
                st = self.child(&op, Some(point), None);
            }
            assert_eq!(st.signal(), Some(6), "{label}: {op:?} did not die at {point} ({st:?})");
            self.settle();
            assert!(self.child(&["open".to_owned()], None, None).success(), "{label}: reopening after a crash at {point} failed");
            let got = self.state();
            let outcome = if got == before {
                "before"
            } else if got == after {
                "after"
            } else {
                panic!("{label}: crash at {point} during {op:?} left a mix\nbefore: {before:?}\nafter:  {after:?}\ngot:    {got:?}")
            };
            assert!(self.leftovers().is_empty(), "{label}: journal left after a crash at {point}: {:?}", self.leftovers());
            report.push(format!("{point} ({outcome})"));
        }
        println!("{label}: {} crash points: {}", points.len(), report.join(", "));
        points
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.vbm(&["unregistervm", &self.name, "--delete-all"]);
        let _ = std::fs::remove_dir_all(self.root.join("root/virsnap-disks").join(&self.name));
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

fn ops(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
#[cfg_attr(virsnap_no_vbox, ignore = "needs the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn crash_sweep_create_and_rename() {
    let Some(root) = vbox_common::chroot("vbox crash sweep") else { return };
    let vm = Vm::new(&root, "create");
    vm.take("base");
    let plain = vm.sweep("create", |_, s, k| {
        let n = format!("c{k}");
        (ops(&["create", &n]), State { current: Some(n.clone()), ..s.clone().with(&n, s.current.as_deref()) })
    });
    assert!(plain.iter().any(|p| p == "vbox-create-after-take"), "{plain:?}");
    // A leading '-': taken under a placeholder, then renamed (two calls).
    let placeholder = vm.sweep("create under a placeholder name", |_, s, k| {
        let n = format!("-p{k}");
        (ops(&["create", &n]), State { current: Some(n.clone()), ..s.clone().with(&n, s.current.as_deref()) })
    });
    assert!(placeholder.iter().any(|p| p == "vbox-create-after-take"), "{placeholder:?}");
    // Rename back and forth.
    vm.take("n0");
    let rename = vm.sweep("rename", |_, s, _| {
        let (from, to) = if s.snaps.contains_key("n0") { ("n0", "n1") } else { ("n1", "n0") };
        let mut after = s.clone();
        let node = after.snaps.remove(from).unwrap();
        after.snaps.insert(to.to_owned(), node);
        for v in after.snaps.values_mut() {
            if v.0.as_deref() == Some(from) {
                v.0 = Some(to.to_owned());
            }
        }
        if after.current.as_deref() == Some(from) {
            after.current = Some(to.to_owned());
        }
        (ops(&["rename", from, to]), after)
    });
    assert!(rename.iter().any(|p| p == "vbox-during-edit"), "{rename:?}");
}

#[test]
#[cfg_attr(virsnap_no_vbox, ignore = "needs the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn crash_sweep_delete_and_revert() {
    let Some(root) = vbox_common::chroot("vbox crash sweep") else { return };
    let vm = Vm::new(&root, "delete");
    vm.take("base");
    vm.take("other");
    // Revert back and forth.
    let revert = vm.sweep("revert", |_, s, _| {
        let to = if s.current.as_deref() == Some("base") { "other" } else { "base" };
        (ops(&["revert", to]), State { current: Some(to.to_owned()), ..s.clone() })
    });
    assert!(revert.iter().any(|p| p == "vbox-during-restore"), "{revert:?}");
    // One leaf.
    let one = vm.sweep("delete", |vm, _, k| {
        let n = format!("d{k}");
        vm.take(&n);
        let s = vm.state();
        (ops(&["delete", &n]), s.without(&[n]))
    });
    assert!(one.iter().any(|p| p == "vbox-delete-after-one"), "{one:?}");
    // A chain of three, leaf first: several calls, journalled.
    let children = vm.sweep("delete with children", |vm, _, k| {
        let n = format!("t{k}");
        vm.restore("base");
        vm.take(&n);
        vm.take(&format!("{n}a"));
        vm.take(&format!("{n}b"));
        let s = vm.state();
        let mut gone = s.descendants(&n);
        gone.push(n.clone());
        (ops(&["delete-children", &n]), s.without(&gone))
    });
    assert!(children.iter().any(|p| p == "vbox-delete-after-one#2"), "{children:?}");
    let only = vm.sweep("delete children only", |vm, _, k| {
        let n = format!("o{k}");
        vm.restore("base");
        vm.take(&n);
        vm.take(&format!("{n}a"));
        vm.restore(&n);
        vm.take(&format!("{n}b"));
        let s = vm.state();
        let gone = s.descendants(&n);
        (ops(&["delete-children-only", &n]), s.without(&gone))
    });
    assert!(only.iter().any(|p| p == "vbox-delete-after-one#2"), "{only:?}");
}

/// A prune (issue 21): several deletions under one intent journal, so a
/// crash between two of them is finished at the next open.
#[test]
#[cfg_attr(virsnap_no_vbox, ignore = "needs the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn crash_sweep_prune() {
    let Some(root) = vbox_common::chroot("vbox crash sweep") else { return };
    let vm = Vm::new(&root, "prune");
    vm.take("base");
    // Each round: two more snapshots on the current one; keep 0 deletes
    // every snapshot but the current (the previous round's and the first).
    let pruned = vm.sweep("prune", |vm, _, k| {
        vm.take(&format!("q{k}a"));
        vm.take(&format!("q{k}b"));
        let s = vm.state();
        let gone: Vec<String> = s.snaps.keys().filter(|n| Some(n.as_str()) != s.current.as_deref()).cloned().collect();
        assert!(gone.len() >= 2);
        (ops(&["prune-all"]), s.without(&gone))
    });
    assert!(pruned.iter().any(|p| p == "vbox-delete-after-one#2"), "{pruned:?}");
}

#[test]
#[cfg_attr(virsnap_no_vbox, ignore = "needs the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn crash_sweep_redefine() {
    let Some(root) = vbox_common::chroot("vbox crash sweep") else { return };
    // The first snapshot of a machine (it becomes current).
    let vm = Vm::new(&root, "redefroot");
    let first = vm.sweep("redefine the first snapshot", |vm, s, k| {
        if let Some(n) = s.snaps.keys().next() {
            vm.vbm_ok(&["snapshot", &vm.name, "delete", n]);
        }
        let n = format!("r{k}");
        (ops(&["redefine", &n]), State { current: Some(n.clone()), ..State::default().with(&n, None) })
    });
    assert!(first.iter().any(|p| p == "vbox-redefine-after-unregister"), "{first:?}");
    drop(vm);

    let vm = Vm::new(&root, "redef");
    vm.take("base");
    vm.take("top");
    let new = vm.sweep("redefine a new snapshot", |_, s, k| {
        let n = format!("r{k}");
        (ops(&["redefine", &n, "base"]), s.clone().with(&n, Some("base")))
    });
    for p in ["vbox-redefine-after-journal", "vbox-redefine-after-unregister", "vbox-redefine-after-write", "vbox-redefine-after-register"] {
        assert!(new.iter().any(|x| x == p), "{p} not swept: {new:?}");
    }
    let edit = vm.sweep("redefine an existing snapshot", |_, s, k| {
        let d = format!("description {k}");
        let mut after = s.clone();
        after.snaps.get_mut("top").unwrap().1.clone_from(&d);
        (ops(&["redefine-edit", "top", &d]), after)
    });
    assert!(edit.iter().any(|p| p == "vbox-during-edit"), "{edit:?}");
}

/// An intent file this user's virsnap did not write (planted in the journal
/// directory, unsigned or signed with another key) must not make the next
/// open delete the snapshots it lists: refused and kept. Before intents
/// were signed, opening deleted `keep` here.
#[test]
#[cfg_attr(virsnap_no_vbox, ignore = "needs the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn a_planted_delete_intent_deletes_nothing() {
    let Some(root) = vbox_common::chroot("vbox planted intent") else { return };
    let vm = Vm::new(&root, "planted");
    vm.take("keep");
    vm.take("t");
    vm.take("ta");
    // A genuine journalled delete first: the signing key exists.
    assert!(vm.child(&ops(&["delete-children", "t"]), None, None).success());
    let before = vm.state();
    assert_eq!(before.snaps.keys().collect::<Vec<_>>(), ["keep"]);
    let list = vm.vbm_ok(&["snapshot", &vm.name, "list", "--machinereadable"]);
    let victim = list.lines().find_map(|l| l.strip_prefix("SnapshotUUID=\"")).unwrap().trim_end_matches('"').to_owned();
    // The owner pid is gone (above pid_max), as after a crash.
    let planted = [
        (vm.state_dir.join(format!("{}.999999999-0.intent", vm.uuid())), format!("999999999\ndelete\n{victim}\n")),
        (vm.state_dir.join(format!("{}.999999999-1.intent", vm.uuid())), format!("999999999\ndelete\n{victim}\nmac {}\n", "0".repeat(64))),
    ];
    for (p, text) in &planted {
        std::fs::write(p, text).unwrap();
    }
    // Writable by others, and (when the test runs as root) another user's.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&planted[1].0, std::fs::Permissions::from_mode(0o666)).unwrap();
    let foreign = vm.state_dir.join(format!("{}.999999999-2.intent", vm.uuid()));
    std::fs::write(&foreign, &planted[0].1).unwrap();
    std::os::unix::fs::lchown(&foreign, Some(65534), Some(65534)).ok();
    std::fs::set_permissions(&planted[0].0, std::fs::Permissions::from_mode(0o644)).unwrap();
    let c = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("VIRSNAP_VBOXMANAGE", command(&vm.root))
        .env("VIRSNAP_VBOX_STATE_DIR", &vm.state_dir)
        .env("VSC_OP", "open")
        .env_remove("VIRSNAP_VBOX_ROOT")
        .env_remove("VIRSNAP_CRASH_AT")
        .output()
        .unwrap();
    assert!(c.status.success(), "{c:?}");
    assert_eq!(vm.state(), before, "a planted intent deleted snapshots");
    let err = String::from_utf8_lossy(&c.stderr);
    for (p, _) in &planted {
        assert!(p.exists(), "refused intent {} was not kept", p.display());
        assert!(err.contains(&format!("refusing the intent journal '{}'", p.display())), "no message for {}: {err}", p.display());
    }
    assert!(err.contains("carries no signature") && err.contains("writable by group or others (mode 666)"), "{err}");
    assert!(foreign.exists());
    if std::fs::metadata(&foreign).map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap() == 65534 {
        assert!(err.contains("owned by uid 65534, not by this user"), "{err}");
    }
    // A well-formed signature under another key: refused too.
    std::fs::set_permissions(&planted[1].0, std::fs::Permissions::from_mode(0o600)).unwrap();
    let c2 = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("VIRSNAP_VBOXMANAGE", command(&vm.root))
        .env("VIRSNAP_VBOX_STATE_DIR", &vm.state_dir)
        .env("VSC_OP", "open")
        .env_remove("VIRSNAP_VBOX_ROOT")
        .env_remove("VIRSNAP_CRASH_AT")
        .output()
        .unwrap();
    assert!(c2.status.success());
    assert!(String::from_utf8_lossy(&c2.stderr).contains("signature does not verify"));
    assert_eq!(vm.state(), before);
    assert!(vm.state_dir.join("intent.key").exists());
}

#[test]
fn the_state_model() {
    let s = State { current: Some("b".into()), ..State::default().with("a", None).with("b", Some("a")).with("c", Some("b")) };
    let t = s.clone().without(&["b".to_owned()]);
    assert_eq!(t.current.as_deref(), Some("a"));
    assert_eq!(t.parent("c").as_deref(), Some("a"));
    assert_eq!(s.descendants("a"), ["b", "c"]);
}

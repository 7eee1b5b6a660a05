//! Issue 20: the number of VBoxManage runs of a listing does not grow with
//! the number of snapshots. A REAL VirtualBox 7.2 (the chroot of
//! tests/vbox/build-chroot.sh) holds a machine whose `.vbox` file gets 10,
//! then 200 snapshots (VirtualBox's own snapshot element, taken once,
//! repeated with new UUIDs as a tree, and the machine registered again:
//! taking 200 real snapshots would take minutes). A counting wrapper
//! (`VIRSNAP_VBOXMANAGE`) logs every VBoxManage run of the driver; each
//! listing idiom must cost the same runs at 10 and at 200 snapshots:
//! the one-call tree (`snapshot-list`, `--tree`, `--json`), and the libvirt
//! idiom (ListAllSnapshots, then GetXMLDesc / GetParent / IsCurrent / info
//! on each). Changes made by us and by another VBoxManage are seen.
#![allow(clippy::unwrap_used)]

mod vbox_common;

use std::path::{Path, PathBuf};

use vbox_common::*;
use virsnap_core::Connection;

/// A machine without disks, registered in the chroot at `root`.
struct Machine {
    root: PathBuf,
    name: String,
    /// The `.vbox` path as the host sees it.
    cfg: PathBuf,
    /// The file VirtualBox wrote after one real snapshot, `seed`.
    seeded: String,
}

impl Machine {
    fn vbm_ok(&self, args: &[&str]) -> String {
        let (rc, out, err) = vbm_in(&self.root, args);
        assert_eq!(rc, 0, "VBoxManage {args:?}: {out}{err}");
        out
    }

    fn new(root: &Path) -> Self {
        let name = format!("virsnap-calls-{}", std::process::id());
        let mut m = Self { root: root.to_owned(), name, cfg: PathBuf::new(), seeded: String::new() };
        m.vbm_ok(&["createvm", "--name", &m.name, "--ostype", "Linux_64", "--register"]);
        let info = m.vbm_ok(&["showvminfo", &m.name, "--machinereadable"]);
        let cfg = info.lines().find_map(|l| l.strip_prefix("CfgFile=\"")).unwrap().trim_end_matches('"').to_owned();
        let cfg = root.join(cfg.trim_start_matches('/'));
        m.vbm_ok(&["snapshot", &m.name, "take", "seed"]);
        m.seeded = std::fs::read_to_string(&cfg).unwrap();
        m.cfg = cfg;
        m
    }

    /// Replaces the machine's snapshots by `n` (a binary tree `s0`…, the
    /// last one current), built from the element VirtualBox wrote for one
    /// real snapshot.
    fn with_snapshots(&self, n: usize) {
        let text = &self.seeded;
        let start = text.find("<Snapshot ").unwrap();
        let end = text.find("</Snapshot>").unwrap() + "</Snapshot>".len();
        let seed = &text[start..end];
        let hw_start = seed.find("<Hardware").unwrap();
        let hw_end = seed.find("</Hardware>").unwrap() + "</Hardware>".len();
        let hardware = &seed[hw_start..hw_end];
        let stamp = seed.split("timeStamp=\"").nth(1).unwrap().split('"').next().unwrap();
        let uuid = |i: usize| format!("{{{:08x}-0000-4000-8000-{:012x}}}", std::process::id(), i + 1);
        fn nest(i: usize, n: usize, out: &mut String, hw: &str, ts: &str, uuid: &dyn Fn(usize) -> String) {
            out.push_str(&format!("<Snapshot uuid=\"{}\" name=\"s{i}\" timeStamp=\"{ts}\"><Description>snapshot {i}</Description>{hw}", uuid(i)));
            let kids: Vec<usize> = [2 * i + 1, 2 * i + 2].into_iter().filter(|&k| k < n).collect();
            if !kids.is_empty() {
                out.push_str("<Snapshots>");
                for k in kids {
                    nest(k, n, out, hw, ts, uuid);
                }
                out.push_str("</Snapshots>");
            }
            out.push_str("</Snapshot>");
        }
        let mut tree = String::new();
        nest(0, n, &mut tree, hardware, stamp, &uuid);
        let seed_uuid = seed.split("uuid=\"").nth(1).unwrap().split('"').next().unwrap();
        let new = text.replacen(seed, &tree, 1).replacen(&format!("currentSnapshot=\"{seed_uuid}\""), &format!("currentSnapshot=\"{}\"", uuid(n - 1)), 1);
        assert_ne!(&new, text);
        self.vbm_ok(&["unregistervm", &self.name]);
        std::fs::write(&self.cfg, new).unwrap();
        let inside = format!("/{}", self.cfg.strip_prefix(&self.root).unwrap().display());
        self.vbm_ok(&["registervm", &inside]);
        let listed = self.vbm_ok(&["snapshot", &self.name, "list", "--machinereadable"]);
        assert_eq!(listed.lines().filter(|l| l.starts_with("SnapshotName")).count(), n, "{listed}");
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = vbm_in(&self.root, &["unregistervm", &self.name, "--delete-all"]);
    }
}

/// The counting wrapper: logs each run's arguments to `log`, then runs
/// the chroot's VBoxManage.
fn wrapper(dir: &Path, root: &Path) -> (PathBuf, PathBuf) {
    let log = dir.join("runs.log");
    let script = dir.join("vboxmanage-counting.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >>'{}'\nexec chroot '{}' env HOME=/root /usr/lib/virtualbox/VBoxManage \"$@\"\n",
            log.display(),
            root.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&script).status().unwrap();
    (script, log)
}

fn runs(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log).unwrap_or_default().lines().map(str::to_owned).collect()
}

/// VBoxManage runs of each listing idiom on a fresh connection.
fn count_runs(script: &Path, log: &Path, root: &Path, name: &str, n: usize) -> Vec<(&'static str, usize)> {
    let conn: Connection = open_with(&script.display().to_string(), Some(root));
    let d = conn.lookup_by_name(name).unwrap();
    let mut out = Vec::new();
    let mut measure = |label: &'static str, f: &mut dyn FnMut()| {
        let _ = std::fs::remove_file(log);
        f();
        let r = runs(log);
        println!("{label} at {n}: {} VBoxManage runs: {r:?}", r.len());
        out.push((label, r.len()));
    };
    // The first listing learns the .vbox path (one showvminfo) and fills the cache.
    measure("first tree call", &mut || {
        let e = d.snapshot_tree_entries(0, true).unwrap();
        assert_eq!(e.len(), n);
        assert_eq!(e.iter().filter(|e| e.current).count(), 1);
        assert_eq!(e[0].description.as_deref(), Some("snapshot 0"));
    });
    measure("tree call again", &mut || {
        assert_eq!(d.snapshot_tree_entries(0, false).unwrap().len(), n);
    });
    measure("libvirt idiom", &mut || {
        let all = d.list_all_snapshots(0).unwrap();
        assert_eq!(all.len(), n);
        let mut roots = 0;
        for s in &all {
            assert!(s.xml_desc(0).unwrap().contains("<description>snapshot "));
            if s.parent(0).is_err() {
                roots += 1;
            }
            s.is_current(0).unwrap();
            s.info().unwrap().unwrap();
            s.num_children(0).unwrap();
        }
        assert_eq!(roots, 1);
    });
    measure("entry of each", &mut || {
        for k in 0..n {
            let s = d.snapshot_lookup_by_name(&format!("s{k}"), 0).unwrap();
            assert_eq!(s.entry(true).unwrap().name, format!("s{k}"));
        }
    });
    out
}

#[test]
#[cfg_attr(virsnap_no_vbox, ignore = "needs the VirtualBox chroot (tests/vbox/build-chroot.sh)")]
fn listing_runs_do_not_grow_with_the_snapshots() {
    let Some(root) = chroot("real VirtualBox") else { return };
    let dir = scratch("calls");
    let (script, log) = wrapper(&dir, &root);
    let m = Machine::new(&root);
    m.with_snapshots(10);
    let at10 = count_runs(&script, &log, &root, &m.name, 10);
    m.with_snapshots(200);
    let at200 = count_runs(&script, &log, &root, &m.name, 200);
    assert_eq!(at10, at200, "VBoxManage runs at 10 and at 200 snapshots");
    for (label, k) in &at200 {
        assert!(*k <= 3, "{label}: {k} VBoxManage runs");
    }
    // After the first call, reads cost no run at all.
    assert!(at200.iter().skip(1).all(|(_, k)| *k == 0), "{at200:?}");

    // Our own change is seen (the cache is dropped by the take) …
    let conn = open_with(&script.display().to_string(), Some(&root));
    let d = conn.lookup_by_name(&m.name).unwrap();
    assert_eq!(d.snapshot_tree_entries(0, true).unwrap().len(), 200);
    d.snapshot_create_xml("<domainsnapshot><name>ours</name></domainsnapshot>", 0).unwrap();
    let e = d.snapshot_tree_entries(0, false).unwrap();
    assert_eq!(e.len(), 201);
    assert!(e.iter().any(|e| e.name == "ours" && e.current && e.parent.as_deref() == Some("s199")));
    // … and so is another process's (the .vbox file changed).
    m.vbm_ok(&["snapshot", &m.name, "edit", "ours", "--name", "theirs"]);
    let e = d.snapshot_tree_entries(0, false).unwrap();
    assert!(e.iter().any(|e| e.name == "theirs") && !e.iter().any(|e| e.name == "ours"), "a rename by another VBoxManage is seen");
    let _ = std::fs::remove_dir_all(&dir);
}

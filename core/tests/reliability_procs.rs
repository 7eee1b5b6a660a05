//! Two processes on one persistent domain (issue 10): `qemu:///embed` with a
//! real qcow2 (skipped without qemu-img). Each process, for
//! `VIRSNAP_PROCS_SECONDS` (default 10; .ci/suites/hostile.sh runs 60),
//! creates, looks up, lists, renames, reverts and deletes its own snapshots
//! and reads the other's, and records which of its snapshots should exist.
//! Afterwards the domain holds exactly the union, every one with metadata
//! and a qcow2 snapshot, every parent link resolves, the current snapshot
//! exists: nothing lost, nothing duplicated. Runs with
//! `VIRSNAP_RELIABILITY=1` (`.ci/suites/hostile.sh`).
//!
//! The kill sweep (`two_writers_killed_at_random_points`): two writer
//! processes on the domain, each killed with SIGKILL at a random moment
//! (`VIRSNAP_KILL_SEED`), round after round for `VIRSNAP_KILL_SECONDS`
//! (default 20); after each round no qemu-img may outlive its parent or
//! linger as a zombie, the metadata files and the qcow2 snapshots must be
//! the same set, every snapshot listed has metadata, at most one is current.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use virsnap_core::error::ErrorCode;
use virsnap_core::flags::list;
use virsnap_core::Connection;

fn uri(root: &Path) -> String {
    format!("qemu:///embed?root={}", root.display())
}

/// Child mode: one worker; a no-op in normal runs.
#[test]
fn child_entry() {
    let (Ok(tag), Ok(root)) = (std::env::var("VSP_TAG"), std::env::var("VSP_ROOT")) else { return };
    let root = PathBuf::from(root);
    let secs: f64 = std::env::var("VSP_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let conn = Connection::open(Some(&uri(&root))).unwrap();
    let dom = conn.lookup_by_name("vm").unwrap();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut mine: Vec<String> = Vec::new();
    let mut i = 0u32;
    let mut ops = 0u64;
    while Instant::now() < end {
        let name = format!("{tag}{i}");
        let s = dom.snapshot_create_xml(&format!("<domainsnapshot><name>{name}</name></domainsnapshot>"), 0).unwrap();
        mine.push(name.clone());
        // Read everything, the other process's snapshots included; they may vanish under us.
        for snap in dom.list_all_snapshots(0).unwrap() {
            match snap.xml_desc(0) {
                Ok(_) => {}
                Err(e) => assert_eq!(e.code, ErrorCode::NoDomainSnapshot, "{e:?}"),
            }
        }
        assert_eq!(dom.snapshot_lookup_by_name(&name, 0).unwrap().name().as_ref(), name.as_str());
        let _ = s.parent(0);
        if i % 3 == 1 {
            let new = format!("{tag}{i}-renamed");
            s.rename(&new, 0).unwrap();
            *mine.last_mut().unwrap() = new;
        }
        if i % 4 == 2 {
            let target = &mine[mine.len() / 2];
            dom.snapshot_lookup_by_name(target, 0).unwrap().revert(0).unwrap();
        }
        if i % 2 == 1 {
            let victim = mine.remove(0);
            dom.snapshot_lookup_by_name(&victim, 0).unwrap().delete(0).unwrap();
        }
        i += 1;
        ops += 6;
    }
    std::fs::write(root.join(format!("{tag}.expect")), mine.join("\n")).unwrap();
    std::fs::write(root.join(format!("{tag}.ops")), format!("{ops} {i}")).unwrap();
}

#[test]
#[ignore = "long two-process run: .ci/suites/hostile.sh runs it"]
fn two_processes_on_one_domain_lose_nothing() {
    assert!(std::env::var("VIRSNAP_RELIABILITY").is_ok_and(|v| v == "1"), "set VIRSNAP_RELIABILITY=1 (.ci/suites/hostile.sh does)");
    assert!(Command::new("qemu-img").arg("--version").output().is_ok_and(|o| o.status.success()), "qemu-img is required");
    let secs = std::env::var("VIRSNAP_PROCS_SECONDS").unwrap_or_else(|_| "10".into());
    let root = std::env::temp_dir().join(format!("vsr-procs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let img = root.join("vm.qcow2");
    assert!(Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&img).arg("16M").status().unwrap().success());
    let conn = Connection::open(Some(&uri(&root))).unwrap();
    conn.define_xml(
        &format!(
            "<domain type='qemu'><name>vm</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
             <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{}'/>\
             <target dev='vda' bus='virtio'/></disk></devices></domain>",
            img.display()
        ),
        0,
    )
    .unwrap();
    drop(conn);
    let spawn = |tag: &str| {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
            .env("VSP_TAG", tag)
            .env("VSP_ROOT", &root)
            .env("VSP_SECONDS", &secs)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn("a");
    let b = spawn("b");
    for (t, c) in [("a", a), ("b", b)] {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "process {t} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let mut want = BTreeSet::new();
    let mut total_ops = 0u64;
    for t in ["a", "b"] {
        for n in std::fs::read_to_string(root.join(format!("{t}.expect"))).unwrap().lines().filter(|l| !l.is_empty()) {
            want.insert(n.to_owned());
        }
        let ops = std::fs::read_to_string(root.join(format!("{t}.ops"))).unwrap();
        total_ops += ops.split_whitespace().next().unwrap().parse::<u64>().unwrap();
    }
    // A fresh process's view (this one never cached the domain's tree).
    let conn = Connection::open(Some(&uri(&root))).unwrap();
    let dom = conn.lookup_by_name("vm").unwrap();
    let got: BTreeSet<String> = dom.snapshot_list_names(0).unwrap().into_iter().collect();
    assert_eq!(got, want, "snapshot set differs from what the two processes left");
    let meta: BTreeSet<String> = dom.snapshot_list_names(list::METADATA).unwrap().into_iter().collect();
    assert_eq!(meta, want, "snapshots without metadata");
    for s in dom.list_all_snapshots(0).unwrap() {
        if let Ok(p) = s.parent(0) {
            assert!(want.contains(p.name().as_ref()), "dangling parent {}", p.name());
        }
    }
    let cur = dom.snapshot_current(0).unwrap();
    assert!(want.contains(cur.name().as_ref()));
    // One qcow2 snapshot per snapshot.
    let out = Command::new("qemu-img").args(["snapshot", "-U", "-l"]).arg(&img).output().unwrap();
    let tags = String::from_utf8_lossy(&out.stdout).lines().skip(2).filter(|l| !l.trim().is_empty()).count();
    assert_eq!(tags, want.len(), "qcow2 snapshots vs metadata");
    println!("two processes, {secs} s, {total_ops} operations, {} snapshots left, all accounted for", want.len());
    let _ = std::fs::remove_dir_all(&root);
}

/// Kill-sweep writer: creates, renames, reverts and deletes snapshots on
/// VSK_ROOT's `vm` until it is killed; any error ends it with a message
/// (the parent expects death by SIGKILL only). A no-op in normal runs.
#[test]
fn writer_entry() {
    let (Ok(tag), Ok(root)) = (std::env::var("VSK_TAG"), std::env::var("VSK_ROOT")) else { return };
    let conn = Connection::open(Some(&uri(Path::new(&root)))).unwrap();
    let dom = conn.lookup_by_name("vm").unwrap();
    let mut rng = Rng(u64::from(std::process::id()) * 0x9e37_79b9 + 1);
    let mut i = 0u32;
    loop {
        let name = format!("{tag}{}-{i}", std::process::id());
        i += 1;
        dom.snapshot_create_xml(&format!("<domainsnapshot><name>{name}</name></domainsnapshot>"), 0).unwrap();
        let all = dom.snapshot_list_names(0).unwrap();
        if all.is_empty() {
            continue; // the other writer deleted everything meanwhile
        }
        let pick = &all[rng.below(all.len() as u64) as usize];
        // Another writer may have deleted or renamed it since the listing.
        let tolerate = |r: Result<(), virsnap_core::error::Error>| match r {
            Ok(()) => {}
            Err(e) => assert_eq!(e.code, ErrorCode::NoDomainSnapshot, "{e:?}"),
        };
        match rng.below(4) {
            0 => tolerate(dom.snapshot_lookup_by_name(pick, 0).and_then(|s| s.revert(0))),
            1 => tolerate(dom.snapshot_lookup_by_name(pick, 0).and_then(|s| s.delete(0))),
            2 if !pick.ends_with("-r") => tolerate(dom.snapshot_lookup_by_name(pick, 0).and_then(|s| s.rename(&format!("{pick}-r"), 0))),
            _ => tolerate(dom.snapshot_lookup_by_name(pick, 0).and_then(|s| s.delete(virsnap_core::flags::delete::CHILDREN))),
        }
    }
}

/// xorshift64*: a reproducible schedule from a printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// `(pid, state, comm, cmdline)` of every process.
fn processes() -> Vec<(u32, char, String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let (Some(l), Some(r)) = (stat.find('('), stat.rfind(") ")) else { continue };
        let comm = stat[l + 1..r].to_owned();
        let state = stat[r + 2..].chars().next().unwrap_or('?');
        let cmd = std::fs::read(e.path().join("cmdline")).map(|c| String::from_utf8_lossy(&c).replace('\0', " ")).unwrap_or_default();
        out.push((pid, state, comm, cmd));
    }
    out
}

/// qemu-img (or its setpriv wrapper) processes working on `root` that
/// outlive their killed parent, and zombie qemu-img processes, once a grace
/// period for the kernel to deliver the parent-death signal has passed.
fn leftover_children(root: &Path) -> Vec<String> {
    let needle = root.display().to_string();
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let left: Vec<String> = processes()
            .into_iter()
            .filter(|(_, st, comm, cmd)| (comm == "qemu-img" || comm == "setpriv") && (*st == 'Z' || cmd.contains(&needle)))
            .map(|(pid, st, comm, cmd)| format!("{pid} {st} {comm} {cmd}"))
            .collect();
        if left.is_empty() || Instant::now() > end {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Invariants after a round: no snapshot without metadata, metadata =
/// qcow2 snapshots (each metadata file's tag in the image, nothing else
/// there), at most one file marked current and it is the current one,
/// every parent resolves. Returns the number of snapshots.
fn check_domain(root: &Path, img: &Path) -> Result<usize, String> {
    let conn = Connection::open(Some(&uri(root))).map_err(|e| format!("{e:?}"))?;
    let dom = conn.lookup_by_name("vm").map_err(|e| format!("{e:?}"))?;
    let all: BTreeSet<String> = dom.snapshot_list_names(0).map_err(|e| format!("list: {e:?}"))?.into_iter().collect();
    let meta: BTreeSet<String> = dom.snapshot_list_names(list::METADATA).map_err(|e| format!("{e:?}"))?.into_iter().collect();
    if all != meta {
        return Err(format!("snapshots without metadata: {:?}", all.difference(&meta).collect::<Vec<_>>()));
    }
    let dir = root.join("lib/qemu/snapshot/vm");
    let mut tags = BTreeSet::new();
    let mut actives = Vec::new();
    for e in std::fs::read_dir(&dir).map_err(|e| e.to_string())?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with('.') || !n.ends_with(".xml") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).map_err(|e| e.to_string())?;
        let tag = text.split("<tag>").nth(1).and_then(|t| t.split("</tag>").next()).ok_or(format!("{n}: no tag"))?;
        if !tags.insert(tag.to_owned()) {
            return Err(format!("tag {tag} twice"));
        }
        if text.contains("<active>1</active>") {
            actives.push(n);
        }
    }
    let out = Command::new("qemu-img").args(["snapshot", "-U", "-l"]).arg(img).output().map_err(|e| e.to_string())?;
    let img_tags: BTreeSet<String> =
        String::from_utf8_lossy(&out.stdout).lines().skip(2).filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned)).collect();
    if img_tags != tags {
        return Err(format!("qcow2 snapshots {img_tags:?} != metadata tags {tags:?}"));
    }
    if tags.len() != all.len() {
        return Err(format!("{} metadata files for {} snapshots", tags.len(), all.len()));
    }
    if actives.len() > 1 {
        return Err(format!("several current: {actives:?}"));
    }
    let cur = dom.snapshot_current(0).ok().map(|s| s.name().to_string());
    if cur.is_some() != (actives.len() == 1) {
        return Err(format!("current {cur:?} but files marked current: {actives:?}"));
    }
    for s in dom.list_all_snapshots(0).map_err(|e| format!("{e:?}"))? {
        if let Ok(p) = s.parent(0) {
            if !all.contains(p.name().as_ref()) {
                return Err(format!("dangling parent {}", p.name()));
            }
        }
    }
    Ok(all.len())
}

#[test]
#[ignore = "long kill sweep: .ci/suites/hostile.sh runs it"]
fn two_writers_killed_at_random_points() {
    assert!(std::env::var("VIRSNAP_RELIABILITY").is_ok_and(|v| v == "1"), "set VIRSNAP_RELIABILITY=1 (.ci/suites/hostile.sh does)");
    assert!(
        Command::new("qemu-img").arg("--version").output().is_ok_and(|o| o.status.success()),
        "qemu-img is required"
    );
    use std::os::unix::process::ExitStatusExt as _;
    // Short in CI; VIRSNAP_KILL_SECONDS=600 for a long run. The schedule
    // follows VIRSNAP_KILL_SEED (printed) so a failure can be replayed.
    let secs: u64 = std::env::var("VIRSNAP_KILL_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let seed: u64 = std::env::var("VIRSNAP_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    });
    println!("kill sweep: seed {seed} (VIRSNAP_KILL_SEED), {secs} s (VIRSNAP_KILL_SECONDS)");
    let mut rng = Rng(seed);
    let root = std::env::temp_dir().join(format!("vsr-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let img = root.join("vm.qcow2");
    assert!(Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&img).arg("16M").status().unwrap().success());
    let conn = Connection::open(Some(&uri(&root))).unwrap();
    conn.define_xml(
        &format!(
            "<domain type='qemu'><name>vm</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
             <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{}'/>\
             <target dev='vda' bus='virtio'/></disk></devices></domain>",
            img.display()
        ),
        0,
    )
    .unwrap();
    drop(conn);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut rounds = 0u32;
    let mut most = 0usize;
    while rounds == 0 || Instant::now() < end {
        let spawn = |tag: &str| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "writer_entry", "--nocapture", "--test-threads=1"])
                .env("VSK_TAG", tag)
                .env("VSK_ROOT", &root)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let mut w = [spawn("a"), spawn("b")];
        // Kill one at a random moment, the other a random moment later.
        let first = rng.below(2) as usize;
        for (k, idx) in [first, 1 - first].into_iter().enumerate() {
            let ms = if k == 0 { 100 + rng.below(1500) } else { rng.below(400) };
            std::thread::sleep(Duration::from_millis(ms));
            let _ = w[idx].kill();
        }
        for (idx, c) in w.iter_mut().enumerate() {
            let st = c.wait().unwrap();
            if st.signal() != Some(9) {
                let mut err = String::new();
                if let Some(mut e) = c.stderr.take() {
                    use std::io::Read as _;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("round {rounds}: writer {idx} ended with {st:?} before it was killed:\n{err}");
            }
        }
        let left = leftover_children(&root);
        assert!(left.is_empty(), "round {rounds}: qemu-img outlived its killed parent (or a zombie): {left:?}");
        match check_domain(&root, &img) {
            Ok(n) => most = most.max(n),
            Err(e) => panic!("round {rounds} (seed {seed}): {e}"),
        }
        rounds += 1;
    }
    println!("two writers killed at random points: {rounds} rounds, up to {most} snapshots, every round consistent");
    let _ = std::fs::remove_dir_all(&root);
}

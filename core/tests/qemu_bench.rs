//! Benchmarks (not tests; `#[ignore]`): run with
//! `cargo test --release -p virsnap-core --test qemu_bench -- --ignored --nocapture --test-threads=1`.
//! Prints library-API timings next to the bare QMP / qemu-img call they make.
#![allow(clippy::unwrap_used)]

mod qemu_common;

use std::time::{Duration, Instant};

use qemu_common::{skip, Root};
use virsnap_core::drivers::qemu::qmp::Qmp;
use virsnap_core::{Connection, Domain};

/// A bare QMP snapshot job, as the driver runs it: own connection,
/// `query-block` for the node, the job, `query-jobs` until concluded, dismiss.
fn bare_job(sock: &std::path::Path, cmd: &str, tag: &str, stop_cont: bool) {
    use virsnap_core::drivers::qemu::json::{json, Json};
    let mut q = Qmp::connect(sock).unwrap();
    if stop_cont {
        q.execute("stop", None).unwrap();
    }
    let b = q.execute("query-block", None).unwrap();
    let node = b.as_array().unwrap()[0].get("inserted").unwrap().get("node-name").unwrap().as_str().unwrap().to_owned();
    let mut args = json!({"job-id": "bare", "tag": tag, "devices": [node.clone()]});
    if cmd != "snapshot-delete" {
        args["vmstate"] = node.into();
    }
    q.execute(cmd, Some(args)).unwrap();
    let mut delay = Duration::from_micros(200);
    loop {
        let j = q.execute("query-jobs", None).unwrap();
        let done = j.as_array().unwrap().iter().any(|j| j.get("id").and_then(Json::as_str) == Some("bare") && j.get("status").and_then(Json::as_str) == Some("concluded"));
        if done {
            break;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(1));
    }
    q.execute("job-dismiss", Some(json!({"id": "bare"}))).unwrap();
    if stop_cont {
        q.execute("cont", None).unwrap();
    }
}

/// Runs `f`, adding its wall time to `times`.
fn timed<T>(times: &mut Vec<Duration>, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let v = f();
    times.push(t.elapsed());
    v
}

/// Snapshot `s{i}` created, reverted to and deleted through the library, each timed.
fn library_round(dom: &Domain, i: usize, c: &mut Vec<Duration>, r: &mut Vec<Duration>, d: &mut Vec<Duration>) {
    let s = timed(c, || dom.snapshot_create_xml(&format!("<domainsnapshot><name>s{i}</name></domainsnapshot>"), 0).unwrap());
    timed(r, || s.revert(0).unwrap());
    timed(d, || s.delete(0).unwrap());
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[test]
#[ignore]
fn bench_running_guest_128m() {
    if skip() {
        return;
    }
    let root = Root::new("bench");
    let img = root.image("vm.qcow2");
    let conn = root.conn();
    let xml = Root::domain_xml("vm", &img).replace("<memory unit='MiB'>32</memory>", "<memory unit='MiB'>128</memory>");
    let dom = conn.define_xml(&xml, 0).unwrap();
    dom.create(0).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let sock = root.dir.join("run/qemu/vm.qmp");
    let (mut c, mut r, mut d, mut qc, mut qr, mut qd) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut jc, mut jr, mut jd) = (vec![], vec![], vec![]);
    for i in 0..7 {
        library_round(&dom, i, &mut c, &mut r, &mut d);
        // The bare QMP calls (own connection each, as the driver does).
        timed(&mut qc, || Qmp::connect(&sock).unwrap().hmp(&format!("savevm b{i}"), Duration::from_secs(60)).unwrap());
        timed(&mut qr, || {
            let mut q = Qmp::connect(&sock).unwrap();
            q.execute("stop", None).unwrap();
            q.hmp(&format!("loadvm b{i}"), Duration::from_secs(60)).unwrap();
            q.execute("cont", None).unwrap();
        });
        timed(&mut qd, || Qmp::connect(&sock).unwrap().hmp(&format!("delvm b{i}"), Duration::from_secs(60)).unwrap());
        // The bare QMP jobs (what the library uses on QEMU >= 6.0).
        let tag = format!("j{i}");
        timed(&mut jc, || bare_job(&sock, "snapshot-save", &tag, false));
        timed(&mut jr, || bare_job(&sock, "snapshot-load", &tag, true));
        timed(&mut jd, || bare_job(&sock, "snapshot-delete", &tag, false));
    }
    println!("BENCH running 128 MiB guest (median of 7), library API vs bare QMP:");
    println!("BENCH   create {} vs snapshot-save job {} (HMP savevm {})", ms(median(c)), ms(median(jc)), ms(median(qc)));
    println!("BENCH   revert {} vs stop+snapshot-load job+cont {} (HMP loadvm {})", ms(median(r)), ms(median(jr)), ms(median(qr)));
    println!("BENCH   delete {} vs snapshot-delete job {} (HMP delvm {})", ms(median(d)), ms(median(jd)), ms(median(qd)));
}

#[test]
#[ignore]
fn bench_shutoff_guest_qemu_img() {
    if skip() {
        return;
    }
    let root = Root::new("benchoff");
    let img = root.image("vm.qcow2");
    let conn = root.conn();
    let dom = conn.define_xml(&Root::domain_xml("vm", &img), 0).unwrap();
    let qimg = |args: &[&str]| assert!(std::process::Command::new("qemu-img").args(args).arg(&img).status().unwrap().success());
    let (mut c, mut r, mut d, mut qc, mut qr, mut qd) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..9 {
        library_round(&dom, i, &mut c, &mut r, &mut d);
        let tag = format!("b{i}");
        timed(&mut qc, || qimg(&["snapshot", "-c", &tag]));
        timed(&mut qr, || qimg(&["snapshot", "-a", &tag]));
        timed(&mut qd, || qimg(&["snapshot", "-d", &tag]));
    }
    // One durable journal record on this disk, for scale.
    let f = root.dir.join("sync-probe");
    let mut fs_ = vec![];
    for _ in 0..9 {
        use std::io::Write as _;
        // the file is closed after the clock stops
        let _h = timed(&mut fs_, || {
            let mut h = std::fs::OpenOptions::new().create(true).append(true).open(&f).unwrap();
            h.write_all(&[0u8; 4096]).unwrap();
            h.sync_data().unwrap();
            h
        });
    }
    println!("BENCH shut-off guest (median of 9), library API vs bare qemu-img; one append+fdatasync here: {}", ms(median(fs_)));
    println!("BENCH   create {} vs qemu-img snapshot -c {}", ms(median(c)), ms(median(qc)));
    println!("BENCH   revert {} vs qemu-img snapshot -a {}", ms(median(r)), ms(median(qr)));
    println!("BENCH   delete {} vs qemu-img snapshot -d {}", ms(median(d)), ms(median(qd)));
}

#[test]
#[ignore]
fn bench_2000_snapshots() {
    if skip() {
        return;
    }
    // Metadata-scale benchmark: 2000 snapshots redefined (each with a full
    // <domain>, as real ones carry) on a domain whose disk is raw, so no
    // qcow2 tags are involved and only the metadata path is measured.
    let n: usize = std::env::var("VSQ_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let root = Root::new("bench2k");
    let raw = root.dir.join("vm.img");
    assert!(std::process::Command::new("qemu-img").args(["create", "-q", "-f", "raw"]).arg(&raw).arg("1M").status().unwrap().success());
    let conn = root.conn();
    let dom = conn.define_xml(&Root::domain_xml("vm", &raw).replace("type='qcow2'", "type='raw'"), 0).unwrap();
    let domxml = dom.xml_desc(virsnap_core::flags::domain::XML_INACTIVE).unwrap();
    let t = Instant::now();
    for i in 0..n {
        let parent = if i == 0 { String::new() } else { format!("<parent><name>s{:05}</name></parent>", (i - 1) / 2) };
        let xml = format!(
            "<domainsnapshot><name>s{i:05}</name><state>shutoff</state>{parent}<creationTime>{}</creationTime><memory snapshot='no'/><disks><disk name='vda' snapshot='internal'/></disks>{domxml}</domainsnapshot>",
            1_700_000_000 + i
        );
        dom.snapshot_create_xml(&xml, virsnap_core::flags::create::REDEFINE | virsnap_core::flags::create::CURRENT).unwrap();
    }
    println!("BENCH redefined {n} snapshots in {:.1} s", t.elapsed().as_secs_f64());
    let mut cold = vec![];
    for _ in 0..5 {
        // the handles are dropped after the clock stops
        let _handles = timed(&mut cold, || {
            let c = Connection::open(Some(&root.uri())).unwrap();
            let d = c.lookup_by_name("vm").unwrap();
            assert_eq!(d.snapshot_num(0).unwrap(), n);
            d.snapshot_current(0).unwrap().xml_desc(0).unwrap();
            (d, c)
        });
    }
    let mut warm = vec![];
    for _ in 0..5 {
        let _cur = timed(&mut warm, || {
            let cur = dom.snapshot_current(0).unwrap();
            cur.xml_desc(0).unwrap();
            cur
        });
    }
    println!("BENCH {n} snapshots: fresh connection + list + current + xml {} (what one CLI command pays); warm {}", ms(median(cold)), ms(median(warm)));
    println!("BENCH metadata tree at {}", root.dir.display());
    if std::env::var("VSQ_BENCH_KEEP").is_ok() {
        std::mem::forget(root);
    }
}

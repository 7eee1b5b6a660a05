//! Domain jobs on a real TCG guest whose memory is full of non-zero data
//! (a 512-byte boot sector fills it), so that saving its state takes a
//! while: `virDomainGetJobStats` from another thread while a snapshot is
//! made (monotonic progress), the completed job, the idle answers, and
//! `virDomainAbortJob` at several points of a create (nothing left) and of
//! a revert (past its point of no return: libvirt's error, it completes).
//!
//! The guest runs on TCG with `VIRSNAP_JOBS_MEM_MIB` MiB of memory (default 192; CI
//! keeps the default, a larger value makes a longer run).
#![allow(clippy::unwrap_used)]

mod qemu_common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use qemu_common::{skip, Root};
use virsnap_core::job::{operation, stats_flags, JobStats, JobType};
use virsnap_core::model::DomainState;
use virsnap_core::{Domain, ErrorCode, ErrorDomain};

/// A boot sector (assembled from the GNU as source in the comment below)
/// that enters 32-bit protected mode, writes a counter pattern over the
/// memory from 1 MiB on (the dword count sits at byte 110), stores
/// 0x600df00d at 0x500 and halts.
///
/// ```text
/// cli; xor %ax,%ax; mov %ax,%ds; lgdtl gdtdesc; cr0 |= 1; ljmpl $8,$pm
/// pm: ds=es=ss=0x10; edi=0x100000; ecx=[count]; eax=0x5aa5c33c
/// 1: mov %eax,(%edi); add $4,%edi; inc %eax; dec %ecx; jnz 1b
/// movl $0x600df00d,0x500; 2: hlt; jmp 2b
/// gdt: null, flat code 0x00cf9a000000ffff, flat data 0x00cf92000000ffff
/// ```
const BOOT: &str = "fa31c08ed8660f0116687c0f20c00c010f22c066ea1b7c0000080066b810008e\
d88ec08ed0bf000010008b0d6e7c0000b83cc3a55afc890783c704404975f7c7\
05000500000df00d60f4ebfd8d7426000000000000000000ffff0000009acf00\
ffff00000092cf001700507c";

fn boot_sector(mem_mib: u64) -> Vec<u8> {
    let hex: String = BOOT.chars().filter(char::is_ascii_hexdigit).collect();
    let mut b: Vec<u8> = (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    b.resize(512, 0);
    // Fill from 1 MiB to 1 MiB below the top.
    let count = u32::try_from((mem_mib - 2) * (1 << 20) / 4).unwrap();
    b[110..114].copy_from_slice(&count.to_le_bytes());
    b[510] = 0x55;
    b[511] = 0xaa;
    b
}

fn mem_mib() -> u64 {
    std::env::var("VIRSNAP_JOBS_MEM_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(192)
}

/// A bootable qcow2 image holding the boot sector.
fn bootable_image(root: &Root, mem: u64) -> std::path::PathBuf {
    let raw = root.dir.join("boot.raw");
    let mut data = boot_sector(mem);
    data.resize(1 << 20, 0);
    std::fs::write(&raw, data).unwrap();
    let img = root.dir.join("vm.qcow2");
    let st = Command::new("qemu-img").args(["convert", "-q", "-f", "raw", "-O", "qcow2"]).arg(&raw).arg(&img).status().unwrap();
    assert!(st.success());
    img
}

/// Starts the guest and waits until it has filled its memory.
fn start_filled(dom: &Domain) {
    dom.create(0).unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let out = dom.qemu_monitor_command("xp /1wx 0x500", 1, "virDomainQemuMonitorCommand").unwrap();
        if out.contains("0x600df00d") {
            return;
        }
        assert!(Instant::now() < deadline, "the guest never filled its memory: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `op` on another thread, sampling the job's stats until it ends;
/// `at(samples)` may abort the job (returns the abort's result then).
fn watch<T: Send + 'static>(
    dom: &Domain,
    op: impl FnOnce() -> virsnap_core::Result<T> + Send + 'static,
    mut at: impl FnMut(&[JobStats]) -> Option<virsnap_core::Result<()>>,
) -> (virsnap_core::Result<T>, Vec<JobStats>, Option<virsnap_core::Result<()>>) {
    let h = std::thread::spawn(op);
    let mut samples = Vec::new();
    let mut aborted = None;
    while !h.is_finished() {
        let s = dom.job_stats(0).unwrap();
        if s.kind != JobType::None {
            samples.push(s);
            if aborted.is_none() {
                aborted = at(&samples);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (h.join().unwrap(), samples, aborted)
}

fn tags(img: &Path) -> Vec<String> {
    Root::tags(img)
}

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn jobs_report_progress_and_abort_atomically() {
    if skip() {
        return;
    }
    // TCG, as the brief of this test says: under nested KVM the first
    // touch of each page is so slow that filling the memory takes minutes.
    // SAFETY: the only test of this binary, before it starts any thread.
    unsafe { std::env::set_var("VIRSNAP_QEMU_ACCEL", "tcg") };
    let mem = mem_mib();
    let root = Root::new("domjob");
    let img = bootable_image(&root, mem);
    let conn = root.conn();
    let xml = Root::domain_xml("vm", &img).replace("<memory unit='MiB'>32</memory>", &format!("<memory unit='MiB'>{mem}</memory>"));
    let dom = conn.define_xml(&xml, 0).unwrap();

    // Idle, inactive: libvirt's "domain is not running"; completed: none.
    let e = dom.job_info().unwrap_err();
    assert_eq!((e.code, e.domain, e.message.as_str()), (ErrorCode::OperationInvalid, ErrorDomain::Domain, "Requested operation is not valid: domain is not running"));
    assert_eq!(dom.job_stats(stats_flags::COMPLETED).unwrap().kind, JobType::None);
    let t = Instant::now();
    start_filled(&dom);
    eprintln!("guest filled {mem} MiB in {:?}", t.elapsed());
    // Idle, running: no job; abort is libvirt's error.
    assert_eq!(dom.job_info().unwrap(), JobStats::default());
    let e = dom.abort_job().unwrap_err();
    assert_eq!((e.code, e.domain), (ErrorCode::OperationInvalid, ErrorDomain::Qemu));
    assert_eq!(e.message, "Requested operation is not valid: no job is active on the domain");
    let e = dom.job_stats(stats_flags::KEEP_COMPLETED).unwrap_err();
    assert_eq!((e.code, e.domain), (ErrorCode::InvalidArg, ErrorDomain::Domain));
    assert_eq!(e.message, "Flag 'VIR_DOMAIN_JOB_STATS_COMPLETED' is required by flag 'VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED'");

    // A create watched from another thread: monotonic progress.
    let d2 = dom.clone();
    let (r, samples, _) = watch(&dom, move || d2.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>", 0).map(drop), |_| None);
    r.unwrap();
    eprintln!("create: {} samples, last {:?}", samples.len(), samples.last());
    assert!(samples.len() >= 3, "too few samples of a save of {mem} MiB: {samples:?}");
    for s in &samples {
        assert_eq!((s.kind, s.operation), (JobType::Unbounded, operation::SNAPSHOT), "{s:?}");
    }
    let total = mem << 20;
    let processed: Vec<u64> = samples.iter().filter_map(|s| s.memory_processed).collect();
    assert!(processed.windows(2).all(|w| w[0] <= w[1]), "progress went back: {processed:?}");
    assert!(samples.windows(2).all(|w| w[0].time_elapsed_ms <= w[1].time_elapsed_ms));
    assert!(processed.iter().any(|&p| p > 0 && p < total), "no progress between 0 and {total}: {processed:?}");
    for s in samples.iter().filter(|s| s.memory_total.is_some()) {
        assert_eq!(s.memory_total, Some(total));
        assert_eq!(s.memory_processed.unwrap() + s.memory_remaining.unwrap(), total);
    }
    // The completed job, kept, then forgotten once read without KEEP.
    let c = dom.job_stats(stats_flags::COMPLETED | stats_flags::KEEP_COMPLETED).unwrap();
    assert_eq!((c.kind, c.operation, c.success, c.memory_remaining), (JobType::Completed, operation::SNAPSHOT, Some(true), Some(0)));
    assert!(c.time_elapsed_ms >= samples.last().unwrap().time_elapsed_ms);
    assert_eq!(dom.job_stats(stats_flags::COMPLETED).unwrap().kind, JobType::Completed);
    assert_eq!(dom.job_stats(stats_flags::COMPLETED).unwrap().kind, JobType::None);
    assert_eq!(tags(&img), ["s1"]);

    // Aborts of a create at several points: as soon as the job shows, and
    // once half the memory is saved. Nothing is left, the guest runs on.
    let marks: [(&str, u64); 2] = [("start", 0), ("half", total / 2)];
    for (what, mark) in marks {
        let d2 = dom.clone();
        let d3 = dom.clone();
        let (r, samples, aborted) = watch(
            &dom,
            move || d2.snapshot_create_xml("<domainsnapshot><name>gone</name></domainsnapshot>", 0).map(drop),
            |s| s.last().and_then(|s| s.memory_processed).is_some_and(|p| p >= mark).then(|| d3.abort_job()),
        );
        let Some(aborted) = aborted else { panic!("{what}: never reached the mark: {samples:?}") };
        aborted.unwrap();
        let e = r.unwrap_err();
        assert_eq!((e.code, e.domain), (ErrorCode::OperationAborted, ErrorDomain::Qemu), "{what}: {e:?}");
        assert_eq!(e.message, "operation aborted: snapshot job: canceled by client");
        assert_eq!(dom.snapshot_list_names(0).unwrap(), ["s1"], "{what}");
        assert_eq!(tags(&img), ["s1"], "{what}: a stray qcow2 tag");
        assert_eq!(&*dom.snapshot_current(0).unwrap().name(), "s1", "{what}");
        assert_eq!(dom.state(0).unwrap().0, DomainState::Running, "{what}");
        let c = dom.job_stats(stats_flags::COMPLETED).unwrap();
        assert_eq!((c.kind, c.operation, c.success), (JobType::Cancelled, operation::SNAPSHOT, Some(false)), "{what}");
        assert!(!root.dir.join("run/qemu/vm.job").exists());
    }
    // The metadata directory holds s1 alone (no half-written file).
    let files: Vec<String> = std::fs::read_dir(root.dir.join("lib/qemu/snapshot/vm"))
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect())
        .unwrap_or_default();
    assert!(files.iter().all(|f| f.starts_with("s1")), "{files:?}");

    // A revert past its point of no return: the abort fails, it completes.
    let s1 = dom.snapshot_lookup_by_name("s1", 0).unwrap();
    let d3 = dom.clone();
    // The memory figures appear once the load has begun (past the point).
    let (r, samples, aborted) = watch(&dom, move || s1.revert(0), |s| s.last().is_some_and(|s| s.memory_total.is_some()).then(|| d3.abort_job()));
    r.unwrap();
    assert!(samples.iter().all(|s| s.operation == operation::SNAPSHOT_REVERT), "{samples:?}");
    let Some(Err(e)) = aborted else { panic!("no failed abort of the revert: {aborted:?} {samples:?}") };
    assert_eq!((e.code, e.domain), (ErrorCode::OperationInvalid, ErrorDomain::Qemu), "{e:?}");
    assert_eq!(dom.job_stats(stats_flags::COMPLETED).unwrap().kind, JobType::Completed);
    assert_eq!(dom.state(0).unwrap().0, DomainState::Running);
    dom.destroy(0).unwrap();
}

/// The virsnap binary (the most recently built one).
fn virsnap_bin() -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("virsnap"))
        .filter_map(|p| std::fs::metadata(&p).and_then(|m| m.modified()).ok().map(|t| (t, p)))
        .max()
        .map(|(_, p)| p)
        .expect("the virsnap binary is required (cargo build -p virsnap-cli)")
}

/// From other processes: `virsnap domjobinfo` while `virsnap
/// snapshot-create-as` runs in another, and Ctrl-C (SIGINT) to that one
/// aborts the create with nothing left.
#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_cli_any), ignore = "needs qemu-system-x86_64 and qemu-img; the virsnap binary (cargo build -p virsnap-cli)")]
fn cli_domjobinfo_from_another_process_and_ctrl_c() {
    if skip() {
        return;
    }
    let vs = virsnap_bin();
    let mem = mem_mib();
    let root = Root::new("domjob-cli");
    let img = bootable_image(&root, mem);
    let xml = Root::domain_xml("vm", &img).replace("<memory unit='MiB'>32</memory>", &format!("<memory unit='MiB'>{mem}</memory>"));
    std::fs::write(root.dir.join("vm.xml"), xml).unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(&vs).arg("-c").arg(root.uri()).args(args).env("VIRSNAP_QEMU_ACCEL", "tcg").output().unwrap();
        // Without virsh's trailing blank lines (compared live elsewhere).
        let text = |b: &[u8]| String::from_utf8_lossy(b).trim_end().to_owned();
        (o.status.success(), text(&o.stdout), text(&o.stderr))
    };
    let spawn = |args: &[&str]| {
        Command::new(&vs)
            .arg("-c")
            .arg(root.uri())
            .args(args)
            .env("VIRSNAP_QEMU_ACCEL", "tcg")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    assert!(run(&["define", &root.dir.join("vm.xml").to_string_lossy()]).0);
    // Idle: virsh's output.
    assert_eq!(run(&["domjobinfo", "vm"]).2, "error: Requested operation is not valid: domain is not running");
    assert!(run(&["start", "vm"]).0);
    let deadline = Instant::now() + Duration::from_secs(600);
    let dom = root.conn().lookup_by_name("vm").unwrap();
    while !dom.qemu_monitor_command("xp /1wx 0x500", 1, "virDomainQemuMonitorCommand").unwrap().contains("0x600df00d") {
        assert!(Instant::now() < deadline, "the guest never filled its memory");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(run(&["domjobinfo", "vm"]).1, "Job type:         None");

    // Watched from another process until the job shows.
    let wait_job = || loop {
        let (_, out, _) = run(&["domjobinfo", "vm"]);
        if out.contains("Unbounded") {
            return out;
        }
        assert!(Instant::now() < deadline, "no job seen");
        std::thread::sleep(Duration::from_millis(20));
    };
    let child = spawn(&["snapshot-create-as", "vm", "s1"]);
    let seen = wait_job();
    assert!(seen.contains("Operation:        Snapshot    \n"), "{seen}");
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{o:?}");
    let (_, done, _) = run(&["domjobinfo", "vm", "--completed"]);
    assert!(done.starts_with("Job type:         Completed   \nOperation:        Snapshot    \nTime elapsed:     "), "{done}");
    assert!(done.ends_with(&format!("Memory total:     {mem}.000 MiB")), "{done}");

    // Ctrl-C while it saves: the create is aborted, nothing is left.
    let child = spawn(&["snapshot-create-as", "vm", "s2"]);
    wait_job();
    let st = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stderr).trim_end(), "error: operation aborted: snapshot job: canceled by client");
    assert_eq!(run(&["snapshot-list", "vm", "--name"]).1, "s1");
    assert_eq!(tags(&img), ["s1"]);
    assert_eq!(run(&["domjobinfo", "vm", "--completed"]).1, "Job type:         Cancelled");
    assert_eq!(run(&["domstate", "vm"]).1, "running");
    assert!(run(&["destroy", "vm"]).0);
}

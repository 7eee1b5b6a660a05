//! Snapshot disk usage on real qcow2 images (issue 20 item 2): the qcow2
//! reader's per-snapshot numbers against known writes made with `qemu-io`,
//! and against what `qemu-img snapshot -d` really frees (`qemu-img check`).
#![allow(clippy::unwrap_used)]

mod qemu_common;

use std::path::Path;
use std::process::Command;

use qemu_common::{skip, Root};
use virsnap_core::qcow2;

const MIB: u64 = 1 << 20;

fn run(cmd: &str, args: &[&str], img: &Path) -> String {
    let out = Command::new(cmd).args(args).arg(img).output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Writes 8 MiB of `pattern` at offset 0.
fn write8(img: &Path, pattern: u8) {
    run("qemu-io", &["-f", "qcow2", "-c", &format!("write -P {pattern} 0 8M")], img);
}

/// Host clusters of `img` (cluster size `cs`) that hold any data on the
/// host file system, from `qemu-img map -f raw` (SEEK_DATA/SEEK_HOLE of the
/// file itself). qemu punches a hole where it frees a cluster
/// (`pass-discard-snapshot` is on by default), so this counts the clusters
/// in use independently of our reader. The image must be clean (`check`).
fn host_clusters_in_use(img: &Path, cs: u64) -> u64 {
    run("qemu-img", &["check", "-q"], img);
    let out = run("qemu-img", &["map", "-f", "raw", "--output=json"], img);
    let field = |line: &str, key: &str| -> String {
        let at = line.find(&format!("\"{key}\": ")).unwrap() + key.len() + 4;
        line[at..].split([',', '}']).next().unwrap().trim().to_owned()
    };
    let mut used = std::collections::BTreeSet::new();
    for line in out.lines().filter(|l| l.contains("\"start\"")) {
        if field(line, "data") != "true" {
            continue;
        }
        let start: u64 = field(line, "start").parse().unwrap();
        let len: u64 = field(line, "length").parse().unwrap();
        used.extend(start / cs..(start + len).div_ceil(cs));
    }
    used.len() as u64
}

fn usage_by_tag(img: &Path) -> (u64, Vec<(String, qcow2::SnapshotUsage)>) {
    let u = qcow2::usage_of(img).unwrap();
    (u.cluster_size, u.snapshots.into_iter().map(|s| (s.tag.clone(), s)).collect())
}

/// write, s1, overwrite, s2, overwrite, s3 (no write after it): s1 and s2
/// each reclaim the 8 MiB only they hold (± metadata clusters), s3 ~0; then
/// each `qemu-img snapshot -d` frees exactly the clusters reported.
#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-img and qemu-io")]
fn reclaimable_matches_known_writes_and_real_delete() {
    if skip() {
        return;
    }
    let root = Root::new("usage-known");
    let img = root.image("d.qcow2");
    write8(&img, 1);
    run("qemu-img", &["snapshot", "-c", "s1"], &img);
    write8(&img, 2);
    run("qemu-img", &["snapshot", "-c", "s2"], &img);
    write8(&img, 3);
    run("qemu-img", &["snapshot", "-c", "s3"], &img);

    let (cs, snaps) = usage_by_tag(&img);
    assert_eq!(cs, 64 << 10);
    let tags: Vec<&str> = snaps.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tags, ["s1", "s2", "s3"]);
    for (tag, s) in &snaps {
        let r = s.reclaimable_bytes.unwrap();
        assert_eq!(s.vm_state_bytes, 0, "{tag}");
        assert_eq!(s.exclusive_bytes, r, "{tag}: a clean image frees what only it holds (the table keeps its cluster)");
        if tag == "s3" {
            // Only its own L1 table: everything else is the current state's too.
            assert!(r <= 2 * cs, "{tag} reclaims {r}");
            assert!(s.shared_bytes.unwrap() >= 8 * MIB, "{tag}");
        } else {
            // 8 MiB of data plus at most a few metadata clusters (L1, L2).
            assert!((8 * MIB..=8 * MIB + 4 * cs).contains(&r), "{tag} reclaims {r}");
        }
    }
    // Deleting each for real frees exactly what was reported for it, and
    // the numbers of the remaining snapshots stay exact after each delete.
    for tag in ["s2", "s1", "s3"] {
        let (_, snaps) = usage_by_tag(&img);
        let r = snaps.iter().find(|(t, _)| t == tag).unwrap().1.reclaimable_bytes.unwrap();
        let before = host_clusters_in_use(&img, cs);
        run("qemu-img", &["snapshot", "-d", tag], &img);
        let after = host_clusters_in_use(&img, cs);
        assert_eq!((before - after) * cs, r, "deleting {tag}: {before} → {after} clusters, reported {r} bytes");
    }
}

/// Hostile bytes in a real image's metadata: an error or a result, never a
/// panic (the fuzz target `qcow2_usage` goes further).
#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-img and qemu-io")]
fn corrupted_images_fail_cleanly() {
    if skip() {
        return;
    }
    let root = Root::new("usage-garbage");
    let img = root.image("g.qcow2");
    run("qemu-io", &["-f", "qcow2", "-c", "write -P 1 0 64k"], &img);
    run("qemu-img", &["snapshot", "-c", "s1"], &img);
    run("qemu-io", &["-f", "qcow2", "-c", "write -P 2 0 64k"], &img);
    let mut bytes = std::fs::read(&img).unwrap();
    assert_eq!(qcow2::usage(&bytes[..]).unwrap().snapshots.len(), 1);
    // Header, snapshot table and L1/L2/refcount clusters (all metadata sits
    // in the file's non-data clusters; data is a pattern byte).
    let cs = 1 << 16;
    let meta: Vec<usize> = (0..bytes.len()).filter(|&i| i < 104 || (i % cs < 64 && bytes[i] != 1 && bytes[i] != 2)).collect();
    for &i in meta.iter() {
        for flip in [0x01u8, 0x80, 0xff] {
            bytes[i] ^= flip;
            let _ = qcow2::usage(&bytes[..]);
            bytes[i] ^= flip;
        }
    }
    // Truncations.
    for len in [0, 3, 71, 103, 104, 4096, 65536, 65536 * 2 + 7] {
        let _ = qcow2::usage(&bytes[..len.min(bytes.len())]);
    }
}

/// Through the driver: snapshots made with the API (shut-off domain), then
/// usage of each while the guest runs (the image open read-write by QEMU),
/// a running snapshot with its VM state, an external disk-only snapshot's
/// overlay, and the unknown fields a driver cannot know.
#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-system-x86_64, qemu-img and qemu-io")]
fn domain_usage_through_the_driver() {
    if skip() {
        return;
    }
    use virsnap_core::flags::create;
    let root = Root::new("usage-driver");
    let img = root.image("vm.qcow2");
    let conn = root.conn();
    let dom = conn.define_xml(&Root::domain_xml("u", &img), 0).unwrap();
    write8(&img, 1);
    dom.snapshot_create_xml("<domainsnapshot><name>a</name></domainsnapshot>", 0).unwrap();
    write8(&img, 2);
    dom.snapshot_create_xml("<domainsnapshot><name>b</name></domainsnapshot>", 0).unwrap();
    write8(&img, 3);

    dom.create(0).unwrap();
    let rows = dom.snapshot_usage(0).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, dom.snapshot_list_names(0).unwrap());
    for r in &rows {
        let rb = r.reclaimable_bytes.unwrap();
        assert!((8 * MIB..=8 * MIB + 4 * 65536).contains(&rb), "{r:?}");
        assert_eq!(r.vm_state_bytes, Some(0), "{r:?}");
        assert_eq!(r.overlay_bytes, None, "{r:?}");
    }
    // One snapshot by handle gives the same row.
    let b = dom.snapshot_lookup_by_name("b", 0).unwrap();
    assert_eq!(&b.usage(0).unwrap(), rows.iter().find(|r| r.name == "b").unwrap());
    // Flags: none are defined.
    let e = b.usage(1).unwrap_err();
    assert_eq!(e.code, virsnap_core::ErrorCode::InvalidArg, "{e}");

    // A running snapshot saves the VM state inside the image.
    dom.snapshot_create_xml("<domainsnapshot><name>live</name></domainsnapshot>", 0).unwrap();
    let live = dom.snapshot_lookup_by_name("live", 0).unwrap().usage(0).unwrap();
    let vm = live.vm_state_bytes.unwrap();
    assert!(vm > 0, "{live:?}");
    // Its VM state clusters are its own: deleting it frees at least them.
    assert!(live.reclaimable_bytes.unwrap() >= vm, "{live:?}");
    dom.destroy(0).unwrap();
    // Shut off, the API's delete frees exactly what is reported for it.
    let snap = dom.snapshot_lookup_by_name("live", 0).unwrap();
    let r = snap.usage(0).unwrap().reclaimable_bytes.unwrap();
    let before = host_clusters_in_use(&img, 65536);
    snap.delete(0).unwrap();
    assert_eq!((before - host_clusters_in_use(&img, 65536)) * 65536, r);

    // External disk-only: the overlay's allocated bytes; what its delete
    // would free is not known (never guessed).
    dom.snapshot_create_xml("<domainsnapshot><name>ext</name></domainsnapshot>", create::DISK_ONLY).unwrap();
    let ext = dom.snapshot_lookup_by_name("ext", 0).unwrap().usage(0).unwrap();
    assert_eq!(ext.reclaimable_bytes, None, "{ext:?}");
    assert_eq!(ext.vm_state_bytes, Some(0), "{ext:?}");
    assert!(ext.overlay_bytes.unwrap() > 0, "{ext:?}");

    // A missing snapshot.
    let e = dom.snapshot_lookup_by_name("nope", 0).map(|_| ()).unwrap_err();
    assert_eq!(e.code, virsnap_core::ErrorCode::NoDomainSnapshot);
}

/// The test driver has no disks: every row is there, every number unknown.
#[test]
fn test_driver_rows_are_unknown() {
    let conn = virsnap_core::Connection::open(Some("test:///default")).unwrap();
    let dom = conn.lookup_by_name("test").unwrap();
    dom.snapshot_create_xml("<domainsnapshot><name>t1</name></domainsnapshot>", 0).unwrap();
    let rows = dom.snapshot_usage(0).unwrap();
    assert_eq!(rows, vec![virsnap_core::SnapshotUsage::unknown("t1")]);
    let e = dom.snapshot_usage(4).unwrap_err();
    assert!(e.to_string().contains("unsupported flags (0x4)"), "{e}");
}

/// Deletes every snapshot of `img` one by one (oldest first) with
/// `qemu-img snapshot -d`, checking that each frees exactly the clusters
/// reported as reclaimable just before.
fn check_every_delete(img: &Path) {
    loop {
        let u = qcow2::usage_of(img).unwrap();
        let Some(s) = u.snapshots.first() else { break };
        let r = s.reclaimable_bytes.unwrap();
        let before = host_clusters_in_use(img, u.cluster_size);
        run("qemu-img", &["snapshot", "-d", &s.tag], img);
        let after = host_clusters_in_use(img, u.cluster_size);
        assert_eq!((before - after) * u.cluster_size, r, "{}: deleting {}: {before} → {after} clusters", img.display(), s.tag);
    }
}

/// Other layouts qemu writes: 4 KiB to 2 MiB clusters, sub-byte and wide
/// refcounts (4 and 64 bits), extended L2 entries, compressed clusters (several in one host
/// cluster), overlapping writes: each snapshot's delete frees exactly what
/// was reported.
#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-img and qemu-io")]
fn exact_on_other_layouts() {
    if skip() {
        return;
    }
    let root = Root::new("usage-layouts");
    let layouts = [
        // (Clusters under the file system's 4 KiB block are not measurable
        // this way: a freed 512-byte cluster shares its block.)
        ("rc4", "refcount_bits=4", false),
        ("rc64", "cluster_size=4k,refcount_bits=64", false),
        ("extl2", "cluster_size=128k,extended_l2=on", false),
        ("big", "cluster_size=2M", false),
        ("zlib", "cluster_size=4k", true),
    ];
    for (name, opts, compress) in layouts {
        let img = root.dir.join(format!("{name}.qcow2"));
        let st = Command::new("qemu-img").args(["create", "-q", "-f", "qcow2", "-o", opts]).arg(&img).arg("8M").status().unwrap();
        assert!(st.success(), "{opts}");
        // Compressed writes go to unallocated clusters only; an
        // uncompressed overwrite then frees part of a compressed one.
        let writes: &[(&str, &str)] = if compress {
            &[("-c ", "0 1M"), ("-c ", "1M 1M"), ("", "0 12k"), ("-c ", "3M 64k")]
        } else {
            &[("", "0 1M"), ("", "512k 1M"), ("", "64k 8k"), ("", "3M 64k")]
        };
        for (i, (c, range)) in writes.iter().enumerate() {
            run("qemu-io", &["-f", "qcow2", "-c", &format!("write {c}-P {} {range}", i + 1)], &img);
            run("qemu-img", &["snapshot", "-c", &format!("s{i}")], &img);
        }
        check_every_delete(&img);
    }
}

/// The fuzz target's seeds (real small images) read without error and
/// keep the reader's invariant: exclusive clusters are disjoint.
#[test]
fn fuzz_seeds_read() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz/seeds/qcow2_usage");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        let u = qcow2::usage(&bytes[..]).unwrap();
        let total: u64 = u.snapshots.iter().map(|s| s.exclusive_bytes).sum();
        assert!(total <= (bytes.len() as u64).div_ceil(u.cluster_size) * u.cluster_size);
        assert!(!u.snapshots.is_empty());
        n += 1;
    }
    assert!(n >= 3);
}

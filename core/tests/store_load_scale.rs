//! Cold load of the metadata store (issue 15 item 10): linear whatever the
//! creation times say. A chain whose creation times run against the tree
//! order (every child "older" than its parent) loads about as fast as the
//! same chain with times in order, and into the same tree.
//!
//! Judged as a ratio of two loads measured in turns on the same machine
//! (best of several), never against a clock budget.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use virsnap_core::model::SnapshotDef;
use virsnap_core::store::SnapshotStore;
use virsnap_core::ErrorDomain;

const DOMAIN_UUID: &str = "6695eb01-f6a4-8304-79aa-97f2502e193f";

fn scratch(tag: &str) -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let d = base.join(format!("virsnap-load-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A store holding the chain `s0 <- s1 <- … <- s{n-1}`, s{n-1} current;
/// creation times rise along the chain, or fall when `against`.
fn chain_store(tag: &str, n: usize, against: bool) -> (PathBuf, SnapshotStore) {
    let dir = scratch(tag);
    let store = SnapshotStore::open(&dir, ErrorDomain::Qemu).expect("open store");
    for i in 0..n {
        let d = SnapshotDef {
            name: Some(format!("s{i}")),
            state: Some(virsnap_core::model::SnapshotState::Shutoff),
            parent: (i > 0).then(|| format!("s{}", i - 1)),
            creation_time: if against { 2_000_000_000 - i as i64 } else { 1_000_000_000 + i as i64 },
            ..SnapshotDef::default()
        };
        store.save(&d, DOMAIN_UUID, i + 1 == n).expect("save");
    }
    (dir, store)
}

fn best_load(store: &SnapshotStore) -> Duration {
    let t = Instant::now();
    let (tree, problems) = store.load_all().expect("load");
    let e = t.elapsed();
    assert!(problems.is_empty(), "{problems:?}");
    drop(tree);
    e
}

#[test]
fn load_is_linear_when_times_run_against_the_tree() {
    let n = 4000;
    let (d1, fwd) = chain_store("fwd", n, false);
    let (d2, rev) = chain_store("rev", n, true);
    // same tree either way: every link kept, current kept
    for store in [&fwd, &rev] {
        let (tree, problems) = store.load_all().expect("load");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(tree.len(), n);
        for i in 1..n {
            let want = format!("s{}", i - 1);
            assert_eq!(tree.parent(&format!("s{i}")), Some(want.as_str()));
        }
        assert_eq!(tree.current(), Some(format!("s{}", n - 1).as_str()));
    }
    let (mut tf, mut tr) = (Duration::MAX, Duration::MAX);
    for _ in 0..7 {
        tf = tf.min(best_load(&fwd));
        tr = tr.min(best_load(&rev));
    }
    let _ = std::fs::remove_dir_all(d1);
    let _ = std::fs::remove_dir_all(d2);
    // Linear: both read and parse the same 4000 files (ratio ~1). The old
    // loader placed one level per pass over the pending list: ~n²/2 steps,
    // tens of times slower.
    assert!(
        tr < tf * 4,
        "load with times against the tree order {tr:?} vs in order {tf:?}: not linear"
    );
}

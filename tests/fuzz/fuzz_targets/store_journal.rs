//! The snapshot store's journal as a hostile user could plant it: the input
//! is written as `<dir>/.journal` and replayed (`SnapshotStore::replay`),
//! then the directory is loaded. No panic, no hang; nothing is created
//! outside the store directory, and every file in it is snapshot metadata
//! (`NAME.xml` of a valid name), a control file of the store, or one of
//! the store's own files.
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use virsnap_core::store::{name_of_file, SnapshotStore, CONTROL_FILES};
use virsnap_core::ErrorDomain;

/// `<tmp>/virsnap-fuzz-journal-PID/{dom/, sibling}`: `sibling` must stay alone beside `dom`.
fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let r = std::env::temp_dir().join(format!("virsnap-fuzz-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&r);
        std::fs::create_dir_all(r.join("dom")).unwrap();
        std::fs::write(r.join("sibling"), "keep").unwrap();
        r
    })
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    let dir = root.join("dom");
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        std::fs::remove_file(e.path()).unwrap();
    }
    std::fs::write(dir.join(".journal"), data).unwrap();
    let store = SnapshotStore::open(&dir, ErrorDomain::Qemu).unwrap();
    let lock = store.lock().unwrap();
    if store.replay().is_ok() {
        let _ = store.load_all();
    }
    drop(lock);
    let mut outside: Vec<String> =
        std::fs::read_dir(root).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    outside.sort();
    assert_eq!(outside, ["dom", "sibling"], "a file was written outside the store");
    assert_eq!(std::fs::read(root.join("sibling")).unwrap(), b"keep");
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let own = [".journal", ".journal-applied", ".lock"].contains(&n.as_str());
        let legacy = n.starts_with('%') && n.ends_with(".xml") && !n.contains('/');
        assert!(
            own || CONTROL_FILES.contains(&n.as_str()) || name_of_file(&n).is_some() || legacy,
            "unexpected file {n:?} in the store"
        );
        assert!(e.file_type().unwrap().is_file(), "{n:?} is not a regular file");
    }
});

//! qcow2 images as a hostile user could plant them (a domain's disk):
//! `qcow2::usage` and `qcow2::backing_file` over the bytes. No panic, no
//! allocation beyond the caps; exclusive clusters are disjoint, so their
//! sum fits in the file; counts are whole clusters.
#![no_main]
use libfuzzer_sys::fuzz_target;
use virsnap_core::qcow2;

fuzz_target!(|data: &[u8]| {
    let _ = qcow2::backing_file(data);
    let Ok(u) = qcow2::usage(data) else { return };
    assert!(u.cluster_size.is_power_of_two() && (512..=2 << 20).contains(&u.cluster_size));
    let total: u64 = u.snapshots.iter().map(|s| s.exclusive_bytes).sum();
    assert!(total <= (data.len() as u64).div_ceil(u.cluster_size) * u.cluster_size);
    for s in &u.snapshots {
        assert_eq!(s.exclusive_bytes % u.cluster_size, 0);
        if let Some(r) = s.reclaimable_bytes {
            assert_eq!(r % u.cluster_size, 0);
        }
    }
});

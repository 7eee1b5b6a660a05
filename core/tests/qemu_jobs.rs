//! Running-guest internal snapshots through QMP `snapshot-save` /
//! `snapshot-load` / `snapshot-delete` jobs with progress, and the HMP
//! fallback (`VIRSNAP_QEMU_HMP_SNAPSHOTS=1`). One test per binary: it sets
//! an environment variable.
#![allow(clippy::unwrap_used)]

mod qemu_common;

use std::sync::{Arc, Mutex};

use qemu_common::{skip, Root};
use virsnap_core::flags::revert;
use virsnap_core::model::{reason, DomainState};

#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn jobs_with_progress_then_hmp_fallback() {
    if skip() {
        return;
    }
    let root = Root::new("jobs");
    let img = root.image("vm.qcow2");
    let conn = root.conn();
    let seen = Arc::new(Mutex::new(Vec::<(String, u32)>::new()));
    let s2 = seen.clone();
    conn.set_progress(Some(Arc::new(move |op: &str, pct: u32| s2.lock().unwrap().push((op.to_owned(), pct)))));
    let dom = conn.define_xml(&Root::domain_xml("vm", &img), 0).unwrap();
    dom.create(0).unwrap();
    for (round, hmp) in [(0, false), (1, true)] {
        if hmp {
            // SAFETY: the only test of this binary; no other thread reads the environment now.
            unsafe { std::env::set_var("VIRSNAP_QEMU_HMP_SNAPSHOTS", "1") };
        }
        seen.lock().unwrap().clear();
        let name = format!("j{round}");
        let s = dom.snapshot_create_xml(&format!("<domainsnapshot><name>{name}</name></domainsnapshot>"), 0).unwrap();
        assert!(s.xml_desc(0).unwrap().contains("<memory snapshot='internal'/>"));
        assert!(Root::tags(&img).contains(&name));
        s.revert(revert::PAUSED).unwrap();
        assert_eq!(dom.state(0).unwrap(), (DomainState::Paused, reason::PAUSED_FROM_SNAPSHOT));
        s.revert(revert::RUNNING).unwrap();
        assert_eq!(dom.state(0).unwrap(), (DomainState::Running, reason::RUNNING_FROM_SNAPSHOT));
        s.delete(0).unwrap();
        assert!(!Root::tags(&img).contains(&name));
        // Progress per operation: starts at 0, ends at 100, never goes back.
        let v = seen.lock().unwrap().clone();
        for op in ["snapshot-create", "snapshot-revert"] {
            let p: Vec<u32> = v.iter().filter(|(o, _)| o == op).map(|(_, p)| *p).collect();
            assert_eq!(p.first(), Some(&0), "{op}: {v:?}");
            assert_eq!(p.last(), Some(&100), "{op}: {v:?}");
            // Each run (from its 0 to its 100) never goes back.
            assert!(p.windows(2).all(|w| w[0] <= w[1] || (w[0] == 100 && w[1] == 0)), "{op}: {v:?}");
        }
    }
    // SAFETY: as above.
    unsafe { std::env::remove_var("VIRSNAP_QEMU_HMP_SNAPSHOTS") };
    dom.destroy(0).unwrap();
}

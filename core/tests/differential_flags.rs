//! Every flag combination of every snapshot call, run on real libvirt and on
//! virsnap from a pristine `test:///default`: accepted or rejected alike, with
//! the same error code, domain and message. virsnap's seed delete modes (bits
//! 16..19) are a deliberate extension and are left out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(clippy::unwrap_used)]
mod common;

fn script() -> String {
    let mut s = String::new();
    let base = "create | <domainsnapshot><name>base</name></domainsnapshot> | 0\n";
    let mut push = |body: String| {
        s.push_str("reset\n");
        s.push_str(base);
        s.push_str(&body);
    };
    for f in (0..1024u32).chain([1024, 2048, 1 << 12, 1 << 31]) {
        push(format!("create | <domainsnapshot><name>f</name></domainsnapshot> | {f}\nstate\n"));
    }
    for f in (0..16u32).chain([16, 32, 1 << 20]) {
        push(format!("revert | base | {f}\nstate\n"));
    }
    for f in (0..8u32).chain([8, 16]) {
        push(format!("delete | base | {f}\nnum | 0\n"));
    }
    s.push_str("reset\n");
    s.push_str(base);
    s.push_str("create | <domainsnapshot><name>kid</name></domainsnapshot> | 0\n");
    for f in (0..2048u32).step_by(1).filter(|f| f % 3 == 0 || *f < 64).chain([2048, 4096]) {
        s.push_str(&format!("list | {f}\nchildren | base | {f}\n"));
    }
    for f in 0..4u32 {
        s.push_str(&format!("xml | base | {f}\nlookup | base | {f}\ncurrent | {f}\nhascurrent | {f}\nparent | kid | {f}\niscurrent | base | {f}\nhasmeta | base | {f}\nnumchildren | base | {f}\n"));
    }
    s
}

#[test]
#[cfg_attr(virsnap_no_libvirt, ignore = "needs libvirt 9.0 (/usr/bin/python3 with python3-libvirt)")]
fn every_flag_combination_agrees_with_libvirt() {
    let script = script();
    let ours = common::run_virsnap(&script);
    assert!(common::have_libvirt(), "/usr/bin/python3 with python3-libvirt is required");
    let theirs = common::run_libvirt(&script);
    let diffs = common::diff(&theirs, &ours);
    let total = theirs.lines().filter(|l| l.starts_with("  =>")).count();
    println!("{} of {total} flag-combination results agree with libvirt", total.saturating_sub(diffs.len()));
    assert!(diffs.is_empty(), "{}", diffs.iter().take(20).cloned().collect::<Vec<_>>().join("\n"));
}

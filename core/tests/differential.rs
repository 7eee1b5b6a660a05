//! Differential test: the scripted scenario in data/scenario.txt runs on real
//! libvirt 9.0 (`/usr/bin/python3` with Debian's python3-libvirt, driving
//! `test:///default`) and on virsnap's test driver; every result must agree
//! line for line. Ignored (cargo counts it) where build.rs found no libvirt.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(clippy::unwrap_used)]
mod common;

#[test]
#[cfg_attr(virsnap_no_libvirt, ignore = "needs libvirt 9.0 (/usr/bin/python3 with python3-libvirt)")]
fn scenario_agrees_with_libvirt_line_for_line() {
    let script = std::fs::read_to_string(common::data_dir().join("scenario.txt")).expect("scenario");
    let ours = common::run_virsnap(&script);
    assert!(common::have_libvirt(), "/usr/bin/python3 with python3-libvirt is required");
    let theirs = common::run_libvirt(&script);
    let diffs = common::diff(&theirs, &ours);
    let total = theirs.lines().count();
    println!("{} of {total} result lines agree with libvirt", total.saturating_sub(diffs.len()));
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

//! The QMP client against a scripted peer (no QEMU needed): the seed
//! conversations of the `qmp_session` fuzz target (tests/fuzz/seeds/) with
//! their expected outcomes, and the regressions the fuzz target guards.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use virsnap_core::drivers::qemu::qmp::fuzzing::qmp_session_patient as qmp_session;
use virsnap_core::ErrorCode;

fn seed(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz/seeds/qmp_session").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn script(sel: u8, chunks: &[&str]) -> Vec<u8> {
    let mut v = vec![sel];
    v.extend_from_slice(chunks.join("\0").as_bytes());
    v
}

#[test]
fn the_seed_conversations_end_as_expected() {
    for op in ["save", "load", "delete"] {
        for (name, ok) in [
            (format!("job-{op}"), true),
            (format!("job-{op}-running-guest"), true),
            (format!("job-{op}-split"), true),
            (format!("hmp-{op}"), true),
            (format!("job-{op}-error"), false),
            (format!("hmp-{op}-error"), false),
            (format!("job-{op}-stall"), false),
        ] {
            let (r, seen) = qmp_session(&seed(&name));
            assert_eq!(r.is_ok(), ok, "{name}: {r:?}");
            assert_eq!(seen.commands.first().map(|c| c.0.as_str()), Some("qmp_capabilities"), "{name}");
        }
    }
    let (r, _) = qmp_session(&seed("job-save-stall"));
    assert_eq!(r.unwrap_err().code, ErrorCode::OperationTimeout);
    for name in ["close-mid-reply", "garbage", "error-reply", "no-greeting"] {
        assert!(qmp_session(&seed(name)).0.is_err(), "{name}");
    }
    assert!(qmp_session(&seed("status-hmp")).0.is_ok());
}

/// The conversations captured from QEMU 7.2 by tests/fuzz/capture-qmp.py.
#[test]
fn real_qemu_conversations_end_as_they_did() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz/seeds/qmp_session");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("real-") {
            continue;
        }
        let (r, _) = qmp_session(&std::fs::read(e.path()).unwrap());
        assert_eq!(r.is_ok(), !name.contains("error"), "{name}: {r:?}");
        n += 1;
    }
    assert!(n >= 12, "only {n} captured conversations");
}

#[test]
fn a_reply_without_a_newline_is_cut_off_not_buffered_without_bound() {
    // 17 MiB of one line, never ended: the client stops reading at its
    // 16 MiB line limit. The peer does not stall (selector 0), so the
    // client may take up to 30 s (its reply timeout) to read the 16 MiB:
    // the outcome does not depend on the machine's speed.
    let big = "x".repeat(17 << 20);
    let greeting = r#"{"QMP": {"version": {}, "capabilities": []}}"#.to_owned() + "\n";
    let (r, _) = qmp_session(&script(0, &[&greeting, &big]));
    let e = r.unwrap_err();
    assert!(e.message.contains("too large"), "{e:?}");
}

#[test]
fn a_job_that_vanishes_or_fails_is_reported_truthfully() {
    let g = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n";
    let ok = "{\"return\": {}, \"id\": $ID}\n";
    let run = "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": $ID}\n";
    let block = "{\"return\": [{\"device\": \"drive-vda\", \"inserted\": {\"node-name\": \"n0\"}}, {\"device\": \"drive-vdc\", \"inserted\": {\"node-name\": \"n2\"}}], \"id\": $ID}\n";
    // A disk QEMU does not know: an error naming it, before any job starts.
    let partial = "{\"return\": [{\"device\": \"drive-vda\", \"inserted\": {\"node-name\": \"n0\"}}], \"id\": $ID}\n";
    let (r, seen) = qmp_session(&script(1, &[g, ok, run, partial]));
    assert!(r.unwrap_err().message.contains("vdc"));
    assert!(!seen.commands.iter().any(|c| c.0 == "snapshot-save"));
    // The job concluded with an error: a failure carrying QEMU's text.
    let failed = "{\"return\": [{\"id\": \"$JOB\", \"status\": \"concluded\", \"current-progress\": 1, \"total-progress\": 1, \"error\": \"No space left\"}], \"id\": $ID}\n";
    let (r, _) = qmp_session(&script(1, &[g, ok, run, block, ok, failed, ok]));
    let e = r.unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert!(e.message.contains("No space left"), "{e:?}");
    // Progress beyond the total or going backwards is clamped, never reported wrongly.
    let p = |c: u64, t: u64| format!("{{\"return\": [{{\"id\": \"$JOB\", \"status\": \"running\", \"current-progress\": {c}, \"total-progress\": {t}}}], \"id\": $ID}}\n");
    let (r, _) = qmp_session(&script(1, &[g, ok, run, block, ok, &p(5, 4), &p(1, 4), &p(u64::MAX, 3), "{\"return\": [], \"id\": $ID}\n"]));
    assert!(r.is_ok(), "{r:?}");
}

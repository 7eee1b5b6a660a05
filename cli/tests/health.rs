//! `snapshot-prune` and `snapshot-verify` (issue 21) through the binary, on
//! test:///default (each call a fresh process, so a fresh driver).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_virsnap");

struct Out {
    stdout: String,
    stderr: String,
    code: i32,
}

fn run(args: &[&str]) -> Out {
    let o = Command::new(BIN)
        .args(args)
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env_remove("LIBVIRT_DEFAULT_URI")
        .output()
        .expect("run virsnap");
    Out {
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(-1),
    }
}

fn session(line: &str) -> Out {
    run(&["-q", "-c", "test:///default", line])
}

const FOUR: &str = "snapshot-create-as test a; snapshot-create-as test b; snapshot-create-as test c; \
                    snapshot-create-as test d; snapshot-revert test b";

#[test]
fn prune_prints_one_line_per_snapshot() {
    let o = run(&["-c", "test:///default", &format!("{FOUR}; snapshot-prune test --keep 1 --dry-run; snapshot-list test --name")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Ties in creation time go by creation order: d is the newest; b is current.
    assert!(o.stdout.contains("Domain snapshot a would be deleted\nDomain snapshot c would be deleted\n"), "{}", o.stdout);
    assert!(o.stdout.ends_with("a\nb\nc\nd\n\n"), "{}", o.stdout);
    let o = run(&["-c", "test:///default", &format!("{FOUR}; snapshot-prune test --keep 1; snapshot-list test --name")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.ends_with("Domain snapshot a deleted\nDomain snapshot c deleted\n\nb\nd\n\n"), "{}", o.stdout);
    // -q hides the deletions as virsh's snapshot-delete message, not a dry run's list.
    let o = session(&format!("{FOUR}; snapshot-prune test --keep 1 --dry-run; snapshot-prune test --keep 1"));
    assert_eq!(o.stdout, "Domain snapshot a would be deleted\nDomain snapshot c would be deleted\n");
    // Nothing is older than a day.
    let o = session(&format!("{FOUR}; snapshot-prune test --older-than 1d; snapshot-list test --name"));
    assert_eq!(o.stdout, "a\nb\nc\nd\n");
}

#[test]
fn prune_errors_are_clear_and_change_nothing() {
    let o = session("snapshot-prune test");
    assert_eq!(o.stderr, "error: command 'snapshot-prune' requires --keep and/or --older-than\n");
    assert_eq!(o.code, 1);
    let o = session("snapshot-prune test --keep x");
    assert_eq!(o.stderr, "error: Numeric value 'x' for <keep> option is malformed or out of range\n");
    let o = session("snapshot-prune test --older-than 3parsecs");
    assert!(o.stderr.starts_with("error: invalid argument: invalid duration '3parsecs'"), "{}", o.stderr);
    assert_eq!(o.code, 1);
    let o = session("snapshot-prune nope --keep 1");
    assert_eq!(o.stderr, "error: failed to get domain 'nope'\n");
    let o = run(&["-r", "-c", "test:///default", "snapshot-create-as test a; snapshot-prune test --keep 0"]);
    assert_eq!(o.code, 1);
}

#[test]
fn verify_on_the_test_driver_is_consistent() {
    let o = session(&format!("{FOUR}; snapshot-verify test; snapshot-verify test --repair"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "");
    let o = run(&["-c", "test:///default", "snapshot-verify test"]);
    assert_eq!(o.stdout, "Domain 'test': snapshots consistent\n\n");
}

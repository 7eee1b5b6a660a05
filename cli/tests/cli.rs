//! Integration tests of the `virsnap` binary: libvirt's virsh-snapshot
//! conformance batches and side-by-side sessions, each compared live with
//! the installed libvirt 9.0 `virsh`, and every seed command, option and
//! error path. Tests needing a component build.rs found missing are ignored
//! (cargo counts them, with the reason).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_virsnap");

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

struct Out {
    stdout: String,
    stderr: String,
    code: i32,
}

fn run_with(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Out {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env_remove("LIBVIRT_DEFAULT_URI")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("spawn virsnap");
    {
        let mut i = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            i.write_all(s.as_bytes()).expect("write stdin");
        }
    }
    let o = child.wait_with_output().expect("wait");
    Out {
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(-1),
    }
}

/// `virsnap -c test:///default 'LINE'`.
fn session(line: &str) -> Out {
    run_with(&["-c", "test:///default", line], None, &[])
}

/// `line` fails on the unknown domain 'nope'.
fn assert_no_domain(line: &str) {
    let o = session(line);
    assert_eq!(
        (o.stderr.as_str(), o.code),
        ("error: failed to get domain 'nope'\n", 1),
        "{line}"
    );
}

const NO_SNAPSHOT: &str =
    "error: Domain snapshot not found: no domain snapshot with matching name 'nope'\n";

/// `line` fails on the unknown snapshot 'nope'.
fn assert_no_snapshot(line: &str) {
    let o = session(line);
    assert_eq!((o.stderr.as_str(), o.code), (NO_SNAPSHOT, 1), "{line}");
}

fn script(name: &str, args: &[&str]) -> (i32, String) {
    let o = Command::new("bash")
        .arg(data_dir().join(name))
        .args(args)
        .output()
        .expect("run bash script");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

/// libvirt's tests/virsh-snapshot batches (data/virsh-snapshot), through
/// the installed virsh and through virsnap, compared live.
#[test]
#[cfg_attr(virsnap_no_virsh, ignore = "needs libvirt 9.0 virsh")]
fn libvirt_virsh_snapshot_batches_are_byte_identical() {
    let (code, text) = script("virsh-conformance.sh", &[BIN]);
    assert_eq!(code, 0, "batch1/batch2 differ from libvirt 9.0's virsh:\n{text}");
}

/// Runs compare.sh (virsh and virsnap on the same sessions) with `args`
/// after the binary; virsh is required (exit 77: not installed).
fn compare_with_virsh(args: &[&str]) {
    let (code, text) = script("compare.sh", &[&[BIN], args].concat());
    assert_ne!(code, 77, "virsh is required: {text}");
    assert_eq!(code, 0, "virsnap differs from virsh:\n{text}");
    eprintln!("{}", text.lines().last().unwrap_or(""));
}

#[test]
#[cfg_attr(virsnap_no_virsh, ignore = "needs libvirt 9.0 virsh")]
fn same_sessions_as_real_virsh() {
    compare_with_virsh(&[]);
}

#[test]
#[cfg_attr(virsnap_no_virsh, ignore = "needs libvirt 9.0 virsh")]
fn same_random_sessions_as_real_virsh() {
    let file = data_dir().join("compare-random-sessions.txt");
    compare_with_virsh(&[file.to_str().expect("utf8")]);
}

#[test]
fn seed_rename() {
    let o = session(
        "snapshot-create-as test a; snapshot-create-as test b; snapshot-rename test b c; snapshot-list test --name; \
         snapshot-current test --name; snapshot-parent test c",
    );
    assert_eq!(
        o.stdout,
        "Domain snapshot a created\nDomain snapshot b created\nDomain snapshot b renamed to c\n\na\nc\n\nc\na\n"
    );
    assert_eq!(o.stderr, "");
    assert_eq!(o.code, 0);
    // named options work as well as positional ones
    let o = session(
        "snapshot-create-as test a; snapshot-rename --domain test --snapshotname=a --newname b; snapshot-list test --name",
    );
    assert!(
        o.stdout.contains("Domain snapshot a renamed to b\n"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.ends_with("\nb\n\n"), "{}", o.stdout);
}

#[test]
fn seed_rename_errors() {
    let o =
        session("snapshot-create-as test a; snapshot-create-as test b; snapshot-rename test a b");
    assert_eq!(
        o.stderr,
        "error: Failed to rename snapshot a\nerror: Requested operation is not valid: snapshot 'b' already exists\n"
    );
    assert_eq!(o.code, 1);
    assert_no_snapshot("snapshot-rename test nope x");
    assert_no_domain("snapshot-rename nope a b");
    let o = session("snapshot-create-as test a; snapshot-rename test a x/y");
    assert!(
        o.stderr
            .starts_with("error: Failed to rename snapshot a\nerror: invalid argument: "),
        "{}",
        o.stderr
    );
    let o = session("snapshot-rename test a");
    assert_eq!(
        o.stderr,
        "error: command 'snapshot-rename' requires <newname> option\n"
    );
    assert_eq!(o.stdout, "");
    let o = session("snapshot-rename test a b c");
    assert_eq!(o.stderr, "error: unexpected data 'c'\n");
}

#[test]
fn seed_delete_modes() {
    // a -> {b -> c, d}
    let setup = "snapshot-create-as test a; snapshot-create-as test b; snapshot-create-as test c; \
                 snapshot-revert test a; snapshot-create-as test d; ";
    // --merge: libvirt's default delete, children re-parented
    let o = session(&format!(
        "{setup}snapshot-delete test b --merge; snapshot-list test --parent --name; snapshot-parent test c"
    ));
    assert!(
        o.stdout.contains("Domain snapshot b deleted\n"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.ends_with("a\nc\nd\n\na\n"), "{}", o.stdout);
    assert_eq!(o.code, 0);
    // --mergeforce: the same even with children
    let o = session(&format!(
        "{setup}snapshot-delete test a --mergeforce; snapshot-list test --roots --name"
    ));
    assert!(
        o.stdout.ends_with("Domain snapshot a deleted\n\nb\nd\n\n"),
        "{}",
        o.stdout
    );
    // --delete: only a childless snapshot
    let o = session(&format!("{setup}snapshot-delete test a --delete"));
    assert_eq!(
        o.stderr,
        "error: Failed to delete snapshot a\nerror: Requested operation is not valid: snapshot 'a' has children; DISCARD would discard them (use DISCARD_FORCE)\n"
    );
    assert_eq!(o.code, 1);
    let o = session(&format!(
        "{setup}snapshot-delete test c --delete; snapshot-list test --name"
    ));
    assert!(
        o.stdout
            .ends_with("Domain snapshot c deleted\n\na\nb\nd\n\n"),
        "{}",
        o.stdout
    );
    assert_eq!(o.code, 0);
    // --deleteforce: with all children
    let o = session(&format!(
        "{setup}snapshot-delete test b --deleteforce; snapshot-list test --name"
    ));
    assert!(
        o.stdout.ends_with("Domain snapshot b deleted\n\na\nd\n\n"),
        "{}",
        o.stdout
    );
    // --current works with the modes too
    let o = session(&format!(
        "{setup}snapshot-delete test --current --delete; snapshot-list test --name"
    ));
    assert!(
        o.stdout
            .ends_with("Domain snapshot d deleted\n\na\nb\nc\n\n"),
        "{}",
        o.stdout
    );
}

#[test]
fn seed_delete_conflicting_options() {
    for (opts, a, b) in [
        ("--merge --delete", "merge", "delete"),
        ("--mergeforce --deleteforce", "mergeforce", "deleteforce"),
        ("--delete --children", "children", "delete"),
        ("--children-only --merge", "children-only", "merge"),
        ("--metadata --deleteforce", "metadata", "deleteforce"),
        ("--merge --mergeforce", "merge", "mergeforce"),
    ] {
        let o = session(&format!(
            "snapshot-create-as test a; snapshot-delete test a {opts}; snapshot-list test --name"
        ));
        assert_eq!(
            o.stderr,
            format!("error: Options --{a} and --{b} are mutually exclusive\n"),
            "{opts}"
        );
        assert!(
            o.stdout.ends_with("\na\n\n"),
            "nothing deleted with {opts}: {}",
            o.stdout
        );
    }
    let o = session("snapshot-create-as test a; snapshot-delete test a --children --children-only");
    assert_eq!(
        o.stderr,
        "error: Failed to delete snapshot a\nerror: Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY' are mutually exclusive\n"
    );
    let o = session("snapshot-create-as test a; snapshot-delete test a --current --merge");
    assert_eq!(
        o.stderr,
        "error: --snapshotname and --current are mutually exclusive\n"
    );
    assert_no_snapshot("snapshot-delete test nope --merge");
    assert_no_domain("snapshot-delete nope a --deleteforce");
    let o = session("snapshot-delete test --merge");
    assert_eq!(o.stderr, "error: --snapshotname or --current is required\n");
    let o = session("snapshot-delete test a --merge=1");
    assert_eq!(o.stderr, "error: invalid '=' after option --merge\n");
}

#[test]
fn seed_delete_all() {
    let o = session(
        "snapshot-create-as test a; snapshot-create-as test b; snapshot-revert test a; snapshot-create-as test c; \
         snapshot-delete-all test; snapshot-list test --name; snapshot-current test --name",
    );
    assert!(
        o.stdout
            .contains("Domain 'test': 3 snapshots deleted\n\n\n"),
        "{}",
        o.stdout
    );
    assert_eq!(o.stderr, "error: domain 'test' has no current snapshot\n");
    let o = session("snapshot-delete-all test");
    assert_eq!(o.stdout, "Domain 'test': 0 snapshots deleted\n\n");
    assert_eq!(o.code, 0);
    assert_no_domain("snapshot-delete-all nope");
    let o = session("snapshot-delete-all");
    assert_eq!(
        o.stderr,
        "error: command 'snapshot-delete-all' requires <domain> option\n"
    );
    let o = run_with(
        &["-r", "-c", "test:///default", "snapshot-delete-all test"],
        None,
        &[],
    );
    assert!(o.stderr.starts_with("error: Failed to delete snapshots of domain 'test'\nerror: operation forbidden: read only access"), "{}", o.stderr);
}

#[test]
fn seed_start_with_snapshot() {
    let o = session(
        "snapshot-create-as test s1; destroy test; start-with-snapshot test s1; domstate test --reason; \
         destroy test; start-with-snapshot test s1 --paused; domstate test --reason",
    );
    assert_eq!(
        o.stdout,
        "Domain snapshot s1 created\nDomain 'test' destroyed\n\nDomain 'test' started from snapshot s1\n\nrunning (from snapshot)\n\n\
         Domain 'test' destroyed\n\nDomain 'test' started from snapshot s1\n\npaused (from snapshot)\n\n"
    );
    assert_eq!(o.code, 0);
    // a shut-off snapshot still starts the guest (DESIGN §4.2)
    let o = session(
        "destroy test; snapshot-create-as test off; start test; start-with-snapshot test off; domstate test",
    );
    assert!(
        o.stdout
            .ends_with("Domain 'test' started from snapshot off\n\nrunning\n\n"),
        "{}",
        o.stdout
    );
    assert_no_snapshot("start-with-snapshot test nope");
    assert_no_domain("start-with-snapshot nope s1");
    let o = session("start-with-snapshot test");
    assert_eq!(
        o.stderr,
        "error: command 'start-with-snapshot' requires <snapshotname> option\n"
    );
    let o = session("start-with-snapshot test s1 --bogus");
    assert_eq!(
        o.stderr,
        "error: command 'start-with-snapshot' doesn't support option --bogus\n"
    );
}

#[test]
fn seed_create_from_xml_file() {
    let dir = std::env::temp_dir().join(format!("virsnap-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmpdir");
    let f = dir.join("s.xml");
    std::fs::write(
        &f,
        "<domainsnapshot><name>fromfile</name><description>d</description></domainsnapshot>",
    )
    .expect("write");
    let p = f.to_str().expect("utf8");
    let o = session(&format!(
        "snapshot-create test {p}; snapshot-info test fromfile; snapshot-create test --xmlfile={p}"
    ));
    assert!(
        o.stdout.starts_with(&format!(
            "Domain snapshot fromfile created from '{p}'\nName:           fromfile\n"
        )),
        "{}",
        o.stdout
    );
    assert_eq!(
        o.stderr,
        "error: operation failed: domain moment fromfile already exists\n"
    );
    let bad = dir.join("bad.xml");
    std::fs::write(&bad, "<domainsnapshot><name>x</name>").expect("write");
    let o = session(&format!("snapshot-create test {}", bad.display()));
    assert!(o.stderr.starts_with("error: "), "{}", o.stderr);
    assert_eq!(o.code, 1);
    let o = session("snapshot-create test /nonexistent/s.xml");
    assert_eq!(
        o.stderr,
        "error: Failed to open file '/nonexistent/s.xml': No such file or directory\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_domain_everywhere() {
    for c in [
        "dominfo",
        "domstate",
        "domid",
        "domuuid",
        "start",
        "destroy",
        "shutdown",
        "suspend",
        "resume",
        "undefine",
        "dumpxml",
        "snapshot-create",
        "snapshot-create-as",
        "snapshot-current",
        "snapshot-list",
        "snapshot-delete-all",
    ] {
        assert_no_domain(&format!("{c} nope"));
    }
    for c in [
        "snapshot-info",
        "snapshot-parent",
        "snapshot-revert",
        "snapshot-delete",
        "snapshot-edit",
        "snapshot-dumpxml",
    ] {
        assert_no_domain(&format!("{c} nope s1"));
    }
}

#[test]
fn unknown_snapshot_everywhere() {
    for c in [
        "snapshot-info",
        "snapshot-parent",
        "snapshot-dumpxml",
        "snapshot-edit",
        "snapshot-current",
    ] {
        assert_no_snapshot(&format!("{c} test nope"));
    }
    assert_no_snapshot("snapshot-revert test nope");
    assert_no_snapshot("snapshot-list test --from nope");
    let o = session("snapshot-info test --current");
    assert_eq!(
        o.stderr,
        "error: Domain snapshot not found: the domain does not have a current snapshot\n"
    );
}

#[test]
fn conflicting_options() {
    for (line, err) in [
        (
            "snapshot-list test --tree --name",
            "Options --tree and --name are mutually exclusive",
        ),
        (
            "snapshot-list test --roots --from a",
            "Options --roots and --from are mutually exclusive",
        ),
        (
            "snapshot-list test --tree --leaves",
            "--leaves and --tree are mutually exclusive",
        ),
        (
            "snapshot-list test --descendants",
            "--descendants requires either --from or --current",
        ),
        (
            "snapshot-current test --name s1",
            "Options --name and --snapshotname are mutually exclusive",
        ),
        (
            "snapshot-info test s1 --current",
            "--snapshotname and --current are mutually exclusive",
        ),
        (
            "snapshot-edit test s1 --rename --clone",
            "Options --rename and --clone are mutually exclusive",
        ),
        (
            "echo --shell --xml a",
            "Options --shell and --xml are mutually exclusive",
        ),
    ] {
        let o = session(line);
        assert_eq!(o.stderr, format!("error: {err}\n"), "{line}");
        assert_eq!(o.code, 1, "{line}");
    }
    let o = session("snapshot-create-as test s1; snapshot-revert test s1 --running --paused");
    assert_eq!(
        o.stderr,
        "error: Failed to revert snapshot s1\nerror: Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and 'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED' are mutually exclusive\n"
    );
}

#[test]
fn option_grammar() {
    // --name=value, positional, and `--` ending options
    let o = session(
        "snapshot-create-as --domain=test --name=x --description 'a b'; snapshot-create-as test -- --weird; snapshot-list test --name",
    );
    assert_eq!(
        o.stdout,
        "Domain snapshot x created\nDomain snapshot --weird created\n--weird\nx\n\n"
    );
    let o = session("snapshot-list test --name --name");
    assert_eq!(o.stderr, "error: option --name already seen\n");
    let o = session("snapshot-create-as test --name");
    assert_eq!(o.stderr, "error: expected syntax: --name <string>\n");
    let o = session("frobnicate");
    assert_eq!(o.stderr, "error: unknown command: 'frobnicate'\n");
    let o = session("echo \"open");
    assert_eq!(o.stderr, "error: missing \"\n");
    let o = session("echo a\\");
    assert_eq!(o.stderr, "error: dangling \\\n");
    // a parse error anywhere stops the whole batch before anything runs
    let o = session("snapshot-create-as test a; snapshot-info test a extra");
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str(), o.code),
        ("", "error: unexpected data 'extra'\n", 1)
    );
    // comments, empty commands, quoting, escapes
    let o = session("echo a;; # comment ; echo not-run\necho 'x y' \"z\\\"w\" v\\ u");
    assert_eq!(o.stdout, "a\nx y z\"w v u\n");
    // several arguments are one command's tokens (virsh's argv mode)
    let o = run_with(&["-c", "test:///default", "echo", "a;b", "c d"], None, &[]);
    assert_eq!(o.stdout, "a;b c d\n");
    // exit status is the last command's
    assert_eq!(session("dominfo nope; echo ok").code, 0);
    assert_eq!(session("echo ok; dominfo nope").code, 1);
    // --help on a command is `help COMMAND`
    assert_eq!(
        session("snapshot-rename --help").stdout,
        session("help snapshot-rename").stdout
    );
}

#[test]
fn help_layout() {
    let o = session("help snapshot-rename");
    assert_eq!(
        o.stdout,
        "  NAME\n    snapshot-rename - Rename a domain snapshot\n\n  SYNOPSIS\n    snapshot-rename <domain> <snapshotname> <newname>\n\n  \
         DESCRIPTION\n    Give a snapshot a new name\n\n  OPTIONS\n    [--domain] <string>  domain name, id or uuid\n    \
         [--snapshotname] <string>  current name of the snapshot\n    [--newname] <string>  new name of the snapshot\n\n\n"
    );
    let o = session("help snapshot");
    assert!(o.stdout.starts_with(" Snapshot (help keyword 'snapshot'):\n    snapshot-create                Create a snapshot from XML\n"));
    for c in [
        "snapshot-delete-all",
        "snapshot-rename",
        "start-with-snapshot",
    ] {
        assert!(o.stdout.contains(&format!("\n    {c:<30} ")), "{c}");
    }
    let o = session("help");
    assert!(
        o.stdout
            .starts_with("Grouped commands:\n\n Domain Management (help keyword 'domain'):\n")
    );
    let o = session("help nosuch");
    assert_eq!(
        (o.stderr.as_str(), o.code),
        (
            "error: command or command group 'nosuch' doesn't exist\n",
            1
        )
    );
    let o = run_with(&["--help"], None, &[]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("-c | --connect=URI"));
}

#[test]
fn quiet_mode() {
    let o = run_with(
        &[
            "-q",
            "-c",
            "test:///default",
            "snapshot-create-as test a; snapshot-list test; snapshot-current test --name; list",
        ],
        None,
        &[],
    );
    assert!(o.stdout.starts_with(" a   "), "{}", o.stdout);
    assert!(
        o.stdout.ends_with("running\na 1   test   running\n"),
        "{:?}",
        o.stdout
    );
}

#[test]
fn global_options() {
    let o = run_with(&["-x"], None, &[]);
    assert_eq!(
        (o.stderr.as_str(), o.code),
        ("error: unsupported option '-x'. See --help.\n", 1)
    );
    let o = run_with(&["--bogus"], None, &[]);
    assert_eq!(
        o.stderr,
        "error: unsupported option '--bogus'. See --help.\n"
    );
    let o = run_with(&["-c"], None, &[]);
    assert_eq!(
        o.stderr,
        "error: option '-c'/'--connect' requires an argument\n"
    );
    let o = run_with(&["--connect=test:///default", "domid test"], None, &[]);
    assert_eq!(o.stdout, "1\n\n");
    let o = run_with(&["-c", "nosuch:///x", "list"], None, &[]);
    assert_eq!(
        (o.stderr.as_str(), o.code),
        (
            "error: failed to connect to the hypervisor\nerror: no connection driver available for nosuch:///x\n",
            1
        )
    );
    // read-only connections refuse changes
    let o = run_with(
        &["-r", "-c", "test:///default", "snapshot-create-as test a"],
        None,
        &[],
    );
    assert_eq!(
        o.stderr,
        "error: operation forbidden: read only access prevents virDomainSnapshotCreateXML\n"
    );
    let o = run_with(&["-v"], None, &[]);
    assert_eq!(o.stdout, format!("{}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn default_uri_from_environment() {
    let o = run_with(&["domid test"], None, &[]);
    assert_eq!(o.stdout, "1\n\n");
    let o = run_with(
        &["list"],
        None,
        &[
            ("VIRSH_DEFAULT_CONNECT_URI", "nosuch:///a"),
            ("LIBVIRT_DEFAULT_URI", "test:///default"),
        ],
    );
    assert_eq!(
        o.stderr,
        "error: failed to connect to the hypervisor\nerror: no connection driver available for nosuch:///a\n"
    );
    let o = run_with(&["list"], None, &[("LIBVIRT_DEFAULT_URI", "nosuch:///b")]);
    assert_eq!(
        o.stderr,
        "error: failed to connect to the hypervisor\nerror: no connection driver available for nosuch:///b\n"
    );
    // help and echo need no connection
    let o = run_with(
        &["echo hi"],
        None,
        &[("LIBVIRT_DEFAULT_URI", "nosuch:///b")],
    );
    assert_eq!((o.stdout.as_str(), o.code), ("hi\n", 0));
}

#[test]
fn commands_on_stdin() {
    let o = run_with(
        &["-c", "test:///default"],
        Some("snapshot-create-as test a\nsnapshot-list test --name\nquit\necho no\n"),
        &[],
    );
    assert_eq!(
        o.stdout,
        "Welcome to virsnap, the virtualization interactive terminal.\n\nType:  'help' for help with commands\n       'quit' to quit\n\n\
         virsnap # snapshot-create-as test a\nDomain snapshot a created\nvirsnap # snapshot-list test --name\na\n\nvirsnap # quit\n\n"
    );
    assert_eq!(o.code, 0);
    let o = run_with(&["-q", "-c", "test:///default"], Some("domid test\n"), &[]);
    assert_eq!(o.stdout, "virsnap # domid test\n1\nvirsnap # \n");
}

#[test]
fn no_progress_when_not_a_terminal() {
    let o = session("snapshot-create-as test a; snapshot-revert test a; snapshot-delete test a");
    assert_eq!(o.stderr, "");
    assert_eq!(o.code, 0);
}

#[test]
fn checkpoints_and_snapshots_exclude_each_other() {
    let o = session(
        "checkpoint-create-as test c1; snapshot-create-as test s1; snapshot-list test --name",
    );
    assert_eq!(o.stdout, "Domain checkpoint c1 created\n\n\n");
    assert_eq!(
        o.stderr,
        "error: Operation not supported: cannot create snapshot while checkpoint exists\n"
    );
    let o = session("snapshot-create-as test s1; checkpoint-create-as test c1");
    assert_eq!(
        o.stderr,
        "error: Operation not supported: cannot create checkpoint while snapshot exists\n"
    );
}

fn have(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

/// A fresh `virsnap-cli-TAG-PID` folder with a 16M qcow2 disk and the XML of
/// an offline qemu domain `name` on it: (folder, XML file, qemu:///embed URI).
fn qemu_embed(tag: &str, name: &str) -> (PathBuf, PathBuf, String) {
    let root = std::env::temp_dir().join(format!("virsnap-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("root");
    let disk = root.join("d.qcow2");
    let st = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&disk)
        .arg("16M")
        .status()
        .expect("qemu-img");
    assert!(st.success());
    let xml = root.join("dom.xml");
    std::fs::write(
        &xml,
        format!(
            "<domain type='qemu'><name>{name}</name><memory unit='KiB'>65536</memory><vcpu>1</vcpu>\
             <os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>\
             <driver name='qemu' type='qcow2'/><source file='{}'/><target dev='vda' bus='virtio'/>\
             </disk></devices></domain>",
            disk.display()
        ),
    )
    .expect("write xml");
    let uri = format!("qemu:///embed?root={}", root.display());
    (root, xml, uri)
}

/// The same commands a virsh script uses, on the qemu driver (offline
/// domain: qemu-img only, no guest is started).
#[test]
#[cfg_attr(virsnap_no_qemu, ignore = "needs qemu-system-x86_64 and qemu-img")]
fn works_on_qemu_embed() {
    assert!(have("qemu-img"), "qemu-img is required");
    let (root, xml, uri) = qemu_embed("qemu", "q1");
    let run = |line: &str| run_with(&["-c", &uri, line], None, &[]);
    let o = run(&format!("define {}", xml.display()));
    assert_eq!((o.stderr.as_str(), o.code), ("", 0));
    let o = run(
        "snapshot-create-as q1 s1 --description first; snapshot-create-as --domain q1 --name s2; \
         snapshot-list q1 --tree; snapshot-list q1 --name --topological; snapshot-current q1 --name; snapshot-parent q1 s2",
    );
    assert_eq!(
        o.stdout,
        "Domain snapshot s1 created\nDomain snapshot s2 created\ns1\n  |\n  +- s2\n    \n\ns1\ns2\n\ns2\ns1\n"
    );
    assert_eq!((o.stderr.as_str(), o.code), ("", 0));
    let o = run("snapshot-info q1 s1");
    assert!(
        o.stdout.starts_with(
            "Name:           s1\nDomain:         q1\nCurrent:        no\nState:          shutoff\n"
        ),
        "{}",
        o.stdout
    );
    // metadata survives between invocations; seed commands work here too
    let o = run(
        "snapshot-rename q1 s2 s3; snapshot-delete q1 s1 --delete; snapshot-revert q1 s1; snapshot-delete q1 s3 --delete; snapshot-list q1 --name",
    );
    assert!(
        o.stdout.starts_with("Domain snapshot s2 renamed to s3\n\n"),
        "{}",
        o.stdout
    );
    assert!(o.stderr.starts_with("error: Failed to delete snapshot s1\nerror: Requested operation is not valid: snapshot 's1' has children"), "{}", o.stderr);
    assert!(
        o.stdout
            .ends_with("Domain snapshot s1 reverted\n\nDomain snapshot s3 deleted\n\ns1\n\n"),
        "{}",
        o.stdout
    );
    let o = run("snapshot-delete-all q1; snapshot-list q1 --name; snapshot-info q1 nope");
    assert_eq!(o.stdout, "Domain 'q1': 1 snapshots deleted\n\n\n\n");
    assert_eq!(o.stderr, NO_SNAPSHOT);
    let o = run("undefine q1");
    assert_eq!(
        (o.stdout.as_str(), o.code),
        ("Domain 'q1' has been undefined\n\n", 0)
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// Progress of long operations shows on a terminal only (run under
/// `script` for a pseudo-terminal; the qemu driver reports progress).
#[test]
#[cfg_attr(any(virsnap_no_script, virsnap_no_qemu), ignore = "needs script(1) and qemu-img")]
fn progress_only_on_a_terminal() {
    assert!(have("script") && have("qemu-img"), "script(1) and qemu-img are required");
    let (root, xml, uri) = qemu_embed("progress", "p1");
    let o = run_with(
        &[
            "-c",
            &uri,
            &format!("define {}; snapshot-create-as p1 piped", xml.display()),
        ],
        None,
        &[],
    );
    assert_eq!(
        (o.stderr.as_str(), o.code),
        ("", 0),
        "no progress when piped"
    );
    let cmd = format!("{BIN} -c '{uri}' 'snapshot-create-as p1 tty'");
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("snapshot-create: [100 %]"),
        "progress on a terminal: {text:?}"
    );
    assert!(text.contains("Domain snapshot tty created"), "{text:?}");
    let _ = std::fs::remove_dir_all(&root);
}

/// 2 000 snapshots with fan-out in one session, then the plain, `--tree`
/// and `--parent` listings: identical to virsh's.
#[test]
#[cfg_attr(virsnap_no_virsh, ignore = "needs libvirt 9.0 virsh")]
fn large_tree_same_as_real_virsh() {
    let mut cmds = Vec::new();
    let mut x: u64 = 12345;
    for i in 0..2000u64 {
        if i % 7 == 3 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            cmds.push(format!("snapshot-revert test s{}", (x >> 33) % i));
        }
        cmds.push(format!("snapshot-create-as test s{i}"));
    }
    cmds.extend(
        [
            "snapshot-list test",
            "snapshot-list test --tree",
            "snapshot-list test --parent",
            "snapshot-list test --name --topological",
        ]
        .map(String::from),
    );
    let file = std::env::temp_dir().join(format!("virsnap-cli-large-{}.txt", std::process::id()));
    std::fs::write(&file, cmds.join("; ") + "\n").expect("write");
    let (code, text) = script("compare.sh", &[BIN, file.to_str().expect("utf8")]);
    let _ = std::fs::remove_file(&file);
    assert_ne!(code, 77, "virsh is required: {text}");
    assert_eq!(
        code,
        0,
        "virsnap differs from virsh:\n{}",
        text.chars().take(4000).collect::<String>()
    );
}

/// snapshot-edit runs $VISUAL/$EDITOR; its failures are worded as virsh's.
#[test]
fn snapshot_edit_editor_failures() {
    let mask = |s: &str| {
        let mut out = String::new();
        for part in s.split("/tmp/virsnap") {
            if out.is_empty() && !s.starts_with("/tmp/virsnap") {
                out.push_str(part);
                continue;
            }
            out.push_str("TMP");
            out.push_str(part.get(6..).unwrap_or(""));
        }
        out
    };
    let env = |e: &'static str| [("EDITOR", e), ("VISUAL", ""), ("TMPDIR", "/tmp")];
    let line = [
        "-c",
        "test:///default",
        "snapshot-create-as test a; snapshot-edit test a",
    ];
    let o = run_with(&line, None, &env("false"));
    assert_eq!(
        mask(&o.stderr),
        "error: internal error: Child process (false TMP.xml) unexpected exit status 1\nerror: Failed to update a\n"
    );
    let o = run_with(&line, None, &env("sh -c \"exit 3\""));
    assert_eq!(
        mask(&o.stderr),
        "error: internal error: Child process (sh -c 'sh -c \"exit 3\" TMP.xml') unexpected exit status 3\nerror: Failed to update a\n"
    );
    let o = run_with(&line, None, &env("/nonexistent/ed"));
    assert_eq!(
        mask(&o.stderr),
        "libvirt:  error : cannot execute binary /nonexistent/ed: No such file or directory\n\
         error: internal error: Child process (/nonexistent/ed TMP.xml) unexpected exit status 127\nerror: Failed to update a\n"
    );
    let o = run_with(&line, None, &env("true"));
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str(), o.code),
        (
            "Domain snapshot a created\nSnapshot a XML configuration not changed.\n\n",
            "",
            0
        )
    );
}

/// On a terminal, a failed redefine in snapshot-edit offers virsh's
/// "Try again? [y,n,f,?]" (run under script(1); answers come from stdin).
#[test]
#[cfg_attr(virsnap_no_script, ignore = "needs script(1)")]
fn snapshot_edit_reedit_on_a_terminal() {
    assert!(have("script"), "script(1) is required");
    for (answers, expect_desc, expect_fail) in [("?\ny\n", "fixed", false), ("n\n", "d", true)] {
        let state = std::env::temp_dir().join(format!(
            "virsnap-cli-reedit-{}-{}",
            std::process::id(),
            answers.len()
        ));
        let _ = std::fs::remove_file(&state);
        let cmd = format!(
            "{BIN} -c test:///default 'snapshot-create-as test a d; snapshot-edit test a; snapshot-dumpxml test a --xpath //description'"
        );
        let mut child = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env("EDITOR", data_dir().join("reedit-editor.sh"))
            .env_remove("VISUAL")
            .env("REEDIT_STATE", &state)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(answers.as_bytes())
            .expect("answers");
        let out = child.wait_with_output().expect("wait");
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        assert!(text.contains("Failed. Try again? [y,n,f,?]: "), "{text}");
        assert!(
            text.contains(&format!("<description>{expect_desc}</description>")),
            "{text}"
        );
        assert_eq!(
            text.contains("error: Failed to update a"),
            expect_fail,
            "{text}"
        );
        assert_eq!(text.contains("Snapshot a edited."), !expect_fail, "{text}");
        let _ = std::fs::remove_file(&state);
    }
}

/// `snapshot-usage`: the table with `-` and the note where the driver
/// cannot know (the test driver has no disks), `--json` with nulls, one
/// snapshot by name, and the errors.
#[test]
fn snapshot_usage_table_and_json_on_the_test_driver() {
    let o = session("snapshot-create-as test 'a\"b'; snapshot-create-as test c; snapshot-usage test; snapshot-usage test --json; snapshot-usage test c --json");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let null_row = |n: &str| {
        format!("{{\"name\": {n}, \"reclaimableBytes\": null, \"vmStateBytes\": null, \"exclusiveBytes\": null, \"sharedBytes\": null, \"overlayBytes\": null}}")
    };
    let expected = [
        "Domain snapshot a\"b created",
        "Domain snapshot c created",
        " Name   Reclaimable   VM state   Exclusive   Shared   Overlay",
        "---------------------------------------------------------------",
        " a\"b    -             -          -           -        -",
        " c      -             -          -           -        -",
        "",
        "-: not known to the Test driver (never estimated)",
        "",
        "[",
        &format!("  {},", null_row("\"a\\\"b\"")),
        &format!("  {}", null_row("\"c\"")),
        "]",
        "",
        "[",
        &format!("  {}", null_row("\"c\"")),
        "]",
        "",
        "",
    ]
    .join("\n");
    assert_eq!(o.stdout, expected);
    assert_no_snapshot("snapshot-usage test nope");
    assert_no_domain("snapshot-usage nope");
    let o = session("snapshot-usage test --json");
    assert_eq!((o.stdout.as_str(), o.code), ("[]\n\n", 0));
}

/// `snapshot-usage --json` on a real qcow2: 8 MiB written after the first
/// snapshot makes each of two snapshots hold 8 MiB of its own.
#[test]
#[cfg_attr(any(virsnap_no_qemu, virsnap_no_qemu_io), ignore = "needs qemu-img and qemu-io")]
fn snapshot_usage_json_on_qemu() {
    let dir = std::env::temp_dir().join(format!("vsc-usage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("u.qcow2");
    let ok = |c: &mut Command| assert!(c.status().unwrap().success());
    ok(Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&img).arg("32M"));
    let write = |p: u8| ok(Command::new("qemu-io").args(["-f", "qcow2", "-c", &format!("write -P {p} 0 8M")]).arg(&img).stdout(Stdio::null()));
    let xml = dir.join("u.xml");
    std::fs::write(&xml, format!(
        "<domain type='qemu'><name>u</name><memory unit='MiB'>32</memory><os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{}'/>\
         <target dev='vda' bus='virtio'/></disk></devices></domain>", img.display())).unwrap();
    let uri = format!("qemu:///embed?root={}", dir.join("root").display());
    let v = |line: &str| run_with(&["-c", &uri, line], None, &[]);
    assert_eq!(v(&format!("define {}", xml.display())).code, 0);
    write(1);
    assert_eq!(v("snapshot-create-as u one").code, 0);
    write(2);
    assert_eq!(v("snapshot-create-as u two").code, 0);
    write(3);
    let o = v("snapshot-usage u --json");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows: Vec<&str> = o.stdout.lines().filter(|l| l.contains("\"name\"")).collect();
    assert_eq!(rows.len(), 2, "{}", o.stdout);
    for (row, name) in rows.iter().zip(["one", "two"]) {
        assert!(row.contains(&format!("\"name\": \"{name}\"")), "{row}");
        let key = "\"reclaimableBytes\": ";
        let at = row.find(key).unwrap() + key.len();
        let n: u64 = row[at..].split(',').next().unwrap().parse().unwrap();
        assert!((8 << 20..=(8 << 20) + 4 * 65536).contains(&n), "{row}");
        assert!(row.contains("\"vmStateBytes\": 0,") && row.contains("\"overlayBytes\": null"), "{row}");
    }
    let o = v("snapshot-usage u");
    assert!(o.stdout.contains(" one ") && o.stdout.contains("8.12 MiB") && !o.stdout.contains("not known"), "{}", o.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

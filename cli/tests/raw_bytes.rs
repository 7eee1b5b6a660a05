//! Arguments, input lines and files that are not valid UTF-8 (issue 15
//! item 11): virsnap handles them as virsh 9.0 does, byte for byte: names
//! are looked up and not found (the message quoting the bytes), `echo`
//! prints them back, XML holding them is refused with libxml2's error
//! through libvirt's context line, exit status 1. The old CLI panicked
//! (status 101) on any such argument and read such files as U+FFFD.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_virsnap");

/// A scratch folder with the XML files the cases name.
fn workdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("virsnap-cli-bytes-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("workdir");
    let files: [(&[u8], &[u8]); 7] = [
        (b"bad.xml", b"<domainsnapshot><name>a\xffb</name></domainsnapshot>"),
        (b"sur.xml", b"<domainsnapshot><name>a\xed\xa0\x80b</name></domainsnapshot>"),
        (b"comment.xml", b"<domainsnapshot><name>ab</name><!-- \xff --></domainsnapshot>"),
        (b"overlong.xml", b"<domainsnapshot>\n\t<name>a\xc0\x80</name></domainsnapshot>"),
        (
            b"latin.xml",
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><domainsnapshot><name>a\xe9</name></domainsnapshot>",
        ),
        (b"f\xff.xml", b"<domainsnapshot><name>x</name></domainsnapshot>"),
        (b"end.xml", b"<domainsnapshot><name>x</name></domainsnapshot>\xff"),
    ];
    for (name, text) in files {
        std::fs::write(d.join(OsStr::from_bytes(name)), text).expect("write");
    }
    d
}

fn run(prog: &str, dir: &PathBuf, args: &[&[u8]], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut c = Command::new(prog);
    c.current_dir(dir)
        .args(args.iter().map(|a| OsStr::from_bytes(a)))
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env_remove("LIBVIRT_DEFAULT_URI")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    let mut i = child.stdin.take().expect("stdin");
    i.write_all(stdin.unwrap_or_default()).expect("stdin");
    drop(i);
    child.wait_with_output().expect("wait")
}

/// Command strings (one argument, or split in argv) with invalid bytes.
const CASES: &[&[&[u8]]] = &[
    &[b"echo", b"a\xff"],
    &[b"echo a\xff b\xc3("],
    &[b"echo --xml a\xff<"],
    &[b"echo --shell a\xff"],
    &[b"echo --shell \xc3\xa9 a%b a^b ''"],
    &[b"\xffx"],
    &[b"echo --\xff"],
    &[b"snapshot-info", b"test", b"a\xff"],
    &[b"snapshot-info test a\xff"],
    &[b"snapshot-info", b"t\xff", b"x"],
    &[b"snapshot-list test --from \xff"],
    &[b"snapshot-dumpxml \xff a"],
    &[b"snapshot-create-as test --name ok --description d\xff"],
    &[b"snapshot-create-as test \xff"],
    &[b"snapshot-create-as test a --description \xff\xc3\xa9"],
    &[b"snapshot-create-as test a --memspec file=/x\xff"],
    &[b"snapshot-create test --xmlfile bad.xml"],
    &[b"snapshot-create test --xmlfile sur.xml"],
    &[b"snapshot-create test --xmlfile comment.xml"],
    &[b"snapshot-create test --xmlfile overlong.xml"],
    &[b"snapshot-create test --xmlfile latin.xml"],
    &[b"snapshot-create test --xmlfile end.xml"],
    &[b"snapshot-create test --xmlfile f\xff.xml; snapshot-list test --name"],
    &[b"snapshot-create test --xmlfile /nonexistent/\xff.xml"],
    &[b"define bad.xml"],
    &[b"checkpoint-create-as test c\xff"],
    &[b"checkpoint-create-as test c --description \xff"],
];

#[test]
fn non_utf8_arguments_never_panic() {
    let dir = workdir("own");
    for case in CASES {
        let args = [&[b"-c".as_slice(), b"test:///default"], *case].concat();
        let o = run(BIN, &dir, &args, None);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{case:?}: status {:?}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // echo gives the bytes back; a file of invalid UTF-8 is refused
    let o = run(BIN, &dir, &[b"echo", b"a\xff"], None);
    assert_eq!(o.stdout, b"a\xff\n");
    let o = run(
        BIN,
        &dir,
        &[b"-c", b"test:///default", b"snapshot-create test --xmlfile bad.xml"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        o.stderr.starts_with(b"error: (domain_snapshot):1: Input is not proper UTF-8"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stderr.windows(4).any(|w| w == b"a\xffb<"), "raw bytes in the context line");
    let _ = std::fs::remove_dir_all(dir);
}

/// Every case, and the same lines read on stdin, give virsh's exact bytes
/// on stdout and stderr and its exit status.
#[test]
#[cfg_attr(virsnap_no_virsh, ignore = "needs libvirt 9.0 virsh")]
fn non_utf8_input_same_as_real_virsh() {
    let dir = workdir("virsh");
    let mut diffs = Vec::new();
    let mut stdin_script: Vec<u8> = Vec::new();
    for case in CASES {
        let args = [&[b"-c".as_slice(), b"test:///default"], *case].concat();
        let v = run("virsh", &dir, &args, None);
        let s = run(BIN, &dir, &args, None);
        let got = (s.stdout, s.stderr, s.status.code());
        let want = (v.stdout, v.stderr, v.status.code());
        if got != want {
            diffs.push(format!(
                "{:?}\n  virsh:   {:?}\n  virsnap: {:?}",
                case.iter().map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>(),
                (String::from_utf8_lossy(&want.0), String::from_utf8_lossy(&want.1), want.2),
                (String::from_utf8_lossy(&got.0), String::from_utf8_lossy(&got.1), got.2),
            ));
        }
        // On a pipe virsh reads lines through readline, which drops the
        // lead byte of an incomplete multibyte sequence (and carries it to
        // the next line): only lone 0xFF bytes are compared there.
        let only_ff = case
            .iter()
            .all(|a| a.utf8_chunks().all(|c| c.invalid().iter().all(|&b| b == 0xFF)));
        if case.len() == 1 && only_ff {
            stdin_script.extend_from_slice(case[0]);
            stdin_script.push(b'\n');
        }
    }
    // interactive mode on a pipe: the prompt differs by name only
    let v = run("virsh", &dir, &[b"-q", b"-c", b"test:///default"], Some(&stdin_script));
    let s = run(BIN, &dir, &[b"-q", b"-c", b"test:///default"], Some(&stdin_script));
    let prompt = |b: Vec<u8>| -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = b.as_slice();
        while let Some(p) = rest.windows(8).position(|w| w == b"virsh # ") {
            out.extend_from_slice(&rest[..p]);
            out.extend_from_slice(b"virsnap # ");
            rest = &rest[p + 8..];
        }
        out.extend_from_slice(rest);
        out
    };
    if (prompt(v.stdout.clone()), &v.stderr) != (s.stdout.clone(), &s.stderr) {
        diffs.push(format!(
            "stdin session\n  virsh:   {:?} {:?}\n  virsnap: {:?} {:?}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr),
            String::from_utf8_lossy(&s.stdout),
            String::from_utf8_lossy(&s.stderr)
        ));
    }
    let _ = std::fs::remove_dir_all(dir);
    assert!(diffs.is_empty(), "{} differ from virsh:\n{}", diffs.len(), diffs.join("\n"));
}

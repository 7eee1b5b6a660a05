//! Scale and edge cases of the `virsnap` binary (issue 15 items 9 and 11):
//! `snapshot-list --tree` streams in bounded memory at any depth and prints
//! what virsh prints; non-UTF-8 arguments are handled as virsh does.
//!
//! Memory is judged by the child's peak RSS (`wait4`) relative to a
//! baseline run, never by time, so a loaded machine cannot make these flake.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_virsnap");

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// `snapshot-create-as` lines for a chain `s0 <- s1 <- … <- s{n-1}`.
fn chain(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!("snapshot-create-as test s{i}\n"));
    }
    s
}

/// Waits for `pid` with `wait4`: (exit code or `None` on a signal, peak RSS
/// in KiB).
fn wait_rusage(pid: u32) -> (Option<i32>, i64) {
    let mut status = 0;
    // SAFETY: rusage is plain old data, all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own unreaped child (std never waited for it);
    // status and ru are valid for writes.
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut ru) };
    assert_eq!(r, pid as libc::pid_t, "wait4");
    let code = if libc::WIFEXITED(status) {
        Some(libc::WEXITSTATUS(status))
    } else {
        None
    };
    (code, ru.ru_maxrss)
}

/// Runs `virsnap -q -c test:///default` with `input` on stdin; stdout is
/// counted, not kept. (exit code, stdout bytes, peak RSS KiB).
#[allow(clippy::zombie_processes)] // reaped by wait_rusage
fn run_counting(input: String) -> (Option<i32>, u64, i64) {
    let mut child = Command::new(BIN)
        .args(["-q", "-c", "test:///default"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn virsnap");
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || {
        stdin.write_all(input.as_bytes()).expect("write stdin");
    });
    let n = std::io::copy(
        &mut child.stdout.take().expect("stdout"),
        &mut std::io::sink(),
    )
    .expect("read stdout");
    feeder.join().expect("feeder");
    let (code, rss) = wait_rusage(child.id());
    (code, n, rss)
}

/// A 8 000-deep chain prints a 256 MB tree; virsnap streams it, so its peak
/// RSS stays near that of `--name` on the same chain (the old code built the
/// whole text in memory: +250 MB).
#[test]
fn tree_of_a_deep_chain_streams_in_bounded_memory() {
    let n = 8000;
    let (code, name_bytes, name_rss) =
        run_counting(chain(n) + "snapshot-list test --name\n");
    assert_eq!(code, Some(0));
    let (code, tree_bytes, tree_rss) =
        run_counting(chain(n) + "snapshot-list test --tree\n");
    assert_eq!(code, Some(0));
    // line d has ~4d bytes, twice (the name and the "|" line)
    assert!(
        tree_bytes > 200_000_000,
        "tree output {tree_bytes} bytes (names: {name_bytes})"
    );
    assert!(
        tree_rss < name_rss + 64 * 1024,
        "--tree peak RSS {tree_rss} KiB vs --name {name_rss} KiB: output is buffered"
    );
}

/// A 100 000-deep chain (its tree is ~40 GB of text) starts printing at
/// once under a 1 GiB address-space limit and stops with virsh's status 141
/// when the reader goes away; the old code recursed and buffered until it
/// aborted.
#[test]
#[allow(clippy::zombie_processes)] // reaped by wait_rusage
fn tree_of_a_100k_deep_chain_streams() {
    let n = 100_000;
    let mut cmd = Command::new(BIN);
    cmd.args(["-q", "-c", "test:///default"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: the closure runs in the forked child before exec and only
    // calls setrlimit, which is async-signal-safe.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 1 << 30,
                rlim_max: 1 << 30,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn virsnap");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = chain(n) + "snapshot-list test --tree\n";
    let feeder = std::thread::spawn(move || {
        stdin.write_all(input.as_bytes()).expect("write stdin");
    });
    let mut stdout = child.stdout.take().expect("stdout");
    // skip the echoed commands up to the tree
    let marker = b"snapshot-list test --tree\n";
    let mut seen: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let at = loop {
        let k = stdout.read(&mut buf).expect("read");
        assert!(k > 0, "virsnap ended before the tree");
        let from = seen.len().saturating_sub(marker.len());
        seen.extend_from_slice(&buf[..k]);
        if let Some(p) = seen[from..].windows(marker.len()).position(|w| w == marker) {
            break from + p + marker.len();
        }
        // keep only a tail long enough to hold a split marker
        if seen.len() > 1 << 20 {
            seen.drain(..seen.len() - marker.len());
        }
    };
    let mut tree = seen.split_off(at);
    let want: u64 = 64 << 20;
    (&mut stdout)
        .take(want)
        .read_to_end(&mut tree)
        .expect("read tree");
    assert!(tree.len() as u64 >= want, "only {} bytes of tree", tree.len());
    assert!(
        tree.starts_with(b"s0\n  |\n  +- s1\n      |\n      +- s2\n          |\n          +- s3\n"),
        "{:?}",
        String::from_utf8_lossy(&tree[..200])
    );
    drop(stdout);
    feeder.join().expect("feeder");
    let (code, _) = wait_rusage(child.id());
    assert_eq!(code, Some(141), "virsnap must end as virsh does on EPIPE");
}

/// Deep chains with branches, printed with `--tree` (all, `--from`,
/// `--current --descendants`): byte-identical to virsh's.
#[test]
#[cfg_attr(virsnap_no_virsh, ignore = "needs libvirt 9.0 virsh")]
fn deep_tree_same_as_real_virsh() {
    let mut cmds = Vec::new();
    for i in 0..1500u32 {
        // branch off an older node now and then: long chains with side arms
        if i % 97 == 50 {
            cmds.push(format!("snapshot-revert test s{}", i / 3));
        }
        cmds.push(format!("snapshot-create-as test s{i}"));
    }
    cmds.extend(
        [
            "snapshot-list test --tree",
            "snapshot-list test --tree --from s300",
            "snapshot-list test --tree --from s16 --descendants",
            "snapshot-list test --tree --current",
            "snapshot-list test --tree --topological",
        ]
        .map(String::from),
    );
    let file = std::env::temp_dir().join(format!("virsnap-cli-deep-{}.txt", std::process::id()));
    std::fs::write(&file, cmds.join("; ") + "\n").expect("write");
    let o = Command::new("bash")
        .arg(data_dir().join("compare.sh"))
        .arg(BIN)
        .arg(&file)
        .output()
        .expect("compare.sh");
    let _ = std::fs::remove_file(&file);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "virsnap differs from virsh:\n{}",
        text.chars().take(4000).collect::<String>()
    );
}

//! The interactive shell as people use virsh's (issue 17 item 7): on a
//! terminal (a pseudo-terminal from script(1)) Tab completes commands,
//! options, domain and snapshot names, and history survives the session;
//! `virsnap complete` gives the same candidates to bash; the bash
//! completion script drives it.
//!
//! The terminal is driven step by step: each input is sent only after the
//! output it waits for has appeared (no sleeps; a generous deadline only
//! against a hang).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_virsnap");
const DEADLINE: Duration = Duration::from_secs(120);
const PROMPT: &str = "virsnap # ";

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("virsnap-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch");
    d
}

/// `virsnap ARGS` on a pseudo-terminal.
struct Term {
    child: Child,
    input: ChildStdin,
    output: Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Term {
    fn start(args: &str, cache: &Path) -> Term {
        let mut child = Command::new("script")
            .args(["-qec", &format!("{BIN} {args}"), "/dev/null"])
            .env("XDG_CACHE_HOME", cache)
            .env("TERM", "xterm")
            .env_remove("VIRSH_DEFAULT_CONNECT_URI")
            .env_remove("LIBVIRT_DEFAULT_URI")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script");
        let input = child.stdin.take().expect("stdin");
        let mut out = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Term { child, input, output: rx, seen: Vec::new() }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Waits until `what` has appeared `count` times in the output.
    fn wait_for(&mut self, what: &str, count: usize) {
        let end = Instant::now() + DEADLINE;
        while self.text().matches(what).count() < count {
            let left = end.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(b) => self.seen.extend_from_slice(&b),
                Err(_) => panic!("no {what:?} (x{count}) in:\n{}", self.text()),
            }
        }
    }

    /// Waits for `what` (its `count`-th time), then for a prompt after it.
    fn wait_prompt_after(&mut self, what: &str, count: usize) {
        self.wait_for(what, count);
        let text = self.text();
        let at = text.match_indices(what).nth(count - 1).map_or(0, |(i, _)| i);
        let before = text[..at].matches(PROMPT).count();
        self.wait_for(PROMPT, before + 1);
    }

    fn send(&mut self, s: &str) {
        self.input.write_all(s.as_bytes()).expect("type");
        self.input.flush().expect("flush");
    }

    fn finish(mut self) -> String {
        self.send("quit\r");
        let end = Instant::now() + DEADLINE;
        while let Ok(b) = self.output.recv_timeout(end.saturating_duration_since(Instant::now())) {
            self.seen.extend_from_slice(&b);
        }
        let _ = self.child.wait();
        self.text()
    }
}

#[test]
#[cfg_attr(virsnap_no_script, ignore = "needs script(1)")]
fn tab_completion_and_history_on_a_terminal() {
    let cache = scratch("histhome");
    let mut t = Term::start("-c test:///default", &cache);
    t.wait_for(PROMPT, 1);
    t.send("snapshot-create-as test first\r");
    t.wait_prompt_after("Domain snapshot first created", 1);
    // command, domain and option names complete to the unique candidate
    t.send("snapshot-lis\t");
    t.wait_for("snapshot-list ", 1);
    t.send("te\t");
    t.wait_for("snapshot-list test ", 1);
    t.send("--tr\t");
    t.wait_for("snapshot-list test --tree ", 1);
    t.send("\r");
    t.wait_prompt_after("first\r\n\r\n", 1);
    // snapshot names of the domain given
    t.send("snapshot-info test fi\t");
    t.wait_for("snapshot-info test first ", 1);
    t.send("\r");
    t.wait_prompt_after("Current:        yes", 1);
    let marker = format!("kept-{}", std::process::id());
    t.send(&format!("echo {marker}\r"));
    t.wait_prompt_after(&format!("{marker}\r\n"), 1);
    let text = t.finish();
    assert!(text.contains("first\r\n\r\n"), "--tree ran:\n{text}");
    let hist = std::fs::read_to_string(cache.join("virsnap/history")).expect("history file");
    assert!(hist.contains("snapshot-list test --tree"), "{hist}");
    assert!(hist.contains(&format!("echo {marker}")), "{hist}");

    // a new session recalls earlier lines with the up arrow (the last one
    // is the `quit` that ended the first session)
    let mut t = Term::start("-c test:///default", &cache);
    t.wait_for(PROMPT, 1);
    t.send("\x1b[A");
    t.wait_for("virsnap # quit", 1);
    t.send("\x1b[A");
    t.wait_for(&format!("echo {marker}"), 1);
    t.send("\r");
    t.wait_prompt_after(&format!("{marker}\r\n"), 1);
    let text = t.finish();
    assert!(text.matches(&marker).count() >= 2, "{text}");
    let _ = std::fs::remove_dir_all(cache);
}

fn complete(args: &[&str]) -> String {
    let o = Command::new(BIN)
        .args(args)
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env_remove("LIBVIRT_DEFAULT_URI")
        .output()
        .expect("virsnap complete");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("utf8")
}

/// `virsnap complete -- WORDS…` (what bash runs): one candidate a line,
/// then the newline every command ends with.
#[test]
fn complete_command_for_bash() {
    let c = |words: &[&str]| {
        let mut a = vec!["-c", "test:///default", "complete", "--"];
        a.extend_from_slice(words);
        complete(&a)
    };
    assert_eq!(c(&["snapshot-l"]), "snapshot-list\n\n");
    assert_eq!(c(&["snapshot-list", "test", "--t"]), "--tree\n--topological\n\n");
    assert_eq!(c(&["snapshot-list", ""]).lines().next(), Some("test"));
    assert_eq!(c(&["snapshot-info", "--domain", "t"]), "test\n\n");
    assert_eq!(c(&["help", "snapshot-cu"]), "snapshot-current\n\n");
    assert_eq!(c(&["nosuch", ""]), "\n");
    // one string holding a whole line is split as a command line
    assert_eq!(complete(&["complete", "snapshot-list test --tr"]), "--tree\n\n");
    // snapshot names need the domain's snapshots: one session
    let o = complete(&[
        "-c",
        "test:///default",
        "snapshot-create-as test a1; snapshot-create-as test a2; snapshot-create-as test b; \
         complete -- snapshot-revert test a",
    ]);
    assert!(o.ends_with("a1\na2\n\n"), "{o}");
    // hidden from help, documented by help complete
    assert!(!complete(&["help"]).contains("complete"));
    assert!(complete(&["help", "complete"]).contains("internal command for autocompletion"));
}

/// cli/completion/virsnap.bash, sourced by bash with bash-completion's
/// helpers, completes through `virsnap complete`.
#[test]
#[cfg_attr(virsnap_no_bash_completion, ignore = "needs bash-completion")]
fn bash_completion_script() {
    let helpers = Path::new("/usr/share/bash-completion/bash_completion");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completion/virsnap.bash");
    let bin_dir = Path::new(BIN).parent().expect("bin dir");
    let probe = format!(
        "source {helpers}; source {script}; \
         COMP_WORDS=(virsnap -c test:///default snapshot-list test --tr); COMP_CWORD=5; \
         COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
         _virsnap_complete virsnap; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        helpers = helpers.display(),
        script = script.display()
    );
    let o = Command::new("bash")
        .args(["-c", &probe])
        .env("PATH", format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default()))
        .output()
        .expect("bash");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out, "--tree\n", "stderr: {}", String::from_utf8_lossy(&o.stderr));
}

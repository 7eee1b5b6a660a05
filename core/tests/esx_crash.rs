//! Crash-safety sweep of the ESX prune on vcsim: a prune of three
//! snapshots (`a(b(c(d*)))`, keep 0: all but the current `d`) first runs
//! once in a child process (this test binary re-run on `child_entry`) with
//! `VIRSNAP_CRASH_TRACE` to learn the crash points it passes; then, for
//! each point, a child runs the prune with `VIRSNAP_CRASH_AT` and dies there
//! as `kill -9` would, a second child opens the connection (which finishes
//! the prune from its journal), and the server's tree, read by an
//! independent SOAP client, must be the state before or after the prune,
//! with no journal left. A planted or edited journal must delete nothing.
//!
//! Ignored (cargo counts it, with the reason) unless build.rs found vcsim.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod esx_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use esx_support::{auth, Raw, Vcsim, VM0};
use virsnap_core::Connection;

const BEFORE: &str = "a(b(c(d*)))";
const AFTER: &str = "d*";

/// Child mode: `ESC_OP` against `ESC_URI`; a no-op in normal runs.
#[test]
fn child_entry() {
    let Ok(op) = std::env::var("ESC_OP") else { return };
    let conn = Connection::open_auth(Some(&std::env::var("ESC_URI").unwrap()), Some(auth("pass")), 0).unwrap();
    match op.as_str() {
        "open" => {}
        "prune" => {
            let dom = conn.lookup_by_name(VM0.0).unwrap();
            let rule = virsnap_core::health::PruneRule { keep: Some(0), older_than: None };
            assert_eq!(dom.snapshot_prune(&rule, 0).unwrap(), ["a", "b", "c"]);
        }
        // vCenter: the first VM (by name) of the URI's host.
        "vpx-setup" | "vpx-prune" | "vpx-state" => {
            let mut doms = conn.list_all_domains(0).unwrap();
            doms.sort_by(|a, b| a.name().cmp(b.name()));
            let dom = &doms[0];
            match op.as_str() {
                "vpx-setup" => {
                    for n in ["a", "b", "c", "d"] {
                        dom.snapshot_create_xml(&format!("<domainsnapshot><name>{n}</name></domainsnapshot>"), 0).unwrap();
                    }
                }
                "vpx-prune" => {
                    let rule = virsnap_core::health::PruneRule { keep: Some(0), older_than: None };
                    assert_eq!(dom.snapshot_prune(&rule, 0).unwrap(), ["a", "b", "c"]);
                }
                _ => {
                    let cur = dom.snapshot_current(0).map(|c| c.name().to_string()).unwrap_or_default();
                    let text = format!("{} current {cur}", dom.snapshot_list_names(0).unwrap().join(","));
                    std::fs::write(std::env::var("ESC_OUT").unwrap(), text).unwrap();
                }
            }
        }
        other => panic!("unknown op {other}"),
    }
}

/// Runs `child_entry` with `op`; true when it exited successfully.
fn child(uri: &str, state: &Path, op: &str, env: &[(&str, String)]) -> bool {
    child_out(uri, state, op, env).0
}

/// [`child`], also returning its stderr.
fn child_out(uri: &str, state: &Path, op: &str, env: &[(&str, String)]) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env_remove("VIRSNAP_CRASH_AT")
        .env_remove("VIRSNAP_CRASH_TRACE")
        .env("ESC_OP", op)
        .env("ESC_URI", uri)
        .env("VIRSNAP_ESX_STATE_DIR", state)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!("child {op} {env:?}: {}", String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains("panicked") || l.contains("virsnap")).collect::<Vec<_>>().join(" | "));
    }
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Waits (bounded, far above need) until the server shows `want`.
fn settle(raw: &Raw, want: &str) {
    let end = Instant::now() + Duration::from_secs(120);
    while raw.render(VM0.1) != want {
        assert!(Instant::now() < end, "vcsim never showed {want}: {}", raw.render(VM0.1));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// VM0 with the chain `a(b(c(d*)))`.
fn reset(raw: &Raw) {
    if !raw.render(VM0.1).is_empty() {
        raw.call("RemoveAllSnapshots_Task", &format!("<_this type=\"VirtualMachine\">{}</_this>", VM0.1)).unwrap();
        settle(raw, "");
    }
    let mut want = String::new();
    for (i, n) in ["a", "b", "c", "d"].into_iter().enumerate() {
        raw.create_snapshot(VM0.1, n);
        let mut s = String::new();
        for (j, m) in ["a", "b", "c", "d"].into_iter().take(i + 1).enumerate() {
            s.push_str(m);
            if j < i {
                s.push('(');
            }
        }
        s.push('*');
        s.push_str(&")".repeat(i));
        want = s;
        settle(raw, &want);
    }
    assert_eq!(want, BEFORE);
}

fn journals(state: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(state) else { return Vec::new() };
    rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "prune")).collect()
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("virsnap-esx-crash-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
#[cfg_attr(virsnap_no_vcsim, ignore = "needs vcsim (tests/vcsim/build.sh)")]
fn crash_sweep_prune() {
    let Some(v) = Vcsim::start("crash-prune") else { return };
    let uri = v.uri();
    let raw = Raw::login(&v.addr);
    let state = scratch("sweep");
    let trace = state.join("trace");
    reset(&raw);
    assert!(child(&uri, &state, "prune", &[("VIRSNAP_CRASH_TRACE", trace.display().to_string())]), "prune failed");
    assert_eq!(raw.render(VM0.1), AFTER);
    assert!(journals(&state).is_empty());
    let mut seen = std::collections::HashMap::<String, u32>::new();
    let points: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|p| {
            let n = seen.entry(p.to_owned()).or_default();
            *n += 1;
            format!("{p}#{n}")
        })
        .collect();
    assert!(points.iter().any(|p| p == "esx-prune-intent#1"), "{points:?}");
    assert_eq!(points.iter().filter(|p| p.starts_with("esx-prune-delete#")).count(), 3, "{points:?}");
    for point in &points {
        reset(&raw);
        let died = !child(&uri, &state, "prune", &[("VIRSNAP_CRASH_AT", point.clone())]);
        assert!(died, "the prune did not die at {point}");
        assert!(child(&uri, &state, "open", &[]), "open after a crash at {point} failed");
        let now = raw.render(VM0.1);
        assert!(now == BEFORE || now == AFTER, "crash at {point} left {now}");
        assert!(journals(&state).is_empty(), "crash at {point} left {:?}", journals(&state));
        println!("{point}: {now}");
    }
    println!("esx prune: {} crash points swept", points.len());
    let _ = std::fs::remove_dir_all(&state);
}

/// A journal that does not verify (edited, or planted by someone else) is
/// refused and kept: the next open deletes nothing.
#[test]
#[cfg_attr(virsnap_no_vcsim, ignore = "needs vcsim (tests/vcsim/build.sh)")]
fn tampered_journal_deletes_nothing() {
    let Some(v) = Vcsim::start("crash-tamper") else { return };
    let uri = v.uri();
    let raw = Raw::login(&v.addr);
    let state = scratch("tamper");
    reset(&raw);
    // A real journal, left by a prune killed before its first deletion.
    assert!(!child(&uri, &state, "prune", &[("VIRSNAP_CRASH_AT", "esx-prune-intent".into())]));
    let j = journals(&state);
    assert_eq!(j.len(), 1, "{j:?}");
    let text = std::fs::read_to_string(&j[0]).unwrap();
    let a = raw.find(VM0.1, "a").unwrap().moref;
    let d = raw.find(VM0.1, "d").unwrap().moref;
    assert!(text.contains(&a), "{text}");
    // Edited to name the current snapshot instead of `a`: the MAC no longer verifies.
    std::fs::write(&j[0], text.replace(&a, &d)).unwrap();
    let (ok, err) = child_out(&uri, &state, "open", &[]);
    assert!(ok && err.contains("signature does not verify"), "{err}");
    assert_eq!(raw.render(VM0.1), BEFORE);
    assert_eq!(journals(&state), j, "the refused journal must be kept");
    // Planted for this server with a made-up MAC: refused and kept too.
    std::fs::remove_file(&j[0]).unwrap();
    let planted = state.join(format!("{}.1-0.prune", VM0.2));
    std::fs::write(&planted, format!("server http://{}/sdk\npid 1\ndelete {a}\nmac {}\n", v.addr, "00".repeat(32))).unwrap();
    let (ok, err) = child_out(&uri, &state, "open", &[]);
    assert!(ok && err.contains("signature does not verify"), "{err}");
    assert_eq!(raw.render(VM0.1), BEFORE);
    assert_eq!(journals(&state), [planted]);
    let _ = std::fs::remove_dir_all(&state);
}

/// On vCenter the journal is bound to the host of the URI too: an open of
/// another host's path (whose domains do not include the VM) leaves it, the
/// open of the prune's own host finishes it.
#[test]
#[cfg_attr(virsnap_no_vcsim, ignore = "needs vcsim (tests/vcsim/build.sh)")]
fn vpx_prune_is_finished_by_the_next_open_of_its_host() {
    const MODEL: &[&str] = &["-model", "vpx", "-dc", "2", "-cluster", "2", "-host", "2", "-folder", "1"];
    let Some(v) = Vcsim::start_with("crash-vpx", MODEL) else { return };
    let vpx = |path: &str| format!("vpx://root@{}{path}?transport=http&timeout=120", v.addr);
    let (own, other) = (vpx("/DC0/DC0_H0"), vpx("/DC0/DC0_C1/DC0_C1_H2"));
    let state = scratch("vpx");
    let empty = scratch("vpx-empty");
    let out = state.join("out");
    // Read without recovering: an empty journal directory.
    let read = || {
        assert!(child(&own, &empty, "vpx-state", &[("ESC_OUT", out.display().to_string())]));
        std::fs::read_to_string(&out).unwrap()
    };
    assert!(child(&own, &state, "vpx-setup", &[]));
    assert_eq!(read(), "a,b,c,d current d");
    assert!(!child(&own, &state, "vpx-prune", &[("VIRSNAP_CRASH_AT", "esx-prune-delete#1".into())]));
    assert_eq!(read(), "b,c,d current d", "the kill left the prune part-way");
    assert_eq!(journals(&state).len(), 1);
    assert!(child(&other, &state, "open", &[]));
    assert_eq!(journals(&state).len(), 1, "another host's open must leave the journal");
    assert_eq!(read(), "b,c,d current d");
    assert!(child(&own, &state, "open", &[]));
    assert!(journals(&state).is_empty());
    assert_eq!(read(), "d current d");
    let _ = std::fs::remove_dir_all(&state);
    let _ = std::fs::remove_dir_all(&empty);
}

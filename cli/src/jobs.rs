//! `domjobinfo`, `domjobabort`, and the watch over a long snapshot
//! operation: Ctrl-C aborts its job (`virDomainAbortJob`), `--verbose`
//! draws a progress bar with the time remaining on a terminal.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use virsnap_core::job::{operation, stats_flags, JobType, ParamValue};
use virsnap_core::{Domain, Result};

use crate::domain::{lookup, lv, BYANY};
use crate::parse::Cmd;
use crate::Ctl;

/// `virshDomainJobToString`.
fn job_type_name(t: JobType) -> &'static str {
    match t {
        JobType::None => "None",
        JobType::Bounded => "Bounded",
        JobType::Unbounded => "Unbounded",
        JobType::Completed => "Completed",
        JobType::Failed => "Failed",
        JobType::Cancelled => "Cancelled",
    }
}

/// `virshDomainJobOperationToString`.
fn operation_name(op: i32) -> &'static str {
    match op {
        1 => "Start",
        2 => "Save",
        3 => "Restore",
        4 => "Incoming migration",
        5 => "Outgoing migration",
        operation::SNAPSHOT => "Snapshot",
        operation::SNAPSHOT_REVERT => "Snapshot revert",
        8 => "Dump",
        9 => "Backup",
        operation::SNAPSHOT_DELETE => "Snapshot delete",
        _ => "Unknown",
    }
}

/// `vshPrettyCapacity`.
fn pretty(val: u64) -> (f64, &'static str) {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut limit: u128 = 1024;
    for (i, u) in UNITS.iter().enumerate() {
        if u128::from(val) < limit || i == UNITS.len() - 1 {
            return (val as f64 / (limit / 1024) as f64, u);
        }
        limit *= 1024;
    }
    (val as f64, "B")
}

/// `virTypedParameterToString`.
fn param_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Int(i) => i.to_string(),
        ParamValue::ULLong(u) => u.to_string(),
        ParamValue::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        ParamValue::Str(s) => s.clone(),
    }
}

/// `domjobinfo` (virsh 9.0's cmdDomjobinfo output).
pub fn cmd_domjobinfo(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    // VSH_REQUIRE_OPTION
    if cmd.has("keep-completed") && !cmd.has("completed") {
        ctl.error("Option --completed is required by option --keep-completed");
        return false;
    }
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let mut flags = 0;
    if cmd.has("completed") {
        flags |= stats_flags::COMPLETED;
    }
    if cmd.has("keep-completed") {
        flags |= stats_flags::KEEP_COMPLETED;
    }
    let s = lv!(ctl, dom.job_stats(flags));
    let mut out = String::new();
    if cmd.has("rawstats") {
        out.push_str(&format!("Job type: {}\n\n", s.kind as i32));
        for (k, v) in s.params() {
            out.push_str(&format!("{k}: {}\n", param_text(&v)));
        }
        ctl.print(&out);
        return true;
    }
    out.push_str(&format!("{:<17} {:<12}\n", "Job type:", job_type_name(s.kind)));
    let shown = s.kind != JobType::None
        && (matches!(s.kind, JobType::Bounded | JobType::Unbounded)
            || (flags & stats_flags::COMPLETED != 0 && s.kind == JobType::Completed)
            || cmd.has("anystats"));
    if shown {
        out.push_str(&format!("{:<17} {:<12}\n", "Operation:", operation_name(s.operation)));
        out.push_str(&format!("{:<17} {:<12} ms\n", "Time elapsed:", s.time_elapsed_ms));
        if s.kind == JobType::Bounded {
            out.push_str(&format!("{:<17} {:<12} ms\n", "Time remaining:", s.time_remaining_ms.unwrap_or(0)));
        }
        let mut triple = |label: &str, p: Option<u64>, r: Option<u64>, t: Option<u64>| {
            let (p, r, t) = (p.unwrap_or(0), r.unwrap_or(0), t.unwrap_or(0));
            if p != 0 || r != 0 || t != 0 {
                for (what, v) in [("processed:", p), ("remaining:", r), ("total:", t)] {
                    let (val, unit) = pretty(v);
                    out.push_str(&format!("{:<17} {val:.3} {unit}\n", format!("{label} {what}")));
                }
            }
        };
        triple("Data", s.data_processed, s.data_remaining, s.data_total);
        triple("Memory", s.memory_processed, s.memory_remaining, s.memory_total);
        if let Some(m) = &s.errmsg {
            out.push_str(&format!("{:<17} {m}\n", "Error message:"));
        }
    }
    ctl.print(&out);
    true
}

/// `domjobabort`.
pub fn cmd_domjobabort(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    if cmd.has("postcopy") {
        ctl.save(virsnap_core::Error::no_support("virDomainAbortJobFlags"));
        return false;
    }
    lv!(ctl, dom.abort_job());
    true
}

/// Set by SIGINT (signal-hook's flag action).
static INTERRUPTED: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
/// True while SIGINT should act as by default (terminate): outside a
/// watched operation, and after its first Ctrl-C.
static DEFAULT_ON_INT: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

/// The two flags, with the SIGINT actions registered on first use.
fn sigint_flags() -> Option<(Arc<AtomicBool>, Arc<AtomicBool>)> {
    let dflt = DEFAULT_ON_INT.get_or_init(|| Arc::new(AtomicBool::new(true))).clone();
    let int = INTERRUPTED
        .get_or_init(|| {
            let int = Arc::new(AtomicBool::new(false));
            // The default action first: it ends the process when wanted.
            let ok = signal_hook::flag::register_conditional_default(signal_hook::consts::SIGINT, dflt.clone()).is_ok()
                && signal_hook::flag::register(signal_hook::consts::SIGINT, int.clone()).is_ok();
            if !ok {
                dflt.store(true, Ordering::SeqCst);
            }
            int
        })
        .clone();
    Some((int, dflt))
}

/// Runs `op` (a snapshot operation on `dom`) so that Ctrl-C aborts its
/// job atomically instead of killing virsnap half way (a second Ctrl-C
/// kills it), and with `verbose` on a terminal shows its progress as a bar
/// with the time remaining.
pub fn watched<T>(ctl: &mut Ctl, dom: &Domain, verbose: bool, op: impl FnOnce() -> Result<T>) -> Result<T> {
    let bar = verbose && std::io::stderr().is_terminal();
    if bar
        && let Some(c) = &ctl.conn {
            // The bar replaces the one-line progress callback.
            c.set_progress(None);
        }
    let flags = sigint_flags();
    if let Some((int, dflt)) = &flags {
        int.store(false, Ordering::SeqCst);
        dflt.store(false, Ordering::SeqCst);
    }
    let done = AtomicBool::new(false);
    let abort_error = std::sync::Mutex::new(None);
    let r = std::thread::scope(|sc| {
        sc.spawn(|| watch(dom, bar, flags.as_ref(), &done, &abort_error));
        let r = op();
        done.store(true, Ordering::SeqCst);
        r
    });
    if let Some((_, dflt)) = &flags {
        dflt.store(true, Ordering::SeqCst);
    }
    if bar
        && let Some(c) = &ctl.conn {
            c.set_progress(Some(std::sync::Arc::new(crate::util::progress)));
        }
    if let Some(e) = abort_error.into_inner().ok().flatten() {
        // The abort came too late: the operation completed.
        ctl.error(&e.message);
    }
    r
}

type Flags = (Arc<AtomicBool>, Arc<AtomicBool>);

fn watch(dom: &Domain, bar: bool, flags: Option<&Flags>, done: &AtomicBool, abort_error: &std::sync::Mutex<Option<virsnap_core::Error>>) {
    let pb = bar.then(|| {
        let pb = indicatif::ProgressBar::new(0);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:20}] {bytes}/{total_bytes}, {eta} left")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb
    });
    let mut asked = false;
    while !done.load(Ordering::SeqCst) {
        if !asked && flags.is_some_and(|(int, _)| int.load(Ordering::SeqCst)) {
            asked = true;
            // A second Ctrl-C ends virsnap as usual.
            if let Some((_, dflt)) = flags {
                dflt.store(true, Ordering::SeqCst);
            }
            if let Err(e) = dom.abort_job()
                && let Ok(mut g) = abort_error.lock() {
                    *g = Some(e);
                }
        }
        if let Some(pb) = &pb
            && let Ok(s) = dom.job_stats(0)
                && s.kind != JobType::None {
                    pb.set_message(operation_name(s.operation));
                    if let (Some(t), Some(p)) = (s.memory_total, s.memory_processed) {
                        pb.set_length(t);
                        pb.set_position(p);
                    }
                }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
}

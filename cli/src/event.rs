//! `event`: waits for domain events and prints them as virsh 9.0's `event`
//! does (`virsh-domain-event.c`): lifecycle events in virsh's words, plus
//! virsnap's snapshot events (`--event snapshot`, and with `--all`).
//!
//! Events of the CLI's own process cannot happen while it waits (a batch
//! runs one command at a time), so what arrives are other processes'
//! events, for drivers that share them (qemu: the root's event log).

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use virsnap_core::events::{self, Event, EventKind};

use crate::domain::{lookup, opt_str, BYANY};
use crate::parse::Cmd;
use crate::Ctl;

/// virsh's event names (`virshDomainEventCallbacks`), index = event ID.
const VIRSH_EVENTS: [&str; 27] = [
    "lifecycle",
    "reboot",
    "rtc-change",
    "watchdog",
    "io-error",
    "graphics",
    "io-error-reason",
    "control-error",
    "block-job",
    "disk-change",
    "tray-change",
    "pm-wakeup",
    "pm-suspend",
    "balloon-change",
    "pm-suspend-disk",
    "device-removed",
    "block-job-2",
    "tunable",
    "agent-lifecycle",
    "device-added",
    "migration-iteration",
    "job-completed",
    "device-removal-failed",
    "metadata-change",
    "block-threshold",
    "memory-failure",
    "memory-device-size-change",
];

/// virsnap's own event type name.
const SNAPSHOT_EVENT: &str = "snapshot";

/// `virshDomainEventToString`.
fn event_str(event: i32) -> &'static str {
    match event {
        0 => "Defined",
        1 => "Undefined",
        2 => "Started",
        3 => "Suspended",
        4 => "Resumed",
        5 => "Stopped",
        6 => "Shutdown",
        7 => "PMSuspended",
        8 => "Crashed",
        _ => "unknown",
    }
}

/// `virshDomainEventDetailToString`.
fn detail_str(event: i32, detail: i32) -> &'static str {
    let table: &[&str] = match event {
        0 => &["Added", "Updated", "Renamed", "Snapshot"],
        1 => &["Removed", "Renamed"],
        2 => &["Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"],
        3 => &["Paused", "Migrated", "I/O Error", "Watchdog", "Restored", "Snapshot", "API error", "Post-copy", "Post-copy Error"],
        4 => &["Unpaused", "Migrated", "Snapshot", "Post-copy", "Post-copy Error"],
        5 => &["Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot"],
        6 => &["Finished", "Finished after guest request", "Finished after host request"],
        7 => &["Memory", "Disk"],
        8 => &["Panicked", "Crashloaded"],
        _ => &[],
    };
    usize::try_from(detail).ok().and_then(|d| table.get(d)).copied().unwrap_or("unknown")
}

/// One event as `event` prints it (without the timestamp).
pub fn format_event(ev: &Event) -> String {
    match &ev.kind {
        EventKind::Lifecycle { event, detail } => format!(
            "event 'lifecycle' for domain '{}': {} {}\n",
            ev.domain.name,
            event_str(*event),
            detail_str(*event, *detail)
        ),
        EventKind::Snapshot { event, name, old_name } => match old_name {
            Some(old) => format!(
                "event 'snapshot' for domain '{}': {} {name} (from {old})\n",
                ev.domain.name,
                event.word()
            ),
            None => format!("event 'snapshot' for domain '{}': {} {name}\n", ev.domain.name, event.word()),
        },
    }
}

/// `virTimeStringNowRaw`: UTC with milliseconds, as virsh's `--timestamp`.
fn timestamp() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let iso = virsnap_core::time::format_utc_iso(secs);
    let civil = iso.trim_end_matches('Z').replacen('T', " ", 1);
    format!("{civil}.{:03}+0000", now.subsec_millis())
}

/// `vshCommandOptTimeoutToMs`: seconds > 0, within `INT_MAX / 1000`.
fn timeout_opt(ctl: &mut Ctl, cmd: &Cmd) -> Result<Option<Duration>, ()> {
    let Some(raw) = cmd.raw("timeout") else {
        return Ok(None);
    };
    match raw.parse::<u32>() {
        Ok(n) if n > 0 && n <= i32::MAX as u32 / 1000 => Ok(Some(Duration::from_secs(u64::from(n)))),
        Ok(n) => {
            ctl.error(&format!("Numeric value '{n}' for <timeout> option is malformed or out of range"));
            Err(())
        }
        Err(_) => {
            ctl.error(&format!("Numeric value '{raw}' for <timeout> option is malformed or out of range"));
            Err(())
        }
    }
}

pub fn cmd_event(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    if cmd.has("list") {
        let mut s = String::new();
        for n in VIRSH_EVENTS.iter().chain(std::iter::once(&SNAPSHOT_EVENT)) {
            s.push_str(n);
            s.push('\n');
        }
        ctl.print(&s);
        return true;
    }
    let all = cmd.has("all");
    let Ok(name) = opt_str(ctl, cmd, "event") else {
        return false;
    };
    // Which kinds print: lifecycle and/or snapshot (virsh's other IDs are
    // never emitted by virsnap, so waiting for one only times out).
    let (lifecycle, snapshot) = match name {
        Some(n) if n == SNAPSHOT_EVENT => (false, true),
        Some(n) if VIRSH_EVENTS.contains(&n) => (n == "lifecycle", false),
        Some(n) => {
            ctl.error(&format!("unknown event type {n}"));
            return false;
        }
        None if all => (true, true),
        None => {
            ctl.error("one of --list, --all, or --event <type> is required");
            return false;
        }
    };
    let (lifecycle, snapshot) = if all { (true, true) } else { (lifecycle, snapshot) };
    let Ok(timeout) = timeout_opt(ctl, cmd) else {
        return false;
    };
    let filter = if cmd.has("domain") {
        match lookup(ctl, cmd, BYANY) {
            Some(d) => Some(d.uuid()),
            None => return false,
        }
    } else {
        None
    };
    let Some(conn) = ctl.conn() else {
        return false;
    };
    let looping = cmd.has("loop");
    let stamp = cmd.has("timestamp");

    let (tx, rx) = mpsc::channel::<Event>();
    let local = tx.clone();
    let sink: events::Sink = Arc::new(move |e: &Event| {
        // The receiver is gone once the command ended: nothing to deliver.
        if local.send(e.clone()).is_err() {}
    });
    let stream = match conn.subscribe_events(sink) {
        Ok(s) => s,
        Err(e) => {
            ctl.save(e);
            return false;
        }
    };
    // Other processes' events: a thread blocks on the log watcher. It ends
    // at its next wake-up after this command (its receiver is gone).
    let _keep = if stream.fd().is_some() {
        let mut stream = stream;
        std::thread::spawn(move || {
            while let Ok(evs) = stream.wait_remote() {
                for e in evs {
                    if tx.send(e).is_err() {
                        return;
                    }
                }
            }
        });
        None
    } else {
        Some(stream)
    };

    let deadline = timeout.map(|t| Instant::now() + t);
    let mut count = 0u64;
    let timed_out = loop {
        let got = match deadline {
            Some(d) => match rx.recv_timeout(d.saturating_duration_since(Instant::now())) {
                Ok(e) => Some(e),
                Err(mpsc::RecvTimeoutError::Timeout) => break true,
                Err(mpsc::RecvTimeoutError::Disconnected) => None,
            },
            None => rx.recv().ok(),
        };
        let Some(ev) = got else {
            // The watcher failed and nothing else can arrive: wait out the
            // timeout as virsh's idle loop does.
            match deadline {
                Some(d) => {
                    std::thread::sleep(d.saturating_duration_since(Instant::now()));
                    break true;
                }
                None => loop {
                    std::thread::park();
                },
            }
        };
        if filter.is_some_and(|u| u != ev.domain.uuid) {
            continue;
        }
        let wanted = match ev.kind {
            EventKind::Lifecycle { .. } => lifecycle,
            EventKind::Snapshot { .. } => snapshot,
        };
        if !wanted {
            continue;
        }
        let line = format_event(&ev);
        if stamp {
            ctl.print(&format!("{}: {line}", timestamp()));
        } else {
            ctl.print(&line);
        }
        ctl.flush();
        count += 1;
        if !looping {
            break false;
        }
    };
    if timed_out {
        ctl.print("event loop timed out\n");
    }
    ctl.print(&format!("events received: {count}\n"));
    count > 0
}

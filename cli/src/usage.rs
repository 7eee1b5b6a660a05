//! `snapshot-usage DOM [SNAP] [--json]`: what each snapshot costs on disk
//! and what deleting it would free (virsnap 0.2, no virsh equivalent).
//!
//! The table prints sizes in binary units and `-` where the driver cannot
//! know a number (a note under the table says so); `--json` prints an
//! array of objects with `name` and exact byte counts, `null` where unknown.

use virsnap_core::SnapshotUsage;

use crate::Ctl;
use crate::domain::{BYANY, lookup, lv, opt_str};
use crate::parse::Cmd;

/// `8.00 MiB`, `512 B`; `-` when unknown.
fn human(v: Option<u64>) -> String {
    let Some(b) = v else { return "-".to_owned() };
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut x = b as f64 / 1024.0;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    format!("{x:.2} {}", UNITS[u])
}

/// A JSON string literal (RFC 8259 escaping).
fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_num(v: Option<u64>) -> String {
    v.map_or_else(|| "null".to_owned(), |n| n.to_string())
}

/// The `--json` document: one object per snapshot, fields in a fixed order.
pub fn to_json(rows: &[SnapshotUsage]) -> String {
    let mut o = String::from("[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str(&format!(
            "\n  {{\"name\": {}, \"reclaimableBytes\": {}, \"vmStateBytes\": {}, \"exclusiveBytes\": {}, \"sharedBytes\": {}, \"overlayBytes\": {}}}",
            json_str(&r.name),
            json_num(r.reclaimable_bytes),
            json_num(r.vm_state_bytes),
            json_num(r.exclusive_bytes),
            json_num(r.shared_bytes),
            json_num(r.overlay_bytes),
        ));
    }
    o.push_str(if rows.is_empty() { "]\n" } else { "\n]\n" });
    o
}

/// The table, virsh's list style (` Name   …` header, dashes, rows).
pub fn to_table(rows: &[SnapshotUsage], driver: &str) -> String {
    let head = ["Name", "Reclaimable", "VM state", "Exclusive", "Shared", "Overlay"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                human(r.reclaimable_bytes),
                human(r.vm_state_bytes),
                human(r.exclusive_bytes),
                human(r.shared_bytes),
                human(r.overlay_bytes),
            ]
        })
        .collect();
    let mut w = head.map(|h| h.chars().count());
    for c in &cells {
        for (k, v) in c.iter().enumerate() {
            w[k] = w[k].max(v.chars().count());
        }
    }
    let line = |c: &[&str]| {
        let mut s = String::new();
        for (k, v) in c.iter().enumerate() {
            s.push(' ');
            s.push_str(v);
            if k + 1 < c.len() {
                s.push_str(&" ".repeat(w[k] - v.chars().count() + 2));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&head);
    out.push_str(&"-".repeat(out.chars().count() + 1));
    out.push('\n');
    for c in &cells {
        out.push_str(&line(&c.each_ref().map(String::as_str)));
    }
    if rows.iter().any(|r| {
        [r.reclaimable_bytes, r.vm_state_bytes, r.exclusive_bytes, r.shared_bytes].iter().any(Option::is_none)
    }) {
        out.push_str(&format!("\n-: not known to the {driver} driver (never estimated)\n"));
    }
    out
}

pub fn cmd_usage(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let Ok(name) = opt_str(ctl, cmd, "snapshotname") else {
        return false;
    };
    let rows = match name {
        Some(n) => {
            let snap = lv!(ctl, dom.snapshot_lookup_by_name(n, 0));
            vec![lv!(ctl, snap.usage(0))]
        }
        None => lv!(ctl, dom.snapshot_usage(0)),
    };
    if cmd.has("json") {
        ctl.print(&to_json(&rows));
    } else {
        let driver = dom.connection().type_name();
        ctl.print(&to_table(&rows, driver));
    }
    true
}

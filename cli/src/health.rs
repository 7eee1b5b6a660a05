//! `snapshot-prune` and `snapshot-verify` (virsnap 0.2, issue 21).

use virsnap_core::flags::{prune as pf, verify as vf};
use virsnap_core::health::{parse_duration, PruneRule};

use crate::Ctl;
use crate::domain::{BYANY, lookup, lv, opt_str};
use crate::parse::Cmd;

/// `snapshot-prune DOM [--keep N] [--older-than DURATION] [--dry-run]`:
/// one line per snapshot deleted (or, with `--dry-run`, that would be).
pub fn cmd_prune(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Ok(keep) = opt_str(ctl, cmd, "keep") else {
        return false;
    };
    let keep = match keep.map(|k| k.trim().parse::<usize>()) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(_)) => {
            ctl.error(&format!("Numeric value '{}' for <keep> option is malformed or out of range", keep.unwrap_or("")));
            return false;
        }
    };
    let Ok(older) = opt_str(ctl, cmd, "older-than") else {
        return false;
    };
    let older_than = match older {
        None => None,
        Some(t) => Some(lv!(ctl, parse_duration(t))),
    };
    if keep.is_none() && older_than.is_none() {
        ctl.error("command 'snapshot-prune' requires --keep and/or --older-than");
        return false;
    }
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let dry = cmd.has("dry-run");
    let flags = if dry { pf::DRY_RUN } else { 0 };
    match dom.snapshot_prune(&PruneRule { keep, older_than }, flags) {
        Ok(names) => {
            let verb = if dry { "would be deleted" } else { "deleted" };
            let mut out = String::new();
            for n in names {
                out.push_str(&format!("Domain snapshot {n} {verb}\n"));
            }
            // virsh prints "Domain snapshot X deleted" with vshPrintExtra
            // (hidden by -q); a dry run's list is the point of it.
            if dry {
                ctl.print(&out);
            } else {
                ctl.print_extra(&out);
            }
            true
        }
        Err(e) => {
            ctl.save(e);
            ctl.error(&format!("Failed to prune snapshots of domain '{}'", dom.name()));
            false
        }
    }
}

/// `snapshot-verify DOM [--repair]`: one line per difference; exit status 0
/// when none is left.
pub fn cmd_verify(ctl: &mut Ctl, cmd: &Cmd) -> bool {
    let Some(dom) = lookup(ctl, cmd, BYANY) else {
        return false;
    };
    let flags = if cmd.has("repair") { vf::REPAIR } else { 0 };
    let findings = match dom.snapshot_verify(flags) {
        Ok(f) => f,
        Err(e) => {
            ctl.save(e);
            ctl.error(&format!("Failed to verify snapshots of domain '{}'", dom.name()));
            return false;
        }
    };
    let mut out = String::new();
    for f in &findings {
        out.push_str(&format!("{f}\n"));
    }
    ctl.print(&out);
    let left = findings.iter().filter(|f| f.remains()).count();
    if left == 0 {
        ctl.print_extra(&format!("Domain '{}': snapshots consistent\n", dom.name()));
        true
    } else {
        ctl.error(&format!("Domain '{}': {left} snapshot difference(s) left", dom.name()));
        false
    }
}

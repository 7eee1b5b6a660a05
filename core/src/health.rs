//! Snapshot health (virsnap 0.2, issue 21): retention rules for
//! [`crate::Domain::snapshot_prune`] and the findings of
//! [`crate::Domain::snapshot_verify`].
//!
//! Prune chooses here, the same for every driver; each driver deletes the
//! chosen snapshots with libvirt's default delete (children re-parented,
//! data merged into them), the qemu driver all of them in one pass (one
//! lock, one durable intent, one final metadata batch; QEMU itself has no
//! multi-tag delete: `qemu-img snapshot` refuses a second `-d`, and QMP's
//! `snapshot-delete` / HMP's `delvm` take one tag, so one hypervisor call per
//! snapshot and disk remains).

use std::fmt;
use std::time::Duration;

use crate::error::{Error, ErrorDomain, Result};

/// Which snapshots a prune removes: those that are neither among the `keep`
/// newest (creation time, ties by creation order) nor younger than
/// `older_than`. A rule left `None` keeps nothing by itself; at least one
/// must be set. The current snapshot is never removed.
///
/// Since 0.2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneRule {
    /// Keep the N newest snapshots.
    pub keep: Option<usize>,
    /// Remove only snapshots created longer ago than this.
    pub older_than: Option<Duration>,
}

/// Parses a retention age such as `30m`, `12h`, `7d`, `1w`, `2h 30m` or an
/// ISO 8601 duration (`P7D`), with jiff's span parser; days are 24 hours.
/// Months and years (no fixed length) and negative spans are refused with
/// `VIR_ERR_INVALID_ARG`.
///
/// Since 0.2.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let bad = |why: String| Error::invalid_arg(ErrorDomain::DomainSnapshot, format!("invalid duration '{text}': {why}"));
    let t = text.trim();
    if t.is_empty() {
        return Err(bad("empty".into()));
    }
    // A bare number is seconds (as `sleep` reads it).
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<u64>().map(Duration::from_secs).map_err(|e| bad(e.to_string()));
    }
    let span: jiff::Span = t.parse().map_err(|e: jiff::Error| bad(e.to_string()))?;
    if span.get_months() != 0 || span.get_years() != 0 {
        return Err(bad("months and years have no fixed length; use days".into()));
    }
    let d = span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).map_err(|e| bad(e.to_string()))?;
    if d.is_negative() {
        return Err(bad("negative".into()));
    }
    Duration::try_from(d).map_err(|e| bad(e.to_string()))
}

/// The snapshots `rule` removes, oldest first. `snaps` is every snapshot in
/// creation order as far as the driver knows it (topological listing:
/// parents before children) with its creation time (seconds since the
/// epoch); `now` is the present in the same unit.
pub(crate) fn select_for_prune(snaps: &[(String, Option<i64>)], current: Option<&str>, rule: &PruneRule, now: i64) -> Vec<String> {
    // Newest first: creation time, then creation order (a later entry of
    // the listing is newer). A snapshot without a time counts as oldest.
    let mut order: Vec<usize> = (0..snaps.len()).collect();
    order.sort_by(|&a, &b| snaps[b].1.unwrap_or(i64::MIN).cmp(&snaps[a].1.unwrap_or(i64::MIN)).then(b.cmp(&a)));
    let cutoff = rule.older_than.map(|d| now.saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    let mut out: Vec<String> = Vec::new();
    for (rank, &i) in order.iter().enumerate() {
        let (name, created) = &snaps[i];
        if current == Some(name.as_str()) {
            continue;
        }
        if rule.keep.is_some_and(|k| rank < k) {
            continue;
        }
        if let Some(c) = cutoff {
            // Strictly older than the cutoff; no time at all is "old".
            if created.is_some_and(|t| t >= c) {
                continue;
            }
        }
        out.push(name.clone());
    }
    out.reverse();
    out
}

/// What verify did about one difference.
///
/// Since 0.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// Not asked to repair (verify only).
    NotAsked,
    /// Repaired; what was done.
    Done(String),
    /// Left alone: repairing it would lose data, or no lossless fix exists.
    Refused(String),
}

/// One difference between a domain's snapshot metadata and the
/// hypervisor's own state.
///
/// Since 0.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The snapshot it concerns.
    pub snapshot: String,
    /// The difference, in words.
    pub problem: String,
    /// What a repair did about it.
    pub repair: Repair,
}

impl Finding {
    /// A finding with no repair asked.
    pub fn new(snapshot: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { snapshot: snapshot.into(), problem: problem.into(), repair: Repair::NotAsked }
    }

    /// Still a difference after the call (not repaired).
    pub fn remains(&self) -> bool {
        !matches!(self.repair, Repair::Done(_))
    }
}

impl fmt::Display for Finding {
    /// One line: `snapshot 'NAME': PROBLEM` plus `; repaired: WHAT` or
    /// `; not repaired: WHY`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "snapshot '{}': {}", self.snapshot, self.problem)?;
        match &self.repair {
            Repair::NotAsked => Ok(()),
            Repair::Done(w) => write!(f, "; repaired: {w}"),
            Repair::Refused(w) => write!(f, "; not repaired: {w}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43200));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86400));
        assert_eq!(parse_duration("1w").unwrap(), Duration::from_secs(7 * 86400));
        assert_eq!(parse_duration("2h 30m").unwrap(), Duration::from_secs(9000));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("P1D").unwrap(), Duration::from_secs(86400));
        for bad in ["", "x", "3 months", "1y", "-5m", "5 parsecs"] {
            let e = parse_duration(bad).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InvalidArg, "{bad}");
        }
    }

    fn s(v: &[(&str, i64)]) -> Vec<(String, Option<i64>)> {
        v.iter().map(|(n, t)| ((*n).to_owned(), Some(*t))).collect()
    }

    #[test]
    fn selection() {
        let snaps = s(&[("a", 100), ("b", 200), ("c", 200), ("d", 300)]);
        let keep = |k| PruneRule { keep: Some(k), older_than: None };
        // Ties by creation order: c is newer than b.
        assert_eq!(select_for_prune(&snaps, None, &keep(2), 1000), ["a", "b"]);
        assert_eq!(select_for_prune(&snaps, None, &keep(0), 1000), ["a", "b", "c", "d"]);
        assert_eq!(select_for_prune(&snaps, None, &keep(9), 1000), Vec::<String>::new());
        // Never the current snapshot, which still counts as one kept.
        assert_eq!(select_for_prune(&snaps, Some("a"), &keep(1), 1000), ["b", "c"]);
        let age = PruneRule { keep: None, older_than: Some(Duration::from_secs(150)) };
        // cutoff 350 - 150 = 200: strictly older only.
        assert_eq!(select_for_prune(&snaps, None, &age, 350), ["a"]);
        let both = PruneRule { keep: Some(3), older_than: Some(Duration::from_secs(10)) };
        assert_eq!(select_for_prune(&snaps, None, &both, 1000), ["a"]);
    }
}

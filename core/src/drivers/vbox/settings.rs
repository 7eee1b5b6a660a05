//! Reading a machine's `.vbox` settings file (both dialects: the old
//! `innotek.de` namespace and 7.2's `virtualbox.org`). The driver reads it
//! only to enrich what VBoxManage lists with the exact names and
//! descriptions (XML-escaped there, raw in the listing), the creation time
//! and whether a snapshot has a saved state. It never writes it while the
//! machine is registered (VBoxSVC owns the file then).

use std::collections::HashMap;

use crate::error::{ErrorDomain, Result};
use crate::uuid::Uuid;
use crate::xml::{parse_document, Element};

use super::parse::parse_vbox_uuid;

/// One `<Snapshot>` of a `.vbox` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSnapshot {
    /// `name=`.
    pub name: String,
    /// `<Description>`, if present.
    pub description: Option<String>,
    /// `timeStamp=` in seconds since the epoch (0 when absent or malformed).
    pub time: i64,
    /// `stateFile=`: the snapshot has a saved state (VirtualBox's `online`).
    pub state_file: Option<String>,
    /// Parent snapshot UUID.
    pub parent: Option<Uuid>,
}

/// The snapshot part of a `.vbox` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineFile {
    /// `<Machine uuid=>`.
    pub uuid: Option<Uuid>,
    /// `<Machine name=>`.
    pub name: String,
    /// `currentSnapshot=`.
    pub current: Option<Uuid>,
    /// Every snapshot by UUID.
    pub snapshots: HashMap<Uuid, FileSnapshot>,
    /// Snapshot UUIDs in document (pre-)order.
    pub order: Vec<Uuid>,
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn child<'a>(e: &'a Element, name: &str) -> Option<&'a Element> {
    e.elements().find(|c| local(&c.name) == name)
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (VirtualBox's `timeStamp`) to epoch seconds.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d, hh, mm, ss) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn walk(e: &Element, parent: Option<Uuid>, out: &mut MachineFile) {
    let Some(uuid) = e.attr("uuid").and_then(parse_vbox_uuid) else { return };
    out.order.push(uuid);
    out.snapshots.insert(
        uuid,
        FileSnapshot {
            name: e.attr("name").unwrap_or_default().to_owned(),
            description: child(e, "Description").map(Element::text),
            time: e.attr("timeStamp").and_then(parse_timestamp).unwrap_or(0),
            state_file: e.attr("stateFile").filter(|s| !s.is_empty()).map(str::to_owned),
            parent,
        },
    );
    if let Some(kids) = child(e, "Snapshots") {
        for k in kids.elements().filter(|k| local(&k.name) == "Snapshot") {
            walk(k, Some(uuid), out);
        }
    }
}

/// Parses the text of a `.vbox` file.
pub fn parse_machine_file(xml: &str) -> Result<MachineFile> {
    let root = parse_document(xml, "vbox_settings", ErrorDomain::Vbox)?;
    let mut out = MachineFile::default();
    let Some(m) = child(&root, "Machine") else { return Ok(out) };
    out.uuid = m.attr("uuid").and_then(parse_vbox_uuid);
    out.name = m.attr("name").unwrap_or_default().to_owned();
    out.current = m.attr("currentSnapshot").and_then(parse_vbox_uuid);
    if let Some(s) = child(m, "Snapshot") {
        walk(s, None, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2026-11-25T17:41:28Z"), Some(1_795_628_488));
        assert_eq!(parse_timestamp("garbage"), None);
    }
}

//! Reading a machine's `.vbox` settings file (both dialects: the old
//! `innotek.de` namespace and 7.2's `virtualbox.org`). The driver reads it
//! only to enrich what VBoxManage lists with the exact names and
//! descriptions (XML-escaped there, raw in the listing), the creation time
//! and whether a snapshot has a saved state. It never writes it while the
//! machine is registered (VBoxSVC owns the file then).

use std::collections::HashMap;

use crate::error::{ErrorDomain, Result};
use crate::uuid::Uuid;
use crate::xml::{escape_libxml2_into, parse_document, Element};

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

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (VirtualBox's `timeStamp`) to epoch
/// seconds; what follows the seconds is not looked at.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    crate::time::parse_datetime(s, b"T").map(|(t, _)| t)
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

// ---------------------------------------------------------------------------
// Writing (REDEFINE, machine unregistered only).

use crate::xml::Node;

/// A whole `.vbox` document kept for rewriting: the text before the root
/// element (XML declaration, VirtualBox's "DO NOT EDIT" comment) and after
/// it are kept verbatim; the element tree keeps every whitespace text node,
/// so an unchanged tree is written back byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VboxFile {
    prolog: String,
    /// The `<VirtualBox>` element.
    pub root: Element,
    epilog: String,
}

fn root_start(xml: &str) -> Option<usize> {
    let b = xml.as_bytes();
    let mut i = 0;
    while let Some(off) = xml[i..].find('<') {
        let p = i + off;
        match b.get(p + 1) {
            Some(b'?') => i = p + xml[p..].find("?>")? + 2,
            Some(b'!') if xml[p..].starts_with("<!--") => i = p + xml[p..].find("-->")? + 3,
            Some(b'!') => return None,
            _ => return Some(p),
        }
    }
    None
}

fn write_el(out: &mut String, e: &Element) {
    out.push('<');
    out.push_str(&e.name);
    for (k, v) in &e.attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape_libxml2_into(out, v, true);
        out.push('"');
    }
    if e.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for c in &e.children {
        match c {
            Node::Element(x) => write_el(out, x),
            Node::Text(t) => escape_libxml2_into(out, t, false),
        }
    }
    out.push_str("</");
    out.push_str(&e.name);
    out.push('>');
}

fn child_mut_local<'a>(e: &'a mut Element, name: &str) -> Option<&'a mut Element> {
    e.elements_mut().find(|c| local(&c.name) == name)
}

/// Adds `delta` spaces of indentation to every line break inside `e`.
fn reindent(e: &mut Element, delta: usize) {
    for c in &mut e.children {
        match c {
            Node::Text(t) if t.trim().is_empty() && t.contains('\n') => {
                *t = t.replace('\n', &format!("\n{}", " ".repeat(delta)));
            }
            Node::Element(x) => reindent(x, delta),
            Node::Text(_) => {}
        }
    }
}

/// Drops hard-disk attachments (a redefined snapshot carries no disk state).
fn strip_disks(e: &mut Element) {
    let is_disk = |n: &Node| {
        matches!(n, Node::Element(x) if local(&x.name) == "AttachedDevice" && x.attr("type") == Some("HardDisk"))
    };
    let mut i = 0;
    while i < e.children.len() {
        if is_disk(&e.children[i]) {
            e.children.remove(i);
            // and the indentation before it
            if i > 0 && matches!(&e.children[i - 1], Node::Text(t) if t.trim().is_empty()) {
                e.children.remove(i - 1);
                i -= 1;
            }
            continue;
        }
        if let Node::Element(x) = &mut e.children[i] {
            strip_disks(x);
        }
        i += 1;
    }
}

/// Appends `child` to `parent` (whose own tag is indented by `indent`),
/// keeping libxml2's two-space layout.
fn append_indented(parent: &mut Element, child: Element, indent: usize) {
    if let Some(Node::Text(t)) = parent.children.last() {
        if t.trim().is_empty() {
            parent.children.pop();
        }
    }
    if parent.children.is_empty() || !matches!(parent.children.last(), Some(Node::Text(_))) {
        parent.children.push(Node::Text(format!("\n{}", " ".repeat(indent + 2))));
    }
    parent.children.push(Node::Element(child));
    parent.children.push(Node::Text(format!("\n{}", " ".repeat(indent))));
}

fn find_snapshot_mut<'a>(e: &'a mut Element, uuid: &Uuid, depth: usize) -> Option<(&'a mut Element, usize)> {
    for c in e.elements_mut() {
        let n = local(&c.name).to_owned();
        if n == "Snapshot" && c.attr("uuid").and_then(parse_vbox_uuid).as_ref() == Some(uuid) {
            return Some((c, depth + 1));
        }
        if n == "Snapshot" || n == "Snapshots" {
            if let Some(r) = find_snapshot_mut(c, uuid, depth + 1) {
                return Some(r);
            }
        }
    }
    None
}

/// A snapshot to write into a `.vbox` file.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    /// New snapshot UUID.
    pub uuid: Uuid,
    /// Name.
    pub name: String,
    /// Description (omitted when empty).
    pub description: Option<String>,
    /// Creation time, seconds since the epoch.
    pub time: i64,
}

/// Epoch seconds → `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_timestamp(t: i64) -> String {
    crate::time::format_utc_iso(t)
}

impl VboxFile {
    /// Parses a `.vbox` document, keeping what is needed to write it back.
    pub fn parse(xml: &str) -> Result<Self> {
        let start = root_start(xml)
            .ok_or_else(|| crate::error::Error::xml(ErrorDomain::Vbox, "no root element in the .vbox file"))?;
        let root = parse_document(xml, "vbox_settings", ErrorDomain::Vbox)?;
        let end = xml.rfind('>').map_or(xml.len(), |i| i + 1);
        Ok(Self { prolog: xml[..start].to_owned(), root, epilog: xml[end..].to_owned() })
    }

    /// The document text.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.prolog.len() + 4096);
        out.push_str(&self.prolog);
        write_el(&mut out, &self.root);
        out.push_str(&self.epilog);
        out
    }

    /// True for the old settings dialect (`innotek.de` namespace,
    /// `<StorageControllers>` beside `<Hardware>`).
    pub fn is_old_dialect(&self) -> bool {
        self.root.attr("xmlns").is_some_and(|n| n.contains("innotek.de"))
    }

    fn machine_mut(&mut self) -> Result<&mut Element> {
        child_mut_local(&mut self.root, "Machine")
            .ok_or_else(|| crate::error::Error::xml(ErrorDomain::Vbox, "no <Machine> in the .vbox file"))
    }

    /// Sets `<Machine lastStateChange=…>` (as VirtualBox and libvirt do on save).
    pub fn set_last_state_change(&mut self, t: i64) -> Result<()> {
        self.machine_mut()?.set_attr("lastStateChange", format_timestamp(t));
        Ok(())
    }

    /// Writes a snapshot without disk state under `parent` (the root
    /// snapshot when `None`, which must not exist yet, and which then becomes
    /// the current snapshot as VirtualBox requires), its hardware copied
    /// from the machine's current hardware minus hard-disk attachments.
    pub fn add_snapshot(&mut self, parent: Option<&Uuid>, snap: &NewSnapshot) -> Result<()> {
        let old = self.is_old_dialect();
        let bad = |m: &str| crate::error::Error::xml(ErrorDomain::Vbox, m.to_owned());
        let machine = self.machine_mut()?;
        let hw = child(machine, "Hardware").cloned().ok_or_else(|| bad("no <Hardware> in <Machine>"))?;
        let sc = if old { child(machine, "StorageControllers").cloned() } else { None };
        let prefix = machine.name.strip_suffix("Machine").unwrap_or("").to_owned();
        let mut el = Element::new(format!("{prefix}Snapshot"))
            .with_attr("uuid", format!("{{{}}}", snap.uuid))
            .with_attr("name", snap.name.clone())
            .with_attr("timeStamp", format_timestamp(snap.time));
        let (container, depth): (&mut Element, usize) = match parent {
            None => {
                if child(machine, "Snapshot").is_some() {
                    return Err(crate::error::Error::config_unsupported(
                        ErrorDomain::Vbox,
                        "VirtualBox keeps a single root snapshot; give the redefined snapshot a parent",
                    ));
                }
                // VirtualBox requires a current snapshot once there are
                // snapshots: the new (only) snapshot is it.
                let cur = ("currentSnapshot".to_owned(), format!("{{{}}}", snap.uuid));
                let pos = machine.attrs.iter().position(|(k, _)| k == "snapshotFolder").unwrap_or(machine.attrs.len());
                machine.attrs.insert(pos, cur);
                (machine, 1)
            }
            Some(p) => {
                let (ps, d) = find_snapshot_mut(machine, p, 1).ok_or_else(|| bad("parent snapshot not in the .vbox file"))?;
                if child(ps, "Snapshots").is_none() {
                    append_indented(ps, Element::new(format!("{prefix}Snapshots")), 2 * d);
                }
                let list = child_mut_local(ps, "Snapshots").ok_or_else(|| bad("no <Snapshots>"))?;
                (list, d + 1)
            }
        };
        let ind = 2 * (depth + 1);
        if let Some(d) = snap.description.as_deref().filter(|d| !d.is_empty()) {
            el.children.push(Node::Text(format!("\n{}", " ".repeat(ind + 2))));
            el.children.push(Node::Element(Element::new(format!("{prefix}Description")).with_text(d)));
        }
        for mut part in [Some(hw), sc].into_iter().flatten() {
            strip_disks(&mut part);
            // Machine children sit at indent 4; this copy at ind + 2.
            reindent(&mut part, ind + 2 - 4);
            el.children.push(Node::Text(format!("\n{}", " ".repeat(ind + 2))));
            el.children.push(Node::Element(part));
        }
        el.children.push(Node::Text(format!("\n{}", " ".repeat(ind))));
        if parent.is_none() && !old {
            // 7.2 writes the snapshot tree before <Hardware>.
            let pos = container
                .children
                .iter()
                .position(|n| matches!(n, Node::Element(x) if local(&x.name) == "Hardware"))
                .ok_or_else(|| bad("no <Hardware>"))?;
            container.children.insert(pos, Node::Text(format!("\n{}", " ".repeat(ind))));
            container.children.insert(pos, Node::Element(el));
            // The text before <Hardware> already indents the snapshot; the
            // inserted text now indents <Hardware>.
        } else {
            append_indented(container, el, ind - 2);
        }
        Ok(())
    }
}

#[cfg(test)]
mod write_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn timestamps_both_ways() {
        for t in [0, 1_795_628_488, 951_782_400, -86_400] {
            assert_eq!(parse_timestamp(&format_timestamp(t)), Some(t), "{t}");
        }
        assert_eq!(format_timestamp(1_795_628_488), "2026-11-25T17:41:28Z");
    }
}

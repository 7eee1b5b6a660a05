//! Parsers for VBoxManage's outputs (reference/vbox.md §2).
//!
//! Traps handled: the snapshot block of `--machinereadable` output is not
//! escaped at all (quotes and newlines inside names and descriptions stay
//! raw); the `CurrentSnapshot*` lines follow the current node, mid-listing;
//! the `/usr/bin/VBoxManage` wrapper prints a WARNING on stdout first; errors
//! are classified by the `code VBOX_E_… (0x…)` token, never by the text.

use crate::error::{Error, ErrorDomain, Result};
use crate::uuid::Uuid;

const V: ErrorDomain = ErrorDomain::Vbox;

/// The sentence VBoxManage prints (stdout, exit 1) for a machine without snapshots.
pub const NO_SNAPSHOTS: &str = "This machine does not have any snapshots";

/// One snapshot of a `snapshot list --machinereadable` listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapNode {
    /// Name (may be empty, may contain anything).
    pub name: String,
    /// VirtualBox's snapshot UUID.
    pub uuid: Uuid,
    /// Description, `None` when VirtualBox printed none (empty).
    pub description: Option<String>,
    /// Index of the parent in [`Listing::nodes`].
    pub parent: Option<usize>,
    /// Indices of the children, in VirtualBox's order.
    pub children: Vec<usize>,
    /// The key suffix (`[2, 1]` for `SnapshotName-2-1`).
    pub path: Vec<u32>,
}

/// A machine's snapshot tree as VBoxManage lists it (pre-order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Snapshots in pre-order (VirtualBox's depth-first order).
    pub nodes: Vec<SnapNode>,
    /// Index of the current snapshot.
    pub current: Option<usize>,
}

impl Listing {
    /// First snapshot named `name` in depth-first order (VirtualBox's `findSnapshot`).
    pub fn find_name(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The snapshot with `uuid`.
    pub fn find_uuid(&self, uuid: &Uuid) -> Option<usize> {
        self.nodes.iter().position(|n| n.uuid == *uuid)
    }

    /// All descendants of `i` in pre-order.
    pub fn descendants(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack: Vec<usize> = self.nodes[i].children.iter().rev().copied().collect();
        while let Some(c) = stack.pop() {
            out.push(c);
            stack.extend(self.nodes[c].children.iter().rev().copied());
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Uuid,
    Description,
    CurName,
    CurUuid,
    CurNode,
}

/// Recognises a key line: `SnapshotName-1-2="…` etc. Returns the field, the
/// suffix path and the byte offset where the value starts (after `="`).
fn key_of(line: &str) -> Option<(Field, Vec<u32>, usize)> {
    for (prefix, field) in [
        ("CurrentSnapshotName=\"", Field::CurName),
        ("CurrentSnapshotUUID=\"", Field::CurUuid),
        ("CurrentSnapshotNode=\"", Field::CurNode),
    ] {
        if line.starts_with(prefix) {
            return Some((field, Vec::new(), prefix.len()));
        }
    }
    let (field, rest) = if let Some(r) = line.strip_prefix("SnapshotName") {
        (Field::Name, r)
    } else if let Some(r) = line.strip_prefix("SnapshotUUID") {
        (Field::Uuid, r)
    } else if let Some(r) = line.strip_prefix("SnapshotDescription") {
        (Field::Description, r)
    } else {
        return None;
    };
    let eq = rest.find("=\"")?;
    let suffix = &rest[..eq];
    let mut path = Vec::new();
    if !suffix.is_empty() {
        let s = suffix.strip_prefix('-')?;
        for part in s.split('-') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 6 {
                return None;
            }
            path.push(part.parse::<u32>().ok()?);
        }
    }
    Some((field, path, line.len() - rest.len() + eq + 2))
}

/// The suffixes a pre-order walk may print next after node `last`: its first
/// child, or the next sibling of itself or of any ancestor.
fn next_paths(last: Option<&[u32]>) -> Vec<Vec<u32>> {
    let Some(last) = last else { return vec![Vec::new()] };
    let mut out = Vec::with_capacity(last.len() + 1);
    let mut child = last.to_vec();
    child.push(1);
    out.push(child);
    let mut p = last.to_vec();
    while let Some(k) = p.pop() {
        let mut sib = p.clone();
        sib.push(k.saturating_add(1));
        out.push(sib);
    }
    out
}

struct Entry {
    field: Field,
    path: Vec<u32>,
    value: String,
}

/// Splits listing text into entries, deciding for each line whether it starts
/// the next expected key or continues the previous (raw, multi-line) value.
fn entries(text: &str) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    // State: what may come next.
    let mut last_node: Option<Vec<u32>> = None;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let expected = |f: Field, p: &[u32], prev: Option<&Entry>| -> bool {
            let next_name = |p: &[u32]| next_paths(last_node.as_deref()).iter().any(|n| n == p);
            match prev.map(|e| e.field) {
                None => f == Field::Name && p.is_empty(),
                Some(Field::Name) => f == Field::Uuid && Some(p) == prev.map(|e| e.path.as_slice()),
                Some(Field::Uuid) | Some(Field::Description) => {
                    (f == Field::Description
                        && prev.is_some_and(|e| e.field == Field::Uuid)
                        && Some(p) == prev.map(|e| e.path.as_slice()))
                        || f == Field::CurName
                        || (f == Field::Name && next_name(p))
                }
                Some(Field::CurName) => f == Field::CurUuid,
                Some(Field::CurUuid) => f == Field::CurNode,
                Some(Field::CurNode) => f == Field::Name && next_name(p),
            }
        };
        match key_of(line) {
            Some((f, p, start)) if expected(f, &p, out.last()) => {
                if f == Field::Name {
                    last_node = Some(p.clone());
                }
                out.push(Entry { field: f, path: p, value: line[start..].to_owned() });
            }
            _ => {
                // Continuation of a raw multi-line value; text before the
                // first key (a wrapper's WARNING) is dropped.
                if let Some(e) = out.last_mut() {
                    e.value.push('\n');
                    e.value.push_str(line);
                }
            }
        }
    }
    for e in &mut out {
        // The value runs to the last quote of the entry; anything after it
        // on a trailing line would be the (empty) remainder of the output.
        let trimmed = e.value.trim_end_matches('\n');
        e.value = match trimmed.rfind('"') {
            Some(q) => trimmed[..q].to_owned(),
            None => trimmed.to_owned(),
        };
    }
    out
}

fn bad(what: &str) -> Error {
    Error::internal(V, format!("unexpected VBoxManage snapshot listing: {what}"))
}

/// Parses `VBoxManage snapshot VM list --machinereadable` (or the snapshot
/// block of `showvminfo --machinereadable`). Empty output, or the
/// "does not have any snapshots" sentence, is an empty listing.
pub fn parse_snapshot_list(text: &str) -> Result<Listing> {
    let mut l = Listing::default();
    let mut cur_uuid: Option<Uuid> = None;
    let mut cur_node: Option<String> = None;
    for e in entries(text) {
        match e.field {
            Field::Name => {
                let parent = if e.path.is_empty() {
                    if !l.nodes.is_empty() {
                        return Err(bad("more than one root snapshot"));
                    }
                    None
                } else {
                    let pp = &e.path[..e.path.len() - 1];
                    let p = l.nodes.iter().rposition(|n| n.path == pp).ok_or_else(|| bad("child before its parent"))?;
                    Some(p)
                };
                if l.nodes.iter().any(|n| n.path == e.path) {
                    return Err(bad("a snapshot key printed twice"));
                }
                let i = l.nodes.len();
                l.nodes.push(SnapNode {
                    name: e.value,
                    uuid: Uuid::default(),
                    description: None,
                    parent,
                    children: Vec::new(),
                    path: e.path,
                });
                if let Some(p) = parent {
                    l.nodes[p].children.push(i);
                }
            }
            Field::Uuid => {
                let n = l.nodes.last_mut().ok_or_else(|| bad("UUID without a name"))?;
                n.uuid = parse_vbox_uuid(&e.value).ok_or_else(|| bad("invalid snapshot UUID"))?;
            }
            Field::Description => {
                let n = l.nodes.last_mut().ok_or_else(|| bad("description without a name"))?;
                n.description = Some(e.value);
            }
            Field::CurName => {}
            Field::CurUuid => cur_uuid = Some(parse_vbox_uuid(&e.value).ok_or_else(|| bad("invalid current UUID"))?),
            Field::CurNode => cur_node = Some(e.value),
        }
    }
    if l.nodes.iter().any(|n| n.uuid == Uuid::default()) {
        return Err(bad("snapshot without a UUID"));
    }
    if let Some(u) = cur_uuid {
        l.current = Some(l.find_uuid(&u).ok_or_else(|| bad("current snapshot not in the tree"))?);
    } else if cur_node.is_some() {
        return Err(bad("current node without a UUID"));
    }
    Ok(l)
}

/// A UUID as VirtualBox prints or accepts it (braces optional).
pub fn parse_vbox_uuid(s: &str) -> Option<Uuid> {
    let s = s.trim();
    let s = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(s);
    if s.len() != 36 || s.bytes().filter(|&b| b == b'-').count() != 4 {
        return None;
    }
    Uuid::parse(s)
}

/// `VBoxManage list vms` / `list runningvms`: `"name" {uuid}` per line.
/// Lines of any other shape (the wrapper's WARNING) are skipped.
pub fn parse_vm_list(text: &str) -> Vec<(String, Uuid)> {
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_end();
        if !line.starts_with('"') || !line.ends_with('}') {
            continue;
        }
        let Some(b) = line.rfind("\" {") else { continue };
        if b == 0 {
            continue;
        }
        let name = &line[1..b];
        if let Some(u) = parse_vbox_uuid(&line[b + 2..]) {
            out.push((name.to_owned(), u));
        }
    }
    out
}

/// What `showvminfo --machinereadable` says about a machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmInfo {
    /// `name=`.
    pub name: String,
    /// `UUID=`.
    pub uuid: Option<Uuid>,
    /// `VMState=` (`poweroff`, `saved`, `running`, …).
    pub state: String,
    /// `CfgFile=`: the `.vbox` path.
    pub cfg_file: Option<String>,
    /// `VMStateFile=` while saved.
    pub state_file: Option<String>,
    /// `memory=` in MiB.
    pub memory_mib: u64,
    /// `cpus=`.
    pub cpus: u16,
}

/// Unquotes a value written by `outputMachineReadableString` (backslash
/// escapes only `"` and `\`).
fn unquote(v: &str) -> String {
    let v = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(v);
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            if let Some(n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses `showvminfo VM --machinereadable`. Only lines before the
/// (unescaped) snapshot block are trusted; the first occurrence of a key wins.
pub fn parse_vminfo(text: &str) -> Result<VmInfo> {
    let mut info = VmInfo::default();
    let mut seen = std::collections::HashSet::new();
    for raw in text.lines() {
        if raw.starts_with("SnapshotName") || raw.starts_with("CurrentSnapshot") {
            break;
        }
        let Some((k, v)) = raw.split_once('=') else { continue };
        if !seen.insert(k.to_owned()) {
            continue;
        }
        match k {
            "name" => info.name = unquote(v),
            "UUID" => info.uuid = parse_vbox_uuid(&unquote(v)),
            "VMState" => info.state = unquote(v),
            "CfgFile" => info.cfg_file = Some(unquote(v)),
            "VMStateFile" => info.state_file = Some(unquote(v)).filter(|s| !s.is_empty()),
            "memory" => info.memory_mib = unquote(v).parse().unwrap_or(0),
            "cpus" => info.cpus = unquote(v).parse().unwrap_or(0),
            _ => {}
        }
    }
    if info.state.is_empty() {
        return Err(Error::internal(V, "unexpected VBoxManage showvminfo output: no VMState"));
    }
    Ok(info)
}

/// `Snapshot taken. UUID: …` from `snapshot take`.
pub fn parse_taken(stdout: &str) -> Option<Uuid> {
    stdout.lines().find_map(|l| l.trim().strip_prefix("Snapshot taken. UUID:").and_then(parse_vbox_uuid))
}

/// An error VBoxManage printed on stderr.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VboxError {
    /// The symbolic code (`VBOX_E_OBJECT_NOT_FOUND`), empty when none was printed.
    pub code: String,
    /// The numeric result code (`0x80bb0001`), 0 when none was printed.
    pub hresult: u32,
    /// The message lines (without `Details:` / `Context:`), joined by spaces.
    pub message: String,
}

/// Parses VBoxManage's `VBoxManage: error: …` lines.
pub fn parse_error(stderr: &str) -> VboxError {
    let mut e = VboxError::default();
    let mut msgs: Vec<&str> = Vec::new();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("VBoxManage: error: ") else { continue };
        if let Some(d) = rest.strip_prefix("Details: ") {
            if let Some(c) = d.strip_prefix("code ") {
                let mut parts = c.split_whitespace();
                e.code = parts.next().unwrap_or_default().trim_end_matches(',').to_owned();
                if let Some(h) = parts.next() {
                    let h = h.trim_matches(|c| c == '(' || c == ')' || c == ',');
                    e.hresult = u32::from_str_radix(h.trim_start_matches("0x"), 16).unwrap_or(0);
                }
            }
        } else if !rest.starts_with("Context: ") {
            msgs.push(rest.trim());
        }
    }
    e.message = msgs.join(" ");
    e
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn weird_values_and_current_mid_listing() {
        let t = "SnapshotName=\"s1\"\nSnapshotUUID=\"50cbacaf-0e21-428a-958e-bb96338b29a3\"\nCurrentSnapshotName=\"s1\"\nCurrentSnapshotUUID=\"50cbacaf-0e21-428a-958e-bb96338b29a3\"\nCurrentSnapshotNode=\"SnapshotName\"\nSnapshotName-1=\"we\"ird = name\"\nSnapshotUUID-1=\"fab0e616-adc4-4ede-8e80-67d30117471a\"\nSnapshotDescription-1=\"a\nSnapshotName-9=\"x\"\nb\"\n";
        let l = parse_snapshot_list(t).unwrap();
        assert_eq!(l.nodes.len(), 2);
        assert_eq!(l.nodes[1].name, "we\"ird = name");
        assert_eq!(l.nodes[1].description.as_deref(), Some("a\nSnapshotName-9=\"x\"\nb"));
        assert_eq!(l.current, Some(0));
        assert_eq!(l.nodes[1].parent, Some(0));
    }

    #[test]
    fn errors_and_lists() {
        let e = parse_error("VBoxManage: error: Could not find a snapshot named 'x'\nVBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component SessionMachine, interface IMachine, callee nsISupports\nVBoxManage: error: Context: \"x\" at line 1\n");
        assert_eq!((e.code.as_str(), e.hresult), ("VBOX_E_OBJECT_NOT_FOUND", 0x80bb0001));
        assert_eq!(e.message, "Could not find a snapshot named 'x'");
        let v = parse_vm_list("WARNING: x\n\"a \"b\" {11111111-2222-3333-4444-555555555555}\n");
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, "a \"b");
        assert!(parse_snapshot_list("").unwrap().nodes.is_empty());
        assert!(parse_snapshot_list("SnapshotName-1=\"x\"\n").unwrap().nodes.is_empty());
        assert!(parse_snapshot_list("SnapshotName=\"x\"\nSnapshotUUID=\"nope\"\n").is_err());
    }
}

//! `--json` output of `snapshot-list` and `snapshot-info`: one object per
//! snapshot as docs/snapshot.schema.json describes, written straight to
//! the output (no document tree in memory; strings escaped by serde_json).

use std::collections::HashMap;
use std::io::{self, Write};

use virsnap_core::model::{Location, SnapshotEntry};

fn string<W: Write + ?Sized>(w: &mut W, s: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *w, s).map_err(io::Error::from)
}

fn opt_string<W: Write + ?Sized>(w: &mut W, s: Option<&str>) -> io::Result<()> {
    match s {
        Some(s) => string(w, s),
        None => w.write_all(b"null"),
    }
}

fn location(l: Location) -> Option<&'static str> {
    l.as_str()
}

/// Writes `e`'s fields, without the closing brace (callers add theirs).
fn open_object<W: Write + ?Sized>(w: &mut W, e: &SnapshotEntry) -> io::Result<()> {
    w.write_all(b"{\"name\":")?;
    string(w, &e.name)?;
    w.write_all(b",\"parent\":")?;
    opt_string(w, e.parent.as_deref())?;
    write!(w, ",\"children\":{},\"creationTime\":{},\"state\":", e.children, e.creation_time)?;
    opt_string(w, e.state.map(|s| s.as_str()))?;
    write!(w, ",\"current\":{},\"description\":", e.current)?;
    opt_string(w, e.description.as_deref())?;
    w.write_all(b",\"uuid\":")?;
    opt_string(w, e.uuid.map(|u| u.to_string()).as_deref())?;
    write!(w, ",\"metadata\":{},\"memory\":", e.metadata)?;
    opt_string(w, location(e.memory))?;
    w.write_all(b",\"location\":")?;
    string(w, if e.external { "external" } else { "internal" })?;
    w.write_all(b",\"disks\":[")?;
    for (k, d) in e.disks.iter().enumerate() {
        if k > 0 {
            w.write_all(b",")?;
        }
        w.write_all(b"{\"name\":")?;
        string(w, &d.name)?;
        w.write_all(b",\"snapshot\":")?;
        opt_string(w, location(d.snapshot))?;
        w.write_all(b",\"file\":")?;
        opt_string(w, d.file.as_deref())?;
        w.write_all(b"}")?;
    }
    w.write_all(b"]")
}

/// `snapshot-list --json`: an array of the entries, in the given order.
pub fn list<W: Write + ?Sized>(w: &mut W, entries: &[SnapshotEntry]) -> io::Result<()> {
    w.write_all(b"[")?;
    for (k, e) in entries.iter().enumerate() {
        w.write_all(if k > 0 { b",\n" } else { b"\n" })?;
        open_object(w, e)?;
        w.write_all(b"}")?;
    }
    w.write_all(if entries.is_empty() { b"]\n" } else { b"\n]\n" })
}

/// `snapshot-list --tree --json`: the roots (entries without a parent, or
/// whose parent is not listed), each with its listed children nested in
/// `childSnapshots`, siblings in the given order. Iterative: a chain of
/// any length does not grow the stack.
pub fn tree<W: Write + ?Sized>(w: &mut W, entries: &[SnapshotEntry]) -> io::Result<()> {
    let pos: HashMap<&str, usize> = entries.iter().enumerate().map(|(i, e)| (e.name.as_str(), i)).collect();
    let parent: Vec<Option<usize>> =
        entries.iter().map(|e| e.parent.as_deref().and_then(|p| pos.get(p).copied())).collect();
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); entries.len()];
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            kids[*p].push(i);
        }
    }
    w.write_all(b"[")?;
    let mut first_root = true;
    for root in (0..entries.len()).filter(|&i| parent[i].is_none()) {
        w.write_all(if first_root { b"\n" } else { b",\n" })?;
        first_root = false;
        // (node, next child position)
        let mut stack: Vec<(usize, usize)> = Vec::new();
        open_object(w, &entries[root])?;
        w.write_all(b",\"childSnapshots\":[")?;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            if let Some(&child) = kids[node].get(next) {
                top.1 += 1;
                if next > 0 {
                    w.write_all(b",")?;
                }
                open_object(w, &entries[child])?;
                w.write_all(b",\"childSnapshots\":[")?;
                stack.push((child, 0));
            } else {
                w.write_all(b"]}")?;
                stack.pop();
            }
        }
    }
    w.write_all(if first_root { b"]\n" } else { b"\n]\n" })
}

/// `snapshot-info --json`: the entry with the domain's name and the
/// number of descendants.
pub fn info<W: Write + ?Sized>(w: &mut W, domain: &str, e: &SnapshotEntry, descendants: usize) -> io::Result<()> {
    open_object(w, e)?;
    w.write_all(b",\"domain\":")?;
    string(w, domain)?;
    writeln!(w, ",\"descendants\":{descendants}}}")
}

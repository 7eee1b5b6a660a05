//! virsh's output helpers: tables (`vshTable`), trees (`vshTreePrint`),
//! local time formatting, file reading with libvirt's error wording.

use std::io::Write;

/// `vshTable` printing: cells separated so that columns line up, a dashed
/// line under the header; the header is left out in quiet mode.
pub fn table(header: &[&str], rows: &[Vec<String>], with_header: bool) -> String {
    let n = header.len();
    let mut widths = vec![0usize; n];
    let width = |s: &str| s.chars().count();
    if with_header {
        for (i, h) in header.iter().enumerate() {
            widths[i] = widths[i].max(width(h));
        }
    }
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(width(c));
        }
    }
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        for (i, c) in cells.iter().enumerate() {
            out.push(' ');
            out.push_str(c);
            if i + 1 < cells.len() {
                for _ in 0..(widths[i] - width(c) + 2) {
                    out.push(' ');
                }
            }
        }
        out.push('\n');
    };
    if with_header {
        let h: Vec<String> = header.iter().map(|s| (*s).to_owned()).collect();
        line(&h, &mut out);
        for w in &widths {
            for _ in 0..w + 3 {
                out.push('-');
            }
        }
        out.push('\n');
    }
    for r in rows {
        line(r, &mut out);
    }
    out
}

/// `vshTreePrint` over every root of `items` (entries whose parent is
/// `None`, in order), streamed to `out`.
///
/// Each item is (name, parent name); a child is printed under the item whose
/// name equals its parent, children in `items` order, exactly as virsh
/// does. The walk is iterative with a child index built once, so time is
/// linear in the output and memory in the number of items, whatever the
/// depth (a 100k-deep chain prints without recursion or buffering).
pub fn tree<W: Write + ?Sized>(items: &[(String, Option<String>)], out: &mut W) -> std::io::Result<()> {
    let n = items.len();
    let by_name: std::collections::HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.as_str(), i))
        .collect();
    // children in compressed rows: kids[start[p]..start[p + 1]] of p
    let parent_idx: Vec<Option<usize>> = items
        .iter()
        .map(|(_, p)| p.as_deref().and_then(|p| by_name.get(p).copied()))
        .collect();
    let mut start = vec![0usize; n + 1];
    for p in parent_idx.iter().flatten() {
        start[p + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut kids = vec![0usize; start[n]];
    for (i, p) in parent_idx.iter().enumerate() {
        if let Some(p) = *p {
            kids[fill[p]] = i;
            fill[p] += 1;
        }
    }
    drop(fill);
    drop(by_name);

    /// One level of `vshTreePrintInternal` in progress.
    struct Frame {
        dev: usize,
        lastdev: usize,
        root: bool,
        /// The next child of `dev` to print, as an index into `kids`.
        next: usize,
    }
    let mut indent: Vec<u8> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // prints `dev` and opens its level (the part before the child loop)
    let enter = |dev: usize,
                     lastdev: usize,
                     root: bool,
                     indent: &mut Vec<u8>,
                     stack: &mut Vec<Frame>,
                     out: &mut W|
     -> std::io::Result<()> {
        out.write_all(indent)?;
        if !root {
            out.write_all(b"+- ")?;
        }
        out.write_all(items[dev].0.as_bytes())?;
        out.write_all(b"\n")?;
        if !root {
            indent.push(if dev == lastdev { b' ' } else { b'|' });
            indent.push(b' ');
        }
        if start[dev + 1] > start[dev] {
            out.write_all(indent)?;
            out.write_all(b"  |\n")?;
        }
        indent.extend_from_slice(b"  ");
        stack.push(Frame {
            dev,
            lastdev,
            root,
            next: start[dev],
        });
        Ok(())
    };
    for (root, (_, parent)) in items.iter().enumerate() {
        if parent.is_some() {
            continue;
        }
        enter(root, root, true, &mut indent, &mut stack, out)?;
        while let Some(top) = stack.last_mut() {
            let (dev, end) = (top.dev, start[top.dev + 1]);
            if top.next < end {
                let child = kids[top.next];
                top.next += 1;
                // the last child of `dev` (virsh's nextlastdev)
                let last = kids[end - 1];
                enter(child, last, false, &mut indent, &mut stack, out)?;
                continue;
            }
            let Frame { lastdev, root, .. } = *top;
            stack.pop();
            indent.truncate(indent.len().saturating_sub(2));
            if start[dev + 1] == start[dev] && dev == lastdev {
                out.write_all(&indent)?;
                out.write_all(b"\n")?;
            }
            if !root {
                indent.truncate(indent.len().saturating_sub(2));
            }
        }
    }
    Ok(())
}

/// `%Y-%m-%d %H:%M:%S %z` of a Unix time in local time (core's
/// [`virsnap_core::time::format_local`]); `None` where virsh fails too.
pub fn format_time(t: i64) -> Option<String> {
    virsnap_core::time::format_local(t)
}

/// GLib's default log handler's line for a `g_return_if_fail` critical,
/// as virsh writes it to stderr: `\n(process:PID): GLib-CRITICAL **:
/// HH:MM:SS.mmm: MSG` (local time).
pub fn glib_critical(msg: &str) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let clock = virsnap_core::time::format_local(i64::try_from(now.as_secs()).unwrap_or(0)).unwrap_or_default();
    let hms = clock.get(clock.len().saturating_sub(14)..clock.len().saturating_sub(6)).unwrap_or("00:00:00");
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "\n(process:{}): GLib-CRITICAL **: {hms}.{:03}: {msg}\n", std::process::id(), now.subsec_millis());
    let _ = e.flush();
}

/// `strerror` text of an I/O error (Rust's text without " (os error N)").
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// `virFileReadAll` with libvirt's error wording.
pub fn read_file(path: &str) -> Result<String, String> {
    const MAX: u64 = 10 * 1024 * 1024;
    use std::io::Read;
    let mut f = std::fs::File::open(crate::rawbytes::path(path))
        .map_err(|e| format!("Failed to open file '{path}': {}", strerror(&e)))?;
    let mut buf = Vec::new();
    std::io::Read::by_ref(&mut f)
        .take(MAX + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("Failed to read file '{path}': {}", strerror(&e)))?;
    if buf.len() as u64 > MAX {
        return Err(format!("File '{path}' is too large"));
    }
    // invalid UTF-8 is carried for the XML check (libvirt refuses it)
    Ok(crate::rawbytes::decode(&buf))
}

/// `vshStringToArray`: split on ',', with ',,' escaping a comma.
pub fn string_to_array(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i] == ',' {
            if b.get(i + 1) == Some(&',') {
                cur.push(',');
                i += 2;
                continue;
            }
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(b[i]);
        }
        i += 1;
    }
    out.push(cur);
    out
}

/// `virBufferEscapeString`'s XML escaping (core's: escapes `< > & ' "`,
/// drops control characters other than tab, LF and CR, as virsh does).
pub fn xml_escape(s: &str) -> String {
    virsnap_core::xml::escape(s)
}

/// Progress callback: a single updating line on stderr (terminal only).
pub fn progress(op: &str, pct: u32) {
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "\r{op}: [{pct:3} %]");
    if pct >= 100 {
        let _ = writeln!(e);
    }
    let _ = e.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_layout() {
        let t = table(&["Name", "Creation Time", "State"], &[], true);
        assert_eq!(
            t,
            " Name   Creation Time   State\n-------------------------------\n"
        );
    }

    #[test]
    fn split() {
        assert_eq!(string_to_array("a,,b,c"), vec!["a,b", "c"]);
    }
}

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

/// `vshTreePrint` over (name, parent) entries, starting at root `root`.
pub fn tree(items: &[(String, Option<String>)], root: usize, out: &mut String) {
    let mut indent = String::new();
    tree_inner(items, root, root, true, &mut indent, out);
}

fn tree_inner(
    items: &[(String, Option<String>)],
    dev: usize,
    lastdev: usize,
    root: bool,
    indent: &mut String,
    out: &mut String,
) {
    let name = &items[dev].0;
    out.push_str(indent);
    if !root {
        out.push_str("+- ");
    }
    out.push_str(name);
    out.push('\n');
    if !root {
        indent.push(if dev == lastdev { ' ' } else { '|' });
        indent.push(' ');
    }
    let mut nextlast: Option<usize> = None;
    for (i, (_, p)) in items.iter().enumerate() {
        if p.as_deref() == Some(name.as_str()) {
            nextlast = Some(i);
        }
    }
    if nextlast.is_some() {
        out.push_str(indent);
        out.push_str("  |\n");
    }
    indent.push_str("  ");
    for (i, (_, p)) in items.iter().enumerate() {
        if p.as_deref() == Some(name.as_str()) {
            tree_inner(items, i, nextlast.unwrap_or(usize::MAX), false, indent, out);
        }
    }
    indent.truncate(indent.len() - 2);
    if nextlast.is_none() && dev == lastdev {
        out.push_str(indent);
        out.push('\n');
    }
    if !root {
        indent.truncate(indent.len() - 2);
    }
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
    let mut f = std::fs::File::open(path)
        .map_err(|e| format!("Failed to open file '{path}': {}", strerror(&e)))?;
    let mut buf = Vec::new();
    std::io::Read::by_ref(&mut f)
        .take(MAX + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("Failed to read file '{path}': {}", strerror(&e)))?;
    if buf.len() as u64 > MAX {
        return Err(format!("File '{path}' is too large"));
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
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

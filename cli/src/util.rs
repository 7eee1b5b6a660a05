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

/// Offset of local time from UTC at Unix time `t`, in seconds: from `TZ`
/// (a zoneinfo name or path, or a fixed POSIX offset like `UTC0`, `EST5`,
/// `<+03>-3`), else `/etc/localtime`, else UTC.
fn local_offset(t: i64) -> i64 {
    match std::env::var("TZ") {
        Ok(tz) => {
            let tz = tz.strip_prefix(':').unwrap_or(&tz);
            if tz.is_empty() {
                return 0;
            }
            let path = if tz.starts_with('/') {
                tz.to_owned()
            } else {
                format!("/usr/share/zoneinfo/{tz}")
            };
            let zone = if tz.contains("..") {
                None
            } else {
                std::fs::read(&path).ok().and_then(|b| tzif_offset(&b, t))
            };
            if let Some(off) = zone {
                return off;
            }
            posix_offset(tz)
        }
        Err(_) => std::fs::read("/etc/localtime")
            .ok()
            .and_then(|b| tzif_offset(&b, t))
            .unwrap_or(0),
    }
}

/// The fixed part of a POSIX TZ string (`NAME[+-]hh[:mm]`, sign inverted).
fn posix_offset(tz: &str) -> i64 {
    let rest = if let Some(r) = tz.strip_prefix('<') {
        r.split_once('>').map(|(_, r)| r).unwrap_or("")
    } else {
        tz.trim_start_matches(|c: char| c.is_ascii_alphabetic())
    };
    if rest.is_empty() {
        return 0;
    }
    let (sign, digits) = match rest.as_bytes()[0] {
        b'-' => (1, &rest[1..]),
        b'+' => (-1, &rest[1..]),
        _ => (-1, rest),
    };
    let digits: String = digits
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':')
        .collect();
    let mut parts = digits.split(':');
    let h: i64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let m: i64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    sign * (h * 3600 + m * 60)
}

/// UTC offset at `t` from a TZif file (RFC 8536), using the 64-bit data of
/// version 2+ files; after the last transition, the last type applies.
fn tzif_offset(b: &[u8], t: i64) -> Option<i64> {
    fn be32(b: &[u8], at: usize) -> Option<i64> {
        Some(i64::from(i32::from_be_bytes(
            b.get(at..at + 4)?.try_into().ok()?,
        )))
    }
    fn be64(b: &[u8], at: usize) -> Option<i64> {
        Some(i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
    }
    let counts = |at: usize| -> Option<[usize; 6]> {
        if b.get(at..at + 4)? != b"TZif" {
            return None;
        }
        let mut c = [0usize; 6];
        for (i, v) in c.iter_mut().enumerate() {
            *v = usize::try_from(be32(b, at + 20 + 4 * i)?).ok()?;
        }
        Some(c)
    };
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(0)?;
    let (base, tsize, c) = if b.get(4).copied().unwrap_or(0) >= b'2' {
        let v1 = 44 + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
        (v1, 8, counts(v1)?)
    } else {
        (0, 4, [isut, isstd, leap, timecnt, typecnt, charcnt])
    };
    let [_, _, _, timecnt, typecnt, _] = c;
    if typecnt == 0 {
        return None;
    }
    let times = base + 44;
    let idx = times + timecnt * tsize;
    let types = idx + timecnt;
    let mut ty = 0usize;
    for i in 0..timecnt {
        let tt = if tsize == 8 {
            be64(b, times + i * 8)?
        } else {
            be32(b, times + i * 4)?
        };
        if tt > t {
            break;
        }
        ty = usize::from(*b.get(idx + i)?);
    }
    be32(b, types + ty.min(typecnt - 1) * 6)
}

/// `%Y-%m-%d %H:%M:%S %z` of a Unix time in local time.
pub fn format_time(t: i64) -> String {
    let off = local_offset(t);
    let t = t + off;
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.abs();
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60,
        a / 3600,
        (a % 3600) / 60
    )
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
    fn zoneinfo_offsets() {
        if let Ok(b) = std::fs::read("/usr/share/zoneinfo/Europe/Paris") {
            assert_eq!(tzif_offset(&b, 1_795_630_999), Some(3600));
            assert_eq!(tzif_offset(&b, 1_751_328_000), Some(7200));
        }
        assert_eq!(posix_offset("UTC0"), 0);
        assert_eq!(posix_offset("EST5"), -5 * 3600);
        assert_eq!(posix_offset("<+0530>-5:30"), 5 * 3600 + 1800);
    }

    #[test]
    fn time_format() {
        if std::env::var_os("TZ").is_some()
            || std::fs::read("/etc/localtime")
                .ok()
                .and_then(|b| tzif_offset(&b, 0))
                != Some(0)
        {
            return;
        }
        assert_eq!(format_time(0), "1970-01-01 00:00:00 +0000");
        assert_eq!(format_time(1_795_630_999), "2026-11-25 18:23:19 +0000");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 +0000");
    }

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

//! `<domainsnapshot>` ↔ [`SnapshotDef`], following libvirt's
//! `virDomainSnapshotDefParse` / `virDomainSnapshotDefFormat`.

use crate::error::{Error, ErrorDomain, Result};
use crate::model::{DiskDef, Location, SnapshotDef, SnapshotState};
use crate::xml::element::{escape_into, parse_document, Element, Node};

const DOM: ErrorDomain = ErrorDomain::DomainSnapshot;

/// How to read a `<domainsnapshot>`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseFlags {
    /// `PARSE_REDEFINE`: read state, parent, creationTime, domain, cookie; require name.
    pub redefine: bool,
    /// `PARSE_INTERNAL`: read (and require) `<active>` and virsnap's private data.
    pub internal: bool,
}

/// How to write a `<domainsnapshot>`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FormatFlags {
    /// `FORMAT_SECURE`: include secure data (kept for API parity; the
    /// embedded domain is stored already filtered by the driver).
    pub secure: bool,
    /// `FORMAT_INTERNAL`: write `<active>` and virsnap's private data.
    pub internal: bool,
    /// `FORMAT_CURRENT`: with `internal`, `<active>1</active>`.
    pub current: bool,
}

/// Parses a `<domainsnapshot>` document.
///
/// Accepts libvirt's form and the seed's (`<creationdate>`, upper-case
/// `<state>`). Errors carry libvirt's codes and wording.
pub fn parse_snapshot(xml: &str, flags: ParseFlags) -> Result<SnapshotDef> {
    let root = parse_document(xml, "domain_snapshot", DOM)?;
    if root.name != "domainsnapshot" {
        return Err(Error::xml(
            ErrorDomain::Xml,
            format!("expecting root element of 'domainsnapshot', not '{}'", root.name),
        ));
    }
    from_element(&root, flags)
}

/// Reads a `<domainsnapshot>` already parsed into an element (node files).
pub fn snapshot_from_element(root: &Element, flags: ParseFlags) -> Result<SnapshotDef> {
    from_element(root, flags)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn from_element(root: &Element, flags: ParseFlags) -> Result<SnapshotDef> {
    let mut def = SnapshotDef {
        name: non_empty(root.child_text("name")),
        description: non_empty(root.child_text("description")),
        ..SnapshotDef::default()
    };

    if flags.redefine {
        if def.name.is_none() {
            return Err(Error::xml(DOM, "a redefined snapshot must have a name"));
        }
        def.creation_time = match (root.child_text("creationTime"), root.child_text("creationdate")) {
            (Some(t), _) => t.trim().parse::<i64>().map_err(|_| {
                Error::internal(DOM, format!("invalid creationTime '{t}' in snapshot XML"))
            })?,
            (None, Some(d)) => parse_seed_date(&d)
                .ok_or_else(|| Error::internal(DOM, format!("invalid creationdate '{d}' in snapshot XML")))?,
            (None, None) => {
                return Err(Error::internal(DOM, "missing creationTime from existing snapshot"));
            }
        };
        def.parent = non_empty(root.path("parent/name").map(Element::text));
        let state = root
            .child_text("state")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::xml(DOM, "missing state from existing snapshot"))?;
        def.state = Some(SnapshotState::parse(state.trim()).ok_or_else(|| {
            Error::config_unsupported(DOM, format!("Invalid state '{state}' in domain snapshot XML"))
        })?);
        if let Some(d) = root.child("domain") {
            if d.attr("type").is_some() {
                def.domain = Some(std::sync::Arc::new(d.clone()));
            }
        }
        if let Some(d) = root.child("inactiveDomain") {
            def.inactive_domain = Some(d.clone());
        }
        if def.state.is_some_and(SnapshotState::is_online) {
            def.cookie = root.child("cookie").filter(|c| c.has_element_children()).cloned();
        }
    }
    // Old-style or seed `<domain><uuid>`: checked against the domain by the driver.
    if let Some(u) = root.path("domain/uuid") {
        def.domain_uuid = non_empty(Some(u.text().trim().to_owned()));
    }

    if let Some(mem) = root.child("memory") {
        parse_memory(mem, &mut def)?;
    }

    if let Some(disks) = root.child("disks") {
        for d in disks.elements().filter(|e| e.name == "disk") {
            def.disks.push(parse_disk(d)?);
        }
    }

    if flags.internal {
        let active = root
            .child_text("active")
            .ok_or_else(|| Error::xml(DOM, "Could not find 'active' element"))?;
        def.active = Some(active.trim().parse::<i64>().map_err(|_| {
            Error::xml(DOM, format!("Could not parse 'active' element '{active}'"))
        })? != 0);
        def.private = root.child("virsnap").cloned();
    }
    Ok(def)
}

fn parse_memory(mem: &Element, def: &mut SnapshotDef) -> Result<()> {
    if let Some(s) = mem.attr("snapshot") {
        def.memory = match Location::parse(s) {
            Some(Location::Manual) | None => {
                return Err(Error::config_unsupported(DOM, format!("unknown memory snapshot setting '{s}'")));
            }
            Some(l) => l,
        };
    }
    if let Some(file) = mem.attr("file").filter(|f| !f.is_empty()) {
        if !file.starts_with('/') {
            return Err(Error::xml(DOM, format!("memory snapshot file path '{file}' must be absolute")));
        }
        if def.memory == Location::Default {
            def.memory = Location::External;
        } else if def.memory != Location::External {
            return Err(Error::xml(
                DOM,
                format!("memory filename '{file}' requires external snapshot"),
            ));
        }
        def.memory_file = Some(file.to_owned());
    } else if def.memory == Location::External {
        return Err(Error::xml(DOM, "external memory snapshots require a filename"));
    }
    Ok(())
}

fn parse_disk(d: &Element) -> Result<DiskDef> {
    let name = d
        .attr("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::internal(DOM, "missing name from disk snapshot element"))?;
    let mut disk = DiskDef { name: name.to_owned(), ..DiskDef::default() };
    if let Some(s) = d.attr("snapshot") {
        disk.snapshot = Location::parse(s).ok_or_else(|| {
            Error::config_unsupported(DOM, format!("unknown disk snapshot setting '{s}'"))
        })?;
    }
    let disk_type = d.attr("type").unwrap_or("file");
    if !matches!(disk_type, "file" | "block" | "network") {
        return Err(Error::xml(DOM, format!("unknown disk snapshot type '{disk_type}'")));
    }
    if let Some(src) = d.child("source") {
        if !src.attrs.is_empty() || src.has_element_children() {
            let mut src = src.clone();
            src.strip_whitespace();
            if let Some(p) = src.attr("file").or_else(|| src.attr("dev")) {
                if !p.starts_with('/') {
                    return Err(Error::xml(DOM, format!("disk snapshot image path '{p}' must be absolute")));
                }
            }
            disk.source = Some(src);
        }
    }
    if let Some(drv) = d.child("driver") {
        if drv.attr("type").is_some() {
            let mut drv = drv.clone();
            drv.strip_whitespace();
            normalize_metadata_cache(&mut drv)?;
            disk.driver = Some(drv);
        }
    }
    disk.delete_in_progress = d.child("snapshotDeleteInProgress").is_some();
    if disk.snapshot == Location::Default && (disk.source.is_some() || disk.driver.is_some()) {
        disk.snapshot = Location::External;
    }
    if disk.source.is_some() || disk.driver.is_some() {
        disk.disk_type = Some(disk_type.to_owned());
    }
    Ok(disk)
}


/// `<metadata_cache><max_size unit=…>N</max_size>` is written in bytes.
fn normalize_metadata_cache(drv: &mut Element) -> Result<()> {
    let Some(max) = drv.child_mut("metadata_cache").and_then(|m| m.child_mut("max_size")) else {
        return Ok(());
    };
    let n: u64 = max
        .text()
        .trim()
        .parse()
        .map_err(|_| Error::xml(DOM, "invalid value for metadata_cache max_size"))?;
    let unit = max.attr("unit").unwrap_or("bytes").to_owned();
    let scale: u64 = match unit.as_str() {
        "b" | "bytes" => 1,
        "KB" => 1000,
        "k" | "K" | "KiB" => 1024,
        "MB" => 1_000_000,
        "M" | "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "G" | "GiB" => 1 << 30,
        _ => return Err(Error::xml(DOM, format!("unknown unit '{unit}' for metadata_cache max_size"))),
    };
    let bytes = n
        .checked_mul(scale)
        .ok_or_else(|| Error::xml(DOM, "metadata_cache max_size is too large"))?;
    max.set_attr("unit", "bytes");
    max.children = vec![Node::Text(bytes.to_string())];
    Ok(())
}

/// Seed `<creationdate>`: epoch seconds or ISO 8601 (`2010-04-01T12:00:00Z`,
/// optional fraction, `Z` or `±HH:MM` offset, or a space for `T`).
fn parse_seed_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let (t, mut rest) = crate::time::parse_datetime(s, b"T ")?;
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "" | "Z" => 0,
        r if (r.starts_with('+') || r.starts_with('-')) && r.len() == 6 && &r[3..4] == ":" => {
            let sign = if r.starts_with('-') { -1 } else { 1 };
            sign * (r[1..3].parse::<i64>().ok()? * 3600 + r[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    Some(t - offset)
}

const SPACES: &str = "                ";

fn line(out: &mut String, indent: usize, tag: &str, text: &str) {
    match SPACES.get(..indent) {
        Some(sp) => out.push_str(sp),
        None => out.extend(std::iter::repeat_n(' ', indent)),
    }
    out.push('<');
    out.push_str(tag);
    out.push('>');
    escape_into(out, text);
    out.push_str("</");
    out.push_str(tag);
    out.push_str(">\n");
}

fn attr(out: &mut String, k: &str, v: &str) {
    out.push(' ');
    out.push_str(k);
    out.push_str("='");
    escape_into(out, v);
    out.push('\'');
}

/// Formats a definition exactly as libvirt's `virDomainSnapshotDefFormat`.
///
/// `domain_uuid` is written as `<domain><uuid>…</uuid></domain>` when the
/// definition has no full `<domain>`.
pub fn format_snapshot(def: &SnapshotDef, domain_uuid: Option<&str>, flags: FormatFlags) -> String {
    format_snapshot_with(def, domain_uuid, flags, None)
}

/// [`format_snapshot`] with the embedded `<domain>` already formatted:
/// `domain_text` must be `def.domain`'s `write_libvirt(…, 2)` output (a
/// driver caches it per shared domain tree, so unchanged snapshots do not
/// re-format their domain on every `GetXMLDesc`).
pub fn format_snapshot_with(
    def: &SnapshotDef,
    domain_uuid: Option<&str>,
    flags: FormatFlags,
    domain_text: Option<&str>,
) -> String {
    // Header lines, disks and the closing tag fit in 512 bytes for usual
    // definitions: one allocation, no regrowth while writing.
    let mut out = String::with_capacity(512 + 96 * def.disks.len() + domain_text.map_or(0, str::len));
    out.push_str("<domainsnapshot>\n");
    if let Some(n) = &def.name {
        line(&mut out, 2, "name", n);
    }
    if let Some(d) = &def.description {
        line(&mut out, 2, "description", d);
    }
    if let Some(s) = def.state {
        line(&mut out, 2, "state", s.as_str());
    }
    if let Some(p) = &def.parent {
        out.push_str("  <parent>\n");
        line(&mut out, 4, "name", p);
        out.push_str("  </parent>\n");
    }
    // libvirt omits a zero creationTime from dumpxml; the internal
    // (metadata) form always has it, since reading metadata back requires
    // it (else a snapshot redefined with creationTime 0 would be lost).
    if def.creation_time != 0 || flags.internal {
        line(&mut out, 2, "creationTime", &def.creation_time.to_string());
    }
    if let Some(m) = def.memory.as_str() {
        out.push_str("  <memory");
        attr(&mut out, "snapshot", m);
        if let Some(f) = &def.memory_file {
            attr(&mut out, "file", f);
        }
        out.push_str("/>\n");
    }
    if !def.disks.is_empty() {
        out.push_str("  <disks>\n");
        for d in &def.disks {
            format_disk(&mut out, d);
        }
        out.push_str("  </disks>\n");
    }
    if let Some(d) = &def.domain {
        match domain_text {
            Some(t) => out.push_str(t),
            None => d.write_libvirt(&mut out, 2),
        }
    } else if let Some(u) = domain_uuid {
        out.push_str("  <domain>\n");
        line(&mut out, 4, "uuid", u);
        out.push_str("  </domain>\n");
    }
    if let Some(d) = &def.inactive_domain {
        d.write_libvirt(&mut out, 2);
    }
    if let Some(c) = &def.cookie {
        c.write_libvirt(&mut out, 2);
    }
    if flags.internal {
        line(&mut out, 2, "active", if flags.current { "1" } else { "0" });
        if let Some(p) = &def.private {
            p.write_libvirt(&mut out, 2);
        }
    }
    out.push_str("</domainsnapshot>\n");
    out
}

fn format_disk(out: &mut String, d: &DiskDef) {
    out.push_str("    <disk");
    attr(out, "name", &d.name);
    if let Some(s) = d.snapshot.as_str() {
        attr(out, "snapshot", s);
    }
    let has_body = d.delete_in_progress || d.driver.is_some() || d.source.is_some();
    if let Some(t) = &d.disk_type {
        if d.source.is_some() || d.driver.is_some() {
            attr(out, "type", t);
        }
    }
    if !has_body {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    if d.delete_in_progress {
        out.push_str("      <snapshotDeleteInProgress/>\n");
    }
    if let Some(drv) = &d.driver {
        drv.write_libvirt(out, 6);
    }
    if let Some(src) = &d.source {
        src.write_libvirt(out, 6);
    }
    out.push_str("    </disk>\n");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use crate::error::ErrorCode;

    fn parse_error_code(xml: &str, flags: ParseFlags) -> Option<ErrorCode> {
        parse_snapshot(xml, flags).err().map(|e| e.code)
    }

    #[test]
    fn seed_dates() {
        assert_eq!(parse_seed_date("1272917631"), Some(1_272_917_631));
        assert_eq!(parse_seed_date("2010-05-03T20:13:51Z"), Some(1_272_917_631));
        assert_eq!(parse_seed_date("2010-05-03 22:13:51+02:00"), Some(1_272_917_631));
        assert_eq!(parse_seed_date("2010-05-03T20:13:51.25Z"), Some(1_272_917_631));
        assert_eq!(parse_seed_date("yesterday"), None);
    }

    #[test]
    fn seed_form_is_accepted_on_redefine() {
        let def = parse_snapshot(
            "<domainsnapshot><name>s</name><state>RUNNING</state><creationdate>2010-05-03T20:13:51Z</creationdate><domain><uuid>9d37b878-a7cc-9f9a-b78f-49b3abad25a8</uuid></domain></domainsnapshot>",
            ParseFlags { redefine: true, internal: false },
        )
        .unwrap();
        assert_eq!(def.state, Some(SnapshotState::Running));
        assert_eq!(def.creation_time, 1_272_917_631);
        assert_eq!(def.domain_uuid.as_deref(), Some("9d37b878-a7cc-9f9a-b78f-49b3abad25a8"));
    }

    #[test]
    fn libvirt_errors() {
        let r = ParseFlags { redefine: true, internal: false };
        let e = parse_snapshot("<foo/>", ParseFlags::default()).unwrap_err();
        assert_eq!((e.code, e.domain), (ErrorCode::XmlError, ErrorDomain::Xml));
        assert_eq!(e.message, "XML error: expecting root element of 'domainsnapshot', not 'foo'");
        let e = parse_snapshot("<domainsnapshot><name>b</name></domainsnapshot>", r).unwrap_err();
        assert_eq!(e.message, "internal error: missing creationTime from existing snapshot");
        let e = parse_snapshot(
            "<domainsnapshot><name>b</name><state>runnin</state><creationTime>5</creationTime></domainsnapshot>",
            r,
        )
        .unwrap_err();
        assert_eq!(e.message, "unsupported configuration: Invalid state 'runnin' in domain snapshot XML");
        let e = parse_snapshot("<domainsnapshot><memory snapshot='external'/></domainsnapshot>", ParseFlags::default())
            .unwrap_err();
        assert_eq!(e.message, "XML error: external memory snapshots require a filename");
        assert_eq!(parse_error_code("<domainsnapshot><disks><disk/></disks></domainsnapshot>", ParseFlags::default()), Some(ErrorCode::InternalError));
        assert_eq!(parse_error_code("<domainsnapshot><disks><disk name='a'><source file='rel'/></disk></disks></domainsnapshot>", ParseFlags::default()), Some(ErrorCode::XmlError));
    }
}

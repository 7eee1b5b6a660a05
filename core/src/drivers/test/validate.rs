//! `VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE`: a structural check of a
//! `<domainsnapshot>` against the rules of libvirt's `domainsnapshot.rng`
//! that matter for snapshots (elements, disk attributes, source shapes).
//! Failures are `VIR_ERR_XML_INVALID_SCHEMA` from `VIR_FROM_XML`.

use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::xml::{parse_document, Element};

fn invalid(detail: String) -> Error {
    Error::new(ErrorCode::XmlInvalidSchema, ErrorDomain::Xml, detail)
}

/// Validates `xml` structurally; see the module doc.
pub fn validate_snapshot_schema(xml: &str) -> Result<()> {
    let root = parse_document(xml, "domain_snapshot", ErrorDomain::DomainSnapshot)?;
    const TOP: &[&str] = &[
        "name", "description", "state", "creationTime", "parent", "memory", "disks", "domain", "inactiveDomain", "cookie", "active",
    ];
    for c in root.elements() {
        if !TOP.contains(&c.name.as_str()) {
            return Err(invalid(format!("Element domainsnapshot has extra content: {}", c.name)));
        }
    }
    if let Some(s) = root.child_text("state") {
        const STATES: &[&str] = &["nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended", "disk-snapshot"];
        if !STATES.contains(&s.as_str()) {
            return Err(invalid(format!("Invalid value for state: {s}")));
        }
    }
    if let Some(t) = root.child_text("creationTime") {
        if t.parse::<u64>().is_err() {
            return Err(invalid(format!("Invalid value for creationTime: {t}")));
        }
    }
    if let Some(m) = root.child("memory") {
        check_attrs(m, &["snapshot", "file"])?;
    }
    if let Some(disks) = root.child("disks") {
        for d in disks.elements() {
            if d.name != "disk" {
                return Err(invalid(format!("Element disks has extra content: {}", d.name)));
            }
            check_disk(d)?;
        }
    }
    Ok(())
}

fn check_attrs(e: &Element, allowed: &[&str]) -> Result<()> {
    for (k, _) in &e.attrs {
        if !allowed.contains(&k.as_str()) {
            return Err(invalid(format!("Invalid attribute {k} for element {}", e.name)));
        }
    }
    Ok(())
}

fn check_disk(d: &Element) -> Result<()> {
    check_attrs(d, &["name", "snapshot", "type"])?;
    let ty = d.attr("type").unwrap_or("file");
    for c in d.elements() {
        match c.name.as_str() {
            "driver" => check_attrs(c, &["type"])?,
            "snapshotDeleteInProgress" => {}
            "source" => match ty {
                "file" | "block" => {
                    check_attrs(c, if ty == "file" { &["file"] } else { &["dev"] })?;
                    for s in c.elements() {
                        if s.name != "seclabel" {
                            return Err(invalid(format!("Element source has extra content: {}", s.name)));
                        }
                    }
                }
                "network" => {
                    check_attrs(c, &["protocol", "name", "tls"])?;
                    for s in c.elements() {
                        if s.name != "host" {
                            return Err(invalid(format!("Element source has extra content: {}", s.name)));
                        }
                    }
                }
                _ => return Err(invalid(format!("Invalid value for type: {ty}"))),
            },
            other => return Err(invalid(format!("Element disk has extra content: {other}"))),
        }
    }
    Ok(())
}

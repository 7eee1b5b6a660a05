//! Disk alignment of a new snapshot against its domain
//! (libvirt's `virDomainSnapshotAlignDisks`) as the test driver does it.
//!
//! The qemu driver aligns against its parsed `DomainDef` in
//! `qemu/snapshots.rs` (`align_disks`) because its rules differ, as
//! libvirt's qemu driver adds its own checks after the common alignment:
//! read-only disks default to `no`; an external disk's generated file name
//! does not need the source to exist yet (it may be created as an overlay);
//! external disks get `<driver type='qcow2'/>`; `manual` is refused; two
//! disks naming the same file are a "collision"; and "specified twice"
//! names the domain's target. This module has the test driver's rules:
//! `internal`-only when the default is internal, and a generated name only
//! for an existing regular file.

use crate::error::{Error, ErrorDomain, Result};
use crate::model::{DiskDef, Location, SnapshotDef};
use crate::xml::Element;

/// A domain disk as alignment sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainDisk {
    /// Target device (`vda`).
    pub target: String,
    /// Source path, if any.
    pub source: Option<String>,
    /// The domain disk's own `snapshot=` attribute.
    pub snapshot: Location,
}

/// The file disks of a `<domain>` element, in domain order.
pub fn domain_disks(domain: &Element) -> Vec<DomainDisk> {
    let Some(devices) = domain.child("devices") else { return Vec::new() };
    devices
        .elements()
        .filter(|e| e.name == "disk" && e.attr("device").is_none_or(|d| d == "disk" || d == "cdrom" || d == "floppy" || d == "lun"))
        .filter_map(|d| {
            let target = d.child("target")?.attr("dev")?.to_owned();
            let source = d.child("source").and_then(|s| s.attr("file").or_else(|| s.attr("dev"))).map(str::to_owned);
            let snapshot = d.attr("snapshot").and_then(Location::parse).unwrap_or_default();
            Some(DomainDisk { target, source, snapshot })
        })
        .collect()
}

/// Rebuilds `def.disks` with one entry per domain disk, in domain order,
/// every listed disk matched by target or source path. `default` is the
/// location unlisted disks get. Errors are libvirt's, in `err_domain`.
pub fn align_disks(def: &mut SnapshotDef, disks: &[DomainDisk], default: Location, err_domain: ErrorDomain) -> Result<()> {
    if def.disks.len() > disks.len() {
        return Err(Error::config_unsupported(err_domain, "too many disk snapshot requests for domain"));
    }
    let mut slots: Vec<Option<DiskDef>> = vec![None; disks.len()];
    for d in std::mem::take(&mut def.disks) {
        let idx = disks
            .iter()
            .position(|dd| dd.target == d.name)
            .or_else(|| disks.iter().position(|dd| dd.source.as_deref() == Some(d.name.as_str())))
            .ok_or_else(|| Error::config_unsupported(err_domain, format!("no disk named '{}'", d.name)))?;
        if slots[idx].is_some() {
            return Err(Error::config_unsupported(err_domain, format!("disk '{}' specified twice", d.name)));
        }
        let mut d = d;
        if default == Location::Internal && d.snapshot != Location::Internal && d.snapshot != Location::Default {
            let allowed_no = d.snapshot == Location::No && disks[idx].snapshot == Location::No;
            if !allowed_no {
                // libvirt names the disk as the caller gave it (target or path).
                return Err(Error::config_unsupported(
                    err_domain,
                    format!("disk '{}' must use snapshot mode 'internal'", d.name),
                ));
            }
        }
        d.name = disks[idx].target.clone();
        if d.snapshot == Location::Default {
            d.snapshot = if disks[idx].snapshot == Location::Default { default } else { disks[idx].snapshot };
        }
        if d.source.is_some() && d.snapshot != Location::External {
            return Err(Error::config_unsupported(
                err_domain,
                format!("file '{}' for disk '{}' requires use of external snapshot mode", d.source_path().unwrap_or(""), d.name),
            ));
        }
        slots[idx] = Some(d);
    }
    def.disks = slots
        .into_iter()
        .zip(disks)
        .map(|(slot, dd)| {
            slot.unwrap_or_else(|| DiskDef {
                name: dd.target.clone(),
                snapshot: if dd.source.is_none() {
                    Location::No
                } else if dd.snapshot == Location::Default {
                    default
                } else {
                    dd.snapshot
                },
                ..DiskDef::default()
            })
        })
        .collect();
    generate_external_names(def, disks, err_domain)
}

/// External disks without a file get libvirt's generated name: the domain
/// disk's path minus its last extension, plus `.<snapshot name>`. Only
/// existing regular files qualify.
fn generate_external_names(def: &mut SnapshotDef, disks: &[DomainDisk], err_domain: ErrorDomain) -> Result<()> {
    let snap_name = def.name.clone().unwrap_or_default();
    for (d, dd) in def.disks.iter_mut().zip(disks) {
        if d.snapshot != Location::External || d.source.is_some() {
            continue;
        }
        let regular = dd.source.as_deref().is_some_and(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()));
        let Some(src) = dd.source.as_deref().filter(|_| regular) else {
            return Err(Error::config_unsupported(
                err_domain,
                format!("source for disk '{}' is not a regular file; refusing to generate external snapshot name", d.name),
            ));
        };
        let base = match src.rfind('.') {
            Some(dot) if !src[dot..].contains('/') => &src[..dot],
            _ => src,
        };
        d.source = Some(Element::new("source").with_attr("file", format!("{base}.{snap_name}")));
        d.disk_type = Some("file".to_owned());
    }
    Ok(())
}

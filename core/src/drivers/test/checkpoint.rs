//! `testDomainCheckpointCreateXML`, as far as virsnap models checkpoints:
//! a name per domain, libvirt's checks on creating one, and the rule that
//! checkpoints and snapshots exclude each other. Checkpoint redefinition
//! is not modelled (`VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE` is refused).

use crate::drivers::align::domain_disks;
use crate::drivers::check_flags;
use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::xml::parse_document;

use super::domain::TestDomain;

const T: ErrorDomain = ErrorDomain::Test;
/// `VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE`.
const QUIESCE: u32 = 1 << 1;

/// The checks libvirt makes before it parses the checkpoint XML: no
/// snapshots, a persistent and active domain.
pub fn check_state(dom: &TestDomain) -> Result<()> {
    let unsupported = |m: &str| Err(Error::new(ErrorCode::OperationUnsupported, T, m));
    if !dom.snapshots.is_empty() {
        return unsupported("cannot create checkpoint while snapshot exists");
    }
    if !dom.persistent {
        return unsupported("cannot create checkpoint for transient domain");
    }
    if !dom.state.is_active() {
        return unsupported("cannot create checkpoint for inactive domain");
    }
    Ok(())
}

/// Creates checkpoint `xml` on `dom`; returns its name (the current Unix
/// time when the XML names none, as libvirt).
pub fn create_xml(dom: &mut TestDomain, xml: &str, flags: u32) -> Result<String> {
    check_flags(flags, QUIESCE, T, "testDomainCheckpointCreateXML")?;
    check_state(dom)?;
    let root = parse_document(xml, "domain_checkpoint", ErrorDomain::Domain)?;
    let name = match root.child_text("name") {
        Some(n) => n,
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0).to_string(),
    };
    // virDomainCheckpointAlignDisks
    let config = |m: String| Error::config_unsupported(ErrorDomain::Domain, m);
    let wanted: Vec<String> = root
        .child("disks")
        .map(|d| d.elements().filter(|e| e.name == "disk").map(|e| e.attr("name").unwrap_or_default().to_owned()).collect())
        .unwrap_or_default();
    let disks = domain_disks(&dom.def);
    if wanted.len() > disks.len() {
        return Err(config("too many disk checkpoint requests for domain".into()));
    }
    if disks.is_empty() {
        return Err(config("domain must have at least one disk to perform checkpoints".into()));
    }
    let mut seen = Vec::new();
    for w in &wanted {
        let idx = disks
            .iter()
            .position(|d| &d.target == w || d.source.as_deref() == Some(w.as_str()))
            .ok_or_else(|| config(format!("no disk named '{w}'")))?;
        if seen.contains(&idx) {
            return Err(config(format!("disk '{w}' specified twice")));
        }
        seen.push(idx);
    }
    if dom.checkpoints.contains(&name) {
        return Err(Error::new(ErrorCode::OperationFailed, ErrorDomain::Domain, format!("domain moment {name} already exists")));
    }
    dom.checkpoints.push(name.clone());
    Ok(name)
}

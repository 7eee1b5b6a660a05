//! The test driver's initial state: libvirt's built-in `test:///default`
//! fixture, or a node file (`test:///ABS/PATH.xml`).

use std::path::Path;

use crate::error::{Error, ErrorDomain, Result};
use crate::model::DomainState;
use crate::tree::SnapshotTree;
use crate::xml::{parse_document, snapshot_from_element, Element, ParseFlags};

use super::domain::{parse_domain, TestDomain};

/// libvirt 9.0's built-in default domain, as `virsh dumpxml --inactive test` prints it.
pub const DEFAULT_DOMAIN_XML: &str = "<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
";

/// The pristine `test:///default` state: domain `test`, running, id 1.
pub fn default_domains() -> Result<Vec<TestDomain>> {
    let el = parse_document(DEFAULT_DOMAIN_XML, "domain_definition", ErrorDomain::Test)?;
    let mut d = parse_domain(el)?;
    d.state = DomainState::Running;
    d.reason = 0;
    d.id = 1;
    Ok(vec![d])
}

/// A parsed node file: its domains and the users of its `<auth>` section.
#[derive(Debug)]
pub struct NodeFile {
    /// The domains, in file order.
    pub domains: Vec<TestDomain>,
    /// `<auth><user password='…'>name</user></auth>`: (name, password).
    pub users: Vec<(String, Option<String>)>,
}

/// Reads an XML file of a node description: a regular file (a FIFO or a
/// device is refused, not read) of at most `MAX_DOCUMENT_BYTES`.
fn read_xml_file(path: &Path) -> Result<String> {
    use crate::fsio::ReadError;
    match crate::fsio::read_regular_following(path, crate::xml::MAX_DOCUMENT_BYTES as u64) {
        Ok(t) => Ok(t),
        Err(ReadError::Io(e)) => Err(Error::system(ErrorDomain::Test, format!("failed to read '{}'", path.display()), &e)),
        Err(ReadError::TooLarge(_)) => Err(Error::internal(ErrorDomain::Test, format!("'{}' is too large", path.display()))),
        Err(e) => Err(Error::internal(ErrorDomain::Test, format!("failed to read '{}': {e}", path.display()))),
    }
}

/// Loads a libvirt test-driver node file: `<node>` with `<domain>` children
/// (inline, or `<domain file='…'/>` relative to the node file), each may hold
/// `<test:runstate>` and `<test:domainsnapshot>` elements.
pub fn load_node_file(path: &Path) -> Result<NodeFile> {
    let text = read_xml_file(path)?;
    let root = parse_document(&text, &path.display().to_string(), ErrorDomain::Test)?;
    if root.name != "node" {
        return Err(Error::xml(ErrorDomain::Test, format!("expecting root element of 'node', not '{}'", root.name)));
    }
    let base = path.parent().unwrap_or(Path::new("/"));
    let mut out: Vec<TestDomain> = Vec::new();
    let mut next_id = 1;
    for el in root.elements().filter(|e| e.name == "domain") {
        let el = match el.attr("file") {
            Some(f) => {
                let p = base.join(f);
                let t = read_xml_file(&p)?;
                parse_document(&t, "domain_definition", ErrorDomain::Test)?
            }
            None => el.clone(),
        };
        let runstate = el
            .elements()
            .find(|c| c.name.ends_with(":runstate"))
            .and_then(|c| c.text().trim().parse::<i32>().ok());
        let snapshot_els: Vec<Element> = el.elements().filter(|c| c.name.ends_with(":domainsnapshot")).cloned().collect();
        let mut clean = el.clone();
        clean.children.retain(|n| !matches!(n, crate::xml::Node::Element(c) if c.name.contains(':')));
        let mut dom = parse_domain(clean)?;
        if out.iter().any(|d| d.name == dom.name || d.uuid == dom.uuid) {
            return Err(Error::op_failed(ErrorDomain::Domain, format!("domain '{}' already exists", dom.name)));
        }
        dom.state = match runstate {
            Some(5) => DomainState::Shutoff,
            Some(3) => DomainState::Paused,
            _ => DomainState::Running,
        };
        if dom.state.is_active() {
            dom.id = next_id;
            next_id += 1;
        }
        dom.snapshots = load_snapshots(&snapshot_els, &dom.name)?;
        out.push(dom);
    }
    let mut users = Vec::new();
    for auth in root.elements().filter(|e| e.name == "auth") {
        for u in auth.elements().filter(|e| e.name == "user") {
            let name = u.text();
            if name.is_empty() {
                return Err(Error::xml(ErrorDomain::Test, "missing username in /node/auth/user field"));
            }
            users.push((name, u.attr("password").map(str::to_owned)));
        }
    }
    Ok(NodeFile { domains: out, users })
}

fn load_snapshots(els: &[Element], dom: &str) -> Result<SnapshotTree> {
    let mut tree = SnapshotTree::in_memory();
    let mut current = None;
    let mut defs = Vec::new();
    for el in els {
        let snap = el.child("domainsnapshot").unwrap_or(el);
        let mut def = snapshot_from_element(snap, ParseFlags { redefine: true, internal: true })?;
        super::domain::normalize_snapshot_domains(&mut def)?;
        if let Some(n) = def.name.as_deref() {
            crate::names::validate_snapshot_name(n)?;
        }
        if def.active == Some(true) {
            current = def.name.clone();
        }
        def.active = None;
        defs.push(def);
    }
    // Parents first, whatever the file order.
    while !defs.is_empty() {
        let before = defs.len();
        let mut rest = Vec::new();
        for d in defs {
            if d.parent.as_deref().is_none_or(|p| tree.contains(p)) {
                tree.insert(d, true)?;
            } else {
                rest.push(d);
            }
        }
        if rest.len() == before {
            return Err(Error::internal(
                ErrorDomain::Test,
                format!("snapshots of domain '{dom}' have missing parents or a cycle"),
            ));
        }
        defs = rest;
    }
    tree.set_current(current.as_deref());
    Ok(tree)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_fifo_or_device_as_node_file_is_refused_not_read() {
        let d = std::env::temp_dir().join(format!("virsnap-node-{}-{}", std::process::id(), crate::uuid::Uuid::generate()));
        std::fs::create_dir_all(&d).unwrap();
        let fifo = d.join("node.xml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = load_node_file(&fifo).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{}", e.message);
        let e = load_node_file(Path::new("/dev/zero")).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{}", e.message);
        std::fs::write(d.join("inc.xml"), "<node><domain file='/dev/zero'/></node>").unwrap();
        let e = load_node_file(&d.join("inc.xml")).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{}", e.message);
        std::fs::remove_dir_all(d).unwrap();
    }
}

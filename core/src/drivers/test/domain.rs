//! Test-driver domains: definitions kept as element trees, lifecycle states.

use std::sync::Arc;

use crate::drivers::DomainRef;
use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::model::{DomainState, SnapshotDef};
use crate::tree::SnapshotTree;
use crate::uuid::Uuid;
use crate::xml::{normalize_test_domain, parse_document, Element, Node};

/// One domain of the test driver.
#[derive(Debug, Clone)]
pub struct TestDomain {
    /// Inactive definition (no `id` attribute), shared with the snapshots
    /// taken from it (copy on write).
    pub def: Arc<Element>,
    /// Name (mirrors `def`).
    pub name: String,
    /// UUID (mirrors `def`).
    pub uuid: Uuid,
    /// Lifecycle state.
    pub state: DomainState,
    /// State reason.
    pub reason: i32,
    /// Id while active, else -1.
    pub id: i32,
    /// Defined (persistent) or transient.
    pub persistent: bool,
    /// Snapshots.
    pub snapshots: SnapshotTree,
    /// Checkpoint names, oldest first (the test driver keeps no more of a
    /// checkpoint; it exists so checkpoints and snapshots exclude each other).
    pub checkpoints: Vec<String>,
    /// Formatted `<domain>` of the shared definitions snapshots point at.
    pub domain_text: DomainTextCache,
}

/// A few formatted `<domain>` elements (indent 2), keyed by the identity of
/// the shared tree. The cache holds a reference to each tree, so a cached
/// tree is never changed in place (`Arc::make_mut` copies it) and the key
/// cannot be reused by another tree while the entry lives.
#[derive(Debug, Clone, Default)]
pub struct DomainTextCache {
    entries: Vec<(Arc<Element>, Arc<str>)>,
}

impl DomainTextCache {
    const SIZE: usize = 8;

    /// The formatted text of `el`, from the cache or formatted now.
    pub fn get(&mut self, el: &Arc<Element>) -> Arc<str> {
        if let Some(pos) = self.entries.iter().position(|(k, _)| Arc::ptr_eq(k, el)) {
            if pos != 0 {
                let e = self.entries.remove(pos);
                self.entries.insert(0, e);
            }
            return self.entries[0].1.clone();
        }
        let mut text = String::with_capacity(2048);
        el.write_libvirt(&mut text, 2);
        let text: Arc<str> = Arc::from(text);
        self.entries.truncate(Self::SIZE - 1);
        self.entries.insert(0, (el.clone(), text.clone()));
        text
    }
}

impl TestDomain {
    /// The driver reference for this domain.
    pub fn as_ref(&self) -> DomainRef {
        DomainRef { name: self.name.clone(), uuid: self.uuid, id: self.id }
    }

    /// The domain XML; active domains carry `id` unless `inactive`.
    pub fn xml(&self, inactive: bool) -> String {
        let mut el = (*self.def).clone();
        if !inactive && self.id >= 0 {
            let pos = el.attrs.iter().position(|(k, _)| k == "type").map_or(0, |p| p + 1);
            el.attrs.insert(pos, ("id".to_owned(), self.id.to_string()));
        }
        el.to_libvirt_string()
    }

    /// Memory values in KiB from the definition: (max, current).
    pub fn memory_kib(&self) -> (u64, u64) {
        let read = |n: &str| {
            self.def.child(n).map(|e| {
                let v: u64 = e.text().trim().parse().unwrap_or(0);
                match e.attr("unit").unwrap_or("KiB") {
                    "b" | "bytes" => v / 1024,
                    "M" | "MiB" => v * 1024,
                    "G" | "GiB" => v * 1024 * 1024,
                    _ => v,
                }
            })
        };
        let max = read("memory").unwrap_or(0);
        (max, read("currentMemory").unwrap_or(max))
    }

    /// Number of vCPUs from the definition.
    pub fn vcpus(&self) -> u16 {
        self.def.child_text("vcpu").and_then(|v| v.trim().parse().ok()).unwrap_or(1)
    }
}


/// Gives a redefined snapshot's embedded `<domain>` (and `<inactiveDomain>`)
/// libvirt's defaults and order, as the test driver's parser does.
pub fn normalize_snapshot_domains(def: &mut SnapshotDef) -> Result<()> {
    if let Some(d) = def.domain.as_mut() {
        let el = Arc::make_mut(d);
        el.strip_whitespace();
        el.remove_attr("id");
        normalize_test_domain(el)?;
    }
    if let Some(el) = def.inactive_domain.as_mut() {
        el.strip_whitespace();
        el.remove_attr("id");
        normalize_test_domain(el)?;
    }
    Ok(())
}

/// Parses domain XML text into a test domain (shut off, persistent).
pub fn parse_domain_xml(xml: &str) -> Result<TestDomain> {
    parse_domain(parse_document(xml, "domain_definition", ErrorDomain::Domain)?)
}

/// Checks a `<domain>` element and builds a test domain (shut off, persistent).
pub fn parse_domain(mut el: Element) -> Result<TestDomain> {
    if el.name != "domain" {
        return Err(Error::xml(ErrorDomain::Xml, format!("expecting root element of 'domain', not '{}'", el.name)));
    }
    el.strip_whitespace();
    el.remove_attr("id");
    let name = el
        .child_text("name")
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::bare(ErrorCode::NoName, ErrorDomain::Domain))?;
    if name.contains('/') || name.chars().any(char::is_control) || name.len() > 255 {
        return Err(Error::xml(ErrorDomain::Domain, format!("name {name} cannot contain '/'")));
    }
    if el.path("os/type").is_none_or(|t| t.text().trim().is_empty()) {
        return Err(Error::xml(ErrorDomain::Domain, "an os <type> must be specified"));
    }
    let uuid = match el.child_text("uuid") {
        Some(u) => Uuid::parse(&u).ok_or_else(|| Error::xml(ErrorDomain::Domain, format!("malformed uuid element '{u}'")))?,
        None => {
            let u = Uuid::generate();
            let pos = el.children.iter().position(|n| matches!(n, Node::Element(e) if e.name == "name")).map_or(0, |p| p + 1);
            el.children.insert(pos, Node::Element(Element::new("uuid").with_text(u.to_string())));
            u
        }
    };
    if let Some(u) = el.child_mut("uuid") {
        u.children = vec![Node::Text(uuid.to_string())];
    }
    normalize_test_domain(&mut el)?;
    Ok(TestDomain {
        def: Arc::new(el),
        name,
        uuid,
        state: DomainState::Shutoff,
        reason: crate::model::reason::UNKNOWN,
        id: -1,
        persistent: true,
        snapshots: SnapshotTree::in_memory(),
        checkpoints: Vec::new(),
        domain_text: DomainTextCache::default(),
    })
}

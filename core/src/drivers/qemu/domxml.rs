//! The libvirt domain-XML subset the qemu driver runs: name, uuid,
//! memory/currentMemory, vcpu, os type (arch, machine), emulator, file disks
//! (qcow2/raw) with driver type and target, on_* actions, acpi/apic/pae
//! features. Anything else is refused with `VIR_ERR_CONFIG_UNSUPPORTED`,
//! never silently dropped.

use std::path::PathBuf;

use crate::error::{Error, ErrorDomain, Result};
use crate::model::Location;
use crate::uuid::Uuid;
use crate::xml::{parse_document, Element};

const DOM: ErrorDomain = ErrorDomain::Qemu;

/// One file-backed disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// Image path (absolute).
    pub source: PathBuf,
    /// `qcow2` or `raw`.
    pub format: String,
    /// Target device (`vda`).
    pub target: String,
    /// `virtio` or `ide`.
    pub bus: String,
    /// `<readonly/>`.
    pub readonly: bool,
    /// The disk's `snapshot=` attribute.
    pub snapshot: Location,
}

/// A parsed domain definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainDef {
    /// `<domain type=…>` (`qemu` or `kvm`).
    pub virt_type: String,
    /// `<name>`
    pub name: String,
    /// `<uuid>` (generated when absent).
    pub uuid: Uuid,
    /// `<title>`
    pub title: Option<String>,
    /// `<description>`
    pub description: Option<String>,
    /// Maximum memory, KiB.
    pub memory_kib: u64,
    /// Current memory, KiB.
    pub current_memory_kib: u64,
    /// vCPUs.
    pub vcpus: u32,
    /// `<os><type arch>`
    pub arch: String,
    /// `<os><type machine>`
    pub machine: String,
    /// `<features>` children kept (acpi, apic, pae).
    pub features: Vec<String>,
    /// on_poweroff, on_reboot, on_crash.
    pub on: [String; 3],
    /// `<emulator>`
    pub emulator: String,
    /// Disks in order.
    pub disks: Vec<Disk>,
}

/// Default emulator path.
pub const DEFAULT_EMULATOR: &str = "/usr/bin/qemu-system-x86_64";

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::config_unsupported(DOM, format!("{what} is not supported by the virsnap qemu driver"))
}

fn only_attrs(e: &Element, allowed: &[&str]) -> Result<()> {
    for (k, _) in &e.attrs {
        if !allowed.contains(&k.as_str()) {
            return Err(unsupported(format!("attribute '{k}' of <{}>", e.name)));
        }
    }
    Ok(())
}

fn parse_kib(e: &Element) -> Result<u64> {
    only_attrs(e, &["unit"])?;
    let n: u64 = e.text().trim().parse().map_err(|_| Error::xml(DOM, format!("invalid value for <{}>", e.name)))?;
    let mul: u64 = match e.attr("unit").unwrap_or("KiB") {
        "b" | "bytes" => return Ok(n.div_ceil(1024)),
        "k" | "KiB" => 1,
        "KB" => return Ok((n * 1000).div_ceil(1024)),
        "M" | "MiB" => 1024,
        "G" | "GiB" => 1024 * 1024,
        u => return Err(Error::config_unsupported(DOM, format!("unknown unit '{u}'"))),
    };
    n.checked_mul(mul).ok_or_else(|| Error::xml(DOM, "memory size too large"))
}

impl DomainDef {
    /// Parses domain XML.
    pub fn parse(xml: &str) -> Result<Self> {
        let root = parse_document(xml, "domain_definition", ErrorDomain::Domain)?;
        Self::from_element(&root)
    }

    /// Reads a `<domain>` element.
    pub fn from_element(root: &Element) -> Result<Self> {
        if root.name != "domain" {
            return Err(Error::xml(ErrorDomain::Xml, format!("expecting root element of 'domain', not '{}'", root.name)));
        }
        only_attrs(root, &["type"])?;
        let virt_type = root.attr("type").unwrap_or("qemu").to_owned();
        if virt_type != "qemu" && virt_type != "kvm" {
            return Err(Error::config_unsupported(DOM, format!("domain type '{virt_type}' is not supported")));
        }
        let mut d = DomainDef {
            virt_type,
            name: String::new(),
            uuid: Uuid::generate(),
            title: None,
            description: None,
            memory_kib: 0,
            current_memory_kib: 0,
            vcpus: 1,
            arch: "x86_64".into(),
            machine: "pc".into(),
            features: Vec::new(),
            on: ["destroy".into(), "restart".into(), "destroy".into()],
            emulator: DEFAULT_EMULATOR.into(),
            disks: Vec::new(),
        };
        let mut have_current = false;
        for e in root.elements() {
            match e.name.as_str() {
                "name" => d.name = e.text().trim().to_owned(),
                "uuid" => {
                    d.uuid = Uuid::parse(e.text().trim()).ok_or_else(|| Error::xml(DOM, "malformed uuid element"))?;
                }
                "title" => d.title = Some(e.text()),
                "description" => d.description = Some(e.text()),
                "memory" => d.memory_kib = parse_kib(e)?,
                "currentMemory" => {
                    d.current_memory_kib = parse_kib(e)?;
                    have_current = true;
                }
                "vcpu" => {
                    only_attrs(e, &["placement", "current"])?;
                    if e.attr("placement").is_some_and(|p| p != "static") {
                        return Err(unsupported("vcpu placement other than 'static'"));
                    }
                    d.vcpus = e.text().trim().parse().ok().filter(|n| (1..=255).contains(n)).ok_or_else(|| Error::xml(DOM, "invalid vcpu count"))?;
                }
                "os" => {
                    for o in e.elements() {
                        match o.name.as_str() {
                            "type" => {
                                only_attrs(o, &["arch", "machine"])?;
                                if o.text().trim() != "hvm" {
                                    return Err(Error::config_unsupported(DOM, format!("OS type '{}' is not supported", o.text().trim())));
                                }
                                if let Some(a) = o.attr("arch") {
                                    if a != "x86_64" && a != "i686" {
                                        return Err(Error::config_unsupported(DOM, format!("architecture '{a}' is not supported")));
                                    }
                                    d.arch = a.to_owned();
                                }
                                if let Some(m) = o.attr("machine") {
                                    if m.is_empty() || !m.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                                        return Err(Error::xml(DOM, format!("invalid machine type '{m}'")));
                                    }
                                    d.machine = m.to_owned();
                                }
                            }
                            "boot" if o.attr("dev") == Some("hd") => {}
                            other => return Err(unsupported(format!("<os><{other}>"))),
                        }
                    }
                }
                "features" => {
                    for f in e.elements() {
                        match f.name.as_str() {
                            "acpi" | "apic" | "pae" if f.attrs.is_empty() && !f.has_element_children() => {
                                d.features.push(f.name.clone());
                            }
                            other => return Err(unsupported(format!("feature <{other}>"))),
                        }
                    }
                }
                "on_poweroff" | "on_reboot" | "on_crash" => {
                    let v = e.text().trim().to_owned();
                    if !["destroy", "restart", "preserve", "rename-restart"].contains(&v.as_str()) {
                        return Err(Error::xml(DOM, format!("invalid {} value '{v}'", e.name)));
                    }
                    let i = match e.name.as_str() {
                        "on_poweroff" => 0,
                        "on_reboot" => 1,
                        _ => 2,
                    };
                    d.on[i] = v;
                }
                "devices" => {
                    for dev in e.elements() {
                        match dev.name.as_str() {
                            "emulator" => d.emulator = dev.text().trim().to_owned(),
                            "disk" => d.disks.push(parse_disk(dev)?),
                            other => return Err(unsupported(format!("device <{other}>"))),
                        }
                    }
                }
                other => return Err(unsupported(format!("element <{other}>"))),
            }
        }
        if d.name.is_empty() {
            return Err(Error::xml(DOM, "missing name information"));
        }
        if d.name.contains('/') || d.name.starts_with('.') || d.name.chars().any(char::is_control) || d.name.len() > 200 {
            return Err(Error::xml(DOM, format!("name '{}' cannot contain '/' or start with '.'", crate::names::printable(&d.name))));
        }
        if d.memory_kib == 0 {
            return Err(Error::xml(DOM, "Memory size must be specified via <memory> or in the <numa> configuration"));
        }
        if !have_current || d.current_memory_kib > d.memory_kib {
            d.current_memory_kib = d.memory_kib;
        }
        if !d.emulator.starts_with('/') {
            return Err(Error::xml(DOM, "emulator path must be absolute"));
        }
        for (i, a) in d.disks.iter().enumerate() {
            if d.disks[..i].iter().any(|b| b.target == a.target) {
                return Err(Error::xml(DOM, format!("target '{}' duplicated for disk sources", a.target)));
            }
        }
        Ok(d)
    }

    /// The disk with target `t`.
    pub fn disk(&self, t: &str) -> Option<&Disk> {
        self.disks.iter().find(|d| d.target == t)
    }

    /// Formats as libvirt-style XML element (the inactive definition).
    pub fn to_element(&self) -> Element {
        let mut root = Element::new("domain").with_attr("type", &self.virt_type);
        root = root.with_child(Element::new("name").with_text(&self.name));
        root = root.with_child(Element::new("uuid").with_text(self.uuid.to_string()));
        if let Some(t) = &self.title {
            root = root.with_child(Element::new("title").with_text(t));
        }
        if let Some(t) = &self.description {
            root = root.with_child(Element::new("description").with_text(t));
        }
        root = root.with_child(Element::new("memory").with_attr("unit", "KiB").with_text(self.memory_kib.to_string()));
        root = root.with_child(Element::new("currentMemory").with_attr("unit", "KiB").with_text(self.current_memory_kib.to_string()));
        root = root.with_child(Element::new("vcpu").with_attr("placement", "static").with_text(self.vcpus.to_string()));
        let os = Element::new("os")
            .with_child(Element::new("type").with_attr("arch", &self.arch).with_attr("machine", &self.machine).with_text("hvm"))
            .with_child(Element::new("boot").with_attr("dev", "hd"));
        root = root.with_child(os);
        if !self.features.is_empty() {
            let mut f = Element::new("features");
            for x in &self.features {
                f = f.with_child(Element::new(x.clone()));
            }
            root = root.with_child(f);
        }
        for (i, n) in ["on_poweroff", "on_reboot", "on_crash"].iter().enumerate() {
            root = root.with_child(Element::new(*n).with_text(&self.on[i]));
        }
        let mut devs = Element::new("devices").with_child(Element::new("emulator").with_text(&self.emulator));
        for d in &self.disks {
            let mut e = Element::new("disk").with_attr("type", "file").with_attr("device", "disk");
            if let Some(s) = d.snapshot.as_str() {
                e = e.with_attr("snapshot", s);
            }
            e = e
                .with_child(Element::new("driver").with_attr("name", "qemu").with_attr("type", &d.format))
                .with_child(Element::new("source").with_attr("file", d.source.to_string_lossy()))
                .with_child(Element::new("target").with_attr("dev", &d.target).with_attr("bus", &d.bus));
            if d.readonly {
                e = e.with_child(Element::new("readonly"));
            }
            devs = devs.with_child(e);
        }
        root.with_child(devs)
    }

    /// The XML text.
    pub fn to_xml(&self) -> String {
        self.to_element().to_libvirt_string()
    }
}

fn parse_disk(e: &Element) -> Result<Disk> {
    only_attrs(e, &["type", "device", "snapshot"])?;
    if e.attr("type").unwrap_or("file") != "file" {
        return Err(unsupported(format!("disk type '{}'", e.attr("type").unwrap_or(""))));
    }
    if e.attr("device").unwrap_or("disk") != "disk" {
        return Err(unsupported(format!("disk device '{}'", e.attr("device").unwrap_or(""))));
    }
    let snapshot = match e.attr("snapshot") {
        None => Location::Default,
        Some(s) => Location::parse(s).ok_or_else(|| Error::xml(DOM, format!("unknown disk snapshot setting '{s}'")))?,
    };
    let mut format = "raw".to_owned();
    let mut source = None;
    let mut target = None;
    let mut bus = None;
    let mut readonly = false;
    for c in e.elements() {
        match c.name.as_str() {
            "driver" => {
                only_attrs(c, &["name", "type"])?;
                if c.attr("name").is_some_and(|n| n != "qemu") {
                    return Err(unsupported("disk driver name other than 'qemu'"));
                }
                if let Some(t) = c.attr("type") {
                    if t != "qcow2" && t != "raw" {
                        return Err(unsupported(format!("disk format '{t}'")));
                    }
                    format = t.to_owned();
                }
            }
            "source" => {
                only_attrs(c, &["file"])?;
                let f = c.attr("file").ok_or_else(|| Error::xml(DOM, "disk source has no file"))?;
                if !f.starts_with('/') || f.contains(',') {
                    return Err(Error::xml(DOM, format!("disk source '{f}' must be an absolute path without ','")));
                }
                source = Some(PathBuf::from(f));
            }
            "target" => {
                only_attrs(c, &["dev", "bus"])?;
                let dev = c.attr("dev").ok_or_else(|| Error::xml(DOM, "missing target information for device"))?;
                if dev.is_empty() || !dev.chars().all(|ch| ch.is_ascii_alphanumeric()) {
                    return Err(Error::xml(DOM, format!("invalid target device '{dev}'")));
                }
                target = Some(dev.to_owned());
                bus = c.attr("bus").map(str::to_owned);
            }
            "readonly" => readonly = true,
            other => return Err(unsupported(format!("disk element <{other}>"))),
        }
    }
    let source = source.ok_or_else(|| unsupported("a disk without a source"))?;
    let target = target.ok_or_else(|| Error::xml(DOM, "missing target information for device"))?;
    let bus = match bus {
        Some(b) => b,
        None if target.starts_with("vd") => "virtio".into(),
        None if target.starts_with("hd") => "ide".into(),
        None => return Err(unsupported(format!("disk target '{target}' without bus"))),
    };
    if bus != "virtio" && bus != "ide" {
        return Err(unsupported(format!("disk bus '{bus}'")));
    }
    Ok(Disk { source, format, target, bus, readonly, snapshot })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn parse_and_format() {
        let x = "<domain type='qemu'><name>vm</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/tmp/a.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>";
        let d = DomainDef::parse(x).unwrap();
        assert_eq!(d.memory_kib, 65536);
        assert_eq!(d.disks[0].format, "qcow2");
        let again = DomainDef::parse(&d.to_xml()).unwrap();
        assert_eq!(d, again);
        let bad = x.replace("<emulator>", "<interface type='network'/><emulator>");
        assert_eq!(DomainDef::parse(&bad).unwrap_err().code, ErrorCode::ConfigUnsupported);
    }
}

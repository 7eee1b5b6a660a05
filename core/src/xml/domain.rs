//! libvirt's parse-then-format pass over a test-driver `<domain>`: what
//! `virDomainDefParse` fills in and how `virDomainDefFormat` orders it, so a
//! defined, redefined or node-file domain reads back as libvirt 9.0 writes it.
//!
//! Covered: top-level element order, memory units (to KiB), `currentMemory`,
//! `vcpu` placement, the os arch and default boot device, clock and lifecycle
//! defaults, an always-present `<devices>`, disk type/device/bus defaults.
//! Devices are otherwise kept as written (libvirt's per-device defaults, such
//! as a generated MAC address, are not reproduced). Since 0.1.

use crate::error::{Error, ErrorDomain, Result};
use crate::xml::{Element, Node};

/// Top-level children in the order libvirt 9.0 formats them; anything else
/// keeps its relative place after them.
const ORDER: &[&str] = &[
    "name", "uuid", "genid", "title", "description", "metadata", "maxMemory", "memory", "currentMemory",
    "blkiotune", "memtune", "memoryBacking", "vcpu", "vcpus", "iothreads", "iothreadids", "defaultiothread",
    "cputune", "numatune", "resource", "sysinfo", "bootloader", "bootloader_args", "os", "idmap", "features",
    "cpu", "clock", "on_poweroff", "on_reboot", "on_crash", "on_lockfailure", "pm", "perf", "devices",
    "seclabel", "keywrap", "launchSecurity",
];

/// The test driver's default guest architecture (first guest of its capabilities).
const DEFAULT_ARCH: &str = "i686";

/// Applies libvirt's defaults and order to `el` (a `<domain>` with whitespace
/// already stripped). Fails, changing nothing that matters, with libvirt's
/// errors for a missing os type or memory size.
pub fn normalize_test_domain(el: &mut Element) -> Result<()> {
    let os_type = el.path("os/type").map(|t| t.text().trim().to_owned()).unwrap_or_default();
    if os_type.is_empty() {
        return Err(Error::xml(ErrorDomain::Domain, "an os <type> must be specified"));
    }
    let numa_memory = el.path("cpu/numa").is_some();
    let memory = match el.child_mut("memory") {
        Some(m) => rescale(m),
        None => None,
    };
    if el.child("memory").is_none() && !numa_memory {
        return Err(Error::xml(ErrorDomain::Domain, "Memory size must be specified via <memory> or in the <numa> configuration"));
    }
    if let Some(m) = el.child_mut("maxMemory") {
        rescale(m);
    }
    if let Some(total) = memory {
        let cur = el.child_mut("currentMemory").and_then(rescale);
        if cur.is_none_or(|c| c == 0 || c > total) {
            let cm = Element::new("currentMemory").with_attr("unit", "KiB").with_text(total.to_string());
            match el.child_mut("currentMemory") {
                Some(old) => *old = cm,
                None => el.children.push(Node::Element(cm)),
            }
        }
    }
    normalize_vcpu(el);
    let has_device_boot = el
        .child("devices")
        .is_some_and(|d| d.elements().any(|dev| dev.child("boot").is_some()));
    if let Some(os) = el.child_mut("os") {
        normalize_os(os, &os_type, has_device_boot);
    }
    if el.child("clock").is_none() {
        el.children.push(Node::Element(Element::new("clock").with_attr("offset", "utc")));
    }
    for (name, default) in [("on_poweroff", "destroy"), ("on_reboot", "restart"), ("on_crash", "destroy")] {
        if el.child(name).is_none() {
            el.children.push(Node::Element(Element::new(name).with_text(default)));
        }
    }
    match el.child_mut("devices") {
        Some(devices) => devices.elements_mut().filter(|d| d.name == "disk").for_each(normalize_disk),
        None => el.children.push(Node::Element(Element::new("devices"))),
    }
    // Stable: unknown elements keep their order, after the known ones.
    el.children.sort_by_key(|n| match n {
        Node::Element(e) => ORDER.iter().position(|k| *k == e.name).unwrap_or(ORDER.len()),
        Node::Text(_) => ORDER.len(),
    });
    Ok(())
}

/// Rewrites a memory-size element in KiB (`unit` after any other attribute,
/// as libvirt writes it) and returns the size; `None` (element untouched)
/// when the value or unit is not one libvirt reads.
fn rescale(m: &mut Element) -> Option<u64> {
    let value: u64 = m.text().trim().parse().ok()?;
    let scale = unit_scale(m.attr("unit").unwrap_or("KiB"))?;
    let kib = value.checked_mul(scale)?.div_ceil(1024);
    m.remove_attr("unit");
    m.attrs.push(("unit".to_owned(), "KiB".to_owned()));
    m.children = vec![Node::Text(kib.to_string())];
    Some(kib)
}

/// Bytes per unit, as `virScaleInteger` reads the suffix.
fn unit_scale(unit: &str) -> Option<u64> {
    if ["b", "byte", "bytes"].iter().any(|u| unit.eq_ignore_ascii_case(u)) {
        return Some(1);
    }
    let mut chars = unit.chars();
    let prefix = chars.next()?.to_ascii_lowercase();
    let rest = chars.as_str();
    let base: u64 = if rest.is_empty() || rest.eq_ignore_ascii_case("iB") {
        1024
    } else if rest.eq_ignore_ascii_case("b") {
        1000
    } else {
        return None;
    };
    let power = "kmgtpe".find(prefix)? as u32 + 1;
    base.checked_pow(power)
}

/// `<vcpu placement='static'>1</vcpu>` when absent; attributes in libvirt's
/// order (placement, cpuset, current), `current` dropped when it equals the total.
fn normalize_vcpu(el: &mut Element) {
    let Some(v) = el.child_mut("vcpu") else {
        el.children.push(Node::Element(Element::new("vcpu").with_attr("placement", "static").with_text("1")));
        return;
    };
    let total = v.text().trim().to_owned();
    let attr = |k: &str| v.attr(k).map(str::to_owned);
    let (placement, cpuset, current) = (attr("placement"), attr("cpuset"), attr("current"));
    let known = ["placement", "cpuset", "current"];
    let mut attrs = vec![("placement".to_owned(), placement.unwrap_or_else(|| "static".to_owned()))];
    attrs.extend(cpuset.map(|c| ("cpuset".to_owned(), c)));
    attrs.extend(current.filter(|c| c.trim() != total).map(|c| ("current".to_owned(), c)));
    attrs.extend(v.attrs.iter().filter(|(k, _)| !known.contains(&k.as_str())).cloned());
    v.attrs = attrs;
}

/// The os arch (default `i686`, before `machine`) and, for `hvm` without
/// any boot order, `<boot dev='hd'/>`.
fn normalize_os(os: &mut Element, os_type: &str, has_device_boot: bool) {
    if let Some(t) = os.child_mut("type") {
        let arch = t.attr("arch").unwrap_or(DEFAULT_ARCH).to_owned();
        let machine = t.attr("machine").map(str::to_owned);
        let others: Vec<(String, String)> =
            t.attrs.iter().filter(|(k, _)| k != "arch" && k != "machine").cloned().collect();
        t.attrs = vec![("arch".to_owned(), arch)];
        t.attrs.extend(machine.map(|m| ("machine".to_owned(), m)));
        t.attrs.extend(others);
        t.children = vec![Node::Text(os_type.to_owned())];
    }
    if os_type == "hvm" && !has_device_boot && os.child("boot").is_none() {
        let at = os
            .children
            .iter()
            .position(|n| matches!(n, Node::Element(e) if matches!(e.name.as_str(), "bootmenu" | "smbios" | "bios")))
            .unwrap_or(os.children.len());
        os.children.insert(at, Node::Element(Element::new("boot").with_attr("dev", "hd")));
    }
}

/// A disk's `type='file' device='disk'` defaults (in that order) and the
/// target bus implied by its device name.
fn normalize_disk(disk: &mut Element) {
    let ty = disk.attr("type").unwrap_or("file").to_owned();
    let device = disk.attr("device").unwrap_or("disk").to_owned();
    let others: Vec<(String, String)> =
        disk.attrs.iter().filter(|(k, _)| k != "type" && k != "device").cloned().collect();
    disk.attrs = vec![("type".to_owned(), ty), ("device".to_owned(), device)];
    disk.attrs.extend(others);
    if let Some(target) = disk.child_mut("target") {
        if target.attr("bus").is_none() {
            let dev = target.attr("dev").unwrap_or("");
            let bus = [("vd", "virtio"), ("sd", "scsi"), ("hd", "ide"), ("xvd", "xen"), ("ubd", "uml"), ("fd", "fdc")]
                .iter()
                .find(|(p, _)| dev.starts_with(p))
                .map(|(_, b)| *b);
            if let Some(bus) = bus {
                target.attrs.push(("bus".to_owned(), bus.to_owned()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_document;

    fn norm(xml: &str) -> Result<String> {
        let mut el = parse_document(xml, "domain_definition", ErrorDomain::Domain)?;
        el.strip_whitespace();
        normalize_test_domain(&mut el)?;
        Ok(el.to_libvirt_string())
    }

    #[test]
    fn units_scale_like_libvirt() {
        assert_eq!(unit_scale("KiB"), Some(1024));
        assert_eq!(unit_scale("k"), Some(1024));
        assert_eq!(unit_scale("KB"), Some(1000));
        assert_eq!(unit_scale("G"), Some(1 << 30));
        assert_eq!(unit_scale("bytes"), Some(1));
        assert_eq!(unit_scale("xyz"), None);
        assert_eq!(unit_scale("KiBB"), None);
    }

    #[test]
    fn normalizing_twice_changes_nothing() -> Result<()> {
        let once = norm("<domain type='test'><name>n</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>")?;
        assert_eq!(norm(&once)?, once);
        assert!(once.contains("<memory unit='KiB'>65536</memory>\n  <currentMemory unit='KiB'>65536</currentMemory>"));
        assert!(once.contains("  <devices>\n  </devices>\n"));
        Ok(())
    }

    #[test]
    fn missing_os_type_or_memory_is_libvirts_error() {
        let e = norm("<domain type='test'><name>n</name><memory>1</memory></domain>").err();
        assert!(e.is_some_and(|e| e.message.contains("an os <type> must be specified")));
        let e = norm("<domain type='test'><name>n</name><os><type>hvm</type></os></domain>").err();
        assert!(e.is_some_and(|e| e.message.contains("Memory size must be specified")));
    }
}

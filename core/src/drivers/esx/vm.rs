//! Virtual machines: one property read lists them all (name, BIOS UUID,
//! power state), found by a traversal from the root folder.

use super::props::{self, prop_spec};
use super::session::Session;
use super::soap::MoRef;
use crate::drivers::DomainRef;
use crate::error::Result;
use crate::model::{reason, DomainState};
use crate::uuid::Uuid;

/// `VirtualMachinePowerState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// `poweredOn`
    On,
    /// `poweredOff`
    Off,
    /// `suspended`
    Suspended,
    /// Anything else.
    Unknown,
}

impl Power {
    /// Parses the server's spelling.
    pub fn parse(s: &str) -> Self {
        match s.trim() {
            "poweredOn" => Self::On,
            "poweredOff" => Self::Off,
            "suspended" => Self::Suspended,
            _ => Self::Unknown,
        }
    }

    /// libvirt's domain state and reason for it.
    pub fn domain_state(self) -> (DomainState, i32) {
        match self {
            Self::On => (DomainState::Running, reason::RUNNING_BOOTED),
            Self::Off => (DomainState::Shutoff, reason::SHUTOFF_SHUTDOWN),
            Self::Suspended => (DomainState::Paused, reason::PAUSED_USER),
            Self::Unknown => (DomainState::NoState, reason::UNKNOWN),
        }
    }
}

/// A VM as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vm {
    /// Its managed object reference.
    pub moref: MoRef,
    /// Its name, percent-escapes decoded (as libvirt shows it).
    pub name: String,
    /// `config.uuid` (the BIOS UUID).
    pub uuid: Uuid,
    /// `runtime.powerState`.
    pub power: Power,
}

impl Vm {
    /// libvirt's domain id: the number in the moref (`vm-9` → 9, `12` → 12)
    /// while the VM is active, else -1.
    pub fn id(&self) -> i32 {
        if self.power == Power::Off {
            return -1;
        }
        let v = self.moref.value.as_str();
        let digits = v.strip_prefix("vm-").unwrap_or(v);
        digits.parse::<i32>().ok().filter(|n| *n >= 0).unwrap_or(-1)
    }

    /// The driver-neutral reference.
    pub fn domain_ref(&self) -> DomainRef {
        DomainRef { name: self.name.clone(), uuid: self.uuid, id: self.id() }
    }
}

/// Decodes ESX's `%XX` escapes in names (`%25` `%2f` `%5c`); malformed
/// escapes stay as they are.
pub fn unescape_name(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// The VM properties every listing reads.
pub const VM_PATHS: &[&str] = &["name", "config.uuid", "runtime.powerState"];

/// Every VM (one round trip): of the whole inventory, or with `host` only
/// those of that host system (`HostSystem.vm`, as libvirt lists a vCenter
/// path's domains).
pub fn list(session: &Session, host: Option<&MoRef>) -> Result<Vec<Vm>> {
    let scope = match host {
        Some(h) => format!("<objectSet>{}<skip>true</skip>{}</objectSet>", h.xml("obj"), super::inventory::traversal("HostSystem", "vm")),
        None => {
            let root = session.content.root_folder.clone().unwrap_or_else(|| MoRef::new("Folder", "ha-folder-root"));
            props::vm_traversal(&root)
        }
    };
    let spec = format!("{}{scope}", prop_spec("VirtualMachine", VM_PATHS));
    let mut out = Vec::new();
    for oc in props::retrieve(session, &spec)? {
        let Some(moref) = oc.obj.clone().filter(|o| o.kind == "VirtualMachine") else { continue };
        let (Some(name), Some(uuid)) = (oc.text("name"), oc.text("config.uuid").and_then(Uuid::parse)) else {
            continue;
        };
        out.push(Vm {
            moref,
            name: unescape_name(name),
            uuid,
            power: Power::parse(oc.text("runtime.powerState").unwrap_or_default()),
        });
    }
    // Active domains first, as libvirt lists them.
    out.sort_by_key(|v| v.power == Power::Off);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        let vm = |m: &str, p| Vm { moref: MoRef::new("VirtualMachine", m), name: String::new(), uuid: Uuid([0; 16]), power: p };
        assert_eq!(vm("vm-9", Power::On).id(), 9);
        assert_eq!(vm("12", Power::Suspended).id(), 12);
        assert_eq!(vm("vm-9", Power::Off).id(), -1);
        assert_eq!(vm("odd", Power::On).id(), -1);
        assert_eq!(unescape_name("a%2fb%25c%zz"), "a/b%c%zz");
    }
}

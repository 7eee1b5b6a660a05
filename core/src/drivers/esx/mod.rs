//! The ESX driver: libvirt's domain snapshot API over the vSphere SOAP API
//! (ESXi hosts with `esx://`, vCenter with `vpx://`).
//!
//! URIs as libvirt's: `esx://[user@]host[:port]/?transport=http|https&no_verify=0|1`,
//! `vpx://[user@]vcenter[:port]/DATACENTER[/FOLDER…]/CLUSTER/HOST` or
//! `…/DATACENTER/HOST` (folders may also precede the datacenter; see
//! [`inventory`]; a vpx connection sees the VMs of that host only), each
//! with `cacert=FILE` (PEM roots to trust instead of the built-in ones) and
//! virsnap's `timeout=SECONDS` (each request; default 60) and
//! `task_timeout=SECONDS` (each task wait; default 3600). One session per
//! connection, reused for every call; credentials from the URI user,
//! libvirt's `auth.conf`, then the `virConnectAuth` callback.
//!
//! Layout: [`http`] (transport), [`soap`] (envelopes, parsing),
//! [`session`] (login, calls, faults), [`props`] (property reads),
//! [`task`] (task waits), [`vm`] (VMs), [`tree`] (a VM's snapshot tree),
//! [`snapshots`] (the snapshot API), [`auth`] (credentials),
//! [`inventory`] (vCenter paths).
//!
//! Decisions where libvirt's ESX driver is silent or narrower:
//! - Credentials in libvirt's order: URI user, then `auth.conf`
//!   (`auth-esx-HOST` / `auth-esx-default`, for vpx:// too), then the
//!   callback (user default `root`, `administrator` for vpx; the host is the
//!   challenge). Without a callback, `auth.conf` alone is enough.
//! - Snapshot UUIDs (virsnap's extension) are derived from the domain UUID
//!   and the server's per-VM snapshot id, so they are stable without metadata.
//! - Names may repeat on the server: lookups take the first in depth-first
//!   pre-order, listings (pre-order) show all; creating a duplicate name
//!   through this driver is refused, as libvirt does.
//! - ESX keeps no libvirt metadata: `HasMetadata` is 0, `LIST_METADATA`
//!   lists nothing, `DELETE_METADATA_ONLY` succeeds and changes nothing.
//! - Beyond libvirt: `DELETE_CHILDREN_ONLY` (one `RemoveSnapshot_Task` with
//!   `removeChildren` per child), revert `RUNNING`/`PAUSED`
//!   (`suppressPowerOn` when paused, then power on / suspend as needed),
//!   reverting to the current snapshot uses `RevertToCurrentSnapshot_Task`,
//!   rename through `RenameSnapshot` (`VIR_ERR_NO_SUPPORT` on servers
//!   without it, such as vcsim 0.24), all LIST filters.
//! - A `currentSnapshot` that names no snapshot in the tree (a vcsim defect)
//!   reads as "no current snapshot".
//! - Revert without flags ends in the snapshot's power state, as libvirt
//!   promises: real ESX does it itself, vcsim never changes power, so when
//!   the state must change the driver reads it after the revert and powers
//!   the guest on/off/suspends it as needed (no extra round trip otherwise).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{check_flags, Driver, DomainInfo, DomainRef, ListKind, OpenRequest, ParsedUri, ProgressFn};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};
use crate::model::DomainState;
use crate::uuid::Uuid;

pub mod auth;
pub mod http;
pub mod inventory;
mod journal;
pub mod props;
pub mod session;
mod snapshots;
pub mod soap;
pub mod task;
pub mod tree;
mod usage;
pub mod vm;

use session::Session;
use soap::{MoRef, Node};
use task::TaskFailure;
use vm::{Power, Vm};

const ESX: ErrorDomain = ErrorDomain::Esx;

/// SOAP round trips made by the calling thread through any ESX connection
/// (tests use it to check the cost of each operation).
pub fn thread_round_trips() -> u64 {
    session::THREAD_ROUND_TRIPS.with(std::cell::Cell::get)
}

/// Of [`thread_round_trips`], the task polls that found the task still
/// running: how many there are depends on the server's speed, so tests that
/// count an operation's cost subtract them. Since 0.2.
pub fn thread_task_repolls() -> u64 {
    session::THREAD_TASK_REPOLLS.with(std::cell::Cell::get)
}

/// The ESX driver for one connection.
pub struct EsxDriver {
    session: Session,
    /// vpx:// only: the host system the URI path names (its VMs only).
    host: Option<MoRef>,
    vms: Mutex<HashMap<Uuid, MoRef>>,
    progress: Mutex<Option<ProgressFn>>,
    task_timeout: Duration,
}

impl std::fmt::Debug for EsxDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsxDriver").field("session", &self.session).finish_non_exhaustive()
    }
}

fn invalid_param(name: &str, value: &str, want: &str) -> Error {
    Error::invalid_arg(ESX, format!("Query parameter '{name}' has unexpected value '{value}' (should be {want})"))
}

/// Opens the driver when the URI is for it.
pub(crate) fn open(req: &OpenRequest, uri: &ParsedUri) -> Option<Result<Arc<dyn Driver>>> {
    let scheme = uri.scheme.as_str();
    if let Some((base, transport)) = scheme.split_once('+') {
        if base == "esx" || base == "vpx" {
            return Some(Err(Error::invalid_arg(
                ESX,
                format!("Transport '{transport}' in URI scheme is not supported, try again without the transport part"),
            )));
        }
    }
    if scheme != "esx" && scheme != "vpx" {
        return None;
    }
    Some(EsxDriver::open(req, uri).map(|d| {
        // Finish the prunes a killed process left part-way on this server.
        journal::recover(&d);
        Arc::new(d) as Arc<dyn Driver>
    }))
}

impl EsxDriver {
    fn open(req: &OpenRequest, uri: &ParsedUri) -> Result<Self> {
        let mut https = true;
        let mut no_verify = false;
        let mut timeout = Duration::from_secs(60);
        let mut task_timeout = Duration::from_secs(3600);
        let mut cacert = None;
        for (k, v) in &uri.query {
            match k.as_str() {
                "transport" => {
                    https = match v.as_str() {
                        "https" => true,
                        "http" => false,
                        _ => return Err(invalid_param(k, v, "'http' or 'https'")),
                    }
                }
                "no_verify" | "auto_answer" => {
                    let b = match v.as_str() {
                        "0" => false,
                        "1" => true,
                        _ => return Err(invalid_param(k, v, "0 or 1")),
                    };
                    if k == "no_verify" {
                        no_verify = b;
                    }
                }
                "timeout" => {
                    let s: u64 = v.parse().ok().filter(|s| (1..=3600).contains(s)).ok_or_else(|| invalid_param(k, v, "1..3600"))?;
                    timeout = Duration::from_secs(s);
                }
                "task_timeout" => {
                    let s: u64 =
                        v.parse().ok().filter(|s| (1..=86_400).contains(s)).ok_or_else(|| invalid_param(k, v, "1..86400"))?;
                    task_timeout = Duration::from_secs(s);
                }
                "cacert" => {
                    cacert = Some(std::fs::read(v).map_err(|e| Error::system(ESX, format!("cannot read CA file '{v}'"), &e))?);
                }
                // libvirt knows these; they do not apply here.
                _ => {}
            }
        }
        if uri.host.is_empty() {
            return Err(Error::invalid_arg(ESX, "URI is missing the server part"));
        }
        if uri.scheme == "vpx" {
            inventory::check_path(&uri.path)?;
        }
        let port = uri.port.unwrap_or(if https { 443 } else { 80 });
        let host = if uri.host.contains(':') { format!("[{}]", uri.host) } else { uri.host.clone() };
        let url = format!("{}://{host}:{port}/sdk", if https { "https" } else { "http" });
        let transport = http::Transport::new(url, https, no_verify, cacert.as_deref(), timeout)
            .map_err(|e| Error::new(ErrorCode::InternalError, ESX, e))?;
        let mut session = Session::connect(transport, &uri.scheme)?;
        let (user, password) = auth::credentials(uri.user.as_deref(), &uri.scheme, &uri.host, req.auth.as_ref())?;
        session.login(&user, &password)?;
        let host = if uri.scheme == "vpx" {
            match inventory::lookup(&session, &uri.path) {
                Ok(sel) => Some(sel.host),
                Err(e) => {
                    // No driver will own the session: end it on the server.
                    session.logout();
                    return Err(e);
                }
            }
        } else {
            None
        };
        Ok(Self {
            session,
            host,
            vms: Mutex::new(HashMap::new()),
            progress: Mutex::new(None),
            task_timeout,
        })
    }

    /// What a prune journal is bound to: the server's URL and, on vCenter,
    /// the host the URI's path selects.
    fn server_id(&self) -> String {
        match &self.host {
            Some(h) => format!("{} {}", self.session.url(), h.value),
            None => self.session.url().to_owned(),
        }
    }

    fn remember(&self, vms: &[Vm]) {
        if let Ok(mut m) = self.vms.lock() {
            for v in vms {
                m.insert(v.uuid, v.moref.clone());
            }
        }
    }

    fn list_vms(&self) -> Result<Vec<Vm>> {
        let vms = vm::list(&self.session, self.host.as_ref())?;
        self.remember(&vms);
        Ok(vms)
    }

    /// The VM behind `dom` (cached; one listing on a miss).
    fn vm_ref(&self, dom: &DomainRef) -> Result<MoRef> {
        if let Some(m) = self.vms.lock().ok().and_then(|m| m.get(&dom.uuid).cloned()) {
            return Ok(m);
        }
        self.list_vms()?
            .into_iter()
            .find(|v| v.uuid == dom.uuid)
            .map(|v| v.moref)
            .ok_or_else(|| Error::new(ErrorCode::NoDomain, ESX, format!("Could not find domain with UUID '{}'", dom.uuid)))
    }

    /// Reads `paths` of the VM behind `dom`; when the cached reference is
    /// stale (the VM was re-registered), looks it up again once.
    fn read_vm(&self, dom: &DomainRef, paths: &[&str]) -> Result<props::ObjectContent> {
        let m = self.vm_ref(dom)?;
        match props::read(&self.session, &m, paths) {
            Err(e) if e.code == ErrorCode::NoDomain => {
                if let Ok(mut c) = self.vms.lock() {
                    c.remove(&dom.uuid);
                }
                let m = self.vm_ref(dom)?;
                props::read(&self.session, &m, paths)
            }
            r => r,
        }
    }

    fn power(&self, dom: &DomainRef) -> Result<Power> {
        Ok(Power::parse(self.read_vm(dom, &["runtime.powerState"])?.text("runtime.powerState").unwrap_or_default()))
    }

    /// Starts `method` on `this` and waits for it.
    fn run_task(&self, method: &str, inner: &str, what: &str) -> Result<std::result::Result<Option<Node>, TaskFailure>> {
        let t = task::start(&self.session, method, inner)?;
        let progress = self.progress.lock().ok().and_then(|p| p.clone());
        task::wait(&self.session, &t, what, progress.as_ref(), self.task_timeout)
    }

    fn power_task(&self, dom: &DomainRef, method: &str, wrong_state: &str) -> Result<()> {
        let m = self.vm_ref(dom)?;
        match self.run_task(method, &m.this(), method)? {
            Ok(_) => Ok(()),
            Err(f) if f.kind == "InvalidPowerState" || f.kind == "InvalidState" => {
                Err(Error::op_invalid(ESX, wrong_state.to_owned()))
            }
            Err(f) => Err(Error::internal(ESX, format!("Could not run {method}: {}", f.describe()))),
        }
    }
}

impl Drop for EsxDriver {
    fn drop(&mut self) {
        self.session.logout();
    }
}

impl Driver for EsxDriver {
    fn type_name(&self) -> &'static str {
        "ESX"
    }

    fn error_domain(&self) -> ErrorDomain {
        ESX
    }

    fn func_prefix(&self) -> &'static str {
        "esx"
    }

    fn hypervisor_version(&self) -> Result<u64> {
        let mut parts = self.session.content.version.split('.').map(|p| p.trim().parse::<u64>().unwrap_or(0));
        let (a, b, c) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        Ok(a * 1_000_000 + b * 1000 + c)
    }

    fn host_name(&self) -> Option<Result<String>> {
        Some(self.dns_name())
    }

    fn set_progress(&self, progress: Option<ProgressFn>) {
        if let Ok(mut p) = self.progress.lock() {
            *p = progress;
        }
    }

    fn list_domains(&self) -> Result<Vec<DomainRef>> {
        Ok(self.list_vms()?.iter().map(Vm::domain_ref).collect())
    }

    fn lookup_domain_by_name(&self, name: &str) -> Result<DomainRef> {
        self.list_vms()?
            .iter()
            .find(|v| v.name == name)
            .map(Vm::domain_ref)
            .ok_or_else(|| Error::new(ErrorCode::NoDomain, ESX, format!("Could not find domain with name '{name}'")))
    }

    fn lookup_domain_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.list_vms()?
            .iter()
            .find(|v| &v.uuid == uuid)
            .map(Vm::domain_ref)
            .ok_or_else(|| Error::new(ErrorCode::NoDomain, ESX, format!("Could not find domain with UUID '{uuid}'")))
    }

    fn lookup_domain_by_id(&self, id: i32) -> Result<DomainRef> {
        self.list_vms()?
            .iter()
            .find(|v| v.id() == id)
            .map(Vm::domain_ref)
            .ok_or_else(|| Error::new(ErrorCode::NoDomain, ESX, format!("Could not find domain with ID {id}")))
    }

    fn domain_state(&self, dom: &DomainRef) -> Result<(DomainState, i32)> {
        Ok(self.power(dom)?.domain_state())
    }

    fn domain_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        let oc = self.read_vm(dom, &["runtime.powerState", "config.hardware.memoryMB", "config.hardware.numCPU"])?;
        let mem = oc.text("config.hardware.memoryMB").and_then(|m| m.parse::<u64>().ok()).unwrap_or(0) * 1024;
        let (state, _) = Power::parse(oc.text("runtime.powerState").unwrap_or_default()).domain_state();
        Ok(DomainInfo {
            state: u8::try_from(state as i32).unwrap_or(0),
            max_mem: mem,
            memory: mem,
            nr_virt_cpu: oc.text("config.hardware.numCPU").and_then(|n| n.parse().ok()).unwrap_or(0),
            cpu_time: 0,
        })
    }

    fn domain_is_persistent(&self, _dom: &DomainRef) -> Result<bool> {
        Ok(true)
    }

    fn domain_xml(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        check_flags(flags, crate::flags::domain::XML_SECURE | crate::flags::domain::XML_INACTIVE, ESX, "esxDomainGetXMLDesc")?;
        let oc = self.read_vm(dom, &["config.hardware.memoryMB", "config.hardware.numCPU"])?;
        let mem = oc.text("config.hardware.memoryMB").and_then(|m| m.parse::<u64>().ok()).unwrap_or(0) * 1024;
        let cpus = oc.text("config.hardware.numCPU").and_then(|n| n.parse::<u32>().ok()).unwrap_or(1);
        let mut out = String::from("<domain type='vmware'>\n");
        out.push_str(&format!("  <name>{}</name>\n", soap::esc(&dom.name)));
        out.push_str(&format!("  <uuid>{}</uuid>\n", dom.uuid));
        out.push_str(&format!("  <memory unit='KiB'>{mem}</memory>\n  <currentMemory unit='KiB'>{mem}</currentMemory>\n"));
        out.push_str(&format!("  <vcpu placement='static'>{cpus}</vcpu>\n  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n</domain>\n"));
        Ok(out)
    }

    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, ESX, "esxDomainCreateWithFlags")?;
        self.power_task(dom, "PowerOnVM_Task", "Domain is not powered off")
    }

    fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, ESX, "esxDomainDestroyFlags")?;
        self.power_task(dom, "PowerOffVM_Task", "Domain is not powered on")
    }

    fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, ESX, "esxDomainShutdownFlags")?;
        if self.power(dom)? != Power::On {
            return Err(Error::op_invalid(ESX, "Domain is not powered on"));
        }
        let m = self.vm_ref(dom)?;
        self.session.call("ShutdownGuest", &m.this()).map(|_| ())
    }

    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        // vcsim would suspend a powered-off VM; libvirt requires it running.
        if self.power(dom)? != Power::On {
            return Err(Error::op_invalid(ESX, "Domain is not powered on"));
        }
        self.power_task(dom, "SuspendVM_Task", "Domain is not powered on")
    }

    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        if self.power(dom)? != Power::Suspended {
            return Err(Error::op_invalid(ESX, "Domain is not suspended"));
        }
        self.power_task(dom, "PowerOnVM_Task", "Domain is not suspended")
    }

    fn snapshot_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        self.snap_create(dom, xml, flags)
    }

    fn snapshot_xml_desc(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        self.snap_xml(dom, name, flags)
    }

    fn snapshot_list(&self, dom: &DomainRef, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        self.snap_list(dom, flags, kind)
    }

    fn snapshot_list_children(&self, dom: &DomainRef, name: &str, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        self.snap_list_children(dom, name, flags, kind)
    }

    fn snapshot_tree_entries(&self, dom: &DomainRef, of: Option<&str>, flags: u32, _full: bool) -> Result<Vec<crate::model::SnapshotEntry>> {
        self.snap_entries(dom, of, flags)
    }

    fn snapshot_entry(&self, dom: &DomainRef, name: &str, _full: bool) -> Result<crate::model::SnapshotEntry> {
        self.snap_entry(dom, name)
    }

    fn snapshot_lookup(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        check_flags(flags, 0, ESX, "esxDomainSnapshotLookupByName")?;
        let t = self.read_tree(dom)?;
        self.find(&t, name).map(|i| t.nodes[i].name.clone())
    }

    fn snapshot_lookup_by_uuid(&self, dom: &DomainRef, uuid: &Uuid, flags: u32) -> Result<String> {
        check_flags(flags, 0, ESX, "esxDomainSnapshotLookupByUUIDString")?;
        let t = self.read_tree(dom)?;
        t.find_uuid(&dom.uuid, uuid)
            .map(|i| t.nodes[i].name.clone())
            .ok_or_else(|| Error::new(ErrorCode::NoDomainSnapshot, ESX, format!("Could not find snapshot with UUID '{uuid}'")))
    }

    fn snapshot_uuid(&self, dom: &DomainRef, name: &str) -> Result<Uuid> {
        let t = self.read_tree(dom)?;
        self.find(&t, name).map(|i| t.uuid_of(&dom.uuid, i))
    }

    fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<Option<String>> {
        check_flags(flags, 0, ESX, "esxDomainSnapshotCurrent")?;
        let t = self.read_tree(dom)?;
        Ok(t.current_index().map(|i| t.nodes[i].name.clone()))
    }

    fn snapshot_parent(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<Option<String>> {
        check_flags(flags, 0, ESX, "esxDomainSnapshotGetParent")?;
        let t = self.read_tree(dom)?;
        let i = self.find(&t, name)?;
        Ok(t.nodes[i].parent.map(|p| t.nodes[p].name.clone()))
    }

    fn snapshot_is_current(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<bool> {
        check_flags(flags, 0, ESX, "esxDomainSnapshotIsCurrent")?;
        let t = self.read_tree(dom)?;
        let i = self.find(&t, name)?;
        Ok(t.current_index() == Some(i))
    }

    fn snapshot_has_metadata(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<bool> {
        check_flags(flags, 0, ESX, "esxDomainSnapshotHasMetadata")?;
        let t = self.read_tree(dom)?;
        self.find(&t, name).map(|_| false)
    }

    fn snapshot_revert(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        self.snap_revert(dom, name, flags)
    }

    fn snapshot_delete(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        self.snap_delete(dom, name, flags)
    }

    fn snapshot_delete_set(&self, dom: &DomainRef, names: &[String]) -> Result<()> {
        self.snap_delete_set(dom, names)
    }

    fn snapshot_rename(&self, dom: &DomainRef, name: &str, new_name: &str, flags: u32) -> Result<()> {
        self.snap_rename(dom, name, new_name, flags)
    }

    fn snapshot_verify(&self, dom: &DomainRef, repair: bool) -> Result<Vec<crate::health::Finding>> {
        self.snap_verify(dom, repair)
    }
    fn snapshot_usage(&self, dom: &DomainRef, name: Option<&str>, flags: u32) -> Result<Vec<crate::usage::SnapshotUsage>> {
        self.snap_usage(dom, name, flags)
    }

    fn snapshot_delete_all(&self, dom: &DomainRef, flags: u32) -> Result<usize> {
        self.snap_delete_all(dom, flags)
    }
}

impl EsxDriver {
    /// The host system this connection works on: the one the vpx:// path
    /// names, else the (only) host of the ESX server, found as libvirt's
    /// `esxVI_Context_LookupManagedObjects` does (root folder, datacenter,
    /// its host folder, compute resource, host).
    fn host_system(&self) -> Result<MoRef> {
        if let Some(h) = &self.host {
            return Ok(h.clone());
        }
        let root = self.session.content.root_folder.clone().unwrap_or_else(|| MoRef::new("Folder", "ha-folder-root"));
        let spec = format!(
            "{}<objectSet>{}<skip>true</skip>\
             <selectSet xsi:type=\"TraversalSpec\"><name>folderToChild</name><type>Folder</type><path>childEntity</path><skip>true</skip>\
             <selectSet><name>folderToChild</name></selectSet><selectSet><name>dcToHostFolder</name></selectSet><selectSet><name>crToHost</name></selectSet></selectSet>\
             <selectSet xsi:type=\"TraversalSpec\"><name>dcToHostFolder</name><type>Datacenter</type><path>hostFolder</path><skip>true</skip>\
             <selectSet><name>folderToChild</name></selectSet></selectSet>\
             <selectSet xsi:type=\"TraversalSpec\"><name>crToHost</name><type>ComputeResource</type><path>host</path><skip>false</skip></selectSet>\
             </objectSet>",
            props::prop_spec("HostSystem", &["name"]),
            root.xml("obj")
        );
        props::retrieve(&self.session, &spec)?
            .into_iter()
            .find_map(|oc| oc.obj.filter(|o| o.kind == "HostSystem"))
            .ok_or_else(|| Error::internal(ESX, "Could not retrieve the HostSystem object"))
    }

    /// `virConnectGetHostname` as libvirt's `esxConnectGetHostname`: the
    /// host system's `config.network.dnsConfig` `hostName`, followed by
    /// `.domainName` when that is set and not empty. Since 0.3.
    fn dns_name(&self) -> Result<String> {
        const HOST: &str = "config.network.dnsConfig.hostName";
        const DOMAIN: &str = "config.network.dnsConfig.domainName";
        let oc = props::read(&self.session, &self.host_system()?, &[HOST, DOMAIN])?;
        dns_name(oc.text(HOST), oc.text(DOMAIN))
    }
}

/// `hostName[.domainName]`, libvirt's error for a missing host name.
fn dns_name(host: Option<&str>, domain: Option<&str>) -> Result<String> {
    let host = host.filter(|h| !h.is_empty()).ok_or_else(|| Error::internal(ESX, "Missing or empty 'hostName' property"))?;
    Ok(match domain.filter(|d| !d.is_empty()) {
        Some(d) => format!("{host}.{d}"),
        None => host.to_owned(),
    })
}

#[cfg(test)]
mod host_name_tests {
    #![allow(clippy::unwrap_used)]
    use super::dns_name;

    #[test]
    fn host_and_domain_as_libvirt_joins_them() {
        assert_eq!(dns_name(Some("esx1"), Some("example.com")).unwrap(), "esx1.example.com");
        assert_eq!(dns_name(Some("esx1"), Some("")).unwrap(), "esx1");
        assert_eq!(dns_name(Some("esx1"), None).unwrap(), "esx1");
        for h in [None, Some("")] {
            let e = dns_name(h, Some("example.com")).unwrap_err();
            assert_eq!((e.code, e.message.as_str()), (crate::error::ErrorCode::InternalError, "internal error: Missing or empty 'hostName' property"));
        }
    }
}

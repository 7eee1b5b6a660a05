//! vCenter paths: `vpx://VCENTER/DATACENTER[/FOLDER…]/CLUSTER/HOST` and
//! `vpx://VCENTER/[FOLDER…/]DATACENTER/[FOLDER…/]HOST` name one host system,
//! read as libvirt's ESX driver reads them (`esxConnectToVCenter`,
//! `esxVI_Context_LookupManagedObjectsByPath`): items up to the datacenter
//! are folders or the datacenter below the root folder; then folders or the
//! compute resource below the datacenter's host folder; a cluster is
//! followed by the host's name, a standalone compute resource names its
//! host itself. Each item is matched by exact name among the direct
//! children of the current folder (or the folder itself, as libvirt's
//! lookup does), one round trip per item. Since 0.3.

use super::props::{self, prop_spec};
use super::session::Session;
use super::soap::{el, MoRef};
use crate::error::{Error, ErrorDomain, Result};

const ESX: ErrorDomain = ErrorDomain::Esx;

/// The objects a vCenter path selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The datacenter.
    pub datacenter: MoRef,
    /// The `ComputeResource` or `ClusterComputeResource`.
    pub compute_resource: MoRef,
    /// The host system whose VMs the connection sees.
    pub host: MoRef,
}

/// Checks what libvirt checks before it contacts the vCenter: the path must
/// name at least a datacenter (`/` alone is refused with libvirt's message).
pub fn check_path(path: &str) -> Result<()> {
    if path == "/" {
        return Err(Error::invalid_arg(ESX, "Path has to specify the datacenter and compute resource"));
    }
    Ok(())
}

/// One non-recursive `TraversalSpec` from objects of `kind` along `path`.
pub fn traversal(kind: &str, path: &str) -> String {
    format!(
        "<selectSet xsi:type=\"TraversalSpec\">{}{}{}{}</selectSet>",
        el("name", &format!("{kind}To_{path}")),
        el("type", kind),
        el("path", path),
        el("skip", "false")
    )
}

/// A child of a folder (or the folder itself) found by exact name.
#[derive(Debug, Clone)]
struct Named {
    obj: MoRef,
    name: String,
}

/// The entities directly below `folder`, plus `folder` itself (libvirt's
/// lookup does not skip the root of its search), with their names.
fn folder_entries(session: &Session, folder: &MoRef) -> Result<Vec<Named>> {
    let mut spec = String::new();
    for kind in ["Folder", "Datacenter", "ComputeResource", "ClusterComputeResource"] {
        spec.push_str(&prop_spec(kind, &["name"]));
    }
    spec.push_str(&format!("<objectSet>{}<skip>false</skip>{}</objectSet>", folder.xml("obj"), traversal("Folder", "childEntity")));
    Ok(props::retrieve(session, &spec)?
        .into_iter()
        .filter_map(|oc| {
            let name = oc.text("name")?.to_owned();
            oc.obj.map(|obj| Named { obj, name })
        })
        .collect())
}

/// The host systems of a compute resource with their names.
fn hosts_of(session: &Session, cr: &MoRef) -> Result<Vec<Named>> {
    let spec = format!(
        "{}<objectSet>{}<skip>true</skip>{}</objectSet>",
        prop_spec("HostSystem", &["name"]),
        cr.xml("obj"),
        traversal(&cr.kind, "host"),
    );
    Ok(props::retrieve(session, &spec)?
        .into_iter()
        .filter_map(|oc| {
            let name = oc.text("name")?.to_owned();
            oc.obj.filter(|o| o.kind == "HostSystem").map(|obj| Named { obj, name })
        })
        .collect())
}

fn find<'a>(entries: &'a [Named], name: &str, kinds: &[&str]) -> Option<&'a Named> {
    entries.iter().find(|e| e.name == name && kinds.contains(&e.obj.kind.as_str()))
}

/// Resolves `path` (already percent-decoded, as libvirt's URI parser gives
/// it) to the datacenter, compute resource and host it names, with
/// libvirt's errors for a path that names none.
pub fn lookup(session: &Session, path: &str) -> Result<Selection> {
    let mut items = path.split('/').filter(|s| !s.is_empty()).peekable();
    if items.peek().is_none() {
        return Err(Error::invalid_arg(ESX, format!("Path '{path}' does not specify a datacenter")));
    }
    let root = session
        .content
        .root_folder
        .clone()
        .ok_or_else(|| Error::internal(ESX, "the server's service content has no root folder"))?;

    // Folders, then the datacenter.
    let mut folder = root;
    let mut datacenter = None;
    while datacenter.is_none() {
        let Some(item) = items.next() else { break };
        let entries = folder_entries(session, &folder)?;
        if let Some(f) = find(&entries, item, &["Folder"]) {
            folder = f.obj.clone();
        } else if let Some(d) = find(&entries, item, &["Datacenter"]) {
            datacenter = Some(d.obj.clone());
        }
    }
    let Some(datacenter) = datacenter else {
        return Err(Error::internal(ESX, format!("Could not find datacenter specified in '{path}'")));
    };

    // Folders below the datacenter's host folder, then the compute resource.
    if items.peek().is_none() {
        return Err(Error::invalid_arg(ESX, format!("Path '{path}' does not specify a compute resource")));
    }
    let host_folder = props::read(session, &datacenter, &["hostFolder"])?
        .prop("hostFolder")
        .and_then(MoRef::from_node)
        .ok_or_else(|| Error::internal(ESX, format!("Missing 'hostFolder' property of datacenter in '{path}'")))?;
    let mut folder = host_folder;
    let mut compute = None;
    let mut last = "";
    while compute.is_none() {
        let Some(item) = items.next() else { break };
        last = item;
        let entries = folder_entries(session, &folder)?;
        if let Some(f) = find(&entries, item, &["Folder"]) {
            folder = f.obj.clone();
        } else if let Some(c) = find(&entries, item, &["ComputeResource", "ClusterComputeResource"]) {
            compute = Some(c.obj.clone());
        }
    }
    let Some(compute_resource) = compute else {
        return Err(Error::internal(ESX, format!("Could not find compute resource specified in '{path}'")));
    };

    // A cluster names its host next; a standalone compute resource is its host.
    if compute_resource.kind == "ClusterComputeResource" {
        match items.next() {
            Some(item) => last = item,
            None => return Err(Error::invalid_arg(ESX, format!("Path '{path}' does not specify a host system"))),
        }
    }
    if items.next().is_some() {
        return Err(Error::invalid_arg(ESX, format!("Path '{path}' ends with an excess item")));
    }
    let hosts = hosts_of(session, &compute_resource)?;
    let host = hosts
        .iter()
        .find(|h| h.name == last)
        .map(|h| h.obj.clone())
        .ok_or_else(|| Error::internal(ESX, format!("Could not find host system specified in '{path}'")))?;
    Ok(Selection { datacenter, compute_resource, host })
}

//! vCenter paths (`vpx://VC/DC[/FOLDER…]/CLUSTER/HOST`, `vpx://VC/DC/HOST`)
//! against vcsim's vCenter model with two datacenters (the second inside a
//! folder, its hosts in a sub-folder), two clusters and two standalone hosts
//! each. Every host's path, built from an independent raw SOAP walk of the
//! inventory (a ContainerView, parents followed upwards), lists exactly the
//! VMs the server places on that host; a snapshot scenario runs on a VM of a
//! clustered host and of a standalone host, confirmed by raw reads; wrong
//! paths give libvirt's errors, compared live with libvirt 9.0's `virsh`
//! where libvirt gets that far against vcsim.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod esx_support;

use std::collections::HashMap;
use std::process::Command;

use esx_support::{auth, post, Vcsim};
use virsnap_core::drivers::esx::soap::{self, MoRef, Node};
use virsnap_core::flags::delete;
use virsnap_core::{Connection, ErrorCode};

/// vcsim's vCenter model: 2 datacenters (DC1 inside folder F0, its hosts in
/// host/F0), each with 2 standalone hosts and 2 clusters of 3 hosts.
const MODEL: &[&str] = &["-model", "vpx", "-dc", "2", "-cluster", "2", "-host", "2", "-folder", "1"];

fn envelope(method: &str, inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><Envelope xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><Body><{method} xmlns=\"urn:vim25\">{inner}</{method}></Body></Envelope>"
    )
}

/// An independent client of the vCenter: its own session, hand-written HTTP.
struct RawVc {
    addr: String,
    cookie: String,
    pc: MoRef,
    root: MoRef,
    views: MoRef,
}

impl RawVc {
    fn call_on(addr: &str, cookie: &str, method: &str, inner: &str) -> Node {
        let (st, _, body) = post(addr, cookie, &envelope(method, inner));
        assert_eq!(st, 200, "{method}: {body}");
        let root = soap::parse(&body).expect("raw parse");
        root.child("Body").and_then(|b| b.children.first()).cloned().expect("raw body")
    }

    fn login(addr: &str) -> Self {
        let sc = Self::call_on(addr, "", "RetrieveServiceContent", "<_this type=\"ServiceInstance\">ServiceInstance</_this>");
        let rv = sc.child("returnval").expect("service content");
        let m = |n: &str| MoRef::from_node(rv.child(n).expect(n)).expect(n);
        let sm = m("sessionManager");
        let (st, cookie, body) =
            post(addr, "", &envelope("Login", &format!("{}<userName>root</userName><password>pass</password>", sm.this())));
        assert_eq!(st, 200, "raw login: {body}");
        Self { addr: addr.to_owned(), cookie, pc: m("propertyCollector"), root: m("rootFolder"), views: m("viewManager") }
    }

    fn call(&self, method: &str, inner: &str) -> Node {
        Self::call_on(&self.addr, &self.cookie, method, inner)
    }

    /// `paths` of every object of `kind` in the inventory.
    fn all(&self, kind: &str, paths: &[&str]) -> Vec<(MoRef, HashMap<String, Node>)> {
        let v = self.call(
            "CreateContainerView",
            &format!("{}{}<type>{kind}</type><recursive>true</recursive>", self.views.this(), self.root.xml("container")),
        );
        let view = MoRef::from_node(v.child("returnval").expect("view")).expect("view ref");
        let mut spec = format!("<specSet><propSet><type>{kind}</type>");
        for p in paths {
            spec.push_str(&format!("<pathSet>{p}</pathSet>"));
        }
        spec.push_str(&format!(
            "</propSet><objectSet>{}<skip>true</skip><selectSet xsi:type=\"TraversalSpec\"><name>v</name>\
             <type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet></specSet>",
            view.xml("obj")
        ));
        let r = self.call("RetrieveProperties", &format!("{}{spec}", self.pc.this()));
        let out = r
            .children_named("returnval")
            .filter_map(|o| {
                let obj = MoRef::from_node(o.child("obj")?)?;
                let props = o
                    .children_named("propSet")
                    .map(|p| (p.child_text("name").unwrap_or_default().trim().to_owned(), p.child("val").cloned().unwrap_or_default()))
                    .collect();
                Some((obj, props))
            })
            .collect();
        self.call("DestroyView", &view.this());
        out
    }

    /// The names of a VM's snapshots in pre-order, `*` marking the current one.
    fn snapshots(&self, vm: &MoRef) -> String {
        fn go(n: &Node, cur: &str, out: &mut Vec<String>) {
            let star = if n.child_text("snapshot").map(str::trim) == Some(cur) { "*" } else { "" };
            out.push(format!("{}{star}", n.child_text("name").unwrap_or_default()));
            for c in n.children_named("childSnapshotList") {
                go(c, cur, out);
            }
        }
        let spec = format!(
            "<specSet><propSet><type>VirtualMachine</type><pathSet>snapshot</pathSet></propSet><objectSet>{}<skip>false</skip></objectSet></specSet>",
            vm.xml("obj")
        );
        let r = self.call("RetrieveProperties", &format!("{}{spec}", self.pc.this()));
        let mut out = Vec::new();
        if let Some(val) = r.path("returnval/propSet/val") {
            let cur = val.child_text("currentSnapshot").unwrap_or_default().trim().to_owned();
            for root in val.children_named("rootSnapshotList") {
                go(root, &cur, &mut out);
            }
        }
        out.join(" ")
    }
}

/// One host of the model as the server has it.
#[derive(Debug, Clone)]
struct Host {
    /// The vCenter path naming it, built upwards from the host.
    path: String,
    clustered: bool,
    in_folder: bool,
    /// Its VMs: (name, moref, BIOS UUID).
    vms: Vec<(String, MoRef, String)>,
    /// Its DNS name (`hostName[.domainName]` of its dnsConfig).
    dns: String,
}

fn inventory(raw: &RawVc) -> Vec<Host> {
    let text = |p: &HashMap<String, Node>, k: &str| p.get(k).map(|n| n.text.trim().to_owned()).unwrap_or_default();
    let parent = |p: &HashMap<String, Node>| p.get("parent").and_then(MoRef::from_node);
    let mut ents: HashMap<MoRef, (String, Option<MoRef>)> = HashMap::new();
    for kind in ["Folder", "Datacenter", "ComputeResource", "ClusterComputeResource"] {
        for (obj, p) in raw.all(kind, &["name", "parent"]) {
            ents.insert(obj, (text(&p, "name"), parent(&p)));
        }
    }
    let mut vms: HashMap<MoRef, (String, String)> = HashMap::new();
    for (obj, p) in raw.all("VirtualMachine", &["name", "config.uuid", "runtime.host"]) {
        vms.insert(obj, (text(&p, "name"), text(&p, "config.uuid")));
    }
    let mut hosts = Vec::new();
    for (_, p) in raw.all("HostSystem", &["name", "parent", "vm", "config.network.dnsConfig.hostName", "config.network.dnsConfig.domainName"]) {
        let dns = match (text(&p, "config.network.dnsConfig.hostName"), text(&p, "config.network.dnsConfig.domainName")) {
            (h, d) if d.is_empty() => h,
            (h, d) => format!("{h}.{d}"),
        };
        let cr = parent(&p).expect("host parent");
        let clustered = cr.kind == "ClusterComputeResource";
        let mut parts = Vec::new();
        if clustered {
            parts.push(text(&p, "name"));
        }
        let (cr_name, mut up) = ents.get(&cr).cloned().expect("compute resource");
        parts.push(cr_name);
        let mut in_folder = false;
        // The root folder (not in its own container view) ends the walk.
        while let Some(cur) = up.filter(|u| *u != raw.root) {
            let (name, next) = ents.get(&cur).cloned().expect("ancestor");
            let parent_is_dc = next.as_ref().is_some_and(|n| n.kind == "Datacenter");
            // The datacenter's own host folder is not in the path.
            if !(cur.kind == "Folder" && parent_is_dc) {
                in_folder |= cur.kind == "Folder";
                parts.push(name);
            }
            up = next;
        }
        parts.reverse();
        let vm_refs: Vec<MoRef> = p.get("vm").map(|v| v.children.iter().filter_map(MoRef::from_node).collect()).unwrap_or_default();
        let mut own: Vec<_> = vm_refs
            .iter()
            .map(|m| {
                let (n, u) = vms.get(m).cloned().expect("vm of host");
                (n, m.clone(), u)
            })
            .collect();
        own.sort_by(|a, b| a.0.cmp(&b.0));
        hosts.push(Host { path: format!("/{}", parts.join("/")), clustered, in_folder, vms: own, dns });
    }
    hosts.sort_by(|a, b| a.path.cmp(&b.path));
    hosts
}

fn vpx(v: &Vcsim, path: &str) -> String {
    format!("vpx://root@{}{path}?transport=http&timeout=120", v.addr)
}

fn open(v: &Vcsim, path: &str) -> virsnap_core::Result<Connection> {
    Connection::open_auth(Some(&vpx(v, path)), Some(auth("pass")), 0)
}

fn names(conn: &Connection) -> Vec<String> {
    let mut n: Vec<_> = conn.list_all_domains(0).unwrap().iter().map(|d| d.name().to_owned()).collect();
    n.sort();
    n
}

#[test]
#[cfg_attr(virsnap_no_vcsim, ignore = "needs vcsim (tests/vcsim/build.sh)")]
fn each_host_path_lists_only_that_hosts_domains() {
    let Some(v) = Vcsim::start_with("vc-hosts", MODEL) else { return };
    let raw = RawVc::login(&v.addr);
    let hosts = inventory(&raw);
    assert_eq!(hosts.len(), 2 * (2 + 2 * 3), "{hosts:#?}");
    assert!(hosts.iter().any(|h| h.in_folder && h.clustered) && hosts.iter().any(|h| h.in_folder && !h.clustered));
    assert!(hosts.iter().any(|h| h.path == "/DC0/DC0_H0") && hosts.iter().any(|h| h.path == "/DC0/DC0_C1/DC0_C1_H2"));
    assert_eq!(hosts.iter().map(|h| h.vms.len()).sum::<usize>(), 2 * (2 * 2 + 2 * 2), "every VM on one host");
    let all: Vec<_> = hosts.iter().flat_map(|h| h.vms.clone()).collect();
    for h in &hosts {
        let conn = open(&v, &h.path).unwrap_or_else(|e| panic!("{}: {e}", h.path));
        let want: Vec<_> = h.vms.iter().map(|(n, _, _)| n.clone()).collect();
        assert_eq!(names(&conn), want, "{}", h.path);
        // virConnectGetHostname: that host's DNS name (esxConnectGetHostname).
        assert!(!h.dns.is_empty(), "{}", h.path);
        assert_eq!(virsnap_core::host::hostname_of(&conn).unwrap(), h.dns, "{}", h.path);
        // The other hosts' VMs are not found, by name or by UUID.
        for (name, _, uuid) in all.iter().filter(|(n, _, _)| !want.contains(n)).take(3) {
            let e = conn.lookup_by_name(name).unwrap_err();
            assert_eq!((e.code, e.message.as_str()), (ErrorCode::NoDomain, format!("Domain not found: Could not find domain with name '{name}'").as_str()));
            assert_eq!(conn.lookup_by_uuid_string(uuid).unwrap_err().code, ErrorCode::NoDomain, "{}: {name}", h.path);
        }
        for (name, _, _) in &h.vms {
            assert_eq!(conn.lookup_by_name(name).unwrap().name(), name);
        }
    }
    println!("{} host paths checked", hosts.len());
}

/// create, list, current, revert, delete with children on one VM of `h`.
fn scenario(v: &Vcsim, raw: &RawVc, h: &Host) {
    let conn = open(v, &h.path).unwrap();
    let (name, moref, _) = h.vms.first().cloned().unwrap_or_else(|| panic!("{} has no VM", h.path));
    let d = conn.lookup_by_name(name.as_str()).unwrap();
    let a = d.snapshot_create_xml("<domainsnapshot><name>a</name></domainsnapshot>", 0).unwrap();
    d.snapshot_create_xml("<domainsnapshot><name>b</name></domainsnapshot>", 0).unwrap();
    assert_eq!(raw.snapshots(&moref), "a b*", "{}", h.path);
    assert_eq!(d.snapshot_list_names(0).unwrap(), ["a", "b"]);
    assert_eq!(&*d.snapshot_current(0).unwrap().name(), "b");
    a.revert(0).unwrap();
    assert_eq!(raw.snapshots(&moref), "a* b", "{}", h.path);
    assert!(a.is_current(0).unwrap());
    a.delete(delete::CHILDREN).unwrap();
    assert_eq!(raw.snapshots(&moref), "", "{}", h.path);
    assert_eq!(d.snapshot_num(0).unwrap(), 0);
}

#[test]
#[cfg_attr(virsnap_no_vcsim, ignore = "needs vcsim (tests/vcsim/build.sh)")]
fn snapshots_on_clustered_and_standalone_hosts() {
    let Some(v) = Vcsim::start_with("vc-snap", MODEL) else { return };
    let raw = RawVc::login(&v.addr);
    let hosts = inventory(&raw);
    let pick = |clustered: bool| {
        hosts
            .iter()
            .find(|h| h.clustered == clustered && h.in_folder && !h.vms.is_empty())
            .cloned()
            .expect("a host with VMs")
    };
    scenario(&v, &raw, &pick(true));
    scenario(&v, &raw, &pick(false));
}

/// libvirt 9.0's message for opening `uri` with `virsh` (credentials from a
/// private auth.conf), without virsh's "error: " prefix.
fn libvirt_error(uri: &str) -> String {
    let dir = std::env::temp_dir().join(format!("virsnap-vc-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("auth.conf");
    std::fs::write(&conf, "[credentials-vc]\nusername=root\npassword=pass\n[auth-esx-127.0.0.1]\ncredentials=vc\n").unwrap();
    let out = Command::new("virsh")
        .args(["-q", "-c", uri, "list", "--all", "--name"])
        .env("LIBVIRT_AUTH_FILE", &conf)
        .env("LIBVIRT_DEBUG", "4")
        .output()
        .expect("run virsh");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!out.status.success(), "libvirt accepted {uri}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    err.lines().rev().find_map(|l| l.strip_prefix("error: ")).unwrap_or_else(|| panic!("no virsh error for {uri}: {err}")).to_owned()
}

#[test]
#[cfg_attr(any(virsnap_no_vcsim, virsnap_no_virsh), ignore = "needs vcsim and libvirt 9.0's virsh")]
fn wrong_paths_fail_as_libvirt() {
    let Some(v) = Vcsim::start_with("vc-wrong", MODEL) else { return };
    // Where libvirt's ESX driver gets that far against vcsim: compared live.
    for (path, code) in [
        ("/", ErrorCode::InvalidArg),
        ("", ErrorCode::InvalidArg),
        ("//", ErrorCode::InvalidArg),
        ("/F0", ErrorCode::InternalError),
        ("/nope/DC0_H0", ErrorCode::InternalError),
        ("/DC0", ErrorCode::InvalidArg),
        ("/F0/DC1/", ErrorCode::InvalidArg),
        ("/DC0/nope", ErrorCode::InternalError),
        ("/DC0/host/nope", ErrorCode::InternalError),
        ("/F0/DC1/F0", ErrorCode::InternalError),
        ("/F0/DC1/DC1_H0", ErrorCode::InternalError),
        ("/DC1/DC1_H0", ErrorCode::InternalError),
        ("/DC0/DC0%20H0", ErrorCode::InternalError),
    ] {
        let e = open(&v, path).unwrap_err();
        let theirs = libvirt_error(&vpx(&v, path));
        assert_eq!((e.code, e.message.as_str()), (code, theirs.as_str()), "{path}");
    }
    // Past the compute resource libvirt 9.0 stops at vcsim's answer ("AnyType
    // is missing 'type' property"), so these are libvirt's esx_vi.c texts.
    for (path, code, msg) in [
        ("/DC0/DC0_C0", ErrorCode::InvalidArg, "invalid argument: Path '/DC0/DC0_C0' does not specify a host system"),
        ("/DC0/DC0_C0/nope", ErrorCode::InternalError, "internal error: Could not find host system specified in '/DC0/DC0_C0/nope'"),
        ("/DC0/DC0_H0/x", ErrorCode::InvalidArg, "invalid argument: Path '/DC0/DC0_H0/x' ends with an excess item"),
        (
            "/DC0/DC0_C0/DC0_C0_H0/x",
            ErrorCode::InvalidArg,
            "invalid argument: Path '/DC0/DC0_C0/DC0_C0_H0/x' ends with an excess item",
        ),
        ("/DC0/DC0_C0/DC1_C0_H0", ErrorCode::InternalError, "internal error: Could not find host system specified in '/DC0/DC0_C0/DC1_C0_H0'"),
    ] {
        let e = open(&v, path).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (code, msg), "{path}");
    }
    // The folder and datacenter names are matched exactly, levels not skipped.
    assert!(open(&v, "/F0/DC1/F0/DC1_H0").is_ok());
    assert_eq!(open(&v, "/F0/DC1/DC1_H0").unwrap_err().code, ErrorCode::InternalError);
}

//! The `remote` driver: libvirt's RPC protocol (program `0x20008086`,
//! version 1, XDR) to a real libvirt daemon (`libvirtd`, `virtqemud`) over
//! a unix socket, TCP or ssh. Each driver call is one procedure of
//! `remote_protocol.x`; the daemon's errors come back as the `virError`
//! libvirt's own client would raise.
//!
//! Files: [`xdr`] (encoding), [`packet`] (framing, serials, keep-alive,
//! errors), [`transport`] (sockets, ssh), [`uri`] (which URIs, which
//! socket), [`procs`] (procedure numbers), [`auth`] (auth negotiation).

pub mod auth;
pub mod packet;
pub mod procs;
#[cfg(feature = "esx")]
pub mod tls;
pub mod transport;
pub mod uri;
pub mod xdr;

use std::sync::Arc;

use self::packet::Client;
use self::xdr::{Dec, Enc};
use crate::drivers::{DomainInfo, DomainRef, Driver, ListKind, OpenRequest, ParsedUri};
use crate::error::{ErrorDomain, Result};
use crate::model::DomainState;
use crate::uuid::Uuid;

/// An open connection to a daemon. Since 0.3.
#[derive(Debug)]
pub struct RemoteDriver {
    client: Client,
    type_name: &'static str,
}

/// Driver opener: takes `DRIVER+TRANSPORT://…`, `qemu:///system` and
/// host-naming driver URIs (see [`uri::classify`]).
pub fn open(req: &OpenRequest, parsed: &ParsedUri) -> Option<Result<Arc<dyn Driver>>> {
    let target = match uri::classify(parsed, req.read_only)? {
        Ok(t) => t,
        Err(e) => return Some(Err(e)),
    };
    Some(connect(req, parsed, &target).map(|d| Arc::new(d) as Arc<dyn Driver>))
}

fn connect(req: &OpenRequest, parsed: &ParsedUri, target: &uri::Target) -> Result<RemoteDriver> {
    let stream = match &target.transport {
        uri::Transport::Unix(p) => transport::unix(p)?,
        uri::Transport::Tcp(h, port) => transport::tcp(h, *port)?,
        uri::Transport::Tls(h, port) => transport::tls(h, *port, parsed)?,
        uri::Transport::Ssh => transport::ssh(&transport::SshOpts {
            host: parsed.host.clone(),
            port: parsed.port,
            user: parsed.user.clone(),
            keyfile: parsed.param("keyfile").map(str::to_owned),
            command: parsed.param("command").map(str::to_owned),
            no_verify: parsed.param("no_verify").is_some_and(|v| v != "0"),
            known_hosts: parsed.param("known_hosts").map(str::to_owned),
            netcat: parsed.param("netcat").map(str::to_owned),
            force_netcat: parsed.param("proxy") == Some("netcat") || parsed.param("netcat").is_some(),
            socket: target.socket.clone(),
            helper_uri: target.remote_name.clone(),
        })?,
    };
    let client = Client::new(stream);
    auth::negotiate(&client, req, parsed)?;
    let mut args = Enc::new();
    args.opt_str(Some(&target.remote_name)).u32(u32::from(req.read_only));
    if let Err(e) = client.call(procs::CONNECT_OPEN, &args.buf) {
        client.close();
        return Err(e);
    }
    let body = client.call(procs::CONNECT_GET_TYPE, &[])?;
    let ty = Dec::new(&body).str()?;
    Ok(RemoteDriver { client, type_name: static_type(&ty) })
}

/// The daemon's driver name as a `&'static str` (the trait's type): the
/// names libvirt's drivers report, anything else "remote".
fn static_type(t: &str) -> &'static str {
    const KNOWN: &[&str] =
        &["QEMU", "Test", "LXC", "Xen", "VBOX", "ESX", "CH", "bhyve", "VZ", "OPENVZ", "UML", "Hyper-V", "PHYP"];
    KNOWN.iter().find(|k| k.eq_ignore_ascii_case(t)).copied().unwrap_or("remote")
}

impl Drop for RemoteDriver {
    fn drop(&mut self) {
        // `virConnectClose`: tell the daemon, then drop the transport. A
        // daemon already gone has nothing left to close, so a failure here
        // changes nothing.
        if self.client.call(procs::CONNECT_CLOSE, &[]).is_err() {
            // The transport is closed below either way.
        }
        self.client.close();
    }
}

fn enc_dom(e: &mut Enc, d: &DomainRef) {
    e.str(&d.name).fixed(&d.uuid.0).i32(d.id);
}

fn enc_snap(e: &mut Enc, d: &DomainRef, name: &str) {
    e.str(name);
    enc_dom(e, d);
}

fn dec_dom(d: &mut Dec<'_>) -> Result<DomainRef> {
    let name = d.str()?;
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(d.fixed(16)?);
    Ok(DomainRef { name, uuid: Uuid(uuid), id: d.i32()? })
}

/// A `remote_nonnull_domain_snapshot`: its name (the domain part is ours).
fn dec_snap(d: &mut Dec<'_>) -> Result<String> {
    let name = d.str()?;
    dec_dom(d)?;
    Ok(name)
}

fn state_of(n: i32) -> DomainState {
    match n {
        1 => DomainState::Running,
        2 => DomainState::Blocked,
        3 => DomainState::Paused,
        4 => DomainState::Shutdown,
        5 => DomainState::Shutoff,
        6 => DomainState::Crashed,
        7 => DomainState::PmSuspended,
        _ => DomainState::NoState,
    }
}

/// A `char x<N>` field: an XDR array of `char`, each one a 4-byte int;
/// the text runs up to the first NUL.
fn c_chars(d: &mut Dec<'_>) -> Result<String> {
    let n = d.count(4096, 4)?;
    let mut b = Vec::with_capacity(n);
    for _ in 0..n {
        // A C `char` travels sign-extended; keep its low byte.
        b.push(d.i32()?.to_le_bytes()[0]);
    }
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    Ok(String::from_utf8_lossy(&b[..end]).into_owned())
}

fn usize_of(n: i32) -> usize {
    usize::try_from(n).unwrap_or(0)
}

impl RemoteDriver {
    fn call(&self, proc_: i32, args: &Enc) -> Result<Vec<u8>> {
        self.client.call(proc_, &args.buf)
    }

    fn dom_call(&self, proc_: i32, dom: &DomainRef, flags: Option<u32>) -> Result<Vec<u8>> {
        let mut e = Enc::new();
        enc_dom(&mut e, dom);
        if let Some(f) = flags {
            e.u32(f);
        }
        self.call(proc_, &e)
    }

    fn snap_call(&self, proc_: i32, dom: &DomainRef, name: &str, flags: u32) -> Result<Vec<u8>> {
        let mut e = Enc::new();
        enc_snap(&mut e, dom, name);
        e.u32(flags);
        self.call(proc_, &e)
    }

    fn int_reply(body: &[u8]) -> Result<i32> {
        Dec::new(body).i32()
    }

    fn dom_reply(body: &[u8]) -> Result<DomainRef> {
        dec_dom(&mut Dec::new(body))
    }

    fn names_reply(body: &[u8]) -> Result<Vec<String>> {
        let mut d = Dec::new(body);
        let n = d.count(procs::LIST_MAX, 4)?;
        (0..n).map(|_| d.str()).collect()
    }

    /// `remote_…_list_all_…_ret`: snapshots, then the count.
    fn snaps_reply(body: &[u8]) -> Result<Vec<String>> {
        let mut d = Dec::new(body);
        let n = d.count(procs::LIST_MAX, 28)?;
        let v = (0..n).map(|_| dec_snap(&mut d)).collect::<Result<Vec<_>>>()?;
        d.i32()?;
        Ok(v)
    }

    /// `virConnectGetHostname` of the daemon's host. Since 0.3.
    pub fn hostname(&self) -> Result<String> {
        Dec::new(&self.call(procs::CONNECT_GET_HOSTNAME, &Enc::new())?).str()
    }

    /// `virConnectGetURI` as the daemon reports it. Since 0.3.
    pub fn daemon_uri(&self) -> Result<String> {
        Dec::new(&self.call(procs::CONNECT_GET_URI, &Enc::new())?).str()
    }
}

impl RemoteDriver {
    /// `virConnectGetCapabilities` of the daemon's host. Since 0.3.
    pub fn capabilities(&self) -> Result<String> {
        Dec::new(&self.call(procs::CONNECT_GET_CAPABILITIES, &Enc::new())?).str()
    }

    /// `virConnectGetSysinfo`. Since 0.3.
    pub fn sysinfo(&self, flags: u32) -> Result<String> {
        let mut e = Enc::new();
        e.u32(flags);
        Dec::new(&self.call(procs::CONNECT_GET_SYSINFO, &e)?).str()
    }

    /// `virNodeGetFreeMemory`. Since 0.3.
    pub fn free_memory(&self) -> Result<u64> {
        Dec::new(&self.call(procs::NODE_GET_FREE_MEMORY, &Enc::new())?).u64()
    }

    /// `virConnectGetMaxVcpus` (`kind` NULL: the driver's default). Since 0.3.
    pub fn max_vcpus(&self, kind: Option<&str>) -> Result<i32> {
        let mut e = Enc::new();
        e.opt_str(kind);
        Dec::new(&self.call(procs::CONNECT_GET_MAX_VCPUS, &e)?).i32()
    }

    /// `virNodeGetInfo`: `char model[32]` (32 XDR chars), memory, cpus,
    /// mhz, nodes, sockets, cores, threads. Since 0.3.
    pub fn node_info(&self) -> Result<crate::host::NodeInfo> {
        let body = self.call(procs::NODE_GET_INFO, &Enc::new())?;
        let mut d = Dec::new(&body);
        let mut model = Vec::with_capacity(32);
        for _ in 0..32 {
            model.push(d.i32()?.to_le_bytes()[0]);
        }
        let end = model.iter().position(|&c| c == 0).unwrap_or(model.len());
        let as_u32 = |v: i32| u32::try_from(v).unwrap_or(0);
        Ok(crate::host::NodeInfo {
            model: String::from_utf8_lossy(&model[..end]).into_owned(),
            memory: d.u64()?,
            cpus: as_u32(d.i32()?),
            mhz: as_u32(d.i32()?),
            nodes: as_u32(d.i32()?),
            sockets: as_u32(d.i32()?),
            cores: as_u32(d.i32()?),
            threads: as_u32(d.i32()?),
        })
    }
}

impl Driver for RemoteDriver {
    fn type_name(&self) -> &'static str {
        self.type_name
    }
    fn as_remote(&self) -> Option<&RemoteDriver> {
        Some(self)
    }
    fn error_domain(&self) -> ErrorDomain {
        match self.type_name {
            "QEMU" => ErrorDomain::Qemu,
            "Test" => ErrorDomain::Test,
            _ => ErrorDomain::Remote,
        }
    }
    fn func_prefix(&self) -> &'static str {
        match self.type_name {
            "QEMU" => "qemu",
            "Test" => "test",
            _ => "remote",
        }
    }
    fn hypervisor_version(&self) -> Result<u64> {
        Dec::new(&self.call(procs::CONNECT_GET_VERSION, &Enc::new())?).u64()
    }
    fn host_name(&self) -> Option<Result<String>> {
        Some(self.hostname())
    }
    fn list_domains(&self) -> Result<Vec<DomainRef>> {
        let mut e = Enc::new();
        e.i32(1).u32(0);
        let body = self.call(procs::CONNECT_LIST_ALL_DOMAINS, &e)?;
        let mut d = Dec::new(&body);
        let n = d.count(procs::LIST_MAX, 24)?;
        let mut v = (0..n).map(|_| dec_dom(&mut d)).collect::<Result<Vec<_>>>()?;
        // Active ones first, as the trait promises (stable: daemon order kept).
        v.sort_by_key(|r| r.id < 0);
        Ok(v)
    }
    fn lookup_domain_by_name(&self, name: &str) -> Result<DomainRef> {
        let mut e = Enc::new();
        e.str(name);
        Self::dom_reply(&self.call(procs::DOMAIN_LOOKUP_BY_NAME, &e)?)
    }
    fn lookup_domain_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        let mut e = Enc::new();
        e.fixed(&uuid.0);
        Self::dom_reply(&self.call(procs::DOMAIN_LOOKUP_BY_UUID, &e)?)
    }
    fn lookup_domain_by_id(&self, id: i32) -> Result<DomainRef> {
        let mut e = Enc::new();
        e.i32(id);
        Self::dom_reply(&self.call(procs::DOMAIN_LOOKUP_BY_ID, &e)?)
    }
    fn domain_state(&self, dom: &DomainRef) -> Result<(DomainState, i32)> {
        let body = self.dom_call(procs::DOMAIN_GET_STATE, dom, Some(0))?;
        let mut d = Dec::new(&body);
        Ok((state_of(d.i32()?), d.i32()?))
    }
    fn domain_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        let body = self.dom_call(procs::DOMAIN_GET_INFO, dom, None)?;
        let mut d = Dec::new(&body);
        Ok(DomainInfo {
            state: u8::try_from(d.u32()?).unwrap_or(0),
            max_mem: d.u64()?,
            memory: d.u64()?,
            nr_virt_cpu: u16::try_from(d.u32()?).unwrap_or(u16::MAX),
            cpu_time: d.u64()?,
        })
    }
    fn domain_is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        Ok(Self::int_reply(&self.dom_call(procs::DOMAIN_IS_PERSISTENT, dom, None)?)? != 0)
    }
    fn domain_xml(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        Dec::new(&self.dom_call(procs::DOMAIN_GET_XML_DESC, dom, Some(flags))?).str()
    }
    fn node_security_model(&self) -> Result<(String, String)> {
        let body = self.call(procs::NODE_GET_SECURITY_MODEL, &Enc::new())?;
        let mut d = Dec::new(&body);
        Ok((c_chars(&mut d)?, c_chars(&mut d)?))
    }
    fn domain_security_label(&self, dom: &DomainRef) -> Result<(String, bool)> {
        let body = self.dom_call(procs::DOMAIN_GET_SECURITY_LABEL, dom, None)?;
        let mut d = Dec::new(&body);
        Ok((c_chars(&mut d)?, d.i32()? != 0))
    }
    fn domain_os_type(&self, dom: &DomainRef) -> Result<Option<String>> {
        Dec::new(&self.dom_call(procs::DOMAIN_GET_OS_TYPE, dom, None)?).str().map(Some)
    }
    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.dom_call(procs::DOMAIN_CREATE_WITH_FLAGS, dom, Some(flags)).map(drop)
    }
    fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        if flags == 0 {
            self.dom_call(procs::DOMAIN_DESTROY, dom, None).map(drop)
        } else {
            self.dom_call(procs::DOMAIN_DESTROY_FLAGS, dom, Some(flags)).map(drop)
        }
    }
    fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        if flags == 0 {
            self.dom_call(procs::DOMAIN_SHUTDOWN, dom, None).map(drop)
        } else {
            self.dom_call(procs::DOMAIN_SHUTDOWN_FLAGS, dom, Some(flags)).map(drop)
        }
    }
    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        self.dom_call(procs::DOMAIN_SUSPEND, dom, None).map(drop)
    }
    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        self.dom_call(procs::DOMAIN_RESUME, dom, None).map(drop)
    }
    fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        let mut e = Enc::new();
        e.str(xml).u32(flags);
        Self::dom_reply(&self.call(procs::DOMAIN_DEFINE_XML_FLAGS, &e)?)
    }
    fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        let mut e = Enc::new();
        e.str(xml).u32(flags);
        Self::dom_reply(&self.call(procs::DOMAIN_CREATE_XML, &e)?)
    }
    fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        if flags == 0 {
            self.dom_call(procs::DOMAIN_UNDEFINE, dom, None).map(drop)
        } else {
            self.dom_call(procs::DOMAIN_UNDEFINE_FLAGS, dom, Some(flags)).map(drop)
        }
    }
    /// libvirt's remote driver leaves `dom->id` as it was after a stop
    /// (the destroy procedure returns nothing to update it from).
    fn keeps_handle_id_on_stop(&self) -> bool {
        true
    }

    fn snapshot_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        let mut e = Enc::new();
        enc_dom(&mut e, dom);
        e.str(xml).u32(flags);
        dec_snap(&mut Dec::new(&self.call(procs::DOMAIN_SNAPSHOT_CREATE_XML, &e)?))
    }
    fn snapshot_xml_desc(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        Dec::new(&self.snap_call(procs::DOMAIN_SNAPSHOT_GET_XML_DESC, dom, name, flags)?).str()
    }
    fn snapshot_list(&self, dom: &DomainRef, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        match kind {
            ListKind::All => {
                let mut e = Enc::new();
                enc_dom(&mut e, dom);
                e.i32(1).u32(flags);
                Self::snaps_reply(&self.call(procs::DOMAIN_LIST_ALL_SNAPSHOTS, &e)?)
            }
            ListKind::Num | ListKind::Names => {
                let n = self.snapshot_count(dom, None, flags)?;
                if n == 0 {
                    return Ok(Vec::new());
                }
                let mut e = Enc::new();
                enc_dom(&mut e, dom);
                e.i32(i32::try_from(n.min(procs::LIST_MAX)).unwrap_or(0)).u32(flags);
                Self::names_reply(&self.call(procs::DOMAIN_SNAPSHOT_LIST_NAMES, &e)?)
            }
        }
    }
    fn snapshot_list_children(&self, dom: &DomainRef, name: &str, flags: u32, kind: ListKind) -> Result<Vec<String>> {
        match kind {
            ListKind::All => {
                let mut e = Enc::new();
                enc_snap(&mut e, dom, name);
                e.i32(1).u32(flags);
                Self::snaps_reply(&self.call(procs::DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN, &e)?)
            }
            ListKind::Num | ListKind::Names => {
                let n = self.snapshot_count(dom, Some(name), flags)?;
                if n == 0 {
                    return Ok(Vec::new());
                }
                let mut e = Enc::new();
                enc_snap(&mut e, dom, name);
                e.i32(i32::try_from(n.min(procs::LIST_MAX)).unwrap_or(0)).u32(flags);
                Self::names_reply(&self.call(procs::DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES, &e)?)
            }
        }
    }
    fn snapshot_count(&self, dom: &DomainRef, of: Option<&str>, flags: u32) -> Result<usize> {
        let body = match of {
            None => self.dom_call(procs::DOMAIN_SNAPSHOT_NUM, dom, Some(flags))?,
            Some(n) => self.snap_call(procs::DOMAIN_SNAPSHOT_NUM_CHILDREN, dom, n, flags)?,
        };
        Ok(usize_of(Self::int_reply(&body)?))
    }
    fn snapshot_lookup(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        let mut e = Enc::new();
        enc_dom(&mut e, dom);
        e.str(name).u32(flags);
        dec_snap(&mut Dec::new(&self.call(procs::DOMAIN_SNAPSHOT_LOOKUP_BY_NAME, &e)?))
    }
    fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<Option<String>> {
        // The daemon's own "no current snapshot" error is what libvirt's
        // client reports, so it is passed on rather than made `None`.
        dec_snap(&mut Dec::new(&self.dom_call(procs::DOMAIN_SNAPSHOT_CURRENT, dom, Some(flags))?)).map(Some)
    }
    fn snapshot_has_current(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        Ok(Self::int_reply(&self.dom_call(procs::DOMAIN_HAS_CURRENT_SNAPSHOT, dom, Some(flags))?)? != 0)
    }
    fn snapshot_parent(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<Option<String>> {
        dec_snap(&mut Dec::new(&self.snap_call(procs::DOMAIN_SNAPSHOT_GET_PARENT, dom, name, flags)?)).map(Some)
    }
    fn snapshot_is_current(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<bool> {
        Ok(Self::int_reply(&self.snap_call(procs::DOMAIN_SNAPSHOT_IS_CURRENT, dom, name, flags)?)? != 0)
    }
    fn snapshot_has_metadata(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<bool> {
        Ok(Self::int_reply(&self.snap_call(procs::DOMAIN_SNAPSHOT_HAS_METADATA, dom, name, flags)?)? != 0)
    }
    fn snapshot_revert(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        self.snap_call(procs::DOMAIN_REVERT_TO_SNAPSHOT, dom, name, flags).map(drop)
    }
    fn snapshot_delete(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
        self.snap_call(procs::DOMAIN_SNAPSHOT_DELETE, dom, name, flags).map(drop)
    }
}

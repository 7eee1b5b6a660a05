//! Which URIs the remote driver takes and where they lead, as libvirt
//! 9.0's remote driver reads them (`remoteConnectOpen`,
//! `remoteGetUNIXSocket`, `remoteConnectFormatURI`).

use crate::drivers::ParsedUri;
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

/// libvirt's `LOCALSTATEDIR/run/libvirt`.
pub const RUN_DIR: &str = "/run/libvirt";
/// `LIBVIRTD_PRIV_UNIX_SOCKET` port for plain TCP.
pub const TCP_PORT: u16 = 16509;
/// Port for TLS.
pub const TLS_PORT: u16 = 16514;

/// How to reach the daemon. Since 0.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Unix socket at this path.
    Unix(String),
    /// TCP to host and port.
    Tcp(String, u16),
    /// TLS to host and port.
    Tls(String, u16),
    /// The system ssh client to this host.
    Ssh,
}

/// A URI the remote driver handles. Since 0.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where to connect.
    pub transport: Transport,
    /// The URI the daemon is asked to open (`REMOTE_PROC_CONNECT_OPEN`).
    pub remote_name: String,
    /// The daemon's socket on the far host (ssh), or the local one (unix).
    pub socket: String,
}

/// URI parameters that belong to the remote driver and are not passed on.
const REMOTE_PARAMS: &[&str] = &[
    "name", "command", "socket", "auth", "netcat", "keyfile", "no_verify", "no_tty", "pkipath", "known_hosts",
    "known_hosts_verify", "sshauth", "mode", "proxy", "tls_priority",
];

fn daemon_for(driver: &str) -> &'static str {
    match driver {
        "qemu" => "virtqemud",
        "lxc" => "virtlxcd",
        "xen" => "virtxend",
        "vbox" => "virtvboxd",
        "ch" => "virtchd",
        "network" => "virtnetworkd",
        "storage" => "virtstoraged",
        _ => "libvirtd",
    }
}

/// The daemon's socket as libvirt's client picks it: `socket=`, else
/// `virt<driver>d-sock` when that daemon runs, else `libvirt-sock`
/// (`-ro` for a read-only connection).
pub fn default_socket(driver: &str, read_only: bool, mode: Option<&str>, exists: &dyn Fn(&str) -> bool) -> String {
    let ro = if read_only { "-ro" } else { "" };
    let direct = format!("{RUN_DIR}/{}-sock{ro}", daemon_for(driver));
    let legacy = format!("{RUN_DIR}/libvirt-sock{ro}");
    match mode {
        Some("legacy") => legacy,
        Some("direct") => direct,
        _ if daemon_for(driver) != "libvirtd" && exists(&direct) => direct,
        _ => legacy,
    }
}

/// `Some(target)` when `u` is a URI of the remote driver: any
/// `DRIVER+TRANSPORT://` (but `esx`, `vpx`, `gsx`, `hyperv`, whose own
/// drivers refuse a transport), `qemu:///system`, or a driver URI naming a
/// host (libvirt's default transport there is TLS). `vbox` and `test`
/// without a transport stay with their local drivers.
pub fn classify(u: &ParsedUri, read_only: bool) -> Option<Result<Target>> {
    let (driver, transport) = match u.scheme.split_once('+') {
        Some((d, t)) => (d.to_owned(), Some(t.to_owned())),
        None => (u.scheme.clone(), None),
    };
    // libvirt's ESX / Hyper-V drivers claim their schemes even with a
    // transport (and refuse it themselves); the rest with a transport are
    // the remote driver's.
    if matches!(driver.as_str(), "esx" | "vpx" | "gsx" | "hyperv") {
        return None;
    }
    let local_only = matches!(driver.as_str(), "vbox" | "test");
    match &transport {
        None if driver == "qemu" && u.host.is_empty() && u.path == "/system" => {}
        None if !u.host.is_empty() && !local_only => {}
        None => return None,
        Some(_) => {}
    }
    Some(build(u, &driver, transport.as_deref(), read_only))
}

fn build(u: &ParsedUri, driver: &str, transport: Option<&str>, read_only: bool) -> Result<Target> {
    let remote_name = match u.param("name") {
        Some(n) => n.to_owned(),
        None => {
            let kept: Vec<String> = u
                .query
                .iter()
                .filter(|(k, _)| !REMOTE_PARAMS.contains(&k.as_str()))
                .map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k}={v}") })
                .collect();
            let q = if kept.is_empty() { String::new() } else { format!("?{}", kept.join("&")) };
            format!("{driver}://{}{q}", if u.path.is_empty() { "/" } else { &u.path })
        }
    };
    let exists = |p: &str| std::path::Path::new(p).exists();
    let socket = match u.param("socket") {
        Some(s) => s.to_owned(),
        None => default_socket(driver, read_only, u.param("mode"), &exists),
    };
    let host = if u.host.is_empty() { "localhost".to_owned() } else { u.host.clone() };
    let transport = match transport.unwrap_or(if u.host.is_empty() { "unix" } else { "tls" }) {
        "unix" => {
            if !u.host.is_empty() {
                return Err(Error::new(
                    ErrorCode::InvalidArg,
                    ErrorDomain::Remote,
                    "using unix socket and remote server 'HOST' is not supported.".replace("HOST", &u.host),
                ));
            }
            Transport::Unix(socket.clone())
        }
        "tcp" => Transport::Tcp(host, u.port.unwrap_or(TCP_PORT)),
        "tls" => Transport::Tls(host, u.port.unwrap_or(TLS_PORT)),
        "ssh" => Transport::Ssh,
        _ => {
            return Err(Error::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Remote,
                "transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)",
            ))
        }
    };
    Ok(Target { transport, remote_name, socket })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(uri: &str) -> Option<Target> {
        classify(&ParsedUri::parse(uri).unwrap(), false).map(|r| r.unwrap())
    }

    #[test]
    fn uris() {
        let x = t("qemu+unix:///system?socket=/tmp/s").unwrap();
        assert_eq!((x.transport, x.remote_name.as_str()), (Transport::Unix("/tmp/s".into()), "qemu:///system"));
        let x = t("test+tcp://127.0.0.1:1234/default").unwrap();
        assert_eq!((x.transport, x.remote_name.as_str()), (Transport::Tcp("127.0.0.1".into(), 1234), "test:///default"));
        let x = t("qemu+tcp://h/system").unwrap();
        assert_eq!(x.transport, Transport::Tcp("h".into(), TCP_PORT));
        let x = t("qemu://h/system").unwrap();
        assert_eq!(x.transport, Transport::Tls("h".into(), TLS_PORT));
        assert!(t("qemu:///session").is_none());
        assert!(t("qemu:///embed?root=/x").is_none());
        assert!(t("test:///default").is_none());
        assert!(t("esx://h/?no_verify=1").is_none());
        assert!(t("esx+ssh://h/").is_none());
        assert!(t("vpx+tcp://h/dc/host").is_none());
        let x = t("qemu+ssh://u@h:22/system?keyfile=/k&socket=/s").unwrap();
        assert_eq!((x.transport, x.remote_name.as_str(), x.socket.as_str()), (Transport::Ssh, "qemu:///system", "/s"));
        assert!(classify(&ParsedUri::parse("qemu+carrier://h/system").unwrap(), false).unwrap().is_err());
    }

    #[test]
    fn default_socket_prefers_the_modular_daemon() {
        assert_eq!(default_socket("qemu", false, None, &|_| true), "/run/libvirt/virtqemud-sock");
        assert_eq!(default_socket("qemu", true, None, &|_| false), "/run/libvirt/libvirt-sock-ro");
        assert_eq!(default_socket("test", false, None, &|_| true), "/run/libvirt/libvirt-sock");
    }
}

//! Byte streams to a libvirt daemon: a unix socket, TCP, or the system
//! `ssh` client running libvirt's helper (or netcat) on the far host.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};

use crate::error::{Error, ErrorCode, ErrorDomain, Result};

/// A connected transport: its read and write halves, and the `ssh`
/// process behind them if any (reaped on close). Since 0.3.
pub struct Stream {
    /// Bytes from the daemon.
    pub reader: Box<dyn Read + Send>,
    /// Bytes to the daemon.
    pub writer: Box<dyn Write + Send>,
    child: Option<Child>,
    /// What the `ssh` child wrote to stderr (capped), for error messages.
    errors: Option<std::sync::Arc<std::sync::Mutex<String>>>,
}

impl Stream {
    /// What the transport's helper process reported on stderr, trimmed
    /// (empty when there is none).
    pub fn helper_errors(&self) -> String {
        self.errors.as_ref().and_then(|e| e.lock().ok().map(|s| s.trim().to_owned())).unwrap_or_default()
    }

    /// A stream of two halves (no child process).
    pub fn from_parts(reader: Box<dyn Read + Send>, writer: Box<dyn Write + Send>) -> Stream {
        Stream { reader, writer, child: None, errors: None }
    }

    /// Ends the connection; an `ssh` child is waited for (closing its
    /// stdin ends it).
    pub fn close(self) {
        let Stream { reader, writer, child, .. } = self;
        drop(writer);
        drop(reader);
        if let Some(mut c) = child {
            // The helper exits once its stdin closes; a wait error means
            // it is already gone, nothing to do then.
            if c.wait().is_err() {
                // Not waitable: it was reaped already.
            }
        }
    }
}

fn connect_err(what: &str, e: &std::io::Error) -> Error {
    Error::new(ErrorCode::SystemError, ErrorDomain::Rpc, format!("{what}: {e}"))
}

/// Connects to the unix socket at `path`.
pub fn unix(path: &str) -> Result<Stream> {
    let s = UnixStream::connect(path).map_err(|e| connect_err(&format!("Failed to connect socket to '{path}'"), &e))?;
    let r = s.try_clone().map_err(|e| connect_err("Unable to duplicate socket", &e))?;
    Ok(Stream::from_parts(Box::new(r), Box::new(s)))
}

/// Connects to `host:port` over TCP.
pub fn tcp(host: &str, port: u16) -> Result<Stream> {
    let s = TcpStream::connect((host, port))
        .map_err(|e| connect_err(&format!("unable to connect to server at '{host}:{port}'"), &e))?;
    // Small calls: send at once rather than wait for Nagle.
    s.set_nodelay(true).map_err(|e| connect_err("Unable to set TCP_NODELAY", &e))?;
    let r = s.try_clone().map_err(|e| connect_err("Unable to duplicate socket", &e))?;
    Ok(Stream::from_parts(Box::new(r), Box::new(s)))
}

/// Options of an `ssh` transport (libvirt's URI parameters).
#[derive(Debug, Clone, Default)]
pub struct SshOpts {
    /// Host to reach.
    pub host: String,
    /// `ssh -p`.
    pub port: Option<u16>,
    /// `ssh -l`.
    pub user: Option<String>,
    /// `keyfile=`: `ssh -i`.
    pub keyfile: Option<String>,
    /// `command=`: the ssh binary (default `ssh`).
    pub command: Option<String>,
    /// `no_verify=1`: `-o StrictHostKeyChecking=no`.
    pub no_verify: bool,
    /// `known_hosts=`: `-o UserKnownHostsFile=…`.
    pub known_hosts: Option<String>,
    /// `netcat=`: the netcat binary on the far side (default `nc`).
    pub netcat: Option<String>,
    /// `proxy=netcat` forces netcat; otherwise `virt-ssh-helper` when the
    /// far side has it (libvirt's `proxy=auto`).
    pub force_netcat: bool,
    /// The daemon's socket on the far side.
    pub socket: String,
    /// The URI `virt-ssh-helper` is given.
    pub helper_uri: String,
}

/// Quotes `s` for the far side's `sh` (single quotes, `'` escaped).
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The remote shell command libvirt 9.0 runs through ssh (proxy=auto:
/// `virt-ssh-helper` when present, else netcat on the daemon's socket).
pub fn ssh_remote_command(o: &SshOpts) -> String {
    let nc = sh_quote(o.netcat.as_deref().unwrap_or("nc"));
    let netcat = format!(
        "if {nc} -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; then ARG=-q0; else ARG=; fi; {nc} $ARG -U {}",
        sh_quote(&o.socket)
    );
    if o.force_netcat {
        format!("sh -c {}", sh_quote(&netcat))
    } else {
        let script = format!(
            "which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then virt-ssh-helper {}; else {netcat}; fi",
            sh_quote(&o.helper_uri)
        );
        format!("sh -c {}", sh_quote(&script))
    }
}

/// Starts the system `ssh` client and talks over its stdin / stdout.
pub fn ssh(o: &SshOpts) -> Result<Stream> {
    let mut cmd = Command::new(o.command.as_deref().unwrap_or("ssh"));
    if let Some(p) = o.port {
        cmd.arg("-p").arg(p.to_string());
    }
    if let Some(u) = &o.user {
        cmd.arg("-l").arg(u);
    }
    if let Some(k) = &o.keyfile {
        cmd.arg("-i").arg(k);
    }
    cmd.args(["-T", "-e", "none", "-o", "BatchMode=yes"]);
    if o.no_verify {
        cmd.args(["-o", "StrictHostKeyChecking=no"]);
    }
    if let Some(k) = &o.known_hosts {
        cmd.arg("-o").arg(format!("UserKnownHostsFile={k}"));
    }
    cmd.arg("--").arg(&o.host).arg(ssh_remote_command(o));
    // ssh's own messages (host key warnings, auth failures) are kept for
    // error messages, as libvirt's client does, not printed.
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| connect_err("Unable to start ssh", &e))?;
    let (Some(stdin), Some(stdout), Some(mut stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
        return Err(Error::internal(ErrorDomain::Rpc, "ssh started without pipes"));
    };
    let errors = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = errors.clone();
    // Drains stderr until ssh exits (so ssh never blocks on a full pipe).
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut s) = sink.lock() {
                if s.len() < 65_536 {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        }
    });
    Ok(Stream { reader: Box::new(stdout), writer: Box::new(stdin), child: Some(child), errors: Some(errors) })
}

/// TLS to `host:port` (`DRIVER+tls://`), with libvirt's files.
#[cfg(feature = "esx")]
pub fn tls(host: &str, port: u16, uri: &crate::drivers::ParsedUri) -> Result<Stream> {
    super::tls::connect(host, port, uri)
}

/// TLS needs rustls, built with the `esx` feature.
#[cfg(not(feature = "esx"))]
pub fn tls(host: &str, port: u16, _uri: &crate::drivers::ParsedUri) -> Result<Stream> {
    Err(Error::new(
        ErrorCode::NoSupport,
        ErrorDomain::Remote,
        format!("TLS transport to {host}:{port} needs virsnap-core's `esx` feature (rustls)"),
    ))
}

/// A byte stream shared by the two halves of a [`Stream`] (TLS: one
/// session object reads and writes). Calls never overlap (the client
/// holds its lock across a whole exchange), so the mutex never waits.
pub struct Shared<T>(pub std::sync::Arc<std::sync::Mutex<T>>);

impl<T: Read> Read for Shared<T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.read(buf)
    }
}

impl<T: Write> Write for Shared<T> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.flush()
    }
}

impl Stream {
    /// A stream whose both halves are `inner`.
    pub fn shared<T: Read + Write + Send + 'static>(inner: T) -> Stream {
        let a = std::sync::Arc::new(std::sync::Mutex::new(inner));
        Stream::from_parts(Box::new(Shared(a.clone())), Box::new(Shared(a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_command_quotes_socket_and_uri() {
        let o = SshOpts { socket: "/run/x'y".into(), helper_uri: "qemu:///system".into(), ..Default::default() };
        let c = ssh_remote_command(&o);
        assert!(c.starts_with("sh -c '"), "{c}");
        assert!(c.contains("virt-ssh-helper"), "{c}");
        let o = SshOpts { force_netcat: true, socket: "/s".into(), ..Default::default() };
        assert!(!ssh_remote_command(&o).contains("virt-ssh-helper"));
    }
}

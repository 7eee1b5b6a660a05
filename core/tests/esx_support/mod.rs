//! Shared harness for the ESX tests: a vcsim process on a free loopback
//! port (stopped by PID on drop), a credential callback, and an independent
//! raw SOAP client (hand-written HTTP over a TcpStream) that reads the
//! server's own view of a VM to confirm each step.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use virsnap_core::drivers::esx::soap::{self, MoRef, Node};
use virsnap_core::drivers::{cred, Auth};

/// A running vcsim.
pub struct Vcsim {
    child: Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
    tmp: PathBuf,
}

fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VIRSNAP_VCSIM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/vcsim/vcsim");
    p.exists().then_some(p)
}

impl Vcsim {
    /// Starts vcsim; always `Some`, panics when it is not built (the tests
    /// are ignored where build.rs found no vcsim).
    pub fn start(test: &str) -> Option<Self> {
        Self::start_with(test, &[])
    }

    /// [`Self::start`] with extra vcsim arguments.
    pub fn start_with(test: &str, extra: &[&str]) -> Option<Self> {
        let Some(bin) = binary() else {
            panic!("{test}: vcsim is required but not built (run tests/vcsim/build.sh or set VIRSNAP_VCSIM)");
        };
        let tmp = std::env::temp_dir().join(format!("virsnap-vcsim-{}-{test}", std::process::id()));
        let _ = std::fs::create_dir_all(&tmp);
        let mut child = Command::new(bin)
            .args(["-listen", "127.0.0.1:0"])
            .args(extra)
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn vcsim");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(120)).expect("vcsim printed no URL in 120 s");
        // http://user:pass@127.0.0.1:PORT/sdk
        let addr = line.trim().split('@').nth(1).and_then(|r| r.split('/').next()).expect("vcsim URL").to_owned();
        Some(Self { child, addr, tmp })
    }

    /// The port vcsim listens on.
    pub fn port(&self) -> u16 {
        self.addr.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port")
    }

    /// A driver URI for this vcsim.
    pub fn uri(&self) -> String {
        format!("esx://root@{}/?transport=http&no_verify=1&timeout=120", self.addr)
    }

    /// Is the process still alive?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Vcsim {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        for _ in 0..50 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// A callback that answers every credential with `password` (user `root`).
pub fn auth(password: &str) -> Auth {
    let password = password.to_owned();
    Auth {
        cred_types: vec![cred::AUTHNAME, cred::PASSPHRASE, cred::NOECHOPROMPT],
        callback: Arc::new(move |reqs| {
            for r in reqs.iter_mut() {
                r.result = Some(if r.kind == cred::AUTHNAME { "root".to_owned() } else { password.clone() });
            }
            Ok(())
        }),
    }
}

/// The two VMs of vcsim's ESX model.
pub const VM0: (&str, &str, &str) = ("ha-host_VM0", "vm-9", "b03b24de-847f-5b0d-85f4-221b300038a8");
/// Second VM.
pub const VM1: (&str, &str, &str) = ("ha-host_VM1", "vm-12", "50ee41db-9de7-51cb-896c-c26bea7bd6ff");

/// An independent SOAP client: its own session and hand-written HTTP/1.0.
pub struct Raw {
    addr: String,
    cookie: String,
}

fn envelope(method: &str, inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><Envelope xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\"><Body><{method} xmlns=\"urn:vim25\">{inner}</{method}></Body></Envelope>"
    )
}

/// One HTTP/1.0 POST; returns (status, Set-Cookie pair, body).
pub fn post(addr: &str, cookie: &str, body: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).expect("timeout");
    let req = format!(
        "POST /sdk HTTP/1.0\r\nHost: {addr}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n{}\r\n{body}",
        body.len(),
        if cookie.is_empty() { String::new() } else { format!("Cookie: {cookie}\r\n") }
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let set_cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("Set-Cookie: ").or_else(|| l.strip_prefix("set-cookie: ")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_owned();
    (status, set_cookie, body.to_owned())
}

/// A snapshot as the server has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSnap {
    /// Name.
    pub name: String,
    /// Moref id.
    pub moref: String,
    /// Recorded power state.
    pub state: String,
    /// Children.
    pub children: Vec<RawSnap>,
}

impl Raw {
    /// Logs in as root/pass.
    pub fn login(addr: &str) -> Self {
        let (st, cookie, body) = post(
            addr,
            "",
            &envelope(
                "Login",
                "<_this type=\"SessionManager\">ha-sessionmgr</_this><userName>root</userName><password>pass</password>",
            ),
        );
        assert_eq!(st, 200, "raw login: {body}");
        Self { addr: addr.to_owned(), cookie }
    }

    /// Calls `method`; the response element, or the fault's text as `Err`.
    pub fn call(&self, method: &str, inner: &str) -> Result<Node, String> {
        let (st, _, body) = post(&self.addr, &self.cookie, &envelope(method, inner));
        let root = soap::parse(&body).map_err(|e| format!("HTTP {st}: {e}: {body}"))?;
        let b = root.child("Body").ok_or_else(|| format!("no body: {body}"))?;
        let first = b.children.first().ok_or("empty body")?;
        if st != 200 || first.name == "Fault" {
            return Err(format!("HTTP {st}: {body}"));
        }
        Ok(first.clone())
    }

    /// Reads `paths` of `obj`: (path, value node) pairs.
    pub fn read(&self, obj: &MoRef, paths: &[&str]) -> Vec<(String, Node)> {
        let mut spec = format!("<specSet><propSet><type>{}</type>", obj.kind);
        for p in paths {
            spec.push_str(&format!("<pathSet>{p}</pathSet>"));
        }
        spec.push_str(&format!("</propSet><objectSet>{}<skip>false</skip></objectSet></specSet>", obj.xml("obj")));
        let r = self
            .call(
                "RetrievePropertiesEx",
                &format!("<_this type=\"PropertyCollector\">ha-property-collector</_this>{spec}<options/>"),
            )
            .expect("raw read");
        let mut out = Vec::new();
        if let Some(o) = r.path("returnval/objects") {
            for p in o.children_named("propSet") {
                out.push((p.child_text("name").unwrap_or_default().to_owned(), p.child("val").cloned().unwrap_or_default()));
            }
        }
        out
    }

    /// The VM's power state.
    pub fn power(&self, vm: &str) -> String {
        let r = self.read(&MoRef::new("VirtualMachine", vm), &["runtime.powerState"]);
        r.first().map(|(_, v)| v.text.clone()).unwrap_or_default()
    }

    fn snap(n: &Node) -> RawSnap {
        RawSnap {
            name: n.child_text("name").unwrap_or_default().to_owned(),
            moref: n.child_text("snapshot").unwrap_or_default().to_owned(),
            state: n.child_text("state").unwrap_or_default().to_owned(),
            children: n.children_named("childSnapshotList").map(Self::snap).collect(),
        }
    }

    /// (roots, current moref) of the VM, read with sub-paths
    /// `snapshot.rootSnapshotList` and `snapshot.currentSnapshot` (the
    /// driver reads `snapshot` whole).
    pub fn tree(&self, vm: &str) -> (Vec<RawSnap>, Option<String>) {
        let r = self.read(&MoRef::new("VirtualMachine", vm), &["snapshot.rootSnapshotList", "snapshot.currentSnapshot"]);
        let mut roots = Vec::new();
        let mut current = None;
        for (p, v) in r {
            if p == "snapshot.rootSnapshotList" {
                roots = v.children.iter().map(Self::snap).collect();
            } else if p == "snapshot.currentSnapshot" {
                current = Some(v.text.clone()).filter(|t| !t.is_empty());
            }
        }
        (roots, current)
    }

    /// The tree as text: `a(b,c*)`, `*` marking the current snapshot.
    pub fn render(&self, vm: &str) -> String {
        fn go(s: &RawSnap, cur: &Option<String>, out: &mut String) {
            out.push_str(&s.name);
            if cur.as_deref() == Some(s.moref.as_str()) {
                out.push('*');
            }
            if !s.children.is_empty() {
                out.push('(');
                for (i, c) in s.children.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    go(c, cur, out);
                }
                out.push(')');
            }
        }
        let (roots, cur) = self.tree(vm);
        let mut out = String::new();
        for (i, r) in roots.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            go(r, &cur, &mut out);
        }
        out
    }

    /// Finds a snapshot by name (first in pre-order).
    pub fn find(&self, vm: &str, name: &str) -> Option<RawSnap> {
        fn go(v: &[RawSnap], name: &str) -> Option<RawSnap> {
            for s in v {
                if s.name == name {
                    return Some(s.clone());
                }
                if let Some(f) = go(&s.children, name) {
                    return Some(f);
                }
            }
            None
        }
        go(&self.tree(vm).0, name)
    }

    /// Creates a snapshot directly on the server (bypassing the driver).
    pub fn create_snapshot(&self, vm: &str, name: &str) {
        self.call(
            "CreateSnapshot_Task",
            &format!("<_this type=\"VirtualMachine\">{vm}</_this><name>{}</name><memory>false</memory><quiesce>false</quiesce>", soap::esc(name)),
        )
        .expect("raw create");
    }
}

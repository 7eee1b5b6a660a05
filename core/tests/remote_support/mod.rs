//! A real libvirt daemon for the remote-driver tests: Debian's `libvirtd`,
//! started by the test in a private mount namespace (`unshare -m`) whose
//! /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and
//! /var/log/libvirt are bind mounts of a temp dir, so it shares nothing
//! with the machine's own libvirt. Sockets live in the temp dir, TCP
//! listens on a free loopback port, every auth is "none", and qemu.conf
//! runs TCG guests as root with `stdio_handler = "file"` (no virtlogd).
//! Dropping the [`Daemon`] destroys its guests and stops it by PID.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running daemon.
pub struct Daemon {
    /// Private temp dir (config, state, sockets, disks).
    pub dir: PathBuf,
    /// Its read-write unix socket.
    pub sock: String,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    child: Child,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Daemon {
    /// Starts a daemon for test `tag`; panics (with its log) if it does not come up.
    pub fn start(tag: &str) -> Daemon {
        Self::start_with(tag, |_| String::new())
    }

    /// [`Self::start`] with more `libvirtd.conf` lines, made from the temp dir.
    pub fn start_with(tag: &str, extra: impl Fn(&Path) -> String) -> Daemon {
        let dir = std::env::temp_dir().join(format!("virsnap-remote-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["etc", "run", "lib", "cache", "log", "sock"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let port = free_port();
        let d = dir.display();
        let extra = extra(&dir);
        let tls = if extra.contains("listen_tls") { "" } else { "listen_tls = 0\n" };
        let unix_auth = if extra.contains("auth_unix_rw") { "" } else { "auth_unix_rw = \"none\"\n" };
        let tcp_auth = if extra.contains("auth_tcp") { "" } else { "auth_tcp = \"none\"\n" };
        // `unix_sock_dir = "/run/libvirt"` in `extra`: the sockets where
        // libvirt's clients look by default, seen from inside the daemon's
        // namespace (see [`Self::pid`]); on this side they are in run/.
        let in_run = extra.contains("unix_sock_dir");
        let sock_dir = if in_run { String::new() } else { format!("unix_sock_dir = \"{d}/sock\"\n") };
        std::fs::write(
            dir.join("etc/libvirtd.conf"),
            format!(
                "{sock_dir}listen_tcp = 1\n{tls}tcp_port = \"{port}\"\n\
                 listen_addr = \"127.0.0.1\"\n{tcp_auth}{unix_auth}auth_unix_ro = \"none\"\n\
                 unix_sock_rw_perms = \"0700\"\nlog_outputs = \"3:stderr\"\n{}",
                extra
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("etc/qemu.conf"),
            "user = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nsecurity_driver = \"none\"\n\
             stdio_handler = \"file\"\ncgroup_controllers = [ ]\n",
        )
        .unwrap();
        let mut script = String::from("set -e\n");
        for (sub, target) in [
            ("etc", "/etc/libvirt"),
            ("run", "/run/libvirt"),
            ("lib", "/var/lib/libvirt"),
            ("cache", "/var/cache/libvirt"),
            ("log", "/var/log/libvirt"),
        ] {
            script.push_str(&format!("mkdir -p {target}\nmount --bind '{d}/{sub}' {target}\n"));
        }
        script.push_str(&format!("exec /usr/sbin/libvirtd --listen -f '{d}/etc/libvirtd.conf' -p '{d}/libvirtd.pid'\n"));
        let log = std::fs::File::create(dir.join("libvirtd.log")).unwrap();
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start libvirtd");
        let sock = if in_run { format!("{d}/run/libvirt-sock") } else { format!("{d}/sock/libvirt-sock") };
        let mut dmn = Daemon { dir, sock, port, child };
        // Far above need: a loaded 2-core machine starts it in a few seconds.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let unix_ok = std::os::unix::net::UnixStream::connect(&dmn.sock).is_ok();
            let tcp_ok = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if unix_ok && tcp_ok {
                break;
            }
            if let Ok(Some(st)) = dmn.child.try_wait() {
                panic!("libvirtd exited ({st}): {}", dmn.log());
            }
            assert!(Instant::now() < deadline, "libvirtd did not come up: {}", dmn.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        dmn
    }

    /// Keeps a connection to `uri` open until the returned guard drops
    /// (`virsh event --loop`), so that the daemon's `test:///default`
    /// state outlives the short CLI connections of a scenario.
    pub fn hold(&self, uri: &str) -> Holder {
        let child = Command::new("virsh")
            .args(["-c", uri, "event", "--all", "--loop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start virsh event");
        // Its connection is open once a snapshot made by another
        // connection outlives that connection.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut h = Holder(child);
        loop {
            std::thread::sleep(Duration::from_millis(300));
            assert!(matches!(h.0.try_wait(), Ok(None)), "virsh event exited");
            let _ = virsh(uri, &["snapshot-create-as", "test", "__probe"]);
            let (_, list, _) = virsh(uri, &["snapshot-list", "test", "--name"]);
            if list.contains("__probe") {
                let (ok, _, err) = virsh(uri, &["snapshot-delete", "test", "__probe"]);
                assert!(ok, "{err}");
                break;
            }
            assert!(Instant::now() < deadline, "virsh event did not connect");
        }
        h
    }

    /// The daemon's PID (for `nsenter -t PID -m`: its mount namespace).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("libvirtd.log")).unwrap_or_default()
    }

    /// `qemu+unix:///system?socket=…`.
    pub fn qemu_uri(&self) -> String {
        format!("qemu+unix:///system?socket={}", self.sock)
    }

    /// `test+tcp://127.0.0.1:PORT/default`.
    pub fn test_tcp_uri(&self) -> String {
        format!("test+tcp://127.0.0.1:{}/default", self.port)
    }

    /// Writes a 16 MiB qcow2 disk and the XML of a small TCG guest `name` using it.
    pub fn guest_xml(&self, name: &str) -> PathBuf {
        let disk = self.dir.join(format!("{name}.qcow2"));
        let st = Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&disk).arg("16M").status().unwrap();
        assert!(st.success(), "qemu-img create");
        let xml = format!(
            "<domain type='qemu'>\n  <name>{name}</name>\n  <memory unit='MiB'>32</memory>\n  <vcpu>1</vcpu>\n  \
             <os><type arch='x86_64' machine='pc'>hvm</type></os>\n  <devices>\n    \
             <emulator>/usr/bin/qemu-system-x86_64</emulator>\n    <disk type='file' device='disk'>\n      \
             <driver name='qemu' type='qcow2'/>\n      <source file='{}'/>\n      \
             <target dev='vda' bus='virtio'/>\n    </disk>\n  </devices>\n</domain>\n",
            disk.display()
        );
        let p = self.dir.join(format!("{name}.xml"));
        std::fs::write(&p, xml).unwrap();
        p
    }
}

/// A process holding a connection open; killed by PID on drop.
pub struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs real `virsh -c uri args…`: (exit ok, stdout, stderr).
pub fn virsh(uri: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("virsh").arg("-c").arg(uri).args(args).output().expect("run virsh");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Guests first (they would outlive the daemon), then the daemon.
        let (_, names, _) = virsh(&self.qemu_uri(), &["list", "--name"]);
        for n in names.lines().filter(|l| !l.trim().is_empty()) {
            let _ = virsh(&self.qemu_uri(), &["destroy", n.trim()]);
        }
        let pid = self.child.id();
        let _ = Command::new("kill").arg(pid.to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::env::var_os("VIRSNAP_KEEP_REMOTE").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The virsnap CLI: `VIRSNAP_CLI`, else target/release, else target/debug.
pub fn cli() -> PathBuf {
    if let Some(p) = std::env::var_os("VIRSNAP_CLI").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let t = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    ["release", "debug"].iter().map(|p| t.join(p).join("virsnap")).find(|p| p.is_file()).expect("build the virsnap CLI first")
}

/// Runs `virsnap -c uri args…`: (exit ok, stdout, stderr).
pub fn virsnap(uri: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(cli()).arg("-c").arg(uri).args(args).output().expect("run virsnap");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

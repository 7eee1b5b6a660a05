//! The remote driver against a real `libvirtd` the test starts
//! (remote_support): the snapshot scenario through `virsnap -c
//! qemu+unix:///system?socket=…` on a running TCG guest and through
//! `test+tcp://127.0.0.1:PORT/default`, and a C program run once on
//! libvirt's own `libvirt.so.0` and once on virsnap's drop-in
//! `libvirt-compat/libvirt.so.0` against the same daemon. After every
//! step, what virsnap shows is compared byte for byte with what real
//! `virsh` shows on the same daemon; failing calls are made through both
//! and their errors compared.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod remote_support;

use std::path::PathBuf;
use std::process::Command;

use remote_support::{virsh, virsnap, Daemon};

/// A read-only command: virsnap and virsh must agree byte for byte
/// (exit status, stdout, stderr).
fn same(uri: &str, args: &[&str]) -> String {
    let a = virsnap(uri, args);
    let b = virsh(uri, args);
    assert_eq!(a, b, "virsnap vs virsh differ on {args:?}");
    a.1
}

/// [`same`] for `dominfo`, whose "CPU time" moves between two calls.
fn same_dominfo(uri: &str, dom: &str) {
    let strip = |r: (bool, String, String)| (r.0, r.1.lines().filter(|l| !l.starts_with("CPU time:")).collect::<Vec<_>>().join("\n"), r.2);
    assert_eq!(strip(virsnap(uri, &["dominfo", dom])), strip(virsh(uri, &["dominfo", dom])), "dominfo differs");
}

/// A state-changing step through virsnap, which must succeed.
fn step(uri: &str, args: &[&str]) -> String {
    let (ok, out, err) = virsnap(uri, args);
    assert!(ok, "virsnap {args:?} failed: {err}");
    out
}

/// Everything a user sees of `dom`'s snapshots, compared with virsh.
fn views(uri: &str, dom: &str) {
    let list = same(uri, &["snapshot-list", dom, "--name"]);
    same(uri, &["snapshot-list", dom]);
    same(uri, &["snapshot-list", dom, "--tree"]);
    same(uri, &["snapshot-list", dom, "--parent"]);
    same(uri, &["snapshot-list", dom, "--roots"]);
    same(uri, &["snapshot-list", dom, "--leaves"]);
    same(uri, &["snapshot-current", dom, "--name"]);
    same(uri, &["domstate", dom]);
    same(uri, &["list", "--all"]);
    for n in list.lines().filter(|l| !l.is_empty()) {
        same(uri, &["snapshot-info", dom, n]);
        same(uri, &["snapshot-dumpxml", dom, n]);
        same(uri, &["snapshot-parent", dom, n]);
    }
    // Errors travel as the daemon raised them.
    same(uri, &["snapshot-info", dom, "nosuch"]);
    same(uri, &["snapshot-revert", dom, "nosuch"]);
    same(uri, &["snapshot-delete", dom, "nosuch"]);
    same(uri, &["snapshot-list", "nosuchdom"]);
}

#[test]
#[cfg_attr(
    any(virsnap_no_libvirtd, virsnap_no_virsh, virsnap_no_cli_any, virsnap_no_qemu),
    ignore = "needs root, unshare and libvirtd (libvirt-daemon, libvirt-daemon-driver-qemu), virsh, qemu, the virsnap CLI"
)]
fn cli_scenario_on_a_running_tcg_guest_over_unix_socket() {
    let d = Daemon::start("qemu");
    let uri = d.qemu_uri();
    let xml = d.guest_xml("rt1");
    let xml = xml.to_str().unwrap();
    assert!(step(&uri, &["define", xml]).contains("Domain 'rt1' defined"));
    same(&uri, &["list", "--all"]);
    same_dominfo(&uri, "rt1");
    step(&uri, &["start", "rt1"]);
    same(&uri, &["domstate", "rt1"]);
    views(&uri, "rt1");
    assert_eq!(step(&uri, &["snapshot-create-as", "rt1", "s1", "--description", "first"]), "Domain snapshot s1 created\n");
    views(&uri, "rt1");
    step(&uri, &["snapshot-create-as", "rt1", "s2"]);
    views(&uri, "rt1");
    step(&uri, &["suspend", "rt1"]);
    same(&uri, &["domstate", "rt1"]);
    step(&uri, &["resume", "rt1"]);
    assert_eq!(step(&uri, &["snapshot-revert", "rt1", "s1"]), "Domain snapshot s1 reverted\n\n");
    views(&uri, "rt1");
    step(&uri, &["snapshot-create-as", "rt1", "s3"]);
    views(&uri, "rt1");
    step(&uri, &["snapshot-delete", "rt1", "s2"]);
    views(&uri, "rt1");
    // The seed's extensions, composed of calls the daemon has.
    let (ok, _, err) = virsnap(&uri, &["snapshot-rename", "rt1", "s3", "s9"]);
    assert!(!ok && err.contains("not supported"), "{err}");
    step(&uri, &["destroy", "rt1"]);
    step(&uri, &["start-with-snapshot", "rt1", "s1"]);
    same(&uri, &["domstate", "rt1"]);
    views(&uri, "rt1");
    assert_eq!(step(&uri, &["snapshot-delete-all", "rt1"]), "Domain 'rt1': 2 snapshots deleted\n\n");
    views(&uri, "rt1");
    step(&uri, &["destroy", "rt1"]);
    step(&uri, &["undefine", "rt1"]);
    same(&uri, &["list", "--all"]);
}

#[test]
#[cfg_attr(
    any(virsnap_no_libvirtd, virsnap_no_virsh, virsnap_no_cli_any),
    ignore = "needs root, unshare and libvirtd (libvirt-daemon), virsh, the virsnap CLI"
)]
fn cli_scenario_on_the_test_driver_over_tcp() {
    let d = Daemon::start("tcp");
    let uri = d.test_tcp_uri();
    // The daemon's test:///default lives while a connection holds it.
    let _holder = d.hold(&uri);
    same(&uri, &["list", "--all"]);
    same_dominfo(&uri, "test");
    views(&uri, "test");
    step(&uri, &["snapshot-create-as", "test", "a"]);
    step(&uri, &["snapshot-create-as", "test", "b"]);
    step(&uri, &["snapshot-create-as", "test", "c"]);
    views(&uri, "test");
    step(&uri, &["snapshot-revert", "test", "a"]);
    step(&uri, &["snapshot-create-as", "test", "d"]);
    views(&uri, "test");
    step(&uri, &["snapshot-delete", "test", "b", "--children"]);
    views(&uri, "test");
    // Seed delete mode DISCARD refuses a snapshot with children.
    let (ok, _, err) = virsnap(&uri, &["snapshot-delete", "test", "a", "--delete"]);
    assert!(!ok && err.contains("has children"), "{err}");
    step(&uri, &["snapshot-delete", "test", "d", "--delete"]);
    views(&uri, "test");
    step(&uri, &["snapshot-delete-all", "test"]);
    views(&uri, "test");
    // A read-only connection is refused writes by the daemon.
    let a = virsnap(&uri, &["-r", "snapshot-create-as", "test", "ro"]);
    let b = virsh(&uri, &["-r", "snapshot-create-as", "test", "ro"]);
    assert_eq!(a, b);
}

fn libdir() -> PathBuf {
    std::env::var_os("VIRSNAP_LIBDIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release"))
}

#[test]
#[cfg_attr(
    any(virsnap_no_libvirtd, virsnap_no_cc, virsnap_no_capi_so, virsnap_no_qemu),
    ignore = "needs root, unshare and libvirtd, cc with libvirt-dev, libvirsnap.so with libvirt-compat (capi/build-so.sh), qemu"
)]
fn c_program_on_libvirt_and_on_virsnap_sees_the_same() {
    let d = Daemon::start("capi");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = d.dir.join("remote-c");
    let st = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg(root.join("tests/c/remote.c"))
        .arg("-o")
        .arg(&bin)
        .arg("-lvirt")
        .status()
        .unwrap();
    assert!(st.success(), "compile tests/c/remote.c against libvirt-dev");
    let compat = libdir().join("libvirt-compat");
    if !compat.join("libvirt.so.0").is_file() {
        // The drop-in libraries are a relink of libvirsnap.a (the capi suite
        // makes them too, after this one runs).
        let mut b = Command::new("bash");
        b.arg(root.join("capi/build-so.sh"));
        if libdir().ends_with("debug") {
            b.arg("--debug");
        }
        assert!(b.status().unwrap().success(), "capi/build-so.sh");
    }
    assert!(compat.join("libvirt.so.0").is_file(), "{} missing (capi/build-so.sh)", compat.display());
    let run = |uri: &str, dom: &str, drop_in: bool| {
        let mut c = Command::new(&bin);
        c.arg(uri).arg(dom);
        if drop_in {
            c.env("LD_LIBRARY_PATH", &compat);
        }
        let o = c.output().unwrap();
        let text = format!("{}{}--exit {:?}\n", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr), o.status.code());
        println!("{} {uri}:\n{text}", if drop_in { "virsnap" } else { "libvirt" });
        text
    };
    // The test driver over TCP, then a running TCG guest over the socket.
    let tcp = d.test_tcp_uri();
    assert_eq!(run(&tcp, "test", true), run(&tcp, "test", false));
    let qemu = d.qemu_uri();
    let xml = d.guest_xml("rc1");
    step(&qemu, &["define", xml.to_str().unwrap()]);
    step(&qemu, &["start", "rc1"]);
    // The first revert turns the state reason into "from snapshot" for
    // good: a first run by libvirt brings the guest there, then the two
    // compared runs start from the same state.
    run(&qemu, "rc1", false);
    assert_eq!(run(&qemu, "rc1", true), run(&qemu, "rc1", false));
    step(&qemu, &["destroy", "rc1"]);
}

#[test]
#[cfg_attr(
    any(virsnap_no_libvirtd, virsnap_no_libvirt, virsnap_no_python_venv),
    ignore = "needs root, unshare and libvirtd, python3-libvirt, the Python module venv (.ci/suites/python.sh)"
)]
fn python_module_and_libvirt_python_see_the_same() {
    let d = Daemon::start("python");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = std::env::var_os("VIRSNAP_PYTHON").map(PathBuf::from).unwrap_or_else(|| root.join("target/venv-python/bin/python"));
    let script = root.join("tests/remote/parity.py");
    let run = |py: &std::path::Path, module: &str, uri: &str, dom: &str| {
        let o = Command::new(py).arg(&script).args([module, uri, dom]).output().unwrap();
        let text = format!("{}{}--exit {:?}\n", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr), o.status.code());
        println!("{module} {uri}:\n{text}");
        text
    };
    let sys = std::path::Path::new("/usr/bin/python3");
    let tcp = d.test_tcp_uri();
    assert_eq!(run(&venv, "virsnap", &tcp, "test"), run(sys, "libvirt", &tcp, "test"));
    let qemu = d.qemu_uri();
    let xml = d.guest_xml("rp1");
    step(&qemu, &["define", xml.to_str().unwrap()]);
    step(&qemu, &["start", "rp1"]);
    run(sys, "libvirt", &qemu, "rp1");
    assert_eq!(run(&venv, "virsnap", &qemu, "rp1"), run(sys, "libvirt", &qemu, "rp1"));
    step(&qemu, &["destroy", "rp1"]);
}

/// A throw-away CA, server and client certificate under `dir/pki`
/// (`pkipath=` layout), made with openssl.
fn make_pki(dir: &std::path::Path) -> PathBuf {
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    let sh = |script: &str| {
        let o = Command::new("sh").arg("-c").arg(script).current_dir(&pki).output().unwrap();
        assert!(o.status.success(), "{script}: {}", String::from_utf8_lossy(&o.stderr));
    };
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout cakey.pem -out cacert.pem -days 2 -subj /CN=virsnap-test-ca 2>/dev/null");
    for (who, ext) in [("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "extendedKeyUsage=clientAuth")] {
        sh(&format!(
            "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout {who}key.pem -out {who}.csr -subj /CN=127.0.0.1 2>/dev/null && \
             printf '%s\\n' '{ext}' > {who}.ext && \
             openssl x509 -req -in {who}.csr -CA cacert.pem -CAkey cakey.pem -CAcreateserial -days 2 -extfile {who}.ext -out {who}cert.pem 2>/dev/null"
        ));
    }
    pki
}

#[test]
#[cfg_attr(
    any(virsnap_no_libvirtd, virsnap_no_virsh, virsnap_no_cli_any, virsnap_no_openssl),
    ignore = "needs root, unshare and libvirtd, virsh, openssl, the virsnap CLI"
)]
fn cli_over_tls_with_libvirts_certificate_files() {
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let d = Daemon::start_with("tls", |dir| {
        let pki = make_pki(dir);
        let p = pki.display();
        format!(
            "listen_tls = 1\ntls_port = \"{tls_port}\"\nauth_tls = \"none\"\nkey_file = \"{p}/serverkey.pem\"\n\
             cert_file = \"{p}/servercert.pem\"\nca_file = \"{p}/cacert.pem\"\n"
        )
    });
    let uri = format!("test+tls://127.0.0.1:{tls_port}/default?pkipath={}", d.dir.join("pki").display());
    let _holder = d.hold(&uri);
    same(&uri, &["list", "--all"]);
    step(&uri, &["snapshot-create-as", "test", "t1"]);
    step(&uri, &["snapshot-create-as", "test", "t2"]);
    views(&uri, "test");
    // Another CA: the server's certificate is refused, unless no_verify=1.
    let other = d.dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let made = make_pki(&other);
    for f in ["clientcert.pem", "clientkey.pem"] {
        std::fs::copy(d.dir.join("pki").join(f), made.join(f)).unwrap();
    }
    let wrong = format!("test+tls://127.0.0.1:{tls_port}/default?pkipath={}", made.display());
    let (ok, _, err) = virsnap(&wrong, &["list", "--all"]);
    assert!(!ok, "a server certificate of another CA must be refused");
    assert!(err.contains("TLS") || err.contains("certificate"), "{err}");
    let (ok, out, err) = virsnap(&format!("{wrong}&no_verify=1"), &["snapshot-list", "test", "--name"]);
    assert!(ok, "{err}");
    assert_eq!(out, "t1\nt2\n\n");
}

/// A throw-away sshd on a free loopback port (its own host key, root's
/// authorized key in the temp dir) and an `ssh` wrapper using that key and
/// a private known_hosts file, for `command=`.
struct Sshd {
    child: std::process::Child,
    port: u16,
    wrapper: PathBuf,
}

impl Sshd {
    fn start(dir: &std::path::Path) -> Sshd {
        let dir = dir.join("ssh");
        std::fs::create_dir_all(&dir).unwrap();
        for k in ["hostkey", "userkey"] {
            let st = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(dir.join(k)).status().unwrap();
            assert!(st.success(), "ssh-keygen");
        }
        std::fs::copy(dir.join("userkey.pub"), dir.join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let d = dir.display();
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 UsePAM no\nStrictModes no\nPidFile {d}/sshd.pid\n"
            ),
        )
        .unwrap();
        let wrapper = dir.join("ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec ssh -o UserKnownHostsFile={d}/known_hosts -o StrictHostKeyChecking=no -o BatchMode=yes -i {d}/userkey \"$@\"\n"
            ),
        )
        .unwrap();
        let st = Command::new("chmod").arg("+x").arg(&wrapper).status().unwrap();
        assert!(st.success());
        // sshd's privilege-separation directory.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let child = Command::new("/usr/sbin/sshd").args(["-D", "-e", "-f"]).arg(dir.join("sshd_config"))
            .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "sshd did not start");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Sshd { child, port, wrapper }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[cfg_attr(
    any(virsnap_no_libvirtd, virsnap_no_virsh, virsnap_no_cli_any, virsnap_no_sshd),
    ignore = "needs root, unshare and libvirtd, virsh, openssh-server + netcat-openbsd, the virsnap CLI"
)]
fn cli_over_ssh_through_a_loopback_sshd() {
    let d = Daemon::start("ssh");
    let _holder = d.hold(&d.test_tcp_uri());
    let sshd = Sshd::start(&d.dir);
    let uri = format!(
        "test+ssh://root@127.0.0.1:{}/default?command={}&socket={}&proxy=netcat",
        sshd.port,
        sshd.wrapper.display(),
        d.sock
    );
    // Each command is a new ssh session: a few views, not all of them.
    same(&uri, &["list", "--all"]);
    step(&uri, &["snapshot-create-as", "test", "h1"]);
    step(&uri, &["snapshot-create-as", "test", "h2"]);
    same(&uri, &["snapshot-list", "test", "--tree"]);
    same(&uri, &["snapshot-info", "test", "h2"]);
    same(&uri, &["snapshot-revert", "test", "nosuch"]);
    step(&uri, &["snapshot-delete-all", "test"]);
    same(&uri, &["snapshot-list", "test"]);
}

#[test]
#[cfg_attr(
    any(virsnap_no_libvirtd, virsnap_no_virsh, virsnap_no_cli_any),
    ignore = "needs root, unshare and libvirtd, virsh, the virsnap CLI"
)]
fn polkit_lets_root_in_over_the_socket_and_sasl_is_refused_clearly() {
    let d = Daemon::start_with("auth", |_| "auth_unix_rw = \"polkit\"\nauth_tcp = \"sasl\"\n".to_owned());
    // The daemon skips polkit for uid 0 on the unix socket.
    let uri = format!("test+unix:///default?socket={}", d.sock);
    same(&uri, &["list", "--all"]);
    same(&uri, &["snapshot-list", "test"]);
    let (ok, _, err) = virsnap(&d.test_tcp_uri(), &["list", "--all"]);
    assert!(!ok);
    assert!(err.contains("SASL authentication is not supported"), "{err}");
}

#[test]
#[cfg_attr(
    any(virsnap_no_libvirtd, virsnap_no_virsh, virsnap_no_cli_any),
    ignore = "needs root, unshare, nsenter and libvirtd, virsh, the virsnap CLI"
)]
fn qemu_system_finds_the_daemons_default_socket() {
    // Sockets in /run/libvirt of the daemon's namespace; both clients run
    // there (nsenter) and open plain qemu:///system.
    let d = Daemon::start_with("system", |_| "unix_sock_dir = \"/run/libvirt\"\n".to_owned());
    let pid = d.pid().to_string();
    let cli = remote_support::cli();
    let run = |bin: &std::path::Path, args: &[&str]| {
        let o = Command::new("nsenter").args(["-t", &pid, "-m", "--"]).arg(bin).args(["-c", "qemu:///system"]).args(args).output().unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let virsh_bin = std::path::Path::new("/usr/bin/virsh");
    for args in [&["list", "--all"][..], &["uri"], &["snapshot-list", "nosuch"]] {
        let a = run(&cli, args);
        assert_eq!(a, run(virsh_bin, args), "{args:?}");
        if args[0] == "list" {
            assert!(a.0, "{a:?}");
        }
    }
    // Read-only: the -ro socket.
    let a = run(&cli, &["-r", "list", "--all"]);
    assert!(a.0, "{a:?}");
}

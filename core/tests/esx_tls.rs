//! https to vcsim with a generated 2048-bit leaf certificate: verified
//! against `cacert=`, refused without it, accepted with `no_verify=1`.
//! Skipped when `openssl` is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod esx_support;

use std::process::Command;

use esx_support::{auth, Vcsim};
use virsnap_core::{Connection, ErrorCode};

#[test]
#[cfg_attr(any(virsnap_no_vcsim, virsnap_no_openssl), ignore = "needs vcsim (tests/vcsim/build.sh); openssl")]
fn https_verified_pinned_and_unverified() {
    let dir = std::env::temp_dir().join(format!("virsnap-esx-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    assert!(matches!(&made, Ok(o) if o.status.success()), "openssl could not make a certificate: {made:?}");
    let (c, k) = (cert.to_string_lossy().into_owned(), key.to_string_lossy().into_owned());
    let Some(v) = Vcsim::start_with("tls", &["-tls-cert", &c, "-tls-key", &k]) else { return };
    let open = |q: &str| Connection::open_auth(Some(&format!("esx://root@{}/?{q}", v.addr)), Some(auth("pass")), 0);

    let conn = open(&format!("cacert={c}")).expect("verified https");
    assert_eq!(conn.list_all_domains(0).unwrap().len(), 2);
    let conn = open("no_verify=1").expect("unverified https");
    assert_eq!(conn.list_all_domains(0).unwrap().len(), 2);
    let e = open("timeout=5").expect_err("an unknown issuer must be refused");
    assert_eq!(e.code, ErrorCode::Rpc);
    println!("untrusted certificate: {}", e.message);
    let e = open("cacert=/nonexistent.pem").expect_err("missing CA file");
    assert_eq!(e.code, ErrorCode::SystemError);
    let e = open(&format!("cacert={k}")).expect_err("a key is not a certificate");
    assert_eq!(e.code, ErrorCode::InternalError, "{}", e.message);
    let _ = std::fs::remove_dir_all(&dir);
}

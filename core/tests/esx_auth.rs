//! ESX credentials: the URI's user, libvirt's auth.conf (via
//! `LIBVIRT_AUTH_FILE`), the credential callback, and refusals, against
//! vcsim. One test, because it changes the process environment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod esx_support;

use std::sync::Arc;

use esx_support::{auth, Vcsim};
use virsnap_core::drivers::{cred, Auth, CredRequest};
use virsnap_core::{Connection, Error, ErrorCode, ErrorDomain};

fn set_auth_file(path: &std::path::Path) {
    // SAFETY: this test binary has one test and no other threads read the
    // environment while it changes.
    unsafe { std::env::set_var("LIBVIRT_AUTH_FILE", path) };
}

#[test]
#[cfg_attr(virsnap_no_vcsim, ignore = "needs vcsim (tests/vcsim/build.sh)")]
fn credentials_from_uri_auth_conf_and_callback() {
    let Some(v) = Vcsim::start("auth") else { return };
    let dir = std::env::temp_dir().join(format!("virsnap-esx-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.conf");
    set_auth_file(&missing);
    let plain = format!("esx://{}/?transport=http&no_verify=1", v.addr);

    // No callback and no auth.conf: a clear refusal.
    let e = Connection::open_auth(Some(&plain), None, 0).unwrap_err();
    assert_eq!((e.code, e.domain), (ErrorCode::AuthFailed, ErrorDomain::Esx), "{}", e.message);

    // The callback: asked for the user (default root) and the password,
    // with the host as challenge.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let cb = Auth {
        cred_types: vec![cred::AUTHNAME, cred::PASSPHRASE],
        callback: Arc::new(move |reqs: &mut [CredRequest]| {
            for r in reqs.iter_mut() {
                seen2.lock().unwrap().push((r.kind, r.challenge.clone(), r.default.clone()));
                r.result = Some(if r.kind == cred::AUTHNAME { "alice".into() } else { "pw".into() });
            }
            Ok(())
        }),
    };
    let c = Connection::open_auth(Some(&plain), Some(cb), 0).unwrap();
    assert_eq!(c.list_all_domains(0).unwrap().len(), 2);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], (cred::AUTHNAME, Some("127.0.0.1".to_owned()), Some("root".to_owned())));
    assert_eq!(seen[1].0, cred::PASSPHRASE);
    drop(c);

    // An empty password is refused by the server: AUTH_FAILED, no secret in the text.
    let e = Connection::open_auth(Some(&v.uri()), Some(auth("")), 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::AuthFailed, "{}", e.message);
    // A callback that fails cancels the open.
    let failing = Auth {
        cred_types: vec![cred::PASSPHRASE],
        callback: Arc::new(|_: &mut [CredRequest]| Err(Error::internal(ErrorDomain::None, "user pressed ^C"))),
    };
    let e = Connection::open_auth(Some(&v.uri()), Some(failing), 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::AuthCancelled, "{}", e.message);

    // auth.conf alone (no callback), per host.
    let conf = dir.join("auth.conf");
    std::fs::write(
        &conf,
        "[credentials-vc]\nusername=root\npassword=from-file\n\n[auth-esx-127.0.0.1]\ncredentials=vc\n",
    )
    .unwrap();
    set_auth_file(&conf);
    let c = Connection::open_auth(Some(&plain), None, 0).unwrap();
    assert_eq!(c.list_all_domains(0).unwrap().len(), 2);
    drop(c);
    // vpx:// reads the same auth-esx-HOST group, as libvirt's ESX driver
    // does (esx_vcenter.rs's virsh runs rely on it live).
    let vc = Vcsim::start_with("auth-vpx", &["-model", "vpx"]).expect("vcsim vpx");
    let c = Connection::open_auth(Some(&format!("vpx://{}/DC0/DC0_H0?transport=http", vc.addr)), None, 0).unwrap();
    assert_eq!(c.list_all_domains(0).unwrap().len(), 2);
    drop(c);
    // A malformed file is an error, not a silent fallback.
    std::fs::write(&conf, "username=root\n").unwrap();
    let e = Connection::open_auth(Some(&plain), Some(auth("pw")), 0).unwrap_err();
    assert_eq!(e.domain, ErrorDomain::Conf, "{}", e.message);
    let _ = std::fs::remove_dir_all(&dir);
}

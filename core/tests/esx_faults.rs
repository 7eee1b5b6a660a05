//! The ESX driver against servers that misbehave: garbage, truncated XML,
//! HTTP errors, closed connections, silence, wrong answers, faults; and
//! vcsim's own crash on deleting a current root. Every case must give a
//! clear libvirt error quickly, never a panic or a hang.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod esx_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use esx_support::{auth, Raw, Vcsim, VM0};
use virsnap_core::{Connection, ErrorCode};

const SERVICE_CONTENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><RetrieveServiceContentResponse xmlns="urn:vim25"><returnval><rootFolder type="Folder">ha-folder-root</rootFolder><propertyCollector type="PropertyCollector">ha-property-collector</propertyCollector><sessionManager type="SessionManager">ha-sessionmgr</sessionManager><about><name>VMware ESXi</name><version>6.5.0</version><productLineId>embeddedEsx</productLineId><apiType>HostAgent</apiType><apiVersion>6.5</apiVersion></about></returnval></RetrieveServiceContentResponse></soapenv:Body></soapenv:Envelope>"#;

const LOGIN_OK: &str = r#"<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><LoginResponse xmlns="urn:vim25"><returnval><key>k</key><userName>root</userName></returnval></LoginResponse></soapenv:Body></soapenv:Envelope>"#;

const LOGIN_FAULT: &str = r#"<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Login failure</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;

/// What the fake server does with one request (by SOAP method).
#[derive(Clone, Copy)]
enum Act {
    /// HTTP status and body.
    Reply(u16, &'static str),
    /// Close the connection without answering.
    Close,
    /// Read the request and say nothing for 5 s.
    Hang,
}

/// A fake SOAP server answering by method name; serves until dropped (bounded).
struct Fake {
    addr: String,
}

fn method_of(body: &str) -> String {
    let after = body.split("<soapenv:Body><").nth(1).unwrap_or("");
    after.split([' ', '>']).next().unwrap_or("").to_owned()
}

fn read_request(s: &mut TcpStream) -> Option<(String, String)> {
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut len = 0usize;
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        head.push_str(l);
        head.push('\n');
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some((head, String::from_utf8_lossy(&body).into_owned()))
}

impl Fake {
    fn start(plan: fn(&str) -> Act) -> Self {
        Self::start_with_head(plan, |_, _| None)
    }

    /// Like [`Self::start`]; `check(method, head)` may override the answer.
    fn start_with_head(plan: fn(&str) -> Act, check: fn(&str, &str) -> Option<Act>) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            // Bounded: at most 50 connections, then the thread ends.
            for conn in l.incoming().take(50) {
                let Ok(mut s) = conn else { continue };
                std::thread::spawn(move || {
                    while let Some((head, body)) = read_request(&mut s) {
                        let m = method_of(&body);
                        match check(&m, &head).unwrap_or_else(|| plan(&m)) {
                            Act::Close => return,
                            Act::Hang => {
                                std::thread::sleep(Duration::from_secs(5));
                                return;
                            }
                            Act::Reply(code, text) => {
                                let resp = format!(
                                    "HTTP/1.1 {code} X\r\nContent-Type: text/xml\r\nSet-Cookie: vmware_soap_session=\"abc\"; Path=/; HttpOnly; Secure;\r\nContent-Length: {}\r\n\r\n{text}",
                                    text.len()
                                );
                                if s.write_all(resp.as_bytes()).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Self { addr }
    }

    fn uri(&self) -> String {
        format!("esx://root@{}/?transport=http&timeout=2", self.addr)
    }
}

fn open_err(uri: &str) -> virsnap_core::Error {
    let t0 = Instant::now();
    let e = Connection::open_auth(Some(uri), Some(auth("secret-pw")), 0).expect_err("open must fail");
    // timeout=2: far below the 60 s default, far above what a loaded machine needs.
    assert!(t0.elapsed() < Duration::from_secs(30), "took {:?}", t0.elapsed());
    assert!(!e.message.contains("secret-pw"), "password leaked: {}", e.message);
    println!("{uri}: {:?}: {}", e.code, e.message);
    e
}

#[test]
fn garbage_truncated_http_errors_and_silence() {
    type Plan = fn(&str) -> Act;
    let cases: [(Plan, ErrorCode); 8] = [
        (|_| Act::Reply(200, "this is not XML at all"), ErrorCode::Rpc),
        (|_| Act::Reply(200, SERVICE_CONTENT_TRUNC), ErrorCode::Rpc),
        (|_| Act::Reply(503, "<html><body>Service Unavailable</body></html>"), ErrorCode::Rpc),
        (|_| Act::Reply(404, ""), ErrorCode::Rpc),
        (|_| Act::Close, ErrorCode::Rpc),
        (|_| Act::Hang, ErrorCode::Rpc),
        (
            |_| Act::Reply(200, "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"e\">]><x>&e;</x>"),
            ErrorCode::Rpc,
        ),
        (
            |m| match m {
                "RetrieveServiceContent" => Act::Reply(200, SERVICE_CONTENT),
                _ => Act::Reply(500, LOGIN_FAULT),
            },
            ErrorCode::AuthFailed,
        ),
    ];
    for (plan, code) in cases {
        let f = Fake::start(plan);
        let e = open_err(&f.uri());
        assert_eq!(e.code, code, "{}", e.message);
        assert_eq!(e.domain, virsnap_core::ErrorDomain::Esx);
    }
}

static SERVICE_CONTENT_TRUNC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><RetrieveServiceContentResponse xmlns="urn:vim25"><returnval><rootFolder type="Folder">ha-fol"#;

#[test]
fn wrong_answers_after_login() {
    // Logs in fine, then answers every read with the wrong element or garbage.
    let f = Fake::start(|m| match m {
        "RetrieveServiceContent" => Act::Reply(200, SERVICE_CONTENT),
        "Login" => Act::Reply(200, LOGIN_OK),
        "Logout" => Act::Close,
        _ => Act::Reply(200, LOGIN_OK),
    });
    let conn = Connection::open_auth(Some(&f.uri()), Some(auth("pw")), 0).unwrap();
    let e = conn.list_all_domains(0).unwrap_err();
    assert_eq!(e.code, ErrorCode::Rpc, "{}", e.message);
    assert!(e.message.contains("RetrievePropertiesEx"), "{}", e.message);
    drop(conn);

    let f = Fake::start(|m| match m {
        "RetrieveServiceContent" => Act::Reply(200, SERVICE_CONTENT),
        "Login" => Act::Reply(200, LOGIN_OK),
        _ => Act::Reply(200, "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><objects><obj type=\"VirtualMachine\">vm-1</obj><propSet><name>name</name><val>x</val></propSet></objects></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"),
    });
    let conn = Connection::open_auth(Some(&f.uri()), Some(auth("pw")), 0).unwrap();
    // A VM without config.uuid is skipped, not a crash.
    assert!(conn.list_all_domains(0).unwrap().is_empty());
}

#[test]
fn bad_uris_and_nothing_listening() {
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = open_err(&format!("esx://root@127.0.0.1:{refused}/?transport=http&timeout=2"));
    assert_eq!(e.code, ErrorCode::Rpc);
    for (uri, code) in [
        ("esx+ssh://127.0.0.1/", ErrorCode::InvalidArg),
        ("esx://127.0.0.1/?transport=ftp", ErrorCode::InvalidArg),
        ("esx://127.0.0.1/?no_verify=2", ErrorCode::InvalidArg),
        ("esx:///?transport=http", ErrorCode::InvalidArg),
        ("esx://127.0.0.1/?timeout=0", ErrorCode::InvalidArg),
    ] {
        assert_eq!(open_err(uri).code, code, "{uri}");
    }
    // vpx:// to an ESX host is refused after the service content.
    let f = Fake::start(|_| Act::Reply(200, SERVICE_CONTENT));
    let e = open_err(&format!("vpx://root@{}/DC0/H0?transport=http&timeout=2", f.addr));
    assert_eq!(e.code, ErrorCode::InternalError);
    // https to a plain-http server: a TLS failure, reported, not a hang.
    let e = open_err(&format!("esx://root@{}/?transport=https&no_verify=1&timeout=2", f.addr));
    assert_eq!(e.code, ErrorCode::Rpc);
}

#[test]
#[cfg_attr(virsnap_no_vcsim, ignore = "needs vcsim (tests/vcsim/build.sh)")]
fn vcsim_crash_on_deleting_current_root_is_an_rpc_error() {
    let Some(mut v) = Vcsim::start("crash") else { return };
    let conn = Connection::open_auth(Some(&v.uri()), Some(auth("pass")), 0).unwrap();
    let d = conn.lookup_by_name(VM0.0).unwrap();
    let a = d.snapshot_create_xml("<domainsnapshot><name>A</name></domainsnapshot>", 0).unwrap();
    d.snapshot_create_xml("<domainsnapshot><name>B</name></domainsnapshot>", 0).unwrap();
    a.revert(0).unwrap();
    // vcsim 0.24 panics in this request handler and closes the connection.
    let t0 = Instant::now();
    let e = a.delete(0).unwrap_err();
    println!("vcsim defect surfaced as {:?}: {}", e.code, e.message);
    assert_eq!(e.code, ErrorCode::Rpc);
    assert!(t0.elapsed() < Duration::from_secs(15));
    assert!(v.alive());
    // The connection stays usable for reads.
    assert_eq!(conn.list_all_domains(0).unwrap().len(), 2);
}

#[test]
#[cfg_attr(virsnap_no_vcsim, ignore = "needs vcsim (tests/vcsim/build.sh)")]
fn session_terminated_on_the_server_is_renewed() {
    let Some(v) = Vcsim::start("relogin") else { return };
    let conn = Connection::open_auth(Some(&v.uri()), Some(auth("pass")), 0).unwrap();
    let d = conn.lookup_by_name(VM0.0).unwrap();
    assert_eq!(d.snapshot_num(0).unwrap(), 0);
    // Terminate every session but the raw client's own.
    let raw = Raw::login(&v.addr);
    let me = raw
        .read(&virsnap_core::drivers::esx::soap::MoRef::new("SessionManager", "ha-sessionmgr"), &["currentSession"])
        .first()
        .and_then(|(_, v)| v.child_text("key").map(str::to_owned))
        .unwrap();
    let list = raw.read(&virsnap_core::drivers::esx::soap::MoRef::new("SessionManager", "ha-sessionmgr"), &["sessionList"]);
    let mut keys = Vec::new();
    for (_, v) in &list {
        for s in &v.children {
            if let Some(k) = s.child_text("key") {
                if k != me {
                    keys.push(k.to_owned());
                }
            }
        }
    }
    assert!(!keys.is_empty(), "no other session listed");
    let ids: String = keys.iter().map(|k| format!("<sessionId>{k}</sessionId>")).collect();
    raw.call("TerminateSession", &format!("<_this type=\"SessionManager\">ha-sessionmgr</_this>{ids}")).unwrap();
    // The driver notices (NotAuthenticated), logs in again and carries on.
    d.snapshot_create_xml("<domainsnapshot><name>after</name></domainsnapshot>", 0).unwrap();
    assert_eq!(raw.render(VM0.1), "after*");
}

const NOT_AUTHENTICATED: &str = r#"<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring></faultstring><detail><NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated"><privilegeId>System.View</privilegeId></NotAuthenticatedFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;

#[test]
fn quoted_secure_cookie_is_sent_back_verbatim_over_http() {
    // Like a real vCenter: `vmware_soap_session="abc"; Path=/; HttpOnly; Secure;`.
    let f = Fake::start_with_head(
        |m| match m {
            "RetrieveServiceContent" => Act::Reply(200, SERVICE_CONTENT),
            "Login" => Act::Reply(200, LOGIN_OK),
            _ => Act::Reply(200, "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><RetrievePropertiesExResponse xmlns=\"urn:vim25\"/></soapenv:Body></soapenv:Envelope>"),
        },
        |m, head| {
            let has = head.lines().any(|l| l.eq_ignore_ascii_case("cookie: vmware_soap_session=\"abc\""));
            (m == "RetrievePropertiesEx" && !has).then_some(Act::Reply(500, NOT_AUTHENTICATED))
        },
    );
    let conn = Connection::open_auth(Some(&f.uri()), Some(auth("pw")), 0).unwrap();
    assert!(conn.list_all_domains(0).unwrap().is_empty());

    // A server that never accepts the session: one re-login, then AUTH_FAILED.
    let f = Fake::start(|m| match m {
        "RetrieveServiceContent" => Act::Reply(200, SERVICE_CONTENT),
        "Login" => Act::Reply(200, LOGIN_OK),
        _ => Act::Reply(500, NOT_AUTHENTICATED),
    });
    let conn = Connection::open_auth(Some(&f.uri()), Some(auth("pw")), 0).unwrap();
    let e = conn.list_all_domains(0).unwrap_err();
    assert_eq!(e.code, ErrorCode::AuthFailed, "{}", e.message);
}

#[test]
#[cfg_attr(virsnap_no_vcsim, ignore = "needs vcsim (tests/vcsim/build.sh)")]
fn vm_removed_on_the_server_is_no_domain() {
    let Some(v) = Vcsim::start("removed") else { return };
    let conn = Connection::open_auth(Some(&v.uri()), Some(auth("pass")), 0).unwrap();
    let d = conn.lookup_by_name(esx_support::VM1.0).unwrap();
    assert_eq!(d.snapshot_num(0).unwrap(), 0);
    let raw = Raw::login(&v.addr);
    let vm = format!("<_this type=\"VirtualMachine\">{}</_this>", esx_support::VM1.1);
    raw.call("PowerOffVM_Task", &vm).unwrap();
    raw.call("Destroy_Task", &vm).unwrap();
    for e in [
        d.snapshot_num(0).unwrap_err(),
        d.snapshot_create_xml("<domainsnapshot><name>x</name></domainsnapshot>", 0).unwrap_err(),
        d.create(0).unwrap_err(),
    ] {
        assert_eq!(e.code, ErrorCode::NoDomain, "{}", e.message);
    }
    assert_eq!(conn.list_all_domains(0).unwrap().len(), 1);
}

const INVENTORY_AND_RUNNING_TASK: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>
<objects><obj type="VirtualMachine">vm-1</obj><propSet><name>name</name><val xsi:type="xsd:string">slow</val></propSet><propSet><name>config.uuid</name><val xsi:type="xsd:string">11111111-2222-3333-4444-555555555555</val></propSet><propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOn</val></propSet></objects>
<objects><obj type="Task">task-1</obj><propSet><name>info</name><val xsi:type="TaskInfo"><key>task-1</key><state>running</state><progress>40</progress></val></propSet></objects>
</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"#;

#[test]
fn stuck_task_reports_progress_then_times_out() {
    let f = Fake::start(|m| match m {
        "RetrieveServiceContent" => Act::Reply(200, SERVICE_CONTENT),
        "Login" => Act::Reply(200, LOGIN_OK),
        "CreateSnapshot_Task" => Act::Reply(200, r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><CreateSnapshot_TaskResponse xmlns="urn:vim25"><returnval type="Task">task-1</returnval></CreateSnapshot_TaskResponse></soapenv:Body></soapenv:Envelope>"#),
        "RetrievePropertiesEx" => Act::Reply(200, INVENTORY_AND_RUNNING_TASK),
        _ => Act::Close,
    });
    let uri = format!("esx://root@{}/?transport=http&timeout=2&task_timeout=2", f.addr);
    let conn = Connection::open_auth(Some(&uri), Some(auth("pw")), 0).unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    conn.set_progress(Some(std::sync::Arc::new(move |op: &str, p: u32| s2.lock().unwrap().push((op.to_owned(), p)))));
    let d = conn.lookup_by_name("slow").unwrap();
    let t0 = Instant::now();
    let e = d.snapshot_create_xml("<domainsnapshot><name>s</name></domainsnapshot>", 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationTimeout, "{}", e.message);
    // task_timeout=2 (default 3600 s): ends in seconds, with room for a loaded machine.
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    assert_eq!(seen.lock().unwrap().clone(), [("snapshot-create".to_owned(), 40)]);
}

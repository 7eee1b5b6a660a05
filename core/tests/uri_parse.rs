//! Odd connection URIs, opened by virsnap and, live, by libvirt 9.0
//! (python3-libvirt's `libvirt.open`, the same `virConnectOpen` as
//! `virsh -c URI`): where libvirt's URI parser refuses one ("Unable to parse
//! URI …", "does not include a driver name") virsnap must refuse it with the
//! identical code, domain and message; where libvirt opens one, virsnap
//! must too; where libvirt fails later (a driver, the remote daemon),
//! virsnap must fail as well.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use virsnap_core::{Connection, ErrorCode};

/// No URI here names a host or a transport, so libvirt never reaches the
/// network: they fail in the parser, in a local driver, or on the remote
/// driver's default unix socket.
const URIS: &[&str] = &[
    "test:///default",
    "test:///default#frag",
    "test:///default#a[b]",
    "test:///default?a=b#c",
    "test:/default",
    "test:/default?x",
    "test:",
    "test://",
    "test:///",
    "test://:80/default",
    "test:///default?a=1&b",
    "test:///default?;x=1",
    "test:///default?a=%C3%A9",
    "test:///def ault",
    "te st:///default",
    "1test:///default",
    ":///x",
    "test:///default?x=y z",
    "test:///<x>",
    "test:///a|b",
    "test:///a\\b",
    "test:///a\"b",
    "test:///a{b}",
    "test:///a^b",
    "test:///a`b",
    "test:///[x]",
    "test:///d\u{e9}faut",
    "test:///%zz",
    "test:///default%",
    "test:///default?x=%",
    "test:///default?x=%4",
    "test:///default?x=a[b]",
    "test:///default#a b",
    "test:///default#frag#2",
    "test:///default#%zz",
    "test://[::1/default",
    "test://host:port/default",
    "test://host:/default",
    "test://[::1]x/default",
    "test://ho st/default",
    "test://user@@host/default",
    "test://a@b@localhost/default",
    "test:///a\tb",
    "default",
    "/tmp/x",
    "TEST:///default",
    "Test:///default",
];

const PROBE: &str = r#"
import json, sys
import libvirt
libvirt.registerErrorHandler(lambda c, e: None, None)
for u in sys.argv[1:]:
    try:
        libvirt.open(u).close()
        print(json.dumps(["ok"]))
    except libvirt.libvirtError as e:
        print(json.dumps(["err", e.get_error_code(), e.get_error_domain(), str(e)]))
"#;

/// (code, domain, message) of libvirt's failure to open each URI, `None` where it opened.
fn libvirt_outcomes() -> Vec<Option<(i32, i32, String)>> {
    let out = Command::new("/usr/bin/python3").arg("-c").arg(PROBE).args(URIS).output().expect("run python3-libvirt");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), URIS.len(), "{text}");
    lines
        .iter()
        .map(|l| {
            // ["ok"] or ["err", code, domain, "message"] (json.dumps, ASCII).
            if *l == r#"["ok"]"# {
                return None;
            }
            let body = l.strip_prefix(r#"["err", "#).and_then(|b| b.strip_suffix(']')).expect("probe line");
            let mut it = body.splitn(3, ", ");
            let code = it.next().unwrap().parse().unwrap();
            let dom = it.next().unwrap().parse().unwrap();
            Some((code, dom, json_string(it.next().unwrap())))
        })
        .collect()
}

/// Decodes a JSON string literal as json.dumps writes it.
fn json_string(s: &str) -> String {
    let inner = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).expect("json string");
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
            }
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

fn is_parse_error(code: i32, dom: i32, msg: &str) -> bool {
    (code == ErrorCode::InternalError as i32 && dom == 45 && msg.contains("Unable to parse URI"))
        || (code == ErrorCode::NoConnect as i32 && msg.ends_with("does not include a driver name"))
}

#[test]
#[cfg_attr(virsnap_no_libvirt, ignore = "needs python3-libvirt (libvirt 9.0)")]
fn odd_uris_are_refused_as_libvirt_refuses_them() {
    let theirs = libvirt_outcomes();
    let mut parse_errors = 0;
    for (uri, theirs) in URIS.iter().zip(theirs) {
        let ours = Connection::open(Some(uri)).map(|_| ());
        match theirs {
            None => assert!(ours.is_ok(), "libvirt opens {uri:?}, virsnap: {ours:?}"),
            Some((code, dom, msg)) if is_parse_error(code, dom, &msg) => {
                parse_errors += 1;
                let e = ours.expect_err(uri);
                assert_eq!((e.code as i32, e.domain as i32, e.message.as_str()), (code, dom, msg.as_str()), "{uri:?}");
            }
            Some((_, _, msg)) => assert!(ours.is_err(), "libvirt refuses {uri:?} ({msg}), virsnap opens it"),
        }
    }
    assert!(parse_errors >= 30, "only {parse_errors} parse errors: is this libvirt 9.0?");
}

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

/// URIs libvirt 9.0's test driver opens, written oddly: `virConnectGetURI`
/// must give back libvirt's form of each (`virURIFormat`: `test:/default`
/// is `test:///default`, the path and fragment decoded and re-escaped, the
/// query as written, a port without a host dropped).
const GET_URIS: &[&str] = &[
    "test:///default",
    "test:/default",
    "test:/default?x",
    "test:/default#f",
    "test:///default#frag",
    "test:///default#a[b]",
    "test:///default#x?y/z",
    "test:///default#%41",
    "test:///default#%C3%A9",
    "test:///default#",
    "test:///default?",
    "test:///default?#",
    "test:///default?a=b#c",
    "test:///default?a=1&b",
    "test:///default?;x=1",
    "test:///default?a=%C3%A9",
    "test:///default?a=b&a=c",
    "test:///default?a=%20b+c",
    "test:///default?=x",
    "test:///default?%41",
    "test:///%64efault",
    "test:///def%61ult?q=%41#%42",
    "test://user@/default",
    "test://%75ser@/default",
    "test://us%20er@/default",
    "test://a:b@/default",
    "test://u;=+$,&@/default",
    "test://user@:0/default",
    "test://:80/default",
];

const GET_URI_PROBE: &str = r#"
import json, sys
import libvirt
libvirt.registerErrorHandler(lambda c, e: None, None)
for u in sys.argv[1:]:
    c = libvirt.open(u)
    print(json.dumps(c.getURI()))
    c.close()
"#;

#[test]
#[cfg_attr(virsnap_no_libvirt, ignore = "needs python3-libvirt (libvirt 9.0)")]
fn get_uri_gives_libvirts_form_back() {
    // A node file whose path needs escaping (a space, a ':', sub-delims).
    let dir = std::env::temp_dir().join(format!("virsnap-uri {}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let node = "<node>\n<domain type='test'><name>x</name><memory>1024</memory><os><type>hvm</type></os></domain>\n</node>\n";
    std::fs::write(dir.join("n,o:d;e@=+$&!~*'().xml"), node).unwrap();
    let enc = dir.display().to_string().replace(' ', "%20");
    let mut uris: Vec<String> = GET_URIS.iter().map(|u| (*u).to_owned()).collect();
    uris.push(format!("test://{enc}/n,o:d;e@=+$&!~*'().xml"));
    uris.push(format!("test:{enc}/n%2Co%3Ad%3Be%40%3D%2B%24%26%21%7E%2A%27%28%29.xml"));
    let out = Command::new("/usr/bin/python3").arg("-c").arg(GET_URI_PROBE).args(&uris).output().expect("run python3-libvirt");
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let theirs: Vec<String> = text.lines().map(json_string).collect();
    assert_eq!(theirs.len(), uris.len(), "{text}");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("n,o:d;e@=+$&!~*'().xml"), node).unwrap();
    let mut changed = 0;
    for (uri, want) in uris.iter().zip(&theirs) {
        let c = Connection::open(Some(uri)).unwrap_or_else(|e| panic!("{uri}: {e:?}"));
        assert_eq!(c.uri(), want, "{uri}");
        changed += usize::from(uri != want);
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(changed >= 10, "only {changed} URIs differ from libvirt's form: is this libvirt 9.0?");
}

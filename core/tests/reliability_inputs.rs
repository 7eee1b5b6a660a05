//! Hostile input through the Rust API (issue 10): every rejected input gives
//! a libvirt error and leaves the domain's snapshots exactly as they were.
//! Also the regression inputs the fuzzers found (tests/fuzz).
#![allow(clippy::unwrap_used)]

use virsnap_core::error::ErrorCode;
use virsnap_core::xml::{format_snapshot, parse_snapshot, FormatFlags, ParseFlags, MAX_DEPTH, MAX_DOCUMENT_BYTES};
use virsnap_core::{Connection, Domain};

fn state(dom: &Domain) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = dom
        .list_all_snapshots(0)
        .unwrap()
        .iter()
        .map(|s| (s.name().to_string(), s.xml_desc(0).unwrap()))
        .collect();
    v.sort();
    v
}

/// A private test:/// connection (node file) with one domain and two snapshots.
fn setup(tag: &str) -> (Connection, Domain, std::path::PathBuf) {
    let p = std::env::temp_dir().join(format!("vsr-inputs-{tag}-{}.xml", std::process::id()));
    std::fs::write(&p, format!("<node>{}</node>", virsnap_core::drivers::test::DEFAULT_DOMAIN_XML)).unwrap();
    let conn = Connection::open(Some(&format!("test://{}", p.display()))).unwrap();
    let dom = conn.lookup_by_name("test").unwrap();
    dom.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>", 0).unwrap();
    dom.snapshot_create_xml("<domainsnapshot><name>s2</name></domainsnapshot>", 0).unwrap();
    (conn, dom, p)
}

fn hostile_documents() -> Vec<(&'static str, String)> {
    let deep = 200_000;
    vec![
        ("not XML", "garbage".into()),
        ("empty", String::new()),
        ("wrong root", "<domain/>".into()),
        (
            "entity bomb",
            "<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>\
             <!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'><!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'>]>\
             <domainsnapshot><name>bomb</name><description>&d;&d;&d;&d;</description></domainsnapshot>"
                .into(),
        ),
        (
            "external entity",
            "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>\
             <domainsnapshot><name>xxe</name><description>&x;</description></domainsnapshot>"
                .into(),
        ),
        ("undefined entity", "<domainsnapshot><name>&nope;</name></domainsnapshot>".into()),
        (
            "200k-deep nesting",
            format!("<domainsnapshot><name>deep</name><description>{}{}</description></domainsnapshot>", "<a>".repeat(deep), "</a>".repeat(deep)),
        ),
        ("just over the depth cap", format!("{}{}", "<domainsnapshot>".repeat(MAX_DEPTH + 1), "</domainsnapshot>".repeat(MAX_DEPTH + 1))),
        (
            "over the size cap",
            format!("<domainsnapshot><name>big</name><description>{}</description></domainsnapshot>", "x".repeat(MAX_DOCUMENT_BYTES)),
        ),
        ("NUL", "<domainsnapshot><name>a\0b</name></domainsnapshot>".into()),
        ("name with /", "<domainsnapshot><name>a/b</name></domainsnapshot>".into()),
        ("name ..", "<domainsnapshot><name>..</name></domainsnapshot>".into()),
        ("name .", "<domainsnapshot><name>.</name></domainsnapshot>".into()),
        ("name ../../etc/x", "<domainsnapshot><name>../../etc/x</name></domainsnapshot>".into()),
        ("name with newline", "<domainsnapshot><name>a\nb</name></domainsnapshot>".into()),
        ("name with control char", "<domainsnapshot><name>a&#1;b</name></domainsnapshot>".into()),
        ("name with escape char", "<domainsnapshot><name>a\u{1b}[31mb</name></domainsnapshot>".into()),
        ("duplicate name", "<domainsnapshot><name>s1</name></domainsnapshot>".into()),
        ("unclosed", "<domainsnapshot><name>u</name>".into()),
        ("two roots", "<domainsnapshot/><domainsnapshot/>".into()),
        // Found by tests/fuzz (snapshot_xml): an element named "\r" was
        // accepted and written back as `</>`, so the snapshot's metadata
        // could not be read again.
        ("element without a name", "<domainsnapshot><name>n</name><description>x<\r/></description></domainsnapshot>".into()),
        ("element named 1a", "<domainsnapshot><name>n</name><x><1a/></x></domainsnapshot>".into()),
    ]
}

#[test]
fn hostile_snapshot_xml_is_rejected_and_changes_nothing() {
    let (_c, dom, p) = setup("create");
    let before = state(&dom);
    for (what, xml) in hostile_documents() {
        for flags in [0u32, virsnap_core::flags::create::REDEFINE] {
            let r = dom.snapshot_create_xml(&xml, flags);
            assert!(r.is_err(), "{what} (flags {flags}) was accepted");
            let e = r.err().unwrap();
            assert!(!e.message.is_empty(), "{what}: empty message");
            // (REDEFINE without creationTime is libvirt's internal error too.)
            if flags == 0 {
                assert_ne!(e.code, ErrorCode::InternalError, "{what}: internal error {}", e.message);
            }
            assert!(!e.message.contains("root:"), "{what}: {}", e.message);
        }
        assert_eq!(state(&dom), before, "{what} changed the snapshots");
    }
    let _ = std::fs::remove_file(p);
}

#[test]
fn hostile_names_in_lookup_and_rename_change_nothing() {
    let (_c, dom, p) = setup("names");
    let before = state(&dom);
    let s1 = dom.snapshot_lookup_by_name("s1", 0).unwrap();
    for bad in ["", "/", "a/b", "..", ".", "../../etc/x", "a\nb", "a\u{1}b", "a\u{7f}b", "x".repeat(5000).as_str()] {
        assert!(dom.snapshot_lookup_by_name(bad, 0).is_err(), "lookup {bad:?}");
        let r = s1.rename(bad, 0);
        assert!(r.is_err(), "rename to {bad:?} accepted");
        assert_eq!(state(&dom), before, "rename to {bad:?}");
    }
    assert!(s1.rename("s2", 0).is_err(), "rename onto an existing name");
    assert_eq!(state(&dom), before);
    let _ = std::fs::remove_file(p);
}

#[test]
fn unknown_flags_are_rejected_and_change_nothing() {
    let (_c, dom, p) = setup("flags");
    let before = state(&dom);
    let s1 = dom.snapshot_lookup_by_name("s1", 0).unwrap();
    for f in [1u32 << 30, 1 << 31, 0xffff_0000] {
        assert!(dom.snapshot_create_xml("<domainsnapshot><name>f</name></domainsnapshot>", f).is_err(), "create {f:#x}");
        assert!(s1.delete(f).is_err(), "delete {f:#x}");
        assert!(s1.revert(f).is_err(), "revert {f:#x}");
        assert!(s1.rename("g", f).is_err(), "rename {f:#x}");
        assert!(dom.snapshot_list_names(f).is_err(), "list {f:#x}");
        assert_eq!(state(&dom), before, "flags {f:#x}");
    }
    let _ = std::fs::remove_file(p);
}

#[test]
fn hostile_uris_are_rejected() {
    for uri in [
        "nonsense",
        "://",
        "test://",
        "test:///nonexistent/dir/node.xml",
        "test:///etc/passwd",
        "qemu:///embed",
        "qemu:///embed?root=",
        "qemu:///embed?root=%ZZ",
        "esx://h:99999/",
        "vbox:///session?%",
        "test:///default\n",
        "\u{1}test:///default",
    ] {
        assert!(Connection::open(Some(uri)).is_err(), "{uri:?} opened");
    }
    let long = format!("test:///{}", "a".repeat(100_000));
    assert!(Connection::open(Some(&long)).is_err());
}

/// Regression for the fuzzer's find: what parses must format to XML that
/// parses again (else a created snapshot's metadata would be unreadable).
#[test]
fn parsed_snapshots_round_trip() {
    let xml = "<domainsnapshot><name>n</name><creationTime>1</creationTime><state>running</state>\
               <domain type='qemu'><name>vm</name><devices><emulator>/usr/bin/q</emulator></devices></domain></domainsnapshot>";
    let pf = ParseFlags { redefine: true, internal: false };
    let d = parse_snapshot(xml, pf).unwrap();
    let out = format_snapshot(&d, None, FormatFlags::default());
    parse_snapshot(&out, pf).unwrap();
    let bad = "<domainsnapshot><name>n</name><creationTime>1</creationTime><state>running</state>\
               <domain type='qemu'><name>vm</name><devices><emulator>/usr/bin/q <\r/></emulator></devices></domain></domainsnapshot>";
    assert!(parse_snapshot(bad, pf).is_err());
}

/// Regression for the fuzzer's second find: a snapshot redefined with
/// `<creationTime>0</creationTime>` was written to metadata without
/// creationTime (dumpxml omits a zero one, as libvirt), and reading the
/// metadata back requires it, so the snapshot vanished on the next load.
#[test]
fn zero_creation_time_survives_the_store() {
    use virsnap_core::store::SnapshotStore;
    use virsnap_core::ErrorDomain;
    let dir = std::env::temp_dir().join(format!("vsr-inputs-ctime-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SnapshotStore::open(&dir, ErrorDomain::Qemu).unwrap();
    let xml = "<domainsnapshot><name>epoch</name><state>shutoff</state><creationTime>0</creationTime></domainsnapshot>";
    let def = parse_snapshot(xml, ParseFlags { redefine: true, internal: false }).unwrap();
    store.save(&def, "c7a5fdbd-edaf-9455-926a-d65c16db1809", true).unwrap();
    let (tree, problems) = store.load_all().unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert!(tree.contains("epoch"), "the snapshot was lost on reload");
    assert_eq!(tree.current(), Some("epoch"));
    let _ = std::fs::remove_dir_all(&dir);
}

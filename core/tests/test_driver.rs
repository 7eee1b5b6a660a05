//! Semantics of the test driver beyond what the differential tests compare:
//! virsnap's deliberate differences (DESIGN §4), the seed extensions, node
//! files, read-only connections and stale handles.
//!
//! Each test uses its own node file (a private driver instance), except those
//! that need `test:///default`, which take `DEFAULT_LOCK`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use virsnap_core::flags::{create, delete, list, list_domains, revert};
use virsnap_core::model::DomainState;
use virsnap_core::{Connection, Domain, ErrorCode, ErrorDomain};

static DEFAULT_LOCK: Mutex<()> = Mutex::new(());

const NODE: &str = r#"<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <domain type='test'>
    <name>fc4</name>
    <uuid>ef861801-45b9-11cb-88e3-afbfe5370493</uuid>
    <memory>261072</memory>
    <vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <devices>
      <disk type='file' device='disk'>
        <source file='/var/lib/fc4.img'/>
        <target dev='hda'/>
      </disk>
    </devices>
    <test:domainsnapshot>
      <domainsnapshot>
        <name>base</name>
        <state>shutoff</state>
        <creationTime>1000</creationTime>
        <memory snapshot='no'/>
        <domain type='test'><name>fc4</name><uuid>ef861801-45b9-11cb-88e3-afbfe5370493</uuid><memory>261072</memory><os><type>hvm</type></os></domain>
        <active>0</active>
      </domainsnapshot>
    </test:domainsnapshot>
    <test:domainsnapshot>
      <domainsnapshot>
        <name>top</name>
        <state>running</state>
        <parent><name>base</name></parent>
        <creationTime>2000</creationTime>
        <memory snapshot='internal'/>
        <domain type='test'><name>fc4</name><uuid>ef861801-45b9-11cb-88e3-afbfe5370493</uuid><memory>261072</memory><os><type>hvm</type></os></domain>
        <active>1</active>
      </domainsnapshot>
    </test:domainsnapshot>
  </domain>
  <domain type='test'>
    <name>idle</name>
    <memory>1024</memory>
    <os><type>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
</node>
"#;

fn node() -> (Connection, Domain) {
    let path = std::env::temp_dir().join(format!("virsnap-node-{}-{:?}.xml", std::process::id(), std::thread::current().id()));
    std::fs::write(&path, NODE).unwrap();
    let conn = Connection::open(Some(&format!("test://{}", path.display()))).unwrap();
    let _ = std::fs::remove_file(&path);
    let dom = conn.lookup_by_name("fc4").unwrap();
    (conn, dom)
}

fn mk(dom: &Domain, name: &str) {
    dom.snapshot_create_xml(&format!("<domainsnapshot><name>{name}</name></domainsnapshot>"), 0).unwrap();
}

#[test]
fn node_file_loads_domains_states_and_snapshots() {
    let (conn, dom) = node();
    assert_eq!(dom.state(0).unwrap().0, DomainState::Running);
    assert_eq!(dom.id(), 1);
    let idle = conn.lookup_by_name("idle").unwrap();
    assert_eq!(idle.state(0).unwrap().0, DomainState::Shutoff);
    assert_eq!(idle.id(), -1);
    assert_eq!(dom.snapshot_list_names(list::TOPOLOGICAL).unwrap(), ["base", "top"]);
    assert_eq!(dom.snapshot_current(0).unwrap().name().as_ref(), "top");
    assert_eq!(dom.snapshot_lookup_by_name("top", 0).unwrap().parent(0).unwrap().name().as_ref(), "base");
    let names: Vec<_> = conn.list_all_domains(list_domains::HAS_SNAPSHOT).unwrap().iter().map(|d| d.name().to_owned()).collect();
    assert_eq!(names, ["fc4"]);
    let names: Vec<_> = conn.list_all_domains(list_domains::INACTIVE).unwrap().iter().map(|d| d.name().to_owned()).collect();
    assert_eq!(names, ["idle"]);
}

#[test]
fn node_file_errors_are_clear() {
    let e = Connection::open(Some("test:///nonexistent/file.xml")).unwrap_err();
    assert_eq!(e.code, ErrorCode::SystemError);
    let e = Connection::open(Some("test://relative")).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoConnect);
    let e = Connection::open(Some("nosuch:///x")).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoConnect);
    assert_eq!(e.message, "no connection driver available for nosuch:///x");
}

#[test]
fn names_with_path_tricks_are_refused_and_change_nothing() {
    let (_c, dom) = node();
    for bad in ["../../etc/x", "a/b", "..", ".", "tab\there", "nl\nx"] {
        let xml = format!("<domainsnapshot><name>{}</name></domainsnapshot>", bad.replace('\n', "&#10;").replace('\t', "&#9;"));
        let e = dom.snapshot_create_xml(&xml, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArg, "{bad:?}: {}", e.message);
    }
    let long = "x".repeat(256);
    assert_eq!(dom.snapshot_create_xml(&format!("<domainsnapshot><name>{long}</name></domainsnapshot>"), 0).unwrap_err().code, ErrorCode::InvalidArg);
    assert_eq!(dom.snapshot_num(0).unwrap(), 2);
    assert_eq!(dom.snapshot_current(0).unwrap().name().as_ref(), "top");
}

#[test]
fn revert_to_shutoff_snapshot_with_running_starts_the_domain() {
    let (_c, dom) = node();
    let base = dom.snapshot_lookup_by_name("base", 0).unwrap();
    base.revert(revert::RUNNING).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Running, 4));
    base.revert(revert::PAUSED).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Paused, 7));
    base.revert(0).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Shutoff, 7));
    assert!(base.is_current(0).unwrap());
}

#[test]
fn revert_restores_the_domain_definition() {
    let (conn, dom) = node();
    dom.snapshot_lookup_by_name("base", 0).unwrap().revert(0).unwrap();
    let xml = dom.xml_desc(0).unwrap();
    // The snapshot's domain has no disk (the live one has hda), normalised as libvirt does.
    assert!(!xml.contains("fc4.img") && xml.contains("  <devices>\n  </devices>\n"), "definition from the snapshot: {xml}");
    assert!(xml.contains("<uuid>ef861801-45b9-11cb-88e3-afbfe5370493</uuid>"));
    drop(conn);
}

#[test]
fn rename_keeps_children_uuid_and_current() {
    let (_c, dom) = node();
    let base = dom.snapshot_lookup_by_name("base", 0).unwrap();
    let uuid = base.uuid_string().unwrap();
    base.rename("golden", 0).unwrap();
    assert_eq!(base.name().as_ref(), "golden");
    let top = dom.snapshot_lookup_by_name("top", 0).unwrap();
    assert_eq!(top.parent(0).unwrap().name().as_ref(), "golden");
    assert!(top.xml_desc(0).unwrap().contains("<name>golden</name>"));
    assert_eq!(dom.snapshot_lookup_by_uuid_string(&uuid, 0).unwrap().name().as_ref(), "golden");
    assert_eq!(dom.snapshot_lookup_by_name("base", 0).unwrap_err().code, ErrorCode::NoDomainSnapshot);
    let e = top.rename("golden", 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    for bad in ["", "a/b", "..", "x\u{1}"] {
        assert_eq!(top.rename(bad, 0).unwrap_err().code, ErrorCode::InvalidArg);
    }
    assert_eq!(top.rename("new", 1).unwrap_err().code, ErrorCode::InvalidArg);
    assert_eq!(dom.snapshot_list_names(list::TOPOLOGICAL).unwrap(), ["golden", "top"]);
}

#[test]
fn uuids_are_unique_stable_and_looked_up() {
    let (_c, dom) = node();
    mk(&dom, "c");
    let mut seen = std::collections::HashSet::new();
    for s in dom.list_all_snapshots(0).unwrap() {
        let u = s.uuid_string().unwrap();
        assert_eq!(u.len(), 36);
        assert!(seen.insert(u.clone()));
        assert_eq!(dom.snapshot_lookup_by_uuid_string(&u, 0).unwrap().name(), s.name());
    }
    assert_eq!(dom.snapshot_lookup_by_uuid_string("not-a-uuid", 0).unwrap_err().code, ErrorCode::InvalidArg);
    let e = dom.snapshot_lookup_by_uuid_string("00000000-0000-0000-0000-000000000000", 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoDomainSnapshot);
}

#[test]
fn create_from_snapshot_starts_the_guest() {
    let (_c, dom) = node();
    dom.destroy(0).unwrap();
    let base = dom.snapshot_lookup_by_name("base", 0).unwrap();
    base.create_from(0).unwrap();
    assert_eq!(dom.state(0).unwrap().0, DomainState::Running);
    dom.destroy(0).unwrap();
    base.create_from(revert::PAUSED).unwrap();
    assert_eq!(dom.state(0).unwrap().0, DomainState::Paused);
    assert_eq!(base.create_from(revert::RUNNING | revert::PAUSED).unwrap_err().code, ErrorCode::InvalidArg);
    assert_eq!(base.create_from(8).unwrap_err().code, ErrorCode::InvalidArg);
}

#[test]
fn seed_delete_merge_reparents_children() {
    let (_c, dom) = node();
    mk(&dom, "leaf");
    dom.snapshot_lookup_by_name("top", 0).unwrap().delete(delete::MERGE).unwrap();
    assert_eq!(dom.snapshot_lookup_by_name("leaf", 0).unwrap().parent(0).unwrap().name().as_ref(), "base");
    dom.snapshot_lookup_by_name("leaf", 0).unwrap().delete(delete::MERGE_FORCE).unwrap();
    assert_eq!(dom.snapshot_list_names(0).unwrap(), ["base"]);
}

#[test]
fn seed_discard_refuses_children_and_discard_force_takes_them() {
    let (_c, dom) = node();
    let base = dom.snapshot_lookup_by_name("base", 0).unwrap();
    let e = base.delete(delete::DISCARD).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    assert_eq!(dom.snapshot_num(0).unwrap(), 2, "nothing changed");
    dom.snapshot_lookup_by_name("top", 0).unwrap().delete(delete::DISCARD).unwrap();
    mk(&dom, "again");
    base.delete(delete::DISCARD_FORCE).unwrap();
    assert_eq!(dom.snapshot_num(0).unwrap(), 0);
    assert!(!dom.has_current_snapshot(0).unwrap());
}

#[test]
fn seed_delete_modes_are_exclusive() {
    let (_c, dom) = node();
    let top = dom.snapshot_lookup_by_name("top", 0).unwrap();
    for f in [delete::MERGE | delete::DISCARD, delete::DISCARD | delete::CHILDREN, delete::MERGE | delete::METADATA_ONLY, delete::MERGE_FORCE | delete::DISCARD_FORCE] {
        let e = top.delete(f).unwrap_err();
        assert_eq!((e.code, e.domain), (ErrorCode::InvalidArg, ErrorDomain::DomainSnapshot), "{f:#x}");
        assert!(e.message.contains("mutually exclusive"), "{}", e.message);
    }
    assert_eq!(dom.snapshot_num(0).unwrap(), 2);
}

#[test]
fn delete_all_empties_the_tree() {
    let (_c, dom) = node();
    mk(&dom, "x");
    dom.snapshot_lookup_by_name("base", 0).unwrap().revert(0).unwrap();
    mk(&dom, "y");
    assert_eq!(dom.snapshot_delete_all(0).unwrap(), 4);
    assert_eq!(dom.snapshot_num(0).unwrap(), 0);
    assert_eq!(dom.snapshot_current(0).unwrap_err().code, ErrorCode::NoDomainSnapshot);
}

#[test]
fn seed_domain_uuid_must_match() {
    let (_c, dom) = node();
    let e = dom
        .snapshot_create_xml("<domainsnapshot><name>u</name><domain><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></domain></domainsnapshot>", 0)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert!(e.message.contains("must use uuid ef861801-45b9-11cb-88e3-afbfe5370493"), "{}", e.message);
    dom.snapshot_create_xml("<domainsnapshot><name>u</name><domain><uuid>ef861801-45b9-11cb-88e3-afbfe5370493</uuid></domain></domainsnapshot>", 0)
        .unwrap();
}

#[test]
fn seed_redefine_form_is_accepted() {
    let (_c, dom) = node();
    let xml = "<domainsnapshot><name>old</name><state>RUNNING</state><creationdate>2010-05-03T20:13:51Z</creationdate><parent><name>base</name></parent><domain type='test'><name>fc4</name><uuid>ef861801-45b9-11cb-88e3-afbfe5370493</uuid><memory>1</memory><os><type>hvm</type></os></domain></domainsnapshot>";
    let s = dom.snapshot_create_xml(xml, create::REDEFINE).unwrap();
    let out = s.xml_desc(0).unwrap();
    assert!(out.contains("<state>running</state>"), "{out}");
    assert!(out.contains("<creationTime>1272917631</creationTime>"), "{out}");
    assert_eq!(dom.snapshot_current(0).unwrap().name().as_ref(), "top", "redefine without CURRENT keeps current");
}

#[test]
fn redefine_with_current_moves_current_and_keeps_children() {
    let (_c, dom) = node();
    let base = dom.snapshot_lookup_by_name("base", 0).unwrap();
    let xml = base.xml_desc(1).unwrap().replace("<name>base</name>", "<name>base</name>\n  <description>edited</description>");
    dom.snapshot_create_xml(&xml, create::REDEFINE | create::CURRENT).unwrap();
    assert!(base.is_current(0).unwrap());
    assert!(base.xml_desc(0).unwrap().contains("<description>edited</description>"));
    assert_eq!(base.list_children_names(0).unwrap(), ["top"]);
}

#[test]
fn handles_outlive_deleted_snapshots() {
    let (_c, dom) = node();
    let top = dom.snapshot_lookup_by_name("top", 0).unwrap();
    let again = top.clone();
    top.delete(0).unwrap();
    assert_eq!(&*again.name(), "top");
    for e in [again.xml_desc(0).unwrap_err(), again.delete(0).unwrap_err(), again.revert(0).unwrap_err(), again.parent(0).unwrap_err()] {
        assert_eq!(e.code, ErrorCode::NoDomainSnapshot);
        assert_eq!(e.message, "Domain snapshot not found: no domain snapshot with matching name 'top'");
    }
    assert_eq!(dom.snapshot_current(0).unwrap().name().as_ref(), "base");
}

#[test]
fn read_only_connections_refuse_changes() {
    let _g = DEFAULT_LOCK.lock().unwrap();
    let rw = Connection::open(None).unwrap();
    let dom = rw.lookup_by_name("test").unwrap();
    mk(&dom, "ro-visible");
    let ro = Connection::open_read_only(Some("test:///default")).unwrap();
    let rdom = ro.lookup_by_name("test").unwrap();
    let s = rdom.snapshot_lookup_by_name("ro-visible", 0).unwrap();
    assert!(s.xml_desc(0).is_ok());
    let denied = [
        rdom.snapshot_create_xml("<domainsnapshot/>", 0).unwrap_err(),
        s.revert(0).unwrap_err(),
        s.delete(0).unwrap_err(),
        s.rename("zz", 0).unwrap_err(),
        s.xml_desc(1).unwrap_err(),
        rdom.destroy(0).unwrap_err(),
    ];
    for e in denied {
        assert_eq!(e.code, ErrorCode::OperationDenied, "{}", e.message);
    }
    assert_eq!(
        ro.lookup_by_name("test").unwrap().snapshot_create_xml("<domainsnapshot/>", 0).unwrap_err().message,
        "operation forbidden: read only access prevents virDomainSnapshotCreateXML"
    );
    // The denial names the public entry point the binding says was called.
    for (e, func) in [
        (rdom.create_as("virDomainCreate", 0).unwrap_err(), "virDomainCreate"),
        (rdom.destroy_as("virDomainDestroyFlags", 0).unwrap_err(), "virDomainDestroyFlags"),
        (rdom.shutdown_as("virDomainShutdownFlags", 0).unwrap_err(), "virDomainShutdownFlags"),
        (rdom.undefine_as("virDomainUndefine", 0).unwrap_err(), "virDomainUndefine"),
        (rdom.undefine(0).unwrap_err(), "virDomainUndefineFlags"),
    ] {
        assert_eq!((e.code, e.domain), (ErrorCode::OperationDenied, virsnap_core::ErrorDomain::Domain));
        assert_eq!(e.message, format!("operation forbidden: read only access prevents {func}"));
    }
    s.delete(0).err();
    dom.snapshot_lookup_by_name("ro-visible", 0).unwrap().delete(0).unwrap();
}

#[test]
fn default_state_is_shared_while_open_and_pristine_after() {
    let _g = DEFAULT_LOCK.lock().unwrap();
    {
        let a = Connection::open(Some("test:///default")).unwrap();
        let b = Connection::open(Some("test:///default")).unwrap();
        mk(&a.lookup_by_name("test").unwrap(), "shared");
        assert_eq!(b.lookup_by_name("test").unwrap().snapshot_num(0).unwrap(), 1);
    }
    let c = Connection::open(Some("test:///default")).unwrap();
    assert_eq!(c.lookup_by_name("test").unwrap().snapshot_num(0).unwrap(), 0);
    assert_eq!(c.type_name(), "Test");
    assert_eq!(c.uri(), "test:///default");
}

#[test]
fn dumpxml_of_default_domain_is_libvirts() {
    let _g = DEFAULT_LOCK.lock().unwrap();
    let c = Connection::open(Some("test:///default")).unwrap();
    let d = c.lookup_by_name("test").unwrap();
    let xml = d.xml_desc(0).unwrap();
    assert!(xml.starts_with("<domain type='test' id='1'>\n  <name>test</name>\n"));
    assert_eq!(xml.replacen(" id='1'", "", 1), virsnap_core::drivers::test::DEFAULT_DOMAIN_XML);
}

#[test]
#[cfg_attr(virsnap_no_virsh, ignore = "needs libvirt 9.0 virsh")]
fn dumpxml_of_default_domain_is_virshs() {
    let _g = DEFAULT_LOCK.lock().unwrap();
    let c = Connection::open(Some("test:///default")).unwrap();
    let xml = c.lookup_by_name("test").unwrap().xml_desc(0).unwrap();
    let out = reference_virsh(&["-c", "test:///default", "dumpxml", "test"]);
    assert!(out.status.success(), "virsh dumpxml failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{xml}\n"), "virsh dumpxml must be byte-identical");
}

/// Runs the reference `virsh ARGS`, rerunning it (up to 5 times) when it
/// dies of a signal: a crash of the reference is never virsnap's difference.
fn reference_virsh(args: &[&str]) -> std::process::Output {
    use std::os::unix::process::ExitStatusExt;
    for attempt in 1.. {
        let out = std::process::Command::new("virsh").args(args).output().expect("virsh is required");
        match out.status.signal() {
            Some(sig) if attempt < 5 => println!("reference virsh {args:?} died of signal {sig}; rerunning"),
            Some(sig) => panic!("reference virsh {args:?} died of signal {sig} {attempt} times"),
            None => return out,
        }
    }
    unreachable!()
}

#[test]
fn domain_lifecycle_and_lookup() {
    let (conn, dom) = node();
    assert_eq!(conn.lookup_by_id(1).unwrap().name(), "fc4");
    assert_eq!(conn.lookup_by_uuid_string("ef861801-45b9-11cb-88e3-afbfe5370493").unwrap().name(), "fc4");
    assert_eq!(conn.lookup_by_uuid(&dom.uuid().0).unwrap().name(), "fc4");
    assert_eq!(conn.lookup_by_name("nope").unwrap_err().message, "Domain not found");
    assert_eq!(conn.lookup_by_uuid_string("zz").unwrap_err().code, ErrorCode::InvalidArg);
    dom.suspend().unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Paused, 1));
    dom.resume().unwrap();
    dom.shutdown(0).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Shutoff, 1));
    assert_eq!(dom.destroy(0).unwrap_err().code, ErrorCode::OperationInvalid);
    dom.create(0).unwrap();
    assert_eq!(dom.current_id().unwrap(), 2);
    let info = dom.info().unwrap();
    assert_eq!((info.state, info.max_mem, info.nr_virt_cpu), (1, 261_072, 1));
    assert_eq!(conn.num_of_domains().unwrap(), 1);
}

#[test]
fn define_and_undefine_follow_libvirt() {
    let (conn, _dom) = node();
    let d = conn.define_xml("<domain type='test'><name>new</name><memory>1024</memory><os><type>hvm</type></os></domain>", 0).unwrap();
    assert_eq!(d.state(0).unwrap().0, DomainState::Shutoff);
    assert!(d.xml_desc(0).unwrap().contains(&format!("<uuid>{}</uuid>", d.uuid_string())));
    assert_eq!(conn.define_xml("<domain type='test'><memory>1</memory></domain>", 0).unwrap_err().code, ErrorCode::NoName);
    assert_eq!(conn.define_xml("<foo/>", 0).unwrap_err().code, ErrorCode::XmlError);
    assert_eq!(conn.define_xml("<domain", 0).unwrap_err().code, ErrorCode::XmlDetail);
    let idle = conn.lookup_by_name("idle").unwrap();
    mk(&idle, "s");
    let e = idle.undefine(0).unwrap_err();
    assert_eq!(e.message, "Requested operation is not valid: cannot delete inactive domain with 1 snapshots");
    idle.undefine(virsnap_core::flags::domain::UNDEFINE_SNAPSHOTS_METADATA).unwrap();
    assert_eq!(conn.lookup_by_name("idle").unwrap_err().code, ErrorCode::NoDomain);
    let e = idle.state(0).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoDomain);
    d.undefine(0).unwrap();
}

#[test]
fn transient_domains_need_run_or_pause_to_revert_inactive() {
    let (conn, _d) = node();
    let t = conn.create_xml("<domain type='test'><name>tr</name><memory>1</memory><os><type>hvm</type></os></domain>", 0).unwrap();
    assert!(!t.is_persistent().unwrap());
    assert_eq!(t.snapshot_create_xml("<domainsnapshot/>", create::HALT).unwrap_err().message,
        "Requested operation is not valid: cannot halt after transient domain snapshot");
    let s = t.snapshot_create_xml("<domainsnapshot><name>tr1</name></domainsnapshot>", 0).unwrap();
    t.suspend().unwrap();
    s.revert(0).unwrap();
    assert_eq!(t.state(0).unwrap().0, DomainState::Running);
    t.destroy(0).unwrap();
    assert_eq!(conn.lookup_by_name("tr").unwrap_err().code, ErrorCode::NoDomain, "a stopped transient domain vanishes");
}

#[test]
fn hostile_xml_is_refused_and_changes_nothing() {
    let (_c, dom) = node();
    let bomb = "<!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;'>]><domainsnapshot><name>&b;</name></domainsnapshot>";
    let ext = "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><domainsnapshot><name>&e;</name></domainsnapshot>";
    let deep = format!("<domainsnapshot>{}{}</domainsnapshot>", "<d>".repeat(100_000), "</d>".repeat(100_000));
    let huge = format!("<domainsnapshot><description>{}</description></domainsnapshot>", "x".repeat(11 * 1024 * 1024));
    for xml in [bomb.to_owned(), ext.to_owned(), deep, huge, "<domainsnapshot><name>a\u{0}b</name></domainsnapshot>".into(), "".into()] {
        let e = dom.snapshot_create_xml(&xml, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::XmlDetail, "{}", e.message);
    }
    assert_eq!(dom.snapshot_num(0).unwrap(), 2);
}

#[test]
fn validate_flag_checks_the_schema() {
    let (_c, dom) = node();
    let bad = "<domainsnapshot><name>v</name><disks><disk name='hda' snapshot='external' type='file'><source file='/x' startupPolicy='optional'/></disk></disks></domainsnapshot>";
    let e = dom.snapshot_create_xml(bad, create::VALIDATE).unwrap_err();
    assert_eq!((e.code, e.domain), (ErrorCode::XmlInvalidSchema, ErrorDomain::Xml));
    let e = dom.snapshot_create_xml("<domainsnapshot><bogus/></domainsnapshot>", create::VALIDATE).unwrap_err();
    assert_eq!(e.code, ErrorCode::XmlInvalidSchema);
    dom.snapshot_create_xml("<domainsnapshot><bogus/><name>lenient</name></domainsnapshot>", 0).unwrap();
}

#[test]
fn halt_stops_the_domain_and_keeps_running_state() {
    let (_c, dom) = node();
    let s = dom.snapshot_create_xml("<domainsnapshot><name>h</name></domainsnapshot>", create::HALT).unwrap();
    assert_eq!(dom.state(0).unwrap(), (DomainState::Shutoff, 7));
    assert!(s.xml_desc(0).unwrap().contains("<state>running</state>"));
    assert_eq!(dom.snapshot_num(list::ACTIVE).unwrap(), 2);
    assert_eq!(dom.snapshot_num(list::INACTIVE).unwrap(), 1);
}

#[test]
fn automatic_names_are_epoch_seconds() {
    let (_c, dom) = node();
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    // Bracketed by the clock before and after: no assumption on how long
    // the create takes on a loaded machine.
    let before = now();
    let s = dom.snapshot_create_xml("<domainsnapshot/>", 0).unwrap();
    let after = now();
    let n: i64 = s.name().parse().unwrap();
    assert!((before..=after).contains(&n), "{before} <= {n} <= {after}");
    assert!(s.xml_desc(0).unwrap().contains(&format!("<creationTime>{n}</creationTime>")));
}

//! Core's typed getters that the CLI (and bindings) use instead of
//! re-parsing XML: `Snapshot::info` (the test driver reads its definition;
//! other drivers the XML, and both must agree), `Domain::os_type`,
//! security model/label and `Domain::checkpoint_create_xml`.
#![allow(clippy::unwrap_used)]

use virsnap_core::model::{SnapshotInfo, SnapshotState};
use virsnap_core::{Connection, ErrorCode};

#[test]
fn info_from_the_definition_equals_info_from_the_xml() {
    let c = Connection::open(Some("test:///default")).unwrap();
    let d = c.lookup_by_name("test").unwrap();
    let dom = d.xml_desc(0).unwrap();
    let xmls = [
        "<domainsnapshot><name>a</name></domainsnapshot>".to_owned(),
        // A redefined snapshot with its own state and creation time.
        format!("<domainsnapshot><name>b</name><state>shutoff</state><parent><name>a</name></parent><creationTime>1272917631</creationTime>{dom}</domainsnapshot>"),
        "<domainsnapshot><name>c</name><memory snapshot='external' file='/tmp/m.img'/><disks><disk name='vda' snapshot='no'/></disks></domainsnapshot>".to_owned(),
    ];
    for (x, flags) in xmls.iter().zip([0, 1 /* REDEFINE */ | 2 /* CURRENT */, 0]) {
        d.snapshot_create_xml(x, flags).unwrap_or_else(|e| panic!("{x}: {e}"));
    }
    for s in d.list_all_snapshots(0).unwrap() {
        let typed = s.info().unwrap().unwrap();
        assert_eq!(Some(typed.clone()), SnapshotInfo::from_xml(&s.xml_desc(0).unwrap()), "{}", s.name());
        assert!(typed.creation_time.is_some_and(|t| t > 0));
        match &*s.name() {
            "a" => assert_eq!((typed.state, typed.parent.as_deref(), typed.external), (Some(SnapshotState::Running), None, false)),
            "b" => assert_eq!((typed.state, typed.parent.as_deref(), typed.creation_time, typed.external), (Some(SnapshotState::Shutoff), Some("a"), Some(1_272_917_631), false)),
            "c" => assert_eq!((typed.state, typed.parent.as_deref(), typed.external), (Some(SnapshotState::Running), Some("b"), true)),
            n => panic!("unexpected snapshot {n}"),
        }
    }
    assert_eq!(d.os_type().unwrap().as_deref(), Some("linux"));
    assert_eq!(c.security_model().unwrap(), ("testSecurity".to_owned(), String::new()));
    assert_eq!(d.security_label().unwrap(), ("libvirt-test".to_owned(), true));
    // Snapshots exist: no checkpoint; a fresh domain with a disk takes one,
    // and then refuses snapshots.
    let e = d.checkpoint_create_xml("<domaincheckpoint><name>k</name></domaincheckpoint>", 0).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::OperationUnsupported, "Operation not supported: cannot create checkpoint while snapshot exists"));
}

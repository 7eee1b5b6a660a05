//! Snapshot XML through a whole driver (the test driver on a private node
//! file): create / redefine with the selector's flags, then dumpxml,
//! redefine from that dump, delete. Invariants: no panic; a created
//! snapshot's dump redefines cleanly; deleting restores the snapshot count
//! (nothing half-created is left behind).
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use virsnap_core::flags::create;
use virsnap_core::{Connection, Domain};

fn domain() -> &'static Domain {
    static DOM: OnceLock<(Connection, Domain)> = OnceLock::new();
    &DOM.get_or_init(|| {
        let p = std::env::temp_dir().join(format!("virsnap-fuzz-driver-{}.xml", std::process::id()));
        std::fs::write(&p, format!("<node>{}</node>", virsnap_core::drivers::test::DEFAULT_DOMAIN_XML)).expect("node file");
        let conn = Connection::open(Some(&format!("test://{}", p.display()))).expect("open");
        let dom = conn.lookup_by_name("test").expect("domain");
        dom.snapshot_create_xml("<domainsnapshot><name>base</name></domainsnapshot>", 0).expect("base");
        (conn, dom)
    })
    .1
}

const FLAGS: [u32; 6] = [
    0,
    create::REDEFINE,
    create::REDEFINE | create::CURRENT,
    create::NO_METADATA,
    create::DISK_ONLY,
    create::HALT,
];

fuzz_target!(|data: &[u8]| {
    let Some((sel, xml)) = virsnap_fuzz::split(data) else { return };
    let dom = domain();
    let before = dom.snapshot_list_names(0).expect("list").len();
    let flags = FLAGS[sel as usize % FLAGS.len()];
    let Ok(s) = dom.snapshot_create_xml(xml, flags) else {
        assert_eq!(dom.snapshot_list_names(0).expect("list").len(), before, "a failed create left something");
        return;
    };
    if s.name().as_ref() == "base" {
        return; // redefined the base snapshot in place
    }
    let dump = s.xml_desc(0).expect("dumpxml of a created snapshot");
    if let Err(e) = dom.snapshot_create_xml(&dump, create::REDEFINE) {
        panic!("redefining from dumpxml failed: {e}\n{dump}");
    }
    let _ = s.parent(0);
    let _ = s.is_current(0);
    s.delete(0).expect("delete");
    assert_eq!(dom.snapshot_list_names(0).expect("list").len(), before, "delete did not restore the count");
    // (HALT may have stopped the domain: start it again for the next input.)
    if !dom.is_active().unwrap_or(true) {
        let _ = dom.create(0);
    }
});

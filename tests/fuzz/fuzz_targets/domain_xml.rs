//! `<domain>` documents: the qemu driver's DomainDef (define_xml) and the
//! test driver's domain parser (node files, define). No panic; a qemu
//! definition that parses formats to XML that parses again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use virsnap_core::drivers::qemu::domxml::DomainDef;
use virsnap_core::Connection;

fuzz_target!(|data: &[u8]| {
    let Some(xml) = virsnap_fuzz::text(data) else { return };
    // The test driver reads a node file (or a bare <domain>) from disk.
    let path = std::env::temp_dir().join(format!("virsnap-fuzz-node-{}.xml", std::process::id()));
    if std::fs::write(&path, xml).is_ok() {
        if let Ok(conn) = Connection::open(Some(&format!("test://{}", path.display()))) {
            if let Ok(doms) = conn.list_all_domains(0) {
                for d in doms {
                    let _ = d.xml_desc(0);
                    let _ = d.snapshot_list_names(0);
                }
            }
        }
    }
    if let Ok(def) = DomainDef::parse(xml) {
        let out = def.to_xml();
        let again = DomainDef::parse(&out).unwrap_or_else(|e| panic!("formatted domain XML does not parse back: {e}\n{out}"));
        assert_eq!(out, again.to_xml(), "domain format is not stable");
    }
});

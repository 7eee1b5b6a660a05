//! `<domainsnapshot>` documents: the parser every driver's create/redefine
//! uses, then the formatter. Invariants: no panic; a redefinition that
//! parses formats to a document that parses again and formats identically
//! (dumpxml is stable).
#![no_main]
use libfuzzer_sys::fuzz_target;
use virsnap_core::xml::{format_snapshot, parse_document, parse_snapshot, FormatFlags, ParseFlags};
use virsnap_core::ErrorDomain;

fuzz_target!(|data: &[u8]| {
    let Some((sel, xml)) = virsnap_fuzz::split(data) else { return };
    let _ = parse_document(xml, "domainsnapshot", ErrorDomain::DomainSnapshot);
    let pf = ParseFlags { redefine: sel & 1 != 0, internal: sel & 2 != 0 };
    let Ok(def) = parse_snapshot(xml, pf) else { return };
    let ff = FormatFlags { secure: sel & 4 != 0, internal: sel & 2 != 0, current: sel & 8 != 0 };
    let out = format_snapshot(&def, Some("c7a5fdbd-edaf-9455-926a-d65c16db1809"), ff);
    // A complete definition (redefine/internal parse: what the store reads
    // back, what snapshot-edit feeds to REDEFINE) must survive dumpxml and a
    // second parse unchanged. Plain create input lacks creationTime & co.,
    // which the driver fills in before formatting.
    if !pf.redefine {
        return;
    }
    // dumpxml (not the internal form) omits a zero creationTime, as libvirt.
    if !ff.internal && def.creation_time == 0 {
        return;
    }
    let pf2 = pf;
    let def2 = parse_snapshot(&out, pf2).unwrap_or_else(|e| panic!("formatted XML does not parse back: {e}\n{out}"));
    let out2 = format_snapshot(&def2, Some("c7a5fdbd-edaf-9455-926a-d65c16db1809"), ff);
    assert_eq!(out, out2, "format is not stable");
});

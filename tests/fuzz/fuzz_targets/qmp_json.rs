//! QMP replies and qemu-img JSON: the qemu driver's JSON parser, then the
//! fields it reads. Invariants: no panic; what parses re-serialises to text
//! that parses to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use virsnap_core::drivers::qemu::json::{self, Json};

fuzz_target!(|data: &[u8]| {
    let Some(text) = virsnap_fuzz::text(data) else { return };
    let Ok(v) = json::parse(text) else { return };
    // What Qmp::execute_timeout / status / img::snapshots read.
    let _ = v.get("event");
    let _ = v.get("id").and_then(Json::as_u64);
    if let Some(e) = v.get("error") {
        let _ = e.get("desc").and_then(Json::as_str);
    }
    if let Some(r) = v.get("return") {
        let _ = r.get("status").and_then(Json::as_str);
        let _ = r.get("running").and_then(Json::as_bool);
        let _ = r.as_str();
    }
    for s in v.get("snapshots").and_then(Json::as_array).into_iter().flatten() {
        let _ = s.get("name").and_then(Json::as_str);
        let _ = s.get("vm-state-size").and_then(Json::as_u64);
        let _ = s.get("date-sec").and_then(Json::as_i64);
    }
    let out = v.to_string();
    let again = json::parse(&out).unwrap_or_else(|e| panic!("serialised JSON does not parse back: {e}\n{out}"));
    assert_eq!(out, again.to_string(), "JSON serialisation is not stable");
});

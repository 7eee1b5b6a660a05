//! Connection URIs (every driver's open, LIBVIRT_DEFAULT_URI). No panic;
//! parsed parts contain no control characters; params are found.
#![no_main]
use libfuzzer_sys::fuzz_target;
use virsnap_core::drivers::ParsedUri;

fuzz_target!(|data: &[u8]| {
    let Some(uri) = virsnap_fuzz::text(data) else { return };
    let Ok(u) = ParsedUri::parse(uri) else { return };
    assert!(!u.scheme.is_empty());
    for (k, _) in &u.query {
        assert!(u.param(k).is_some());
    }
    let _ = u.param("root");
    let _ = u.param("transport");
    let _ = u.param("no_verify");
});

//! The committed `include/virsnap.h` must equal the header cbindgen generates
//! now from `capi/` (rustls-ffi's ensure-header-updated). Regenerate with
//! `VIRSNAP_BLESS=1 cargo build -p virsnap-suite`.

#[test]
fn committed_header_is_fresh() {
    let generated =
        std::fs::read_to_string(env!("VIRSNAP_GENERATED_HEADER")).expect("generated header");
    let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/virsnap.h");
    let committed = std::fs::read_to_string(committed_path).expect("include/virsnap.h");
    assert!(
        generated == committed,
        "include/virsnap.h is stale: run `VIRSNAP_BLESS=1 cargo build -p virsnap-suite` and commit it"
    );
}

#[test]
fn compat_headers_include_virsnap_h() {
    for h in [
        "libvirt.h",
        "virterror.h",
        "libvirt-domain-snapshot.h",
        "libvirt-domain.h",
        "libvirt-host.h",
    ] {
        let p = format!("{}/include/libvirt/{h}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&p).expect("compat header");
        assert!(
            text.contains("#include \"../virsnap.h\""),
            "{p} must include virsnap.h"
        );
    }
}

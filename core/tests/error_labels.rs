//! Every error-domain label virsnap prints (`libvirt: <label> error : …`) is
//! one of the strings in the installed libvirt 9.0's `virErrorDomain` table,
//! read live from `libvirt.so.0` rather than copied into the repo.

use virsnap_core::error::ErrorDomain;

const LIBVIRT_SO: &str = "/usr/lib/x86_64-linux-gnu/libvirt.so.0";

#[test]
#[cfg_attr(virsnap_no_libvirt, ignore = "needs libvirt 9.0 (libvirt0)")]
fn domain_labels_are_libvirts() {
    let bytes = std::fs::read(LIBVIRT_SO).expect("read the installed libvirt.so.0");
    // The linker merges a string into the tail of a longer one ("RPC" in
    // "XML-RPC"), so look for the label followed by its NUL anywhere.
    let present = |label: &str| {
        let needle: Vec<u8> = label.bytes().chain([0]).collect();
        bytes.windows(needle.len()).any(|w| w == needle)
    };
    let missing: Vec<_> = ErrorDomain::ALL
        .iter()
        .filter(|d| !d.label().is_empty() && !present(d.label()))
        .map(|d| format!("{d:?} => {:?}", d.label()))
        .collect();
    assert!(missing.is_empty(), "labels not in libvirt.so.0: {missing:?}");
}

//! `<domainsnapshot>` parse and format, byte-compatible with libvirt 9.0, over
//! a generic element tree used for the embedded `<domain>`.

mod domain;
mod element;
mod snapshot;

pub use domain::normalize_test_domain;
pub use element::{escape, escape_into, escape_libxml2_into, parse_document, utf8_error, utf8_error_with, Element, Node, MAX_DEPTH, MAX_DOCUMENT_BYTES};
pub use snapshot::{format_snapshot, format_snapshot_with, parse_snapshot, snapshot_from_element, FormatFlags, ParseFlags};

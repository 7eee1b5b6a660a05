//! Arguments, input lines and files that are not valid UTF-8.
//!
//! virsh works on bytes: a name with an invalid byte is looked up (and not
//! found, the message quoting the byte as is), `echo` prints it back, and
//! XML holding one is refused by libxml2. The CLI works on `String`s, so
//! each byte of an invalid sequence is carried as one code point of
//! U+10FF80..=U+10FFFF (the last 128 of plane 16's private use area; only
//! bytes >= 0x80 can be invalid) and turned back into the byte on output
//! and where bytes are needed (file names, XML checks).
//!
//! Output is only translated back once such a byte has been read in this
//! process, so text that never came from invalid input is written as is.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

/// Code point carrying byte `b` (0x80..=0xFF): `BASE + b`.
const BASE: u32 = 0x10FF00;

/// Set once an invalid byte has been carried.
static CARRIED: AtomicBool = AtomicBool::new(false);

/// `bytes` as a `String`, invalid bytes carried as code points.
pub fn decode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for &b in chunk.invalid() {
            CARRIED.store(true, Ordering::Relaxed);
            out.push(char::from_u32(BASE + u32::from(b)).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
    }
    out
}

/// An OS string (argument, path) as a `String`, invalid bytes carried.
pub fn decode_os(s: std::ffi::OsString) -> String {
    use std::os::unix::ffi::OsStringExt;
    match s.into_string() {
        Ok(s) => s,
        Err(s) => decode(&s.into_vec()),
    }
}

/// True when `s` carries an invalid byte.
pub fn carries(s: &str) -> bool {
    CARRIED.load(Ordering::Relaxed) && s.chars().any(|c| (BASE + 0x80..=BASE + 0xFF).contains(&(c as u32)))
}

/// The bytes `s` stands for: carried bytes written back.
pub fn encode(s: &str) -> Cow<'_, [u8]> {
    if !carries(s) {
        return Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    let mut buf = [0u8; 4];
    for c in s.chars() {
        let v = c as u32;
        if (BASE + 0x80..=BASE + 0xFF).contains(&v) {
            out.push((v - BASE) as u8);
        } else {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    Cow::Owned(out)
}

/// A path named by `s` (carried bytes written back).
pub fn path(s: &str) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&encode(s)))
}

/// libvirt's parse error when the XML `xml` stands for is not UTF-8
/// (`what`: `domain_snapshot`, `domain_definition`…); the offending bytes
/// are kept in the message's context line.
pub fn xml_error(xml: &str, what: &str, domain: virsnap_core::ErrorDomain) -> Option<virsnap_core::Error> {
    if !carries(xml) {
        return None;
    }
    virsnap_core::xml::utf8_error_with(&encode(xml), what, domain, decode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let raw = b"a\xffb\xc3\xa9\xc3(\xed\xa0\x80";
        let s = decode(raw);
        assert!(carries(&s));
        assert_eq!(&*encode(&s), raw);
        assert!(!carries("plain é"));
        assert_eq!(&*encode("plain é"), "plain é".as_bytes());
    }
}

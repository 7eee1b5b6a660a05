//! 16-byte UUIDs: parse libvirt's accepted forms, format canonical, generate v4.
//!
//! Generation and formatting are the `uuid` crate's; parsing stays here
//! because libvirt accepts forms `uuid::Uuid::parse_str` rejects (dashes
//! between any byte pairs, or none, and surrounding whitespace).

use std::fmt;

/// A UUID as libvirt stores it (16 raw bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// Parses `xxxxxxxx-xxxx-…` or 32 hex digits, with libvirt's leniency
    /// (dashes anywhere between byte pairs, surrounding spaces).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let mut out = [0u8; 16];
        let mut i = 0;
        let bytes = s.as_bytes();
        let mut p = 0;
        while p < bytes.len() {
            if bytes[p] == b'-' {
                p += 1;
                continue;
            }
            if i >= 16 || p + 1 >= bytes.len() {
                return None;
            }
            let hi = (bytes[p] as char).to_digit(16)?;
            let lo = (bytes[p + 1] as char).to_digit(16)?;
            out[i] = u8::try_from(hi * 16 + lo).ok()?;
            i += 1;
            p += 2;
        }
        (i == 16).then_some(Self(out))
    }

    /// A random (version 4) UUID from the OS random source (`uuid` crate).
    ///
    /// Since 0.1.0.
    pub fn generate() -> Self {
        Self(::uuid::Uuid::new_v4().into_bytes())
    }
}

impl fmt::Display for Uuid {
    /// Canonical lower-case `8-4-4-4-12` form, as libvirt prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(::uuid::Uuid::from_bytes(self.0).as_hyphenated(), f)
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let u = Uuid::parse("6695eb01-f6a4-8304-79aa-97f2502e193f").unwrap();
        assert_eq!(u.to_string(), "6695eb01-f6a4-8304-79aa-97f2502e193f");
        assert_eq!(Uuid::parse("6695eb01f6a4830479aa97f2502e193f"), Some(u));
        assert_eq!(Uuid::parse("6695eb01-f6a4-8304-79aa-97f2502e193"), None);
        assert_eq!(Uuid::parse("zz95eb01-f6a4-8304-79aa-97f2502e193f"), None);
        assert_ne!(Uuid::generate(), Uuid::generate());
    }

    /// What the parser accepts and rejects (kept as it was before the
    /// `uuid` crate took over generation and formatting). libvirt's
    /// virUUIDParse differs in two corners: it also allows spaces between
    /// byte pairs, and rejects dashes after the last pair.
    #[test]
    fn lenient_forms() {
        let u = Uuid::parse("6695eb01-f6a4-8304-79aa-97f2502e193f").unwrap();
        for ok in [
            "6695EB01-F6A4-8304-79AA-97F2502E193F",
            "6695eb01f6a4830479aa97f2502e193f",
            "66-95-eb-01-f6-a4-83-04-79-aa-97-f2-50-2e-19-3f",
            "6695eb01-f6a4830479aa-97f2502e193f",
            "--6695eb01f6a4830479aa97f2502e193f--",
            "  6695eb01-f6a4-8304-79aa-97f2502e193f\n",
        ] {
            assert_eq!(Uuid::parse(ok), Some(u), "{ok:?}");
        }
        for bad in [
            "",
            "6695eb0-1f6a4-8304-79aa-97f2502e193f",
            "6695eb01-f6a4-8304-79aa-97f2502e193f00",
            "{6695eb01-f6a4-8304-79aa-97f2502e193f}",
            "urn:uuid:6695eb01-f6a4-8304-79aa-97f2502e193f",
            "6695eb01 f6a4 8304 79aa 97f2502e193f",
            "+695eb01-f6a4-8304-79aa-97f2502e193f",
        ] {
            assert_eq!(Uuid::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn generated_is_version_4_variant_1_and_formats_canonically() {
        for _ in 0..64 {
            let u = Uuid::generate();
            assert_eq!(u.0[6] >> 4, 4);
            assert_eq!(u.0[8] >> 6, 2);
            let s = u.to_string();
            assert_eq!(s.len(), 36);
            assert!(s.bytes().enumerate().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == b'-' } else { c.is_ascii_digit() || (b'a'..=b'f').contains(&c) }));
            assert_eq!(Uuid::parse(&s), Some(u));
        }
        assert_eq!(Uuid([0xab; 16]).to_string(), "abababab-abab-abab-abab-abababababab");
    }
}

//! 16-byte UUIDs: parse libvirt's accepted forms, format canonical, generate v4.

use std::fmt;
use std::io::Read;

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

    /// A random (version 4) UUID from the kernel's random source.
    pub fn generate() -> Self {
        let mut b = [0u8; 16];
        let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
        if filled.is_err() {
            // Fall back to time and address entropy; uniqueness, not secrecy, is needed.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let x = t ^ (u128::from(std::process::id()) << 64) ^ (&b as *const _ as u128);
            b = x.to_le_bytes();
        }
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Self(b)
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
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
}

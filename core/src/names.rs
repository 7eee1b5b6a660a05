//! Snapshot-name rules shared by every driver (DESIGN §4.1).

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::error::{Error, ErrorDomain, Result};

/// Longest name a [`SnapName`] keeps inline (the value stays 16 bytes).
const INLINE: usize = 14;

/// A snapshot name held by value in 16 bytes: up to 14 bytes inline (no
/// allocation and no cache line shared with other holders), longer names
/// shared behind one thin `Arc`. Hashes and compares as its bytes, so a map
/// keyed by it is searched with `name.as_bytes()`. Since 0.1.
#[derive(Clone, Debug)]
pub struct SnapName(Repr);

#[derive(Clone, Debug)]
enum Repr {
    /// Length and bytes, zero-padded (valid UTF-8: copied from a `str`).
    Inline(u8, [u8; INLINE]),
    /// The name's [`tag`] (compared before the string is read) and the name.
    Shared(u32, Arc<Box<str>>),
}

/// The tag of a name whose index hash is `hash`: its high half (the index
/// picks home lines with the low half).
pub(crate) fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// A name being searched for, prepared once for comparing with many
/// [`SnapName`]s: a short one as its inline form (one fixed-size compare),
/// a long one by tag and then bytes.
pub(crate) struct Probe<'a> {
    bytes: &'a [u8],
    inline: Option<SnapName>,
    tag: u32,
}

impl<'a> Probe<'a> {
    /// `bytes`, whose index hash is `hash`.
    pub(crate) fn new(bytes: &'a [u8], hash: u64) -> Self {
        let inline = SnapName::inline_bytes(bytes);
        Self { bytes, inline, tag: tag(hash) }
    }
}

impl SnapName {
    /// `name`, copied inline when short, else into a new shared string.
    pub fn new(name: &str) -> Self {
        Self::inline(name).unwrap_or_else(|| {
            let t = tag(crate::tree::fxhash::hash_bytes(name.as_bytes()));
            Self(Repr::Shared(t, Arc::new(Box::from(name))))
        })
    }

    fn inline(name: &str) -> Option<Self> {
        Self::inline_bytes(name.as_bytes())
    }

    /// `b` inline; `as_str` is only right if `b` is UTF-8 (a [`Probe`]
    /// only compares it).
    fn inline_bytes(b: &[u8]) -> Option<Self> {
        // b.len() <= 14 fits in a u8.
        (b.len() <= INLINE).then(|| {
            let mut buf = [0u8; INLINE];
            buf[..b.len()].copy_from_slice(b);
            Self(Repr::Inline(b.len() as u8, buf))
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Always valid: the bytes were copied from a str.
            Repr::Inline(n, b) => std::str::from_utf8(&b[..usize::from(*n)]).unwrap_or_default(),
            Repr::Shared(_, s) => s,
        }
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(n, b) => &b[..usize::from(*n)],
            Repr::Shared(_, s) => s.as_bytes(),
        }
    }

    /// The name as a shared string (a copy).
    pub fn to_arc(&self) -> Arc<str> {
        Arc::from(self.as_str())
    }

    /// True when this is the name `p` searches for. A short name is
    /// compared whole (length and padded bytes); a long one reads its
    /// string only when the tags agree.
    pub(crate) fn matches(&self, p: &Probe<'_>) -> bool {
        match (&self.0, &p.inline) {
            (Repr::Inline(n, b), Some(SnapName(Repr::Inline(pn, pb)))) => n == pn && b == pb,
            (Repr::Shared(t, s), None) => *t == p.tag && s.as_bytes() == p.bytes,
            _ => false,
        }
    }

    /// True when the name is kept inline.
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline(..))
    }
}

impl std::fmt::Display for SnapName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Hash for SnapName {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h);
    }
}

impl PartialEq for SnapName {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SnapName {}

impl Borrow<[u8]> for SnapName {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Longest accepted snapshot name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Checks a snapshot name: non-empty, at most 255 bytes, no `/`, no NUL or
/// control characters, not `.` or `..`. Fails with `VIR_ERR_INVALID_ARG`.
pub fn validate_snapshot_name(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > MAX_NAME_BYTES {
        Some("is longer than 255 bytes")
    } else if name.contains('/') {
        Some("must not contain '/'")
    } else if name.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if name == "." || name == ".." {
        Some("must not be '.' or '..'")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Error::invalid_arg(
            ErrorDomain::DomainSnapshot,
            format!("invalid snapshot name '{}': name {why}", printable(name)),
        )),
    }
}

/// A name with control characters shown as `\xNN`, safe to put in a message.
pub fn printable(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(300));
    for c in name.chars().take(300) {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for n in ["s1", "my snap name", "1795628407", "ünïcødé", ".hidden", "a..b"] {
            validate_snapshot_name(n).unwrap();
        }
    }

    #[test]
    fn snap_names_inline_and_shared() {
        use std::collections::HashMap;
        assert_eq!(std::mem::size_of::<SnapName>(), 16);
        let long = "x".repeat(200);
        let mut m: HashMap<SnapName, usize> = HashMap::new();
        for (i, n) in ["", "s1", "fourteen-bytes", "fifteen-bytes-x", "ünï"].iter().enumerate() {
            m.insert(SnapName::new(n), i);
        }
        m.insert(SnapName::new(&long), 9);
        assert!(SnapName::new("fourteen-bytes").is_inline());
        assert!(!SnapName::new("fifteen-bytes-x").is_inline());
        assert_eq!(&*SnapName::new(&long).to_arc(), long.as_str());
        assert_eq!(SnapName::new(&long).clone().as_str(), long.as_str());
        assert_eq!(m.get("s1".as_bytes()), Some(&1));
        assert_eq!(m.get("fifteen-bytes-x".as_bytes()), Some(&3));
        assert_eq!(m.get(long.as_bytes()), Some(&9));
        assert_eq!(m.get("s".as_bytes()), None);
        assert_eq!(m.get("".as_bytes()), Some(&0));
        assert_eq!(SnapName::new("ünï").as_str(), "ünï");
        assert_eq!(&*SnapName::new("ünï").to_arc(), "ünï");
    }

    #[test]
    fn rejects_path_tricks_and_controls() {
        for n in ["", ".", "..", "../../etc/x", "a/b", "a\nb", "a\0b", "\x7f"] {
            let e = validate_snapshot_name(n).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InvalidArg, "{n:?}");
        }
        assert!(validate_snapshot_name(&"x".repeat(256)).is_err());
        assert!(validate_snapshot_name(&"x".repeat(255)).is_ok());
    }
}

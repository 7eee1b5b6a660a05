//! The name index's key: short names kept inline in the hash table's slot,
//! so a lookup reads the table and nothing else (a name behind a pointer
//! costs a cache miss per lookup once the tree outgrows the cache).

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Longest name kept inline (the key stays 24 bytes, a slot 32).
const INLINE: usize = 22;

/// A snapshot name as the index holds it. Hashes and compares as its bytes,
/// so the index is searched with `name.as_bytes()`. Since 0.1.
#[derive(Clone, Debug)]
pub enum NameKey {
    /// Length and bytes of a name of at most [`INLINE`] bytes.
    Inline(u8, [u8; INLINE]),
    /// A longer name, shared with the tree's node.
    Shared(Arc<str>),
}

impl NameKey {
    /// The key for `name` (copied inline when short, else shared).
    pub fn new(name: &Arc<str>) -> Self {
        let b = name.as_bytes();
        if b.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..b.len()].copy_from_slice(b);
            // b.len() <= 22 fits in a u8.
            Self::Inline(b.len() as u8, buf)
        } else {
            Self::Shared(name.clone())
        }
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline(n, b) => &b[..usize::from(*n)],
            Self::Shared(s) => s.as_bytes(),
        }
    }
}

impl Hash for NameKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h);
    }
}

impl PartialEq for NameKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for NameKey {}

impl Borrow<[u8]> for NameKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn short_and_long_names_index_alike() {
        assert_eq!(std::mem::size_of::<NameKey>(), 24);
        let long: Arc<str> = Arc::from("x".repeat(200).as_str());
        let mut m: HashMap<NameKey, usize, super::super::fxhash::FxBuild> = HashMap::default();
        for (i, n) in ["", "s1", "exactly-22-bytes-name!", "twenty-three-bytes-name"].iter().enumerate() {
            m.insert(NameKey::new(&Arc::from(*n)), i);
        }
        m.insert(NameKey::new(&long), 9);
        assert!(matches!(NameKey::new(&Arc::from("exactly-22-bytes-name!")), NameKey::Inline(22, _)));
        assert!(matches!(NameKey::new(&Arc::from("twenty-three-bytes-name")), NameKey::Shared(_)));
        assert_eq!(m.get("s1".as_bytes()), Some(&1));
        assert_eq!(m.get("twenty-three-bytes-name".as_bytes()), Some(&3));
        assert_eq!(m.get(long.as_bytes()), Some(&9));
        assert_eq!(m.get("s".as_bytes()), None);
        assert_eq!(m.get("".as_bytes()), Some(&0));
    }
}

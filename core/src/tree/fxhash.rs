//! A small, fast, non-cryptographic hasher for the snapshot-name index
//! (the FxHash multiply-rotate of rustc, with rustc-hash 2's final rotation
//! so hashbrown's low-bit bucket index is well mixed).
//!
//! Names come from the API caller, who could only slow down their own
//! domain's index with crafted collisions; SipHash's DoS resistance buys
//! nothing here and costs most of a lookup on short names.

use std::hash::{BuildHasherDefault, Hasher};

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// FxHash state. Since 0.1.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(K).rotate_left(20);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

/// `BuildHasher` for [`FxHasher`] maps. Since 0.1.
pub type FxBuild = BuildHasherDefault<FxHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn spreads_short_sequential_names() {
        let b = FxBuild::default();
        let n = 1 << 16;
        let low: HashSet<u64> = (0..n).map(|i| b.hash_one(format!("s{i}").as_str()) & (n as u64 - 1)).collect();
        // A uniform hash fills about 63% of n buckets with n keys.
        assert!(low.len() > n * 55 / 100, "{} distinct low-bit buckets", low.len());
        assert_ne!(b.hash_one("a"), b.hash_one("a\0"));
    }
}

//! A small, fast, non-cryptographic hasher for the snapshot-name index:
//! one folded 64×64→128-bit multiply per 8 bytes (as foldhash does), so
//! every input bit reaches the low bits the name index picks the home slot
//! and its 32-bit tag with. (A plain FxHash multiply-rotate left the 5th
//! byte of `s12345` out of the bucket bits: 10k such names fell into 1.8k
//! buckets.)
//!
//! Names come from the API caller, who could only slow down their own
//! domain's index with crafted collisions; SipHash's DoS resistance buys
//! nothing here and costs most of a lookup on short names.

use std::hash::Hasher;

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// Hasher state. Since 0.1.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        let m = u128::from(self.0 ^ word) * u128::from(K);
        self.0 = (m as u64) ^ ((m >> 64) as u64);
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
        // One more round: a name of one word has been mixed only once.
        let m = u128::from(self.0 ^ 0x9E37_79B9_7F4A_7C15) * u128::from(K);
        (m as u64) ^ ((m >> 64) as u64)
    }
}

/// The hash of `bytes` (their words and tail length, without the slice
/// length prefix `Hash for [u8]` adds).
#[inline]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn spreads_short_sequential_names() {
        let n = 1 << 14;
        let hashes: Vec<u64> = (0..n).map(|i| hash_bytes(format!("s{i}").as_bytes())).collect();
        let low: HashSet<u64> = hashes.iter().map(|h| h & (n as u64 - 1)).collect();
        // A uniform hash fills about 63% of n slots with n keys.
        assert!(low.len() > n * 60 / 100, "{} distinct home slots", low.len());
        let tags: HashSet<u32> = hashes.iter().map(|&h| h as u32).collect();
        assert!(tags.len() > n - 4, "32-bit tags nearly all distinct");
        assert_ne!(hash_bytes(b"a"), hash_bytes(b"a\0"));
        assert_ne!(hash_bytes(b""), hash_bytes(b"\0"));
    }
}

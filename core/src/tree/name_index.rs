//! The name index: open addressing over 64-byte lines of four 16-byte
//! slots, each slot a name by value ([`SnapName`]; `None` is free). A name
//! hashes to a home line and sits there or, when it is full, in the first
//! line after it with a free slot; a search stops at a line with a free
//! slot. A short name is compared whole in the slot and a long one by a
//! hash tag kept next to its pointer, so a lookup by name usually reads
//! one cache line, from a table of 16 bytes per slot (the arena slots are
//! in a parallel array, read only by [`NameIndex::get`]). Removal moves
//! later names back, so there are no tombstones.

use super::fxhash::hash_bytes;
use crate::names::{Probe, SnapName};

type Idx = usize;

/// Slots per line.
const WAYS: usize = 4;

/// Grow when more than `LOAD_NUM / LOAD_DEN` of the slots would be full.
const LOAD_NUM: usize = 4;
const LOAD_DEN: usize = 5;

const MIN_LINES: usize = 2;

/// One cache line of slots.
#[derive(Clone, Debug, Default)]
#[repr(C, align(64))]
struct Line([Option<SnapName>; WAYS]);

/// Name → arena slot. Since 0.1.
#[derive(Clone, Debug, Default)]
pub(super) struct NameIndex {
    lines: Vec<Line>,
    /// Arena slot of the name in `lines[i / WAYS].0[i % WAYS]`.
    idx: Vec<Idx>,
    len: usize,
}

impl NameIndex {
    /// Number of names.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    fn mask(&self) -> usize {
        self.lines.len() - 1
    }

    /// Slot number of `key`.
    fn find(&self, key: &[u8]) -> Option<usize> {
        if self.lines.is_empty() {
            return None;
        }
        let h = hash_bytes(key);
        let p = Probe::new(key, h);
        let mask = self.mask();
        let mut l = h as usize & mask;
        // The load factor keeps free slots, so the search ends.
        loop {
            let mut free = false;
            for (w, s) in self.lines[l].0.iter().enumerate() {
                match s {
                    Some(n) if n.matches(&p) => return Some(l * WAYS + w),
                    Some(_) => {}
                    None => free = true,
                }
            }
            if free {
                return None;
            }
            l = (l + 1) & mask;
        }
    }

    /// The arena slot of `key`.
    pub(super) fn get(&self, key: &[u8]) -> Option<Idx> {
        self.find(key).map(|i| self.idx[i])
    }

    /// The stored name equal to `key`.
    pub(super) fn get_name(&self, key: &[u8]) -> Option<&SnapName> {
        self.find(key).and_then(|i| self.lines[i / WAYS].0[i % WAYS].as_ref())
    }

    /// True when `key` is present.
    pub(super) fn contains(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Adds `name` → `idx`; the caller has checked that `name` is absent.
    pub(super) fn insert(&mut self, name: SnapName, idx: Idx) {
        debug_assert!(!self.contains(name.as_bytes()));
        if (self.len + 1) * LOAD_DEN > self.lines.len() * WAYS * LOAD_NUM {
            self.grow();
        }
        let home = hash_bytes(name.as_bytes()) as usize;
        self.place(home, name, idx);
        self.len += 1;
    }

    /// Puts `name` in the first free slot from line `home` (there is one).
    fn place(&mut self, home: usize, name: SnapName, idx: Idx) {
        let mask = self.mask();
        let mut l = home & mask;
        loop {
            if let Some(w) = self.lines[l].0.iter().position(Option::is_none) {
                self.lines[l].0[w] = Some(name);
                self.idx[l * WAYS + w] = idx;
                return;
            }
            l = (l + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let want = (self.lines.len() * 2).max(MIN_LINES);
        let old = std::mem::replace(&mut self.lines, vec![Line::default(); want]);
        let old_idx = std::mem::replace(&mut self.idx, vec![0; want * WAYS]);
        for (line, idx) in old.into_iter().zip(old_idx.chunks(WAYS)) {
            for (s, &i) in line.0.into_iter().zip(idx) {
                if let Some(n) = s {
                    let home = hash_bytes(n.as_bytes()) as usize;
                    self.place(home, n, i);
                }
            }
        }
    }

    /// Home line of the name in slot `i`.
    fn home_of(&self, i: usize) -> Option<usize> {
        let n = self.lines[i / WAYS].0[i % WAYS].as_ref()?;
        Some(hash_bytes(n.as_bytes()) as usize & self.mask())
    }

    /// Removes `key`; returns its arena slot.
    pub(super) fn remove(&mut self, key: &[u8]) -> Option<Idx> {
        let mut hole = self.find(key)?;
        let idx = self.idx[hole];
        self.lines[hole / WAYS].0[hole % WAYS] = None;
        self.len -= 1;
        // A search for a name in a later line passes the hole's line, which
        // now has a free slot and would stop it: move such a name into the
        // hole, and repeat for the hole it leaves. Names past a line that
        // already had a free slot never passed it.
        let mask = self.mask();
        let mut l = hole / WAYS;
        'refill: loop {
            let hole_line = hole / WAYS;
            loop {
                l = (l + 1) & mask;
                if l == hole_line {
                    break 'refill;
                }
                let mut had_free = false;
                for w in 0..WAYS {
                    let j = l * WAYS + w;
                    let Some(home) = self.home_of(j) else {
                        had_free = true;
                        continue;
                    };
                    // Searches from `home` pass hole_line unless home lies
                    // in (hole_line, l].
                    let after = (home.wrapping_sub(hole_line) & mask) != 0
                        && (home.wrapping_sub(hole_line) & mask) <= (l.wrapping_sub(hole_line) & mask);
                    if !after {
                        let n = self.lines[l].0[w].take();
                        self.lines[hole_line].0[hole % WAYS] = n;
                        self.idx[hole] = self.idx[j];
                        hole = j;
                        continue 'refill;
                    }
                }
                if had_free {
                    break 'refill;
                }
            }
        }
        Some(idx)
    }

    /// Removes every name and frees the table.
    pub(super) fn clear(&mut self) {
        self.lines = Vec::new();
        self.idx = Vec::new();
        self.len = 0;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cache_lines() {
        assert_eq!(std::mem::size_of::<Line>(), 64);
        assert_eq!(std::mem::align_of::<Line>(), 64);
    }

    /// Inserts and removes in a pattern that forces full lines and
    /// wrap-around, checked against a std map after every step.
    #[test]
    fn matches_a_hash_map() {
        use std::collections::HashMap;
        let mut ix = NameIndex::default();
        let mut model: HashMap<String, Idx> = HashMap::new();
        let long = "long-name-beyond-fourteen-bytes";
        let name = |i: usize| if i.is_multiple_of(7) { format!("{long}{i}") } else { format!("s{i}") };
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        for step in 0..20_000usize {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let k = name((rng % 3000) as usize);
            if let Some(v) = model.remove(&k) {
                assert_eq!(ix.remove(k.as_bytes()), Some(v));
            } else {
                ix.insert(SnapName::new(&k), step);
                model.insert(k, step);
            }
            assert_eq!(ix.len(), model.len());
            if step % 997 == 0 {
                for i in 0..3000 {
                    let k = name(i);
                    assert_eq!(ix.get(k.as_bytes()), model.get(&k).copied(), "{k}");
                }
            }
        }
        for (k, v) in &model {
            assert_eq!(ix.get_name(k.as_bytes()).map(SnapName::as_str), Some(k.as_str()));
            assert_eq!(ix.get(k.as_bytes()), Some(*v));
        }
        assert!(!ix.contains(b"absent"));
        ix.clear();
        assert_eq!(ix.len(), 0);
        assert!(ix.get(b"s1").is_none());
        ix.insert(SnapName::new(""), 3);
        assert_eq!(ix.get(b""), Some(3));
        assert_eq!(ix.remove(b""), Some(3));
        assert_eq!(ix.remove(b""), None);
    }

    /// Sequential names at the highest load (100k in 128k slots): most
    /// sit in their home line.
    #[test]
    fn most_names_sit_in_their_home_line() {
        let mut ix = NameIndex::default();
        for i in 0..100_000usize {
            ix.insert(SnapName::new(&format!("s{i}")), i);
        }
        assert_eq!(ix.lines.len(), 32768);
        let home = (0..ix.lines.len() * WAYS).filter(|&i| ix.home_of(i) == Some(i / WAYS)).count();
        assert!(home * 10 > ix.len() * 7, "{home} of {} in their home line", ix.len());
    }

    /// A tiny table at full load: every line but one full, so removals
    /// refill across many lines and around the end.
    #[test]
    fn dense_table_removals() {
        for seed in 0..50u64 {
            let mut ix = NameIndex::default();
            let n = 200;
            for i in 0..n {
                ix.insert(SnapName::new(&format!("k{seed}-{i}")), i);
            }
            for i in (0..n).step_by(3) {
                assert_eq!(ix.remove(format!("k{seed}-{i}").as_bytes()), Some(i));
            }
            for i in 0..n {
                let want = (i % 3 != 0).then_some(i);
                assert_eq!(ix.get(format!("k{seed}-{i}").as_bytes()), want);
            }
        }
    }
}

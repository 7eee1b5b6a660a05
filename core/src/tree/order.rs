//! Creation order: names in two dense arrays indexed by a node's sequence
//! number. Listing names in creation order reads 16 bytes per name,
//! sequentially (a `BTreeMap` of sequence → slot and name read about three
//! times as many cache lines, scattered over its leaves). Removal leaves a
//! hole; the arrays are compacted when holes are the majority, which
//! renumbers the live entries in the same order.

use crate::names::SnapName;

type Idx = usize;

/// Sequence number → arena slot and name. Since 0.1.
#[derive(Clone, Debug, Default)]
pub(super) struct CreationOrder {
    /// Names by sequence number; `None` is a hole.
    names: Vec<Option<SnapName>>,
    /// Arena slots by sequence number (meaningless at a hole).
    idx: Vec<Idx>,
    holes: usize,
}

impl CreationOrder {
    /// Appends `idx` named `name`; returns its sequence number, greater
    /// than every other.
    pub(super) fn push(&mut self, idx: Idx, name: SnapName) -> usize {
        self.names.push(Some(name));
        self.idx.push(idx);
        self.names.len() - 1
    }

    /// Renames the entry `seq`.
    pub(super) fn rename(&mut self, seq: usize, name: SnapName) {
        if let Some(e @ Some(_)) = self.names.get_mut(seq) {
            *e = Some(name);
        }
    }

    /// Removes the entry `seq`. When holes become the majority the arrays
    /// are compacted and `renumber(idx, seq)` is called for every live
    /// entry whose sequence number changed (order is kept).
    pub(super) fn remove(&mut self, seq: usize, renumber: &mut dyn FnMut(Idx, usize)) {
        let Some(e) = self.names.get_mut(seq) else { return };
        if e.take().is_none() {
            return;
        }
        self.holes += 1;
        if self.holes * 2 > self.names.len() {
            self.compact(renumber);
        }
    }

    fn compact(&mut self, renumber: &mut dyn FnMut(Idx, usize)) {
        let mut w = 0;
        for r in 0..self.names.len() {
            if self.names[r].is_some() {
                if r != w {
                    self.names.swap(w, r);
                    self.idx[w] = self.idx[r];
                    renumber(self.idx[w], w);
                }
                w += 1;
            }
        }
        self.names.truncate(w);
        self.idx.truncate(w);
        self.holes = 0;
    }

    /// Live entries in creation order: arena slot and name.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Idx, &SnapName)> + '_ {
        self.names.iter().zip(&self.idx).filter_map(|(n, &i)| n.as_ref().map(|n| (i, n)))
    }

    /// Live names in creation order (reads the name array only).
    pub(super) fn names(&self) -> impl Iterator<Item = &SnapName> + '_ {
        self.names.iter().flatten()
    }

    /// Removes every entry.
    pub(super) fn clear(&mut self) {
        self.names = Vec::new();
        self.idx = Vec::new();
        self.holes = 0;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn holes_compact_in_order() {
        assert_eq!(std::mem::size_of::<Option<SnapName>>(), 16);
        let mut o = CreationOrder::default();
        let mut seqs: Vec<usize> = (0..10).map(|i| o.push(100 + i, SnapName::new(&format!("n{i}")))).collect();
        let mut renumbered = Vec::new();
        for s in [1, 3, 5, 7, 0] {
            o.remove(seqs[s], &mut |i, n| renumbered.push((i, n)));
        }
        assert!(renumbered.is_empty(), "5 holes of 10: no compaction");
        o.rename(seqs[9], SnapName::new("nine"));
        o.remove(seqs[2], &mut |i, n| renumbered.push((i, n)));
        assert_eq!(renumbered, [(104, 0), (106, 1), (108, 2), (109, 3)]);
        for (i, n) in renumbered {
            seqs[i - 100] = n;
        }
        let names: Vec<&str> = o.names().map(SnapName::as_str).collect();
        assert_eq!(names, ["n4", "n6", "n8", "nine"]);
        let pairs: Vec<(Idx, &str)> = o.iter().map(|(i, n)| (i, n.as_str())).collect();
        assert_eq!(pairs[3], (109, "nine"));
        assert_eq!(o.push(200, SnapName::new("new")), 4);
        o.remove(seqs[4], &mut |_, _| {});
        assert_eq!(o.names().count(), 4);
        o.clear();
        assert_eq!(o.iter().count(), 0);
    }
}

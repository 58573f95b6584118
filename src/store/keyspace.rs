//! [`Keyspace`]: every key's [`KeyHistory`], found by hash for point reads and writes and in key
//! order for ranges. The histories live in a slab that a hash map and an ordered map both point
//! into: a point lookup is one hash probe instead of a walk down a B-tree whose every
//! comparison chases a key pointer, and a range still walks keys in order.

use super::key_index::KeyHistory;
use super::types::{KeyRange, RangeEnd};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};

/// Where a key's history sits in the slab.
type Slot = usize;

#[derive(Debug, Default)]
pub(super) struct Keyspace {
    /// Key histories; `None` marks a slot free for reuse.
    histories: Vec<Option<KeyHistory>>,
    free: Vec<Slot>,
    by_hash: HashMap<Bytes, Slot>,
    in_order: BTreeMap<Bytes, Slot>,
}

impl Keyspace {
    pub fn get(&self, key: &[u8]) -> Option<&KeyHistory> {
        self.histories[*self.by_hash.get(key)?].as_ref()
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut KeyHistory> {
        self.histories[*self.by_hash.get(key)?].as_mut()
    }

    /// Makes room for `additional` more keys.
    pub fn reserve(&mut self, additional: usize) {
        self.by_hash.reserve(additional);
        self.histories.reserve(additional.saturating_sub(self.free.len()));
    }

    /// Adds a key that is not in the keyspace yet.
    pub fn insert(&mut self, key: Bytes, history: KeyHistory) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.histories[slot] = Some(history);
                slot
            }
            None => {
                self.histories.push(Some(history));
                self.histories.len() - 1
            }
        };
        self.in_order.insert(key.clone(), slot);
        let previous = self.by_hash.insert(key, slot);
        debug_assert!(previous.is_none(), "inserted a key twice");
    }

    pub fn remove(&mut self, key: &[u8]) {
        if let Some(slot) = self.by_hash.remove(key) {
            self.in_order.remove(key);
            self.histories[slot] = None;
            self.free.push(slot);
        }
    }

    /// The keys in `range`, in order, with their histories. A single key is looked up by hash
    /// and reported as the range's own `Bytes`, which the caller is likely to have in cache.
    pub fn range<'a>(&'a self, range: &'a KeyRange) -> impl Iterator<Item = (&'a Bytes, &'a KeyHistory)> + 'a {
        let (single, interval) = match range.end {
            RangeEnd::SingleKey => (self.get(&range.start).map(|history| (&range.start, history)), None),
            _ => (None, Some(self.in_order.range::<[u8], _>(range.bounds()))),
        };
        let in_order =
            interval.into_iter().flatten().filter_map(|(key, slot)| Some((key, self.histories[*slot].as_ref()?)));
        single.into_iter().chain(in_order)
    }

    /// Calls `visit` on each key in `range`, in order, with its history.
    pub fn for_each_in_range_mut(&mut self, range: &KeyRange, mut visit: impl FnMut(&Bytes, &mut KeyHistory)) {
        if range.end == RangeEnd::SingleKey {
            if let Some(history) = self.get_mut(&range.start) {
                visit(&range.start, history);
            }
            return;
        }
        for (key, slot) in self.in_order.range::<[u8], _>(range.bounds()) {
            if let Some(history) = self.histories[*slot].as_mut() {
                visit(key, history);
            }
        }
    }

    /// How many keys are held, deleted ones not yet compacted away included.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn clear(&mut self) {
        *self = Keyspace::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::Revision;

    fn history(revision: Revision) -> KeyHistory {
        KeyHistory::create(&Bytes::from_static(b"k"), revision, Bytes::from_static(b"v")).0
    }

    fn keys_in(keyspace: &Keyspace, range: &KeyRange) -> Vec<Bytes> {
        keyspace.range(range).map(|(key, _)| key.clone()).collect()
    }

    #[test]
    fn keys_are_found_by_hash_and_listed_in_order() {
        let mut keyspace = Keyspace::default();
        for (revision, key) in ["b", "a", "c/1", "c/0"].into_iter().enumerate() {
            keyspace.insert(Bytes::from_static(key.as_bytes()), history(revision as Revision + 2));
        }
        assert_eq!(keyspace.get(b"a").and_then(KeyHistory::live).map(|v| v.mod_revision), Some(3));
        assert!(keyspace.get(b"z").is_none());
        assert_eq!(
            keys_in(&keyspace, &KeyRange::prefix("c/")),
            vec![Bytes::from_static(b"c/0"), Bytes::from_static(b"c/1")]
        );
        assert_eq!(keys_in(&keyspace, &KeyRange::key("b")), vec![Bytes::from_static(b"b")]);
        let mut visited = Vec::new();
        keyspace.for_each_in_range_mut(&KeyRange::all(), |key, _| visited.push(key.clone()));
        assert_eq!(visited.len(), 4);
    }

    #[test]
    fn removed_slots_are_reused() {
        let mut keyspace = Keyspace::default();
        keyspace.insert(Bytes::from_static(b"a"), history(2));
        keyspace.insert(Bytes::from_static(b"b"), history(3));
        keyspace.remove(b"a");
        keyspace.remove(b"missing");
        assert_eq!(keyspace.len(), 1);
        keyspace.insert(Bytes::from_static(b"c"), history(4));
        assert_eq!(keyspace.histories.len(), 2, "the slot of a was reused");
        assert_eq!(keys_in(&keyspace, &KeyRange::all()), vec![Bytes::from_static(b"b"), Bytes::from_static(b"c")]);
        assert!(keyspace.get_mut(b"c").is_some());
    }
}

//! Per-key MVCC history, after etcd's `key_index.go`: a key lives through *generations*, each
//! running from the put that created the key to the delete that ended it, and each holding the
//! values that key had in between. Reads at any revision, writes that emit their own watch
//! [`Event`], and compaction of one key all live here; the map of all keys is `keyspace.rs`.
//!
//! ```text
//!  key "/registry/pods/default/web"                    (v = version, @ = mod_revision)
//!
//!  generation 0 (ended)  created 4 ── v1@4 ── v2@6 ── ✝@8        ✝ = tombstone (delete)
//!  generation 1 (live)   created 9 ── v1@9 ── v2@12 ── v3@15
//!
//!  read at 5 → v1@4     read at 8 → no key     read at 13 → v2@12     read at 20 → v3@15
//!
//!  compact(13): generation 0 ended at 8 ≤ 13, so it goes entirely; generation 1 keeps v2@12
//!  (the newest value at or below 13, still what a read at 13 sees) and everything after it:
//!
//!  generation 1 (live)   created 9 ── v2@12 ── v3@15
//! ```
//!
//! Once a key's last generation has ended at or below the compacted revision, nothing of it
//! is readable any more and the whole key is removed from the map.

use super::types::{Event, EventKind, KeyValue, Revision};
use bytes::Bytes;

/// One value a key held, from `mod_revision` until the next write.
#[derive(Debug, Clone)]
struct StoredValue {
    mod_revision: Revision,
    value: Bytes,
}

/// A key's life from creation to deletion.
#[derive(Debug)]
struct Generation {
    create_revision: Revision,
    /// The version of the oldest value held; above 1 once compaction has dropped older ones.
    first_version: i64,
    /// Superseded values that a read at or above the compacted revision may still see, oldest
    /// first. Usually empty, and then it holds no allocation.
    older: Vec<StoredValue>,
    /// The latest value, kept inline: it is what nearly every read wants.
    newest: StoredValue,
    /// The revision of the delete that ended this generation.
    deleted_at: Option<Revision>,
}

/// A borrowed view of one version of a key.
#[derive(Debug, Clone, Copy)]
pub(super) struct Version<'a> {
    pub create_revision: Revision,
    pub mod_revision: Revision,
    pub version: i64,
    pub value: &'a Bytes,
}

impl Version<'_> {
    pub fn to_key_value(self, key: &Bytes) -> KeyValue {
        KeyValue {
            key: key.clone(),
            value: self.value.clone(),
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
            version: self.version,
        }
    }
}

impl Generation {
    fn new(revision: Revision, value: Bytes) -> Self {
        Generation {
            create_revision: revision,
            first_version: 1,
            older: Vec::new(),
            newest: StoredValue { mod_revision: revision, value },
            deleted_at: None,
        }
    }

    fn is_live(&self) -> bool {
        self.deleted_at.is_none()
    }

    fn is_visible_at(&self, revision: Revision) -> bool {
        self.create_revision <= revision && self.deleted_at.is_none_or(|deleted| revision < deleted)
    }

    /// `stored`, which is the value `age` places after the oldest one held.
    fn view<'a>(&self, stored: &'a StoredValue, age: usize) -> Version<'a> {
        Version {
            create_revision: self.create_revision,
            mod_revision: stored.mod_revision,
            version: self.first_version + age as i64,
            value: &stored.value,
        }
    }

    fn newest(&self) -> Version<'_> {
        self.view(&self.newest, self.older.len())
    }

    /// The value at `revision`, which must be one where the generation is visible.
    fn at(&self, revision: Revision) -> Option<Version<'_>> {
        if self.newest.mod_revision <= revision {
            return Some(self.newest());
        }
        let after = self.older.partition_point(|stored| stored.mod_revision <= revision);
        after.checked_sub(1).map(|age| self.view(&self.older[age], age))
    }

    fn push(&mut self, revision: Revision, value: Bytes) {
        let superseded = std::mem::replace(&mut self.newest, StoredValue { mod_revision: revision, value });
        self.older.push(superseded);
    }

    /// Drops the values that no read at `revision` or later can see: all but the newest value
    /// at or below `revision`, and what came after it.
    fn compact(&mut self, revision: Revision) {
        let at_or_below = self.older.partition_point(|stored| stored.mod_revision <= revision);
        let unseen = if self.newest.mod_revision <= revision { at_or_below } else { at_or_below.saturating_sub(1) };
        if unseen == 0 {
            return;
        }
        self.first_version += unseen as i64;
        if unseen == self.older.len() {
            self.older = Vec::new();
        } else {
            self.older.drain(..unseen);
        }
    }
}

/// Every generation of one key that a read at or above the compacted revision may need.
#[derive(Debug)]
pub(super) struct KeyHistory {
    /// Generations that ended, oldest first; usually empty.
    ended: Vec<Generation>,
    /// The live generation, or the last one if the key is deleted now.
    latest: Generation,
}

impl KeyHistory {
    /// A key created at `revision`, with the event that created it.
    pub fn create(key: &Bytes, revision: Revision, value: Bytes) -> (Self, Event) {
        let history = KeyHistory { ended: Vec::new(), latest: Generation::new(revision, value) };
        let event = Event { kind: EventKind::Put, kv: history.latest.newest().to_key_value(key), prev_kv: None };
        (history, event)
    }

    /// The key's value now, unless it is deleted.
    pub fn live(&self) -> Option<Version<'_>> {
        self.latest.is_live().then(|| self.latest.newest())
    }

    /// The key's value as of `revision`, unless it did not exist then.
    pub fn at(&self, revision: Revision) -> Option<Version<'_>> {
        std::iter::once(&self.latest)
            .chain(self.ended.iter().rev())
            .find(|generation| generation.is_visible_at(revision))
            .and_then(|generation| generation.at(revision))
    }

    /// Writes `value` at `revision`, starting a new generation if the key is deleted.
    pub fn put(&mut self, key: &Bytes, revision: Revision, value: Bytes) -> Event {
        let prev_kv = self.live().map(|previous| previous.to_key_value(key));
        if self.latest.is_live() {
            self.latest.push(revision, value);
        } else {
            let ended = std::mem::replace(&mut self.latest, Generation::new(revision, value));
            self.ended.push(ended);
        }
        Event { kind: EventKind::Put, kv: self.latest.newest().to_key_value(key), prev_kv }
    }

    /// Ends the live generation at `revision`; `None` if the key is already deleted.
    pub fn delete(&mut self, key: &Bytes, revision: Revision) -> Option<Event> {
        let prev_kv = self.live()?.to_key_value(key);
        self.latest.deleted_at = Some(revision);
        let tombstone =
            KeyValue { key: key.clone(), value: Bytes::new(), create_revision: 0, mod_revision: revision, version: 0 };
        Some(Event { kind: EventKind::Delete, kv: tombstone, prev_kv: Some(prev_kv) })
    }

    /// Forgets what no read at `revision` or later can see. Returns `false` when nothing is
    /// left, so the caller removes the key.
    pub fn compact(&mut self, revision: Revision) -> bool {
        let ended_by = |generation: &Generation| generation.deleted_at.is_some_and(|deleted| deleted <= revision);
        if ended_by(&self.latest) {
            // Every earlier generation ended even sooner.
            return false;
        }
        self.ended.retain(|generation| !ended_by(generation));
        for generation in self.ended.iter_mut().chain(std::iter::once(&mut self.latest)) {
            generation.compact(revision);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Bytes {
        Bytes::from_static(b"/k")
    }

    fn value(text: &'static str) -> Bytes {
        Bytes::from_static(text.as_bytes())
    }

    /// The history drawn in the module docs.
    fn drawn_history() -> KeyHistory {
        let (mut history, _) = KeyHistory::create(&key(), 4, value("a"));
        history.put(&key(), 6, value("b"));
        history.delete(&key(), 8).expect("live");
        history.put(&key(), 9, value("c"));
        history.put(&key(), 12, value("d"));
        history.put(&key(), 15, value("e"));
        history
    }

    fn seen_at(history: &KeyHistory, revision: Revision) -> Option<(Revision, Revision, i64, Bytes)> {
        history.at(revision).map(|v| (v.create_revision, v.mod_revision, v.version, v.value.clone()))
    }

    #[test]
    fn reads_at_a_revision_follow_the_generations() {
        let history = drawn_history();
        assert_eq!(seen_at(&history, 3), None);
        assert_eq!(seen_at(&history, 5), Some((4, 4, 1, value("a"))));
        assert_eq!(seen_at(&history, 7), Some((4, 6, 2, value("b"))));
        assert_eq!(seen_at(&history, 8), None);
        assert_eq!(seen_at(&history, 9), Some((9, 9, 1, value("c"))));
        assert_eq!(seen_at(&history, 13), Some((9, 12, 2, value("d"))));
        assert_eq!(seen_at(&history, 20), Some((9, 15, 3, value("e"))));
        assert_eq!(history.live().map(|v| v.version), Some(3));
    }

    #[test]
    fn writes_report_events_with_the_previous_value() {
        let (mut history, created) = KeyHistory::create(&key(), 2, value("a"));
        assert_eq!((created.kind, created.kv.version, created.prev_kv), (EventKind::Put, 1, None));
        let updated = history.put(&key(), 3, value("b"));
        assert_eq!(updated.kv.create_revision, 2);
        assert_eq!(updated.prev_kv.map(|kv| kv.value), Some(value("a")));
        let deleted = history.delete(&key(), 4).expect("live");
        assert_eq!((deleted.kind, deleted.kv.mod_revision, deleted.kv.version), (EventKind::Delete, 4, 0));
        assert_eq!(deleted.prev_kv.map(|kv| kv.mod_revision), Some(3));
        assert!(history.delete(&key(), 5).is_none(), "a deleted key cannot be deleted again");
        let recreated = history.put(&key(), 6, value("c"));
        assert_eq!((recreated.kv.create_revision, recreated.kv.version, recreated.prev_kv), (6, 1, None));
    }

    #[test]
    fn compaction_keeps_what_reads_at_or_after_it_see() {
        let mut history = drawn_history();
        assert!(history.compact(13));
        assert!(history.ended.is_empty());
        assert_eq!(history.latest.older.len(), 1);
        for revision in 13..=20 {
            assert_eq!(seen_at(&history, revision), seen_at(&drawn_history(), revision), "at {revision}");
        }
        assert!(history.compact(15));
        assert_eq!(seen_at(&history, 15), Some((9, 15, 3, value("e"))));
    }

    #[test]
    fn compaction_past_the_last_tombstone_empties_the_key() {
        let (mut history, _) = KeyHistory::create(&key(), 2, value("a"));
        history.delete(&key(), 3).expect("live");
        assert!(history.compact(2), "a read at 2 still sees the key");
        assert_eq!(seen_at(&history, 2).map(|seen| seen.1), Some(2));
        assert!(!history.compact(3));
    }
}

//! The event history: one [`Batch`] per committed revision above the compacted one, oldest
//! first, with no gaps. Watchers replay and catch up from it, and compaction walks it to find
//! the keys whose old versions it may drop. Each batch builds its events once and shares them
//! (`Arc<EventBatch>`, which also carries the batch's wire encoding once a consumer makes it) with every watcher whose range covers all of them.

use super::types::{Event, EventBatch, KeyRange, Revision};
use std::cell::OnceCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

/// The events of one committed transaction.
#[derive(Debug)]
pub(super) struct Batch {
    pub revision: Revision,
    pub committed_at: SystemTime,
    /// In the order the transaction's operations wrote them, with `prev_kv` filled in.
    pub events: Arc<EventBatch>,
    /// The same events without `prev_kv`, built the first time a watcher needs them.
    without_prev_kv: OnceCell<Arc<EventBatch>>,
}

impl Batch {
    pub fn new(revision: Revision, committed_at: SystemTime, events: Vec<Event>) -> Self {
        Batch { revision, committed_at, events: Arc::new(events.into()), without_prev_kv: OnceCell::new() }
    }

    /// The events a watcher of `range` sees, sharing this batch's allocation when the range
    /// covers them all; `None` when it covers none.
    pub fn events_for(&self, range: &KeyRange, prev_kv: bool) -> Option<Arc<EventBatch>> {
        let matching = self.events.iter().filter(|event| range.contains(&event.kv.key)).count();
        if matching == 0 {
            return None;
        }
        if matching == self.events.len() {
            return Some(self.all_events(prev_kv));
        }
        let visible = self.events.iter().filter(|event| range.contains(&event.kv.key));
        Some(Arc::new(visible.map(|event| shown(event, prev_kv)).collect()))
    }

    fn all_events(&self, prev_kv: bool) -> Arc<EventBatch> {
        if prev_kv || self.events.iter().all(|event| event.prev_kv.is_none()) {
            return self.events.clone();
        }
        self.without_prev_kv
            .get_or_init(|| Arc::new(self.events.iter().map(|event| shown(event, false)).collect()))
            .clone()
    }
}

/// An event as a watcher with or without `prev_kv` sees it.
fn shown(event: &Event, prev_kv: bool) -> Event {
    Event { kind: event.kind, kv: event.kv.clone(), prev_kv: if prev_kv { event.prev_kv.clone() } else { None } }
}

/// Every revision after the compacted one, as batches.
#[derive(Debug, Default)]
pub(super) struct History {
    batches: VecDeque<Batch>,
}

impl History {
    /// Appends the next revision's batch.
    pub fn push(&mut self, batch: Batch) {
        debug_assert!(self.batches.back().is_none_or(|last| last.revision + 1 == batch.revision));
        self.batches.push_back(batch);
    }

    /// The batch committed at `revision`, if it is still held.
    pub fn get(&self, revision: Revision) -> Option<&Batch> {
        let first = self.batches.front()?.revision;
        let index = usize::try_from(revision.checked_sub(first)?).ok()?;
        self.batches.get(index)
    }

    /// Removes and returns the oldest batch if it is at or below `revision`.
    pub fn pop_through(&mut self, revision: Revision) -> Option<Batch> {
        if self.batches.front()?.revision > revision {
            return None;
        }
        self.batches.pop_front()
    }

    /// The newest revision committed at or before `cutoff`.
    pub fn newest_committed_by(&self, cutoff: SystemTime) -> Option<Revision> {
        self.batches.iter().take_while(|batch| batch.committed_at <= cutoff).last().map(|batch| batch.revision)
    }

    pub fn clear(&mut self) {
        self.batches.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::{EventKind, KeyValue};
    use bytes::Bytes;
    use std::time::{Duration, UNIX_EPOCH};

    fn kv(key: &'static str, revision: Revision) -> KeyValue {
        KeyValue {
            key: Bytes::from_static(key.as_bytes()),
            value: Bytes::new(),
            create_revision: 2,
            mod_revision: revision,
            version: 1,
        }
    }

    fn update(key: &'static str, revision: Revision) -> Event {
        Event { kind: EventKind::Put, kv: kv(key, revision), prev_kv: Some(kv(key, 2)) }
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn watchers_covering_a_whole_batch_share_its_events() {
        let batch = Batch::new(5, at(0), vec![update("/a/1", 5), update("/a/2", 5)]);
        let whole = batch.events_for(&KeyRange::prefix("/a/"), true).expect("covered");
        assert!(Arc::ptr_eq(&whole, &batch.events));
        let stripped = batch.events_for(&KeyRange::prefix("/a/"), false).expect("covered");
        assert!(stripped.iter().all(|event| event.prev_kv.is_none()));
        let stripped_again = batch.events_for(&KeyRange::all(), false).expect("covered");
        assert!(Arc::ptr_eq(&stripped, &stripped_again), "built once");
    }

    #[test]
    fn partially_covered_batches_are_filtered_in_order() {
        let batch = Batch::new(5, at(0), vec![update("/b", 5), update("/a", 5), update("/c", 5)]);
        let keys = |events: Arc<EventBatch>| events.iter().map(|event| event.kv.key.clone()).collect::<Vec<_>>();
        let outside_a = batch.events_for(&KeyRange::between("/b", "/d"), true).expect("some");
        assert_eq!(keys(outside_a), vec![Bytes::from_static(b"/b"), Bytes::from_static(b"/c")]);
        assert!(batch.events_for(&KeyRange::key("/z"), true).is_none());
    }

    #[test]
    fn batches_are_found_by_revision_and_aged_by_commit_time() {
        let mut history = History::default();
        for revision in 2..=5 {
            history.push(Batch::new(revision, at(revision as u64 * 10), vec![update("/a", revision)]));
        }
        assert_eq!(history.get(3).map(|batch| batch.revision), Some(3));
        assert!(history.get(1).is_none() && history.get(6).is_none());
        assert_eq!(history.newest_committed_by(at(35)), Some(3));
        assert_eq!(history.newest_committed_by(at(5)), None);
        assert_eq!(history.pop_through(3).map(|batch| batch.revision), Some(2));
        assert_eq!(history.pop_through(3).map(|batch| batch.revision), Some(3));
        assert!(history.pop_through(3).is_none());
        assert_eq!(history.get(4).map(|batch| batch.revision), Some(4));
    }
}

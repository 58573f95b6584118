//! [`Inner`]: everything the store's single lock guards (the key map, the revision counters,
//! the event history and the watcher registry) and the reads, transactions and compaction that
//! run on it. Methods take `&mut self` under the lock and never wait; a commit returns the
//! wakers of watchers with new events so the caller wakes them after unlocking.

use super::config::StoreConfig;
use super::error::StoreError;
use super::history::{Batch, History};
use super::key_index::{KeyHistory, Version};
use super::keyspace::Keyspace;
use super::txn::{OpResponse, Txn, TxnOp, TxnResponse};
use super::types::{Event, RangeRequest, RangeResponse, Revision};
use super::watch::WatchCancelReason;
use super::watchers::Watchers;
use bytes::Bytes;
use std::task::Waker;
use std::time::SystemTime;

/// The store's state, behind one `Mutex`.
#[derive(Debug)]
pub(super) struct Inner {
    keys: Keyspace,
    /// The last committed revision (1 for an empty store).
    pub revision: Revision,
    /// Reads below this revision, and watches at or below it, are refused.
    pub compacted: Revision,
    /// One batch per revision in `compacted + 1 ..= revision`.
    pub history: History,
    pub watchers: Watchers,
    pub config: StoreConfig,
    closed: bool,
}

impl Inner {
    pub fn new(config: StoreConfig) -> Self {
        Inner {
            keys: Keyspace::default(),
            revision: 1,
            compacted: 0,
            history: History::default(),
            watchers: Watchers::new(config.watcher_queue_capacity.max(1)),
            config,
            closed: false,
        }
    }

    pub fn ensure_open(&self) -> Result<(), StoreError> {
        if self.closed { Err(StoreError::Closed) } else { Ok(()) }
    }

    /// Whether a read at `revision` (0: now) can be served.
    fn check_readable(&self, revision: Revision) -> Result<(), StoreError> {
        match revision {
            requested if requested < 0 => Err(StoreError::NegativeRevision { requested }),
            0 => Ok(()),
            requested if requested > self.revision => {
                Err(StoreError::FutureRevision { requested, current: self.revision })
            }
            requested if requested < self.compacted => {
                Err(StoreError::Compacted { requested, compacted: self.compacted })
            }
            _ => Ok(()),
        }
    }

    pub fn range(&self, request: &RangeRequest) -> Result<RangeResponse, StoreError> {
        self.ensure_open()?;
        request.range.validate()?;
        self.check_readable(request.revision)?;
        Ok(self.read(request, self.revision))
    }

    /// Serves a checked read; `present` is the revision a request for revision 0 reads.
    fn read(&self, request: &RangeRequest, present: Revision) -> RangeResponse {
        let at = if request.revision == 0 { present } else { request.revision };
        let limit = if request.limit == 0 { usize::MAX } else { request.limit };
        let mut kvs = Vec::new();
        let mut count = 0;
        for (key, history) in self.keys.range(&request.range) {
            let Some(version) = history.at(at) else { continue };
            count += 1;
            if !request.count_only && kvs.len() < limit {
                let mut kv = version.to_key_value(key);
                if request.keys_only {
                    kv.value = Bytes::new();
                }
                kvs.push(kv);
            }
        }
        let more = !request.count_only && kvs.len() < count;
        RangeResponse { kvs, count, more, revision: present }
    }

    fn live(&self, key: &[u8]) -> Option<Version<'_>> {
        self.keys.get(key).and_then(KeyHistory::live)
    }

    /// Runs a transaction; if it wrote anything, commits it at the next revision and adds the
    /// wakers of watchers that now have events to `wakers`.
    pub fn txn(&mut self, txn: Txn, wakers: &mut Vec<Waker>) -> Result<TxnResponse, StoreError> {
        self.ensure_open()?;
        txn.validate()?;
        let succeeded = txn.compares.iter().all(|compare| compare.holds(self.live(&compare.key)));
        let ops = if succeeded { txn.success } else { txn.failure };
        for op in &ops {
            if let TxnOp::Range(request) = op {
                self.check_readable(request.revision)?;
            }
        }
        let commit_revision = self.revision + 1;
        let puts = ops.iter().filter(|op| matches!(op, TxnOp::Put { .. })).count();
        // A bulk load (a server's bootstrap objects) grows the keyspace once, not by doubling.
        self.keys.reserve(puts);
        let mut events = Vec::with_capacity(puts);
        let responses = ops.into_iter().map(|op| self.apply(op, commit_revision, &mut events)).collect();
        if !events.is_empty() {
            self.commit(events, wakers);
        }
        Ok(TxnResponse { succeeded, revision: self.revision, responses })
    }

    /// Applies one validated operation at `commit_revision`, recording the events it causes.
    fn apply(&mut self, op: TxnOp, commit_revision: Revision, events: &mut Vec<Event>) -> OpResponse {
        match op {
            TxnOp::Put { key, value, prev_kv } => {
                let event = self.put(key, value, commit_revision);
                let response = OpResponse::Put { prev_kv: prev_kv.then(|| event.prev_kv.clone()).flatten() };
                events.push(event);
                response
            }
            TxnOp::Delete { range, prev_kv } => {
                let first = events.len();
                self.keys
                    .for_each_in_range_mut(&range, |key, history| events.extend(history.delete(key, commit_revision)));
                let deleted = &events[first..];
                let prev_kvs = if prev_kv {
                    deleted.iter().filter_map(|event| event.prev_kv.clone()).collect()
                } else {
                    Vec::new()
                };
                OpResponse::Delete { deleted: deleted.len(), prev_kvs }
            }
            TxnOp::Range(request) => {
                let present = if events.is_empty() { self.revision } else { commit_revision };
                OpResponse::Range(self.read(&request, present))
            }
        }
    }

    fn put(&mut self, key: Bytes, value: Bytes, revision: Revision) -> Event {
        if let Some(history) = self.keys.get_mut(&key) {
            return history.put(&key, revision, value);
        }
        let (history, event) = KeyHistory::create(&key, revision, value);
        self.keys.insert(key, history);
        event
    }

    fn commit(&mut self, events: Vec<Event>, wakers: &mut Vec<Waker>) {
        self.revision += 1;
        let now = self.config.clock.now();
        let batch = Batch::new(self.revision, now, events);
        self.watchers.dispatch(&batch, wakers);
        self.history.push(batch);
        self.compact_to_window(now);
    }

    /// Compacts everything outside the configured history window. Called on every commit, so
    /// each call compacts about one revision: the cost is spread over the writes.
    fn compact_to_window(&mut self, now: SystemTime) {
        let by_count =
            self.config.history_revisions.map(|keep| self.revision - i64::try_from(keep).unwrap_or(i64::MAX));
        let by_age = self
            .config
            .history_max_age
            .and_then(|age| now.checked_sub(age))
            .and_then(|cutoff| self.history.newest_committed_by(cutoff));
        if let Some(target) = by_count.into_iter().chain(by_age).max()
            && target > self.compacted
        {
            self.compact_to(target);
        }
    }

    /// Compacts at `revision`: reads below it and watches at or below it are refused from now
    /// on, and only what reads at or after it can see is kept.
    pub fn compact(&mut self, revision: Revision) -> Result<(), StoreError> {
        self.ensure_open()?;
        match revision {
            requested if requested < 0 => Err(StoreError::NegativeRevision { requested }),
            requested if requested <= self.compacted => {
                Err(StoreError::Compacted { requested, compacted: self.compacted })
            }
            requested if requested > self.revision => {
                Err(StoreError::FutureRevision { requested, current: self.revision })
            }
            _ => {
                self.compact_to(revision);
                Ok(())
            }
        }
    }

    /// The history holds exactly the revisions above `compacted`, so the keys written in the
    /// batches it drops are the only ones with anything left to forget.
    fn compact_to(&mut self, revision: Revision) {
        while let Some(batch) = self.history.pop_through(revision) {
            for event in batch.events.iter() {
                let key = &event.kv.key[..];
                if let Some(history) = self.keys.get_mut(key)
                    && !history.compact(revision)
                {
                    self.keys.remove(key);
                }
            }
        }
        self.compacted = revision;
    }

    /// Ends every watch and frees the data; later calls fail with [`StoreError::Closed`].
    pub fn shutdown(&mut self, wakers: &mut Vec<Waker>) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.keys.clear();
        self.history.clear();
        self.watchers.end_all(WatchCancelReason::Shutdown, wakers);
    }

    /// How many keys the map holds, tombstoned ones included.
    pub fn key_entries(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::KeyRange;

    fn store() -> Inner {
        Inner::new(StoreConfig { history_revisions: None, ..StoreConfig::default() })
    }

    fn write(inner: &mut Inner, ops: Vec<TxnOp>) -> TxnResponse {
        inner.txn(Txn::unconditional(ops), &mut Vec::new()).expect("valid txn")
    }

    fn read(inner: &Inner, request: RangeRequest) -> Vec<(String, i64)> {
        let response = inner.range(&request).expect("readable");
        response.kvs.iter().map(|kv| (String::from_utf8_lossy(&kv.key).into_owned(), kv.version)).collect()
    }

    #[test]
    fn each_writing_txn_advances_the_revision_by_one() {
        let mut inner = store();
        assert_eq!(inner.revision, 1);
        let response = write(&mut inner, vec![TxnOp::put("a", "1"), TxnOp::put("b", "1")]);
        assert_eq!(response.revision, 2);
        let nothing = write(
            &mut inner,
            vec![TxnOp::delete(KeyRange::key("zz")), TxnOp::range(RangeRequest::new(KeyRange::all()))],
        );
        assert_eq!(nothing.revision, 2, "a txn that writes nothing does not advance the revision");
        assert_eq!(write(&mut inner, vec![TxnOp::delete(KeyRange::all())]).revision, 3);
        assert_eq!(inner.history.get(3).map(|batch| batch.events.len()), Some(2));
    }

    #[test]
    fn ranges_inside_a_txn_see_its_earlier_writes() {
        let mut inner = store();
        let response = write(
            &mut inner,
            vec![TxnOp::put("a", "1"), TxnOp::range(RangeRequest::new(KeyRange::all())), TxnOp::put("b", "2")],
        );
        let Some(OpResponse::Range(range)) = response.responses.get(1) else { panic!("range response") };
        assert_eq!((range.count, range.revision), (1, 2));
    }

    #[test]
    fn limits_count_and_keys_only_shape_the_response() {
        let mut inner = store();
        write(
            &mut inner,
            vec![TxnOp::put("p/a", "x"), TxnOp::put("p/b", "x"), TxnOp::put("p/c", "x"), TxnOp::put("q", "x")],
        );
        let limited = inner.range(&RangeRequest::new(KeyRange::prefix("p/")).with_limit(2)).expect("readable");
        assert_eq!((limited.kvs.len(), limited.count, limited.more), (2, 3, true));
        let counted = inner.range(&RangeRequest::new(KeyRange::prefix("p/")).with_count_only()).expect("readable");
        assert_eq!((counted.kvs.len(), counted.count, counted.more), (0, 3, false));
        let keys = inner.range(&RangeRequest::new(KeyRange::key("q")).with_keys_only()).expect("readable");
        assert_eq!((keys.kvs[0].value.len(), keys.kvs[0].mod_revision), (0, 2));
    }

    #[test]
    fn compaction_keeps_snapshots_at_and_after_it() {
        let mut inner = store();
        write(&mut inner, vec![TxnOp::put("a", "1")]); // 2
        write(&mut inner, vec![TxnOp::put("a", "2"), TxnOp::put("b", "1")]); // 3
        write(&mut inner, vec![TxnOp::delete(KeyRange::key("b"))]); // 4
        write(&mut inner, vec![TxnOp::put("a", "3")]); // 5
        let before: Vec<_> =
            (3..=5).map(|at| read(&inner, RangeRequest::new(KeyRange::all()).at_revision(at))).collect();
        inner.compact(3).expect("compactable");
        let after: Vec<_> =
            (3..=5).map(|at| read(&inner, RangeRequest::new(KeyRange::all()).at_revision(at))).collect();
        assert_eq!(before, after);
        assert_eq!(
            inner.range(&RangeRequest::new(KeyRange::all()).at_revision(2)),
            Err(StoreError::Compacted { requested: 2, compacted: 3 })
        );
        inner.compact(4).expect("compactable");
        assert_eq!(inner.key_entries(), 1, "b's tombstone is compacted away");
        assert_eq!(inner.compact(4), Err(StoreError::Compacted { requested: 4, compacted: 4 }));
        assert_eq!(inner.compact(6), Err(StoreError::FutureRevision { requested: 6, current: 5 }));
    }

    #[test]
    fn the_window_compacts_as_writes_arrive() {
        let mut inner = Inner::new(StoreConfig { history_revisions: Some(3), ..StoreConfig::default() });
        for _ in 0..10 {
            write(&mut inner, vec![TxnOp::put("a", "v")]);
        }
        assert_eq!((inner.revision, inner.compacted), (11, 8));
        assert!(inner.history.get(8).is_none() && inner.history.get(9).is_some());
        assert_eq!(read(&inner, RangeRequest::new(KeyRange::key("a")).at_revision(8)), vec![("a".to_string(), 7)]);
    }

    #[test]
    fn history_older_than_the_max_age_is_compacted_by_the_injected_clock() {
        let clock = std::sync::Arc::new(crate::clock::FixedClock::at_unix_seconds(1_000));
        let config = StoreConfig {
            history_revisions: None,
            history_max_age: Some(std::time::Duration::from_secs(60)),
            clock: clock.clone(),
            ..StoreConfig::default()
        };
        let mut inner = Inner::new(config);
        write(&mut inner, vec![TxnOp::put("a", "1")]); // 2, at 1000 s
        clock.advance(std::time::Duration::from_secs(30));
        write(&mut inner, vec![TxnOp::put("a", "2")]); // 3, at 1030 s
        assert_eq!(inner.compacted, 0);
        clock.advance(std::time::Duration::from_secs(40));
        write(&mut inner, vec![TxnOp::put("b", "1")]); // 4, at 1070 s: revision 2 is 70 s old
        assert_eq!(inner.compacted, 2);
        clock.advance(std::time::Duration::from_secs(3600));
        write(&mut inner, vec![TxnOp::put("b", "2")]);
        assert_eq!(inner.compacted, 4, "everything older than a minute");
    }

    #[test]
    fn a_closed_store_refuses_everything() {
        let mut inner = store();
        inner.shutdown(&mut Vec::new());
        assert_eq!(inner.range(&RangeRequest::new(KeyRange::all())), Err(StoreError::Closed));
        assert_eq!(inner.txn(Txn::default(), &mut Vec::new()), Err(StoreError::Closed));
        assert_eq!(inner.compact(1), Err(StoreError::Closed));
    }
}

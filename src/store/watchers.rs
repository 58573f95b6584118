//! The watcher registry, kept inside the store's lock (after etcd's `watchable_store.go`).
//! Each watcher is in one of three states:
//!
//! ```text
//!            register (start ≤ current)                 register (start = current + 1)
//!                    │                                              │
//!                    ▼      caught up to `current`, under the lock  ▼
//!   ┌──► Lagging { next_revision } ───────────────────────────► Synced ───┐
//!   │     writers skip it; its consumer                  writers queue each│
//!   │     replays history in chunks                      matching batch    │
//!   │                    │                                                 │
//!   │                    │ next_revision ≤ compacted           queue full  │
//!   └────────────────────┼─────────────────────────────────────────────────┘
//!                        ▼
//!          Ending(reason): queued responses, then one canceled response; also on shutdown
//! ```
//!
//! Writers only ever push onto a bounded queue or flip a flag, so a slow watcher never blocks
//! a write. Registration and the Lagging → Synced switch happen under the same lock as
//! commits, so every event is delivered exactly once, in revision order, one transaction per
//! response.

use super::error::StoreError;
use super::history::Batch;
use super::mvcc::Inner;
use super::types::{KeyRange, Revision};
use super::watch::{WatchCancelReason, WatchRequest, WatchResponse};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Poll, Waker};

/// Identifies a watcher within its store.
pub(super) type WatcherId = u64;

/// How many revisions a lagging watcher replays per lock hold.
const CATCH_UP_REVISIONS: Revision = 256;

#[derive(Debug, Clone, Copy)]
enum Delivery {
    /// Writers queue every matching batch for it.
    Synced,
    /// Writers skip it; it replays history from `next_revision` on.
    Lagging { next_revision: Revision },
    /// After the queued responses, it gets one canceled response.
    Ending(WatchCancelReason),
}

#[derive(Debug)]
struct Slot {
    range: KeyRange,
    prev_kv: bool,
    delivery: Delivery,
    /// Responses ready for the consumer, oldest first.
    queue: VecDeque<WatchResponse>,
    progress_requested: bool,
    /// The consumer's waker while it waits with nothing to take.
    waker: Option<Waker>,
    /// Set (under the lock) whenever the consumer is woken, cleared when it has taken
    /// everything and waits again: while it is clear, the consumer can tell without the lock
    /// that there is nothing to take (see [`Watchers::attention`]).
    attention: Arc<AtomicBool>,
}

impl Slot {
    /// The waker to wake after unlocking, if the consumer waits; it will look under the lock.
    fn wake(&mut self) -> Option<Waker> {
        self.attention.store(true, Ordering::Release);
        self.waker.take()
    }

    /// The consumer has taken everything and waits with `waker`.
    fn wait(&mut self, waker: &Waker) {
        if !self.waker.as_ref().is_some_and(|stored| stored.will_wake(waker)) {
            self.waker = Some(waker.clone());
        }
        self.attention.store(false, Ordering::Release);
    }
}

/// Every open watcher of one store.
#[derive(Debug)]
pub(super) struct Watchers {
    slots: HashMap<WatcherId, Slot>,
    next_id: WatcherId,
    queue_capacity: usize,
}

impl Watchers {
    pub fn new(queue_capacity: usize) -> Self {
        Watchers { slots: HashMap::new(), next_id: 0, queue_capacity }
    }

    fn insert(&mut self, range: KeyRange, prev_kv: bool, delivery: Delivery) -> WatcherId {
        let id = self.next_id;
        self.next_id += 1;
        let attention = Arc::new(AtomicBool::new(true));
        let slot = Slot {
            range,
            prev_kv,
            delivery,
            queue: VecDeque::new(),
            progress_requested: false,
            waker: None,
            attention,
        };
        self.slots.insert(id, slot);
        id
    }

    /// Queues a newly committed batch for every synced watcher it concerns, demoting those
    /// whose queue is full to lagging, and collects the wakers to wake after unlocking.
    pub fn dispatch(&mut self, batch: &Batch, wakers: &mut Vec<Waker>) {
        for slot in self.slots.values_mut() {
            if !matches!(slot.delivery, Delivery::Synced) {
                continue;
            }
            let Some(events) = batch.events_for(&slot.range, slot.prev_kv) else { continue };
            if slot.queue.len() >= self.queue_capacity {
                slot.delivery = Delivery::Lagging { next_revision: batch.revision };
            } else {
                slot.queue.push_back(WatchResponse::events(batch.revision, events));
            }
            wakers.extend(slot.wake());
        }
    }

    /// The flag that is clear while watcher `id` has taken everything and waits: its consumer
    /// may then skip the lock when polled again by the same task.
    pub fn attention(&self, id: WatcherId) -> Option<Arc<AtomicBool>> {
        self.slots.get(&id).map(|slot| slot.attention.clone())
    }

    /// Asks for a progress notification once the watcher is caught up; returns the waker to
    /// wake after unlocking.
    pub fn request_progress(&mut self, id: WatcherId) -> Option<Waker> {
        let slot = self.slots.get_mut(&id)?;
        slot.progress_requested = true;
        slot.wake()
    }

    pub fn remove(&mut self, id: WatcherId) {
        self.slots.remove(&id);
    }

    /// Ends every watcher after what it already has queued.
    pub fn end_all(&mut self, reason: WatchCancelReason, wakers: &mut Vec<Waker>) {
        for slot in self.slots.values_mut() {
            slot.delivery = Delivery::Ending(reason);
            wakers.extend(slot.wake());
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// How many watchers fell behind and replay history (etcd's "unsynced" watchers).
    pub fn lagging(&self) -> usize {
        self.slots.values().filter(|slot| matches!(slot.delivery, Delivery::Lagging { .. })).count()
    }
}

impl Inner {
    /// Registers a watcher: it is synced if it starts after the current revision, and otherwise
    /// replays history from its start, so nothing is missed or repeated.
    pub fn register_watcher(&mut self, request: &WatchRequest) -> Result<WatcherId, StoreError> {
        self.ensure_open()?;
        request.range.validate()?;
        let start = match request.start_revision {
            requested if requested < 0 => return Err(StoreError::NegativeRevision { requested }),
            0 => self.revision + 1,
            requested => requested,
        };
        if start <= self.compacted {
            return Err(StoreError::Compacted { requested: start, compacted: self.compacted });
        }
        if start > self.revision + 1 {
            return Err(StoreError::FutureRevision { requested: start, current: self.revision });
        }
        let delivery =
            if start > self.revision { Delivery::Synced } else { Delivery::Lagging { next_revision: start } };
        Ok(self.watchers.insert(request.range.clone(), request.prev_kv, delivery))
    }

    /// One bounded step of delivery for watcher `id`: moves ready responses into `out` (which
    /// the caller has emptied), or replays a chunk of history, or registers `waker` and returns
    /// `Pending` when there is nothing to deliver yet.
    pub fn poll_watcher(&mut self, id: WatcherId, out: &mut VecDeque<WatchResponse>, waker: &Waker) -> Poll<()> {
        let Some(slot) = self.watchers.slots.get_mut(&id) else {
            out.push_back(WatchResponse::canceled(self.revision, WatchCancelReason::Shutdown));
            return Poll::Ready(());
        };
        if !slot.queue.is_empty() {
            std::mem::swap(out, &mut slot.queue);
            if matches!(slot.delivery, Delivery::Synced) && !slot.progress_requested {
                // Nothing more until the next write: the consumer need not look again till then.
                slot.wait(waker);
            }
            return Poll::Ready(());
        }
        match slot.delivery {
            Delivery::Synced if slot.progress_requested => {
                slot.progress_requested = false;
                out.push_back(WatchResponse::progress(self.revision));
            }
            Delivery::Synced => {
                slot.wait(waker);
                return Poll::Pending;
            }
            Delivery::Lagging { next_revision } if next_revision <= self.compacted => {
                slot.delivery = Delivery::Ending(WatchCancelReason::Compacted { compact_revision: self.compacted });
            }
            Delivery::Lagging { next_revision } => {
                let last = self.revision.min(next_revision + CATCH_UP_REVISIONS - 1);
                for revision in next_revision..=last {
                    let batch = self.history.get(revision);
                    if let Some(events) = batch.and_then(|batch| batch.events_for(&slot.range, slot.prev_kv)) {
                        out.push_back(WatchResponse::events(revision, events));
                    }
                }
                slot.delivery = if last == self.revision {
                    Delivery::Synced
                } else {
                    Delivery::Lagging { next_revision: last + 1 }
                };
            }
            Delivery::Ending(reason) => {
                out.push_back(WatchResponse::canceled(self.revision, reason));
                self.watchers.slots.remove(&id);
            }
        }
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::config::StoreConfig;
    use crate::store::txn::{Txn, TxnOp};
    use std::task::Waker;

    fn store(queue_capacity: usize) -> Inner {
        Inner::new(StoreConfig {
            history_revisions: None,
            watcher_queue_capacity: queue_capacity,
            ..StoreConfig::default()
        })
    }

    fn put(inner: &mut Inner, key: &'static str) {
        inner.txn(Txn::unconditional(vec![TxnOp::put(key, "v")]), &mut Vec::new()).expect("valid");
    }

    /// Everything the watcher can take now, as (revision, event count, progress, canceled).
    fn drain(inner: &mut Inner, id: WatcherId) -> Vec<(Revision, usize, bool, bool)> {
        let mut taken = Vec::new();
        let mut out = VecDeque::new();
        while inner.poll_watcher(id, &mut out, Waker::noop()).is_ready() {
            let ended = out.iter().any(|response| response.canceled.is_some());
            taken.extend(out.drain(..).map(|r| (r.revision, r.events.len(), r.progress_notify, r.canceled.is_some())));
            if ended {
                break;
            }
        }
        taken
    }

    #[test]
    fn registration_replays_history_then_follows_writes() {
        let mut inner = store(8);
        put(&mut inner, "a"); // 2
        put(&mut inner, "b"); // 3
        let id = inner.register_watcher(&WatchRequest::new(KeyRange::all()).from_revision(3)).expect("valid");
        assert_eq!(drain(&mut inner, id), vec![(3, 1, false, false)]);
        put(&mut inner, "c");
        assert_eq!(drain(&mut inner, id), vec![(4, 1, false, false)]);
        assert_eq!(drain(&mut inner, id), vec![]);
    }

    #[test]
    fn a_full_queue_demotes_the_watcher_to_catch_up_from_history() {
        let mut inner = store(2);
        let id = inner.register_watcher(&WatchRequest::new(KeyRange::all())).expect("valid");
        for key in ["a", "b", "c", "d", "e"] {
            put(&mut inner, key);
        }
        assert!(matches!(inner.watchers.slots[&id].delivery, Delivery::Lagging { next_revision: 4 }));
        let revisions: Vec<Revision> = drain(&mut inner, id).into_iter().map(|taken| taken.0).collect();
        assert_eq!(revisions, vec![2, 3, 4, 5, 6]);
        assert!(matches!(inner.watchers.slots[&id].delivery, Delivery::Synced));
    }

    #[test]
    fn a_lagging_watcher_passed_by_compaction_is_canceled() {
        let mut inner = store(1);
        let id = inner.register_watcher(&WatchRequest::new(KeyRange::all())).expect("valid");
        for key in ["a", "b", "c"] {
            put(&mut inner, key);
        }
        inner.compact(4).expect("compactable");
        let expected_cancel = (4, 0, false, true);
        assert_eq!(drain(&mut inner, id), vec![(2, 1, false, false), expected_cancel]);
        assert_eq!(inner.watchers.len(), 0);
    }

    #[test]
    fn progress_waits_until_the_queue_is_drained() {
        let mut inner = store(8);
        let id = inner.register_watcher(&WatchRequest::new(KeyRange::prefix("x"))).expect("valid");
        put(&mut inner, "x1");
        put(&mut inner, "other");
        assert!(inner.watchers.request_progress(id).is_none(), "not waiting yet, so no waker");
        assert_eq!(drain(&mut inner, id), vec![(2, 1, false, false), (3, 0, true, false)]);
    }

    #[test]
    fn attention_is_clear_only_while_there_is_nothing_to_take() {
        let mut inner = store(8);
        let id = inner.register_watcher(&WatchRequest::new(KeyRange::all())).expect("valid");
        let attention = inner.watchers.attention(id).expect("registered");
        assert!(attention.load(Ordering::Acquire), "a new watcher looks under the lock first");
        assert_eq!(drain(&mut inner, id), vec![]);
        assert!(!attention.load(Ordering::Acquire));
        put(&mut inner, "a");
        assert!(attention.load(Ordering::Acquire), "a write for it asks it to look");
        let mut out = VecDeque::new();
        assert!(inner.poll_watcher(id, &mut out, Waker::noop()).is_ready());
        assert!(!attention.load(Ordering::Acquire), "it took the write and nothing else is due");
        assert!(inner.watchers.request_progress(id).is_some(), "the consumer waits, so it is woken");
        assert!(attention.load(Ordering::Acquire), "and a progress request asks it to look");
    }

    #[test]
    fn watch_revisions_are_checked() {
        let mut inner = store(8);
        put(&mut inner, "a");
        inner.compact(2).expect("compactable");
        let mut from =
            |revision| inner.register_watcher(&WatchRequest::new(KeyRange::all()).from_revision(revision)).map(|_| ());
        assert_eq!(from(2), Err(StoreError::Compacted { requested: 2, compacted: 2 }));
        assert_eq!(from(4), Err(StoreError::FutureRevision { requested: 4, current: 2 }));
        assert_eq!(from(-1), Err(StoreError::NegativeRevision { requested: -1 }));
        assert_eq!(from(3), Ok(()));
        let empty_key = inner.register_watcher(&WatchRequest::new(KeyRange::key("")));
        assert_eq!(empty_key, Err(StoreError::EmptyKey));
    }
}

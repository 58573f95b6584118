//! [`MemoryStore`]: the in-memory store's public handle. It owns the lock around [`Inner`],
//! wakes watchers only after releasing it, and shuts the store down (ending every watch) when
//! [`MemoryStore::shutdown`] is called or its last clone is dropped.

use super::config::StoreConfig;
use super::error::StoreError;
use super::mvcc::Inner;
use super::txn::{Txn, TxnResponse};
use super::types::{RangeRequest, RangeResponse, Revision};
use super::watch::{WatchRequest, Watcher, lock};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

/// An etcd-shaped MVCC key-value store in memory. Cheap to clone: clones share one store,
/// which shuts down when the last clone is dropped (watchers keep only their own state alive).
#[derive(Clone)]
pub struct MemoryStore {
    owner: Arc<Owner>,
}

/// Shuts the store down when the last [`MemoryStore`] clone goes.
struct Owner {
    inner: Arc<Mutex<Inner>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        shutdown(&self.inner);
    }
}

fn shutdown(inner: &Mutex<Inner>) {
    let mut wakers = Vec::new();
    lock(inner).shutdown(&mut wakers);
    wakers.into_iter().for_each(Waker::wake);
}

impl MemoryStore {
    pub fn new(config: StoreConfig) -> Self {
        MemoryStore { owner: Arc::new(Owner { inner: Arc::new(Mutex::new(Inner::new(config))) }) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.owner.inner)
    }

    /// The revision of the last committed write (1 for an empty store).
    pub fn current_revision(&self) -> Revision {
        self.lock().revision
    }

    /// Reads below this revision, and watches at or below it, fail with
    /// [`StoreError::Compacted`] (0 until the first compaction).
    pub fn compacted_revision(&self) -> Revision {
        self.lock().compacted
    }

    /// Reads a key, a prefix or an interval at a revision.
    pub fn range(&self, request: RangeRequest) -> Result<RangeResponse, StoreError> {
        self.lock().range(&request)
    }

    /// Runs a transaction atomically; the watchers it concerns are woken after the commit.
    pub fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError> {
        let mut wakers = Vec::new();
        let response = self.lock().txn(txn, &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
        response
    }

    /// Opens a watch. Its events start at `request.start_revision` and come in revision order,
    /// each exactly once, one transaction per response.
    pub fn watch(&self, request: WatchRequest) -> Result<Watcher, StoreError> {
        let mut inner = self.lock();
        let id = inner.register_watcher(&request)?;
        let attention = inner.watchers.attention(id).expect("just registered");
        let progress_interval = request.progress_interval.or(inner.config.progress_interval);
        drop(inner);
        Ok(Watcher::new(self.owner.inner.clone(), id, attention, progress_interval))
    }

    /// Compacts the history at `revision` (see [`StoreError::Compacted`] for what that refuses
    /// afterwards). The configured window also compacts automatically as writes arrive.
    pub fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.lock().compact(revision)
    }

    /// How many watches are open, and how many of them fell behind (their consumer did not keep
    /// up, so writers skip them and they replay history when next polled).
    pub fn watcher_counts(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.watchers.len(), inner.watchers.lagging())
    }

    /// Ends every watch (after what each already has queued) and frees the data. Later calls
    /// fail with [`StoreError::Closed`]. Dropping the last clone does the same.
    pub fn shutdown(&self) {
        shutdown(&self.owner.inner);
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryStore")
            .field("revision", &inner.revision)
            .field("compacted", &inner.compacted)
            .field("keys", &inner.key_entries())
            .field("watchers", &inner.watchers.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{KeyRange, TxnOp, WatchCancelReason};
    use futures_util::FutureExt;

    #[test]
    fn clones_share_one_store_and_the_last_drop_ends_watches() {
        let store = MemoryStore::new(StoreConfig::default());
        let clone = store.clone();
        let mut watcher = store.watch(WatchRequest::new(KeyRange::all())).expect("valid");
        clone.txn(Txn::unconditional(vec![TxnOp::put("a", "1")])).expect("valid");
        assert_eq!(store.current_revision(), 2);
        drop(store);
        assert!(watcher.next().now_or_never().is_some(), "the queued event");
        assert!(watcher.next().now_or_never().is_none(), "still open while a clone lives");
        drop(clone);
        let last = watcher.next().now_or_never().flatten().expect("a final response");
        assert_eq!(last.canceled, Some(WatchCancelReason::Shutdown));
        assert_eq!(watcher.next().now_or_never(), Some(None));
    }

    #[test]
    fn handles_move_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        fn assert_send<T: Send>() {}
        assert_send_sync::<MemoryStore>();
        assert_send::<crate::store::Watcher>();
    }

    #[test]
    fn debug_shows_the_counters() {
        let store = MemoryStore::new(StoreConfig::default());
        assert_eq!(format!("{store:?}"), "MemoryStore { revision: 1, compacted: 0, keys: 0, watchers: 0 }");
    }
}

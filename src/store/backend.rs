//! [`KeyValueBackend`]: the narrow, etcd-shaped surface the API server needs from storage
//! (as kine's `pkg/server` backend: get, list, count, create/update/delete by transaction,
//! watch, compact and the current revision), so that a real etcd can stand in for the
//! in-memory [`MemoryStore`] later. Dyn-compatible: use it as `Arc<dyn KeyValueBackend>`.

use super::error::StoreError;
use super::memory::MemoryStore;
use super::txn::{OpResponse, Txn, TxnOp, TxnResponse};
use super::types::{KeyRange, KeyValue, RangeRequest, RangeResponse, Revision};
use super::watch::{WatchRequest, WatchResponse, Watcher};
use bytes::Bytes;
use futures_util::Stream;

/// A watch stream from any backend.
pub trait WatchStream: Stream<Item = WatchResponse> + Send + Unpin {
    /// Asks for a progress notification once everything up to the current revision has been
    /// delivered.
    fn request_progress(&self);
}

impl WatchStream for Watcher {
    fn request_progress(&self) {
        Watcher::request_progress(self)
    }
}

/// Storage with etcd v3 semantics: one global revision, per-key create/mod revisions and
/// versions, compare-and-swap transactions, watches and compaction.
pub trait KeyValueBackend: Send + Sync {
    fn current_revision(&self) -> Revision;
    fn compacted_revision(&self) -> Revision;
    fn range(&self, request: RangeRequest) -> Result<RangeResponse, StoreError>;
    fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError>;
    fn watch(&self, request: WatchRequest) -> Result<Box<dyn WatchStream>, StoreError>;
    fn compact(&self, revision: Revision) -> Result<(), StoreError>;

    /// The key's current value.
    fn get(&self, key: Bytes) -> Result<Option<KeyValue>, StoreError> {
        Ok(self.range(RangeRequest::new(KeyRange::key(key)))?.kvs.pop())
    }

    /// How many keys `range` holds now.
    fn count(&self, range: KeyRange) -> Result<usize, StoreError> {
        Ok(self.range(RangeRequest::new(range).with_count_only())?.count)
    }

    /// Sets the key unconditionally; returns the revision of the write.
    fn put(&self, key: Bytes, value: Bytes) -> Result<Revision, StoreError> {
        Ok(self.txn(Txn::unconditional(vec![TxnOp::put(key, value)]))?.revision)
    }

    /// Deletes the key unconditionally; returns what it held, if it existed.
    fn delete(&self, key: Bytes) -> Result<Option<KeyValue>, StoreError> {
        let response = self.txn(Txn::unconditional(vec![TxnOp::delete(KeyRange::key(key)).with_prev_kv()]))?;
        Ok(response.responses.into_iter().find_map(|response| match response {
            OpResponse::Delete { mut prev_kvs, .. } => prev_kvs.pop(),
            _ => None,
        }))
    }
}

impl KeyValueBackend for MemoryStore {
    fn current_revision(&self) -> Revision {
        MemoryStore::current_revision(self)
    }

    fn compacted_revision(&self) -> Revision {
        MemoryStore::compacted_revision(self)
    }

    fn range(&self, request: RangeRequest) -> Result<RangeResponse, StoreError> {
        MemoryStore::range(self, request)
    }

    fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError> {
        MemoryStore::txn(self, txn)
    }

    fn watch(&self, request: WatchRequest) -> Result<Box<dyn WatchStream>, StoreError> {
        Ok(Box::new(MemoryStore::watch(self, request)?))
    }

    fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        MemoryStore::compact(self, revision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventKind, StoreConfig};
    use futures_util::StreamExt;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_conveniences_work_through_a_trait_object() {
        let backend: Arc<dyn KeyValueBackend> = Arc::new(MemoryStore::new(StoreConfig::default()));
        let mut watch = backend.watch(WatchRequest::new(KeyRange::prefix("/a/"))).expect("valid");
        assert_eq!(backend.put("/a/1".into(), "x".into()), Ok(2));
        assert_eq!(backend.get("/a/1".into()).expect("readable").map(|kv| kv.version), Some(1));
        assert_eq!(backend.count(KeyRange::prefix("/a/")), Ok(1));
        assert_eq!(backend.delete("/a/1".into()).expect("valid").map(|kv| kv.value), Some("x".into()));
        assert_eq!(backend.delete("/a/1".into()), Ok(None));
        assert_eq!(backend.current_revision(), 3);
        let kinds: Vec<EventKind> = watch.by_ref().take(2).map(|response| response.events[0].kind).collect().await;
        assert_eq!(kinds, vec![EventKind::Put, EventKind::Delete]);
        watch.request_progress();
        let progress = watch.next().await.expect("open");
        assert!(progress.progress_notify && progress.revision == 3);
        assert_eq!(backend.get(Bytes::new()), Err(StoreError::EmptyKey));
    }
}

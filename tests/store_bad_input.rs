//! Bad input to the store gives a typed `StoreError`, never a panic, and leaves the store as
//! it was.

use bytes::Bytes;
use kubetwin::store::{
    Compare, KeyRange, KeyValueBackend, MemoryStore, RangeRequest, Revision, StoreConfig, StoreError, Txn, TxnOp,
    WatchRequest,
};

fn store() -> MemoryStore {
    let store = MemoryStore::new(StoreConfig::default());
    for value in ["1", "2", "3", "4"] {
        store.put("/k".into(), Bytes::from(value)).expect("valid");
    }
    store.compact(3).expect("compactable");
    store
}

fn read_at(store: &MemoryStore, revision: Revision) -> Result<(), StoreError> {
    store.range(RangeRequest::new(KeyRange::prefix("/")).at_revision(revision)).map(|_| ())
}

fn watch_from(store: &MemoryStore, revision: Revision) -> Result<(), StoreError> {
    store.watch(WatchRequest::new(KeyRange::prefix("/")).from_revision(revision)).map(|_| ())
}

#[test]
fn empty_keys_are_refused_everywhere() {
    let store = store();
    assert_eq!(store.put(Bytes::new(), "v".into()), Err(StoreError::EmptyKey));
    assert_eq!(store.get(Bytes::new()), Err(StoreError::EmptyKey));
    assert_eq!(store.delete(Bytes::new()), Err(StoreError::EmptyKey));
    assert_eq!(store.range(RangeRequest::new(KeyRange::key(""))), Err(StoreError::EmptyKey));
    assert_eq!(store.watch(WatchRequest::new(KeyRange::key(""))).map(|_| ()), Err(StoreError::EmptyKey));
    let compare_on_nothing = Txn { compares: vec![Compare::version_equals("", 0)], ..Txn::default() };
    assert_eq!(store.txn(compare_on_nothing), Err(StoreError::EmptyKey));
    let bad_failure_branch = Txn { failure: vec![TxnOp::put("", "v")], ..Txn::default() };
    assert_eq!(store.txn(bad_failure_branch), Err(StoreError::EmptyKey), "both branches are checked up front");
    assert_eq!(store.current_revision(), 5);
}

#[test]
fn inverted_ranges_are_refused() {
    let store = store();
    let inverted = KeyRange::between("/z", "/a");
    let expected = Err(StoreError::InvalidRange { start: "/z".into(), end: "/a".into() });
    assert_eq!(store.range(RangeRequest::new(inverted.clone())).map(|_| ()), expected);
    assert_eq!(store.txn(Txn::unconditional(vec![TxnOp::delete(inverted.clone())])).map(|_| ()), expected);
    assert_eq!(store.watch(WatchRequest::new(inverted)).map(|_| ()), expected);
    assert!(store.range(RangeRequest::new(KeyRange::between("/a", "/a"))).expect("empty").kvs.is_empty());
}

#[test]
fn negative_revisions_are_refused() {
    let store = store();
    assert_eq!(read_at(&store, -1), Err(StoreError::NegativeRevision { requested: -1 }));
    assert_eq!(watch_from(&store, i64::MIN), Err(StoreError::NegativeRevision { requested: i64::MIN }));
    assert_eq!(store.compact(-5), Err(StoreError::NegativeRevision { requested: -5 }));
    let negative_read = TxnOp::range(RangeRequest::new(KeyRange::key("/k")).at_revision(-1));
    assert_eq!(store.txn(Txn::unconditional(vec![negative_read])), Err(StoreError::NegativeRevision { requested: -1 }));
}

#[test]
fn revisions_beyond_either_end_of_history_are_refused() {
    let store = store();
    let (current, compacted) = (store.current_revision(), store.compacted_revision());
    assert_eq!((current, compacted), (5, 3));
    assert_eq!(read_at(&store, 6), Err(StoreError::FutureRevision { requested: 6, current }));
    assert_eq!(read_at(&store, i64::MAX), Err(StoreError::FutureRevision { requested: i64::MAX, current }));
    assert_eq!(read_at(&store, 2), Err(StoreError::Compacted { requested: 2, compacted }));
    assert_eq!(read_at(&store, 3), Ok(()), "the compacted revision itself is still readable");
    assert_eq!(watch_from(&store, 3), Err(StoreError::Compacted { requested: 3, compacted }));
    assert_eq!(watch_from(&store, 4), Ok(()));
    assert_eq!(watch_from(&store, 6), Ok(()));
    assert_eq!(watch_from(&store, 7), Err(StoreError::FutureRevision { requested: 7, current }));
    assert_eq!(store.compact(3), Err(StoreError::Compacted { requested: 3, compacted }));
    assert_eq!(store.compact(6), Err(StoreError::FutureRevision { requested: 6, current }));
    let future_read = TxnOp::range(RangeRequest::new(KeyRange::key("/k")).at_revision(6));
    let txn = Txn::unconditional(vec![TxnOp::put("/other", "v"), future_read]);
    assert_eq!(store.txn(txn), Err(StoreError::FutureRevision { requested: 6, current }));
    assert_eq!(store.get("/other".into()), Ok(None), "a refused txn writes nothing");
}

#[test]
fn a_txn_writing_one_key_twice_is_refused() {
    let store = store();
    let twice = Txn::unconditional(vec![TxnOp::put("/a", "1"), TxnOp::put("/a", "2")]);
    assert_eq!(store.txn(twice), Err(StoreError::DuplicateKey { key: "/a".into() }));
    let put_then_delete = Txn::unconditional(vec![TxnOp::put("/a/1", "1"), TxnOp::delete(KeyRange::prefix("/a/"))]);
    assert_eq!(store.txn(put_then_delete), Err(StoreError::DuplicateKey { key: "/a/1".into() }));
    assert_eq!(store.current_revision(), 5);
}

#[test]
fn odd_configurations_do_not_panic() {
    let no_history = MemoryStore::new(StoreConfig {
        history_revisions: Some(0),
        watcher_queue_capacity: 0,
        ..StoreConfig::default()
    });
    let mut watcher = no_history.watch(WatchRequest::new(KeyRange::all())).expect("valid");
    for value in ["1", "2", "3"] {
        no_history.put("/k".into(), Bytes::from(value)).expect("valid");
    }
    assert_eq!(no_history.compacted_revision(), no_history.current_revision());
    assert_eq!(read_at(&no_history, 3), Err(StoreError::Compacted { requested: 3, compacted: 4 }));
    let first = futures_util::FutureExt::now_or_never(watcher.next()).flatten().expect("the one queued event");
    assert_eq!(first.revision, 2);
    let second = futures_util::FutureExt::now_or_never(watcher.next()).flatten().expect("the end");
    assert!(second.canceled.is_some(), "fell behind a history of zero revisions");
    let unbounded = MemoryStore::new(StoreConfig { history_revisions: Some(u64::MAX), ..StoreConfig::default() });
    assert_eq!(unbounded.put("/k".into(), "v".into()), Ok(2));
    assert_eq!(unbounded.range(RangeRequest::new(KeyRange::all()).with_limit(usize::MAX)).map(|r| r.count), Ok(1));
}

#[test]
fn errors_explain_themselves() {
    let error: Box<dyn std::error::Error> = Box::new(StoreError::Compacted { requested: 2, compacted: 3 });
    assert_eq!(error.to_string(), "required revision 2 has been compacted (compacted revision 3)");
    assert_eq!(StoreError::Closed.to_string(), "the store has been shut down");
}

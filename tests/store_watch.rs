//! Watch guarantees of the store, named as etcd's robustness suite names them
//! (`tests/robustness/validate/watch.go`): ordered, unique, atomic, reliable, resumable and
//! bookmarkable; checked one by one, then all at once under concurrent writers and 120
//! watchers, and for slow watchers that must never block a writer.

use bytes::Bytes;
use futures_util::FutureExt;
use kubetwin::store::{
    EventKind, KeyRange, KeyValueBackend, MemoryStore, OpResponse, Revision, StoreConfig, StoreError, Txn, TxnOp,
    WatchCancelReason, WatchRequest, WatchResponse, Watcher,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An event reduced to what the guarantees are about.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    revision: Revision,
    kind: EventKind,
    key: Bytes,
    value: Bytes,
}

/// One committed transaction as its writer saw it.
type Committed = (Revision, Vec<Seen>);

fn store_with(history_revisions: Option<u64>, queue_capacity: usize) -> MemoryStore {
    MemoryStore::new(StoreConfig {
        history_revisions,
        watcher_queue_capacity: queue_capacity,
        ..StoreConfig::default()
    })
}

/// Runs `ops` unconditionally and reports the events it committed, from the txn response.
fn commit(store: &MemoryStore, ops: Vec<TxnOp>) -> Committed {
    let written: Vec<(EventKind, Bytes, Bytes)> = ops
        .iter()
        .map(|op| match op {
            TxnOp::Put { key, value, .. } => (EventKind::Put, key.clone(), value.clone()),
            TxnOp::Delete { range, .. } => (EventKind::Delete, range.start.clone(), Bytes::new()),
            TxnOp::Range(_) => unreachable!("writes only"),
        })
        .collect();
    let ops = ops.into_iter().map(TxnOp::with_prev_kv).collect();
    let response = store.txn(Txn::unconditional(ops)).expect("valid txn");
    let revision = response.revision;
    let seen = written
        .into_iter()
        .zip(&response.responses)
        .filter(|(_, op)| !matches!(op, OpResponse::Delete { deleted: 0, .. }))
        .map(|((kind, key, value), _)| Seen { revision, kind, key, value })
        .collect();
    (revision, seen)
}

fn put(key: &str, value: &str) -> TxnOp {
    TxnOp::put(Bytes::copy_from_slice(key.as_bytes()), Bytes::copy_from_slice(value.as_bytes()))
}

fn delete(key: &str) -> TxnOp {
    TxnOp::delete(KeyRange::key(Bytes::copy_from_slice(key.as_bytes())))
}

/// What a watcher of `range` from `start` must receive: one response per transaction with
/// events in the range.
fn expected(history: &[Committed], range: &KeyRange, start: Revision) -> Vec<Committed> {
    history
        .iter()
        .filter(|(revision, _)| *revision >= start)
        .map(|(revision, events)| {
            (*revision, events.iter().filter(|seen| range.contains(&seen.key)).cloned().collect())
        })
        .filter(|(_, events): &Committed| !events.is_empty())
        .collect()
}

fn reduce(response: &WatchResponse) -> Committed {
    let seen = response
        .events
        .iter()
        .map(|event| Seen {
            revision: event.kv.mod_revision,
            kind: event.kind,
            key: event.kv.key.clone(),
            value: event.kv.value.clone(),
        })
        .collect();
    (response.revision, seen)
}

/// Everything the watcher has for us without waiting.
fn drain_now(watcher: &mut Watcher) -> Vec<WatchResponse> {
    std::iter::from_fn(|| watcher.next().now_or_never().flatten()).collect()
}

fn event_responses(responses: &[WatchResponse]) -> Vec<Committed> {
    responses.iter().filter(|response| !response.events.is_empty()).map(reduce).collect()
}

/// A small scripted history: creations, updates, a multi-key txn, deletes and re-creation.
fn scripted_history(store: &MemoryStore) -> Vec<Committed> {
    vec![
        commit(store, vec![put("/a/1", "v1")]),
        commit(store, vec![put("/a/2", "v1"), put("/b/1", "v1"), put("/a/3", "v1")]),
        commit(store, vec![put("/a/1", "v2")]),
        commit(store, vec![delete("/a/2"), put("/b/2", "v1")]),
        commit(store, vec![put("/a/2", "v3")]),
        commit(store, vec![delete("/a/1"), delete("/a/3"), delete("/b/1")]),
    ]
}

#[test]
fn ordered_events_arrive_in_revision_order_and_in_txn_order() {
    let store = store_with(None, 1024);
    let mut watcher = store.watch(WatchRequest::new(KeyRange::all())).expect("valid");
    let history = scripted_history(&store);
    let responses = event_responses(&drain_now(&mut watcher));
    let revisions: Vec<Revision> = responses.iter().map(|(revision, _)| *revision).collect();
    assert!(revisions.windows(2).all(|pair| pair[0] < pair[1]), "revisions {revisions:?}");
    assert_eq!(responses, history, "within a response, events keep the txn's operation order");
}

#[test]
fn unique_no_event_arrives_twice_even_when_replay_meets_live_writes() {
    let store = store_with(None, 4);
    scripted_history(&store);
    // Starts in the past (replay), then live writes overflow its queue (catch-up again).
    let mut watcher = store.watch(WatchRequest::new(KeyRange::all()).from_revision(2)).expect("valid");
    let first = drain_now(&mut watcher);
    for round in 0..20 {
        commit(&store, vec![put("/a/1", &format!("r{round}"))]);
    }
    let all: Vec<Committed> =
        event_responses(&first).into_iter().chain(event_responses(&drain_now(&mut watcher))).collect();
    let mut identities: Vec<(Revision, Bytes)> =
        all.iter().flat_map(|(_, events)| events.iter().map(|seen| (seen.revision, seen.key.clone()))).collect();
    let total = identities.len();
    identities.sort();
    identities.dedup();
    assert_eq!(identities.len(), total, "duplicated events");
    assert_eq!(total, 11 + 20);
}

#[test]
fn atomic_one_txn_arrives_as_one_response_with_all_its_events() {
    let store = store_with(None, 1024);
    let mut everything = store.watch(WatchRequest::new(KeyRange::all())).expect("valid");
    let mut only_a = store.watch(WatchRequest::new(KeyRange::prefix("/a/"))).expect("valid");
    let history = scripted_history(&store);
    for response in drain_now(&mut everything).iter().chain(&drain_now(&mut only_a)) {
        assert!(response.events.iter().all(|event| event.kv.mod_revision == response.revision));
    }
    let multi_key = store.watch(WatchRequest::new(KeyRange::prefix("/a/")).from_revision(3)).expect("valid");
    let mut multi_key = multi_key;
    let first = reduce(&drain_now(&mut multi_key)[0]);
    assert_eq!(first, expected(&history, &KeyRange::prefix("/a/"), 3)[0]);
    assert_eq!(first.1.len(), 2, "both /a/ keys of the three-key txn, together");
}

#[test]
fn reliable_every_committed_event_in_range_arrives() {
    let store = store_with(None, 2);
    let ranges = [KeyRange::all(), KeyRange::prefix("/a/"), KeyRange::key("/b/2"), KeyRange::between("/a/2", "/b/1")];
    let mut watchers: Vec<Watcher> =
        ranges.iter().map(|range| store.watch(WatchRequest::new(range.clone())).expect("valid")).collect();
    let mut history = scripted_history(&store);
    let mut delivered: Vec<Vec<WatchResponse>> = watchers.iter_mut().map(drain_now).collect();
    history.extend(scripted_history(&store));
    for (watcher, responses) in watchers.iter_mut().zip(&mut delivered) {
        responses.extend(drain_now(watcher));
    }
    for (range, responses) in ranges.iter().zip(&delivered) {
        assert_eq!(event_responses(responses), expected(&history, range, 2), "range {range:?}");
    }
}

#[test]
fn resumable_from_any_revision_above_the_compacted_one() {
    let store = store_with(None, 1024);
    let mut history = scripted_history(&store);
    history.extend(scripted_history(&store));
    store.compact(5).expect("compactable");
    let range = KeyRange::prefix("/a/");
    for start in 6..=store.current_revision() + 1 {
        let mut watcher = store.watch(WatchRequest::new(range.clone()).from_revision(start)).expect("resumable");
        assert_eq!(event_responses(&drain_now(&mut watcher)), expected(&history, &range, start), "from {start}");
    }
    let too_old = store.watch(WatchRequest::new(range).from_revision(5)).map(|_| ());
    assert_eq!(too_old, Err(StoreError::Compacted { requested: 5, compacted: 5 }));
}

#[test]
fn resumed_watches_carry_prev_kv_when_asked() {
    let store = store_with(None, 1024);
    scripted_history(&store);
    let mut watcher =
        store.watch(WatchRequest::new(KeyRange::key("/a/1")).from_revision(2).with_prev_kv()).expect("valid");
    let events: Vec<_> = drain_now(&mut watcher).iter().flat_map(|response| response.events.to_vec()).collect();
    let previous: Vec<Option<Bytes>> =
        events.iter().map(|event| event.prev_kv.as_ref().map(|kv| kv.value.clone())).collect();
    assert_eq!(previous, vec![None, Some("v1".into()), Some("v2".into())]);
    assert_eq!(events[2].kind, EventKind::Delete);
    assert_eq!(
        (events[2].kv.mod_revision, events[2].kv.version),
        (7, 0),
        "a delete's kv carries the deletion revision"
    );
}

#[tokio::test]
async fn bookmarkable_progress_comes_after_everything_up_to_its_revision() {
    // A queue of 2 makes the watcher fall behind and catch up from history first.
    let store = store_with(None, 2);
    let mut watcher = store.watch(WatchRequest::new(KeyRange::prefix("/a/"))).expect("valid");
    scripted_history(&store);
    watcher.request_progress();
    let mut last_event_revision = 0;
    let progress = loop {
        let response = watcher.next().await.expect("open");
        if response.progress_notify {
            break response;
        }
        last_event_revision = response.revision;
    };
    assert_eq!(progress.revision, store.current_revision());
    assert!(progress.events.is_empty() && last_event_revision == 7);
    let (later, _) = commit(&store, vec![put("/a/9", "v")]);
    assert!(watcher.next().await.expect("open").revision == later && later > progress.revision);
}

#[tokio::test]
async fn bookmarkable_periodic_progress_while_idle() {
    let store = store_with(None, 1024);
    let interval = Duration::from_millis(20);
    let mut watcher =
        store.watch(WatchRequest::new(KeyRange::prefix("/a/")).with_progress_interval(interval)).expect("valid");
    let started = Instant::now();
    let first = watcher.next().await.expect("open");
    assert!(first.progress_notify && first.revision == 1, "{first:?}");
    commit(&store, vec![put("/b/1", "outside the range")]);
    let second = watcher.next().await.expect("open");
    assert!(second.progress_notify && second.revision == 2, "{second:?}");
    assert!(started.elapsed() >= 2 * interval, "one notification per interval: {:?}", started.elapsed());
}

#[tokio::test]
async fn streams_end_on_shutdown_with_the_reason() {
    let store = store_with(None, 1024);
    let mut watcher = store.watch(WatchRequest::new(KeyRange::all())).expect("valid");
    let waiting = tokio::spawn(async move {
        let mut responses = Vec::new();
        while let Some(response) = watcher.next().await {
            responses.push(response);
        }
        responses
    });
    commit(&store, vec![put("/a", "1")]);
    tokio::task::yield_now().await;
    store.shutdown();
    let responses = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("ended").expect("no panic");
    assert_eq!(responses.last().and_then(|response| response.canceled), Some(WatchCancelReason::Shutdown));
    assert_eq!(event_responses(&responses).len(), 1, "queued events are delivered first");
    assert_eq!(store.put("/a".into(), "2".into()), Err(StoreError::Closed));
    assert_eq!(store.watch(WatchRequest::new(KeyRange::all())).map(|_| ()), Err(StoreError::Closed));
}

#[test]
fn values_are_shared_never_copied() {
    let store = store_with(None, 1024);
    let mut watchers: Vec<Watcher> = (0..3)
        .map(|_| store.watch(WatchRequest::new(KeyRange::prefix("/a/")).with_prev_kv()).expect("valid"))
        .collect();
    let value = Bytes::from(vec![7u8; 1024]);
    store.put("/a/1".into(), value.clone()).expect("valid");
    let responses: Vec<WatchResponse> = watchers.iter_mut().flat_map(drain_now).collect();
    assert_eq!(responses.len(), 3);
    assert!(responses.iter().all(|response| Arc::ptr_eq(&response.events, &responses[0].events)), "one Arc per txn");
    assert_eq!(responses[0].events[0].kv.value.as_ptr(), value.as_ptr(), "the written bytes themselves");
    let read = store.get("/a/1".into()).expect("readable").expect("present");
    assert_eq!(read.value.as_ptr(), value.as_ptr());
}

#[test]
fn dropping_a_watcher_unregisters_it() {
    let store = store_with(None, 1024);
    let watcher = store.watch(WatchRequest::new(KeyRange::all())).expect("valid");
    assert!(format!("{store:?}").contains("watchers: 1"));
    drop(watcher);
    assert!(format!("{store:?}").contains("watchers: 0"));
}

#[test]
fn a_slow_watcher_never_blocks_writers_and_catches_up_from_history() {
    let store = store_with(Some(10_000), 8);
    let mut slow = store.watch(WatchRequest::new(KeyRange::prefix("/a/"))).expect("valid");
    let (finished, history) = std::sync::mpsc::channel();
    let writer = store.clone();
    std::thread::spawn(move || {
        let history: Vec<Committed> =
            (0..3_000).map(|n| commit(&writer, vec![put(&format!("/a/{}", n % 50), "v")])).collect();
        finished.send(history).expect("test waiting");
    });
    let history = history.recv_timeout(Duration::from_secs(30)).expect("writers finish while the watcher sleeps");
    let responses = drain_now(&mut slow);
    assert!(responses.iter().all(|response| response.canceled.is_none()));
    assert_eq!(event_responses(&responses), expected(&history, &KeyRange::prefix("/a/"), 2));
}

#[test]
fn a_slow_watcher_passed_by_compaction_is_canceled_so_the_client_can_relist() {
    let store = store_with(Some(100), 8);
    let mut slow = store.watch(WatchRequest::new(KeyRange::prefix("/a/"))).expect("valid");
    let history: Vec<Committed> =
        (0..1_000).map(|n| commit(&store, vec![put(&format!("/a/{}", n % 10), "v")])).collect();
    let responses = drain_now(&mut slow);
    let (last, delivered) = responses.split_last().expect("responses");
    assert_eq!(last.canceled, Some(WatchCancelReason::Compacted { compact_revision: store.compacted_revision() }));
    assert_eq!(store.compacted_revision(), store.current_revision() - 100);
    assert_eq!(event_responses(delivered), history[..8].to_vec(), "what was queued before it fell behind");
    assert!(slow.next().now_or_never() == Some(None), "the stream has ended");
}

/// Four writer tasks, 120 watchers of different ranges opened before, during and after the
/// writes (some from past revisions); every watcher must see exactly its part of the committed
/// sequence, and progress notifications tell each when it has everything.
#[test]
fn every_watcher_sees_exactly_the_committed_sequence_under_concurrency() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let store = store_with(None, 16);
        let ranges: Vec<KeyRange> = (0..120)
            .map(|n| match n % 4 {
                0 => KeyRange::all(),
                1 => KeyRange::prefix(format!("/w{}/", n % 3)),
                2 => KeyRange::key(format!("/w{}/{}", n % 4, n % 7)),
                _ => KeyRange::between(format!("/w{}/", n % 4), format!("/w{}/5", n % 4)),
            })
            .collect();
        let (done_tx, done_rx) = tokio::sync::watch::channel(None::<Revision>);
        let spawn_watcher = |range: KeyRange, start: Revision| {
            let request =
                WatchRequest::new(range.clone()).from_revision(start).with_progress_interval(Duration::from_millis(5));
            let mut watcher = store.watch(request).expect("valid");
            let done_rx = done_rx.clone();
            tokio::spawn(async move {
                let mut responses = Vec::new();
                while let Some(response) = watcher.next().await {
                    let finished = *done_rx.borrow();
                    if response.progress_notify && finished.is_some_and(|last| response.revision >= last) {
                        break;
                    }
                    if !response.progress_notify {
                        responses.push(response);
                    }
                }
                (range, start, responses)
            })
        };
        // Before any write, "from now" (0) and "from the beginning" (1) both mean revision 2 on.
        let mut watcher_tasks: Vec<_> = ranges[..60]
            .iter()
            .enumerate()
            .map(|(n, range)| spawn_watcher(range.clone(), (n % 2) as Revision))
            .collect();
        let writers: Vec<_> = (0..4)
            .map(|writer| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut history = Vec::new();
                    for n in 0..250usize {
                        let key = |k: usize| format!("/w{writer}/{}", k % 7);
                        let ops = match n % 5 {
                            0 => {
                                vec![put(&key(n), &format!("{writer}-{n}")), put(&key(n + 1), &format!("{writer}-{n}"))]
                            }
                            1 => vec![delete(&key(n))],
                            _ => vec![put(&key(n), &format!("{writer}-{n}"))],
                        };
                        history.push(commit(&store, ops));
                        if n % 4 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                    history
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let midway = store.current_revision();
        for (n, range) in ranges[60..].iter().enumerate() {
            let start = if n % 2 == 0 { (midway - n as i64).max(1) } else { store.current_revision() + 1 };
            watcher_tasks.push(spawn_watcher(range.clone(), start));
        }
        let mut history = Vec::new();
        for writer in writers {
            history.extend(writer.await.expect("writer"));
        }
        history.sort_by_key(|(revision, _)| *revision);
        history.retain(|(_, events)| !events.is_empty());
        let last = store.current_revision();
        assert_eq!(history.len() as i64, last - 1, "every writing txn got its own revision");
        done_tx.send(Some(last)).expect("watchers listen");
        for task in watcher_tasks {
            let (range, start, responses) =
                tokio::time::timeout(Duration::from_secs(20), task).await.expect("finished").expect("no panic");
            let start = start.max(2);
            assert!(responses.iter().all(|response| response.canceled.is_none()));
            assert_eq!(event_responses(&responses), expected(&history, &range, start), "range {range:?} from {start}");
        }
    });
}

#[test]
fn the_watch_example_via_the_backend_trait() {
    let store: Arc<dyn KeyValueBackend> = Arc::new(store_with(None, 1024));
    let mut watch = store.watch(WatchRequest::new(KeyRange::prefix("/x/"))).expect("valid");
    store.put("/x/1".into(), "1".into()).expect("valid");
    let response = futures_util::StreamExt::next(&mut watch).now_or_never().flatten().expect("event");
    assert_eq!(response.events[0].kv.key, Bytes::from_static(b"/x/1"));
}

//! Property tests of the watch guarantees controllers build on, over HTTPS through kube-rs, with
//! several writers creating, updating (merge patches and PUTs, some of them no-ops) and deleting
//! ConfigMaps at the same time: a raw watch sees each write exactly once, in resourceVersion
//! order, with the content that was written (ordered, unique, atomic); a watch resumed from any
//! resourceVersion in the window yields exactly the suffix of that sequence; and a kube-rs
//! `watcher` whose stream is restarted, or which relists after a 410, converges to exactly what
//! a final LIST returns. Deterministic tests cover selector transitions (ADDED when an object
//! starts matching, DELETED with its last matching state when it stops) and streaming lists
//! (ADDED events, then a BOOKMARK annotated `k8s.io/initial-events-end`).

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use kubetwin_harness::TestServer;
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);
/// Created after every writer has finished: once a watch shows it, it has shown everything.
const SENTINEL: &str = "sentinel";
/// Objects each writer owns (`w{writer}-{slot}`), so its writes to one object are sequential.
const SLOTS: usize = 3;

#[derive(Debug, Clone, Copy)]
enum Step {
    /// Creates the slot's object, or sets its value with a merge patch or a PUT.
    Touch {
        slot: usize,
        value: u8,
        put: bool,
    },
    Delete {
        slot: usize,
    },
}

/// A watch event reduced to what the properties compare; a deletion's revision is only known
/// from the watch, so writers expect `rv: None` for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    kind: &'static str,
    name: String,
    rv: Option<u64>,
    value: String,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (0..SLOTS, 0..3u8, any::<bool>()).prop_map(|(slot, value, put)| Step::Touch { slot, value, put }),
        1 => (0..SLOTS).prop_map(|slot| Step::Delete { slot }),
    ];
    prop::collection::vec(step, 1..24)
}

fn plan() -> impl Strategy<Value = Vec<Vec<Step>>> {
    prop::collection::vec(steps(), 2..=4)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn configmap(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": value}})).unwrap()
}

fn rv(object: &ConfigMap) -> u64 {
    object.metadata.resource_version.as_deref().unwrap_or_default().parse().expect("a numeric resourceVersion")
}

fn value(object: &ConfigMap) -> String {
    object.data.as_ref().and_then(|data| data.get("v")).cloned().unwrap_or_default()
}

fn name(object: &ConfigMap) -> String {
    object.metadata.name.clone().unwrap_or_default()
}

/// Runs one writer's steps and returns the changes a watch must show for them.
async fn write(api: Api<ConfigMap>, writer: usize, steps: Vec<Step>) -> Vec<Change> {
    let mut current: [Option<ConfigMap>; SLOTS] = Default::default();
    let mut changes = Vec::new();
    for step in steps {
        match step {
            Step::Touch { slot, value: v, put } => {
                let name = format!("w{writer}-{slot}");
                let v = v.to_string();
                let (kind, written, before) = match current[slot].take() {
                    None => ("ADDED", api.create(&PostParams::default(), &configmap(&name, &v)).await.unwrap(), None),
                    Some(mut existing) if put => {
                        let before = (rv(&existing), value(&existing));
                        existing.data = Some(BTreeMap::from([("v".to_string(), v.clone())]));
                        ("MODIFIED", api.replace(&name, &PostParams::default(), &existing).await.unwrap(), Some(before))
                    }
                    Some(existing) => {
                        let patch = json!({"data": {"v": v}});
                        let patched = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
                        ("MODIFIED", patched, Some((rv(&existing), value(&existing))))
                    }
                };
                assert_eq!(value(&written), v, "the write answers with what was written");
                match before {
                    // A write that changes nothing is no write: no new resourceVersion, no event.
                    Some((old_rv, old_value)) if old_value == v => {
                        assert_eq!(rv(&written), old_rv, "a no-op write of {name} got a new resourceVersion")
                    }
                    _ => changes.push(Change { kind, name, rv: Some(rv(&written)), value: v }),
                }
                current[slot] = Some(written);
            }
            Step::Delete { slot } => {
                let Some(existing) = current[slot].take() else { continue };
                let name = name(&existing);
                api.delete(&name, &DeleteParams::default()).await.unwrap();
                changes.push(Change { kind: "DELETED", name, rv: None, value: value(&existing) });
            }
        }
    }
    changes
}

/// Runs every writer at once; returns each one's expected changes and the sentinel's revision.
async fn run_writers(api: &Api<ConfigMap>, plan: Vec<Vec<Step>>) -> (Vec<Change>, u64) {
    let writers: Vec<_> =
        plan.into_iter().enumerate().map(|(n, steps)| tokio::spawn(write(api.clone(), n, steps))).collect();
    let mut expected = Vec::new();
    for writer in writers {
        expected.extend(writer.await.unwrap());
    }
    let sentinel = api.create(&PostParams::default(), &configmap(SENTINEL, "end")).await.unwrap();
    (expected, rv(&sentinel))
}

fn change(event: WatchEvent<ConfigMap>) -> Option<Change> {
    let (kind, object) = match event {
        WatchEvent::Added(object) => ("ADDED", object),
        WatchEvent::Modified(object) => ("MODIFIED", object),
        WatchEvent::Deleted(object) => ("DELETED", object),
        WatchEvent::Bookmark(_) => return None,
        WatchEvent::Error(status) => panic!("unexpected ERROR event: {status:?}"),
    };
    Some(Change { kind, name: name(&object), rv: Some(rv(&object)), value: value(&object) })
}

/// Reads a watch until the sentinel's ADDED event; returns what came before it and its revision.
async fn read_until_sentinel(stream: impl Stream<Item = kube::Result<WatchEvent<ConfigMap>>>) -> (Vec<Change>, u64) {
    let mut stream = std::pin::pin!(stream);
    let mut seen = Vec::new();
    loop {
        let next = tokio::time::timeout(WAIT, stream.next()).await.expect("the next event in time");
        let Some(change) = change(next.expect("the watch goes on").expect("a decodable event")) else { continue };
        if change.name == SENTINEL {
            assert_eq!(change.kind, "ADDED");
            return (seen, change.rv.unwrap_or_default());
        }
        seen.push(change);
    }
}

/// Ordered and unique (strictly increasing revisions), and each write exactly once, with its
/// content, in each object's write order.
fn check_sequence(expected: &[Change], seen: &[Change]) {
    for pair in seen.windows(2) {
        assert!(pair[0].rv < pair[1].rv, "out of order or repeated: {:?} then {:?}", pair[0], pair[1]);
    }
    let mut wanted: BTreeMap<&str, Vec<Change>> = BTreeMap::new();
    for change in expected {
        wanted.entry(&change.name).or_default().push(change.clone());
    }
    let mut got: BTreeMap<&str, Vec<Change>> = BTreeMap::new();
    for change in seen {
        let rv = if change.kind == "DELETED" { None } else { change.rv };
        got.entry(&change.name).or_default().push(Change { rv, ..change.clone() });
    }
    assert_eq!(got, wanted);
}

async fn ordered_unique_and_resumable(plan: Vec<Vec<Step>>, resume_points: Vec<f64>) {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let listed = api.list(&ListParams::default()).await.unwrap();
    let start: u64 = listed.metadata.resource_version.unwrap().parse().unwrap();
    let stream = api.watch(&WatchParams::default(), &start.to_string()).await.unwrap().boxed();
    let reader = tokio::spawn(read_until_sentinel(stream));
    let (expected, sentinel_rv) = run_writers(&api, plan).await;
    let (seen, last) = reader.await.unwrap();
    assert_eq!(last, sentinel_rv);
    check_sequence(&expected, &seen);

    let window = sentinel_rv - 1 - start;
    let points = [0.0, 1.0].into_iter().chain(resume_points);
    for from in points.map(|point| start + (window as f64 * point) as u64) {
        let stream = api.watch(&WatchParams::default(), &from.to_string()).await.unwrap();
        let (resumed, last) = read_until_sentinel(stream).await;
        let suffix: Vec<Change> = seen.iter().filter(|c| c.rv.unwrap_or_default() > from).cloned().collect();
        assert_eq!(last, sentinel_rv);
        assert_eq!(resumed, suffix, "resumed from {from}");
    }
}

/// What a watcher's cache holds: name → (resourceVersion, value).
type State = BTreeMap<String, (u64, String)>;

fn state_of(objects: &[ConfigMap]) -> State {
    objects.iter().map(|o| (name(o), (rv(o), value(o)))).collect()
}

/// Follows a kube-rs watcher as a reflector would, starting it over after each of `restarts`
/// events; returns its state once that holds the sentinel, and how many (re)lists it did.
async fn follow(api: Api<ConfigMap>, config: watcher::Config, restarts: Vec<usize>) -> (State, usize) {
    let mut state = State::new();
    let mut lists = 0;
    let mut restarts = restarts.into_iter();
    let mut restart_after = restarts.next();
    'restart: loop {
        let mut stream = watcher(api.clone(), config.clone()).boxed();
        let mut listing: Option<State> = None;
        let mut events = 0;
        loop {
            let next = tokio::time::timeout(WAIT, stream.next()).await.expect("the next event in time");
            match next.expect("the watcher goes on").expect("no watcher error") {
                watcher::Event::Init => {
                    lists += 1;
                    listing = Some(State::new());
                }
                watcher::Event::InitApply(o) => {
                    listing.as_mut().expect("inside a listing").insert(name(&o), (rv(&o), value(&o)));
                }
                watcher::Event::InitDone => state = listing.take().expect("inside a listing"),
                watcher::Event::Apply(o) => {
                    state.insert(name(&o), (rv(&o), value(&o)));
                }
                watcher::Event::Delete(o) => {
                    state.remove(&name(&o));
                }
            }
            if listing.is_none() && state.contains_key(SENTINEL) {
                return (state, lists);
            }
            events += 1;
            if Some(events) == restart_after {
                restart_after = restarts.next();
                continue 'restart;
            }
        }
    }
}

async fn restarted_watcher_converges(plan: Vec<Vec<Step>>, restarts: Vec<usize>, streaming: bool) {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let config = if streaming { watcher::Config::default().streaming_lists() } else { watcher::Config::default() };
    let follower = tokio::spawn(follow(api.clone(), config, restarts));
    run_writers(&api, plan).await;
    let (state, lists) = follower.await.unwrap();
    assert!(lists >= 1);
    let listed = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(state, state_of(&listed.items), "after {lists} lists");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_watch_sees_each_write_once_in_order_and_resumes_anywhere(
        plan in plan(),
        resume_points in prop::collection::vec(0.0..1.0f64, 3),
    ) {
        runtime().block_on(ordered_unique_and_resumable(plan, resume_points));
    }

    #[test]
    fn a_restarted_watcher_converges_to_the_final_list(
        plan in plan(),
        restarts in prop::collection::vec(1..8usize, 0..4),
        streaming in any::<bool>(),
    ) {
        runtime().block_on(restarted_watcher_converges(plan, restarts, streaming));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_relists_after_a_410_and_loses_nothing() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    api.create(&PostParams::default(), &configmap("kept", "0")).await.unwrap();
    api.create(&PostParams::default(), &configmap("dropped", "0")).await.unwrap();
    // Server-side watch timeout of 1s: the stream ends and the watcher resumes from the last
    // resourceVersion it saw.
    let mut stream = watcher(api.clone(), watcher::Config::default().timeout(1)).boxed();
    let mut state = State::new();
    let mut listing: Option<State> = None;
    let mut gone = Vec::new();
    let mut lists = 0;
    let mut apply = |event: watcher::Event<ConfigMap>, state: &mut State, listing: &mut Option<State>| match event {
        watcher::Event::Init => {
            lists += 1;
            *listing = Some(State::new());
        }
        watcher::Event::InitApply(o) => {
            listing.as_mut().unwrap().insert(name(&o), (rv(&o), value(&o)));
        }
        watcher::Event::InitDone => *state = listing.take().unwrap(),
        watcher::Event::Apply(o) => {
            state.insert(name(&o), (rv(&o), value(&o)));
        }
        watcher::Event::Delete(o) => {
            state.remove(&name(&o));
        }
    };
    let next = async |stream: &mut futures::stream::BoxStream<'_, watcher::Result<watcher::Event<ConfigMap>>>| {
        tokio::time::timeout(WAIT, stream.next()).await.expect("the next event in time").expect("goes on")
    };

    // Synced, and watching: the watch request goes out when the listing is done.
    while !state.contains_key("dropped") || listing.is_some() {
        apply(next(&mut stream).await.unwrap(), &mut state, &mut listing);
    }
    api.create(&PostParams::default(), &configmap("watched", "0")).await.unwrap();
    while !state.contains_key("watched") {
        apply(next(&mut stream).await.unwrap(), &mut state, &mut listing);
    }

    // The watch ends while nobody reads it; then more writes, and compaction past all of them.
    let patch = json!({"data": {"v": "1"}});
    api.patch("kept", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    api.delete("dropped", &DeleteParams::default()).await.unwrap();
    api.create(&PostParams::default(), &configmap("late", "0")).await.unwrap();
    api.create(&PostParams::default(), &configmap(SENTINEL, "end")).await.unwrap();
    let store = &twin.server().instance().store;
    store.compact(store.current_revision()).unwrap();

    while !state.contains_key(SENTINEL) || listing.is_some() {
        match next(&mut stream).await {
            Ok(event) => apply(event, &mut state, &mut listing),
            Err(watcher::Error::WatchError(status)) => gone.push((status.code, status.reason.clone())),
            Err(other) => panic!("unexpected watcher error: {other:?}"),
        }
    }
    assert_eq!(gone, [(410, "Expired".to_string())], "the resumed watch was too old");
    assert_eq!(lists, 2, "one list, then one relist");
    let listed = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(state, state_of(&listed.items));
    assert_eq!(state.get("kept").map(|(_, v)| v.as_str()), Some("1"));
    assert!(!state.contains_key("dropped"));
}

fn labelled(name: &str, tier: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"tier": tier}}, "data": {"v": value}})).unwrap()
}

#[tokio::test]
async fn selector_watches_see_objects_enter_as_added_and_leave_as_deleted() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let start = api.create(&PostParams::default(), &labelled("mover", "back", "0")).await.unwrap();
    let params = WatchParams::default().labels("tier=front");
    let mut events = api.watch(&params, &rv(&start).to_string()).await.unwrap().boxed();

    let set = |tier: &str, v: &str| json!({"metadata": {"labels": {"tier": tier}}, "data": {"v": v}});
    let patch = |body: serde_json::Value| {
        let api = api.clone();
        async move { rv(&api.patch("mover", &PatchParams::default(), &Patch::Merge(&body)).await.unwrap()) }
    };
    let unseen = patch(set("back", "1")).await;
    let entered = patch(set("front", "2")).await;
    let changed = patch(set("front", "3")).await;
    let left = patch(set("back", "4")).await;
    let unseen_again = patch(set("back", "5")).await;
    let returned = patch(set("front", "6")).await;
    api.delete("mover", &DeleteParams::default()).await.unwrap();
    api.create(&PostParams::default(), &labelled(SENTINEL, "front", "end")).await.unwrap();

    let (seen, _) = read_until_sentinel(&mut events).await;
    let at = |kind: &'static str, rv: u64, value: &str| Change {
        kind,
        name: "mover".into(),
        rv: Some(rv),
        value: value.into(),
    };
    let deleted_rv = seen.last().and_then(|c| c.rv).unwrap_or_default();
    assert!(deleted_rv > returned, "{seen:?}");
    assert_eq!(
        seen,
        [
            at("ADDED", entered, "2"),
            at("MODIFIED", changed, "3"),
            // Leaving the selection: the last state that matched, at the revision of the change.
            at("DELETED", left, "3"),
            at("ADDED", returned, "6"),
            at("DELETED", deleted_rv, "6"),
        ]
    );
    assert!(unseen < entered && left < unseen_again && unseen_again < returned);
}

#[tokio::test]
async fn a_deleted_event_for_a_selector_change_carries_the_matching_labels() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let start = api.create(&PostParams::default(), &labelled("mover", "front", "0")).await.unwrap();
    let params = WatchParams::default().labels("tier=front");
    let mut events = api.watch(&params, &rv(&start).to_string()).await.unwrap().boxed();
    let body = json!({"metadata": {"labels": {"tier": "back"}}});
    let moved = api.patch("mover", &PatchParams::default(), &Patch::Merge(&body)).await.unwrap();
    let event = tokio::time::timeout(WAIT, events.next()).await.unwrap().unwrap().unwrap();
    let WatchEvent::Deleted(object) = event else { panic!("expected DELETED, got {event:?}") };
    assert_eq!(object.metadata.labels.unwrap_or_default().get("tier").map(String::as_str), Some("front"));
    assert_eq!(object.metadata.resource_version, moved.metadata.resource_version);
}

#[tokio::test]
async fn streaming_lists_send_added_events_then_the_initial_events_end_bookmark() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let mut front = Vec::new();
    for (name, tier) in [("a", "front"), ("b", "back"), ("c", "front")] {
        let created = api.create(&PostParams::default(), &labelled(name, tier, "0")).await.unwrap();
        if tier == "front" {
            front.push((name.to_string(), rv(&created)));
        }
    }
    for version in ["", "0"] {
        let current = twin.server().instance().store.current_revision() as u64;
        let params = WatchParams::streaming_lists().labels("tier=front");
        let mut events = api.watch(&params, version).await.unwrap().boxed();
        let mut added = Vec::new();
        let bookmark = loop {
            let event = tokio::time::timeout(WAIT, events.next()).await.unwrap().unwrap().unwrap();
            match event {
                WatchEvent::Added(object) => added.push((name(&object), rv(&object))),
                WatchEvent::Bookmark(bookmark) => break bookmark,
                other => panic!("unexpected event before the bookmark: {other:?}"),
            }
        };
        added.sort();
        assert_eq!(added, front, "resourceVersion {version:?}");
        let annotations = &bookmark.metadata.annotations;
        assert_eq!(annotations.get("k8s.io/initial-events-end").map(String::as_str), Some("true"));
        let bookmark_rv: u64 = bookmark.metadata.resource_version.parse().unwrap();
        assert!(bookmark_rv >= current, "the bookmark is at the listing's revision: {bookmark_rv} < {current}");

        // Then the stream goes on from there.
        let late = api.create(&PostParams::default(), &labelled(&format!("late{version}"), "front", "1")).await;
        let late = late.unwrap();
        let event = tokio::time::timeout(WAIT, events.next()).await.unwrap().unwrap().unwrap();
        let WatchEvent::Added(object) = event else { panic!("expected ADDED, got {event:?}") };
        assert_eq!((name(&object), rv(&object)), (name(&late), rv(&late)));
        front.push((name(&late), rv(&late)));
    }
}

/// A raw watch request for ConfigMaps in `default` with the given query.
fn watch_request(query: &str) -> http::Request<Vec<u8>> {
    http::Request::get(format!("/api/v1/namespaces/default/configmaps?watch=true&{query}")).body(Vec::new()).unwrap()
}

#[tokio::test]
async fn watch_options_are_validated_as_kube_apiserver_does() {
    let twin = TestServer::start().await.unwrap();
    let client = twin.client();
    let cases = [
        (
            "sendInitialEvents=true&allowWatchBookmarks=true",
            "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ),
        (
            "resourceVersionMatch=NotOlderThan&resourceVersion=1",
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ),
        (
            "sendInitialEvents=true&resourceVersionMatch=Exact&resourceVersion=1",
            "[resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan, resourceVersionMatch: Unsupported value: \"Exact\": supported values: \"NotOlderThan\"]",
        ),
    ];
    for (query, causes) in cases {
        let refused = client.request::<serde_json::Value>(watch_request(query)).await.unwrap_err();
        let kube::Error::Api(status) = refused else { panic!("{query}: expected an API error, got {refused:?}") };
        assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"), "{query}");
        assert_eq!(status.message, format!("ListOptions.meta.k8s.io \"\" is invalid: {causes}"), "{query}");
    }
}

#[tokio::test]
async fn a_watch_without_initial_events_starts_now() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    api.create(&PostParams::default(), &configmap("before", "0")).await.unwrap();
    for version in ["", "0"] {
        let query = format!("sendInitialEvents=false&resourceVersionMatch=NotOlderThan&resourceVersion={version}");
        let events = twin.client().request_events::<ConfigMap>(watch_request(&query)).await.unwrap();
        let mut events = events.boxed();
        let created = api.create(&PostParams::default(), &configmap(&format!("after{version}"), "0")).await.unwrap();
        let event = tokio::time::timeout(WAIT, events.next()).await.unwrap().unwrap().unwrap();
        let WatchEvent::Added(object) = event else { panic!("expected ADDED, got {event:?}") };
        assert_eq!((name(&object), rv(&object)), (name(&created), rv(&created)), "resourceVersion {version:?}");
    }
}

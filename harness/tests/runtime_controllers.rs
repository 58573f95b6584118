//! kube-rs's runtime against kubetwin over HTTPS, as an operator uses it: a `reflector` whose
//! store converges to the live set of ConfigMaps while several writers create, update and
//! delete them (and after its watcher is forced to relist); and a `Controller` built on the
//! `finalizer` helper, which adds its finalizer, writes an annotation each time it applies an
//! object, and on deletion runs its cleanup while the object is still there, being deleted,
//! after which the object is gone.

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::{reflector, watcher};
use kubetwin_harness::TestServer;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);
const FINALIZER: &str = "example.com/cleanup";
const APPLIED: &str = "example.com/applied";

fn configmap(name: &str, labels: serde_json::Value, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "data": {"v": value}})).unwrap()
}

fn name(object: &ConfigMap) -> String {
    object.metadata.name.clone().unwrap_or_default()
}

/// name → resourceVersion.
fn versions<'a>(objects: impl IntoIterator<Item = &'a ConfigMap>) -> BTreeMap<String, String> {
    objects.into_iter().map(|o| (name(o), o.metadata.resource_version.clone().unwrap_or_default())).collect()
}

/// Polls `check` until it returns `Some`, or fails with what the last attempt saw.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) if tokio::time::Instant::now() >= deadline => panic!("{what} never happened; last: {last}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// A writer's deterministic mix of creates, merge patches, PUTs and deletes over its own names.
async fn churn(api: Api<ConfigMap>, writer: usize, rounds: usize) {
    for round in 0..rounds {
        let name = format!("w{writer}-{}", round % 4);
        let value = round.to_string();
        match api.get_opt(&name).await.unwrap() {
            None => {
                api.create(&PostParams::default(), &configmap(&name, json!({}), &value)).await.unwrap();
            }
            Some(_) if (round + writer).is_multiple_of(5) => {
                api.delete(&name, &DeleteParams::default()).await.unwrap();
            }
            Some(mut existing) if round.is_multiple_of(2) => {
                existing.data = Some(BTreeMap::from([("v".to_string(), value)]));
                api.replace(&name, &PostParams::default(), &existing).await.unwrap();
            }
            Some(_) => {
                let patch = json!({"data": {"v": value}});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
            }
        }
    }
}

/// Waits until the reflector's store holds exactly what a LIST returns now.
async fn converged(api: &Api<ConfigMap>, store: &reflector::Store<ConfigMap>, what: &str) {
    let wanted = versions(&api.list(&ListParams::default()).await.unwrap().items);
    eventually(what, || {
        let got = versions(store.state().iter().map(|o| o.as_ref()));
        let wanted = wanted.clone();
        async move { if got == wanted { Ok(()) } else { Err(format!("{got:?} != {wanted:?}")) } }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reflector_store_converges_to_the_live_set() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let (store, writer) = reflector::store();
    let lists = Arc::new(AtomicUsize::new(0));
    let expired = Arc::new(AtomicUsize::new(0));
    // A server-side watch timeout of 1s, so the watcher also resumes while the writers run.
    let events = watcher(api.clone(), watcher::Config::default().timeout(1)).inspect({
        let (lists, expired) = (lists.clone(), expired.clone());
        move |event| match event {
            Ok(watcher::Event::Init) => {
                lists.fetch_add(1, Ordering::SeqCst);
            }
            Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                expired.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
    });
    // The reflector runs while the test does not hold `gate`; holding it pauses the stream.
    let gate = Arc::new(tokio::sync::Mutex::new(()));
    let driver = tokio::spawn({
        let gate = gate.clone();
        let mut stream = Box::pin(reflector(writer, events));
        async move {
            while stream.next().await.is_some() {
                drop(gate.lock().await);
            }
        }
    });
    tokio::time::timeout(WAIT, store.wait_until_ready()).await.unwrap().unwrap();
    converged(&api, &store, "the initial listing").await;

    let writers: Vec<_> = (0..4).map(|n| tokio::spawn(churn(api.clone(), n, 30))).collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let live = api.list(&ListParams::default()).await.unwrap();
    assert!(live.items.len() > 4, "the writers left objects behind: {:?}", versions(&live.items));
    converged(&api, &store, "the store matching the final LIST").await;

    // Paused after one more event, the watch times out unread; then writes, and compaction
    // past them: the resumed watch gets 410, the watcher relists, and the store is right again.
    let paused = gate.lock().await;
    api.create(&PostParams::default(), &configmap("pause", json!({}), "0")).await.unwrap();
    eventually("the reflector seeing the last event before the pause", || {
        let seen = store.state().iter().any(|o| name(o) == "pause");
        async move { if seen { Ok(()) } else { Err("not yet".to_string()) } }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    churn(api.clone(), 9, 12).await;
    let compacting = &twin.server().instance().store;
    compacting.compact(compacting.current_revision()).unwrap();
    churn(api.clone(), 8, 12).await;
    assert_eq!(lists.load(Ordering::SeqCst), 1);
    drop(paused);
    converged(&api, &store, "the store matching the LIST after a relist").await;
    assert_eq!((lists.load(Ordering::SeqCst), expired.load(Ordering::SeqCst)), (2, 1), "(lists, 410s)");
    driver.abort();
}

/// The controller's context: its client, and what each cleanup saw (the object's name, and
/// whether it was still stored, marked for deletion and held by the finalizer at the time).
struct Context {
    client: kube::Client,
    cleanups: Mutex<Vec<(String, bool)>>,
}

async fn reconcile(object: Arc<ConfigMap>, context: Arc<Context>) -> Result<Action, finalizer::Error<kube::Error>> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let api: Api<ConfigMap> = Api::namespaced(context.client.clone(), &namespace);
    finalizer(&api, FINALIZER, object, |event| async {
        match event {
            finalizer::Event::Apply(object) => {
                let value = object.data.as_ref().and_then(|d| d.get("v")).cloned().unwrap_or_default();
                let patch = json!({"metadata": {"annotations": {APPLIED: value}}});
                api.patch(&name(&object), &PatchParams::default(), &Patch::Merge(&patch)).await?;
                Ok(Action::await_change())
            }
            finalizer::Event::Cleanup(object) => {
                let live = api.get(&name(&object)).await?;
                let held = live.metadata.deletion_timestamp.is_some()
                    && live.metadata.finalizers.iter().flatten().any(|f| f == FINALIZER);
                context.cleanups.lock().unwrap().push((name(&object), held));
                Ok(Action::await_change())
            }
        }
    })
    .await
}

fn error_policy(_: Arc<ConfigMap>, _: &finalizer::Error<kube::Error>, _: Arc<Context>) -> Action {
    Action::requeue(Duration::from_millis(50))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_with_a_finalizer_applies_then_cleans_up() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let context = Arc::new(Context { client: twin.client(), cleanups: Mutex::new(Vec::new()) });
    let controller = Controller::new(api.clone(), watcher::Config::default().labels("app=guarded"))
        .run(reconcile, error_policy, context.clone())
        .for_each(|_| async {});
    let controller = tokio::spawn(controller);

    let guarded = json!({"app": "guarded"});
    api.create(&PostParams::default(), &configmap("guarded", guarded.clone(), "1")).await.unwrap();
    api.create(&PostParams::default(), &configmap("ignored", json!({"app": "other"}), "1")).await.unwrap();
    let state = |object: &ConfigMap| {
        let annotation = object.metadata.annotations.as_ref().and_then(|a| a.get(APPLIED)).cloned();
        (object.metadata.finalizers.clone().unwrap_or_default(), annotation)
    };
    let applied = |value: &'static str| {
        let api = api.clone();
        async move {
            let object = api.get("guarded").await.map_err(|e| e.to_string())?;
            let seen = state(&object);
            if seen == (vec![FINALIZER.to_string()], Some(value.to_string())) {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            }
        }
    };
    eventually("the finalizer and the first annotation", || applied("1")).await;
    let patch = json!({"data": {"v": "2"}});
    api.patch("guarded", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    eventually("the annotation following the change", || applied("2")).await;
    let ignored = api.get("ignored").await.unwrap();
    assert_eq!(state(&ignored), (vec![], None), "outside the controller's selector");

    // Deleting: the finalizer holds the object until the cleanup has run, then it goes.
    let deleting = api.delete("guarded", &DeleteParams::default()).await.unwrap();
    let marked = deleting.left().expect("the object, held by its finalizer");
    assert!(marked.metadata.deletion_timestamp.is_some());
    eventually("the object going", || {
        let api = api.clone();
        async move {
            match api.get_opt("guarded").await.map_err(|e| e.to_string())? {
                None => Ok(()),
                Some(object) => Err(format!("still there: {:?}", object.metadata)),
            }
        }
    })
    .await;
    assert_eq!(*context.cleanups.lock().unwrap(), [("guarded".to_string(), true)]);
    assert!(api.get_opt("ignored").await.unwrap().is_some());
    controller.abort();
}

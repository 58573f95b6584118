//! End-to-end: what controllers rely on, driven through kube-rs's runtime over TLS: the
//! garbage collector's three propagation policies, namespace finalization, watch streams seen
//! by `watcher` (list-then-watch and streaming lists), the 410 a compacted resourceVersion
//! gets, and a `Controller` using the `finalizer` helper.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kubetwin_harness::TestServer;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

fn configmap(name: &str, owners: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "ownerReferences": owners}})).unwrap()
}

fn owner_ref(owner: &ConfigMap, block: bool) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name, "uid": owner.metadata.uid, "blockOwnerDeletion": block})
}

/// Polls until `get` fails with NotFound.
async fn gone<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + k8s_openapi::serde::de::DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match api.get_opt(name).await.unwrap() {
            None => return,
            Some(object) => {
                assert!(tokio::time::Instant::now() < deadline, "{name} still exists: {object:?}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

#[tokio::test]
async fn garbage_collection_follows_each_propagation_policy() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let create = |cm: ConfigMap| {
        let api = api.clone();
        async move { api.create(&PostParams::default(), &cm).await.unwrap() }
    };

    // Background: the owner goes at once, its dependents right after.
    let owner = create(configmap("bg-owner", json!([]))).await;
    create(configmap("bg-child", json!([owner_ref(&owner, false)]))).await;
    api.delete("bg-owner", &DeleteParams::background()).await.unwrap();
    gone(&api, "bg-child").await;

    // Orphan: the dependent stays, released from its owner.
    let owner = create(configmap("orphan-owner", json!([]))).await;
    create(configmap("orphan-child", json!([owner_ref(&owner, true)]))).await;
    api.delete("orphan-owner", &DeleteParams::orphan()).await.unwrap();
    gone(&api, "orphan-owner").await;
    let released = api.get("orphan-child").await.unwrap();
    assert_eq!(released.metadata.owner_references, None);

    // Foreground: the owner waits, with its finalizer, while a blocking dependent is held.
    let owner = create(configmap("fg-owner", json!([]))).await;
    let mut held = configmap("fg-child", json!([owner_ref(&owner, true)]));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    create(held).await;
    api.delete("fg-owner", &DeleteParams::foreground()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiting = api.get("fg-owner").await.unwrap();
    assert!(waiting.metadata.deletion_timestamp.is_some());
    assert_eq!(waiting.metadata.finalizers, Some(vec!["foregroundDeletion".to_string()]));
    let child = api.get("fg-child").await.unwrap();
    assert!(child.metadata.deletion_timestamp.is_some(), "the dependent is being deleted");
    let release = json!({"metadata": {"finalizers": null}});
    api.patch("fg-child", &PatchParams::default(), &Patch::Merge(&release)).await.unwrap();
    gone(&api, "fg-child").await;
    gone(&api, "fg-owner").await;
}

#[tokio::test]
async fn dependents_of_missing_owners_go_and_live_owners_keep_theirs() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let ghost = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "00000000-0000-0000-0000-000000000001"});
    api.create(&PostParams::default(), &configmap("haunted", json!([ghost]))).await.unwrap();
    gone(&api, "haunted").await;

    // A namespaced owner cannot own a cluster-scoped dependent: the reference never resolves.
    let namespaces: Api<Namespace> = Api::all(twin.client());
    let owner = api.create(&PostParams::default(), &configmap("ns-owner", json!([]))).await.unwrap();
    let scoped: Namespace = serde_json::from_value(
        json!({"metadata": {"name": "owned-ns", "ownerReferences": [owner_ref(&owner, false)]}}),
    )
    .unwrap();
    namespaces.create(&PostParams::default(), &scoped).await.unwrap();
    gone(&namespaces, "owned-ns").await;

    let first = api.create(&PostParams::default(), &configmap("first", json!([]))).await.unwrap();
    let second = api.create(&PostParams::default(), &configmap("second", json!([]))).await.unwrap();
    api.create(
        &PostParams::default(),
        &configmap("shared", json!([owner_ref(&first, false), owner_ref(&second, false)])),
    )
    .await
    .unwrap();
    api.delete("first", &DeleteParams::background()).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let shared = api.get("shared").await.unwrap();
        let owners = shared.metadata.owner_references.unwrap_or_default();
        if owners.len() == 1 {
            assert_eq!(owners[0].name, "second");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the dead owner's reference was never removed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_deleted_namespace_terminates_empties_and_goes() {
    let twin = TestServer::start().await.unwrap();
    let namespaces: Api<Namespace> = Api::all(twin.client());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "doomed"}})).unwrap();
    namespaces.create(&PostParams::default(), &ns).await.unwrap();
    let configmaps: Api<ConfigMap> = Api::namespaced(twin.client(), "doomed");
    let secrets: Api<Secret> = Api::namespaced(twin.client(), "doomed");
    for n in 0..20 {
        configmaps.create(&PostParams::default(), &configmap(&format!("cm-{n}"), json!([]))).await.unwrap();
    }
    let held: Secret =
        serde_json::from_value(json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})).unwrap();
    secrets.create(&PostParams::default(), &held).await.unwrap();

    namespaces.delete("doomed", &DeleteParams::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let terminating = namespaces.get("doomed").await.unwrap();
    let status = terminating.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Terminating"));
    let remaining = status.conditions.unwrap().into_iter().find(|c| c.type_ == "NamespaceFinalizersRemaining").unwrap();
    assert_eq!(remaining.status, "True");
    assert_eq!(
        remaining.message.as_deref(),
        Some("Some content in the namespace has finalizers remaining: example.com/hold has 1 resource instances")
    );
    assert!(configmaps.list(&ListParams::default()).await.unwrap().items.is_empty());

    let refused = configmaps.create(&PostParams::default(), &configmap("late", json!([]))).await.unwrap_err();
    let kube::Error::Api(status) = refused else { panic!("expected an API error") };
    assert_eq!(status.code, 403);
    assert_eq!(
        status.message,
        "configmaps \"late\" is forbidden: unable to create new content in namespace doomed because it is being terminated"
    );

    let release = json!({"metadata": {"finalizers": null}});
    secrets.patch("held", &PatchParams::default(), &Patch::Merge(&release)).await.unwrap();
    gone(&namespaces, "doomed").await;
}

#[tokio::test]
async fn watchers_see_every_change_in_order_with_either_list_mode() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    api.create(&PostParams::default(), &configmap("before", json!([]))).await.unwrap();
    for config in [watcher::Config::default(), watcher::Config::default().streaming_lists()] {
        let stream = watcher(api.clone(), config.labels("round")).touched_objects();
        let mut stream = Box::pin(stream);
        let labelled = |name: &str, value: &str| -> ConfigMap {
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"round": value}}})).unwrap()
        };
        api.create(&PostParams::default(), &labelled("w", "1")).await.unwrap();
        let mut seen = Vec::new();
        let first = tokio::time::timeout(WAIT, stream.try_next()).await.expect("the initial state").unwrap().unwrap();
        seen.push(first.metadata.labels.unwrap_or_default().remove("round").unwrap_or_default());
        let writer = {
            let api = api.clone();
            tokio::spawn(async move {
                for step in 2..=4 {
                    let patch = json!({"metadata": {"labels": {"round": step.to_string()}}});
                    api.patch("w", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
                }
                api.delete("w", &DeleteParams::default()).await.unwrap();
            })
        };
        while seen.last().map(String::as_str) != Some("4") {
            let object =
                tokio::time::timeout(WAIT, stream.try_next()).await.expect("an event in time").unwrap().unwrap();
            let label = object.metadata.labels.unwrap_or_default().remove("round").unwrap_or_default();
            if seen.last() != Some(&label) {
                seen.push(label);
            }
        }
        writer.await.unwrap();
        assert_eq!(seen, ["1", "2", "3", "4"]);
        gone(&api, "w").await;
    }
}

#[tokio::test]
async fn a_compacted_resource_version_answers_410_in_the_stream() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let first = api.create(&PostParams::default(), &configmap("old", json!([]))).await.unwrap();
    let old_version = first.metadata.resource_version.unwrap();
    for n in 0..5 {
        api.create(&PostParams::default(), &configmap(&format!("new-{n}"), json!([]))).await.unwrap();
    }
    let store = &twin.server().instance().store;
    store.compact(store.current_revision()).unwrap();

    let mut events = api.watch(&WatchParams::default(), &old_version).await.unwrap().boxed();
    let event = tokio::time::timeout(WAIT, events.next()).await.unwrap().unwrap().unwrap();
    let WatchEvent::Error(status) = event else { panic!("expected an ERROR event, got {event:?}") };
    assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
    assert!(status.message.starts_with(&format!("too old resource version: {old_version} (")), "{}", status.message);

    let listed = api.list(&ListParams::default().at(&old_version).matching(kube::api::VersionMatch::Exact)).await;
    let kube::Error::Api(status) = listed.unwrap_err() else { panic!("expected an API error") };
    assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));

    // A watcher recovers by relisting: it still sees the current state.
    let names: Vec<String> = watcher(api.clone(), watcher::Config::default())
        .applied_objects()
        .take(6)
        .map(|cm| cm.unwrap().metadata.name.unwrap())
        .collect()
        .await;
    assert_eq!(names.len(), 6);
}

//! The harness's own features, each used the way a controller test would use it: many
//! instances at once, the in-process client, faults, the request log, waits, snapshots, the
//! builder's manifests, and a deterministic clock.

use http::StatusCode;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kubetwin_harness::{TestServer, Verb};
use serde_json::json;
use std::time::Duration;

fn configmap(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_isolated_instances_run_side_by_side() {
    let twins = futures::future::try_join_all((0..16).map(|_| TestServer::start())).await.unwrap();
    for (n, twin) in twins.iter().enumerate() {
        let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
        api.create(&PostParams::default(), &configmap(&format!("only-{n}"))).await.unwrap();
    }
    for (n, twin) in twins.iter().enumerate() {
        let api: Api<ConfigMap> = Api::namespaced(twin.direct_client(), "default");
        let names: Vec<String> =
            api.list(&Default::default()).await.unwrap().items.into_iter().filter_map(|c| c.metadata.name).collect();
        assert_eq!(names, ["kube-root-ca.crt".to_string(), format!("only-{n}")]);
    }
}

#[tokio::test]
async fn faults_hit_every_client_until_their_guard_drops() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    api.create(&PostParams::default(), &configmap("target")).await.unwrap();
    let patch = json!({"data": {"k": "changed"}});
    {
        let _conflicts = twin.faults().on(Verb::Patch).resource("configmaps").times(2).respond(StatusCode::CONFLICT);
        for _ in 0..2 {
            let kube::Error::Api(status) =
                api.patch("target", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap_err()
            else {
                panic!("expected an API error")
            };
            assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
        }
        api.patch("target", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        let patches = twin.requests().matching("patch", "configmaps");
        let codes: Vec<u16> = patches.iter().map(|r| r.code).collect();
        assert_eq!(codes, [409, 409, 200], "faulted requests are in the log too");
        let _broken = twin.faults().on(Verb::Get).every(2).respond(StatusCode::SERVICE_UNAVAILABLE);
        let direct: Api<ConfigMap> = Api::namespaced(twin.direct_client(), "default");
        assert!(direct.get("target").await.is_ok());
        assert!(direct.get("target").await.is_err(), "every second get fails");
    }
    assert!(api.get("target").await.is_ok(), "faults are gone with their guards");
}

#[tokio::test]
async fn the_request_log_shows_who_wrote_what() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let mark = twin.mark();
    api.create(&PostParams::default(), &configmap("logged")).await.unwrap();
    let params = PatchParams { field_manager: Some("my-controller".into()), ..PatchParams::default() };
    api.patch("logged", &params, &Patch::Merge(&json!({"data": {"k": "v2"}}))).await.unwrap();
    api.delete("logged", &DeleteParams::default()).await.unwrap();

    let writes: Vec<_> = twin.requests().since(mark).into_iter().collect();
    let verbs: Vec<(&str, u16)> = writes.iter().map(|r| (r.verb.as_str(), r.code)).collect();
    assert_eq!(verbs, [("create", 201), ("patch", 200), ("delete", 200)]);
    let patch = &writes[1];
    assert_eq!((patch.user.as_str(), patch.field_manager.as_deref()), ("kubetwin-admin", Some("my-controller")));
    assert_eq!(patch.before.as_ref().unwrap()["data"]["k"], "v");
    assert_eq!(patch.after.as_ref().unwrap()["data"]["k"], "v2");
    assert_eq!(writes[2].after, None);
    assert_eq!(twin.requests().since(mark).matching("patch", "configmaps").len(), 1);
}

#[tokio::test]
async fn waits_return_on_the_change_and_explain_a_timeout() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let writer = {
        let api = api.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            api.create(&PostParams::default(), &configmap("later")).await.unwrap();
            api.patch("later", &PatchParams::default(), &Patch::Merge(&json!({"data": {"k": "ready"}}))).await.unwrap();
        })
    };
    let ready: ConfigMap = twin
        .wait_for(Some("default"), "later", Duration::from_secs(5), |cm: &ConfigMap| {
            cm.data.as_ref().is_some_and(|d| d["k"] == "ready")
        })
        .await
        .unwrap();
    assert_eq!(ready.metadata.name.as_deref(), Some("later"));
    writer.await.unwrap();

    let error = twin
        .wait_for(Some("default"), "later", Duration::from_millis(200), |cm: &ConfigMap| {
            cm.data.as_ref().is_some_and(|d| d["k"] == "never")
        })
        .await
        .unwrap_err();
    assert!(error.message.contains("timed out after 200ms waiting for configmaps default/later"), "{error}");
    assert!(error.message.contains("\"ready\""), "the message shows the last object: {error}");

    api.delete("later", &DeleteParams::default()).await.unwrap();
    twin.wait_deleted::<ConfigMap>(Some("default"), "later", Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn builder_manifests_and_deterministic_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team\ndata:\n  mode: fast\n";
    std::fs::write(dir.path().join("objects.yaml"), manifest).unwrap();
    let start = || TestServer::builder().deterministic(7).manifests_from(dir.path()).start();
    let (first, second) = (start().await.unwrap(), start().await.unwrap());
    let namespaces: Api<Namespace> = Api::all(first.client());
    assert!(namespaces.get("team").await.is_ok());
    let snapshot = first.snapshot();
    let kinds: Vec<(&str, &str)> = snapshot
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["kind"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("ConfigMap", "settings"), ("Namespace", "team")]);
    assert_eq!(snapshot, second.snapshot(), "the same seed gives the same uids and timestamps");
    assert_eq!(first.snapshot_of::<ConfigMap>().as_array().unwrap().len(), 1);

    let before = snapshot[0]["metadata"]["creationTimestamp"].clone();
    first.advance_clock(Duration::from_secs(3600));
    let api: Api<ConfigMap> = Api::namespaced(first.client(), "team");
    api.create(&PostParams::default(), &configmap("later")).await.unwrap();
    let later = api.get("later").await.unwrap().metadata.creation_timestamp.unwrap();
    assert_ne!(json!(later), before);
}

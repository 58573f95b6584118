//! Server-side apply end to end, through kube-rs (`Patch::Apply`) and kubectl
//! (`apply --server-side`): create by apply, no-op re-applies, pruning of dropped fields,
//! shared ownership, conflicts with kube-apiserver's wording and causes, `force`, the merge of
//! containers by name, status-only applies, and managedFields sent back, edited or cleared by
//! a client.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::core::Status;
use kubetwin_harness::TestServer;
use serde_json::{Value, json};

fn deployment(replicas: i64, containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}},
        },
    })
}

fn nginx() -> Value {
    json!([{"name": "nginx", "image": "nginx:1"}])
}

fn api_status(error: kube::Error) -> Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other}"),
    }
}

/// (manager, operation) of each managedFields entry.
fn managers(object: &Deployment) -> Vec<(String, String)> {
    object
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|e| (e.manager.clone().unwrap_or_default(), e.operation.clone().unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn apply_creates_a_missing_object_and_reapplying_changes_nothing() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<Deployment> = Api::default_namespaced(twin.client());
    let created = api.patch("web", &PatchParams::apply("alpha"), &Patch::Apply(deployment(2, nginx()))).await.unwrap();
    assert_eq!(created.spec.as_ref().unwrap().replicas, Some(2));
    assert_eq!(managers(&created), [("alpha".to_string(), "Apply".to_string())]);
    let fields = created.metadata.managed_fields.as_ref().unwrap()[0].fields_v1.as_ref().unwrap().0.clone();
    assert_eq!(fields["f:spec"]["f:selector"], json!({}), "LabelSelector is atomic");
    assert_eq!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"],
        json!({".": {}, "f:image": {}, "f:name": {}})
    );

    let again = api.patch("web", &PatchParams::apply("alpha"), &Patch::Apply(deployment(2, nginx()))).await.unwrap();
    assert_eq!(again.metadata.resource_version, created.metadata.resource_version);
    assert_eq!(again.metadata.generation, created.metadata.generation);
    assert_eq!(again.metadata.managed_fields, created.metadata.managed_fields);

    // Once more, the same (answered as the last no-op was), then after another writer took
    // replicas: judged afresh, so the unchanged apply now conflicts.
    let third = api.patch("web", &PatchParams::apply("alpha"), &Patch::Apply(deployment(2, nginx()))).await.unwrap();
    assert_eq!(third.metadata.resource_version, created.metadata.resource_version);
    let scaler = PatchParams { field_manager: Some("scaler".into()), ..PatchParams::default() };
    api.patch("web", &scaler, &Patch::Merge(json!({"spec": {"replicas": 5}}))).await.unwrap();
    let error =
        api.patch("web", &PatchParams::apply("alpha"), &Patch::Apply(deployment(2, nginx()))).await.unwrap_err();
    let kube::Error::Api(status) = error else { panic!("expected an API error, got {error:?}") };
    assert_eq!(status.code, 409);
    assert!(status.message.contains(r#"conflict with "scaler""#), "{}", status.message);
}

/// (manager, operation, FieldsV1) of each managedFields entry of a ConfigMap.
fn entries(object: &ConfigMap) -> Vec<(String, String, Value)> {
    let entries = object.metadata.managed_fields.iter().flatten();
    let fields = |e: &ManagedFieldsEntry| e.fields_v1.as_ref().map(|f| f.0.clone()).unwrap_or_default();
    entries
        .map(|e| (e.manager.clone().unwrap_or_default(), e.operation.clone().unwrap_or_default(), fields(e)))
        .collect()
}

#[tokio::test]
async fn managed_fields_sent_back_are_kept_edited_ones_are_taken_and_an_empty_entry_clears_them() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(twin.client());
    let config =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
    api.patch("c", &PatchParams::apply("alpha"), &Patch::Apply(config)).await.unwrap();

    // A replace that sends back the managedFields it read: the editor takes the field it
    // changes, the applier keeps the rest.
    let mut read = api.get("c").await.unwrap();
    read.data.as_mut().unwrap().insert("a".into(), "changed".into());
    let editor = PostParams { field_manager: Some("editor".into()), ..PostParams::default() };
    let replaced = api.replace("c", &editor, &read).await.unwrap();
    assert_eq!(
        entries(&replaced),
        [
            ("alpha".into(), "Apply".into(), json!({"f:data": {"f:b": {}}})),
            ("editor".into(), "Update".into(), json!({"f:data": {"f:a": {}}})),
        ]
    );

    // managedFields the client edits are taken as it sends them, and encoded as the server
    // encodes them (elements sorted).
    let mut renamed = replaced.clone();
    let sent = &mut renamed.metadata.managed_fields.as_mut().unwrap()[0];
    sent.manager = Some("renamed".into());
    sent.fields_v1 = Some(FieldsV1(json!({"f:metadata": {"f:labels": {"f:x": {}}}, "f:data": {"f:b": {}}})));
    renamed.data.as_mut().unwrap().insert("c".into(), "3".into());
    let replaced = api.replace("c", &editor, &renamed).await.unwrap();
    assert_eq!(
        entries(&replaced),
        [
            ("renamed".into(), "Apply".into(), json!({"f:data": {"f:b": {}}, "f:metadata": {"f:labels": {"f:x": {}}}})),
            ("editor".into(), "Update".into(), json!({"f:data": {"f:a": {}, "f:c": {}}})),
        ]
    );
    let renamed_fields = serde_json::to_string(&entries(&replaced)[0].2).unwrap();
    assert_eq!(renamed_fields, r#"{"f:data":{"f:b":{}},"f:metadata":{"f:labels":{"f:x":{}}}}"#);

    // `[{}]` clears them; a write that changes nothing else then records no entry.
    let cleared = api
        .patch("c", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"managedFields": [{}]}})))
        .await
        .unwrap();
    assert_eq!(entries(&cleared), []);
}

#[tokio::test]
async fn a_field_the_manager_stops_applying_is_removed() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(twin.client());
    let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}},
        "data": {"keep": "1", "drop": "2"}});
    api.patch("c", &PatchParams::apply("alpha"), &Patch::Apply(first)).await.unwrap();
    let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}},
        "data": {"keep": "1"}});
    let applied = api.patch("c", &PatchParams::apply("alpha"), &Patch::Apply(second)).await.unwrap();
    let data = applied.data.unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["keep"]);
    let labels = applied.metadata.labels.unwrap();
    assert_eq!(labels.keys().collect::<Vec<_>>(), ["a"]);
}

#[tokio::test]
async fn two_managers_share_a_field_with_the_same_value_and_conflict_on_a_different_one() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<Deployment> = Api::default_namespaced(twin.client());
    api.patch("web", &PatchParams::apply("alpha"), &Patch::Apply(deployment(2, nginx()))).await.unwrap();
    let shared = api.patch("web", &PatchParams::apply("beta"), &Patch::Apply(deployment(2, nginx()))).await.unwrap();
    assert_eq!(managers(&shared).len(), 2, "{:?}", managers(&shared));

    let refused = api.patch("web", &PatchParams::apply("beta"), &Patch::Apply(deployment(3, nginx()))).await;
    let status = api_status(refused.unwrap_err());
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    assert_eq!(status.message, "Apply failed with 1 conflict: conflict with \"alpha\": .spec.replicas");
    let causes = status.details.unwrap().causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(
        (causes[0].reason.as_str(), causes[0].message.as_str(), causes[0].field.as_str()),
        ("FieldManagerConflict", "conflict with \"alpha\"", ".spec.replicas")
    );

    let forced =
        api.patch("web", &PatchParams::apply("beta").force(), &Patch::Apply(deployment(3, nginx()))).await.unwrap();
    assert_eq!(forced.spec.as_ref().unwrap().replicas, Some(3));
    let alpha =
        forced.metadata.managed_fields.iter().flatten().find(|e| e.manager.as_deref() == Some("alpha")).unwrap();
    let alpha_fields = &alpha.fields_v1.as_ref().unwrap().0;
    assert!(alpha_fields["f:spec"].get("f:replicas").is_none(), "force moved .spec.replicas: {alpha_fields}");
    assert!(alpha_fields["f:spec"].get("f:selector").is_some());
}

#[tokio::test]
async fn an_update_takes_the_fields_it_changes_and_apply_then_conflicts_with_it() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<Deployment> = Api::default_namespaced(twin.client());
    api.patch("web", &PatchParams::apply("alpha"), &Patch::Apply(deployment(2, nginx()))).await.unwrap();
    let scale = PatchParams { field_manager: Some("scaler".into()), ..PatchParams::default() };
    api.patch("web", &scale, &Patch::Merge(json!({"spec": {"replicas": 5}}))).await.unwrap();
    let refused = api.patch("web", &PatchParams::apply("alpha"), &Patch::Apply(deployment(2, nginx()))).await;
    let status = api_status(refused.unwrap_err());
    assert_eq!(status.message, "Apply failed with 1 conflict: conflict with \"scaler\" using apps/v1: .spec.replicas");
}

#[tokio::test]
async fn an_apply_to_the_scale_subresource_owns_the_parents_replicas() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<Deployment> = Api::default_namespaced(twin.client());
    api.patch("web", &PatchParams::apply("alpha"), &Patch::Apply(deployment(2, nginx()))).await.unwrap();
    let scale = |replicas: i64| {
        Patch::Apply(json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": {"replicas": replicas}}))
    };

    let refused = api.patch_scale("web", &PatchParams::apply("autoscaler"), &scale(5)).await;
    let status = api_status(refused.unwrap_err());
    assert_eq!(status.message, "Apply failed with 1 conflict: conflict with \"alpha\": .spec.replicas");

    let scaled = api.patch_scale("web", &PatchParams::apply("autoscaler").force(), &scale(5)).await.unwrap();
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(5), "the answer is the Scale");
    let deployment = api.get("web").await.unwrap();
    assert_eq!(deployment.spec.as_ref().unwrap().replicas, Some(5));
    let entry =
        deployment.metadata.managed_fields.iter().flatten().find(|e| e.manager.as_deref() == Some("autoscaler"));
    let entry = entry.expect("the scale applier has an entry");
    assert_eq!((entry.operation.as_deref(), entry.subresource.as_deref()), (Some("Apply"), Some("scale")));
    assert_eq!(entry.fields_v1.as_ref().unwrap().0, json!({"f:spec": {"f:replicas": {}}}));

    let again = api.patch_scale("web", &PatchParams::apply("autoscaler"), &scale(5)).await.unwrap();
    assert_eq!(again.metadata.resource_version, deployment.metadata.resource_version, "a no-op apply");
    let wrong = Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "spec": {"replicas": 1}}));
    let status = api_status(api.patch_scale("web", &PatchParams::apply("autoscaler"), &wrong).await.unwrap_err());
    assert_eq!(status.code, 400, "{}", status.message);
}

#[tokio::test]
async fn containers_merge_by_name_across_managers() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<Deployment> = Api::default_namespaced(twin.client());
    api.patch("web", &PatchParams::apply("alpha"), &Patch::Apply(deployment(1, nginx()))).await.unwrap();
    let sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy:1"}]}}}});
    let merged = api.patch("web", &PatchParams::apply("mesh"), &Patch::Apply(sidecar)).await.unwrap();
    let names: Vec<(String, Option<String>)> =
        merged.spec.unwrap().template.spec.unwrap().containers.into_iter().map(|c| (c.name, c.image)).collect();
    assert_eq!(
        names,
        [("nginx".to_string(), Some("nginx:1".to_string())), ("sidecar".to_string(), Some("envoy:1".to_string()))]
    );
    // alpha drops nothing of mesh's when it re-applies its own container.
    let reapplied =
        api.patch("web", &PatchParams::apply("alpha"), &Patch::Apply(deployment(1, nginx()))).await.unwrap();
    assert_eq!(reapplied.spec.unwrap().template.spec.unwrap().containers.len(), 2);
}

#[tokio::test]
async fn apply_needs_a_field_manager_and_status_applies_touch_only_status() {
    let twin = TestServer::start().await.unwrap();
    let api: Api<Deployment> = Api::default_namespaced(twin.client());
    let refused = api.patch("web", &PatchParams::default(), &Patch::Apply(deployment(1, nginx()))).await;
    let status = api_status(refused.unwrap_err());
    assert_eq!(
        (status.code, status.message.as_str()),
        (422, "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
    );

    api.create(&PostParams::default(), &serde_json::from_value(deployment(1, nginx())).unwrap()).await.unwrap();
    let status_config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 9}, "status": {"observedGeneration": 1, "replicas": 1}});
    let applied = api.patch_status("web", &PatchParams::apply("ctrl"), &Patch::Apply(status_config)).await.unwrap();
    assert_eq!(applied.spec.unwrap().replicas, Some(1), "a status apply leaves spec alone");
    assert_eq!(applied.status.unwrap().replicas, Some(1));
    let entry =
        applied.metadata.managed_fields.iter().flatten().find(|e| e.manager.as_deref() == Some("ctrl")).unwrap();
    assert_eq!(entry.subresource.as_deref(), Some("status"));
    assert_eq!(
        entry.fields_v1.as_ref().unwrap().0,
        json!({"f:status": {"f:observedGeneration": {}, "f:replicas": {}}})
    );
}

const MANIFEST: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: REPLACE
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_server_side_reports_conflicts_and_forces_them() {
    let twin = TestServer::start().await.unwrap();
    let created =
        twin.kubectl_with_input(&["apply", "--server-side", "-f", "-"], &MANIFEST.replace("REPLACE", "a")).await;
    assert!(created.ok().contains("configmap/settings serverside-applied"), "{}", created.stdout);
    let unchanged =
        twin.kubectl_with_input(&["apply", "--server-side", "-f", "-"], &MANIFEST.replace("REPLACE", "a")).await;
    unchanged.ok();

    let other = ["apply", "--server-side", "--field-manager=other", "-f", "-"];
    let conflict = twin.kubectl_with_input(&other, &MANIFEST.replace("REPLACE", "b")).await;
    let stderr = conflict.err();
    assert!(
        stderr.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .data.mode"),
        "kubectl printed: {stderr}"
    );
    assert!(stderr.contains("--force-conflicts"), "kubectl explains how to force: {stderr}");

    let forced = ["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-"];
    twin.kubectl_with_input(&forced, &MANIFEST.replace("REPLACE", "b")).await.ok();
    let mode = twin.kubectl(&["get", "configmap", "settings", "-o", "jsonpath={.data.mode}"]).await;
    assert_eq!(mode.ok(), "b");
    let owners = twin
        .kubectl(&[
            "get",
            "configmap",
            "settings",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .await;
    assert_eq!(owners.ok(), "other", "kubectl's entry lost its only field and is gone");
}

mod controller {
    //! A kube-runtime `Controller` that owns part of its objects' spec and their status through
    //! server-side apply, as controllers written with kube-rs do.

    use super::*;
    use futures::StreamExt;
    use kube::ResourceExt;
    use kube::runtime::controller::{Action, Controller};
    use kube::runtime::watcher;
    use std::sync::Arc;
    use std::time::Duration;

    const MANAGER: &str = "rollout-controller";

    /// Owns an annotation and `minReadySeconds` in spec, and reports a condition in status.
    async fn reconcile(deployment: Arc<Deployment>, api: Arc<Api<Deployment>>) -> Result<Action, kube::Error> {
        let name = deployment.name_any();
        let spec = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "annotations": {"example.com/rolled-out-by": MANAGER}},
            "spec": {"minReadySeconds": 5},
        });
        api.patch(&name, &PatchParams::apply(MANAGER), &Patch::Apply(&spec)).await?;
        let status = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "status": {
                "observedGeneration": deployment.metadata.generation,
                "conditions": [{"type": "Progressing", "status": "True", "reason": "RolledOut", "message": "rolled out"}],
            },
        });
        api.patch_status(&name, &PatchParams::apply(MANAGER), &Patch::Apply(&status)).await?;
        Ok(Action::await_change())
    }

    fn retry(_: Arc<Deployment>, _: &kube::Error, _: Arc<Api<Deployment>>) -> Action {
        Action::requeue(Duration::from_millis(50))
    }

    #[tokio::test]
    async fn a_kube_runtime_controller_applies_spec_and_status_and_settles() {
        let twin = TestServer::start().await.unwrap();
        let api: Api<Deployment> = Api::default_namespaced(twin.client());
        let user = PostParams { field_manager: Some("kubectl-create".into()), ..PostParams::default() };
        api.create(&user, &serde_json::from_value(deployment(2, nginx())).unwrap()).await.unwrap();

        let controller = Controller::new(api.clone(), watcher::Config::default())
            .run(reconcile, retry, Arc::new(api.clone()))
            .for_each(|_| futures::future::ready(()));
        let controller = tokio::spawn(controller);
        let observed = |d: &Deployment| {
            let status = d.status.as_ref();
            let progressing =
                status.and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Progressing"));
            progressing && status.and_then(|s| s.observed_generation) == d.metadata.generation
        };
        let settled =
            twin.wait_for::<Deployment>(Some("default"), "web", Duration::from_secs(10), observed).await.unwrap();
        // Its own writes wake the controller once more; re-applying the same thing changes nothing.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = api.get("web").await.unwrap();
        controller.abort();
        assert_eq!(now.metadata.resource_version, settled.metadata.resource_version, "the controller settled");

        assert_eq!(now.spec.as_ref().unwrap().min_ready_seconds, Some(5));
        assert_eq!(now.spec.as_ref().unwrap().replicas, Some(2), "the user's fields are untouched");
        assert_eq!(now.annotations().get("example.com/rolled-out-by").map(String::as_str), Some(MANAGER));
        let entries: Vec<(String, String, String)> = now
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .map(|e| {
                let text = |v: &Option<String>| v.clone().unwrap_or_default();
                (text(&e.manager), text(&e.operation), text(&e.subresource))
            })
            .collect();
        let expected = |m: &str, o: &str, s: &str| (m.to_string(), o.to_string(), s.to_string());
        // Ordered as kube-apiserver orders them: by operation, then time, manager, subresource.
        assert_eq!(
            entries,
            [
                expected(MANAGER, "Apply", ""),
                expected(MANAGER, "Apply", "status"),
                expected("kubectl-create", "Update", ""),
            ]
        );
        let writes = twin.requests().matching("patch", "deployments");
        let by_controller = writes.iter().filter(|r| r.field_manager.as_deref() == Some(MANAGER)).count();
        assert!(by_controller <= 6, "the controller did not loop: {by_controller} patches");
    }
}

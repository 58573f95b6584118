//! End-to-end: the API server driven by kube-rs over TLS, as a Rust controller author would
//! use it. Each test starts its own server.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Namespace, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::Status;
use kubetwin_harness::TestServer;
use serde_json::json;

/// The Status an API call failed with.
fn api_error(error: kube::Error) -> Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_fresh_server_has_the_kubeadm_objects() {
    let twin = TestServer::start().await.unwrap();
    let namespaces: Api<Namespace> = Api::all(twin.client());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(names, ["default", "kube-node-lease", "kube-public", "kube-system"]);
    let default = namespaces.get("default").await.unwrap();
    assert_eq!(default.status.unwrap().phase.as_deref(), Some("Active"));
    let services: Api<Service> = Api::namespaced(twin.client(), "default");
    let kubernetes = services.get("kubernetes").await.unwrap();
    let spec = kubernetes.spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.1"));
    // The Service and its endpoints point at this server's own port.
    let port: i32 = twin.server().address().port().into();
    assert_eq!(spec.ports.unwrap()[0].target_port, Some(IntOrString::Int(port)));
    let endpoints: Api<Endpoints> = Api::namespaced(twin.client(), "default");
    let subsets = endpoints.get("kubernetes").await.unwrap().subsets.unwrap();
    assert_eq!(subsets[0].ports.as_ref().unwrap()[0].port, port);
    let slices: Api<EndpointSlice> = Api::namespaced(twin.client(), "default");
    assert_eq!(slices.get("kubernetes").await.unwrap().ports.unwrap()[0].port, Some(port));
    // Its cluster IP is taken.
    let taken = json!({"metadata": {"name": "other"}, "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 80}]}});
    let clash =
        api_error(services.create(&PostParams::default(), &serde_json::from_value(taken).unwrap()).await.unwrap_err());
    assert!(clash.message.contains("provided IP is already allocated"), "{}", clash.message);
}

#[tokio::test]
async fn configmaps_round_trip_with_optimistic_concurrency() {
    let twin = TestServer::start().await.unwrap();
    let configmaps: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
    let created = configmaps
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"color": "blue"}})).unwrap(),
        )
        .await
        .unwrap();
    let metadata = &created.metadata;
    assert!(metadata.uid.is_some() && metadata.creation_timestamp.is_some());
    assert!(metadata.generation.is_none(), "configmaps track no generation");
    let first_version = metadata.resource_version.clone().unwrap();

    let mut changed = created.clone();
    changed.data.as_mut().unwrap().insert("color".into(), "green".into());
    let updated = configmaps.replace("settings", &PostParams::default(), &changed).await.unwrap();
    assert_ne!(updated.metadata.resource_version.as_deref(), Some(first_version.as_str()));

    let stale = configmaps.replace("settings", &PostParams::default(), &changed).await.unwrap_err();
    let stale = api_error(stale);
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        stale.message,
        "Operation cannot be fulfilled on configmaps \"settings\": the object has been modified; please apply your changes to the latest version and try again"
    );

    let again = configmaps.create(&PostParams::default(), &created).await.unwrap_err();
    let again = api_error(again);
    assert_eq!(
        (again.code, again.message.as_str()),
        (500, "resourceVersion should not be set on objects to be created")
    );

    configmaps.delete("settings", &DeleteParams::default()).await.unwrap();
    let gone = api_error(configmaps.get("settings").await.unwrap_err());
    assert_eq!(
        (gone.code, gone.reason.as_str(), gone.message.as_str()),
        (404, "NotFound", "configmaps \"settings\" not found")
    );
}

#[tokio::test]
async fn pods_get_defaults_and_start_pending() {
    let twin = TestServer::start().await.unwrap();
    let pods: Api<Pod> = Api::namespaced(twin.client(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"generateName": "web-"}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}})).unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    let name = created.metadata.name.clone().unwrap();
    assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    let spec = created.spec.unwrap();
    assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(spec.containers[0].image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));

    let invalid: Pod = serde_json::from_value(
        json!({"metadata": {"name": "Bad_Name"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
    )
    .unwrap();
    let error = api_error(pods.create(&PostParams::default(), &invalid).await.unwrap_err());
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(
        error.message.starts_with(
            "Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"
        ),
        "{}",
        error.message
    );

    let elsewhere: Api<Pod> = Api::namespaced(twin.client(), "nowhere");
    let error = api_error(elsewhere.create(&PostParams::default(), &pod).await.unwrap_err());
    assert_eq!((error.code, error.message.as_str()), (404, "namespaces \"nowhere\" not found"));
}

#[tokio::test]
async fn deployments_track_generation_and_scale() {
    let twin = TestServer::start().await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(twin.client(), "default");
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}},
    }))
    .unwrap();
    let created = deployments.create(&PostParams::default(), &deployment).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(created.spec.as_ref().unwrap().replicas, Some(1));

    let labelled = deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"tier": "front"}}})))
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(1), "metadata changes leave generation alone");

    let scale = deployments.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=web"));
    deployments
        .patch_scale("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 4}})))
        .await
        .unwrap();
    let scaled = deployments.get("web").await.unwrap();
    assert_eq!((scaled.spec.unwrap().replicas, scaled.metadata.generation), (Some(4), Some(2)));

    let status_patch = Patch::Merge(json!({"status": {"replicas": 4, "readyReplicas": 4}}));
    let with_status = deployments.patch_status("web", &PatchParams::default(), &status_patch).await.unwrap();
    assert_eq!(with_status.status.unwrap().ready_replicas, Some(4));
    assert_eq!(with_status.metadata.generation, Some(2), "status writes leave generation alone");
    let ignored = deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"status": {"readyReplicas": 0}})))
        .await
        .unwrap();
    assert_eq!(ignored.status.unwrap().ready_replicas, Some(4), "the main resource ignores status");
}

#[tokio::test]
async fn all_three_patch_types_follow_their_rules() {
    let twin = TestServer::start().await.unwrap();
    let pods: Api<Pod> = Api::namespaced(twin.client(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "one"}, {"name": "b", "image": "two"}]}})).unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let strategic = Patch::Strategic(json!({"spec": {"containers": [{"name": "b", "image": "three"}]}}));
    let patched = pods.patch("p", &PatchParams::default(), &strategic).await.unwrap();
    let images: Vec<_> = patched.spec.unwrap().containers.into_iter().map(|c| c.image.unwrap()).collect();
    assert_eq!(images, ["one", "three"], "strategic merge merges containers by name");

    let merge = Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}}));
    assert_eq!(pods.patch("p", &PatchParams::default(), &merge).await.unwrap().metadata.labels.unwrap()["x"], "y");

    let json_patch: json_patch::Patch =
        serde_json::from_value(json!([{"op": "replace", "path": "/metadata/labels/x", "value": "z"}])).unwrap();
    let patched = pods.patch("p", &PatchParams::default(), &Patch::Json::<()>(json_patch)).await.unwrap();
    assert_eq!(patched.metadata.labels.unwrap()["x"], "z");
}

#[tokio::test]
async fn secrets_fold_string_data_and_dry_runs_persist_nothing() {
    let twin = TestServer::start().await.unwrap();
    let secrets: Api<Secret> = Api::namespaced(twin.client(), "default");
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}})).unwrap();
    let dry = secrets.create(&PostParams { dry_run: true, ..PostParams::default() }, &secret).await.unwrap();
    assert_eq!(dry.type_.as_deref(), Some("Opaque"));
    assert!(secrets.get_opt("s").await.unwrap().is_none(), "dry run persisted nothing");
    let created = secrets.create(&PostParams::default(), &secret).await.unwrap();
    assert_eq!(created.data.unwrap()["password"].0, b"hunter2");
    assert!(created.string_data.is_none());
}

#[tokio::test]
async fn services_get_cluster_ips_without_duplicates() {
    let twin = TestServer::start().await.unwrap();
    let services: Api<Service> = Api::namespaced(twin.client(), "default");
    let make = |name: &str, ip: Option<&str>| -> Service {
        serde_json::from_value(
            json!({"metadata": {"name": name}, "spec": {"type": "NodePort", "clusterIP": ip, "ports": [{"port": 80}]}}),
        )
        .unwrap()
    };
    let first = services.create(&PostParams::default(), &make("a", None)).await.unwrap().spec.unwrap();
    let second = services.create(&PostParams::default(), &make("b", None)).await.unwrap().spec.unwrap();
    assert_ne!(first.cluster_ip, second.cluster_ip);
    assert_ne!(first.ports.as_ref().unwrap()[0].node_port, second.ports.as_ref().unwrap()[0].node_port);
    assert_eq!(
        first.ports.unwrap()[0].target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80))
    );
    let clash =
        api_error(services.create(&PostParams::default(), &make("c", first.cluster_ip.as_deref())).await.unwrap_err());
    assert_eq!(clash.code, 422);
    assert!(clash.message.contains("provided IP is already allocated"), "{}", clash.message);
}

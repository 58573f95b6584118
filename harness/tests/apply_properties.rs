//! Property tests of server-side apply over the in-process client: applying the same
//! configuration twice changes nothing (same resourceVersion, same object), and two managers
//! that apply disjoint fields (their own labels, annotations, data keys and containers) end
//! with the same object whichever applies first.

use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kubetwin_harness::TestServer;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// What one manager applies: its own labels, annotations and containers (by name), each from
/// a pool no other manager draws on.
#[derive(Debug, Clone)]
struct Config {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    containers: BTreeMap<String, String>,
    replicas: Option<i64>,
}

fn config(owner: &'static str) -> impl Strategy<Value = Config> {
    let key = move |pool: &'static str| (0..4u8).prop_map(move |n| format!("{owner}-{pool}-{n}"));
    let value = "[a-z0-9]{1,6}";
    (
        prop::collection::btree_map(key("label"), value, 0..4),
        prop::collection::btree_map(key("note"), value, 0..3),
        prop::collection::btree_map(key("app"), value, 1..4),
        prop::option::of(0..5i64),
    )
        .prop_map(|(labels, annotations, containers, replicas)| Config {
            labels,
            annotations,
            containers,
            replicas,
        })
}

fn deployment(config: &Config) -> Value {
    let containers: Vec<Value> =
        config.containers.iter().map(|(name, tag)| json!({"name": name, "image": format!("{name}:{tag}")})).collect();
    let mut spec = json!({
        "selector": {"matchLabels": {"app": "prop"}},
        "template": {"metadata": {"labels": {"app": "prop"}}, "spec": {"containers": containers}},
    });
    if let Some(replicas) = config.replicas {
        spec["replicas"] = json!(replicas);
    }
    let mut metadata = json!({"name": "prop"});
    // Empty maps are left out, as a user's configuration leaves them out.
    if !config.labels.is_empty() {
        metadata["labels"] = json!(config.labels);
    }
    if !config.annotations.is_empty() {
        metadata["annotations"] = json!(config.annotations);
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec})
}

fn deployments(twin: &TestServer) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: "apps".into(),
        version: "v1".into(),
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        plural: "deployments".into(),
    };
    Api::namespaced_with(twin.direct_client(), "default", &resource)
}

async fn apply(api: &Api<DynamicObject>, manager: &str, config: &Config) -> Value {
    let applied = api.patch("prop", &PatchParams::apply(manager), &Patch::Apply(deployment(config))).await;
    serde_json::to_value(applied.unwrap_or_else(|e| panic!("{manager}'s apply failed: {e}"))).unwrap()
}

/// The object with its order-dependent parts put in a canonical order: containers by name and
/// managedFields by manager (list items applied by different managers keep arrival order).
fn canonical(mut object: Value) -> Value {
    let sort_by = |items: &mut Value, key: &str| {
        if let Some(items) = items.as_array_mut() {
            items.sort_by(|a, b| a[key].as_str().cmp(&b[key].as_str()));
        }
    };
    sort_by(&mut object["spec"]["template"]["spec"]["containers"], "name");
    sort_by(&mut object["metadata"]["managedFields"], "manager");
    object
}

async fn applying_twice_changes_nothing(config: Config) {
    let twin = TestServer::builder().deterministic(3).start().await.unwrap();
    let api = deployments(&twin);
    let first = apply(&api, "alpha", &config).await;
    let second = apply(&api, "alpha", &config).await;
    assert_eq!(first, second, "a repeated apply is a no-op");
}

async fn disjoint_managers_commute(alpha: Config, beta: Config) {
    let mut beta = beta;
    if alpha.replicas.is_some() {
        beta.replicas = None; // one field, one owner: replicas is not disjoint otherwise
    }
    let mut results = Vec::new();
    for order in [["alpha", "beta"], ["beta", "alpha"]] {
        let twin = TestServer::builder().deterministic(3).start().await.unwrap();
        let api = deployments(&twin);
        for manager in order {
            apply(&api, manager, if manager == "alpha" { &alpha } else { &beta }).await;
        }
        let object = serde_json::to_value(api.get("prop").await.unwrap()).unwrap();
        results.push(canonical(object));
    }
    assert_eq!(results[0], results[1], "the order of disjoint applies does not matter");
    let labels = results[0]["metadata"]["labels"].as_object().cloned().unwrap_or_else(Map::new);
    assert_eq!(labels.len(), alpha.labels.len() + beta.labels.len(), "both managers' labels are there");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, max_shrink_iters: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn apply_is_idempotent(config in config("alpha")) {
        runtime().block_on(applying_twice_changes_nothing(config));
    }

    #[test]
    fn managers_of_disjoint_fields_commute(alpha in config("alpha"), beta in config("beta")) {
        runtime().block_on(disjoint_managers_commute(alpha, beta));
    }
}

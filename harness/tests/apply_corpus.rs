//! The server-side apply corpus: each case in `apply_cases/` is a sequence of applies, updates
//! and scales by different field managers, run over HTTPS against a deterministic server; the
//! outcome of every step (with the conflict message, when there is one) and the final object,
//! managedFields included, are an insta snapshot. Each case cites the rule of the Kubernetes
//! server-side apply documentation it follows, and the test names say it too.

#[macro_use]
mod support;

use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kubetwin_harness::TestServer;
use serde_json::{Value, json};

/// The manager and options of one step.
fn params(step: &Value, apply: bool) -> PatchParams {
    let manager = step["manager"].as_str().expect("every step names its manager").to_string();
    if apply {
        let params = PatchParams::apply(&manager);
        if step["force"].as_bool() == Some(true) { params.force() } else { params }
    } else {
        PatchParams { field_manager: Some(manager), ..PatchParams::default() }
    }
}

fn outcome(result: Result<DynamicObject, kube::Error>) -> String {
    match result {
        Ok(object) => format!("ok, resourceVersion {}", object.metadata.resource_version.unwrap_or_default()),
        Err(kube::Error::Api(status)) => format!("{} {}: {}", status.code, status.reason, status.message),
        Err(other) => panic!("the request failed outside the API: {other}"),
    }
}

/// Runs one case file and snapshots what happened.
async fn run_case(file: &str) {
    let path = format!("{}/tests/apply_cases/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let case: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let twin = TestServer::builder().deterministic(1).start().await.unwrap();
    let (api_version, plural) = (case["resource"]["apiVersion"].as_str().unwrap(), case["resource"]["plural"].as_str());
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let first_kind = case["steps"][0]["apply"]["object"]["kind"].as_str().expect("the first step applies an object");
    let resource = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: first_kind.into(),
        plural: plural.unwrap().into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(twin.client(), "default", &resource);
    let mut outcomes = Vec::new();
    for step in case["steps"].as_array().expect("steps") {
        let result = if let Some(apply) = step.get("apply") {
            api.patch("case", &params(apply, true), &Patch::Apply(&apply["object"])).await
        } else if let Some(apply) = step.get("applyStatus") {
            api.patch_status("case", &params(apply, true), &Patch::Apply(&apply["object"])).await
        } else if let Some(update) = step.get("update") {
            api.patch("case", &params(update, false), &Patch::Merge(&update["patch"])).await
        } else if let Some(scale) = step.get("scale") {
            let patch = json!({"spec": {"replicas": scale["replicas"]}});
            let scaled = api.patch_scale("case", &params(scale, false), &Patch::Merge(&patch)).await;
            match scaled {
                Ok(_) => api.get("case").await,
                Err(error) => Err(error),
            }
        } else {
            panic!("{path}: unknown step {step}");
        };
        outcomes.push(outcome(result));
    }
    let object = serde_json::to_value(api.get("case").await.unwrap()).unwrap();
    let snapshot = json!({"rule": case["rule"], "outcomes": outcomes, "object": object});
    insta::assert_yaml_snapshot!(file.trim_end_matches(".yaml"), snapshot);
}

cases! {
    merge_strategy_atomic_list_is_owned_and_replaced_whole => "atomic_list.yaml",
    merge_strategy_set_list_values_are_owned_one_by_one => "set_list.yaml",
    merge_strategy_map_list_items_merge_by_key => "map_list.yaml",
    merge_strategy_map_list_with_two_keys_tells_protocols_apart => "service_ports_map_keys.yaml",
    merge_strategy_atomic_map_is_shared_or_conflicts_whole => "atomic_map.yaml",
    merge_strategy_granular_maps_merge_key_by_key => "nested_granular_maps.yaml",
    removing_fields_by_omission_spares_fields_another_manager_owns => "removal_by_omission.yaml",
    conflicts_shared_manager_then_force_makes_sole_manager => "shared_then_force.yaml",
    status_subresource_apply_touches_only_status => "status_only_apply.yaml",
    transferring_ownership_kubectl_scale_takes_replicas => "scale_transfers_ownership.yaml",
    update_operations_take_ownership_of_changed_fields => "edit_transfers_ownership.yaml",
}

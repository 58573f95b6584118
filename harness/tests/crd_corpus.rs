//! The CustomResourceDefinition validation corpus: each case in `crd_cases/` is a CRD (with its
//! structural schema) and the custom resources created under it, some updated afterwards, run
//! over HTTPS against a deterministic server. What happened to every object is an insta
//! snapshot: the object as stored (everything but apiVersion, kind and metadata, so defaults and
//! pruning show) with the `Warning` headers of the response, or the refusal as
//! `code reason: message` with each cause of the metav1.Status. Each case cites the rule of the
//! Kubernetes CustomResourceDefinition documentation it checks, and the test names say it too.

#[macro_use]
mod support;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::params::ValidationDirective;
use kube::runtime::{conditions, wait::await_condition};
use kubetwin_harness::TestServer;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ESTABLISHED: Duration = Duration::from_secs(5);

/// The `Warning` headers of the responses a client received, oldest first.
type Warnings = Arc<Mutex<Vec<String>>>;

/// The text of one `Warning` header (`299 - "unknown field \"spec.x\""`): its quoted message.
fn warning_text(header: &http::HeaderValue) -> String {
    let raw = String::from_utf8_lossy(header.as_bytes()).into_owned();
    raw.strip_prefix("299 - ").and_then(|quoted| serde_json::from_str(quoted).ok()).unwrap_or(raw)
}

/// A client of `twin` that records the `Warning` headers of every response in the returned list
/// (kube-rs's `Api` does not return them).
async fn client_recording_warnings(twin: &TestServer) -> (kube::Client, Warnings) {
    let kubeconfig = kube::config::Kubeconfig::read_from(twin.kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    let warnings = Warnings::default();
    let record = {
        let warnings = warnings.clone();
        move |response: http::Response<Box<kube::client::DynBody>>| {
            let found = response.headers().get_all(http::header::WARNING).iter().map(warning_text);
            warnings.lock().unwrap().extend(found);
            response
        }
    };
    let layer = tower::util::MapResponseLayer::new(record);
    (kube::client::ClientBuilder::try_from(config).unwrap().with_layer(&layer).build(), warnings)
}

/// A case's `fieldValidation` (`Strict`, `Warn` or `Ignore`), if it gives one.
fn directive(step: &Value) -> Option<&str> {
    step.get("fieldValidation").map(|d| d.as_str().expect("fieldValidation is a string"))
}

/// Creates `object`; with a `fieldValidation` directive the POST is built by hand, since kube
/// 5's `PostParams` has no field for it.
async fn create(
    client: &kube::Client,
    api: &Api<DynamicObject>,
    object: &Value,
    validation: Option<&str>,
) -> Result<DynamicObject, kube::Error> {
    let Some(validation) = validation else {
        return api.create(&PostParams::default(), &serde_json::from_value(object.clone()).unwrap()).await;
    };
    let request = http::Request::post(format!("{}?fieldValidation={validation}", api.resource_url()))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(object).unwrap())
        .unwrap();
    client.request(request).await
}

/// Merge-patches the object named `name` with one update step of a case.
async fn update(api: &Api<DynamicObject>, name: &str, step: &Value) -> Result<DynamicObject, kube::Error> {
    let field_validation = directive(step).map(|d| match d {
        "Strict" => ValidationDirective::Strict,
        "Warn" => ValidationDirective::Warn,
        "Ignore" => ValidationDirective::Ignore,
        other => panic!("unknown fieldValidation {other}"),
    });
    let params = PatchParams { field_validation, ..PatchParams::default() };
    api.patch(name, &params, &Patch::Merge(&step["patch"])).await
}

/// A refusal as `code reason: message`, with each cause of the Status as `reason field: message`.
fn refusal(error: kube::Error) -> Value {
    let kube::Error::Api(status) = error else { panic!("the request failed outside the API: {error}") };
    let causes: Vec<String> = status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .map(|c| format!("{} {}: {}", c.reason, c.field, c.message))
        .collect();
    let mut refused = json!({"error": format!("{} {}: {}", status.code, status.reason, status.message)});
    if !causes.is_empty() {
        refused["causes"] = json!(causes);
    }
    refused
}

/// What one request did: the object as stored now (apiVersion, kind and metadata left out) with
/// the warnings the response carried, or the refusal.
async fn outcome(api: &Api<DynamicObject>, warnings: &Warnings, result: Result<DynamicObject, kube::Error>) -> Value {
    let sent: Vec<String> = warnings.lock().unwrap().drain(..).collect();
    let written = match result {
        Ok(written) => written,
        Err(error) => return refusal(error),
    };
    let stored = api.get(&written.metadata.name.clone().unwrap()).await.unwrap();
    assert_eq!(stored.data, written.data, "the response shows the object as stored");
    let mut outcome = json!({"stored": stored.data});
    if !sent.is_empty() {
        outcome["warnings"] = json!(sent);
    }
    warnings.lock().unwrap().clear();
    outcome
}

/// Creates the case's CRD and waits until it is Established; the refusal when it is invalid.
async fn install(twin: &TestServer, crd: &Value) -> Result<(), Value> {
    let crds: Api<CustomResourceDefinition> = Api::all(twin.client());
    let definition: CustomResourceDefinition = serde_json::from_value(crd.clone()).unwrap();
    crds.create(&PostParams::default(), &definition).await.map_err(refusal)?;
    let name = crd["metadata"]["name"].as_str().unwrap();
    let established = await_condition(crds, name, conditions::is_crd_established());
    tokio::time::timeout(ESTABLISHED, established).await.expect("Established in time").unwrap();
    Ok(())
}

/// The API of the CRD's custom resources in `version`.
fn custom_resources(client: &kube::Client, crd: &Value, version: &str) -> Api<DynamicObject> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap();
    let resource = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: spec["names"]["kind"].as_str().unwrap().into(),
        plural: spec["names"]["plural"].as_str().unwrap().into(),
    };
    match spec["scope"].as_str() {
        Some("Cluster") => Api::all_with(client.clone(), &resource),
        _ => Api::namespaced_with(client.clone(), "default", &resource),
    }
}

/// Runs one case file and snapshots what happened.
async fn run_case(file: &str) {
    let path = format!("{}/tests/crd_cases/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let case: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let twin = TestServer::builder().deterministic(1).start().await.unwrap();
    let crd = &case["crd"];
    let mut snapshot = json!({"description": case["description"]});
    if let Err(refused) = install(&twin, crd).await {
        snapshot["crd"] = refused;
        insta::assert_yaml_snapshot!(file.trim_end_matches(".yaml"), snapshot);
        return;
    }
    let (client, warnings) = client_recording_warnings(&twin).await;
    let first_version = crd["spec"]["versions"][0]["name"].as_str().unwrap();
    let mut outcomes = Vec::new();
    for step in case["objects"].as_array().unwrap_or_else(|| panic!("{path}: objects")) {
        let name = step["name"].as_str().expect("every object is named");
        let version = step["version"].as_str().unwrap_or(first_version);
        let api = custom_resources(&client, crd, version);
        let mut object = step["object"].clone();
        object["apiVersion"] = json!(format!("{}/{version}", crd["spec"]["group"].as_str().unwrap()));
        object["kind"] = crd["spec"]["names"]["kind"].clone();
        object["metadata"]["name"] = json!(name);
        let created = create(&client, &api, &object, directive(step)).await;
        let mut result = json!({"name": name, "create": outcome(&api, &warnings, created).await});
        if let Some(updates) = step.get("updates").and_then(Value::as_array) {
            let mut updated = Vec::new();
            for update_step in updates {
                let patched = update(&api, name, update_step).await;
                updated.push(outcome(&api, &warnings, patched).await);
            }
            result["updates"] = json!(updated);
        }
        outcomes.push(result);
    }
    snapshot["objects"] = json!(outcomes);
    insta::assert_yaml_snapshot!(file.trim_end_matches(".yaml"), snapshot);
}

cases! {
    validation_types_formats_and_int_or_string => "types_and_formats.yaml",
    validation_enum_pattern_lengths_bounds_sizes_required_nullable => "value_validations.yaml",
    validation_unique_items_is_refused_in_a_crd_schema => "unique_items_refused.yaml",
    validation_one_of_any_of_all_of_not => "combinators.yaml",
    defaulting_nested_list_items_maps_and_null_parents => "defaulting.yaml",
    pruning_unknown_fields_preserve_unknown_embedded_and_strict => "pruning.yaml",
    validation_rules_cel_messages_field_paths_and_transitions => "cel_rules.yaml",
    list_types_set_and_map_refuse_duplicates => "list_types.yaml",
}

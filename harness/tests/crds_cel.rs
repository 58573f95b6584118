//! End-to-end: CEL validation rules (`x-kubernetes-validations`) of CustomResourceDefinitions
//! over HTTPS with kube-rs. A CRD's rules refuse invalid custom resources with kube-apiserver's
//! 422 Invalid, transition rules (`self == oldSelf`) guard updates, rules under `status` run on
//! the status subresource, and a CRD whose rule does not compile is refused when created.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::core::Status;
use kube::runtime::{conditions, wait::await_condition};
use kubetwin_harness::TestServer;
use serde_json::{Value, json};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

fn crd(spec_schema: Value) -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.cel.example.com"},
        "spec": {"group": "cel.example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": spec_schema,
                    "status": {"type": "object", "properties": {"phase": {"type": "string"}},
                        "x-kubernetes-validations": [{"rule": "self.phase != 'Broken'", "message": "phase may not be Broken"}]}}}}}]}})
}

fn widget_schema() -> Value {
    json!({"type": "object",
        "properties": {
            "id": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "id is immutable"}]},
            "min": {"type": "integer"},
            "max": {"type": "integer"},
            "ports": {"type": "array", "items": {"type": "integer",
                "x-kubernetes-validations": [{"rule": "self > 0 && self < 65536", "message": "must be a valid port"}]}}},
        "x-kubernetes-validations": [
            {"rule": "self.min <= self.max", "message": "min must not exceed max"},
            {"rule": "!has(self.ports) || size(self.ports) <= 2", "messageExpression": "'at most 2 ports, got ' + string(size(self.ports))"}]})
}

async fn install(twin: &TestServer, crd: Value) {
    let crds: Api<CustomResourceDefinition> = Api::all(twin.client());
    crds.create(&PostParams::default(), &serde_json::from_value(crd).unwrap()).await.unwrap();
    let established = await_condition(crds, "widgets.cel.example.com", conditions::is_crd_established());
    tokio::time::timeout(TIMEOUT, established).await.expect("Established in time").unwrap();
}

fn widgets(twin: &TestServer) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("cel.example.com", "v1", "Widget"));
    Api::namespaced_with(twin.client(), "default", &resource)
}

fn widget(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(
        json!({"apiVersion": "cel.example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}),
    )
    .unwrap()
}

/// The Status an API call failed with.
fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn causes(status: &Status) -> Vec<(String, String, String)> {
    let details = status.details.as_ref().expect("details");
    details.causes.iter().map(|c| (c.reason.clone(), c.field.clone(), c.message.clone())).collect()
}

#[tokio::test]
async fn rules_refuse_invalid_objects_with_kube_apiserver_statuses_and_accept_valid_ones() {
    let twin = TestServer::start().await.unwrap();
    install(&twin, crd(widget_schema())).await;
    let api = widgets(&twin);

    let error =
        api_error(api.create(&PostParams::default(), &widget("bad", json!({"id": "a", "min": 5, "max": 1}))).await);
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        error.message,
        "Widget.cel.example.com \"bad\" is invalid: spec: Invalid value: \"object\": min must not exceed max"
    );
    assert_eq!(
        causes(&error),
        [("FieldValueInvalid".into(), "spec".into(), "Invalid value: \"object\": min must not exceed max".into())]
    );

    let spec = json!({"id": "a", "min": 1, "max": 2, "ports": [80, 0, 70000]});
    let error = api_error(api.create(&PostParams::default(), &widget("ports", spec)).await);
    assert_eq!(
        error.message,
        "Widget.cel.example.com \"ports\" is invalid: [spec: Invalid value: \"object\": at most 2 ports, got 3, spec.ports[1]: Invalid value: \"integer\": must be a valid port, spec.ports[2]: Invalid value: \"integer\": must be a valid port]"
    );
    assert_eq!(
        causes(&error).iter().map(|c| c.1.as_str()).collect::<Vec<_>>(),
        ["spec", "spec.ports[1]", "spec.ports[2]"]
    );

    let created = api
        .create(&PostParams::default(), &widget("good", json!({"id": "a", "min": 1, "max": 2, "ports": [80]})))
        .await;
    assert_eq!(created.unwrap().data["spec"]["ports"], json!([80]));
}

#[tokio::test]
async fn a_transition_rule_keeps_a_field_immutable() {
    let twin = TestServer::start().await.unwrap();
    install(&twin, crd(widget_schema())).await;
    let api = widgets(&twin);
    api.create(&PostParams::default(), &widget("w", json!({"id": "first", "min": 1, "max": 2}))).await.unwrap();

    let change_id = Patch::Merge(json!({"spec": {"id": "second"}}));
    let error = api_error(api.patch("w", &PatchParams::default(), &change_id).await);
    assert_eq!(error.code, 422);
    assert_eq!(
        error.message,
        "Widget.cel.example.com \"w\" is invalid: spec.id: Invalid value: \"string\": id is immutable"
    );
    assert_eq!(causes(&error)[0].0, "FieldValueInvalid");

    let widen = Patch::Merge(json!({"spec": {"max": 10}}));
    let patched = api.patch("w", &PatchParams::default(), &widen).await.unwrap();
    assert_eq!((patched.data["spec"]["id"].as_str(), patched.data["spec"]["max"].as_i64()), (Some("first"), Some(10)));
}

#[tokio::test]
async fn rules_under_status_run_on_the_status_subresource() {
    let twin = TestServer::start().await.unwrap();
    install(&twin, crd(widget_schema())).await;
    let api = widgets(&twin);
    api.create(&PostParams::default(), &widget("w", json!({"id": "a", "min": 1, "max": 2}))).await.unwrap();
    let broken = Patch::Merge(json!({"status": {"phase": "Broken"}}));
    let error = api_error(api.patch_status("w", &PatchParams::default(), &broken).await);
    assert_eq!(
        error.message,
        "Widget.cel.example.com \"w\" is invalid: status: Invalid value: \"object\": phase may not be Broken"
    );
    let running = Patch::Merge(json!({"status": {"phase": "Running"}}));
    let patched = api.patch_status("w", &PatchParams::default(), &running).await.unwrap();
    assert_eq!(patched.data["status"]["phase"], "Running");
}

#[tokio::test]
async fn a_crd_whose_rule_does_not_compile_is_refused() {
    let twin = TestServer::start().await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(twin.client());
    let schema = json!({"type": "object", "properties": {"size": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.size >"}, {"rule": "quantity(self.size) != null"}]});
    let error = api_error(crds.create(&PostParams::default(), &serde_json::from_value(crd(schema)).unwrap()).await);
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(
        error
            .message
            .starts_with("CustomResourceDefinition.apiextensions.k8s.io \"widgets.cel.example.com\" is invalid: ["),
        "{}",
        error.message
    );
    let found = causes(&error);
    let prefix = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations";
    assert_eq!((found[0].0.as_str(), found[0].1.clone()), ("FieldValueInvalid", format!("{prefix}[0].rule")));
    assert!(
        found[0].2.starts_with("Invalid value: {\"rule\":\"self.size >\"}: compilation failed: ERROR: <input>:1:"),
        "{}",
        found[0].2
    );
    assert_eq!(found[1].1, format!("{prefix}[1].rule"));
    assert!(found[1].2.contains("function 'quantity' is not supported by this server"), "{}", found[1].2);
    assert!(crds.get_opt("widgets.cel.example.com").await.unwrap().is_none());
}

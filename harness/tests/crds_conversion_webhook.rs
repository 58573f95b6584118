//! End-to-end: CRD conversion with `spec.conversion.strategy: Webhook`. The test serves its own
//! conversion webhook over HTTPS (the server's serving certificate, its CA as the CRD's
//! `caBundle`), for a CRD whose storage version v1 has `spec.size` where v2 has
//! `spec.replicas`. Widgets written at v2 and read, listed and watched at v1 and v2 go through
//! the webhook as `apiextensions.k8s.io/v1` ConversionReviews, and none is sent when the versions
//! already match. A webhook that answers Failure, or renames the object, fails the read with
//! kube-apiserver's 500 and wording, and ends a watch; only the labels and annotations a webhook changes are kept;
//! and an invalid webhook configuration is refused as kube-apiserver refuses it.
//!
//! Conversion happens on the request's thread, which waits for the webhook, so these tests run
//! on a multi-threaded runtime, where the webhook's own tasks keep running meanwhile.

use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams};
use kube::api::{WatchEvent, WatchParams};
use kube::runtime::{conditions, wait::await_condition};
use kubetwin_harness::TestServer;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use warp::Filter;

const TIMEOUT: Duration = Duration::from_secs(10);

/// How the test webhook answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Behaviour {
    /// Renames the field, relabels the object and tries to change its generation.
    Convert,
    /// `result.status: Failure` with a message.
    Fail,
    /// Converts, but also renames the object.
    Rename,
}

/// A conversion webhook served over HTTPS for the length of a test.
struct ConversionWebhook {
    url: String,
    reviews: Arc<Mutex<Vec<Value>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

impl ConversionWebhook {
    /// Serves with `twin`'s serving certificate on a free loopback port.
    async fn start(twin: &TestServer) -> ConversionWebhook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/convert", listener.local_addr().unwrap());
        let reviews: Arc<Mutex<Vec<Value>>> = Arc::default();
        let behaviour = Arc::new(Mutex::new(Behaviour::Convert));
        let (seen, mode) = (reviews.clone(), behaviour.clone());
        let routes = warp::post()
            .and(warp::path("convert"))
            .and(warp::body::json())
            .map(move |review: Value| {
                seen.lock().unwrap().push(review.clone());
                warp::Reply::into_response(warp::reply::json(&answer(&review, *mode.lock().unwrap())))
            })
            .boxed();
        let tls = twin.server().pki().server_config().unwrap();
        let (shutdown, signal) = tokio::sync::watch::channel(false);
        tokio::spawn(kubetwin::http::tls::serve(listener, tls, routes, signal));
        ConversionWebhook { url, reviews, behaviour, _shutdown: shutdown }
    }

    fn answer_with(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// The ConversionReviews received so far.
    fn reviews(&self) -> Vec<Value> {
        self.reviews.lock().unwrap().clone()
    }
}

/// The webhook's ConversionReview answer.
fn answer(review: &Value, behaviour: Behaviour) -> Value {
    let request = &review["request"];
    let desired = request["desiredAPIVersion"].as_str().unwrap();
    let objects = request["objects"].as_array().unwrap();
    let converted: Vec<Value> = objects.iter().map(|object| convert(object, desired, behaviour)).collect();
    let result = match behaviour {
        Behaviour::Fail => json!({"status": "Failure", "message": "widgets cannot be converted today"}),
        _ => json!({"status": "Success"}),
    };
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
        "response": {"uid": request["uid"], "result": result, "convertedObjects": converted}})
}

/// v1 `spec.size` ⇄ v2 `spec.replicas`.
fn convert(object: &Value, desired: &str, behaviour: Behaviour) -> Value {
    let mut out = object.clone();
    out["apiVersion"] = json!(desired);
    let version = desired.rsplit('/').next().unwrap();
    let (from, to) = if version == "v2" { ("size", "replicas") } else { ("replicas", "size") };
    if let Some(value) = out["spec"].as_object_mut().and_then(|spec| spec.remove(from)) {
        out["spec"][to] = value;
    }
    out["metadata"]["labels"]["converted-to"] = json!(version);
    out["metadata"]["generation"] = json!(1000);
    if behaviour == Behaviour::Rename {
        out["metadata"]["name"] = json!("renamed");
    }
    out
}

fn version_schema(name: &str, field: &str, storage: bool) -> Value {
    json!({"name": name, "served": true, "storage": storage, "schema": {"openAPIV3Schema": {"type": "object",
        "properties": {"spec": {"type": "object", "properties": {field: {"type": "integer"}}}}}}})
}

/// The widgets CRD, converted by the webhook at `url` trusting `twin`'s CA.
fn widgets_crd(twin: &TestServer, webhook: Value) -> CustomResourceDefinition {
    let mut webhook = webhook;
    let ca = base64::engine::general_purpose::STANDARD.encode(&twin.server().pki().ca_cert_pem);
    if webhook["clientConfig"].is_object() {
        webhook["clientConfig"]["caBundle"] = json!(ca);
    }
    serde_json::from_value(json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [version_schema("v1", "size", true), version_schema("v2", "replicas", false)],
            "conversion": {"strategy": "Webhook", "webhook": webhook}}}))
    .unwrap()
}

/// Creates the widgets CRD converted by `webhook` (given as `conversion.webhook`) and waits
/// until it is Established.
async fn install(twin: &TestServer, webhook: Value) {
    let crds: Api<CustomResourceDefinition> = Api::all(twin.client());
    crds.create(&PostParams::default(), &widgets_crd(twin, webhook)).await.unwrap();
    let established = await_condition(crds, "widgets.example.com", conditions::is_crd_established());
    tokio::time::timeout(TIMEOUT, established).await.expect("Established in time").unwrap();
}

/// A server with the widgets CRD converted by a test webhook, and widgets at v1 and v2.
async fn started() -> (TestServer, ConversionWebhook, Api<DynamicObject>, Api<DynamicObject>) {
    let twin = TestServer::start().await.unwrap();
    let webhook = ConversionWebhook::start(&twin).await;
    install(&twin, json!({"clientConfig": {"url": webhook.url}, "conversionReviewVersions": ["v1", "v1beta1"]})).await;
    let (v1, v2) = (widgets(&twin, "v1"), widgets(&twin, "v2"));
    (twin, webhook, v1, v2)
}

fn widgets(twin: &TestServer, version: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("example.com", version, "Widget");
    Api::namespaced_with(twin.client(), "default", &ApiResource::from_gvk_with_plural(&gvk, "widgets"))
}

fn widget(version: &str, name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": format!("example.com/{version}"), "kind": "Widget",
        "metadata": {"name": name}, "spec": spec}))
    .unwrap()
}

fn status_of<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The `desiredAPIVersion` of each review received after the first `from`.
fn desired_versions(webhook: &ConversionWebhook, from: usize) -> Vec<String> {
    let reviews = webhook.reviews();
    reviews[from..].iter().map(|r| r["request"]["desiredAPIVersion"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widgets_convert_through_the_webhook_on_read_write_list_and_watch() {
    let (_twin, webhook, v1, v2) = started().await;

    let created = v2.create(&PostParams::default(), &widget("v2", "w", json!({"replicas": 3}))).await.unwrap();
    assert_eq!(
        (created.data["spec"].clone(), created.types.unwrap().api_version),
        (json!({"replicas": 3}), "example.com/v2".into())
    );
    // Stored as v1, answered as v2, and nothing else (the request log records such objects at
    // their stored version rather than call the webhook).
    assert_eq!(desired_versions(&webhook, 0), ["example.com/v1", "example.com/v2"]);
    let review = &webhook.reviews()[0];
    assert_eq!(
        (&review["apiVersion"], &review["kind"]),
        (&json!("apiextensions.k8s.io/v1"), &json!("ConversionReview"))
    );
    assert_eq!(review["request"]["objects"][0]["spec"], json!({"replicas": 3}));
    assert!(review["request"]["uid"].as_str().is_some_and(|uid| uid.len() == 36));

    // Read at the storage version: no call.
    let calls = webhook.reviews().len();
    let stored = v1.get("w").await.unwrap();
    assert_eq!(stored.data["spec"], json!({"size": 3}));
    assert_eq!(stored.labels()["converted-to"], "v1", "labels the webhook set on the way in are kept");
    assert_eq!(stored.metadata.generation, Some(1), "other metadata the webhook changed is not");
    assert_eq!(webhook.reviews().len(), calls, "objects already at the wanted version are not sent");

    let read = v2.get("w").await.unwrap();
    assert_eq!((read.data["spec"].clone(), read.labels()["converted-to"].as_str()), (json!({"replicas": 3}), "v2"));
    assert_eq!((read.metadata.generation, read.metadata.uid.clone()), (Some(1), stored.metadata.uid.clone()));
    assert_eq!(desired_versions(&webhook, calls), ["example.com/v2"]);

    v1.create(&PostParams::default(), &widget("v1", "x", json!({"size": 5}))).await.unwrap();
    let listed = v2.list(&ListParams::default()).await.unwrap();
    let replicas: Vec<Value> = listed.items.iter().map(|w| w.data["spec"]["replicas"].clone()).collect();
    assert_eq!(replicas, [json!(3), json!(5)]);
    let listed = v1.list(&ListParams::default()).await.unwrap();
    let sizes: Vec<Value> = listed.items.iter().map(|w| w.data["spec"]["size"].clone()).collect();
    assert_eq!(sizes, [json!(3), json!(5)]);

    let mut events =
        v2.watch(&WatchParams::default(), &listed.metadata.resource_version.unwrap()).await.unwrap().boxed();
    let patch = Patch::Merge(json!({"spec": {"size": 7}}));
    v1.patch("x", &PatchParams::default(), &patch).await.unwrap();
    let event = tokio::time::timeout(TIMEOUT, events.try_next()).await.expect("an event in time").unwrap().unwrap();
    let WatchEvent::Modified(modified) = event else { panic!("expected MODIFIED, got {event:?}") };
    assert_eq!((modified.data["spec"].clone(), modified.name_any()), (json!({"replicas": 7}), "x".to_string()));
    assert!(webhook.reviews().iter().all(|r| r["apiVersion"] == "apiextensions.k8s.io/v1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_renaming_webhook_fails_the_read_with_kube_wording() {
    let (_twin, webhook, v1, v2) = started().await;
    v1.create(&PostParams::default(), &widget("v1", "w", json!({"size": 3}))).await.unwrap();

    webhook.answer_with(Behaviour::Fail);
    let failed = status_of(v2.get("w").await);
    assert_eq!(
        (failed.code, failed.reason.as_str(), failed.message.as_str()),
        (500, "", "conversion webhook for example.com/v1, Kind=Widget failed: widgets cannot be converted today")
    );
    assert_eq!(status_of(v2.list(&ListParams::default()).await).code, 500);
    let refused = status_of(v2.create(&PostParams::default(), &widget("v2", "y", json!({"replicas": 1}))).await);
    assert_eq!(
        refused.message, "conversion webhook for example.com/v2, Kind=Widget failed: widgets cannot be converted today",
        "a write at v2 is converted to the storage version first"
    );
    assert_eq!(v1.get("w").await.unwrap().data["spec"], json!({"size": 3}), "v1 reads need no webhook");

    webhook.answer_with(Behaviour::Rename);
    let renamed = status_of(v2.get("w").await);
    assert_eq!(
        (renamed.code, renamed.message.as_str()),
        (
            500,
            "conversion webhook for example.com/v1, Kind=Widget returned invalid object: must have the same name: w != renamed"
        )
    );
    let desired = webhook.reviews().last().unwrap()["request"]["desiredAPIVersion"].clone();
    assert_eq!(desired, "example.com/v2");
}

/// kube-apiserver's watch handler ends the stream when it cannot encode an event's object in
/// the watched version (a conversion webhook failing): no event, converted or not, goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_when_the_webhook_fails_on_its_object() {
    let (_twin, webhook, v1, v2) = started().await;
    let created = v1.create(&PostParams::default(), &widget("v1", "w", json!({"size": 3}))).await.unwrap();
    let mut events = v2.watch(&WatchParams::default(), &created.resource_version().unwrap()).await.unwrap().boxed();

    webhook.answer_with(Behaviour::Fail);
    v1.patch("w", &PatchParams::default(), &Patch::Merge(json!({"spec": {"size": 4}}))).await.unwrap();
    let next = tokio::time::timeout(TIMEOUT, events.try_next()).await.expect("the watch ends in time").unwrap();
    assert!(next.is_none(), "the watch ends without the event: {next:?}");

    let mut from_current_state = v2.watch(&WatchParams::default(), "0").await.unwrap().boxed();
    let next = tokio::time::timeout(TIMEOUT, from_current_state.try_next()).await.expect("in time").unwrap();
    assert!(next.is_none(), "no synthetic ADDED either: {next:?}");
}

#[tokio::test]
async fn invalid_webhook_configurations_are_refused_with_kube_wording() {
    let twin = TestServer::start().await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(twin.client());
    let http = json!({"clientConfig": {"url": "http://127.0.0.1:1/convert"}, "conversionReviewVersions": ["v1"]});
    let refused = status_of(crds.create(&PostParams::default(), &widgets_crd(&twin, http)).await);
    assert_eq!(
        (refused.code, refused.reason.as_str(), refused.message.as_str()),
        (
            422,
            "Invalid",
            "CustomResourceDefinition.apiextensions.k8s.io \"widgets.example.com\" is invalid: spec.conversion.webhookClientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]"
        )
    );
    let no_versions = json!({"clientConfig": {"url": "https://127.0.0.1:1/convert"}});
    let refused = status_of(crds.create(&PostParams::default(), &widgets_crd(&twin, no_versions)).await);
    assert_eq!(
        refused.message,
        "CustomResourceDefinition.apiextensions.k8s.io \"widgets.example.com\" is invalid: spec.conversion.conversionReviewVersions: Required value"
    );
    let unsupported =
        json!({"clientConfig": {"url": "https://127.0.0.1:1/convert"}, "conversionReviewVersions": ["v2"]});
    let refused = status_of(crds.create(&PostParams::default(), &widgets_crd(&twin, unsupported)).await);
    assert!(refused.message.ends_with("must include at least one of v1, v1beta1"), "{}", refused.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_reference_fails_as_a_service_without_endpoints() {
    let twin = TestServer::start().await.unwrap();
    let service = json!({"clientConfig": {"service": {"namespace": "default", "name": "converter", "path": "/convert"}},
        "conversionReviewVersions": ["v1"]});
    install(&twin, service).await;
    widgets(&twin, "v1").create(&PostParams::default(), &widget("v1", "w", json!({"size": 1}))).await.unwrap();
    let failed = status_of(widgets(&twin, "v2").get("w").await);
    assert_eq!(
        (failed.code, failed.message.as_str()),
        (
            500,
            "conversion webhook for example.com/v1, Kind=Widget failed: Post \"https://converter.default.svc:443/convert?timeout=30s\": no endpoints available for service \"converter\""
        )
    );
}

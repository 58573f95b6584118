//! End-to-end: CustomResourceDefinitions. A kube-rs `#[derive(CustomResource)]` type's CRD is
//! applied, waited on until Established, and then its custom resources go through every verb,
//! watch, schema validation, pruning, defaulting and the status and scale subresources; kubectl
//! applies a CRD from YAML, prints its columns and explains its schema.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::core::{Status, params::ValidationDirective};
use kube::runtime::{conditions, wait::await_condition, watcher};
use kube::{CustomResource, CustomResourceExt, ResourceExt};
use kubetwin_harness::TestServer;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
#[kube(
    group = "example.com",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus",
    shortname = "wd",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(name = "Size", type_ = "integer", json_path = ".spec.size"),
    printcolumn(name = "Color", type_ = "string", json_path = ".spec.color")
)]
#[serde(rename_all = "camelCase")]
pub struct WidgetSpec {
    /// How big the widget is.
    #[schemars(range(min = 0, max = 100))]
    size: i64,
    /// The widget's color.
    #[serde(default = "blue")]
    color: String,
    #[serde(default)]
    replicas: i32,
}

fn blue() -> String {
    "blue".into()
}

#[derive(Serialize, Deserialize, Debug, Clone, Default, JsonSchema)]
pub struct WidgetStatus {
    ready: bool,
    replicas: i32,
    selector: Option<String>,
}

const TIMEOUT: Duration = Duration::from_secs(5);

/// The Status an API call failed with.
fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn install_widgets(twin: &TestServer) -> CustomResourceDefinition {
    let crds: Api<CustomResourceDefinition> = Api::all(twin.client());
    crds.create(&PostParams::default(), &Widget::crd()).await.unwrap();
    let established = await_condition(crds, "widgets.example.com", conditions::is_crd_established());
    tokio::time::timeout(TIMEOUT, established).await.expect("Established in time").unwrap().expect("the CRD exists")
}

fn widget(name: &str, size: i64) -> Widget {
    Widget::new(name, WidgetSpec { size, color: "red".into(), replicas: 1 })
}

/// Custom resources as the dynamic client sees them, to send what the typed one cannot.
fn dynamic(twin: &TestServer) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"));
    Api::namespaced_with(twin.client(), "default", &resource)
}

fn dynamic_object(value: Value) -> DynamicObject {
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn a_derived_crd_is_established_with_its_names_and_stored_version() {
    let twin = TestServer::start().await.unwrap();
    let crd = install_widgets(&twin).await;
    let status = crd.status.expect("status");
    let names = status.accepted_names.expect("acceptedNames");
    assert_eq!((names.kind.as_str(), names.plural.as_str()), ("Widget", "widgets"));
    assert_eq!(names.short_names, Some(vec!["wd".to_string()]));
    assert_eq!(names.list_kind.as_deref(), Some("WidgetList"));
    assert_eq!(status.stored_versions, Some(vec!["v1".to_string()]));
    let conditions: Vec<(String, String, Option<String>)> =
        status.conditions.unwrap().into_iter().map(|c| (c.type_, c.status, c.reason)).collect();
    assert_eq!(
        conditions,
        [
            ("NamesAccepted".into(), "True".into(), Some("NoConflicts".into())),
            ("Established".into(), "True".into(), Some("InitialNamesAccepted".into()))
        ]
    );
    let discovery = kube::Discovery::new(twin.client()).run().await.unwrap();
    let (resource, capabilities) =
        discovery.resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget")).unwrap();
    assert_eq!(resource.plural, "widgets");
    assert_eq!(capabilities.scope, kube::discovery::Scope::Namespaced);
    let subresources: Vec<&str> = capabilities.subresources.iter().map(|(s, _)| s.plural.as_str()).collect();
    assert_eq!(subresources, ["status", "scale"]);
    let legacy: Value =
        serde_json::from_str(twin.kubectl(&["get", "--raw", "/apis/example.com/v1"]).await.ok()).unwrap();
    let names: Vec<&str> =
        legacy["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["widgets", "widgets/status", "widgets/scale"]);
    assert_eq!(legacy["resources"][0]["shortNames"], json!(["wd"]));
    assert_eq!(legacy["resources"][0]["singularName"], "widget");
}

/// `/openapi/v2` as a client reads it.
async fn openapi_v2(twin: &TestServer) -> Value {
    let request = http::Request::get("/openapi/v2").body(Vec::new()).unwrap();
    serde_json::from_str(&twin.client().request_text(request).await.unwrap()).unwrap()
}

#[tokio::test]
async fn openapi_v2_carries_custom_resources_while_their_crd_exists() {
    let twin = TestServer::start().await.unwrap();
    assert!(openapi_v2(&twin).await["definitions"].get("com.example.v1.Widget").is_none());
    install_widgets(&twin).await;
    let document = openapi_v2(&twin).await;
    let widget = &document["definitions"]["com.example.v1.Widget"];
    assert_eq!(
        widget["x-kubernetes-group-version-kind"],
        json!([{"group": "example.com", "kind": "Widget", "version": "v1"}])
    );
    assert_eq!(widget["properties"]["spec"]["properties"]["size"]["description"], "How big the widget is.");
    assert_eq!(
        widget["properties"]["metadata"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    let collection = &document["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets"];
    assert_eq!(collection["get"]["x-kubernetes-action"], "list");
    assert!(document["paths"].get("/api/v1/namespaces/{namespace}/pods").is_some(), "the built-in API is still there");

    let crds: Api<CustomResourceDefinition> = Api::all(twin.client());
    crds.delete("widgets.example.com", &DeleteParams::default()).await.unwrap();
    let gone = async {
        while openapi_v2(&twin).await["definitions"].get("com.example.v1.Widget").is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(TIMEOUT, gone).await.expect("the definition leaves with its CRD");
}

#[tokio::test]
async fn custom_resources_go_through_every_verb() {
    let twin = TestServer::start().await.unwrap();
    install_widgets(&twin).await;
    let widgets: Api<Widget> = Api::namespaced(twin.client(), "default");
    let mut created = widgets.create(&PostParams::default(), &widget("w", 3)).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.status.is_none(), "status is dropped on create with a status subresource");

    created.spec.size = 4;
    let replaced = widgets.replace("w", &PostParams::default(), &created).await.unwrap();
    assert_eq!((replaced.spec.size, replaced.metadata.generation), (4, Some(2)));
    let patched = widgets
        .patch("w", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"tier": "a"}}})))
        .await
        .unwrap();
    assert_eq!(patched.metadata.generation, Some(2), "metadata changes leave generation alone");
    let status = Patch::Merge(json!({"status": {"ready": true, "replicas": 1}, "spec": {"size": 99}}));
    let with_status = widgets.patch_status("w", &PatchParams::default(), &status).await.unwrap();
    assert!(with_status.status.as_ref().unwrap().ready);
    assert_eq!((with_status.spec.size, with_status.metadata.generation), (4, Some(2)), "status writes keep the spec");
    let main = Patch::Merge(json!({"status": {"ready": false}}));
    let ignored = widgets.patch("w", &PatchParams::default(), &main).await.unwrap();
    assert!(ignored.status.unwrap().ready, "the main resource ignores status");

    widgets.create(&PostParams::default(), &widget("other", 1)).await.unwrap();
    let labelled = widgets.list(&ListParams::default().labels("tier=a")).await.unwrap();
    assert_eq!(labelled.items.iter().map(|w| w.name_any()).collect::<Vec<_>>(), ["w"]);
    let by_name = widgets.list(&ListParams::default().fields("metadata.name=other")).await.unwrap();
    assert_eq!(by_name.items.iter().map(|w| w.name_any()).collect::<Vec<_>>(), ["other"]);
    let by_namespace =
        Api::<Widget>::all(twin.client()).list(&ListParams::default().fields("metadata.namespace=default")).await;
    assert_eq!(by_namespace.unwrap().items.len(), 2);
    let unsupported = api_error(widgets.list(&ListParams::default().fields("spec.size=4")).await);
    assert_eq!((unsupported.code, unsupported.message.as_str()), (400, "field label not supported: spec.size"));

    let deleted = widgets.delete("w", &DeleteParams::default()).await.unwrap();
    assert_eq!(
        deleted.left().map(|w| w.name_any()).as_deref(),
        Some("w"),
        "custom resources answer DELETE with the object"
    );
    let gone = api_error(widgets.get("w").await);
    assert_eq!((gone.code, gone.message.as_str()), (404, "widgets.example.com \"w\" not found"));
    widgets.delete_collection(&DeleteParams::default(), &ListParams::default()).await.unwrap();
    assert!(widgets.list(&ListParams::default()).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn a_watch_sees_custom_resources_change() {
    let twin = TestServer::start().await.unwrap();
    install_widgets(&twin).await;
    let widgets: Api<Widget> = Api::namespaced(twin.client(), "default");
    let events = watcher(widgets.clone(), watcher::Config::default()).boxed();
    let writes = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        widgets.create(&PostParams::default(), &widget("watched", 1)).await.unwrap();
        widgets.patch("watched", &PatchParams::default(), &Patch::Merge(json!({"spec": {"size": 2}}))).await.unwrap();
        widgets.delete("watched", &DeleteParams::default()).await.unwrap();
    };
    let seen = async {
        events
            .try_filter_map(|event| async move {
                Ok(match event {
                    watcher::Event::Apply(w) => Some(format!("apply {} size={}", w.name_any(), w.spec.size)),
                    watcher::Event::Delete(w) => Some(format!("delete {}", w.name_any())),
                    _ => None,
                })
            })
            .take(3)
            .try_collect::<Vec<String>>()
            .await
            .unwrap()
    };
    let ((), seen) = tokio::time::timeout(TIMEOUT, async { tokio::join!(writes, seen) }).await.expect("events in time");
    assert_eq!(seen, ["apply watched size=1", "apply watched size=2", "delete watched"]);
}

#[tokio::test]
async fn schema_validation_fails_with_kube_apiserver_messages() {
    let twin = TestServer::start().await.unwrap();
    install_widgets(&twin).await;
    let widgets = dynamic(&twin);
    let wrong_type = dynamic_object(
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "bad"}, "spec": {"size": "string"}}),
    );
    let error = api_error(widgets.create(&PostParams::default(), &wrong_type).await);
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        error.message,
        "Widget.example.com \"bad\" is invalid: spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\""
    );
    let causes = error.details.unwrap().causes;
    assert_eq!((causes[0].reason.as_str(), causes[0].field.as_str()), ("FieldValueTypeInvalid", "spec.size"));

    let out_of_range = dynamic_object(
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "big"}, "spec": {"size": 101}}),
    );
    let error = api_error(widgets.create(&PostParams::default(), &out_of_range).await);
    assert_eq!(
        error.message,
        "Widget.example.com \"big\" is invalid: spec.size: Invalid value: 101: spec.size in body should be less than or equal to 100"
    );
    let missing = dynamic_object(
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "empty"}, "spec": {}}),
    );
    let error = api_error(widgets.create(&PostParams::default(), &missing).await);
    assert_eq!(error.message, "Widget.example.com \"empty\" is invalid: spec.size: Required value");

    let typed: Api<Widget> = Api::namespaced(twin.client(), "default");
    typed.create(&PostParams::default(), &widget("ok", 1)).await.unwrap();
    let negative = Patch::Merge(json!({"spec": {"size": -1}}));
    let error = api_error(typed.patch("ok", &PatchParams::default(), &negative).await);
    assert!(error.message.ends_with("spec.size in body should be greater than or equal to 0"), "{}", error.message);
}

#[tokio::test]
async fn unknown_fields_are_pruned_and_defaults_applied() {
    let twin = TestServer::start().await.unwrap();
    install_widgets(&twin).await;
    let widgets = dynamic(&twin);
    let object =
        dynamic_object(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "pruned"},
        "spec": {"size": 2, "bogus": true}, "extra": 1}));
    let created = widgets.create(&PostParams::default(), &object).await.unwrap();
    assert_eq!(created.data["spec"], json!({"size": 2, "color": "blue", "replicas": 0}), "pruned and defaulted");
    assert!(created.data.get("extra").is_none());
    let stored = widgets.get("pruned").await.unwrap();
    assert_eq!(stored.data["spec"], created.data["spec"]);

    let strict = PatchParams { field_validation: Some(ValidationDirective::Strict), ..PatchParams::default() };
    let error = api_error(widgets.patch("pruned", &strict, &Patch::Merge(json!({"spec": {"bogus": 1}}))).await);
    assert_eq!(
        (error.code, error.message.as_str()),
        (
            400,
            "Widget in version \"v1\" cannot be handled as a Widget: strict decoding error: unknown field \"spec.bogus\""
        )
    );
    let ignored = PatchParams { field_validation: Some(ValidationDirective::Ignore), ..PatchParams::default() };
    let patched =
        widgets.patch("pruned", &ignored, &Patch::Merge(json!({"spec": {"bogus": 1, "size": 5}}))).await.unwrap();
    assert_eq!(patched.data["spec"], json!({"size": 5, "color": "blue", "replicas": 0}));
}

#[tokio::test]
async fn the_scale_subresource_follows_the_crd_paths() {
    let twin = TestServer::start().await.unwrap();
    install_widgets(&twin).await;
    let widgets: Api<Widget> = Api::namespaced(twin.client(), "default");
    widgets.create(&PostParams::default(), &widget("scaled", 1)).await.unwrap();
    let status = Patch::Merge(json!({"status": {"ready": true, "replicas": 1, "selector": "app=scaled"}}));
    widgets.patch_status("scaled", &PatchParams::default(), &status).await.unwrap();
    let scale = widgets.get_scale("scaled").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    let scale_status = scale.status.unwrap();
    assert_eq!((scale_status.replicas, scale_status.selector.as_deref()), (1, Some("app=scaled")));

    let patch = Patch::Merge(json!({"spec": {"replicas": 4}}));
    let scaled = widgets.patch_scale("scaled", &PatchParams::default(), &patch).await.unwrap();
    assert_eq!(scaled.spec.unwrap().replicas, Some(4));
    let widget = widgets.get("scaled").await.unwrap();
    assert_eq!((widget.spec.replicas, widget.metadata.generation), (4, Some(2)));
}

const GADGETS: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "gadgets.example.com"},
  "spec": {"group": "example.com", "scope": "Cluster",
    "names": {"plural": "gadgets", "kind": "Gadget", "listKind": "GadgetCollection"},
    "versions": [
      {"name": "v1", "served": true, "storage": true,
       "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"mode": {"type": "string", "default": "auto"}}}}}}},
      {"name": "v1beta1", "served": true, "storage": false, "deprecated": true,
       "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"mode": {"type": "string"}}}}}}}]}}"#;

fn gadgets(twin: &TestServer, version: &str) -> Api<DynamicObject> {
    Api::all_with(twin.client(), &ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", version, "Gadget")))
}

#[tokio::test]
async fn versions_share_storage_and_rewrite_the_api_version() {
    let twin = TestServer::start().await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(twin.client());
    crds.create(&PostParams::default(), &serde_json::from_str(GADGETS).unwrap()).await.unwrap();
    let established = await_condition(crds.clone(), "gadgets.example.com", conditions::is_crd_established());
    tokio::time::timeout(TIMEOUT, established).await.unwrap().unwrap();
    let object = dynamic_object(
        json!({"apiVersion": "example.com/v1beta1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"mode": "manual"}}),
    );
    let created = gadgets(&twin, "v1beta1").create(&PostParams::default(), &object).await.unwrap();
    assert_eq!(created.types.unwrap().api_version, "example.com/v1beta1");
    let as_v1 = gadgets(&twin, "v1").get("g").await.unwrap();
    assert_eq!(as_v1.types.unwrap().api_version, "example.com/v1");
    assert_eq!(as_v1.data["spec"]["mode"], "manual");
    let stored = twin.server().instance().store.range(kubetwin::store::RangeRequest::new(
        kubetwin::store::KeyRange::key(b"/registry/example.com/gadgets/g".to_vec()),
    ));
    let stored: Value = serde_json::from_slice(&stored.unwrap().kvs[0].value).unwrap();
    assert_eq!(stored["apiVersion"], "example.com/v1", "objects are kept in the storage version");
    let list: Value =
        serde_json::from_str(twin.kubectl(&["get", "--raw", "/apis/example.com/v1/gadgets"]).await.ok()).unwrap();
    assert_eq!((&list["kind"], &list["apiVersion"]), (&json!("GadgetCollection"), &json!("example.com/v1")));

    let warned = twin.kubectl(&["get", "gadgets.v1beta1.example.com", "g"]).await;
    assert!(warned.stderr.contains("Warning: example.com/v1beta1 Gadget is deprecated"), "{}", warned.stderr);
}

#[tokio::test]
async fn deleting_a_crd_removes_its_resources_and_its_api() {
    let twin = TestServer::start().await.unwrap();
    install_widgets(&twin).await;
    let widgets: Api<Widget> = Api::namespaced(twin.client(), "default");
    widgets.create(&PostParams::default(), &widget("a", 1)).await.unwrap();
    widgets.create(&PostParams::default(), &widget("b", 2)).await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(twin.client());
    crds.delete("widgets.example.com", &DeleteParams::default()).await.unwrap();
    let gone = await_condition(crds.clone(), "widgets.example.com", conditions::is_deleted(""));
    tokio::time::timeout(TIMEOUT, gone).await.expect("deleted in time").unwrap();
    let prefix = kubetwin::store::KeyRange::prefix(b"/registry/example.com/widgets/".to_vec());
    let left = twin.server().instance().store.range(kubetwin::store::RangeRequest::new(prefix)).unwrap();
    assert!(left.kvs.is_empty(), "every custom resource is deleted with its CRD");
    let error = api_error(widgets.list(&ListParams::default()).await);
    assert_eq!(error.code, 404);
    let groups = twin.kubectl(&["api-resources", "--api-group=example.com", "-o", "name"]).await;
    assert_eq!(groups.ok().trim(), "");
}

#[tokio::test]
async fn invalid_crds_are_refused() {
    let twin = TestServer::start().await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(twin.client());
    let mut crd: Value = serde_json::from_str(GADGETS).unwrap();
    crd["spec"]["versions"][1]["storage"] = json!(true);
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["mode"] =
        json!({"description": "no type"});
    let error = api_error(crds.create(&PostParams::default(), &serde_json::from_value(crd).unwrap()).await);
    assert_eq!(error.code, 422);
    assert!(
        error
            .message
            .starts_with("CustomResourceDefinition.apiextensions.k8s.io \"gadgets.example.com\" is invalid: ["),
        "{}",
        error.message
    );
    assert!(error.message.contains("must have exactly one version marked as storage version"), "{}", error.message);
    assert!(
        error.message.contains("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[mode].type: Required value: must not be empty for specified object fields"),
        "{}",
        error.message
    );
}

const CRD_YAML: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: CronTabSpec says when and what to run.
            properties:
              cronSpec:
                type: string
                description: The schedule, in cron format.
              image:
                type: string
                description: The image to run.
              replicas:
                type: integer
                minimum: 1
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
"#;

const CRONTAB_YAML: &str = r#"
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: my-cron
spec:
  cronSpec: "* * * * */5"
  image: my-cron-image
  replicas: 3
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_a_crd_prints_its_columns_and_explains_it() {
    let twin = TestServer::start().await.unwrap();
    let applied = twin.kubectl_with_input(&["apply", "-f", "-"], CRD_YAML).await;
    assert_eq!(
        applied.ok().trim(),
        "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created"
    );
    twin.kubectl(&["wait", "--for=condition=Established", "crd/crontabs.stable.example.com", "--timeout=5s"])
        .await
        .ok();
    twin.kubectl_with_input(&["apply", "-f", "-"], CRONTAB_YAML).await.ok();

    let table = twin.kubectl(&["get", "crontabs"]).await;
    let rows: Vec<Vec<&str>> = table.ok().lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "SPEC", "REPLICAS", "AGE"]);
    assert_eq!(&rows[1][..7], ["my-cron", "*", "*", "*", "*", "*/5", "3"]);
    let short = twin.kubectl(&["get", "ct", "-o", "jsonpath={.items[0].spec.image}"]).await;
    assert_eq!(short.ok(), "my-cron-image");
    let watch = twin.kubectl(&["get", "crontabs", "-w", "--watch-only", "--request-timeout=2s"]);
    let change = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        twin.kubectl(&["label", "crontab", "my-cron", "tier=web"]).await.ok();
    };
    let (watched, ()) = tokio::join!(watch, change);
    let watched: Vec<Vec<&str>> = watched.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert!(
        watched.iter().any(|row| row.len() > 6 && row[..7] == rows[1][..7]),
        "watch rows use the CRD's columns: {watched:?}"
    );

    let strict = twin
        .kubectl_with_input(&["apply", "-f", "-"], &CRONTAB_YAML.replace("replicas: 3", "replicas: 3\n  bogus: 1"))
        .await;
    assert!(strict.err().contains("unknown field \"spec.bogus\""), "{}", strict.stderr);
    let invalid =
        twin.kubectl_with_input(&["apply", "-f", "-"], &CRONTAB_YAML.replace("replicas: 3", "replicas: 0")).await;
    assert!(invalid.err().contains("spec.replicas in body should be greater than or equal to 1"), "{}", invalid.stderr);

    let explained = twin.kubectl(&["explain", "crontab.spec"]).await;
    let explained = explained.ok();
    assert!(explained.contains("KIND:       CronTab"), "{explained}");
    assert!(explained.contains("FIELD: spec <Object>"), "{explained}");
    assert!(explained.contains("CronTabSpec says when and what to run."), "{explained}");
    assert!(
        explained.contains("cronSpec\t<string>") && explained.contains("The schedule, in cron format."),
        "{explained}"
    );
}

/// A CRD whose schema carries a description of `size` bytes.
fn big_crd(size: usize) -> String {
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: bigs.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {{kind: Big, plural: bigs}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        description: "{}"
"#,
        "x".repeat(size)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_too_big_for_client_side_apply_goes_in_with_server_side_apply() {
    let twin = TestServer::start().await.unwrap();
    let crd = big_crd(300 * 1024);
    let refused = twin.kubectl_with_input(&["apply", "-f", "-"], &crd).await;
    assert!(
        refused.err().contains(
            "The CustomResourceDefinition \"bigs.example.com\" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes"
        ),
        "{}",
        refused.stderr
    );
    let applied = twin.kubectl_with_input(&["apply", "--server-side", "-f", "-"], &crd).await;
    assert_eq!(
        applied.ok().trim(),
        "customresourcedefinition.apiextensions.k8s.io/bigs.example.com serverside-applied"
    );
}

#[tokio::test]
async fn labels_and_annotations_are_validated_on_every_kind() {
    let twin = TestServer::start().await.unwrap();
    install_widgets(&twin).await;
    let mut bad = widget("labelled", 1);
    bad.metadata.labels = Some([("app".to_string(), "not valid!".to_string())].into());
    let status = api_error(Api::<Widget>::default_namespaced(twin.client()).create(&PostParams::default(), &bad).await);
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(
        status.message.starts_with("Widget.example.com \"labelled\" is invalid: metadata.labels: Invalid value: \"not valid!\": a valid label must be an empty string"),
        "{}",
        status.message
    );
}

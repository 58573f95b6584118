//! A kube-rs `Controller` over a custom resource, against kubetwin over HTTPS: the CRD of a
//! `#[derive(CustomResource)]` type is created from `Kind::crd()`, and the controller, built on
//! the `finalizer` helper, server-side applies a ConfigMap owned by each custom resource (its
//! ownerReference from `controller_owner_ref`) and applies `.status.ready = true` through the
//! status subresource. Deleting the custom resource runs the cleanup while the finalizer still
//! holds it, then the resource goes, and the garbage collector removes the ConfigMap it owned.

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::{conditions, wait::await_condition, watcher};
use kube::{Client, CustomResource, CustomResourceExt, Resource, ResourceExt};
use kubetwin_harness::TestServer;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A greeting the controller publishes as a ConfigMap of the same name.
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
#[kube(group = "example.com", version = "v1", kind = "Greeting", namespaced, status = "GreetingStatus")]
pub struct GreetingSpec {
    message: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default, JsonSchema)]
pub struct GreetingStatus {
    ready: bool,
}

const WAIT: Duration = Duration::from_secs(5);
const FINALIZER: &str = "greetings.example.com/cleanup";
/// The field manager the controller applies as.
const MANAGER: &str = "greeting-controller";

/// What the cleanup of one greeting saw.
#[derive(Debug, PartialEq)]
struct Cleanup {
    name: String,
    /// The greeting was still stored, marked for deletion and held by the finalizer.
    held: bool,
    /// Its ConfigMap was still there (the garbage collector waits for the owner to go).
    configmap_present: bool,
}

/// The controller's context: its client and the cleanups it ran.
struct Context {
    client: Client,
    cleanups: Mutex<Vec<Cleanup>>,
}

/// Publishes the greeting's ConfigMap and reports it ready.
async fn publish(greeting: &Greeting, greetings: &Api<Greeting>, configmaps: &Api<ConfigMap>) -> kube::Result<Action> {
    let name = greeting.name_any();
    let configmap = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            owner_references: Some(vec![greeting.controller_owner_ref(&()).expect("stored greetings have a uid")]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("message".to_string(), greeting.spec.message.clone())])),
        ..ConfigMap::default()
    };
    let apply = PatchParams::apply(MANAGER).force();
    configmaps.patch(&name, &apply, &Patch::Apply(&configmap)).await?;
    let status =
        json!({"apiVersion": Greeting::api_version(&()), "kind": Greeting::kind(&()), "status": {"ready": true}});
    greetings.patch_status(&name, &apply, &Patch::Apply(&status)).await?;
    Ok(Action::await_change())
}

/// Records what the greeting's cleanup finds, before the finalizer lets it go.
async fn clean_up(
    greeting: &Greeting,
    greetings: &Api<Greeting>,
    configmaps: &Api<ConfigMap>,
    context: &Context,
) -> kube::Result<Action> {
    let name = greeting.name_any();
    let live = greetings.get(&name).await?;
    let held = live.metadata.deletion_timestamp.is_some() && live.finalizers().iter().any(|f| f == FINALIZER);
    let configmap_present = configmaps.get_opt(&name).await?.is_some();
    context.cleanups.lock().unwrap().push(Cleanup { name, held, configmap_present });
    Ok(Action::await_change())
}

async fn reconcile(greeting: Arc<Greeting>, context: Arc<Context>) -> Result<Action, finalizer::Error<kube::Error>> {
    let namespace = greeting.namespace().expect("greetings are namespaced");
    let greetings: Api<Greeting> = Api::namespaced(context.client.clone(), &namespace);
    let configmaps: Api<ConfigMap> = Api::namespaced(context.client.clone(), &namespace);
    finalizer(&greetings, FINALIZER, greeting, |event| async {
        match event {
            finalizer::Event::Apply(greeting) => publish(&greeting, &greetings, &configmaps).await,
            finalizer::Event::Cleanup(greeting) => clean_up(&greeting, &greetings, &configmaps, &context).await,
        }
    })
    .await
}

fn retry(_: Arc<Greeting>, _: &finalizer::Error<kube::Error>, _: Arc<Context>) -> Action {
    Action::requeue(Duration::from_millis(50))
}

/// Creates the Greeting CRD from the derived type and waits until it is Established.
async fn install_crd(client: Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    crds.create(&PostParams::default(), &Greeting::crd()).await.unwrap();
    let established = await_condition(crds, "greetings.example.com", conditions::is_crd_established());
    tokio::time::timeout(WAIT, established).await.expect("Established in time").unwrap();
}

/// Runs the controller until the returned handle is aborted.
fn run_controller(context: Arc<Context>) -> tokio::task::JoinHandle<()> {
    let client = context.client.clone();
    let controller = Controller::new(Api::<Greeting>::all(client.clone()), watcher::Config::default())
        .owns(Api::<ConfigMap>::all(client), watcher::Config::default())
        .run(reconcile, retry, context)
        .for_each(|_| futures::future::ready(()));
    tokio::spawn(controller)
}

/// Waits until the greeting's ConfigMap carries `message`.
async fn configmap_with(twin: &TestServer, name: &str, message: &str) -> ConfigMap {
    let carries = |cm: &ConfigMap| cm.data.as_ref().and_then(|d| d.get("message")).is_some_and(|m| m == message);
    twin.wait_for(Some("default"), name, WAIT, carries).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_owns_a_configmap_sets_status_and_cleans_up_through_its_finalizer() {
    let twin = TestServer::start().await.unwrap();
    install_crd(twin.client()).await;
    let context = Arc::new(Context { client: twin.client(), cleanups: Mutex::new(Vec::new()) });
    let controller = run_controller(context.clone());
    let greetings: Api<Greeting> = Api::namespaced(twin.client(), "default");
    let hello = Greeting::new("hello", GreetingSpec { message: "hi".into() });
    let created = greetings.create(&PostParams::default(), &hello).await.unwrap();

    let configmap = configmap_with(&twin, "hello", "hi").await;
    let owners = configmap.metadata.owner_references.clone().unwrap_or_default();
    let owner = owners.first().expect("the ConfigMap is owned");
    assert_eq!(
        (owner.api_version.as_str(), owner.kind.as_str(), owner.name.as_str(), &owner.uid),
        ("example.com/v1", "Greeting", "hello", created.metadata.uid.as_ref().unwrap())
    );
    assert_eq!((owner.controller, owners.len()), (Some(true), 1));
    let managers: Vec<(String, String)> = configmap
        .managed_fields()
        .iter()
        .map(|m| (m.manager.clone().unwrap_or_default(), m.operation.clone().unwrap_or_default()))
        .collect();
    assert_eq!(managers, [(MANAGER.to_string(), "Apply".to_string())]);
    let ready = twin
        .wait_for(Some("default"), "hello", WAIT, |g: &Greeting| g.status.as_ref().is_some_and(|s| s.ready))
        .await
        .unwrap();
    assert_eq!(ready.finalizers(), [FINALIZER]);
    let status_manager = ready.managed_fields().iter().find(|m| m.subresource.as_deref() == Some("status"));
    assert_eq!(status_manager.and_then(|m| m.manager.as_deref()), Some(MANAGER), "status is applied by the controller");

    let change = Patch::Merge(json!({"spec": {"message": "bye"}}));
    greetings.patch("hello", &PatchParams::default(), &change).await.unwrap();
    configmap_with(&twin, "hello", "bye").await;

    // Deleting: the finalizer holds the greeting while the cleanup runs; then it goes, and the
    // garbage collector removes the ConfigMap it owned.
    let deleting = greetings.delete("hello", &DeleteParams::default()).await.unwrap();
    let marked = deleting.left().expect("the greeting, held by its finalizer");
    assert!(marked.metadata.deletion_timestamp.is_some());
    twin.wait_deleted::<Greeting>(Some("default"), "hello", WAIT).await.unwrap();
    let cleanups = std::mem::take(&mut *context.cleanups.lock().unwrap());
    assert_eq!(cleanups, [Cleanup { name: "hello".into(), held: true, configmap_present: true }]);
    twin.wait_deleted::<ConfigMap>(Some("default"), "hello", WAIT).await.unwrap();
    controller.abort();
}

//! A complete controller test, ready to copy: a kube-runtime `Controller` that mirrors every
//! ConfigMap labelled `mirror=true` into a Secret it owns, tested against a kubetwin server.
//! The garbage collector removes the Secret when its ConfigMap goes, the request log shows the
//! controller's writes, and a wait follows the watch instead of sleeping.
//!
//! `cargo test -p kubetwin-harness --example mirror_controller` runs it (CI runs it with the
//! rest of `cargo test --workspace`); `cargo run -p kubetwin-harness --example mirror_controller`
//! runs the controller against a fresh server for a few seconds.

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The field manager the controller writes as.
const MANAGER: &str = "mirror-controller";

/// Makes the mirror Secret match its ConfigMap.
async fn reconcile(source: Arc<ConfigMap>, client: Arc<Client>) -> Result<Action, kube::Error> {
    let namespace = source.namespace().unwrap_or_else(|| "default".into());
    let owner =
        OwnerReference { controller: Some(true), ..source.controller_owner_ref(&()).expect("configmaps have uids") };
    let data: BTreeMap<String, String> = source.data.clone().unwrap_or_default();
    let mirror = Secret {
        metadata: ObjectMeta {
            name: Some(source.name_any()),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        string_data: Some(data),
        ..Default::default()
    };
    let secrets: Api<Secret> = Api::namespaced((*client).clone(), &namespace);
    secrets.patch(&source.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(&mirror)).await?;
    Ok(Action::await_change())
}

fn retry(_: Arc<ConfigMap>, _: &kube::Error, _: Arc<Client>) -> Action {
    Action::requeue(Duration::from_millis(50))
}

/// Runs the controller until the returned handle is dropped or aborted.
fn run(client: Client) -> tokio::task::JoinHandle<()> {
    let configmaps: Api<ConfigMap> = Api::all(client.clone());
    let controller = Controller::new(configmaps, watcher::Config::default().labels("mirror=true"))
        .owns(Api::<Secret>::all(client.clone()), watcher::Config::default())
        .run(reconcile, retry, Arc::new(client))
        .for_each(|_| futures::future::ready(()));
    tokio::spawn(controller)
}

#[tokio::main]
async fn main() {
    let twin = kubetwin_harness::TestServer::start().await.expect("a server");
    println!("mirroring ConfigMaps on {}; kubeconfig {}", twin.url(), twin.kubeconfig_path().display());
    let controller = run(twin.client());
    tokio::time::sleep(Duration::from_secs(5)).await;
    controller.abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::{DeleteParams, PostParams};
    use kubetwin_harness::TestServer;

    const WAIT: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn configmaps_are_mirrored_and_mirrors_go_with_them() {
        let twin = TestServer::start().await.unwrap();
        let controller = run(twin.client());
        let configmaps: Api<ConfigMap> = Api::namespaced(twin.client(), "default");
        let source: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "settings", "labels": {"mirror": "true"}},
            "data": {"mode": "fast"},
        }))
        .unwrap();
        configmaps.create(&PostParams::default(), &source).await.unwrap();

        let mirrored: Secret = twin
            .wait_for(Some("default"), "settings", WAIT, |s: &Secret| {
                s.data.as_ref().is_some_and(|d| d.contains_key("mode"))
            })
            .await
            .unwrap();
        assert_eq!(mirrored.data.unwrap()["mode"].0, b"fast");
        let writes = twin.requests().matching("patch", "secrets");
        assert!(writes.iter().all(|r| r.field_manager.as_deref() == Some(MANAGER)));

        configmaps.delete("settings", &DeleteParams::default()).await.unwrap();
        twin.wait_deleted::<Secret>(Some("default"), "settings", WAIT).await.unwrap();
        controller.abort();
    }
}

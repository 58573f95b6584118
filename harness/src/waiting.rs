//! Waiting for the cluster to reach a state: an object satisfying a predicate, an object gone,
//! or a condition True. Each follows a watch (so it returns as soon as the change lands) and
//! fails after its timeout with a message that shows the last state seen.

use crate::TestServer;
use futures::{Stream, StreamExt};
use k8s_openapi::serde::Serialize;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::Resource;
use kube::api::Api;
use kube::runtime::watcher::{self, watcher};
use std::fmt::Debug;
use std::time::Duration;

/// A wait that ran out of time. It converts into [`crate::Error`] with `?`.
///
/// ```rust
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kubetwin_harness::Error> {
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use std::time::Duration;
/// let twin = kubetwin_harness::TestServer::start().await?;
/// let wait = twin.wait_for(Some("default"), "missing", Duration::from_millis(50), |_: &ConfigMap| true);
/// let error = wait.await.unwrap_err();
/// assert!(error.message.contains("waiting for configmaps default/missing"), "{error}");
/// assert!(error.message.ends_with("last seen: the object did not exist"), "{error}");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitError {
    /// What was awaited, for how long, and the last state seen (the object as JSON, or that it did
    /// not exist). The same text is the error's `Display`.
    pub message: String,
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WaitError {}

fn describe<K: Serialize>(object: &Option<K>) -> String {
    match object {
        None => "the object did not exist".to_string(),
        Some(object) => serde_json::to_string_pretty(object).unwrap_or_else(|e| format!("<unprintable: {e}>")),
    }
}

impl TestServer {
    /// The object's states as a watch sees them: `Some` while it exists, `None` once it does
    /// not (or not yet).
    fn states<K>(&self, namespace: Option<&str>, name: &str) -> impl Stream<Item = Option<K>> + Send + use<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
    {
        let mut fields = format!("metadata.name={name}");
        if let Some(namespace) = namespace {
            fields.push_str(&format!(",metadata.namespace={namespace}"));
        }
        let api: Api<K> = Api::all(self.client());
        let mut listing: Option<K> = None;
        watcher(api, watcher::Config::default().fields(&fields)).filter_map(move |event| {
            let state = match event {
                Ok(watcher::Event::Apply(object)) => Some(Some(object)),
                Ok(watcher::Event::Delete(_)) => Some(None),
                Ok(watcher::Event::Init) => {
                    listing = None;
                    None
                }
                Ok(watcher::Event::InitApply(object)) => {
                    listing = Some(object);
                    None
                }
                Ok(watcher::Event::InitDone) => Some(listing.take()),
                Err(_) => None,
            };
            std::future::ready(state)
        })
    }

    /// Waits until the object exists and `condition` holds for it; returns it. `namespace` is
    /// `None` for a cluster-scoped object.
    ///
    /// # Errors
    ///
    /// A [`WaitError`] showing the last state seen, when `timeout` passes first.
    ///
    /// # Examples
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::{Api, PostParams};
    /// use std::time::Duration;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// let settings = serde_json::json!({"metadata": {"name": "settings"}, "data": {"mode": "fast"}});
    /// let settings = serde_json::from_value(settings)?;
    /// let controller = tokio::spawn(async move { configmaps.create(&PostParams::default(), &settings).await });
    /// let found = twin.wait_for(Some("default"), "settings", Duration::from_secs(5), |cm: &ConfigMap| {
    ///     cm.data.as_ref().is_some_and(|d| d["mode"] == "fast")
    /// }).await?;
    /// assert_eq!(found.metadata.name.as_deref(), Some("settings"));
    /// # controller.await??;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_for<K>(
        &self,
        namespace: Option<&str>,
        name: &str,
        timeout: Duration,
        condition: impl Fn(&K) -> bool,
    ) -> Result<K, WaitError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
    {
        let mut last: Option<K> = None;
        let mut states = Box::pin(self.states::<K>(namespace, name));
        let outcome = tokio::time::timeout(timeout, async {
            while let Some(state) = states.next().await {
                last = state;
                if last.as_ref().is_some_and(&condition) {
                    return true;
                }
            }
            false
        })
        .await;
        match (outcome, last) {
            (Ok(true), Some(object)) => Ok(object),
            (_, last) => Err(WaitError {
                message: format!(
                    "timed out after {timeout:?} waiting for {} {}{name}; last seen: {}",
                    K::plural(&()),
                    namespace.map(|n| format!("{n}/")).unwrap_or_default(),
                    describe(&last)
                ),
            }),
        }
    }

    /// Waits until the object no longer exists (it returns at once when it never did).
    ///
    /// # Errors
    ///
    /// A [`WaitError`] showing the object as last seen, when `timeout` passes first.
    ///
    /// # Examples
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
    /// use std::time::Duration;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let configmaps: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// let held = serde_json::json!({"metadata": {"name": "settings", "finalizers": ["example.com/cleanup"]}});
    /// configmaps.create(&PostParams::default(), &serde_json::from_value(held)?).await?;
    /// configmaps.delete("settings", &DeleteParams::default()).await?;
    /// assert!(twin.wait_deleted::<ConfigMap>(Some("default"), "settings", Duration::from_millis(100)).await.is_err());
    /// let release = Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}}));
    /// configmaps.patch("settings", &PatchParams::default(), &release).await?;
    /// twin.wait_deleted::<ConfigMap>(Some("default"), "settings", Duration::from_secs(5)).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_deleted<K>(&self, namespace: Option<&str>, name: &str, timeout: Duration) -> Result<(), WaitError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
    {
        let mut last: Option<K> = None;
        let mut states = Box::pin(self.states::<K>(namespace, name));
        let gone = tokio::time::timeout(timeout, async {
            while let Some(state) = states.next().await {
                if state.is_none() {
                    return true;
                }
                last = state;
            }
            false
        })
        .await;
        if gone == Ok(true) {
            return Ok(());
        }
        Err(WaitError {
            message: format!(
                "timed out after {timeout:?} waiting for {} {}{name} to be deleted; last seen: {}",
                K::plural(&()),
                namespace.map(|n| format!("{n}/")).unwrap_or_default(),
                describe(&last)
            ),
        })
    }

    /// Waits until the object's `status.conditions` has `condition_type` with status `True`;
    /// returns the object.
    ///
    /// # Errors
    ///
    /// A [`WaitError`] showing the last state seen, when `timeout` passes first.
    ///
    /// # Examples
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::Pod;
    /// use kube::api::{Api, Patch, PatchParams, PostParams};
    /// use std::time::Duration;
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let pods: Api<Pod> = Api::default_namespaced(twin.client());
    /// let containers = serde_json::json!([{"name": "app", "image": "nginx"}]);
    /// let pod = serde_json::json!({"metadata": {"name": "web"}, "spec": {"containers": containers}});
    /// pods.create(&PostParams::default(), &serde_json::from_value(pod)?).await?;
    /// let kubelet = serde_json::json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    /// pods.patch_status("web", &PatchParams::default(), &Patch::Merge(&kubelet)).await?;
    /// let ready: Pod = twin.wait_for_condition(Some("default"), "web", "Ready", Duration::from_secs(5)).await?;
    /// assert!(ready.status.is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_for_condition<K>(
        &self,
        namespace: Option<&str>,
        name: &str,
        condition_type: &str,
        timeout: Duration,
    ) -> Result<K, WaitError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
    {
        self.wait_for(namespace, name, timeout, |object: &K| {
            let value = serde_json::to_value(object).unwrap_or_default();
            value.pointer("/status/conditions").and_then(|c| c.as_array()).is_some_and(|conditions| {
                conditions.iter().any(|c| c["type"] == condition_type && c["status"] == "True")
            })
        })
        .await
    }
}

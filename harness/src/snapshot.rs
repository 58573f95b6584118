//! Snapshots of what a test left in the cluster: every object it created (not the ones a fresh
//! cluster starts with), in a stable order, with the server-chosen values that differ from run
//! to run replaced by placeholders, ready for `insta::assert_yaml_snapshot!`.

use crate::TestServer;
use kube::Resource;
use kubetwin::store::{KeyRange, RangeRequest};
use serde_json::Value;

/// Objects every namespace gets by itself.
const AUTOMATIC: [(&str, &str); 2] = [("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")];

fn redact(object: &mut Value, deterministic: bool) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    if deterministic {
        return;
    }
    for (field, placeholder) in
        [("uid", "<uid>"), ("resourceVersion", "<resourceVersion>"), ("creationTimestamp", "<timestamp>")]
    {
        if metadata.contains_key(field) {
            metadata.insert(field.into(), Value::String(placeholder.into()));
        }
    }
    for entry in metadata.get_mut("managedFields").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(entry) = entry.as_object_mut().filter(|e| e.contains_key("time")) {
            entry.insert("time".into(), Value::String("<timestamp>".into()));
        }
    }
}

fn sort_key(object: &Value) -> (String, String, String, String) {
    let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string();
    (text("/apiVersion"), text("/kind"), text("/metadata/namespace"), text("/metadata/name"))
}

impl TestServer {
    /// Every object created since the server started, sorted by apiVersion, kind, namespace and
    /// name, redacted unless the server is deterministic: `uid`, `resourceVersion`,
    /// `creationTimestamp` and the `time` of `managedFields` entries become placeholders. The
    /// objects every namespace gets by itself (its `default` ServiceAccount and `kube-root-ca.crt`
    /// ConfigMap) are left out. Snapshot it with `insta::assert_yaml_snapshot!(twin.snapshot())`.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::{Api, PostParams};
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let settings = serde_json::from_value(serde_json::json!({"metadata": {"name": "settings"}}))?;
    /// Api::<ConfigMap>::default_namespaced(twin.client()).create(&PostParams::default(), &settings).await?;
    /// let snapshot = twin.snapshot();
    /// assert_eq!(snapshot.as_array().map(Vec::len), Some(1), "only what the test created");
    /// assert_eq!(snapshot[0]["metadata"]["name"], "settings");
    /// assert_eq!(snapshot[0]["metadata"]["uid"], "<uid>");
    /// # Ok(())
    /// # }
    /// ```
    pub fn snapshot(&self) -> Value {
        let instance = self.server().instance();
        let listing = instance.store.range(RangeRequest::new(KeyRange::prefix(b"/registry/".to_vec())));
        let mut objects: Vec<Value> = listing
            .map(|r| r.kvs)
            .unwrap_or_default()
            .into_iter()
            .filter(|kv| kv.create_revision > self.baseline_revision)
            .filter_map(|kv| {
                let mut object = kubetwin::registry::encoding::decode(&kv.value, kv.mod_revision);
                let kind = object["kind"].as_str().unwrap_or_default();
                let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                if AUTOMATIC.contains(&(kind, name)) {
                    return None;
                }
                redact(&mut object, self.deterministic);
                Some(object)
            })
            .collect();
        objects.sort_by_key(sort_key);
        Value::Array(objects)
    }

    /// [`TestServer::snapshot`], of one kind only.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    /// use kube::api::{Api, PostParams};
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let team = serde_json::from_value(serde_json::json!({"metadata": {"name": "team"}}))?;
    /// Api::<Namespace>::all(twin.client()).create(&PostParams::default(), &team).await?;
    /// let settings = serde_json::from_value(serde_json::json!({"metadata": {"name": "settings"}}))?;
    /// Api::<ConfigMap>::namespaced(twin.client(), "team").create(&PostParams::default(), &settings).await?;
    /// let configmaps = twin.snapshot_of::<ConfigMap>();
    /// assert_eq!(configmaps.as_array().map(Vec::len), Some(1));
    /// assert_eq!(configmaps[0]["metadata"]["namespace"], "team");
    /// # Ok(())
    /// # }
    /// ```
    pub fn snapshot_of<K: Resource<DynamicType = ()>>(&self) -> Value {
        let (kind, api_version) = (K::kind(&()), K::api_version(&()));
        let all = self.snapshot();
        let matching = all
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| o["kind"] == kind.as_ref() && o["apiVersion"] == api_version.as_ref());
        Value::Array(matching.cloned().collect())
    }
}

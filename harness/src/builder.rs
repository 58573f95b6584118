//! [`TestServerBuilder`]: a server with CRDs and objects present from the start, another
//! authorization mode, admission plugins turned off, or a deterministic clock and identifiers.

use crate::{Error, TestServer};
use kubetwin::auth::authorize::AuthorizationMode;
use kubetwin::registry::admission_plugins::PluginChange;
use kubetwin::server::ServerConfig;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The field manager the builder's objects are created under.
const FIELD_MANAGER: &str = "kubetwin-harness";

/// Configures a [`TestServer`] before it starts; get one from [`TestServer::builder`] and finish
/// with [`TestServerBuilder::start`].
///
/// ```rust
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kubetwin_harness::Error> {
/// use k8s_openapi::api::core::v1::Namespace;
/// use kube::api::Api;
/// let team = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}});
/// let twin = kubetwin_harness::TestServer::builder().deterministic(7).object(team)?.start().await?;
/// assert!(Api::<Namespace>::all(twin.client()).get_opt("team").await?.is_some());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TestServerBuilder {
    config: ServerConfig,
    crd_paths: Vec<PathBuf>,
    manifest_paths: Vec<PathBuf>,
    objects: Vec<Value>,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            config: ServerConfig { secure_port: 0, shared_pki: crate::shared_pki().ok(), ..ServerConfig::default() },
            crd_paths: Vec::new(),
            manifest_paths: Vec::new(),
            objects: Vec::new(),
        }
    }
}

impl TestServerBuilder {
    /// Stable UIDs and generated names from `seed`, and a fixed clock that moves only with
    /// [`TestServer::advance_clock`]. Two servers started with the same seed and given the same
    /// requests create identical objects, so [`TestServer::snapshot`] is not redacted for them.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::Namespace;
    /// use kube::api::Api;
    /// use kubetwin_harness::TestServer;
    /// let team = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}});
    /// let mut uids = Vec::new();
    /// for _ in 0..2 {
    ///     let twin = TestServer::builder().deterministic(7).object(&team)?.start().await?;
    ///     uids.push(Api::<Namespace>::all(twin.client()).get("team").await?.metadata.uid);
    /// }
    /// assert_eq!(uids[0], uids[1], "the same seed gives the same uid");
    /// # Ok(())
    /// # }
    /// ```
    pub fn deterministic(mut self, seed: u64) -> Self {
        self.config.deterministic_seed = Some(seed);
        self
    }

    /// `--authorization-mode`, e.g. `"RBAC"` (the default) or `"AlwaysAllow"` (comma-separated for
    /// a chain of `AlwaysAllow`, `AlwaysDeny`, `RBAC` and `Webhook`).
    ///
    /// # Errors
    ///
    /// When a mode is not one of those.
    ///
    /// # Examples
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::Secret;
    /// use kube::api::Api;
    /// use kubetwin_harness::TestServer;
    /// let twin = TestServer::builder().authorization_mode("AlwaysAllow")?.start().await?;
    /// let alice = twin.client_as_user("alice", &[]).await?;
    /// assert!(Api::<Secret>::default_namespaced(alice).list(&Default::default()).await.is_ok());
    /// assert!(TestServer::builder().authorization_mode("Sometimes").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn authorization_mode(mut self, modes: &str) -> Result<Self, Error> {
        let parsed: Result<Vec<_>, String> = modes.split(',').map(|m| AuthorizationMode::parse(m.trim())).collect();
        self.config.instance.auth.authorization_modes = parsed?;
        Ok(self)
    }

    /// `--enable-admission-plugins` and `--disable-admission-plugins`, by kube-apiserver's
    /// plugin names. kubetwin implements `NamespaceLifecycle` (always on), `ServiceAccount`,
    /// `Priority` and `DefaultTolerationSeconds`, all on by default as in kube-apiserver.
    /// Without `ServiceAccount`, pods get no ServiceAccount and no API token volume; without
    /// `Priority`, no `priority`; without `DefaultTolerationSeconds`, no default tolerations.
    ///
    /// # Errors
    ///
    /// A name kube-apiserver does not know, a name in both lists (both worded as kube-apiserver
    /// words them), or a plugin kube-apiserver knows that kubetwin does not implement (or
    /// cannot turn off): a test must not believe a plugin runs, or does not, when it is not so.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::Pod;
    /// use kube::api::{Api, PostParams};
    /// use kubetwin_harness::TestServer;
    /// let twin = TestServer::builder().admission_plugins(&[], &["ServiceAccount", "DefaultTolerationSeconds"])?.start().await?;
    /// let containers = serde_json::json!([{"name": "app", "image": "nginx"}]);
    /// let pod = serde_json::json!({"metadata": {"name": "web"}, "spec": {"containers": containers}});
    /// let pods: Api<Pod> = Api::default_namespaced(twin.client());
    /// let spec = pods.create(&PostParams::default(), &serde_json::from_value(pod)?).await?.spec.expect("a spec");
    /// assert_eq!((spec.volumes, spec.tolerations), (None, None), "no token volume, no default tolerations");
    /// assert_eq!(spec.priority, Some(0), "Priority still ran");
    /// let unknown = TestServer::builder().admission_plugins(&["Foo"], &[]).unwrap_err();
    /// assert_eq!(unknown.to_string(), "enable-admission-plugins plugin \"Foo\" is unknown");
    /// # Ok(())
    /// # }
    /// ```
    pub fn admission_plugins(mut self, enable: &[&str], disable: &[&str]) -> Result<Self, Error> {
        let owned = |names: &[&str]| names.iter().map(|name| name.to_string()).collect::<Vec<_>>();
        let changes = self.config.instance.admission.configure(&owned(enable), &owned(disable))?;
        match changes.into_iter().find_map(|(_, change)| match change {
            PluginChange::NotSupported(why) => Some(why),
            PluginChange::Applied => None,
        }) {
            Some(why) => Err(why.into()),
            None => Ok(self),
        }
    }

    /// `--disable-admission-plugins`; see [`TestServerBuilder::admission_plugins`].
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// let twin = kubetwin_harness::TestServer::builder().disable_admission_plugins(&["ServiceAccount"])?.start().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn disable_admission_plugins(self, plugins: &[&str]) -> Result<Self, Error> {
        self.admission_plugins(&[], plugins)
    }

    /// CustomResourceDefinitions from a YAML file or a folder of them (`.yaml`, `.yml` and `.json`
    /// files, in name order), installed before any other object. Files are read by
    /// [`TestServerBuilder::start`].
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
    /// # let crd = serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    /// #     "metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com", "scope": "Namespaced",
    /// #     "names": {"kind": "Widget", "plural": "widgets"},
    /// #     "versions": [{"name": "v1", "served": true, "storage": true,
    /// #     "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    /// let crds = tempfile::tempdir()?; // in a kubebuilder project: "config/crd/bases"
    /// # std::fs::write(crds.path().join("widgets.json"), crd.to_string())?;
    /// let twin = kubetwin_harness::TestServer::builder().crds_from(crds.path()).start().await?;
    /// let widget = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"));
    /// let widgets: Api<DynamicObject> = Api::default_namespaced_with(twin.client(), &widget);
    /// assert!(widgets.list(&Default::default()).await?.items.is_empty(), "widgets are served");
    /// # Ok(())
    /// # }
    /// ```
    pub fn crds_from(mut self, path: impl AsRef<Path>) -> Self {
        self.crd_paths.push(path.as_ref().to_path_buf());
        self
    }

    /// Objects from a YAML file (documents separated by `---`) or a folder of them (`.yaml`, `.yml`
    /// and `.json` files, in name order), created after the CRDs. Namespaced objects without a
    /// namespace go to `default`. Files are read by [`TestServerBuilder::start`].
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// let dir = tempfile::tempdir()?;
    /// let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n";
    /// std::fs::write(dir.path().join("settings.yaml"), manifest)?;
    /// let twin = kubetwin_harness::TestServer::builder().manifests_from(dir.path()).start().await?;
    /// let settings = Api::<ConfigMap>::default_namespaced(twin.client()).get("settings").await?;
    /// assert_eq!(settings.data.expect("data")["mode"], "fast");
    /// # Ok(())
    /// # }
    /// ```
    pub fn manifests_from(mut self, path: impl AsRef<Path>) -> Self {
        self.manifest_paths.push(path.as_ref().to_path_buf());
        self
    }

    /// One object to create at start (any serializable Kubernetes object: a k8s-openapi type, a
    /// `#[derive(CustomResource)]` type or a `serde_json::Value` with `apiVersion` and `kind`),
    /// after the CRDs and manifests.
    ///
    /// # Errors
    ///
    /// When `object` does not serialize to JSON.
    ///
    /// # Examples
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::Api;
    /// let settings: ConfigMap = serde_json::from_value(serde_json::json!({"metadata": {"name": "settings"}}))?;
    /// let twin = kubetwin_harness::TestServer::builder().object(settings)?.start().await?;
    /// assert!(Api::<ConfigMap>::default_namespaced(twin.client()).get_opt("settings").await?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn object(mut self, object: impl serde::Serialize) -> Result<Self, Error> {
        self.objects.push(serde_json::to_value(object)?);
        Ok(self)
    }

    /// Starts the server and creates the CRDs, manifests and objects, in that order, as the admin
    /// (field manager `kubetwin-harness`).
    ///
    /// # Errors
    ///
    /// When the server cannot start, a file cannot be read or parsed, or an object cannot be
    /// created (its kind is not served, it is invalid, or it already exists).
    ///
    /// # Examples
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// let widget = serde_json::json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    /// let error = kubetwin_harness::TestServer::builder().object(widget)?.start().await.unwrap_err();
    /// assert!(error.to_string().contains("does not serve Widget"), "{error}");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(self) -> Result<TestServer, Error> {
        let twin = TestServer::start_with(self.config).await?;
        let instance = twin.server().instance();
        let paths: Vec<&Path> = self.crd_paths.iter().chain(&self.manifest_paths).map(PathBuf::as_path).collect();
        kubetwin::manifests::load(instance, &paths, FIELD_MANAGER)?;
        for object in self.objects {
            kubetwin::manifests::create(instance, object, FIELD_MANAGER)?;
        }
        Ok(twin)
    }
}

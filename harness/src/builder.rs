//! [`TestServerBuilder`]: a server with CRDs and objects present from the start, another
//! authorization mode, admission plugins turned off, or a deterministic clock and identifiers.

use crate::{Error, TestServer};
use kubetwin::auth::authorize::AuthorizationMode;
use kubetwin::registry::Scope;
use kubetwin::registry::rest::WriteOptions;
use kubetwin::server::ServerConfig;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Configures a [`TestServer`] before it starts.
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
    /// [`TestServer::advance_clock`].
    pub fn deterministic(mut self, seed: u64) -> Self {
        self.config.deterministic_seed = Some(seed);
        self
    }

    /// `--authorization-mode`, e.g. `"RBAC"` or `"AlwaysAllow"` (comma-separated for a chain).
    pub fn authorization_mode(mut self, modes: &str) -> Result<Self, Error> {
        let parsed: Result<Vec<_>, String> = modes.split(',').map(|m| AuthorizationMode::parse(m.trim())).collect();
        self.config.instance.auth.authorization_modes = parsed?;
        Ok(self)
    }

    /// `--disable-admission-plugins`: only `ServiceAccount` can be turned off.
    pub fn disable_admission_plugins(mut self, plugins: &[&str]) -> Self {
        if plugins.contains(&"ServiceAccount") {
            self.config.instance.auth.service_account_admission = false;
        }
        self
    }

    /// CustomResourceDefinitions from a YAML file or a folder of them, installed first.
    pub fn crds_from(mut self, path: impl AsRef<Path>) -> Self {
        self.crd_paths.push(path.as_ref().to_path_buf());
        self
    }

    /// Objects from a YAML file (documents separated by `---`) or a folder of them.
    pub fn manifests_from(mut self, path: impl AsRef<Path>) -> Self {
        self.manifest_paths.push(path.as_ref().to_path_buf());
        self
    }

    /// One object to create at start (any serializable Kubernetes object).
    pub fn object(mut self, object: impl serde::Serialize) -> Result<Self, Error> {
        self.objects.push(serde_json::to_value(object)?);
        Ok(self)
    }

    /// Starts the server and creates the CRDs, manifests and objects, in that order.
    pub async fn start(self) -> Result<TestServer, Error> {
        let twin = TestServer::start_with(self.config).await?;
        let mut objects = Vec::new();
        for path in self.crd_paths.iter().chain(&self.manifest_paths) {
            objects.extend(read_manifests(path)?);
        }
        objects.extend(self.objects);
        for object in objects {
            create(&twin, object)?;
        }
        Ok(twin)
    }
}

/// Every document of every `.yaml`/`.yml`/`.json` file at `path`.
fn read_manifests(path: &Path) -> Result<Vec<Value>, Error> {
    let mut files = Vec::new();
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            let file = entry?.path();
            if file.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
                files.push(file);
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut objects = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let documents: Vec<Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| format!("parsing {}: {e}", file.display()))?;
        objects.extend(documents.into_iter().filter(|d| d.is_object()));
    }
    Ok(objects)
}

/// Creates one object through the server's registry, as the admin would.
fn create(twin: &TestServer, object: Value) -> Result<(), Error> {
    let instance = twin.server().instance();
    let text = |field: &str| object[field].as_str().unwrap_or_default().to_string();
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let catalog = instance.catalog();
    let resource = catalog
        .by_kind(group, version, &kind)
        .cloned()
        .ok_or_else(|| format!("the server does not serve {kind} in {api_version}"))?;
    let namespace = resource
        .namespaced
        .then(|| object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string());
    let scope = Scope { instance, resource, namespace: namespace.as_deref() };
    let options = WriteOptions { field_manager: "kubetwin-harness".into(), ..WriteOptions::default() };
    scope.create(object, &options).map_err(|e| format!("creating {kind}: {e}"))?;
    Ok(())
}

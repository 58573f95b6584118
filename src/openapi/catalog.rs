//! The catalog of served resources: one [`ResourceInfo`] per group/version/plural, built from
//! the spec's paths plus a small table of what the spec does not carry (short names,
//! categories, etcd key prefixes). Custom resources join a [`Catalog`] at run time, so built-in
//! and custom resources share the same lookups.

use serde::Deserialize;
use std::sync::{Arc, OnceLock};

/// A group and version, `group` empty for the legacy core group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupVersion {
    pub group: String,
    pub version: String,
}

impl GroupVersion {
    /// `v1` for the core group, `apps/v1` otherwise, as `apiVersion` spells it.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }
}

/// A subresource such as `status`, `scale` or `log`, with the kind its requests carry.
#[derive(Debug, Clone, Deserialize)]
pub struct SubresourceInfo {
    pub name: String,
    pub group: String,
    pub version: String,
    pub kind: String,
    pub verbs: Vec<String>,
}

/// Everything the server needs to know to serve one resource in one version.
#[derive(Debug, Clone, Deserialize)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    #[serde(default)]
    pub singular: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub subresources: Vec<SubresourceInfo>,
    /// The OpenAPI definition that describes the object (empty when the spec names none).
    pub definition: String,
    #[serde(default)]
    pub short_names: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    /// Where objects live in the store: `/registry/<prefix>/[<namespace>/]<name>`.
    #[serde(default)]
    pub storage_prefix: String,
    /// Served for a CustomResourceDefinition rather than built in.
    #[serde(default)]
    pub custom: bool,
    /// What serving a custom resource version needs (schema, printer columns, scale paths).
    #[serde(skip)]
    pub crd: Option<Arc<crate::crds::CustomVersion>>,
}

impl ResourceInfo {
    pub fn group_version(&self) -> GroupVersion {
        GroupVersion { group: self.group.clone(), version: self.version.clone() }
    }

    pub fn api_version(&self) -> String {
        self.group_version().api_version()
    }

    /// The kind of this resource's lists: `<Kind>List`, or a CRD's `spec.names.listKind`.
    pub fn list_kind(&self) -> String {
        match &self.crd {
            Some(custom) => custom.list_kind.clone(),
            None => format!("{}List", self.kind),
        }
    }

    /// `deployments.apps`, `pods`: the name kube-apiserver uses in messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    pub fn subresource(&self, name: &str) -> Option<&SubresourceInfo> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Resources that can only be created and are never stored (reviews, token requests).
    pub fn is_virtual(&self) -> bool {
        self.verbs == ["create"]
    }

    /// The store key prefix for every object of this resource in `namespace` (all namespaces
    /// when `None`), ending in `/`.
    pub fn key_prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("/registry/{}/{}/", self.storage_prefix, ns),
            _ => format!("/registry/{}/", self.storage_prefix),
        }
    }

    /// The store key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}{}", self.key_prefix(namespace), name)
    }
}

/// Short names, categories and singular names: what `kubectl api-resources` shows but the
/// OpenAPI spec does not say.
fn presentation(group: &str, plural: &str) -> (&'static [&'static str], &'static [&'static str]) {
    const ALL: &[&str] = &["all"];
    const EXTENSIONS: &[&str] = &["api-extensions"];
    match (group, plural) {
        ("", "pods") => (&["po"], ALL),
        ("", "services") => (&["svc"], ALL),
        ("", "replicationcontrollers") => (&["rc"], ALL),
        ("", "namespaces") => (&["ns"], &[]),
        ("", "nodes") => (&["no"], &[]),
        ("", "configmaps") => (&["cm"], &[]),
        ("", "endpoints") => (&["ep"], &[]),
        ("", "events") => (&["ev"], &[]),
        ("", "limitranges") => (&["limits"], &[]),
        ("", "persistentvolumes") => (&["pv"], &[]),
        ("", "persistentvolumeclaims") => (&["pvc"], &[]),
        ("", "resourcequotas") => (&["quota"], &[]),
        ("", "serviceaccounts") => (&["sa"], &[]),
        ("", "componentstatuses") => (&["cs"], &[]),
        ("apps", "deployments") => (&["deploy"], ALL),
        ("apps", "replicasets") => (&["rs"], ALL),
        ("apps", "statefulsets") => (&["sts"], ALL),
        ("apps", "daemonsets") => (&["ds"], ALL),
        ("batch", "jobs") => (&[], ALL),
        ("batch", "cronjobs") => (&["cj"], ALL),
        ("autoscaling", "horizontalpodautoscalers") => (&["hpa"], ALL),
        ("events.k8s.io", "events") => (&["ev"], &[]),
        ("networking.k8s.io", "ingresses") => (&["ing"], &[]),
        ("networking.k8s.io", "networkpolicies") => (&["netpol"], &[]),
        ("policy", "poddisruptionbudgets") => (&["pdb"], &[]),
        ("scheduling.k8s.io", "priorityclasses") => (&["pc"], &[]),
        ("storage.k8s.io", "storageclasses") => (&["sc"], &[]),
        ("certificates.k8s.io", "certificatesigningrequests") => (&["csr"], &[]),
        ("apiextensions.k8s.io", "customresourcedefinitions") => (&["crd", "crds"], EXTENSIONS),
        ("apiregistration.k8s.io", "apiservices") => (&[], EXTENSIONS),
        ("admissionregistration.k8s.io", _) => (&[], EXTENSIONS),
        ("resource.k8s.io", "deviceclasses") => (&[], &[]),
        _ => (&[], &[]),
    }
}

/// The etcd key prefix kube-apiserver uses for a resource (`/registry/<this>/...`).
fn storage_prefix(group: &str, plural: &str) -> String {
    match (group, plural) {
        ("", "services") => "services/specs".into(),
        ("", "endpoints") => "services/endpoints".into(),
        ("", "nodes") => "minions".into(),
        ("", "replicationcontrollers") => "controllers".into(),
        ("networking.k8s.io", "ingresses") => "ingress".into(),
        ("apiextensions.k8s.io", _) | ("apiregistration.k8s.io", _) => format!("{group}/{plural}"),
        ("", _) | ("apps", _) | ("batch", _) | ("autoscaling", _) | ("events.k8s.io", _) => plural.into(),
        (_, _) if group.ends_with(".k8s.io") || !group.contains('.') => plural.into(),
        _ => format!("{group}/{plural}"),
    }
}

/// Every built-in resource a default kube-apiserver 1.36 serves, parsed once per process.
pub fn builtin_resources() -> &'static [Arc<ResourceInfo>] {
    static RESOURCES: OnceLock<Vec<Arc<ResourceInfo>>> = OnceLock::new();
    RESOURCES.get_or_init(|| {
        let mut resources: Vec<ResourceInfo> =
            serde_json::from_str(super::CATALOG_JSON).expect("catalog built by build.rs");
        for resource in &mut resources {
            let (short_names, categories) = presentation(&resource.group, &resource.plural);
            resource.short_names = short_names.iter().map(|s| s.to_string()).collect();
            resource.categories = categories.iter().map(|s| s.to_string()).collect();
            resource.singular = resource.kind.to_lowercase();
            resource.storage_prefix = storage_prefix(&resource.group, &resource.plural);
        }
        resources.into_iter().map(Arc::new).collect()
    })
}

/// The resources one server serves: the built-ins plus whatever custom resources it has
/// established, with lookups by group/version/plural and by kind. The lookups go through sorted
/// `(hash, index)` tables, so that a lookup allocates nothing and cloning the catalog (each CRD
/// change does) copies two flat vectors.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    resources: Vec<Arc<ResourceInfo>>,
    by_path: Vec<(u64, usize)>,
    by_kind: Vec<(u64, usize)>,
}

/// A hash of a group, a version and a name (fixed keys: the same in every catalog).
fn key_hash(group: &str, version: &str, name: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    (group, version, name).hash(&mut hasher);
    hasher.finish()
}

impl Catalog {
    /// A catalog of `resources`, each at a group/version/plural of its own.
    pub fn new(resources: impl IntoIterator<Item = Arc<ResourceInfo>>) -> Self {
        let mut catalog = Catalog { resources: resources.into_iter().collect(), ..Catalog::default() };
        catalog.index();
        catalog
    }

    pub fn builtin() -> Self {
        Self::new(builtin_resources().iter().cloned())
    }

    /// The built-in catalog, built once per process and shared until a server changes its own.
    pub fn shared_builtin() -> Arc<Catalog> {
        static SHARED: OnceLock<Arc<Catalog>> = OnceLock::new();
        SHARED.get_or_init(|| Arc::new(Catalog::builtin())).clone()
    }

    /// Adds or replaces the resource served at its group/version/plural.
    pub fn insert(&mut self, resource: Arc<ResourceInfo>) {
        if let Some(index) = self.path_index(&resource.group, &resource.version, &resource.plural) {
            self.resources[index] = resource;
            self.index();
            return;
        }
        self.resources.push(resource);
        self.index();
    }

    /// Removes every version of `plural` in `group`.
    pub fn remove(&mut self, group: &str, plural: &str) {
        self.resources.retain(|r| !(r.group == group && r.plural == plural));
        self.index();
    }

    /// Rebuilds both lookup tables from `resources`.
    fn index(&mut self) {
        let table = |name: fn(&ResourceInfo) -> &str| {
            let mut table: Vec<(u64, usize)> =
                self.resources.iter().enumerate().map(|(i, r)| (key_hash(&r.group, &r.version, name(r)), i)).collect();
            table.sort_unstable();
            table
        };
        self.by_path = table(|r| &r.plural);
        self.by_kind = table(|r| &r.kind);
    }

    /// The first resource in `table` under this key that `matches`.
    fn lookup(&self, table: &[(u64, usize)], hash: u64, matches: impl Fn(&ResourceInfo) -> bool) -> Option<usize> {
        let start = table.partition_point(|(h, _)| *h < hash);
        table[start..].iter().take_while(|(h, _)| *h == hash).map(|(_, i)| *i).find(|i| matches(&self.resources[*i]))
    }

    fn path_index(&self, group: &str, version: &str, plural: &str) -> Option<usize> {
        self.lookup(&self.by_path, key_hash(group, version, plural), |r| {
            r.group == group && r.version == version && r.plural == plural
        })
    }

    pub fn resources(&self) -> &[Arc<ResourceInfo>] {
        &self.resources
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<ResourceInfo>> {
        self.path_index(group, version, plural).map(|i| &self.resources[i])
    }

    pub fn by_kind(&self, group: &str, version: &str, kind: &str) -> Option<&Arc<ResourceInfo>> {
        let index = self.lookup(&self.by_kind, key_hash(group, version, kind), |r| {
            r.group == group && r.version == version && r.kind == kind
        });
        index.map(|i| &self.resources[i])
    }

    /// Served group-versions, in discovery order: core first, then groups in the order
    /// kube-apiserver lists them (by priority, then name; we use name).
    pub fn group_versions(&self) -> Vec<GroupVersion> {
        let mut versions: Vec<GroupVersion> = self.resources.iter().map(|r| r.group_version()).collect();
        versions.sort_by(|a, b| {
            (!a.group.is_empty(), &a.group, version_priority(&b.version)).cmp(&(
                !b.group.is_empty(),
                &b.group,
                version_priority(&a.version),
            ))
        });
        versions.dedup();
        versions
    }
}

/// Kubernetes version ordering: GA > beta > alpha, then by number (v2 > v1, v1beta2 > v1beta1).
pub fn version_priority(version: &str) -> (u8, u32, u32) {
    let rest = version.trim_start_matches('v');
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (stability, minor_text) = if let Some(n) = tail.strip_prefix("beta") {
        (1, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (0, n)
    } else if tail.is_empty() {
        (2, "")
    } else {
        return (0, 0, 0);
    };
    (stability, major, minor_text.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_the_core_resources_with_their_verbs_and_subresources() {
        let catalog = Catalog::builtin();
        let pods = catalog.get("", "v1", "pods").expect("pods");
        assert_eq!(pods.kind, "Pod");
        assert!(pods.namespaced);
        assert_eq!(pods.verbs, ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]);
        assert_eq!(pods.short_names, ["po"]);
        assert_eq!(pods.definition, "io.k8s.api.core.v1.Pod");
        let status = pods.subresource("status").expect("pods/status");
        assert_eq!(status.verbs, ["get", "patch", "update"]);
        let scale = catalog.get("apps", "v1", "deployments").unwrap().subresource("scale").unwrap();
        assert_eq!((scale.group.as_str(), scale.kind.as_str()), ("autoscaling", "Scale"));
        let namespaces = catalog.get("", "v1", "namespaces").unwrap();
        assert!(!namespaces.namespaced);
        assert!(namespaces.subresource("finalize").is_some());
        assert_eq!(
            catalog.get("", "v1", "services").unwrap().key(Some("default"), "kubernetes"),
            "/registry/services/specs/default/kubernetes"
        );
    }

    #[test]
    fn only_generally_available_versions_are_served_by_default() {
        let versions = Catalog::builtin().group_versions();
        assert_eq!(versions[0].api_version(), "v1");
        assert!(versions.iter().all(|gv| !gv.version.contains("beta") && !gv.version.contains("alpha")));
        let autoscaling: Vec<_> =
            versions.iter().filter(|gv| gv.group == "autoscaling").map(|gv| gv.version.as_str()).collect();
        assert_eq!(autoscaling, ["v2", "v1"], "preferred version first");
    }

    #[test]
    fn review_resources_are_create_only() {
        let catalog = Catalog::builtin();
        assert!(catalog.get("authentication.k8s.io", "v1", "tokenreviews").unwrap().is_virtual());
        assert!(!catalog.get("", "v1", "configmaps").unwrap().is_virtual());
    }

    #[test]
    fn version_priority_orders_as_kubernetes_does() {
        let mut versions = vec!["v1beta1", "v2", "v1alpha1", "v1", "v1beta2", "v2beta1"];
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(versions, ["v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1"]);
    }
}

//! Discovery documents built from a [`Catalog`]: the legacy `/api`, `/apis`, `/apis/<group>`
//! and per-group-version `APIResourceList`s, and the aggregated `APIGroupDiscoveryList` that
//! kubectl 1.33 asks for first.

use crate::openapi::catalog::version_priority;
use crate::openapi::{Catalog, GroupVersion, ResourceInfo};
use base64::Engine;
use serde_json::{Map, Value, json};

/// Which half of the API an aggregated document covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRoot {
    /// `/api`: the legacy core group.
    Core,
    /// `/apis`: every named group.
    Groups,
}

/// `/api`: the core versions and the address clients should use.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// kube-apiserver's `groupPriorityMinimum` for the built-in groups (the APIServices the
/// aggregator registers for them, `pkg/controlplane/apiserver/aggregator.go` and the kube-specific
/// additions). `/apis` and its aggregated form list groups by this priority, highest first, and
/// kubectl's RESTMapper prefers the earlier group when two serve the same resource name.
const GROUP_PRIORITIES: [(&str, u32); 22] = [
    ("apiregistration.k8s.io", 18000),
    ("apps", 17800),
    ("events.k8s.io", 17750),
    ("authentication.k8s.io", 17700),
    ("authorization.k8s.io", 17600),
    ("autoscaling", 17500),
    ("batch", 17400),
    ("certificates.k8s.io", 17300),
    ("networking.k8s.io", 17200),
    ("policy", 17100),
    ("rbac.authorization.k8s.io", 17000),
    ("storage.k8s.io", 16800),
    ("admissionregistration.k8s.io", 16700),
    ("apiextensions.k8s.io", 16700),
    ("scheduling.k8s.io", 16600),
    ("coordination.k8s.io", 16500),
    ("node.k8s.io", 16300),
    ("discovery.k8s.io", 16200),
    ("resource.k8s.io", 16200),
    ("flowcontrol.apiserver.k8s.io", 16100),
    ("internal.apiserver.k8s.io", 16000),
    ("storagemigration.k8s.io", 15800),
];

/// The priority of a group: the table above, or 1000 for custom resource groups (what the
/// CRD registration controller gives their APIServices).
fn group_priority(group: &str) -> u32 {
    GROUP_PRIORITIES.iter().find(|(name, _)| *name == group).map_or(1000, |(_, priority)| *priority)
}

fn group_versions_by_group(catalog: &Catalog) -> Vec<(String, Vec<GroupVersion>)> {
    let mut groups: Vec<(String, Vec<GroupVersion>)> = Vec::new();
    for gv in catalog.group_versions().into_iter().filter(|gv| !gv.group.is_empty()) {
        match groups.iter_mut().find(|(group, _)| *group == gv.group) {
            Some((_, versions)) => versions.push(gv),
            None => groups.push((gv.group.clone(), vec![gv])),
        }
    }
    for (_, versions) in &mut groups {
        versions.sort_by_key(|gv| std::cmp::Reverse(version_priority(&gv.version)));
    }
    // Highest priority first; equal priorities by name, as the aggregator sorts them.
    groups.sort_by(|(a, _), (b, _)| group_priority(b).cmp(&group_priority(a)).then_with(|| a.cmp(b)));
    groups
}

fn version_entry(gv: &GroupVersion) -> Value {
    json!({"groupVersion": gv.api_version(), "version": gv.version})
}

fn api_group(group: &str, versions: &[GroupVersion]) -> Value {
    json!({
        "name": group,
        "versions": versions.iter().map(version_entry).collect::<Vec<_>>(),
        "preferredVersion": version_entry(&versions[0]),
    })
}

/// `/apis`: every named group with its versions, preferred first.
pub fn api_group_list(catalog: &Catalog) -> Value {
    let groups: Vec<Value> =
        group_versions_by_group(catalog).iter().map(|(group, versions)| api_group(group, versions)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`, or `None` when the group is not served.
pub fn api_group_document(catalog: &Catalog, group: &str) -> Option<Value> {
    let groups = group_versions_by_group(catalog);
    let (_, versions) = groups.iter().find(|(name, _)| name == group)?;
    let mut document = api_group(group, versions);
    let object = document.as_object_mut()?;
    let mut with_type = Map::new();
    with_type.insert("kind".into(), json!("APIGroup"));
    with_type.insert("apiVersion".into(), json!("v1"));
    with_type.extend(std::mem::take(object));
    Some(Value::Object(with_type))
}

fn resources_of<'a>(
    catalog: &'a Catalog,
    gv: &'a GroupVersion,
) -> impl Iterator<Item = &'a std::sync::Arc<ResourceInfo>> {
    catalog.resources().iter().filter(move |r| r.group == gv.group && r.version == gv.version)
}

/// kube-apiserver's storage version hash: the first 8 bytes of SHA-256 over
/// `<group>/<version>/<kind>`, base64.
fn storage_version_hash(resource: &ResourceInfo) -> String {
    let text = format!("{}/{}/{}", resource.group, resource.version, resource.kind);
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest.as_ref()[..8])
}

/// Whether the resource is kept in storage, so that discovery shows its storage version hash.
/// Create-only reviews and bindings are not, and neither are componentstatuses, which
/// kube-apiserver computes on each read.
fn has_storage(resource: &ResourceInfo) -> bool {
    let computed = resource.group.is_empty() && resource.plural == "componentstatuses";
    !resource.is_virtual() && !computed
}

fn insert_non_empty(map: &mut Map<String, Value>, key: &str, values: &[String]) {
    if !values.is_empty() {
        map.insert(key.into(), json!(values));
    }
}

/// `/api/v1` or `/apis/<group>/<version>`, or `None` when the version is not served.
pub fn api_resource_list(catalog: &Catalog, gv: &GroupVersion) -> Option<Value> {
    let mut resources = Vec::new();
    for resource in resources_of(catalog, gv) {
        let mut entry = Map::new();
        entry.insert("name".into(), json!(resource.plural));
        entry.insert("singularName".into(), json!(resource.singular));
        entry.insert("namespaced".into(), json!(resource.namespaced));
        entry.insert("kind".into(), json!(resource.kind));
        entry.insert("verbs".into(), json!(resource.verbs));
        insert_non_empty(&mut entry, "shortNames", &resource.short_names);
        insert_non_empty(&mut entry, "categories", &resource.categories);
        if has_storage(resource) {
            entry.insert("storageVersionHash".into(), json!(storage_version_hash(resource)));
        }
        resources.push(Value::Object(entry));
        for sub in &resource.subresources {
            let mut entry = Map::new();
            entry.insert("name".into(), json!(format!("{}/{}", resource.plural, sub.name)));
            entry.insert("singularName".into(), json!(""));
            entry.insert("namespaced".into(), json!(resource.namespaced));
            if sub.group != resource.group || sub.version != resource.version {
                entry.insert("group".into(), json!(sub.group));
                entry.insert("version".into(), json!(sub.version));
            }
            entry.insert("kind".into(), json!(sub.kind));
            entry.insert("verbs".into(), json!(sub.verbs));
            resources.push(Value::Object(entry));
        }
    }
    if resources.is_empty() {
        return None;
    }
    // kube-apiserver writes the legacy `/api/v1` list without an apiVersion (its codec there
    // does not know meta/v1), and the named groups' lists with one.
    let mut list = Map::new();
    list.insert("kind".into(), json!("APIResourceList"));
    if !gv.group.is_empty() {
        list.insert("apiVersion".into(), json!("v1"));
    }
    list.insert("groupVersion".into(), json!(gv.api_version()));
    list.insert("resources".into(), Value::Array(resources));
    Some(Value::Object(list))
}

fn resource_discovery(resource: &ResourceInfo) -> Value {
    let mut entry = Map::new();
    entry.insert("resource".into(), json!(resource.plural));
    entry.insert("responseKind".into(), json!({"group": "", "version": "", "kind": resource.kind}));
    entry.insert("scope".into(), json!(if resource.namespaced { "Namespaced" } else { "Cluster" }));
    entry.insert("singularResource".into(), json!(resource.singular));
    entry.insert("verbs".into(), json!(resource.verbs));
    insert_non_empty(&mut entry, "shortNames", &resource.short_names);
    insert_non_empty(&mut entry, "categories", &resource.categories);
    if !resource.subresources.is_empty() {
        let subresources: Vec<Value> = resource
            .subresources
            .iter()
            .map(|sub| {
                let same_version = sub.group == resource.group && sub.version == resource.version;
                let (group, version) = if same_version { ("", "") } else { (sub.group.as_str(), sub.version.as_str()) };
                json!({"subresource": sub.name, "responseKind": {"group": group, "version": version, "kind": sub.kind}, "verbs": sub.verbs})
            })
            .collect();
        entry.insert("subresources".into(), Value::Array(subresources));
    }
    Value::Object(entry)
}

fn version_discovery(catalog: &Catalog, gv: &GroupVersion) -> Value {
    let resources: Vec<Value> = resources_of(catalog, gv).map(|r| resource_discovery(r)).collect();
    json!({"version": gv.version, "resources": resources, "freshness": "Current"})
}

/// The aggregated discovery document for `/api` or `/apis`.
pub fn aggregated(catalog: &Catalog, root: ApiRoot, v2beta1: bool) -> Value {
    let items: Vec<Value> = match root {
        ApiRoot::Core => {
            let core = GroupVersion { group: String::new(), version: "v1".into() };
            vec![json!({"metadata": {"creationTimestamp": null}, "versions": [version_discovery(catalog, &core)]})]
        }
        ApiRoot::Groups => group_versions_by_group(catalog)
            .iter()
            .map(|(group, versions)| {
                let versions: Vec<Value> = versions.iter().map(|gv| version_discovery(catalog, gv)).collect();
                json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
            })
            .collect(),
    };
    let api_version = if v2beta1 { "apidiscovery.k8s.io/v2beta1" } else { "apidiscovery.k8s.io/v2" };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_resource_list_has_pods_with_subresources() {
        let catalog = Catalog::builtin();
        let list = api_resource_list(&catalog, &GroupVersion { group: String::new(), version: "v1".into() }).unwrap();
        let resources = list["resources"].as_array().unwrap();
        let pods = resources.iter().find(|r| r["name"] == "pods").unwrap();
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert_eq!(pods["singularName"], "pod");
        assert!(resources.iter().any(|r| r["name"] == "pods/status" && r["kind"] == "Pod"));
        let configmaps = resources.iter().find(|r| r["name"] == "configmaps").unwrap();
        assert!(configmaps.get("categories").is_none(), "empty lists are omitted");
    }

    #[test]
    fn only_named_groups_resource_lists_carry_an_api_version() {
        let catalog = Catalog::builtin();
        let core = api_resource_list(&catalog, &GroupVersion { group: String::new(), version: "v1".into() }).unwrap();
        assert!(core.get("apiVersion").is_none(), "{}", &core.to_string()[..80]);
        let apps = api_resource_list(&catalog, &GroupVersion { group: "apps".into(), version: "v1".into() }).unwrap();
        assert_eq!(apps["apiVersion"], "v1");
        let resources = core["resources"].as_array().unwrap();
        let hash =
            |name: &str| resources.iter().find(|r| r["name"] == name).unwrap().get("storageVersionHash").cloned();
        assert_eq!(hash("configmaps"), Some(json!("qFsyl6wFWjQ=")));
        assert_eq!(hash("componentstatuses"), None);
        assert_eq!(hash("bindings"), None);
    }

    #[test]
    fn groups_are_listed_by_priority_then_name() {
        let list = api_group_list(&Catalog::builtin());
        let names: Vec<&str> = list["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert_eq!(&names[..4], ["apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io"]);
        let position = |group: &str| names.iter().position(|n| *n == group).unwrap();
        assert!(position("admissionregistration.k8s.io") < position("apiextensions.k8s.io"));
        assert!(position("storage.k8s.io") < position("admissionregistration.k8s.io"));
        assert!(position("discovery.k8s.io") < position("flowcontrol.apiserver.k8s.io"));
        let aggregated = aggregated(&Catalog::builtin(), ApiRoot::Groups, false);
        let aggregated_names: Vec<&str> =
            aggregated["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(aggregated_names, names);
        assert_eq!(group_priority("widgets.example.com"), 1000);
    }

    #[test]
    fn scale_subresource_names_its_own_group() {
        let catalog = Catalog::builtin();
        let list = api_resource_list(&catalog, &GroupVersion { group: "apps".into(), version: "v1".into() }).unwrap();
        let scale =
            list["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments/scale").unwrap().clone();
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["kind"], "Scale");
    }

    #[test]
    fn group_list_prefers_the_newest_stable_version() {
        let list = api_group_list(&Catalog::builtin());
        let autoscaling =
            list["groups"].as_array().unwrap().iter().find(|g| g["name"] == "autoscaling").unwrap().clone();
        assert_eq!(autoscaling["preferredVersion"]["groupVersion"], "autoscaling/v2");
        assert!(list["groups"].as_array().unwrap().iter().all(|g| g["name"] != ""));
        assert_eq!(api_group_document(&Catalog::builtin(), "apps").unwrap()["kind"], "APIGroup");
        assert!(api_group_document(&Catalog::builtin(), "nope.example.com").is_none());
    }

    #[test]
    fn aggregated_discovery_describes_scope_and_subresources() {
        let document = aggregated(&Catalog::builtin(), ApiRoot::Groups, false);
        assert_eq!(document["apiVersion"], "apidiscovery.k8s.io/v2");
        let apps =
            document["items"].as_array().unwrap().iter().find(|i| i["metadata"]["name"] == "apps").unwrap().clone();
        let deployments = apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap()
            .clone();
        assert_eq!(deployments["scope"], "Namespaced");
        assert_eq!(deployments["responseKind"]["kind"], "Deployment");
        let scale = deployments["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subresource"] == "scale")
            .unwrap()
            .clone();
        assert_eq!(scale["responseKind"], json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}));
        let core = aggregated(&Catalog::builtin(), ApiRoot::Core, false);
        assert_eq!(core["items"].as_array().unwrap().len(), 1);
    }
}

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
        if !resource.is_virtual() {
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
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv.api_version(), "resources": resources}),
    )
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

//! Reading a CustomResourceDefinition: its defaults (`SetDefaults_CustomResourceDefinition`),
//! the validation kube-apiserver runs on it (names, scope, versions, one storage version,
//! structural schemas, printer columns, scale paths, immutable fields), the catalog entries its
//! served versions become, and the status its naming and establishing controllers write.

use super::structural::Structural;
use super::{CustomVersion, ScalePaths};
use crate::error::{FieldError, FieldErrorKind};
use crate::openapi::{ResourceInfo, SubresourceInfo};
use crate::registry::defaults::set_default;
use crate::registry::names;
use crate::registry::strategy::meta_str;
use crate::table::CustomPrinter;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The finalizer that holds a deleted CRD until its custom resources are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// The verbs every custom resource serves, in kube-apiserver's discovery order.
const VERBS: [&str; 8] = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"];
const SUBRESOURCE_VERBS: [&str; 3] = ["get", "patch", "update"];
const COLUMN_TYPES: [&str; 5] = ["integer", "number", "string", "boolean", "date"];

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

fn strings(value: &Value, pointer: &str) -> Vec<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect()
}

fn versions(crd: &Value) -> &[Value] {
    crd.pointer("/spec/versions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// `SetDefaults_CustomResourceDefinition`: singular and listKind names, the `None`
/// conversion strategy, port 443 for a conversion webhook's service.
pub fn set_defaults(crd: &mut Value) {
    let kind = text(crd, "/spec/names/kind").to_string();
    if !kind.is_empty() {
        set_default(crd, &["spec", "names", "singular"], json!(kind.to_lowercase()));
        set_default(crd, &["spec", "names", "listKind"], json!(format!("{kind}List")));
    }
    if crd.get("spec").is_some_and(Value::is_object) {
        set_default(crd, &["spec", "conversion", "strategy"], json!("None"));
    }
    if crd.pointer("/spec/conversion/webhook/clientConfig/service").is_some_and(Value::is_object) {
        set_default(crd, &["spec", "conversion", "webhook", "clientConfig", "service", "port"], json!(443));
    }
}

/// The version objects are stored in (the one marked `storage`).
pub fn storage_version(crd: &Value) -> Option<&str> {
    versions(crd).iter().find(|v| v["storage"] == json!(true)).and_then(|v| v["name"].as_str())
}

/// `com.example.v1.Widget`: the OpenAPI definition name kube-apiserver gives a custom kind.
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// One catalog entry per version of the CRD (served or not), each carrying what serving it
/// needs. Versions whose schema is not structural get none (the CRD is refused before that).
pub fn resource_infos(crd: &Value, terminating: bool) -> Vec<ResourceInfo> {
    let group = text(crd, "/spec/group").to_string();
    let plural = text(crd, "/spec/names/plural").to_string();
    let kind = text(crd, "/spec/names/kind").to_string();
    let storage = storage_version(crd).unwrap_or_default().to_string();
    let all = versions(crd);
    let converter = super::conversion_webhook::WebhookConverter::from_crd(crd).map(Arc::new);
    all.iter()
        .map(|version| {
            let name = version["name"].as_str().unwrap_or_default().to_string();
            let schema = version.pointer("/schema/openAPIV3Schema").cloned().unwrap_or(Value::Null);
            let structural = Structural::parse(&schema, "").ok();
            let scale = version.pointer("/subresources/scale").map(|scale| ScalePaths {
                spec_replicas: text(scale, "/specReplicasPath").to_string(),
                status_replicas: text(scale, "/statusReplicasPath").to_string(),
                label_selector: scale.get("labelSelectorPath").and_then(Value::as_str).map(String::from),
            });
            let mut subresources = Vec::new();
            let subresource = |name: &str, group: &str, version: &str, kind: &str| SubresourceInfo {
                name: name.into(),
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                verbs: SUBRESOURCE_VERBS.iter().map(|v| v.to_string()).collect(),
            };
            if version.pointer("/subresources/status").is_some() {
                subresources.push(subresource("status", &group, &name, &kind));
            }
            if scale.is_some() {
                subresources.push(subresource("scale", "autoscaling", "v1", "Scale"));
            }
            let deprecation_warning = (version["deprecated"] == json!(true)).then(|| {
                match version.get("deprecationWarning").and_then(Value::as_str) {
                    Some(warning) => warning.to_string(),
                    None => format!("{group}/{name} {kind} is deprecated"),
                }
            });
            let custom = CustomVersion {
                crd_name: meta_str(crd, "name").to_string(),
                storage_version: storage.clone(),
                list_kind: match text(crd, "/spec/names/listKind") {
                    "" => format!("{kind}List"),
                    list_kind => list_kind.to_string(),
                },
                version_count: all.len(),
                converter: converter.clone(),
                defaults_on_read: structural.as_ref().is_some_and(Structural::has_defaults),
                schema: structural,
                rules: super::cel::Rules::compile(&schema),
                raw_schema: schema,
                printer: CustomPrinter::from_additional_printer_columns(version.get("additionalPrinterColumns")),
                scale,
                selectable_fields: version
                    .get("selectableFields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f["jsonPath"].as_str().map(|p| p.trim_start_matches('.').to_string()))
                    .collect(),
                deprecation_warning,
                served: version["served"] == json!(true),
                terminating,
            };
            ResourceInfo {
                group: group.clone(),
                version: name.clone(),
                kind: kind.clone(),
                plural: plural.clone(),
                singular: text(crd, "/spec/names/singular").to_string(),
                namespaced: text(crd, "/spec/scope") == "Namespaced",
                verbs: VERBS.iter().map(|v| v.to_string()).collect(),
                subresources,
                definition: definition_name(&group, &name, &kind),
                short_names: strings(crd, "/spec/names/shortNames"),
                categories: strings(crd, "/spec/names/categories"),
                storage_prefix: format!("{group}/{plural}"),
                custom: true,
                crd: Some(Arc::new(custom)),
            }
        })
        .collect()
}

fn unsupported(field: String, value: &str, supported: &[&str]) -> FieldError {
    FieldError {
        field,
        kind: FieldErrorKind::NotSupported(json!(value), supported.iter().map(|s| s.to_string()).collect()),
        detail: String::new(),
    }
}

/// `ValidateCustomResourceDefinition` (and `...Update` when `old` is given), worded as
/// kube-apiserver words it.
pub fn errors(crd: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let group = text(crd, "/spec/group");
    let plural = text(crd, "/spec/names/plural");
    let name = meta_str(crd, "name");
    if name != format!("{plural}.{group}") {
        errors.push(FieldError::invalid("metadata.name", json!(name), "must be spec.names.plural+\".\"+spec.group"));
    }
    if group.is_empty() {
        errors.push(FieldError::required("spec.group", ""));
    } else if !group.contains('.') {
        errors.push(FieldError::invalid("spec.group", json!(group), "should be a domain with at least one dot"));
    } else {
        errors.extend(
            names::dns1123_subdomain(group).into_iter().map(|e| FieldError::invalid("spec.group", json!(group), e)),
        );
    }
    for field in ["plural", "singular"] {
        let value = text(crd, &format!("/spec/names/{field}"));
        let path = format!("spec.names.{field}");
        if value.is_empty() {
            errors.push(FieldError::required(path, ""));
        } else {
            errors.extend(
                names::dns1123_label(value).into_iter().map(|e| FieldError::invalid(path.clone(), json!(value), e)),
            );
        }
    }
    for field in ["kind", "listKind"] {
        let value = text(crd, &format!("/spec/names/{field}"));
        let path = format!("spec.names.{field}");
        let lowered = value.to_lowercase();
        if value.is_empty() {
            errors.push(FieldError::required(path, ""));
        } else if !names::dns1035_label(&lowered).is_empty() {
            errors.push(FieldError::invalid(
                path,
                json!(value),
                "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
            ));
        }
    }
    match text(crd, "/spec/scope") {
        "" => errors.push(FieldError::required("spec.scope", "")),
        "Cluster" | "Namespaced" => {}
        other => errors.push(unsupported("spec.scope".into(), other, &["Cluster", "Namespaced"])),
    }
    errors.extend(super::conversion_validation::errors(crd, old));
    errors.extend(version_errors(crd));
    errors.extend(super::cel::definition_errors(crd));
    if let Some(old) = old {
        for (pointer, field) in [("/spec/group", "spec.group"), ("/spec/scope", "spec.scope")] {
            if text(crd, pointer) != text(old, pointer) {
                errors.push(FieldError::invalid(field, json!(text(crd, pointer)), "field is immutable"));
            }
        }
        let declared: Vec<&str> = versions(crd).iter().filter_map(|v| v["name"].as_str()).collect();
        for (i, stored) in strings(old, "/status/storedVersions").iter().enumerate() {
            if !declared.contains(&stored.as_str()) {
                errors.push(FieldError::invalid(
                    format!("status.storedVersions[{i}]"),
                    json!(stored),
                    "must appear in spec.versions",
                ));
            }
        }
    }
    errors
}

/// Where a CRD's schemas are checked, and their errors reported: kube-apiserver converts a v1
/// CRD whose versions all share one schema to `spec.validation` and checks it once there;
/// otherwise each version's schema is checked at `spec.versions[i].schema.openAPIV3Schema`.
pub fn schema_locations(crd: &Value) -> Vec<(String, Value)> {
    let versions = crd.pointer("/spec/versions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let schema = |v: &Value| v.pointer("/schema/openAPIV3Schema").cloned();
    let shared = !versions.is_empty() && versions.iter().all(|v| v.get("schema") == versions[0].get("schema"));
    if shared {
        return schema(&versions[0]).map(|s| ("spec.validation.openAPIV3Schema".to_string(), s)).into_iter().collect();
    }
    let per_version = versions.iter().enumerate();
    per_version
        .filter_map(|(i, v)| schema(v).map(|s| (format!("spec.versions[{i}].schema.openAPIV3Schema"), s)))
        .collect()
}

fn version_errors(crd: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let all = versions(crd);
    let storage_count = all.iter().filter(|v| v["storage"] == json!(true)).count();
    if all.is_empty() {
        errors.push(FieldError::invalid(
            "spec.versions",
            json!([]),
            "must have exactly one version marked as storage version",
        ));
    } else if storage_count != 1 {
        errors.push(FieldError::invalid(
            "spec.versions",
            Value::Array(all.to_vec()),
            "must have exactly one version marked as storage version",
        ));
    }
    let mut seen = Vec::new();
    for (i, version) in all.iter().enumerate() {
        let path = format!("spec.versions[{i}]");
        let name = version["name"].as_str().unwrap_or_default();
        if name.is_empty() {
            errors.push(FieldError::required(format!("{path}.name"), ""));
        } else {
            let invalid = names::dns1035_label(name);
            errors.extend(invalid.into_iter().map(|e| FieldError::invalid(format!("{path}.name"), json!(name), e)));
        }
        if seen.contains(&name) {
            errors.push(FieldError {
                field: format!("{path}.name"),
                kind: FieldErrorKind::Duplicate(json!(name)),
                detail: String::new(),
            });
        }
        seen.push(name);
        if version.pointer("/schema/openAPIV3Schema").is_none() {
            errors.push(FieldError::required(format!("{path}.schema.openAPIV3Schema"), "schemas are required"));
        }
        for (j, column) in
            version.get("additionalPrinterColumns").and_then(Value::as_array).into_iter().flatten().enumerate()
        {
            let column_path = format!("{path}.additionalPrinterColumns[{j}]");
            for field in ["name", "jsonPath"] {
                if text(column, &format!("/{field}")).is_empty() {
                    errors.push(FieldError::required(format!("{column_path}.{field}"), ""));
                }
            }
            let column_type = text(column, "/type");
            if !COLUMN_TYPES.contains(&column_type) {
                errors.push(unsupported(format!("{column_path}.type"), column_type, &COLUMN_TYPES));
            }
        }
        if let Some(scale) = version.pointer("/subresources/scale") {
            errors.extend(scale_errors(scale, &format!("{path}.subresources.scale")));
        }
    }
    for (path, schema) in schema_locations(crd) {
        if let Err(found) = Structural::parse(&schema, &path) {
            errors.extend(found);
        }
    }
    errors
}

fn scale_errors(scale: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let checks = [
        ("specReplicasPath", ".spec.", true),
        ("statusReplicasPath", ".status.", true),
        ("labelSelectorPath", "", false),
    ];
    for (field, prefix, required) in checks {
        let value = text(scale, &format!("/{field}"));
        let field_path = format!("{path}.{field}");
        if value.is_empty() {
            if required {
                errors.push(FieldError::required(field_path, ""));
            }
        } else if !value.starts_with(if prefix.is_empty() { "." } else { prefix }) {
            let what = if prefix.is_empty() {
                "should be a json path under either .spec or .status".to_string()
            } else {
                format!("should be a json path under {}", prefix.trim_end_matches('.'))
            };
            errors.push(FieldError::invalid(field_path, json!(value), what));
        }
    }
    errors
}

/// The names a CRD asks for, as `status.acceptedNames` shows them.
pub fn requested_names(crd: &Value) -> Value {
    let names = crd.pointer("/spec/names").and_then(Value::as_object).cloned().unwrap_or_default();
    let kept: Map<String, Value> = ["plural", "singular", "shortNames", "kind", "listKind", "categories"]
        .iter()
        .filter_map(|key| names.get(*key).filter(|v| !v.is_null()).map(|v| (key.to_string(), v.clone())))
        .collect();
    Value::Object(kept)
}

/// A condition, keeping the transition time of `existing` when its status did not change.
pub fn condition(
    existing: &[Value],
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
    generation: i64,
) -> Value {
    let previous = existing.iter().find(|c| c["type"] == type_);
    let since = match previous {
        Some(c) if c["status"] == status => c["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    json!({"type": type_, "status": status, "observedGeneration": generation, "lastTransitionTime": since, "reason": reason, "message": message})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        let mut crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}},
                     "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}}},
                    {"name": "v1beta1", "served": true, "storage": false, "deprecated": true,
                     "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
        set_defaults(&mut crd);
        crd
    }

    #[test]
    fn defaults_and_catalog_entries_follow_the_spec() {
        let crd = crd();
        assert_eq!(crd["spec"]["names"]["singular"], "widget");
        assert_eq!(crd["spec"]["names"]["listKind"], "WidgetList");
        assert_eq!(crd["spec"]["conversion"]["strategy"], "None");
        assert!(errors(&crd, None).is_empty(), "{:?}", errors(&crd, None));
        let infos = resource_infos(&crd, false);
        let v1 = &infos[0];
        assert_eq!(
            (v1.definition.as_str(), v1.storage_prefix.as_str()),
            ("com.example.v1.Widget", "example.com/widgets")
        );
        assert_eq!(v1.key(Some("default"), "w"), "/registry/example.com/widgets/default/w");
        assert_eq!(v1.subresources.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["status", "scale"]);
        assert_eq!(v1.short_names, ["wd"]);
        let beta = infos[1].crd.as_ref().unwrap();
        assert_eq!(beta.storage_version, "v1");
        assert_eq!(beta.deprecation_warning.as_deref(), Some("example.com/v1beta1 Widget is deprecated"));
    }

    #[test]
    fn invalid_definitions_are_refused_with_kube_wording() {
        let mut crd = crd();
        crd["metadata"]["name"] = json!("gadgets.example.com");
        crd["spec"]["scope"] = json!("Global");
        crd["spec"]["versions"][1]["storage"] = json!(true);
        crd["spec"]["versions"][0]["subresources"]["scale"]["specReplicasPath"] = json!(".status.replicas");
        let rendered: Vec<String> = errors(&crd, None).iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered[0],
            "metadata.name: Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group"
        );
        assert_eq!(
            rendered[1],
            "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\""
        );
        assert!(
            rendered[2].starts_with("spec.versions: Invalid value: ")
                && rendered[2].ends_with("must have exactly one version marked as storage version")
        );
        assert_eq!(
            rendered[3],
            "spec.versions[0].subresources.scale.specReplicasPath: Invalid value: \".status.replicas\": should be a json path under .spec"
        );
        let mut untyped = self::crd();
        let versions = untyped["spec"]["versions"].as_array_mut().unwrap();
        versions.truncate(1);
        versions[0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["mode"] = json!({});
        let rendered: Vec<String> = errors(&untyped, None).iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered,
            [
                "spec.validation.openAPIV3Schema.properties[spec].properties[mode].type: Required value: must not be empty for specified object fields"
            ],
            "one version's schema is checked where kube-apiserver's conversion puts it"
        );
        let mut old = crd.clone();
        old["status"] = json!({"storedVersions": ["v0"]});
        let update: Vec<String> = errors(&self::crd(), Some(&old)).iter().map(ToString::to_string).collect();
        assert_eq!(
            update,
            [
                "spec.scope: Invalid value: \"Namespaced\": field is immutable",
                "status.storedVersions[0]: Invalid value: \"v0\": must appear in spec.versions"
            ]
        );
    }
}

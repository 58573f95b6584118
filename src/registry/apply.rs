//! Server-side apply on one object, as structured-merge-diff's `Updater.Apply` does it: the
//! applied configuration is merged over the live object, the fields the manager applied last
//! time and no longer applies are pruned unless another manager owns them, and every field
//! the apply changes that another manager owns is a conflict (409, one `FieldManagerConflict`
//! cause per field) unless `force` moves it to the applier. The result carries the new
//! `metadata.managedFields`.

use super::apply_merge::{clean_config, merge, remove_path};
use super::field_set::{path_string, records_applied_fields};
use super::managed_fields::{Entry, FieldSet, stored_entries, write_entries};
use super::strategy::{copy_with_nulls, equal_without_metadata_field};
use crate::error::{ApiError, Reason};
use crate::openapi::{SchemaId, Schemas};
use serde_json::{Value, json};

/// Who applies, and how.
#[derive(Debug, Clone)]
pub struct Applier<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub subresource: &'a str,
    pub force: bool,
    /// The time recorded when the apply changes anything.
    pub now: &'a str,
}

/// A field another manager owns and the apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The manager as the message names it (`"mgr"`, `"kubectl" using apps/v1`).
    pub manager: String,
    /// The field, as `.spec.replicas`.
    pub path: String,
}

/// The 409 kube-apiserver answers with (`internal.NewConflictError`).
pub fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    let message = if let [one] = conflicts {
        format!("Apply failed with 1 conflict: conflict with {}: {}", one.manager, one.path)
    } else {
        let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            lines.extend(conflicts.iter().filter(|c| c.manager == manager).map(|c| format!("- {}", c.path)));
        }
        format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
    };
    conflicts.iter().fold(ApiError::new(Reason::Conflict, message), |error, c| {
        error.with_cause("FieldManagerConflict", &format!("conflict with {}", c.manager), &c.path)
    })
}

/// Applies `config` to `live` (an empty object when the apply creates it). Returns the object
/// to write, managedFields included, or the conflicts.
pub fn apply(
    schemas: &Schemas,
    root: Option<SchemaId>,
    live: &Value,
    config: &Value,
    applier: &Applier<'_>,
) -> Result<Value, Vec<Conflict>> {
    let config = clean_config(config);
    let mut merged = without_managed_fields(live);
    merge(schemas, root, &mut merged, &config);

    // Other managers' entries are decoded (and kept as stored unless their fields change);
    // the manager's own entry is only compared with what it applies now.
    let mut entries = Vec::new();
    let mut mine = None;
    for (mut entry, fields) in stored_entries(live) {
        if mine.is_none() && entry.is(applier.manager, "Apply", applier.api_version, applier.subresource) {
            mine = Some((entry.time, fields));
        } else {
            entry.fields = FieldSet::from_fields_v1(fields);
            entry.encoded = Some(fields.clone());
            entries.push(entry);
        }
    }
    // What the manager applies now; not built when it is what its entry records already.
    let applied = match mine {
        Some((_, fields)) if records_applied_fields(schemas, root, &config, fields) => None,
        _ => Some(FieldSet::of_object(schemas, root, &config).without_map_members()),
    };
    let same_fields = match (&applied, &mine) {
        (None, _) => true,
        (Some(applied), Some((_, fields))) => applied.is_parsed_from(fields),
        (Some(applied), None) => applied.is_empty(),
    };
    let others = entries.iter().fold(FieldSet::default(), |all, e| all.union(&e.fields));

    // Prune what the manager applied before and dropped now, unless someone owns it. Applying
    // the same fields as last time drops nothing: every path of `last` is then one of
    // `applied`, which `managed` includes.
    if let Some(applied) = applied.as_ref().filter(|_| !same_fields) {
        let last = mine.as_ref().map(|(_, fields)| FieldSet::from_fields_v1(fields)).unwrap_or_default();
        let managed = applied.union(&others);
        let mut prune = last.with_named_fields_as_members().difference(&managed.with_named_fields_as_members());
        for top in ["f:metadata", "f:apiVersion", "f:kind"] {
            if let Some(node) = prune.children.get_mut(top) {
                node.own = false;
            }
        }
        for path in prune.member_paths() {
            remove_path(&mut merged, &path);
        }
    }

    // `merged` has no managedFields; `live` is compared without them, and they are untracked,
    // so the comparison finds what it finds between `merged` and `live` without them. Only the
    // fields other managers own matter: they conflict when changed and are lost when removed.
    let merged_is_live = equal_without_metadata_field(live, &merged, "managedFields");
    let (changed, removed) = if merged_is_live || others.is_empty() {
        (FieldSet::default(), FieldSet::default())
    } else {
        FieldSet::compare_within(schemas, root, live, &merged, &others)
    };
    let mut conflicts = Vec::new();
    for entry in &mut entries {
        let conflicting = entry.fields.intersection(&changed);
        if !conflicting.is_empty() {
            let manager = entry.display();
            conflicts.extend(
                conflicting.member_paths().iter().map(|p| Conflict { manager: manager.clone(), path: path_string(p) }),
            );
        }
        let kept = entry.fields.difference(&conflicting).difference(&removed);
        if kept != entry.fields {
            entry.fields = kept;
            entry.encoded = None;
        }
    }
    if !conflicts.is_empty() && !applier.force {
        conflicts.sort_by(|a, b| a.manager.cmp(&b.manager));
        return Err(conflicts);
    }

    let unchanged = merged_is_live && same_fields;
    let (last_time, last_fields) = mine.unzip();
    let time = match last_time {
        Some(time) if unchanged => time,
        _ => applier.now.to_string(),
    };
    entries.push(Entry {
        manager: applier.manager.into(),
        operation: "Apply".into(),
        api_version: applier.api_version.into(),
        time,
        subresource: applier.subresource.into(),
        encoded: last_fields.filter(|_| applied.is_none()).cloned(),
        fields: applied.unwrap_or_default(),
    });
    if let Some(map) = merged.as_object_mut() {
        map.entry("metadata").or_insert_with(|| json!({}));
    }
    write_entries(&mut merged, entries);
    Ok(merged)
}

/// `live` without `metadata.managedFields`, as cloning it and removing them leaves it (the
/// last metadata field takes their place), without cloning them only to drop them.
fn without_managed_fields(live: &Value) -> Value {
    let mut copy = copy_with_nulls(live, &[], &["managedFields"]);
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::schema;
    use crate::registry::managed_fields::entries_of;

    fn root() -> Option<SchemaId> {
        schema().id("io.k8s.api.apps.v1.Deployment")
    }

    fn applier(manager: &str, force: bool) -> Applier<'_> {
        Applier { manager, api_version: "apps/v1", subresource: "", force, now: "2024-01-01T00:00:00Z" }
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})
    }

    #[test]
    fn creating_records_one_apply_entry_without_map_members() {
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "creationTimestamp": null}, "spec": {"replicas": 1}});
        let object = apply(schema(), root(), &json!({}), &config, &applier("mgr", false)).unwrap();
        assert_eq!(object["metadata"].get("creationTimestamp"), None);
        assert_eq!(
            object["metadata"]["managedFields"],
            json!([{"manager": "mgr", "operation": "Apply", "apiVersion": "apps/v1", "time": "2024-01-01T00:00:00Z",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}}}}])
        );
    }

    #[test]
    fn reapplying_is_a_no_op_and_dropped_fields_are_removed() {
        let first = apply(schema(), root(), &json!({}), &deployment(2, "a"), &applier("mgr", false)).unwrap();
        let mut later = applier("mgr", false);
        later.now = "2025-01-01T00:00:00Z";
        let again = apply(schema(), root(), &first, &deployment(2, "a"), &later).unwrap();
        assert_eq!(again, first, "same object, same managedFields time");
        let mut without_replicas = deployment(2, "a");
        without_replicas["spec"].as_object_mut().unwrap().remove("replicas");
        let pruned = apply(schema(), root(), &first, &without_replicas, &later).unwrap();
        assert_eq!(pruned["spec"].get("replicas"), None);
        assert_eq!(pruned["metadata"]["managedFields"][0]["time"], "2025-01-01T00:00:00Z");
    }

    #[test]
    fn other_managers_conflict_on_changed_values_share_equal_ones_and_force_moves_them() {
        let first = apply(schema(), root(), &json!({}), &deployment(2, "a"), &applier("alpha", false)).unwrap();
        let shared = apply(schema(), root(), &first, &deployment(2, "a"), &applier("beta", false)).unwrap();
        assert_eq!(shared["metadata"]["managedFields"].as_array().unwrap().len(), 2);
        let conflicts = apply(schema(), root(), &shared, &deployment(3, "b"), &applier("beta", false)).unwrap_err();
        assert_eq!(
            conflicts.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(),
            [".spec.replicas", ".spec.template.spec.containers[name=\"app\"].image"]
        );
        let error = conflict_error(&conflicts);
        assert_eq!(
            error.status()["message"],
            "Apply failed with 2 conflicts: conflicts with \"alpha\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"app\"].image"
        );
        assert_eq!(
            conflict_error(&conflicts[..1]).status()["details"]["causes"],
            json!([{"reason": "FieldManagerConflict", "message": "conflict with \"alpha\"", "field": ".spec.replicas"}])
        );
        let forced = apply(schema(), root(), &shared, &deployment(3, "b"), &applier("beta", true)).unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        let alpha = entries_of(&forced).into_iter().find(|e| e.manager == "alpha").unwrap();
        assert!(!alpha.fields.has(&["f:spec", "f:replicas"]));
        assert!(alpha.fields.has(&["f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"app\"}"]));
    }

    #[test]
    fn a_field_another_manager_still_owns_is_not_pruned() {
        let first = apply(schema(), root(), &json!({}), &deployment(2, "a"), &applier("alpha", false)).unwrap();
        let both = apply(schema(), root(), &first, &deployment(2, "a"), &applier("beta", false)).unwrap();
        let mut without_replicas = deployment(2, "a");
        without_replicas["spec"].as_object_mut().unwrap().remove("replicas");
        let kept = apply(schema(), root(), &both, &without_replicas, &applier("alpha", false)).unwrap();
        assert_eq!(kept["spec"]["replicas"], 2);
    }

    #[test]
    fn live_objects_compare_without_their_managed_fields() {
        let live = json!({"metadata": {"name": "a", "managedFields": [{}], "labels": {"x": "y"}}, "spec": {"r": 1}});
        let clean = without_managed_fields(&live);
        assert_eq!(clean, json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"r": 1}}));
        assert_eq!(clean["metadata"].as_object().unwrap().keys().collect::<Vec<_>>(), ["name", "labels"]);
        assert!(equal_without_metadata_field(&live, &clean, "managedFields"));
        let mut relabelled = clean.clone();
        relabelled["metadata"]["labels"]["x"] = json!("z");
        assert!(!equal_without_metadata_field(&live, &relabelled, "managedFields"));
        assert!(!equal_without_metadata_field(
            &live,
            &json!({"metadata": {"name": "a"}, "spec": {"r": 1}}),
            "managedFields"
        ));
    }

    #[test]
    fn updaters_are_named_with_their_api_version() {
        let mut live = deployment(2, "a");
        crate::registry::managed_fields::record_update(
            schema(),
            root(),
            None,
            &mut live,
            "kubectl-client-side-apply",
            "apps/v1",
            "t0",
            "",
        );
        let mut config = deployment(5, "a");
        config["spec"]["template"] = json!(null);
        let conflicts = apply(schema(), root(), &live, &config, &applier("kubectl", false)).unwrap_err();
        assert_eq!(
            conflict_error(&conflicts).status()["message"],
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
    }
}

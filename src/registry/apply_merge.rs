//! The structured merge of server-side apply (structured-merge-diff's `TypedValue.Merge`): an
//! applied configuration laid over the live object along the schema. Structs and granular maps
//! merge field by field, atomic maps and lists are replaced, list-maps merge element by element
//! on their keys and sets member by member, keeping the live order for items only the live
//! object has and the applied order for the rest. Also the removal of single field paths that
//! pruning needs.

use super::managed_fields::{ListKind, is_atomic_map, list_kind};
use crate::openapi::{SchemaId, Schemas};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// `live` with `config` merged over it. Nulls in `config` mean "not set" and are skipped.
pub fn merge(schemas: &Schemas, schema: Option<SchemaId>, live: &Value, config: &Value) -> Value {
    match (live, config) {
        (Value::Object(live_map), Value::Object(config_map)) if !schema.is_some_and(|s| is_atomic_map(schemas, s)) => {
            let mut out = live_map.clone();
            for (key, value) in config_map {
                if value.is_null() {
                    continue;
                }
                let child = schema.and_then(|s| schemas.field(s, key));
                let merged = match live_map.get(key) {
                    Some(existing) => merge(schemas, child, existing, value),
                    None => strip_nulls(value),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(live_items), Value::Array(config_items)) => {
            let Some(list) = schema else { return strip_nulls(config) };
            let item_schema = schemas.items(list);
            match list_kind(schemas, list) {
                ListKind::Atomic => strip_nulls(config),
                ListKind::Map(keys) => {
                    let id = |item: &Value| keys.item_key(item);
                    merge_lists(live_items, config_items, id, |l, c| merge(schemas, item_schema, l, c))
                }
                ListKind::Set => merge_lists(live_items, config_items, |item| item.to_string(), |_, c| c.clone()),
            }
        }
        _ => strip_nulls(config),
    }
}

fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), strip_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// The associative list merge of structured-merge-diff (`mergeListTypes`): items only `live`
/// has stay where they were, shared items follow the applied order.
fn merge_lists(
    live: &[Value],
    config: &[Value],
    id: impl Fn(&Value) -> String,
    merge_item: impl Fn(&Value, &Value) -> Value,
) -> Value {
    let live_ids: Vec<String> = live.iter().map(&id).collect();
    let config_ids: Vec<String> = config.iter().map(&id).collect();
    let live_by_id: HashMap<&str, &Value> = live_ids.iter().map(String::as_str).zip(live).collect();
    let config_by_id: HashMap<&str, &Value> = config_ids.iter().map(String::as_str).zip(config).collect();
    let mut shared: std::collections::VecDeque<&str> =
        config_ids.iter().map(String::as_str).filter(|i| live_by_id.contains_key(i)).collect();
    let mut next_shared = shared.pop_front();
    let mut merged: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(live.len() + config.len());
    let (mut l, mut r) = (0, 0);
    let take = |pe: &str| match (live_by_id.get(pe), config_by_id.get(pe)) {
        (Some(lv), Some(cv)) => merge_item(lv, cv),
        (Some(lv), None) => (*lv).clone(),
        (None, Some(cv)) => strip_nulls(cv),
        (None, None) => Value::Null,
    };
    while l < live_ids.len() || r < config_ids.len() {
        if l < live_ids.len() && r < config_ids.len() {
            let pe = live_ids[l].as_str();
            if pe == config_ids[r] {
                merged.insert(pe);
                out.push(take(pe));
                l += 1;
                r += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if config_by_id.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                l += 1;
                continue;
            }
        }
        if l < live_ids.len() {
            let pe = live_ids[l].as_str();
            if !config_by_id.contains_key(pe) {
                out.push(take(pe));
                l += 1;
                continue;
            } else if merged.contains(pe) {
                l += 1;
                continue;
            }
        }
        if r < config_ids.len() {
            let pe = config_ids[r].as_str();
            merged.insert(pe);
            out.push(take(pe));
            r += 1;
            if next_shared == Some(pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    Value::Array(out)
}

/// Removes the value at `path` (FieldsV1 elements) from `value`, if it is there.
pub fn remove_path(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = value;
    for element in parents {
        let next = match element.strip_prefix("f:") {
            Some(field) => node.get_mut(field),
            None => item_index(node, element).and_then(|i| node.get_mut(i)),
        };
        match next {
            Some(next) => node = next,
            None => return,
        }
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Some(map) = node.as_object_mut() {
            map.remove(field);
        }
    } else if let Some(index) = item_index(node, last)
        && let Some(items) = node.as_array_mut()
    {
        items.remove(index);
    }
}

fn item_index(list: &Value, element: &str) -> Option<usize> {
    let items = list.as_array()?;
    let target = super::field_set::child_value(list, element)?;
    items.iter().position(|item| std::ptr::eq(item, target))
}

/// The applied configuration cleaned for merging: nulls dropped and the metadata the server
/// owns (managedFields, resourceVersion, uid, creationTimestamp, ...) left out.
pub fn clean_config(config: &Value) -> Value {
    let mut config = strip_nulls(config);
    if let Some(metadata) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"] {
            metadata.remove(field);
        }
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::schema;
    use serde_json::json;

    fn deployment() -> Option<SchemaId> {
        schema().id("io.k8s.api.apps.v1.Deployment")
    }

    #[test]
    fn containers_merge_by_name_and_keep_live_only_items_in_place() {
        let live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1", "args": ["x"]},
            {"name": "sidecar", "image": "s:1"},
            {"name": "b", "image": "b:1"},
        ]}}}});
        let config = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "b", "image": "b:2"},
            {"name": "a", "image": "a:2", "args": ["y"]},
            {"name": "c", "image": "c:1"},
        ]}}}});
        let merged = merge(schema(), deployment(), &live, &config);
        assert_eq!(
            merged.pointer("/spec/template/spec/containers").unwrap(),
            &json!([
                {"name": "sidecar", "image": "s:1"},
                {"name": "b", "image": "b:2"},
                {"name": "a", "image": "a:2", "args": ["y"]},
                {"name": "c", "image": "c:1"},
            ]),
            "args is atomic; shared items follow the applied order"
        );
    }

    #[test]
    fn granular_maps_merge_atomic_ones_are_replaced_and_nulls_are_unset() {
        let live = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"selector": {"matchLabels": {"a": "1"}}, "paused": true}});
        let config = json!({"metadata": {"labels": {"b": "2"}}, "spec": {"selector": {"matchLabels": {"b": "2"}}, "paused": null}});
        let merged = merge(schema(), deployment(), &live, &config);
        assert_eq!(merged["metadata"]["labels"], json!({"a": "1", "b": "2"}));
        assert_eq!(merged["spec"]["selector"], json!({"matchLabels": {"b": "2"}}), "LabelSelector is an atomic map");
        assert_eq!(merged["spec"]["paused"], json!(true));
    }

    #[test]
    fn sets_union_and_unknown_lists_are_replaced() {
        let configmap = schema().id("io.k8s.api.core.v1.ConfigMap");
        let live = json!({"metadata": {"finalizers": ["a", "b"]}});
        let config = json!({"metadata": {"finalizers": ["c", "a"]}});
        let merged = merge(schema(), configmap, &live, &config);
        assert_eq!(merged["metadata"]["finalizers"], json!(["c", "a", "b"]));
        let untyped = merge(schema(), None, &json!({"l": [1, 2]}), &json!({"l": [3]}));
        assert_eq!(untyped["l"], json!([3]));
    }

    #[test]
    fn paths_are_removed_from_objects_and_lists() {
        let mut value = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}], "f": ["p", "q"]}});
        remove_path(
            &mut value,
            &["f:spec".into(), "f:containers".into(), "k:{\"name\":\"a\"}".into(), "f:image".into()],
        );
        remove_path(&mut value, &["f:spec".into(), "f:containers".into(), "k:{\"name\":\"b\"}".into()]);
        remove_path(&mut value, &["f:spec".into(), "f:f".into(), "v:\"q\"".into()]);
        remove_path(&mut value, &["f:nothing".into(), "f:here".into()]);
        assert_eq!(value, json!({"spec": {"containers": [{"name": "a"}], "f": ["p"]}}));
    }
}

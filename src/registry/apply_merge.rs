//! The structured merge of server-side apply (structured-merge-diff's `TypedValue.Merge`): an
//! applied configuration laid over the live object along the schema. Structs and granular maps
//! merge field by field, atomic maps and lists are replaced, list-maps merge element by element
//! on their keys and sets member by member, keeping the live order for items only the live
//! object has and the applied order for the rest. Also the removal of single field paths that
//! pruning needs.

use super::managed_fields::{ListKind, is_atomic_map, list_kind};
use crate::openapi::{SchemaId, Schemas};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// Merges `config` over `live`, in place. Nulls in `config` mean "not set" and are skipped.
/// Fields of `live` keep their place; fields only `config` sets follow them in its order.
pub fn merge(schemas: &Schemas, schema: Option<SchemaId>, live: &mut Value, config: &Value) {
    match (&mut *live, config) {
        (Value::Object(live_map), Value::Object(config_map)) if !schema.is_some_and(|s| is_atomic_map(schemas, s)) => {
            for (key, value) in config_map {
                if value.is_null() {
                    continue;
                }
                match live_map.get_mut(key) {
                    Some(existing) => merge(schemas, schema.and_then(|s| schemas.field(s, key)), existing, value),
                    None => {
                        live_map.insert(key.clone(), strip_nulls(value));
                    }
                }
            }
            return;
        }
        (Value::Array(live_items), Value::Array(config_items)) => {
            if let Some(list) = schema {
                match list_kind(schemas, list) {
                    ListKind::Atomic => {}
                    ListKind::Map(keys) => {
                        let item_schema = schemas.items(list);
                        let items = std::mem::take(live_items);
                        let merge_item = |l: &mut Value, c: &Value| merge(schemas, item_schema, l, c);
                        *live_items = merge_lists(items, config_items, |item| keys.item_key(item), merge_item);
                        return;
                    }
                    ListKind::Set => {
                        let items = std::mem::take(live_items);
                        *live_items = merge_lists(items, config_items, |item| item.to_string(), |l, c| *l = c.clone());
                        return;
                    }
                }
            }
        }
        _ => {}
    }
    *live = strip_nulls(config);
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

/// Whether some object in `value` has a null field, which [`strip_nulls`] would drop.
fn has_null_fields(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().any(|v| v.is_null() || has_null_fields(v)),
        Value::Array(items) => items.iter().any(has_null_fields),
        _ => false,
    }
}

/// The associative list merge of structured-merge-diff (`mergeListTypes`): items only `live`
/// has stay where they were, shared items follow the applied order.
fn merge_lists(
    mut live: Vec<Value>,
    config: &[Value],
    id: impl Fn(&Value) -> String,
    merge_item: impl Fn(&mut Value, &Value),
) -> Vec<Value> {
    let live_ids: Vec<String> = live.iter().map(&id).collect();
    let config_ids: Vec<String> = config.iter().map(&id).collect();
    if live_ids == config_ids && all_different(&live_ids) {
        // The same items in the same order, as when re-applying: each merges in its place.
        for (item, config_item) in live.iter_mut().zip(config) {
            merge_item(item, config_item);
        }
        return live;
    }
    let live_by_id: HashMap<&str, usize> = live_ids.iter().map(String::as_str).zip(0..).collect();
    let config_by_id: HashMap<&str, &Value> = config_ids.iter().map(String::as_str).zip(config).collect();
    // Without repeated ids every id is taken once at most, so live items can move into the
    // result; a repeated id may be taken again and needs its live item intact.
    let ids_unique = live_by_id.len() == live.len() && config_by_id.len() == config.len();
    let mut shared: std::collections::VecDeque<&str> =
        config_ids.iter().map(String::as_str).filter(|i| live_by_id.contains_key(i)).collect();
    let mut next_shared = shared.pop_front();
    let mut merged: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(live.len() + config.len());
    let (mut l, mut r) = (0, 0);
    let mut take = |pe: &str| match (live_by_id.get(pe), config_by_id.get(pe)) {
        (Some(&i), config_item) => {
            let mut item = if ids_unique { std::mem::take(&mut live[i]) } else { live[i].clone() };
            if let Some(config_item) = config_item {
                merge_item(&mut item, config_item);
            }
            item
        }
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
    out
}

/// Whether no two of `ids` are the same.
fn all_different(ids: &[String]) -> bool {
    let mut sorted: Vec<&str> = ids.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.windows(2).all(|pair| pair[0] != pair[1])
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

/// Metadata the server owns, which an applied configuration cannot set.
const SERVER_OWNED_METADATA: [&str; 6] =
    ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"];

/// The applied configuration cleaned for merging: nulls dropped and the metadata the server
/// owns (managedFields, resourceVersion, uid, creationTimestamp, ...) left out. Borrowed when
/// there is nothing to drop, as with most configurations.
pub fn clean_config(config: &Value) -> Cow<'_, Value> {
    let metadata = config.get("metadata").and_then(Value::as_object);
    let sets_server_owned = metadata.is_some_and(|m| SERVER_OWNED_METADATA.iter().any(|f| m.contains_key(*f)));
    if !sets_server_owned && !has_null_fields(config) {
        return Cow::Borrowed(config);
    }
    let mut config = strip_nulls(config);
    if let Some(metadata) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in SERVER_OWNED_METADATA {
            metadata.remove(field);
        }
    }
    Cow::Owned(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::schema;
    use serde_json::json;

    fn deployment() -> Option<SchemaId> {
        schema().id("io.k8s.api.apps.v1.Deployment")
    }

    fn merge_over(root: Option<SchemaId>, live: &Value, config: &Value) -> Value {
        let mut merged = live.clone();
        merge(schema(), root, &mut merged, config);
        merged
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
        let merged = merge_over(deployment(), &live, &config);
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
        let merged = merge_over(deployment(), &live, &config);
        assert_eq!(merged["metadata"]["labels"], json!({"a": "1", "b": "2"}));
        assert_eq!(merged["spec"]["selector"], json!({"matchLabels": {"b": "2"}}), "LabelSelector is an atomic map");
        assert_eq!(merged["spec"]["paused"], json!(true));
    }

    #[test]
    fn sets_union_and_unknown_lists_are_replaced() {
        let configmap = schema().id("io.k8s.api.core.v1.ConfigMap");
        let live = json!({"metadata": {"finalizers": ["a", "b"]}});
        let config = json!({"metadata": {"finalizers": ["c", "a"]}});
        let merged = merge_over(configmap, &live, &config);
        assert_eq!(merged["metadata"]["finalizers"], json!(["c", "a", "b"]));
        let untyped = merge_over(None, &json!({"l": [1, 2]}), &json!({"l": [3]}));
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

//! `application/strategic-merge-patch+json`, following `k8s.io/apimachinery/pkg/util/strategicpatch`
//! (`StrategicMergeMapPatch` → `mergeMap`) with the server's options (parallel lists merged,
//! unmatched nulls ignored). Maps merge key by key and null deletes; a field whose
//! `x-kubernetes-patch-strategy` is `replace` is replaced; lists merge only under `merge` (see
//! [`super::strategic_list`]) and are replaced otherwise. The directives:
//!
//! * `$patch: replace` / `$patch: delete` in a map replace it with the rest of the patch map, or
//!   empty it; any other value is an error (`merge` included, as in the real code);
//! * `$retainKeys: [..]` drops every original key not listed, and rejects patch keys not listed;
//! * `$setElementOrder/<list>` merges `<list>` and orders the result: listed items in the given
//!   order, server-only items slotted in by their original positions;
//! * `$deleteFromPrimitiveList/<list>` removes values from a merging list of scalars.
//!
//! The schema graph stands in for Go struct tags. Where it knows nothing (unknown or free-form
//! fields) the merge behaves as it does for unstructured data: maps merge, lists are replaced.
//! Errors keep the real status: malformed directives are 400, lists of lists 422, and the rest
//! (missing merge keys, bad `$patch` values) the 500 kube-apiserver answers them with.

use super::PatchError;
use super::go_json::{go_string, go_type, go_value};
use super::strategic_list::{element_kind, merge_slice, normalize_element_order, partition, validate_order};
use crate::openapi::{SchemaId, Schemas};
use serde_json::{Map, Value};

pub(super) const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// A position in the schema graph; `None` wherever the schema says nothing.
#[derive(Clone, Copy)]
pub(super) struct Meta<'a> {
    schemas: &'a Schemas,
    id: SchemaId,
}

impl<'a> Meta<'a> {
    pub(super) fn new(schemas: &'a Schemas, id: SchemaId) -> Self {
        Meta { schemas, id }
    }
}

/// What the schema says about one field (`LookupPatchMetadataForStruct`/`ForSlice`).
pub(super) struct FieldMeta<'a> {
    /// The field's own schema, or its items' for a list.
    pub schema: Option<Meta<'a>>,
    pub merge: bool,
    pub replace: bool,
    pub merge_key: String,
}

fn lookup<'a>(meta: Option<Meta<'a>>, key: &str) -> FieldMeta<'a> {
    let field = meta.and_then(|m| m.schemas.field(m.id, key).map(|id| Meta { schemas: m.schemas, id }));
    let node = field.map(|m| m.schemas.node(m.id));
    FieldMeta {
        schema: field,
        merge: node.is_some_and(|n| n.patch_strategy.merge),
        replace: node.is_some_and(|n| n.patch_strategy.replace),
        merge_key: node.and_then(|n| n.patch_merge_key.clone()).unwrap_or_default(),
    }
}

fn lookup_list<'a>(meta: Option<Meta<'a>>, key: &str) -> FieldMeta<'a> {
    let field = lookup(meta, key);
    let items = field.schema.and_then(|m| m.schemas.items(m.id).map(|id| Meta { schemas: m.schemas, id }));
    FieldMeta { schema: items, ..field }
}

/// The Go type a decoded value has; values of different types replace rather than merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GoKind {
    Map,
    Slice,
    String,
    Int,
    Float,
    Bool,
    Nil,
}

pub(super) fn go_kind(value: &Value) -> GoKind {
    match value {
        Value::Object(_) => GoKind::Map,
        Value::Array(_) => GoKind::Slice,
        Value::String(_) => GoKind::String,
        Value::Number(n) if n.is_f64() => GoKind::Float,
        Value::Number(_) => GoKind::Int,
        Value::Bool(_) => GoKind::Bool,
        Value::Null => GoKind::Nil,
    }
}

/// `mergepatch.ErrBadArgType`.
pub(super) fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    PatchError::internal(format!("expected a {expected}, but received a {}", go_type(actual)))
}

/// `mergepatch.ErrNoMergeKey`.
pub(super) fn no_merge_key(item: &Value, merge_key: &str) -> PatchError {
    PatchError::internal(format!("map: {} does not contain declared merge key: {merge_key}", go_value(item)))
}

/// `mergepatch.ErrBadPatchType`.
pub(super) fn bad_patch_type(directive: &Value, map: &Value) -> PatchError {
    PatchError::internal(format!("unknown patch type: {} in map: {}", go_string(directive), go_value(map)))
}

/// Applies a strategic merge patch to an object.
pub(super) fn apply(original: &Value, patch: Map<String, Value>, meta: Option<Meta<'_>>) -> Result<Value, PatchError> {
    let original = original.as_object().cloned().unwrap_or_default();
    merge_map(original, patch, meta).map(Value::Object)
}

/// `mergeMap`.
pub(super) fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    meta: Option<Meta<'_>>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(directive, &Value::Object(patch.clone()))),
        };
    }
    retain_keys(&mut original, &mut patch)?;
    apply_element_orders(&mut original, &mut patch, meta)?;
    for (raw_key, patch_value) in patch {
        let (key, deleting) = if raw_key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            (extract_key(&raw_key, DELETE_FROM_PRIMITIVE_LIST)?, true)
        } else {
            (raw_key, false)
        };
        if patch_value.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let Some(current) = original.get_mut(&key) else {
            if !deleting {
                original.insert(key, patch_value);
            }
            continue;
        };
        if go_kind(current) != go_kind(&patch_value) {
            if !deleting {
                *current = patch_value;
            }
            continue;
        }
        *current = match (std::mem::take(current), patch_value) {
            (Value::Object(current), Value::Object(patch)) => {
                let field = lookup(meta, &key);
                if field.replace {
                    Value::Object(patch)
                } else {
                    Value::Object(merge_map(current, patch, field.schema)?)
                }
            }
            (Value::Array(current), Value::Array(patch)) => {
                Value::Array(merge_list(current, patch, &lookup_list(meta, &key), deleting)?)
            }
            (_, patch_value) => patch_value,
        };
    }
    Ok(original)
}

/// `mergeSliceHandler`: merge under the `merge` strategy, replace otherwise.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    field: &FieldMeta<'_>,
    deleting: bool,
) -> Result<Vec<Value>, PatchError> {
    if field.merge { merge_slice(original, patch, field.schema, &field.merge_key, deleting) } else { Ok(patch) }
}

/// `extractKey`: `<prefix>/<key>`.
fn extract_key(key: &str, prefix: &str) -> Result<String, PatchError> {
    match key.split_once('/') {
        Some((head, rest)) if head == prefix => Ok(rest.to_string()),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => {
            Err(PatchError::bad_request("invalid patch format of primitive list"))
        }
        _ => Err(PatchError::bad_request("invalid patch format of setElementOrder list")),
    }
}

/// `applyRetainKeysDirective`.
fn retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<(), PatchError> {
    let Some(list) = patch.shift_remove(RETAIN_KEYS) else { return Ok(()) };
    let bad = || PatchError::bad_request("invalid patch format of retainKeys");
    let Value::Array(list) = list else { return Err(bad()) };
    let retained = |key: &str| list.iter().any(|v| v.as_str() == Some(key));
    let directive = |key: &str| key.starts_with(DELETE_FROM_PRIMITIVE_LIST) || key.starts_with(SET_ELEMENT_ORDER);
    if patch.iter().any(|(k, v)| !v.is_null() && !directive(k) && !retained(k)) {
        return Err(bad());
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

/// A list-valued member, cloned; anything else but absence is an error.
fn list_at(map: &Map<String, Value>, key: &str) -> Result<Option<Vec<Value>>, PatchError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.clone())),
        Some(other) => Err(bad_arg_type("[]interface {}", other)),
    }
}

/// `mergePatchIntoOriginal`: every `$setElementOrder/<list>` with its list.
fn apply_element_orders(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    meta: Option<Meta<'_>>,
) -> Result<(), PatchError> {
    let directives: Vec<String> = patch.keys().filter(|k| k.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
    for directive in directives {
        let order = patch.shift_remove(&directive).unwrap_or_default();
        let Value::Array(order) = order else { return Err(bad_arg_type("[]interface {}", &order)) };
        let key = extract_key(&directive, SET_ELEMENT_ORDER)?;
        let from_original = list_at(original, &key)?;
        let from_patch = list_at(patch, &key)?;
        let field = lookup_list(meta, &key);
        validate_order(from_patch.as_deref().unwrap_or_default(), &order, &field.merge_key)?;
        let merged = match (&from_original, &from_patch) {
            (Some(original), None) => original.clone(),
            (None, Some(patch)) => patch.clone(),
            (Some(original), Some(patch)) => merge_list(original.clone(), patch.clone(), &field, false)?,
            (None, None) => continue,
        };
        let from_original = from_original.unwrap_or_default();
        let (listed, server_only) = partition(merged, &order, &field.merge_key)?;
        let kind = element_kind(&[&from_original, from_patch.as_deref().unwrap_or_default()])?;
        let ordered = normalize_element_order(listed, server_only, &order, &from_original, &field.merge_key, kind)?;
        original.insert(key.clone(), Value::Array(ordered));
        patch.shift_remove(&key);
    }
    Ok(())
}

#[cfg(test)]
#[path = "strategic_tests.rs"]
mod tests;

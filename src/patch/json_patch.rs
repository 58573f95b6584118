//! `application/json-patch+json` (RFC 6902) with the semantics of the library kube-apiserver
//! uses, `gopkg.in/evanphx/json-patch.v4`, rather than the letter of the RFC: `replace` of a
//! missing object member adds it, `copy` from a missing member copies null, negative array
//! indices count from the end, and a pointer without a leading `/` is read as if it had one.
//!
//! Errors follow `handlers/patch.go`: a body that does not decode as a list of operations is
//! 400 `error decoding patch: ...`, more than 10000 operations is 413, and any operation that
//! does not apply (a failed `test`, a missing path) is 422 with the generic message
//! `the server rejected our request due to an error in our request` — the library's own reason
//! (`testing value /x failed: test failed`) never reaches the client, so it is kept as detail.

use super::PatchError;
use super::go_json::{decode, kind_name};
use serde_json::{Map, Value};

/// kube-apiserver's `maxJSONPatchOperations`.
const MAX_OPERATIONS: usize = 10000;
const MISSING: &str = "missing value";

/// Applies a JSON patch body to `doc`.
pub(super) fn apply(mut doc: Value, body: &[u8]) -> Result<Value, PatchError> {
    let decode_error = |e: String| PatchError::bad_request(format!("error decoding patch: {e}"));
    let patch = decode(body).map_err(decode_error)?;
    check_shape(&patch).map_err(decode_error)?;
    let operations = patch.as_array().map(Vec::as_slice).unwrap_or_default();
    if operations.len() > MAX_OPERATIONS {
        return Err(PatchError::too_large(format!(
            "The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {}",
            operations.len()
        )));
    }
    for operation in operations {
        let empty = Map::new();
        let operation = operation.as_object().unwrap_or(&empty);
        apply_operation(&mut doc, operation).map_err(PatchError::not_applied)?;
    }
    Ok(doc)
}

/// The strict decode into `[]jsonPatchOp` (`op`, `path`, `from` strings, `value` anything).
fn check_shape(patch: &Value) -> Result<(), String> {
    let items = match patch {
        Value::Null => return Ok(()),
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type []handlers.jsonPatchOp",
                kind_name(other)
            ));
        }
    };
    for item in items {
        match item {
            Value::Null => {}
            Value::Object(fields) => {
                for name in ["op", "path", "from"] {
                    if let Some(v) = fields.get(name).filter(|v| !v.is_null() && !v.is_string()) {
                        return Err(format!(
                            "json: cannot unmarshal {} into Go struct field jsonPatchOp.{name} of type string",
                            kind_name(v)
                        ));
                    }
                }
            }
            other => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go value of type handlers.jsonPatchOp",
                    kind_name(other)
                ));
            }
        }
    }
    Ok(())
}

/// RFC 6901 unescaping in one pass (`~1` is `/`, `~0` is `~`).
fn decode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut rest = key;
    while let Some(i) = rest.find('~') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("~1") {
            out.push('/');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("~0") {
            out.push('~');
            rest = after;
        } else {
            out.push('~');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// `strconv.Atoi` plus the library's negative-index rule against `len`.
fn index(key: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    let i: i64 = key.parse().map_err(|_| format!("strconv.Atoi: parsing {key:?}: invalid syntax"))?;
    let bound = len as i64 + i64::from(allow_end);
    let invalid = || format!("Unable to access invalid index: {i}: invalid index referenced");
    if i >= bound || i < -bound {
        return Err(invalid());
    }
    Ok(if i < 0 { (i + bound) as usize } else { i as usize })
}

/// `findObject`: the container holding the last segment of `path`, and that segment.
fn find_container<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() < 2 {
        return None;
    }
    let mut current = doc;
    for part in &segments[1..segments.len() - 1] {
        let key = decode_key(part);
        let next = match current {
            Value::Object(map) => map.get_mut(&key)?,
            Value::Array(items) => {
                let i = index(&key, items.len(), false).ok()?;
                &mut items[i]
            }
            _ => return None,
        };
        if !next.is_object() && !next.is_array() {
            return None;
        }
        current = next;
    }
    Some((current, decode_key(segments[segments.len() - 1])))
}

/// The member or element at `key`; `None` for a missing member or a null.
fn get<'a>(container: &'a Value, key: &str) -> Result<Option<&'a Value>, String> {
    let found = match container {
        Value::Object(map) => map.get(key),
        Value::Array(items) => Some(&items[index(key, items.len(), false)?]),
        _ => None,
    };
    Ok(found.filter(|v| !v.is_null()))
}

fn add(container: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match container {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) if key == "-" => items.push(value),
        Value::Array(items) => {
            let i = index(key, items.len(), true).map_err(|e| {
                if e.starts_with("strconv") { format!("value was not a proper array index: '{key}': {e}") } else { e }
            })?;
            items.insert(i, value);
        }
        _ => {}
    }
    Ok(())
}

fn remove(container: &mut Value, key: &str) -> Result<(), String> {
    match container {
        Value::Object(map) => {
            map.shift_remove(key).ok_or_else(|| format!("Unable to remove nonexistent key: {key}: {MISSING}"))?;
        }
        Value::Array(items) => {
            let i = index(key, items.len(), false)?;
            items.remove(i);
        }
        _ => {}
    }
    Ok(())
}

/// The library's `lazyNode.equal`: structural, with numbers compared as written.
fn equal(actual: &Value, expected: &Value) -> bool {
    actual == expected
}

fn apply_operation(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("unknown");
    let field = |name: &str| op.get(name).and_then(Value::as_str);
    let path = field("path");
    let from = field("from");
    let value = op.get("value");
    let missing = |what: &str| format!("{kind} operation does not apply: doc is missing {what}");
    match kind {
        "add" | "remove" => {
            let path = path.ok_or_else(|| format!("{kind} operation failed to decode path: {MISSING}"))?;
            let (container, key) =
                find_container(doc, path).ok_or_else(|| missing(&format!("path: \"{path}\": {MISSING}")))?;
            let result = if kind == "add" {
                add(container, &key, value.cloned().unwrap_or(Value::Null))
            } else {
                remove(container, &key)
            };
            result.map_err(|e| format!("error in {kind} for path: '{path}': {e}"))
        }
        "replace" => {
            let path = path.ok_or_else(|| {
                format!("replace operation failed to decode path: operation missing path field: {MISSING}")
            })?;
            if path.is_empty() {
                return match value {
                    Some(v @ (Value::Object(_) | Value::Array(_))) => {
                        *doc = v.clone();
                        Ok(())
                    }
                    _ => Err("replace operation value must be object or array".to_string()),
                };
            }
            let (container, key) =
                find_container(doc, path).ok_or_else(|| missing(&format!("path: {path}: {MISSING}")))?;
            get(container, &key).map_err(|_| missing(&format!("key: {path}: {MISSING}")))?;
            let value = value.cloned().unwrap_or(Value::Null);
            match container {
                Value::Object(map) => {
                    map.insert(key, value);
                }
                Value::Array(items) => {
                    let i = index(&key, items.len(), false)?;
                    items[i] = value;
                }
                _ => {}
            }
            Ok(())
        }
        "move" | "copy" => {
            let from = from.ok_or_else(|| {
                format!("{kind} operation failed to decode from: operation, missing from field: {MISSING}")
            })?;
            let (container, key) =
                find_container(doc, from).ok_or_else(|| missing(&format!("from path: {from}: {MISSING}")))?;
            let moved = get(container, &key).map_err(|e| format!("error in {kind} for path: '{key}': {e}"))?.cloned();
            if kind == "move" {
                remove(container, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            }
            let path = path.ok_or_else(|| format!("{kind} operation failed to decode path: {MISSING}"))?;
            let (container, key) =
                find_container(doc, path).ok_or_else(|| missing(&format!("destination path: {path}: {MISSING}")))?;
            add(container, &key, moved.unwrap_or(Value::Null))
                .map_err(|e| format!("error in {kind} for path: '{path}': {e}"))
        }
        "test" => {
            let path = path.ok_or_else(|| {
                format!("test operation failed to decode path: operation missing path field: {MISSING}")
            })?;
            let failed = || format!("testing value {path} failed: test failed");
            if path.is_empty() {
                return if value.is_some_and(|v| equal(doc, v)) { Ok(()) } else { Err(failed()) };
            }
            let (container, key) = find_container(doc, path)
                .ok_or_else(|| format!("test operation does not apply: is missing path: {path}: {MISSING}"))?;
            let actual = get(container, &key).map_err(|e| format!("error in test for path: '{path}': {e}"))?;
            let passed = match (actual, value) {
                (None, None | Some(Value::Null)) => true,
                (Some(actual), Some(expected)) => equal(actual, expected),
                _ => false,
            };
            if passed { Ok(()) } else { Err(failed()) }
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

#[cfg(test)]
#[path = "json_patch_tests.rs"]
mod tests;

//! `application/merge-patch+json` (RFC 7386) as `evanphx/json-patch.v4`'s `MergePatch` applies
//! it for kube-apiserver: objects merge member by member, null deletes, anything else replaces.
//! Where a patch value lands on nothing to merge with (or on a non-object) the library prunes
//! its nulls at every depth, null array elements included; where it replaces an object with a
//! non-object it does not.
//!
//! kube-apiserver decodes the body strictly first, so a body that is not an object is 400
//! `error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}`,
//! and a `null` body is 400 `Invalid JSON Patch`.

use super::PatchError;
use super::go_json::{decode, type_error};
use serde_json::{Map, Value};

pub(super) fn apply(original: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let patch = decode(body).map_err(|e| PatchError::bad_request(format!("error decoding patch: {e}")))?;
    match patch {
        Value::Object(patch) => {
            let mut doc = original.as_object().cloned().unwrap_or_default();
            merge_objects(&mut doc, patch);
            Ok(Value::Object(doc))
        }
        Value::Null => Err(PatchError::bad_request("Invalid JSON Patch")),
        other => Err(PatchError::bad_request(format!(
            "error decoding patch: {}",
            type_error(&other, "map[string]interface {}")
        ))),
    }
}

/// Merges `patch` into `target` (`mergeDocs`).
pub fn merge_objects(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            target.shift_remove(&key);
            continue;
        }
        let onto_object = matches!(target.get(&key), Some(Value::Object(_)));
        match (target.get_mut(&key), value) {
            (Some(Value::Object(current)), Value::Object(patch)) => merge_objects(current, patch),
            (_, value) if onto_object => {
                target.insert(key, value);
            }
            (_, value) => {
                target.insert(key, pruned(value));
            }
        }
    }
}

/// `pruneNulls`: drops nulls at any depth, array elements included (v4 does; v5 keeps them).
fn pruned(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, pruned(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().filter(|v| !v.is_null()).map(pruned).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::PatchErrorKind;
    use proptest::prelude::*;
    use serde_json::json;

    fn run(original: Value, patch: &str) -> Result<Value, PatchError> {
        apply(&original, patch.as_bytes())
    }

    #[test]
    fn merges_like_rfc_7386_with_the_go_library_pruning() {
        let original = json!({"a": {"b": 1, "c": 2}, "l": [1, 2], "s": "x", "n": null});
        let cases = [
            (r#"{"a": {"b": 9}}"#, json!({"a": {"b": 9, "c": 2}, "l": [1, 2], "s": "x", "n": null})),
            (r#"{"a": {"b": null}}"#, json!({"a": {"c": 2}, "l": [1, 2], "s": "x", "n": null})),
            (r#"{"a": null, "zz": null}"#, json!({"l": [1, 2], "s": "x", "n": null})),
            (r#"{"l": [3, null]}"#, json!({"a": {"b": 1, "c": 2}, "l": [3], "s": "x", "n": null})),
            (
                r#"{"s": {"x": null, "y": {"z": null, "w": 1}}}"#,
                json!({"a": {"b": 1, "c": 2}, "l": [1, 2], "s": {"y": {"w": 1}}, "n": null}),
            ),
            (
                r#"{"new": [{"k": null, "v": 1}]}"#,
                json!({"a": {"b": 1, "c": 2}, "l": [1, 2], "s": "x", "n": null, "new": [{"v": 1}]}),
            ),
            (r#"{"n": {"k": null, "v": 1}}"#, json!({"a": {"b": 1, "c": 2}, "l": [1, 2], "s": "x", "n": {"v": 1}})),
            (r#"{"a": [{"k": null}]}"#, json!({"a": [{"k": null}], "l": [1, 2], "s": "x", "n": null})),
            ("{}", original.clone()),
        ];
        for (patch, expected) in cases {
            assert_eq!(run(original.clone(), patch).unwrap(), expected, "patch {patch}");
        }
    }

    #[test]
    fn bodies_that_are_not_objects_are_400() {
        let cases = [
            ("null", "Invalid JSON Patch"),
            ("[1]", "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"),
            (
                "\"x\"",
                "error decoding patch: json: cannot unmarshal string into Go value of type map[string]interface {}",
            ),
            ("{", "error decoding patch: unexpected end of JSON input"),
        ];
        for (body, message) in cases {
            let error = run(json!({}), body).unwrap_err();
            assert_eq!((error.kind, error.message.as_str()), (PatchErrorKind::BadRequest, message), "body {body}");
        }
    }

    /// `jsonpatch.CreateMergePatch`: the patch that turns `from` into `to`.
    fn create_merge_patch(from: &Map<String, Value>, to: &Map<String, Value>) -> Map<String, Value> {
        let mut patch = Map::new();
        for (key, target) in to {
            match (from.get(key), target) {
                (Some(Value::Object(a)), Value::Object(b)) => {
                    let inner = create_merge_patch(a, b);
                    if !inner.is_empty() {
                        patch.insert(key.clone(), Value::Object(inner));
                    }
                }
                (Some(current), target) if current == target => {}
                _ => {
                    patch.insert(key.clone(), target.clone());
                }
            }
        }
        for key in from.keys().filter(|k| !to.contains_key(*k)) {
            patch.insert(key.clone(), Value::Null);
        }
        patch
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::from),
            (-3i64..3).prop_map(Value::from),
            "[xy]{0,2}".prop_map(Value::from)
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn json_object() -> impl Strategy<Value = Map<String, Value>> {
        proptest::collection::btree_map("[a-c]", json_value(), 0..4).prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #[test]
        fn merge_patch_of_a_diff_reproduces_the_target(from in json_object(), to in json_object()) {
            let patch = Value::Object(create_merge_patch(&from, &to));
            let result = run(Value::Object(from), &patch.to_string()).unwrap();
            prop_assert_eq!(result, Value::Object(to));
        }

        #[test]
        fn agrees_with_the_json_patch_crate_on_null_free_patches(from in json_object(), patch in json_object()) {
            let mut expected = Value::Object(from.clone());
            ::json_patch::merge(&mut expected, &Value::Object(patch.clone()));
            prop_assert_eq!(run(Value::Object(from), &Value::Object(patch).to_string()).unwrap(), expected);
        }
    }
}

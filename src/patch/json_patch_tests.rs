//! JSON patch operations with evanphx/json-patch v4 semantics and kube-apiserver's statuses,
//! plus the json-patch crate's diffs as an oracle.

use super::*;
use crate::patch::PatchErrorKind;
use proptest::prelude::*;
use serde_json::json;

fn doc() -> Value {
    json!({
        "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a", "b"]},
        "spec": {"replicas": 2, "empty": null, "containers": [{"name": "app", "image": "nginx"}]}
    })
}

fn run(patch: Value) -> Result<Value, PatchError> {
    apply(doc(), patch.to_string().as_bytes())
}

#[test]
fn operations_apply_with_the_go_library_semantics() {
    let cases = [
        (
            json!([{"op": "add", "path": "/metadata/labels/tier", "value": "front"}]),
            "/metadata/labels/tier",
            json!("front"),
        ),
        (
            json!([{"op": "add", "path": "/metadata/finalizers/-", "value": "c"}]),
            "/metadata/finalizers",
            json!(["a", "b", "c"]),
        ),
        (
            json!([{"op": "add", "path": "/metadata/finalizers/0", "value": "z"}]),
            "/metadata/finalizers",
            json!(["z", "a", "b"]),
        ),
        (
            json!([{"op": "add", "path": "/metadata/finalizers/-1", "value": "z"}]),
            "/metadata/finalizers",
            json!(["a", "b", "z"]),
        ),
        (json!([{"op": "add", "path": "/metadata/labels/x"}]), "/metadata/labels/x", Value::Null),
        (json!([{"op": "remove", "path": "/metadata/finalizers/-1"}]), "/metadata/finalizers", json!(["a"])),
        (
            json!([{"op": "remove", "path": "/spec/empty"}]),
            "/spec",
            json!({"replicas": 2, "containers": [{"name": "app", "image": "nginx"}]}),
        ),
        // v4 replaces a missing member by adding it.
        (json!([{"op": "replace", "path": "/metadata/labels/new", "value": "x"}]), "/metadata/labels/new", json!("x")),
        (
            json!([{"op": "replace", "path": "/spec/containers/-1/image", "value": "nginx:2"}]),
            "/spec/containers/0/image",
            json!("nginx:2"),
        ),
        (
            json!([{"op": "move", "from": "/metadata/labels/app", "path": "/metadata/labels/name"}]),
            "/metadata/labels",
            json!({"name": "web"}),
        ),
        (
            json!([{"op": "copy", "from": "/metadata/name", "path": "/metadata/labels/name"}]),
            "/metadata/labels/name",
            json!("web"),
        ),
        // Copying a missing member copies null.
        (
            json!([{"op": "copy", "from": "/metadata/nope", "path": "/metadata/labels/x"}]),
            "/metadata/labels/x",
            Value::Null,
        ),
        (
            json!([{"op": "test", "path": "/spec/replicas", "value": 2}, {"op": "replace", "path": "/spec/replicas", "value": 3}]),
            "/spec/replicas",
            json!(3),
        ),
        (json!([{"op": "test", "path": "/spec/missing", "value": null}]), "/spec/replicas", json!(2)),
        (json!([{"op": "test", "path": "/spec/empty"}]), "/spec/replicas", json!(2)),
        (
            json!([{"op": "add", "path": "/metadata/labels/a~1b~0c", "value": "1"}]),
            "/metadata/labels/a~1b~0c",
            json!("1"),
        ),
        // Without a leading slash the first segment is ignored.
        (json!([{"op": "add", "path": "ignored/foo", "value": 1}]), "/foo", json!(1)),
        (json!(null), "/spec/replicas", json!(2)),
    ];
    for (patch, pointer, expected) in cases {
        let result = run(patch.clone()).unwrap_or_else(|e| panic!("{patch}: {e:?}"));
        assert_eq!(result.pointer(pointer), Some(&expected), "{patch} -> {result}");
    }
}

#[test]
fn operations_that_do_not_apply_are_422_with_the_generic_message() {
    let cases = [
        (
            json!([{"op": "test", "path": "/spec/replicas", "value": 3}]),
            "testing value /spec/replicas failed: test failed",
        ),
        (
            json!([{"op": "test", "path": "/spec/replicas", "value": 2.0}]),
            "testing value /spec/replicas failed: test failed",
        ),
        (json!([{"op": "test", "path": "/spec/replicas"}]), "testing value /spec/replicas failed: test failed"),
        (
            json!([{"op": "test", "path": "/nope/x", "value": 1}]),
            "test operation does not apply: is missing path: /nope/x: missing value",
        ),
        (
            json!([{"op": "remove", "path": "/spec/affinity"}]),
            "error in remove for path: '/spec/affinity': Unable to remove nonexistent key: affinity: missing value",
        ),
        (
            json!([{"op": "remove", "path": "/spec/affinity/x"}]),
            "remove operation does not apply: doc is missing path: \"/spec/affinity/x\": missing value",
        ),
        (
            json!([{"op": "add", "path": "/a/b/c", "value": 1}]),
            "add operation does not apply: doc is missing path: \"/a/b/c\": missing value",
        ),
        (
            json!([{"op": "add", "path": "/metadata/finalizers/5", "value": 1}]),
            "error in add for path: '/metadata/finalizers/5': Unable to access invalid index: 5: invalid index referenced",
        ),
        (
            json!([{"op": "replace", "path": "/metadata/finalizers/2", "value": 1}]),
            "replace operation does not apply: doc is missing key: /metadata/finalizers/2: missing value",
        ),
        (json!([{"op": "add", "value": 1}]), "add operation failed to decode path: missing value"),
        (
            json!([{"op": "move", "from": "/metadata/nope", "path": "/x"}]),
            "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value",
        ),
        (json!([{"op": "jump", "path": "/x"}]), "Unexpected kind: jump"),
        (json!([null]), "Unexpected kind: unknown"),
        (json!([{"op": "replace", "path": "", "value": 1}]), "replace operation value must be object or array"),
    ];
    for (patch, detail) in cases {
        let error = run(patch.clone()).unwrap_err();
        assert_eq!(error.kind, PatchErrorKind::Invalid, "{patch}");
        assert_eq!(error.message, "the server rejected our request due to an error in our request");
        assert_eq!(error.detail.as_deref(), Some(detail), "{patch}");
    }
}

#[test]
fn bodies_that_are_not_operation_lists_are_400() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"{\"op\":\"add\"}",
            "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp",
        ),
        (b"[1]", "error decoding patch: json: cannot unmarshal number into Go value of type handlers.jsonPatchOp"),
        (
            b"[{\"op\":1}]",
            "error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.op of type string",
        ),
        (
            b"[{\"op\":\"add\",\"path\":[]}]",
            "error decoding patch: json: cannot unmarshal array into Go struct field jsonPatchOp.path of type string",
        ),
        (b"[{\"op\":", "error decoding patch: unexpected end of JSON input"),
        (b"not json", "error decoding patch: invalid character 'o' in literal null (expecting 'u')"),
    ];
    for (body, message) in cases {
        let error = apply(doc(), body).unwrap_err();
        assert_eq!((error.kind, error.message.as_str()), (PatchErrorKind::BadRequest, *message));
    }
}

#[test]
fn more_than_ten_thousand_operations_are_too_large() {
    let ops: Vec<Value> = (0..10001).map(|_| json!({"op": "test", "path": "/spec/replicas", "value": 2})).collect();
    let error = run(Value::Array(ops)).unwrap_err();
    assert_eq!(error.kind, PatchErrorKind::RequestEntityTooLarge);
    assert_eq!(
        error.message,
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        (-5i64..5).prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-d~/]{1,2}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map("[a-d]{1,2}", json_value(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

proptest! {
    /// The json-patch crate's diff, applied by our v4-compatible applier, reaches the target.
    #[test]
    fn crate_diffs_apply_to_their_target(from in json_object(), to in json_object()) {
        let patch = ::json_patch::diff(&from, &to);
        let body = serde_json::to_vec(&patch).unwrap();
        let result = apply(from.clone(), &body).unwrap();
        prop_assert_eq!(result, to);
    }
}

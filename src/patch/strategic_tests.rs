//! Strategic merge patch against the real Deployment schema, with the patch shapes kubectl
//! sends: client-side apply's three-way patches (`$setElementOrder`, `$retainKeys`,
//! `$patch: delete` items) and plain `kubectl patch` bodies.

use super::*;
use crate::openapi::schema;
use crate::patch::{PatchErrorKind, strategic_merge};
use serde_json::json;

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web"},
            "finalizers": ["example.com/a"]
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx:1.25",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
                        },
                        {"name": "sidecar", "image": "busybox", "args": ["sleep", "1d"]}
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}]
                }
            }
        }
    })
}

fn patch_deployment(patch: Value) -> Result<Value, PatchError> {
    let schemas = schema();
    let root = schemas.id("io.k8s.api.apps.v1.Deployment").expect("Deployment definition");
    strategic_merge(&deployment(), &patch, schemas, root)
}

fn pod_spec(patch: Value) -> Value {
    json!({"spec": {"template": {"spec": patch}}})
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect()
}

#[test]
fn kubectl_apply_changes_an_image_keeping_the_container_order() {
    let patch = pod_spec(json!({
        "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
        "containers": [{"image": "nginx:1.26", "name": "app"}]
    }));
    let result = patch_deployment(patch).unwrap();
    let containers = &result["spec"]["template"]["spec"]["containers"];
    assert_eq!(names(containers), ["app", "sidecar"]);
    assert_eq!(containers[0]["image"], "nginx:1.26");
    assert_eq!(containers[0]["ports"], json!([{"containerPort": 80, "protocol": "TCP"}]), "unpatched fields stay");
    assert_eq!(containers[1], deployment()["spec"]["template"]["spec"]["containers"][1]);
}

#[test]
fn kubectl_apply_adds_and_removes_containers_in_the_configured_order() {
    let added = patch_deployment(pod_spec(json!({
        "$setElementOrder/containers": [{"name": "app"}, {"name": "metrics"}, {"name": "sidecar"}],
        "containers": [{"image": "prom", "name": "metrics"}]
    })))
    .unwrap();
    assert_eq!(names(&added["spec"]["template"]["spec"]["containers"]), ["app", "metrics", "sidecar"]);

    let removed = patch_deployment(pod_spec(json!({
        "$setElementOrder/containers": [{"name": "app"}],
        "containers": [{"$patch": "delete", "name": "sidecar"}]
    })))
    .unwrap();
    assert_eq!(names(&removed["spec"]["template"]["spec"]["containers"]), ["app"]);
}

#[test]
fn kubectl_apply_merges_env_by_name_with_its_own_order() {
    let result = patch_deployment(pod_spec(json!({
        "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
        "containers": [{
            "$setElementOrder/env": [{"name": "B"}, {"name": "C"}],
            "env": [{"name": "C", "value": "3"}, {"$patch": "delete", "name": "A"}],
            "name": "app"
        }]
    })))
    .unwrap();
    let env = &result["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env, &json!([{"name": "B", "value": "2"}, {"name": "C", "value": "3"}]));
}

#[test]
fn retain_keys_on_strategy_switches_and_tunes_the_strategy() {
    let cases = [
        (json!({"$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"}), json!({"type": "Recreate"})),
        (json!({"$retainKeys": ["type"], "type": "Recreate"}), json!({"type": "Recreate"})),
        (
            json!({"$retainKeys": ["rollingUpdate", "type"], "rollingUpdate": {"maxSurge": "50%"}}),
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": "25%"}}),
        ),
    ];
    for (strategy, expected) in cases {
        let result = patch_deployment(json!({"spec": {"strategy": strategy.clone()}})).unwrap();
        assert_eq!(result["spec"]["strategy"], expected, "{strategy}");
    }
    let error =
        patch_deployment(json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}})).unwrap_err();
    assert_eq!(
        (error.kind, error.message.as_str()),
        (PatchErrorKind::BadRequest, "invalid patch format of retainKeys")
    );
    let error = patch_deployment(json!({"spec": {"strategy": {"$retainKeys": "type"}}})).unwrap_err();
    assert_eq!(error.message, "invalid patch format of retainKeys");
}

#[test]
fn retain_keys_on_a_volume_switches_its_source() {
    let result = patch_deployment(pod_spec(json!({
        "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}, "name": "data"}]
    })))
    .unwrap();
    assert_eq!(result["spec"]["template"]["spec"]["volumes"], json!([{"name": "data", "configMap": {"name": "cm"}}]));
}

#[test]
fn kubectl_patch_bodies() {
    type Check = fn(&Value);
    let cases: Vec<(Value, Check)> = vec![
        // Merge lists without an order put patch-only items first, known items keep their place.
        (pod_spec(json!({"containers": [{"name": "app", "ports": [{"containerPort": 443}]}]})), |r| {
            assert_eq!(
                r["spec"]["template"]["spec"]["containers"][0]["ports"],
                json!([{"containerPort": 443}, {"containerPort": 80, "protocol": "TCP"}])
            );
        }),
        (pod_spec(json!({"containers": [{"name": "sidecar", "args": ["sleep", "2d"]}]})), |r| {
            let containers = &r["spec"]["template"]["spec"]["containers"];
            assert_eq!(names(containers), ["app", "sidecar"]);
            assert_eq!(containers[1]["args"], json!(["sleep", "2d"]), "lists without a strategy are replaced");
        }),
        (pod_spec(json!({"containers": [{"name": "new", "image": "x"}]})), |r| {
            assert_eq!(names(&r["spec"]["template"]["spec"]["containers"]), ["new", "app", "sidecar"]);
        }),
        (pod_spec(json!({"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]})), |r| {
            assert_eq!(r["spec"]["template"]["spec"]["containers"], json!([{"name": "only", "image": "x"}]));
        }),
        (json!({"metadata": {"labels": {"app": null, "tier": "front"}}}), |r| {
            assert_eq!(r["metadata"]["labels"], json!({"tier": "front"}));
        }),
        (json!({"spec": {"selector": {"$patch": "replace", "matchLabels": {"x": "y"}}}}), |r| {
            assert_eq!(r["spec"]["selector"], json!({"matchLabels": {"x": "y"}}));
        }),
        (json!({"spec": {"strategy": {"$patch": "delete"}}}), |r| assert_eq!(r["spec"]["strategy"], json!({}))),
        (json!({"spec": {"replicas": "3"}}), |r| assert_eq!(r["spec"]["replicas"], json!("3"))),
        (json!({"spec": {"paused": null, "replicas": null}}), |r| assert!(r["spec"].get("replicas").is_none())),
        (json!({"metadata": {"finalizers": ["example.com/b"]}}), |r| {
            assert_eq!(r["metadata"]["finalizers"], json!(["example.com/b", "example.com/a"]));
        }),
        (
            json!({"metadata": {"$setElementOrder/finalizers": ["example.com/a", "example.com/b"], "finalizers": ["example.com/b"]}}),
            |r| {
                assert_eq!(r["metadata"]["finalizers"], json!(["example.com/a", "example.com/b"]));
            },
        ),
        (json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}}), |r| {
            assert_eq!(r["metadata"]["finalizers"], json!([]));
        }),
        (json!({"metadata": {"$deleteFromPrimitiveList/missing": ["x"]}}), |r| {
            assert!(r["metadata"].get("missing").is_none())
        }),
        // Unknown fields: maps merge, lists are replaced, nothing is lost.
        (json!({"spec": {"extra": {"list": [1]}}}), |r| assert_eq!(r["spec"]["extra"], json!({"list": [1]}))),
        (json!({}), |r| assert_eq!(r, &deployment())),
    ];
    for (patch, check) in cases {
        let result = patch_deployment(patch.clone()).unwrap_or_else(|e| panic!("{patch}: {e:?}"));
        check(&result);
    }
}

#[test]
fn malformed_patches_fail_with_the_real_status() {
    let cases = [
        (
            pod_spec(json!({"containers": [{"image": "x"}]})),
            500,
            "map: map[image:x] does not contain declared merge key: name",
        ),
        (
            pod_spec(json!({"containers": [{"$patch": "merge", "name": "app"}]})),
            500,
            "merging lists cannot yet be specified in the patch",
        ),
        (
            pod_spec(json!({"containers": [{"$patch": "nope", "name": "app"}]})),
            500,
            "unknown patch type: nope in map: map[$patch:nope name:app]",
        ),
        (
            json!({"spec": {"strategy": {"$patch": "merge"}}}),
            500,
            "unknown patch type: merge in map: map[$patch:merge]",
        ),
        (
            json!({"metadata": {"$deleteFromPrimitiveListX/finalizers": ["a"]}}),
            400,
            "invalid patch format of primitive list",
        ),
        (json!({"metadata": {"$setElementOrder": ["a"]}}), 400, "invalid patch format of setElementOrder list"),
        (
            json!({"metadata": {"$setElementOrder/finalizers": "a"}}),
            500,
            "expected a []interface {}, but received a string",
        ),
        (
            pod_spec(
                json!({"$setElementOrder/containers": [{"name": "app"}], "containers": [{"name": "sidecar", "image": "y"}]}),
            ),
            500,
            "The order in patch list:\n[map[image:y name:sidecar]]\n doesn't match $setElementOrder list:\n[map[name:app]]\n",
        ),
        (json!({"metadata": {"finalizers": [1]}}), 500, "list element types are not identical: [[example.com/a] [1]]"),
    ];
    for (patch, code, message) in cases {
        let error = patch_deployment(patch.clone()).unwrap_err();
        assert_eq!((error.code(), error.message.as_str()), (code, message), "{patch}");
    }
}

#[test]
fn lists_of_lists_are_422() {
    let schemas = schema();
    let root = schemas.id("io.k8s.api.apps.v1.Deployment").unwrap();
    let original = json!({"metadata": {"finalizers": []}});
    let error = strategic_merge(&original, &json!({"metadata": {"finalizers": [["a"]]}}), schemas, root).unwrap_err();
    assert_eq!(error.code(), 422);
    assert_eq!(error.detail.as_deref(), Some("lists of lists are not supported"));
}

#[test]
fn without_a_schema_directives_still_apply() {
    let original = json!({"a": {"b": 1, "c": 2}, "l": [1, 2], "m": {"x": 1}});
    let patch = json!({"a": {"$retainKeys": ["b"], "b": 3}, "l": [3], "m": {"$patch": "replace", "y": 2}});
    let result = apply(&original, patch.as_object().unwrap().clone(), None).unwrap();
    assert_eq!(result, json!({"a": {"b": 3}, "l": [3], "m": {"y": 2}}));
}

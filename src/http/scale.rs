//! The `scale` subresource of deployments, replicasets, statefulsets and
//! replicationcontrollers: an `autoscaling/v1` Scale view of `spec.replicas`,
//! `status.replicas` and the selector, readable and writable with PUT and PATCH (server-side
//! apply included, which makes the applier own the parent's replicas). Custom
//! resources map the same view onto their CRD's `specReplicasPath`, `statusReplicasPath` and
//! `labelSelectorPath`.

use super::ApiRequest;
use super::resources::{read_body, write_options};
use super::respond;
use crate::crds::ScalePaths;
use crate::error::{ApiError, ApiResult};
use crate::http::negotiate::Representation;
use crate::registry::Scope;
use crate::registry::storage::Stored;
use crate::registry::strategy::meta_str;
use serde_json::{Value, json};
use warp::reply::Response;

/// `app=web,tier in (a,b)`: a LabelSelector as the Scale status string shows it.
pub fn selector_string(selector: &Value) -> String {
    let mut terms: Vec<String> = Vec::new();
    let labels = selector.get("matchLabels").and_then(Value::as_object);
    for (key, value) in labels.into_iter().flatten() {
        terms.push(format!("{key}={}", value.as_str().unwrap_or_default()));
    }
    for expression in selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = expression["key"].as_str().unwrap_or_default();
        let values: Vec<&str> =
            expression["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        terms.push(match expression["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        });
    }
    terms.sort();
    terms.join(",")
}

/// `.spec.replicas` as a JSON pointer (`/spec/replicas`).
fn pointer(path: &str) -> String {
    path.split('.').filter(|s| !s.is_empty()).map(|s| format!("/{s}")).collect()
}

/// Sets the value at a dotted path, creating the objects on the way.
fn set_at(object: &mut Value, path: &str, value: Value) {
    let keys: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
    crate::registry::defaults::set_default(object, &keys, Value::Null);
    if let Some(slot) = object.pointer_mut(&pointer(path)) {
        *slot = value;
    }
}

fn scale_of(parent: &Value, revision: i64, custom: Option<&ScalePaths>) -> Value {
    let metadata = parent.get("metadata").cloned().unwrap_or_default();
    let (spec_path, status_path) = match custom {
        Some(paths) => (pointer(&paths.spec_replicas), pointer(&paths.status_replicas)),
        None => ("/spec/replicas".to_string(), "/status/replicas".to_string()),
    };
    let selector = match custom {
        Some(paths) => paths
            .label_selector
            .as_deref()
            .and_then(|path| parent.pointer(&pointer(path)))
            .and_then(Value::as_str)
            .map(String::from),
        None => parent.pointer("/spec/selector").map(|s| {
            if s.is_object() && s.get("matchLabels").is_none() && s.get("matchExpressions").is_none() {
                // replicationcontrollers select with a plain map.
                selector_string(&json!({"matchLabels": s}))
            } else {
                selector_string(s)
            }
        }),
    };
    let mut status = json!({"replicas": parent.pointer(&status_path).cloned().unwrap_or(json!(0))});
    if let Some(selector) = selector {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": metadata["name"], "namespace": metadata["namespace"], "uid": metadata["uid"],
            "resourceVersion": revision.to_string(), "creationTimestamp": metadata["creationTimestamp"],
        },
        "spec": {"replicas": parent.pointer(&spec_path).cloned().unwrap_or(json!(0))},
        "status": status,
    })
}

fn custom_paths<'a>(scope: &'a Scope<'_>) -> Option<&'a ScalePaths> {
    scope.resource.crd.as_ref().and_then(|c| c.scale.as_ref())
}

fn respond_scale(scope: &Scope<'_>, stored: &Stored) -> Response {
    respond::value(200, Representation::Json, &scale_of(&stored.to_value(), stored.revision, custom_paths(scope)))
}

/// An apply configuration of a Scale as the same configuration of its parent: only the
/// replicas, at the parent's path for them, which is what the applier comes to own (with the
/// `scale` subresource in its managedFields entry, as kube-apiserver records it).
pub fn parent_config(scope: &Scope<'_>, name: &str, scale: &Value) -> ApiResult<Value> {
    let kind = (scale["apiVersion"].as_str().unwrap_or_default(), scale["kind"].as_str().unwrap_or_default());
    if kind != ("autoscaling/v1", "Scale") {
        return Err(ApiError::bad_request(format!(
            "the applied configuration is a {}, not an autoscaling/v1 Scale",
            if kind.1.is_empty() { "object without a kind" } else { kind.1 }
        )));
    }
    let shell = json!({
        "apiVersion": scope.resource.api_version(),
        "kind": scope.resource.kind,
        "metadata": {"name": name},
    });
    match scale.pointer("/spec/replicas") {
        Some(_) => Ok(with_replicas(scope, &shell, replicas_of(scope, name, scale)?)),
        None => Ok(shell),
    }
}

/// `parent` with its replicas set as the Scale asked.
fn with_replicas(scope: &Scope<'_>, parent: &Value, replicas: i64) -> Value {
    let mut next = parent.clone();
    match custom_paths(scope) {
        Some(paths) => set_at(&mut next, &paths.spec_replicas, json!(replicas)),
        None => next["spec"]["replicas"] = json!(replicas),
    }
    next
}

/// GET, PUT or PATCH of `<resource>/<name>/scale`.
pub fn serve(scope: &Scope<'_>, name: &str, verb: &str, request: &ApiRequest) -> ApiResult<Response> {
    match verb {
        "get" => Ok(respond_scale(scope, &scope.get(name)?)),
        "update" => {
            let scale = read_body(request, "io.k8s.api.autoscaling.v1.Scale")?;
            let replicas = replicas_of(scope, name, &scale)?;
            let precondition = match meta_str(&scale, "resourceVersion") {
                "" => None,
                rv => Some(rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?),
            };
            let result = scope.guaranteed_update(name, "scale", &write_options(request)?, precondition, |current| {
                Ok(with_replicas(scope, current, replicas))
            })?;
            Ok(respond_scale(scope, &result.object))
        }
        "patch" if super::patching::is_apply(scope, request)? => {
            let result = super::applying::apply_patch(scope, name, "scale", request)?;
            Ok(respond_scale(scope, &result.object))
        }
        "patch" => {
            let options = write_options(request)?;
            let result = scope.guaranteed_update(name, "scale", &options, None, |current| {
                let scale = scale_of(current, 0, custom_paths(scope));
                let patched = super::patching::apply_to(scope, &scale, request, None)?;
                let replicas = replicas_of(scope, name, &patched)?;
                Ok(with_replicas(scope, current, replicas))
            })?;
            Ok(respond_scale(scope, &result.object))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn replicas_of(scope: &Scope<'_>, name: &str, scale: &Value) -> ApiResult<i64> {
    let replicas = scale.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::invalid(
            "autoscaling",
            "Scale",
            name,
            vec![crate::error::FieldError::invalid(
                "spec.replicas",
                json!(replicas),
                "must be greater than or equal to 0",
            )],
        ));
    }
    let _ = scope;
    Ok(replicas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_render_as_label_selector_strings() {
        let selector = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "canary", "operator": "DoesNotExist"}]});
        assert_eq!(selector_string(&selector), "!canary,app=web,tier in (a,b)");
    }

    #[test]
    fn scale_mirrors_the_parent() {
        let deployment = json!({"metadata": {"name": "web", "namespace": "default", "uid": "u", "creationTimestamp": "t"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}}, "status": {"replicas": 1}});
        let scale = scale_of(&deployment, 7, None);
        assert_eq!(scale["spec"], json!({"replicas": 3}));
        assert_eq!(scale["status"], json!({"replicas": 1, "selector": "app=web"}));
        assert_eq!(scale["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn custom_resources_scale_through_their_crd_paths() {
        let paths = ScalePaths {
            spec_replicas: ".spec.size.count".into(),
            status_replicas: ".status.count".into(),
            label_selector: Some(".status.selector".into()),
        };
        let widget = json!({"metadata": {"name": "w"}, "spec": {"size": {"count": 2}, "replicas": 9}, "status": {"count": 1, "selector": "app=w"}});
        let scale = scale_of(&widget, 3, Some(&paths));
        assert_eq!(scale["spec"], json!({"replicas": 2}));
        assert_eq!(scale["status"], json!({"replicas": 1, "selector": "app=w"}));
        let mut empty = json!({"metadata": {"name": "w"}});
        assert_eq!(scale_of(&empty, 3, Some(&paths))["status"], json!({"replicas": 0}));
        set_at(&mut empty, &paths.spec_replicas, json!(5));
        assert_eq!(empty["spec"], json!({"size": {"count": 5}}));
    }
}

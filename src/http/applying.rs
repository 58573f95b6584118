//! PATCH with `application/apply-patch+yaml`: server-side apply. Decodes the applied
//! configuration (YAML, which JSON is a subset of), insists on a `fieldManager`, honours
//! `force`, and runs the registry's apply inside a compare-and-swap update, or a create when
//! the object does not exist yet. On the `status` subresource only `status` is applied, on
//! `scale` only the replicas; on the resource itself `status` is left to the status subresource.

use super::ApiRequest;
use super::resources::write_options;
use crate::error::{ApiError, ApiResult, FieldError, Reason};
use crate::openapi::schema;
use crate::registry::Scope;
use crate::registry::apply::{Applier, apply, conflict_error};
use crate::registry::rest::WriteResult;
use crate::registry::strategy::meta_str;
use crate::registry::unchanged_applies::ApplyRequest;
use serde_json::{Map, Value, json};

/// The applied configuration from the body, checked against the endpoint.
fn read_config(scope: &Scope<'_>, name: &str, subresource: &str, request: &ApiRequest) -> ApiResult<Value> {
    // JSON, which kubectl and kube-rs send, is YAML too; a JSON parser reads it ten times faster.
    let json = serde_json::from_slice(&request.body).ok();
    let mut config: Value = match json {
        Some(config) => config,
        None => serde_saphyr::from_slice(&request.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?,
    };
    if subresource == "scale" {
        return super::scale::parent_config(scope, name, &config);
    }
    scope.check_type(&mut config)?;
    let Value::Object(mut map) = config else {
        return Err(ApiError::bad_request("error decoding YAML: the applied configuration is not an object"));
    };
    let metadata = map.entry("metadata").or_insert_with(|| json!({}));
    let body_name = metadata.get("name").and_then(Value::as_str).unwrap_or_default();
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if let Some(metadata) = metadata.as_object_mut() {
        metadata.insert("name".into(), json!(name));
    }
    if subresource == "status" {
        let kept: Map<String, Value> = map
            .into_iter()
            .filter(|(k, _)| matches!(k.as_str(), "apiVersion" | "kind" | "status" | "metadata"))
            .map(|(k, v)| if k == "metadata" { (k, json!({"name": name})) } else { (k, v) })
            .collect();
        return Ok(Value::Object(kept));
    }
    if scope.resource.subresource("status").is_some() {
        map.remove("status");
    }
    Ok(Value::Object(map))
}

/// PATCH with an apply patch on an object or its status.
pub fn apply_patch(scope: &Scope<'_>, name: &str, subresource: &str, request: &ApiRequest) -> ApiResult<WriteResult> {
    let mut options = write_options(request)?;
    if request.query.get("fieldManager").unwrap_or_default().is_empty() {
        return Err(ApiError::invalid(
            "meta.k8s.io",
            "PatchOptions",
            "",
            vec![FieldError::required("fieldManager", "is required for apply patch")],
        ));
    }
    options.applied = true;
    let force = request.query.flag("force")?;
    let key = scope.resource.key(scope.namespace, name);
    let this_apply = ApplyRequest { resource: &scope.resource, key: &key, subresource, request };
    let unchanged_applies = &scope.instance.unchanged_applies;
    if let Ok(current) = scope.get(name)
        && let Some(warnings) = unchanged_applies.warnings(&this_apply, &current)
    {
        return Ok(WriteResult { object: current, warnings, created: false });
    }
    let config = read_config(scope, name, subresource, request)?;
    let requested_version = meta_str(&config, "resourceVersion").to_string();
    let api_version = scope.resource.api_version();
    let now = scope.instance.now_rfc3339();
    let applier = Applier { manager: &options.field_manager, api_version: &api_version, subresource, force, now: &now };
    let schemas = schema();
    let root = schemas.id(&scope.resource.definition);
    let run = |live: &Value| apply(schemas, root, live, &config, &applier).map_err(|c| conflict_error(&c));
    for _attempt in 0..4 {
        match scope.get(name) {
            Ok(stored) => {
                let result = scope.guaranteed_update(name, subresource, &options, None, |current| {
                    if !requested_version.is_empty() && requested_version != meta_str(current, "resourceVersion") {
                        return Err(ApiError::modified(scope.error_resource(), name));
                    }
                    run(current)
                })?;
                // The update answers with the very object it read when it left it as it was.
                if result.object.revision == stored.revision && result.object.bytes.as_ptr() == stored.bytes.as_ptr() {
                    unchanged_applies.record(&this_apply, &stored, &result.warnings);
                }
                return Ok(result);
            }
            Err(error) if error.reason == Reason::NotFound && subresource.is_empty() => {
                let object = run(&json!({}))?;
                match scope.create(object, &options) {
                    Err(error) if error.reason == Reason::AlreadyExists => continue,
                    other => return other,
                }
            }
            Err(error) => return Err(error),
        }
    }
    Err(ApiError::modified(scope.error_resource(), name))
}

//! PATCH: reads the patch type from Content-Type, applies JSON patch, merge patch or strategic
//! merge patch to the current object (the schema supplies merge keys and strategies), and
//! writes the result back with the registry's compare-and-swap update. A resourceVersion in
//! the patched object is honoured as a precondition, as kube-apiserver does. Apply patches go
//! to `applying`.

use super::ApiRequest;
use super::resources::write_options;
use crate::error::{ApiError, ApiResult, Reason};
use crate::openapi::schema;
use crate::patch::{PatchType, apply_patch};
use crate::registry::Scope;
use crate::registry::rest::WriteResult;
use crate::registry::strategy::meta_str;
use serde_json::Value;

/// The media types PATCH accepts, in kube-apiserver's order.
pub const PATCH_TYPES: [&str; 4] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

fn patch_type(scope: &Scope<'_>, request: &ApiRequest) -> ApiResult<PatchType> {
    let content_type = request.header("content-type").unwrap_or_default();
    let patch_type = PatchType::from_content_type(content_type)
        .ok_or_else(|| ApiError::unsupported_media_type(content_type, &PATCH_TYPES))?;
    match patch_type {
        PatchType::Strategic if scope.resource.custom => Err(ApiError::new(
            Reason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
                    .join(", ")
            ),
        )),
        other => Ok(other),
    }
}

/// Applies the request's patch to `original` (a resource, or a view such as Scale whose
/// definition is `definition`). Server-side apply goes through [`patch`] instead; here (the
/// scale subresource) it is still refused with 415.
pub fn apply_to(
    scope: &Scope<'_>,
    original: &Value,
    request: &ApiRequest,
    definition: Option<&str>,
) -> ApiResult<Value> {
    let patch_type = patch_type(scope, request)?;
    let definition = definition.unwrap_or(&scope.resource.definition);
    let schemas = schema();
    let root = schemas.id(definition).map(|id| (schemas, id));
    apply_patch(patch_type, original, &request.body, root).map_err(|e| ApiError::new(e.reason(), e.message))
}

/// Whether the request is a server-side apply (`application/apply-patch+yaml`).
pub fn is_apply(scope: &Scope<'_>, request: &ApiRequest) -> ApiResult<bool> {
    Ok(patch_type(scope, request)? == PatchType::Apply)
}

/// PATCH of an object or its status.
pub fn patch(scope: &Scope<'_>, name: &str, subresource: &str, request: &ApiRequest) -> ApiResult<WriteResult> {
    if is_apply(scope, request)? {
        return super::applying::apply_patch(scope, name, subresource, request);
    }
    if request.query.has("force") {
        return Err(ApiError::invalid(
            "meta.k8s.io",
            "PatchOptions",
            "",
            vec![crate::error::FieldError::forbidden("force", "may not be specified for non-apply patch")],
        ));
    }
    let options = write_options(request)?;
    scope.guaranteed_update(name, subresource, &options, None, |current| {
        let patched = apply_to(scope, current, request, None)?;
        let requested = meta_str(&patched, "resourceVersion");
        if !requested.is_empty() && requested != meta_str(current, "resourceVersion") {
            return Err(ApiError::modified(scope.error_resource(), name));
        }
        Ok(patched)
    })
}

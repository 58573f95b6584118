//! PATCH bodies applied to an object exactly as kube-apiserver applies them
//! (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`): JSON patch, JSON merge
//! patch and strategic merge patch, with the real statuses and messages for bodies that do not
//! decode, operations that do not apply and directives that are malformed. Server-side apply is
//! recognised but not implemented here.
//!
//! Bodies are decoded the way the real server decodes them under its default field validation
//! (`Warn`, which decodes strictly), so malformed JSON reports Go's own syntax errors. Nulls that
//! survive into a result (a JSON patch `add` of null, a strategic patch into a missing parent)
//! are left in the value; turning them into Go zero values is the decoder's job, not the
//! patch's.

mod go_json;
mod json_patch;
mod merge_patch;
mod strategic;
mod strategic_list;

pub use merge_patch::merge_objects;

use crate::error::{ApiError, FieldError, Reason};
use crate::openapi::{SchemaId, Schemas};
use serde_json::{Map, Value};
use std::fmt;
use strategic::Meta;

/// The PATCH content types kube-apiserver accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

const BUILTIN_MEDIA_TYPES: [&str; 4] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];
const CUSTOM_MEDIA_TYPES: [&str; 3] =
    ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];

impl PatchType {
    pub fn media_type(self) -> &'static str {
        match self {
            PatchType::Json => BUILTIN_MEDIA_TYPES[0],
            PatchType::Merge => BUILTIN_MEDIA_TYPES[1],
            PatchType::Strategic => BUILTIN_MEDIA_TYPES[2],
            PatchType::Apply => BUILTIN_MEDIA_TYPES[3],
        }
    }

    /// The patch type of a `Content-Type` header. Parameters (`; charset=utf-8`) are dropped as
    /// the real handler drops them: everything from the first `;`, unless the header starts with
    /// one. Matching is exact otherwise.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let base = match content_type.find(';') {
            Some(i) if i > 0 => &content_type[..i],
            _ => content_type,
        };
        [PatchType::Json, PatchType::Merge, PatchType::Strategic, PatchType::Apply]
            .into_iter()
            .find(|t| t.media_type() == base)
    }

    /// The media types PATCH accepts, in kube-apiserver's order, for the 415 message
    /// `the body of the request was in an unknown format - accepted media types include: ...`.
    /// Custom resources have no strategic merge patch: kube-apiserver rejects it with that 415.
    pub fn accepted_media_types(custom: bool) -> &'static [&'static str] {
        if custom { &CUSTOM_MEDIA_TYPES } else { &BUILTIN_MEDIA_TYPES }
    }
}

/// The status class of a patch failure, as kube-apiserver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchErrorKind {
    /// 400: the body does not decode, or a directive is malformed.
    BadRequest,
    /// 422: an operation does not apply, or the result is not an object.
    Invalid,
    /// 413: more than 10000 JSON patch operations.
    RequestEntityTooLarge,
    /// 415: server-side apply.
    UnsupportedMediaType,
    /// 500: errors the real server does not classify (a list item without its merge key, an
    /// unknown `$patch` value). It answers them with reason "" (unknown).
    Internal,
}

/// A failed patch.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchError {
    pub kind: PatchErrorKind,
    /// The Status message the client sees.
    pub message: String,
    /// Why, where the client-facing message is generic (a JSON patch operation that does not
    /// apply): the Go library's own reason, for logs. Never sent.
    pub detail: Option<String>,
    /// For a 422 about the patched result: the `patch` field error kube-apiserver builds.
    pub field_error: Option<Box<FieldError>>,
}

/// The message of `NewGenericServerResponse(422, ...)`, which hides the reason.
const NOT_APPLIED: &str = "the server rejected our request due to an error in our request";

impl PatchError {
    fn new(kind: PatchErrorKind, message: impl Into<String>) -> Self {
        PatchError { kind, message: message.into(), detail: None, field_error: None }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(PatchErrorKind::BadRequest, message)
    }

    fn internal(message: impl Into<String>) -> Self {
        Self::new(PatchErrorKind::Internal, message)
    }

    fn too_large(message: impl fmt::Display) -> Self {
        Self::new(PatchErrorKind::RequestEntityTooLarge, format!("Request entity too large: {message}"))
    }

    /// 422 with the generic message; `detail` keeps the reason.
    fn not_applied(detail: impl Into<String>) -> Self {
        PatchError { detail: Some(detail.into()), ..Self::new(PatchErrorKind::Invalid, NOT_APPLIED) }
    }

    /// 422 `"" is invalid: patch: Invalid value: "<result>": <why>` for a result that cannot be
    /// an object.
    fn invalid_result(result: &Value, why: &str) -> Self {
        let field_error = FieldError::invalid("patch", Value::String(result.to_string()), why);
        PatchError {
            field_error: Some(Box::new(field_error.clone())),
            ..Self::new(PatchErrorKind::Invalid, format!(" \"\" is invalid: {field_error}"))
        }
    }

    pub fn reason(&self) -> Reason {
        match self.kind {
            PatchErrorKind::BadRequest => Reason::BadRequest,
            PatchErrorKind::Invalid => Reason::Invalid,
            PatchErrorKind::RequestEntityTooLarge => Reason::RequestEntityTooLarge,
            PatchErrorKind::UnsupportedMediaType => Reason::UnsupportedMediaType,
            PatchErrorKind::Internal => Reason::InternalError,
        }
    }

    pub fn code(&self) -> u16 {
        self.reason().code()
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.detail {
            Some(detail) => write!(f, " ({detail})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for PatchError {}

impl From<PatchError> for ApiError {
    fn from(error: PatchError) -> Self {
        match error.field_error {
            Some(field_error) => ApiError::invalid("", "", "", vec![*field_error]),
            None => ApiError::new(error.reason(), error.message),
        }
    }
}

/// What kube-apiserver's decoder says about a patched result that is not an object.
const NOT_AN_OBJECT: &str = "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }";

/// Applies a PATCH body to `original`. `schema` is the object's definition in the schema graph
/// (strategic merge patch follows its patch strategies and merge keys; without it, maps merge
/// and lists are replaced).
pub fn apply_patch(
    patch_type: PatchType,
    original: &Value,
    patch_body: &[u8],
    schema: Option<(&Schemas, SchemaId)>,
) -> Result<Value, PatchError> {
    let patched = match patch_type {
        PatchType::Json => json_patch::apply(original.clone(), patch_body)?,
        PatchType::Merge => merge_patch::apply(original, patch_body)?,
        PatchType::Strategic => {
            let patch = go_json::decode(patch_body).map_err(PatchError::bad_request)?;
            strategic_value(original, patch, schema.map(|(schemas, id)| Meta::new(schemas, id)))?
        }
        PatchType::Apply => {
            return Err(PatchError::new(
                PatchErrorKind::UnsupportedMediaType,
                "server-side apply (application/apply-patch+yaml) is not implemented by kubetwin yet",
            ));
        }
    };
    if !patched.is_object() {
        return Err(PatchError::invalid_result(&patched, NOT_AN_OBJECT));
    }
    Ok(patched)
}

/// Strategic merge patch of an already decoded patch (`StrategicMergeMapPatch`) against the
/// definition `root`.
pub fn strategic_merge(
    original: &Value,
    patch: &Value,
    schemas: &Schemas,
    root: SchemaId,
) -> Result<Value, PatchError> {
    strategic_value(original, patch.clone(), Some(Meta::new(schemas, root)))
}

fn strategic_value(original: &Value, patch: Value, meta: Option<Meta<'_>>) -> Result<Value, PatchError> {
    let patch = match patch {
        Value::Object(map) => map,
        // Unmarshalling null into the patch map leaves it nil: nothing to do.
        Value::Null => Map::new(),
        other => return Err(PatchError::bad_request(go_json::type_error(&other, "map[string]interface {}"))),
    };
    strategic::apply(original, patch, meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_types_map_to_patch_types() {
        let cases = [
            ("application/json-patch+json", Some(PatchType::Json)),
            ("application/merge-patch+json; charset=utf-8", Some(PatchType::Merge)),
            ("application/strategic-merge-patch+json;charset=UTF-8", Some(PatchType::Strategic)),
            ("application/apply-patch+yaml", Some(PatchType::Apply)),
            ("application/json", None),
            ("application/merge-patch+json ; charset=utf-8", None),
            (";application/json-patch+json", None),
            ("APPLICATION/JSON-PATCH+JSON", None),
        ];
        for (header, expected) in cases {
            assert_eq!(PatchType::from_content_type(header), expected, "{header:?}");
        }
        assert_eq!(PatchType::accepted_media_types(true).len(), 3);
        assert!(!PatchType::accepted_media_types(true).contains(&PatchType::Strategic.media_type()));
    }

    #[test]
    fn errors_carry_the_real_status() {
        let original = json!({"kind": "ConfigMap", "data": {"a": "1"}});
        let cases: Vec<(PatchType, &[u8], u16, &str)> = vec![
            (
                PatchType::Strategic,
                b"[1]",
                400,
                "json: cannot unmarshal array into Go value of type map[string]interface {}",
            ),
            (PatchType::Strategic, b"{", 400, "unexpected end of JSON input"),
            (
                PatchType::Strategic,
                b"{\"$patch\":\"merge\"}",
                500,
                "unknown patch type: merge in map: map[$patch:merge]",
            ),
            (PatchType::Merge, b"null", 400, "Invalid JSON Patch"),
            (PatchType::Json, br#"[{"op":"test","path":"/data/a","value":"2"}]"#, 422, NOT_APPLIED),
            (
                PatchType::Apply,
                b"{}",
                415,
                "server-side apply (application/apply-patch+yaml) is not implemented by kubetwin yet",
            ),
        ];
        for (patch_type, body, code, message) in cases {
            let error = apply_patch(patch_type, &original, body, None).unwrap_err();
            assert_eq!(
                (error.code(), error.message.as_str()),
                (code, message),
                "{patch_type:?} {}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_result_that_is_not_an_object_is_invalid() {
        let error =
            apply_patch(PatchType::Json, &json!({}), br#"[{"op":"replace","path":"","value":[1]}]"#, None).unwrap_err();
        assert_eq!(error.code(), 422);
        assert!(
            error.message.starts_with(" \"\" is invalid: patch: Invalid value: \"[1]\": couldn't get version/kind"),
            "{}",
            error.message
        );
        let api: ApiError = error.into();
        let causes = &api.status()["details"]["causes"];
        assert_eq!(causes.as_array().map(Vec::len), Some(1));
        assert_eq!(causes[0]["field"], "patch");
    }

    #[test]
    fn every_patch_type_applies() {
        let original = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"list": [1, 2]}});
        let cases: Vec<(PatchType, &[u8], Value)> = vec![
            (
                PatchType::Json,
                br#"[{"op":"add","path":"/metadata/labels/b","value":"2"}]"#,
                json!({"a": "1", "b": "2"}),
            ),
            (PatchType::Merge, br#"{"metadata":{"labels":{"a":null,"c":"3"}}}"#, json!({"c": "3"})),
            (PatchType::Strategic, br#"{"metadata":{"labels":{"a":"9"}}}"#, json!({"a": "9"})),
            (PatchType::Strategic, b"null", json!({"a": "1"})),
        ];
        for (patch_type, body, labels) in cases {
            let patched = apply_patch(patch_type, &original, body, None).unwrap();
            assert_eq!(patched["metadata"]["labels"], labels, "{patch_type:?}");
        }
        let unstructured = apply_patch(PatchType::Strategic, &original, br#"{"spec":{"list":[3]}}"#, None).unwrap();
        assert_eq!(unstructured["spec"]["list"], json!([3]), "without a schema lists are replaced");
    }
}

//! The one error type of the API layer. Every failure becomes an [`ApiError`], and
//! [`ApiError::status`] is the single place that turns it into a `metav1.Status` with its HTTP
//! code, reason, details and message, worded as kube-apiserver words them.

use serde_json::{Map, Value, json};
use std::fmt;

/// `metav1.StatusReason` values, each with its HTTP code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    AlreadyExists,
    Conflict,
    Gone,
    Expired,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    Invalid,
    TooManyRequests,
    InternalError,
    /// A plain error the server did not classify: 500 with no reason, as Go's apiserver
    /// answers errors that are not already a Status.
    Unknown,
    ServiceUnavailable,
    Timeout,
}

impl Reason {
    /// The reason kube-apiserver gives a Status with this HTTP code.
    pub fn for_code(code: u16) -> Reason {
        match code {
            400 => Reason::BadRequest,
            401 => Reason::Unauthorized,
            403 => Reason::Forbidden,
            404 => Reason::NotFound,
            405 => Reason::MethodNotAllowed,
            406 => Reason::NotAcceptable,
            409 => Reason::Conflict,
            410 => Reason::Expired,
            413 => Reason::RequestEntityTooLarge,
            415 => Reason::UnsupportedMediaType,
            422 => Reason::Invalid,
            429 => Reason::TooManyRequests,
            503 => Reason::ServiceUnavailable,
            504 => Reason::Timeout,
            500 => Reason::InternalError,
            _ => Reason::Unknown,
        }
    }

    pub fn code(self) -> u16 {
        match self {
            Reason::BadRequest => 400,
            Reason::Unauthorized => 401,
            Reason::Forbidden => 403,
            Reason::NotFound => 404,
            Reason::MethodNotAllowed => 405,
            Reason::NotAcceptable => 406,
            Reason::AlreadyExists | Reason::Conflict => 409,
            Reason::Gone | Reason::Expired => 410,
            Reason::RequestEntityTooLarge => 413,
            Reason::UnsupportedMediaType => 415,
            Reason::Invalid => 422,
            Reason::TooManyRequests => 429,
            Reason::InternalError | Reason::Unknown => 500,
            Reason::ServiceUnavailable => 503,
            Reason::Timeout => 504,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadRequest => "BadRequest",
            Reason::Unauthorized => "Unauthorized",
            Reason::Forbidden => "Forbidden",
            Reason::NotFound => "NotFound",
            Reason::MethodNotAllowed => "MethodNotAllowed",
            Reason::NotAcceptable => "NotAcceptable",
            Reason::AlreadyExists => "AlreadyExists",
            Reason::Conflict => "Conflict",
            Reason::Gone => "Gone",
            Reason::Expired => "Expired",
            Reason::RequestEntityTooLarge => "RequestEntityTooLarge",
            Reason::UnsupportedMediaType => "UnsupportedMediaType",
            Reason::Invalid => "Invalid",
            Reason::TooManyRequests => "TooManyRequests",
            Reason::InternalError => "InternalError",
            Reason::Unknown => "",
            Reason::ServiceUnavailable => "ServiceUnavailable",
            Reason::Timeout => "Timeout",
        }
    }
}

/// One `StatusCause`: a field-level reason such as `FieldValueInvalid`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// A field error as kube-apiserver's `field.Error` renders it, used to build 422 Invalid.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub kind: FieldErrorKind,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldErrorKind {
    Required,
    Invalid(Value),
    Forbidden,
    Duplicate(Value),
    NotSupported(Value, Vec<String>),
    /// The value is kept for the cause but left out of the message, as kube-apiserver does.
    TooLong(Value),
    TooMany(Value),
    /// A value of the wrong JSON type for its schema (`FieldValueTypeInvalid`).
    TypeInvalid(Value),
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Required, detail: detail.into() }
    }
    pub fn invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Invalid(value), detail: detail.into() }
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Forbidden, detail: detail.into() }
    }

    fn cause_reason(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid(_) => "FieldValueInvalid",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::Duplicate(_) => "FieldValueDuplicate",
            FieldErrorKind::NotSupported(..) => "FieldValueNotSupported",
            FieldErrorKind::TooLong(_) => "FieldValueTooLong",
            FieldErrorKind::TooMany(_) => "FieldValueTooMany",
            FieldErrorKind::TypeInvalid(_) => "FieldValueTypeInvalid",
        }
    }

    /// The message without the field path, as in a StatusCause: `Invalid value: "x": detail`.
    pub fn body(&self) -> String {
        let with_detail = |head: String| {
            if self.detail.is_empty() { head } else { format!("{head}: {}", self.detail) }
        };
        match &self.kind {
            FieldErrorKind::Required => with_detail("Required value".into()),
            FieldErrorKind::Forbidden => with_detail("Forbidden".into()),
            FieldErrorKind::Invalid(value) => with_detail(format!("Invalid value: {}", render_value(value))),
            FieldErrorKind::Duplicate(value) => with_detail(format!("Duplicate value: {}", render_value(value))),
            FieldErrorKind::TooLong(_) => with_detail("Too long".into()),
            FieldErrorKind::TooMany(value) => with_detail(format!("Too many: {}", render_value(value))),
            FieldErrorKind::TypeInvalid(value) => with_detail(format!("Invalid value: {}", render_value(value))),
            FieldErrorKind::NotSupported(value, supported) => {
                let quoted: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
                format!("Unsupported value: {}: supported values: {}", render_value(value), quoted.join(", "))
            }
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// How `field.Error` prints a value: strings quoted, numbers and booleans bare, objects as Go
/// would print them (we use compact JSON).
fn render_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// The error every layer returns. Convert with [`ApiError::status`].
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub reason: Reason,
    pub message: String,
    /// Kept behind a box so that `Result<T, ApiError>` stays small on the hot, successful path.
    details: Box<Details>,
}

/// The `details` of a Status: what the error is about, field causes and a retry hint.
#[derive(Debug, Clone, PartialEq, Default)]
struct Details {
    name: Option<String>,
    group: Option<String>,
    /// The plural resource (NotFound, Conflict, ...) or the Kind (Invalid), as the real server does.
    kind: Option<String>,
    causes: Vec<Cause>,
    retry_after_seconds: Option<u32>,
    /// Sent as `"details": {}` even when empty: kube-apiserver's router (go-restful) answers a
    /// path or method it has no route for through `NewGenericServerResponse`, which always
    /// allocates the details.
    from_router: bool,
}

impl std::error::Error for ApiError {}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.reason.as_str(), self.reason.code(), self.message)
    }
}

/// A resource as error messages name it: plural and group (`deployments.apps`).
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    pub group: &'a str,
    pub plural: &'a str,
}

impl Resource<'_> {
    fn qualified(&self) -> String {
        if self.group.is_empty() { self.plural.to_string() } else { format!("{}.{}", self.plural, self.group) }
    }
}

impl ApiError {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        ApiError { reason, message: message.into(), details: Box::default() }
    }

    fn about(mut self, resource: Resource<'_>, name: &str) -> Self {
        self.details.name = Some(name.to_string()).filter(|n| !n.is_empty());
        self.details.group = Some(resource.group.to_string()).filter(|g| !g.is_empty());
        self.details.kind = Some(resource.plural.to_string());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Reason::BadRequest, message)
    }

    pub fn internal(message: impl fmt::Display) -> Self {
        Self::new(Reason::InternalError, format!("Internal error occurred: {message}"))
    }

    /// `pods "x" not found`.
    pub fn not_found(resource: Resource<'_>, name: &str) -> Self {
        Self::new(Reason::NotFound, format!("{} {name:?} not found", resource.qualified())).about(resource, name)
    }

    /// The 404 for a path that names no resource.
    pub fn no_such_path() -> Self {
        Self::new(Reason::NotFound, "the server could not find the requested resource")
    }

    /// The 404 for a path inside a served group-version that no route matches
    /// (`/api/v1/widgets`): as [`ApiError::no_such_path`], with the router's empty details.
    pub fn no_such_route() -> Self {
        Self::no_such_path().with_router_details()
    }

    fn with_router_details(mut self) -> Self {
        self.details.from_router = true;
        self
    }

    /// `configmaps "x" already exists`.
    pub fn already_exists(resource: Resource<'_>, name: &str) -> Self {
        Self::new(Reason::AlreadyExists, format!("{} {name:?} already exists", resource.qualified()))
            .about(resource, name)
    }

    /// `Operation cannot be fulfilled on configmaps "x": <why>`.
    pub fn conflict(resource: Resource<'_>, name: &str, why: &str) -> Self {
        Self::new(
            Reason::Conflict,
            format!("Operation cannot be fulfilled on {} {name:?}: {why}", resource.qualified()),
        )
        .about(resource, name)
    }

    /// The optimistic-concurrency conflict.
    pub fn modified(resource: Resource<'_>, name: &str) -> Self {
        Self::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `pods "x" is forbidden: <why>`.
    pub fn forbidden(resource: Resource<'_>, name: &str, why: &str) -> Self {
        let subject = if name.is_empty() { resource.qualified() } else { format!("{} {name:?}", resource.qualified()) };
        Self::new(Reason::Forbidden, format!("{subject} is forbidden: {why}")).about(resource, name)
    }

    /// 422 Invalid: `Pod "x" is invalid: <field errors>`, one cause per field error.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: Vec<FieldError>) -> Self {
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let summary = match rendered.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let qualified_kind = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
        let mut error = Self::new(Reason::Invalid, format!("{qualified_kind} {name:?} is invalid: {summary}"));
        error.details.name = Some(name.to_string()).filter(|n| !n.is_empty());
        error.details.group = Some(group.to_string()).filter(|g| !g.is_empty());
        error.details.kind = Some(kind.to_string());
        error.details.causes = errors
            .iter()
            .map(|e| Cause { reason: e.cause_reason().into(), message: e.body(), field: e.field.clone() })
            .collect();
        error
    }

    /// The router's 405 for a method a path has no route for.
    pub fn method_not_allowed() -> Self {
        Self::new(Reason::MethodNotAllowed, "the server does not allow this method on the requested resource")
            .with_router_details()
    }

    pub fn not_acceptable(supported: &[&str]) -> Self {
        Self::new(
            Reason::NotAcceptable,
            format!("only the following media types are accepted: {}", supported.join(", ")),
        )
    }

    pub fn unsupported_media_type(content_type: &str, supported: &[&str]) -> Self {
        let _ = content_type;
        Self::new(
            Reason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                supported.join(", ")
            ),
        )
    }

    /// 410 Expired for a resourceVersion below the compacted revision.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(Reason::Expired, message)
    }

    pub fn with_cause(mut self, reason: &str, message: &str, field: &str) -> Self {
        self.details.causes.push(Cause { reason: reason.into(), message: message.into(), field: field.into() });
        self
    }

    pub fn with_retry(mut self, seconds: u32) -> Self {
        self.details.retry_after_seconds = Some(seconds);
        self
    }

    /// Seconds a client should wait before retrying, sent as `Retry-After`.
    pub fn retry_after_seconds(&self) -> Option<u32> {
        self.details.retry_after_seconds
    }

    pub fn code(&self) -> u16 {
        self.reason.code()
    }

    /// The `metav1.Status` body.
    pub fn status(&self) -> Value {
        let mut details = Map::new();
        if let Some(name) = &self.details.name {
            details.insert("name".into(), json!(name));
        }
        if let Some(group) = &self.details.group {
            details.insert("group".into(), json!(group));
        }
        if let Some(kind) = &self.details.kind {
            details.insert("kind".into(), json!(kind));
        }
        if !self.details.causes.is_empty() {
            let causes: Vec<Value> = self
                .details
                .causes
                .iter()
                .map(|c| {
                    let mut cause = Map::new();
                    cause.insert("reason".into(), json!(c.reason));
                    cause.insert("message".into(), json!(c.message));
                    if !c.field.is_empty() {
                        cause.insert("field".into(), json!(c.field));
                    }
                    Value::Object(cause)
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(seconds) = self.details.retry_after_seconds {
            details.insert("retryAfterSeconds".into(), json!(seconds));
        }
        let mut status = Map::new();
        status.insert("kind".into(), json!("Status"));
        status.insert("apiVersion".into(), json!("v1"));
        status.insert("metadata".into(), json!({}));
        status.insert("status".into(), json!("Failure"));
        status.insert("message".into(), json!(self.message));
        if self.reason != Reason::Unknown {
            status.insert("reason".into(), json!(self.reason.as_str()));
        }
        if !details.is_empty() || self.details.from_router {
            status.insert("details".into(), Value::Object(details));
        }
        status.insert("code".into(), json!(self.code()));
        Value::Object(status)
    }
}

/// `Success` Status, as DELETE answers when the object is gone.
pub fn success_status(group: &str, plural: &str, name: &str, uid: &str) -> Value {
    let mut details = Map::new();
    details.insert("name".into(), json!(name));
    if !group.is_empty() {
        details.insert("group".into(), json!(group));
    }
    details.insert("kind".into(), json!(plural));
    if !uid.is_empty() {
        details.insert("uid".into(), json!(uid));
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    const PODS: Resource = Resource { group: "", plural: "pods" };
    const DEPLOYMENTS: Resource = Resource { group: "apps", plural: "deployments" };

    #[test]
    fn not_found_is_worded_as_kube_apiserver_words_it() {
        let status = ApiError::not_found(DEPLOYMENTS, "web").status();
        assert_eq!(
            status,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "deployments.apps \"web\" not found", "reason": "NotFound",
                "details": {"name": "web", "group": "apps", "kind": "deployments"}, "code": 404})
        );
    }

    #[test]
    fn router_errors_carry_empty_details() {
        let status = ApiError::method_not_allowed().status();
        assert_eq!(
            status.to_string(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server does not allow this method on the requested resource","reason":"MethodNotAllowed","details":{},"code":405}"#
        );
        assert_eq!(ApiError::no_such_route().status()["details"], json!({}));
        assert!(ApiError::no_such_path().status().get("details").is_none());
    }

    #[test]
    fn conflict_and_already_exists_messages() {
        assert_eq!(
            ApiError::modified(Resource { group: "", plural: "configmaps" }, "x").message,
            "Operation cannot be fulfilled on configmaps \"x\": the object has been modified; please apply your changes to the latest version and try again"
        );
        let exists = ApiError::already_exists(PODS, "x");
        assert_eq!((exists.message.as_str(), exists.code()), ("pods \"x\" already exists", 409));
    }

    #[test]
    fn invalid_lists_each_field_error_as_a_cause() {
        let error = ApiError::invalid(
            "",
            "Pod",
            "Bad_Name",
            vec![
                FieldError::invalid("metadata.name", json!("Bad_Name"), "a lowercase RFC 1123 subdomain"),
                FieldError::required("spec.containers", ""),
            ],
        );
        assert_eq!(
            error.message,
            "Pod \"Bad_Name\" is invalid: [metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain, spec.containers: Required value]"
        );
        let status = error.status();
        assert_eq!(status["code"], 422);
        assert_eq!(status["details"]["kind"], "Pod");
        assert_eq!(
            status["details"]["causes"][1],
            json!({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"})
        );
    }
}

//! Building responses: JSON or YAML bodies, `metav1.Status` errors (the only place an
//! [`ApiError`] becomes an HTTP response), `Warning` headers, and streamed bodies.

use crate::error::ApiError;
use crate::http::negotiate::Representation;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;
use warp::reply::Response;

/// A response body with its status and content type.
pub fn bytes(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response {
    let mut response = Response::new(body.into().into());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// Serializes a JSON value as JSON or YAML.
pub fn value(status: u16, representation: Representation, body: &Value) -> Response {
    match representation {
        Representation::Yaml => match serde_saphyr::to_string(body) {
            Ok(text) => bytes(status, "application/yaml", text),
            Err(error) => self::error(&ApiError::internal(error)),
        },
        other => bytes(status, other.content_type(), serde_json::to_vec(body).expect("JSON values serialize")),
    }
}

/// Already-serialized JSON, converted to YAML when that was asked for.
pub fn json_bytes(status: u16, representation: Representation, body: Vec<u8>) -> Response {
    match representation {
        Representation::Yaml => match serde_json::from_slice::<Value>(&body) {
            Ok(parsed) => value(status, representation, &parsed),
            Err(error) => self::error(&ApiError::internal(error)),
        },
        other => bytes(status, other.content_type(), body),
    }
}

/// The Status response for an error.
pub fn error(error: &ApiError) -> Response {
    let mut response =
        bytes(error.code(), "application/json", serde_json::to_vec(&error.status()).expect("Status serializes"));
    if let Some(seconds) = error.retry_after_seconds() {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Adds `Warning: 299 - "<text>"` headers, as kube-apiserver sends them.
pub fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        let escaped = warning.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

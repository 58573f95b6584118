//! Converting custom resources with `spec.conversion.strategy: Webhook`, as
//! apiextensions-apiserver's `webhookConverter` (`pkg/apiserver/conversion/webhook_converter.go`)
//! does: an object whose `apiVersion` is not the one wanted is POSTed in a `ConversionReview`
//! (`apiextensions.k8s.io/v1`, or `v1beta1`: the first the CRD's `conversionReviewVersions`
//! names that kube-apiserver supports) with a fresh `request.uid` and the
//! `request.desiredAPIVersion`, over TLS trusting only the CRD's `caBundle`, with the fixed 30 s
//! timeout (`?timeout=30s`). The answer is checked as upstream checks it (its kind, `uid`,
//! `result.status`, the number of objects, each one's group/version, kind, name, namespace and
//! uid) and only the labels and annotations the webhook changed are kept (`restoreObjectMeta`).
//! Any failure is a plain error, which kube-apiserver answers as a 500 with no reason:
//! `conversion webhook for <group>/<version>, Kind=<Kind> failed: <why>`.
//!
//! A `service` client configuration cannot be reached: kubetwin runs no pods, so no Service has
//! endpoints. Conversion then fails as it fails on a kube-apiserver whose webhook Service has
//! no ready endpoints: `Post "https://<name>.<namespace>.svc:<port><path>?timeout=30s": no
//! endpoints available for service "<name>"`. Tests use `url`.

use crate::clock::IdSource;
use crate::error::{ApiError, ApiResult, Reason};
use crate::http::webhook_client::WebhookClient;
use base64::Engine;
use serde_json::{Value, json};
use std::time::Duration;

/// The ConversionReview versions kube-apiserver speaks, as `acceptedConversionReviewVersions`
/// lists them (sorted).
pub const SUPPORTED_REVIEW_VERSIONS: [&str; 2] = ["v1", "v1beta1"];

/// Conversion webhooks have a fixed timeout; kube-apiserver sends it as `?timeout=30s`.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Where the webhook is, or why it cannot be called.
#[derive(Debug)]
enum Endpoint {
    Client(WebhookClient),
    /// The URL a call would go to, and Go's HTTP client's reason for failing it.
    Unreachable {
        url: String,
        why: String,
    },
}

/// The converter of one CRD whose conversion strategy is `Webhook`.
#[derive(Debug)]
pub struct WebhookConverter {
    /// `v1` or `v1beta1`; `None` when the CRD names no version kube-apiserver supports.
    review_version: Option<&'static str>,
    endpoint: Endpoint,
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// Go's `schema.GroupVersionKind.String()` for an object: `example.com/v1, Kind=Widget`.
fn gvk_of(object: &Value) -> String {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    format!("{group}/{version}, Kind={}", object["kind"].as_str().unwrap_or_default())
}

impl WebhookConverter {
    /// The converter `crd` asks for, if its strategy is `Webhook`.
    pub fn from_crd(crd: &Value) -> Option<WebhookConverter> {
        if text(crd, "/spec/conversion/strategy") != Some("Webhook") {
            return None;
        }
        let webhook = crd.pointer("/spec/conversion/webhook").cloned().unwrap_or(Value::Null);
        let review_versions = webhook["conversionReviewVersions"].as_array().map(Vec::as_slice).unwrap_or_default();
        let review_version = review_versions
            .iter()
            .find_map(|v| SUPPORTED_REVIEW_VERSIONS.iter().find(|supported| v == **supported).copied());
        Some(WebhookConverter { review_version, endpoint: Self::endpoint(&webhook["clientConfig"]) })
    }

    fn endpoint(config: &Value) -> Endpoint {
        let query = format!("?timeout={}s", TIMEOUT.as_secs());
        if let Some(service) = config.get("service").filter(|s| s.is_object()) {
            let name = service["name"].as_str().unwrap_or_default();
            let port = service["port"].as_u64().unwrap_or(443);
            let path = service["path"].as_str().unwrap_or_default();
            let namespace = service["namespace"].as_str().unwrap_or_default();
            return Endpoint::Unreachable {
                url: format!("https://{name}.{namespace}.svc:{port}{path}{query}"),
                why: format!("no endpoints available for service {name:?}"),
            };
        }
        let url = format!("{}{query}", config["url"].as_str().unwrap_or_default());
        let ca = config["caBundle"].as_str().map(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()));
        let client = match ca {
            Some(Ok(ca)) => WebhookClient::new(&url, &ca, None, None, None),
            Some(Err(error)) => Err(format!("caBundle is not base64: {error}")),
            // kubetwin trusts no system roots: without a caBundle no certificate verifies.
            None => Err("tls: failed to verify certificate: x509: certificate signed by unknown authority".into()),
        };
        match client {
            Ok(client) => Endpoint::Client(client),
            Err(why) => Endpoint::Unreachable { url, why },
        }
    }

    /// `object` as `desired_api_version` (`example.com/v2`) shows it; an object already at
    /// that version is returned as it is, without a call.
    pub fn convert(&self, object: Value, desired_api_version: &str) -> ApiResult<Value> {
        if object["apiVersion"] == desired_api_version {
            return Ok(object);
        }
        let gvk = gvk_of(&object);
        let failure = |message: String| ApiError::new(Reason::Unknown, message);
        let failed = |why: String| failure(format!("conversion webhook for {gvk} failed: {why}"));
        let Some(review_version) = self.review_version else {
            return Err(failure("no supported conversion review versions".into()));
        };
        let uid = crate::clock::RandomIds.uuid();
        let review = json!({
            "kind": "ConversionReview",
            "apiVersion": format!("apiextensions.k8s.io/{review_version}"),
            "request": {"uid": uid, "desiredAPIVersion": desired_api_version, "objects": [&object]},
            "response": {"uid": "", "convertedObjects": null, "result": {"metadata": {}}},
        });
        let body = match &self.endpoint {
            Endpoint::Client(client) => client
                .post_json_blocking(serde_json::to_vec(&review).expect("JSON values always serialize"), TIMEOUT)
                .map_err(failed)?,
            Endpoint::Unreachable { url, why } => return Err(failed(format!("Post {url:?}: {why}"))),
        };
        let answer: Value = serde_json::from_slice(&body).map_err(|e| failed(e.to_string()))?;
        let mut converted = converted_objects(&answer, review_version, &uid).map_err(failed)?;
        if converted.len() != 1 {
            let count = converted.len();
            return Err(failure(format!("conversion webhook for {gvk} returned {count} objects, expected 1")));
        }
        let mut converted = converted.remove(0);
        let invalid = |why: String| failure(format!("conversion webhook for {gvk} returned invalid object{why}"));
        if converted["apiVersion"] != desired_api_version {
            let received = converted["apiVersion"].as_str().unwrap_or_default();
            return Err(invalid(format!(
                " at index 0: invalid groupVersion (expected {desired_api_version}, received {received})"
            )));
        }
        if converted["kind"] != object["kind"] {
            let (expected, received) = (object["kind"].as_str(), converted["kind"].as_str());
            return Err(invalid(format!(
                " at index 0: invalid kind (expected {}, received {})",
                expected.unwrap_or_default(),
                received.unwrap_or_default()
            )));
        }
        same_identity(&object, &converted).map_err(|why| invalid(format!(": {why}")))?;
        restore_object_meta(&object, &mut converted)
            .map_err(|why| failure(format!("conversion webhook for {gvk} returned invalid metadata: {why}")))?;
        Ok(converted)
    }
}

/// `getConvertedObjectsFromResponse`: the objects of a well-formed, successful answer.
fn converted_objects(answer: &Value, review_version: &str, uid: &str) -> Result<Vec<Value>, String> {
    if review_version == "v1" {
        // v1beta1 answers were never checked for their kind or uid; v1 answers are.
        let (api_version, kind) = (answer["apiVersion"].as_str().unwrap_or_default(), &answer["kind"]);
        if api_version != "apiextensions.k8s.io/v1" || kind != "ConversionReview" {
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            return Err(format!(
                "expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got {group}/{version}, Kind={}",
                kind.as_str().unwrap_or_default()
            ));
        }
    }
    let response = answer.get("response").filter(|r| r.is_object()).ok_or("no response provided")?;
    let answered_uid = response["uid"].as_str().unwrap_or_default();
    if review_version == "v1" && answered_uid != uid {
        return Err(format!("expected response.uid={uid:?}, got {answered_uid:?}"));
    }
    let status = response.pointer("/result/status").and_then(Value::as_str).unwrap_or_default();
    if status != "Success" {
        return Err(match response.pointer("/result/message").and_then(Value::as_str) {
            Some(message) if !message.is_empty() => message.to_string(),
            _ => format!("response.result.status was '{status}', not 'Success'"),
        });
    }
    Ok(response["convertedObjects"].as_array().cloned().unwrap_or_default())
}

/// `validateConvertedObject`: a webhook may not change what the object is.
fn same_identity(original: &Value, converted: &Value) -> Result<(), String> {
    let field = |object: &Value, pointer: &str| text(object, pointer).unwrap_or_default().to_string();
    for (pointer, what) in
        [("/kind", "kind"), ("/metadata/name", "name"), ("/metadata/namespace", "namespace"), ("/metadata/uid", "UID")]
    {
        let (expected, got) = (field(original, pointer), field(converted, pointer));
        if expected != got {
            return Err(format!("must have the same {what}: {expected} != {got}"));
        }
    }
    Ok(())
}

/// `restoreObjectMeta`: the original metadata, with the labels and annotations the webhook
/// answered (which must be maps of strings).
fn restore_object_meta(original: &Value, converted: &mut Value) -> Result<(), String> {
    let answered = match converted.get("metadata") {
        None => return Err("missing metadata in converted object".into()),
        Some(Value::Object(metadata)) => metadata.clone(),
        Some(other) => return Err(format!("invalid metadata of type {} in converted object", go_type(other))),
    };
    let mut metadata = original["metadata"].as_object().cloned().unwrap_or_default();
    for field in ["labels", "annotations"] {
        match answered.get(field) {
            None | Some(Value::Null) => {
                metadata.remove(field);
            }
            Some(Value::Object(values)) => {
                if let Some((key, value)) = values.iter().find(|(_, v)| !v.is_string()) {
                    let kind = go_type(value);
                    return Err(format!("metadata.{field}[{key}] must be a string, but is {kind} in converted object"));
                }
                metadata.insert(field.into(), Value::Object(values.clone()));
            }
            Some(other) => {
                return Err(format!("invalid metadata.{field} of type {} in converted object", go_type(other)));
            }
        }
    }
    converted["metadata"] = Value::Object(metadata);
    Ok(())
}

/// The Go type `encoding/json` decodes a JSON value into, as `%T` prints it.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widget() -> Value {
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "namespace": "default", "uid": "u-1", "resourceVersion": "7", "labels": {"a": "1"}},
            "spec": {"size": 3}})
    }

    #[test]
    fn answers_are_checked_as_upstream_checks_them() {
        let answer = |uid: &str, status: &str| {
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
                "response": {"uid": uid, "result": {"status": status}, "convertedObjects": [{"x": 1}]}})
        };
        assert_eq!(converted_objects(&answer("u", "Success"), "v1", "u").unwrap(), [json!({"x": 1})]);
        assert_eq!(
            converted_objects(&answer("other", "Success"), "v1", "u").unwrap_err(),
            "expected response.uid=\"u\", got \"other\""
        );
        assert!(converted_objects(&answer("other", "Success"), "v1beta1", "u").is_ok(), "v1beta1 skips the uid");
        assert_eq!(
            converted_objects(&answer("u", "Failure"), "v1", "u").unwrap_err(),
            "response.result.status was 'Failure', not 'Success'"
        );
        let mut failed = answer("u", "Failure");
        failed["response"]["result"]["message"] = json!("cannot convert");
        assert_eq!(converted_objects(&failed, "v1", "u").unwrap_err(), "cannot convert");
        let wrong_kind = json!({"apiVersion": "apiextensions.k8s.io/v1beta1", "kind": "ConversionReview"});
        assert_eq!(
            converted_objects(&wrong_kind, "v1", "u").unwrap_err(),
            "expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got apiextensions.k8s.io/v1beta1, Kind=ConversionReview"
        );
        assert_eq!(converted_objects(&json!({}), "v1beta1", "u").unwrap_err(), "no response provided");
    }

    #[test]
    fn only_labels_and_annotations_survive_from_the_webhook() {
        let original = widget();
        let mut converted = json!({"apiVersion": "example.com/v2", "kind": "Widget",
            "metadata": {"name": "w", "namespace": "default", "uid": "u-1", "generation": 99, "annotations": {"n": "x"}},
            "spec": {"replicas": 3}});
        assert!(same_identity(&original, &converted).is_ok());
        restore_object_meta(&original, &mut converted).unwrap();
        assert_eq!(
            converted["metadata"],
            json!({"name": "w", "namespace": "default", "uid": "u-1", "resourceVersion": "7", "annotations": {"n": "x"}})
        );
        converted["metadata"]["name"] = json!("renamed");
        assert_eq!(same_identity(&original, &converted).unwrap_err(), "must have the same name: w != renamed");
        let mut bad = json!({"metadata": {"labels": {"a": 1}}});
        assert_eq!(
            restore_object_meta(&original, &mut bad).unwrap_err(),
            "metadata.labels[a] must be a string, but is int64 in converted object"
        );
        assert_eq!(restore_object_meta(&original, &mut json!({})).unwrap_err(), "missing metadata in converted object");
    }

    #[test]
    fn services_and_missing_versions_fail_as_kube_apiserver_does() {
        let crd = |webhook: Value| json!({"spec": {"conversion": {"strategy": "Webhook", "webhook": webhook}}});
        let service = WebhookConverter::from_crd(&crd(json!({"conversionReviewVersions": ["v1"],
            "clientConfig": {"service": {"namespace": "ns", "name": "conv", "path": "/convert", "port": 8443}}})))
        .unwrap();
        assert_eq!(
            service.convert(widget(), "example.com/v2").unwrap_err().message,
            "conversion webhook for example.com/v1, Kind=Widget failed: Post \"https://conv.ns.svc:8443/convert?timeout=30s\": no endpoints available for service \"conv\""
        );
        assert_eq!(service.convert(widget(), "example.com/v1").unwrap(), widget(), "no call at the same version");
        let unsupported =
            WebhookConverter::from_crd(&crd(json!({"conversionReviewVersions": ["v9"], "clientConfig": {}}))).unwrap();
        let error = unsupported.convert(widget(), "example.com/v2").unwrap_err();
        assert_eq!((error.code(), error.message.as_str()), (500, "no supported conversion review versions"));
        assert!(WebhookConverter::from_crd(&json!({"spec": {"conversion": {"strategy": "None"}}})).is_none());
    }
}

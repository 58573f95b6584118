//! Validation of a CRD's `spec.conversion`, as apiextensions-apiserver's
//! `validateCustomResourceConversion` (`pkg/apis/apiextensions/validation/validation.go`) and
//! the shared webhook checks `ValidateWebhookURL`, `ValidateWebhookService` and
//! `ValidateCABundle` (`k8s.io/apiserver/pkg/util/webhook/validation.go`) do it. Errors name the
//! fields of the internal API version, as kube-apiserver reports them for a v1 CRD too:
//! `spec.conversion.webhookClientConfig` and `spec.conversion.conversionReviewVersions` (v1's
//! `spec.conversion.webhook.clientConfig` and `...webhook.conversionReviewVersions`).

use super::conversion_webhook::SUPPORTED_REVIEW_VERSIONS;
use crate::error::{FieldError, FieldErrorKind};
use crate::registry::names;
use base64::Engine;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

const CONVERSION: &str = "spec.conversion";
const CLIENT_CONFIG: &str = "spec.conversion.webhookClientConfig";
const REVIEW_VERSIONS: &str = "spec.conversion.conversionReviewVersions";
/// The hint `ValidateWebhookURL` appends to its URL errors.
const URL_FORM: &str = "; desired format: https://host[/path]";

/// The errors of `crd`'s `spec.conversion`; `old` is the CRD being updated, if any.
pub fn errors(crd: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let Some(conversion) = crd.pointer("/spec/conversion").filter(|c| c.is_object()) else { return Vec::new() };
    let mut errors = Vec::new();
    let strategy = conversion["strategy"].as_str().unwrap_or_default();
    if strategy != "None" && crd.pointer("/spec/preserveUnknownFields") == Some(&json!(true)) {
        errors.push(FieldError::invalid(
            format!("{CONVERSION}.strategy"),
            json!(strategy),
            "must be None if spec.preserveUnknownFields is true",
        ));
    }
    match strategy {
        "" => errors.push(FieldError::required(format!("{CONVERSION}.strategy"), "")),
        "None" | "Webhook" => {}
        other => errors.push(FieldError {
            field: format!("{CONVERSION}.strategy"),
            kind: FieldErrorKind::NotSupported(json!(other), vec!["None".into(), "Webhook".into()]),
            detail: String::new(),
        }),
    }
    let client_config = conversion.pointer("/webhook/clientConfig").filter(|c| !c.is_null());
    let versions: Vec<&Value> = conversion
        .pointer("/webhook/conversionReviewVersions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    if strategy != "Webhook" {
        let not_webhook = "should not be set when strategy is not set to Webhook";
        if client_config.is_some() {
            errors.push(FieldError::forbidden(CLIENT_CONFIG, not_webhook));
        }
        if !versions.is_empty() {
            errors.push(FieldError::forbidden(REVIEW_VERSIONS, not_webhook));
        }
        return errors;
    }
    match client_config {
        None => errors.push(FieldError::required(CLIENT_CONFIG, "required when strategy is set to Webhook")),
        Some(config) => {
            match (config.get("url").filter(|u| !u.is_null()), config.get("service").filter(|s| !s.is_null())) {
                (Some(url), None) => errors.extend(url_errors(url.as_str().unwrap_or_default())),
                (None, Some(service)) => errors.extend(service_errors(service)),
                _ => errors.push(FieldError::required(CLIENT_CONFIG, "exactly one of url or service is required")),
            }
            if let Some(bundle) = config["caBundle"].as_str().filter(|b| !b.is_empty())
                && !allow_invalid_ca_bundle(old)
                && let Some(why) = ca_bundle_error(bundle)
            {
                errors.push(FieldError::invalid(format!("{CLIENT_CONFIG}.caBundle"), json!(bundle), why));
            }
        }
    }
    errors.extend(review_version_errors(&versions, requires_recognized_version(old)));
    errors
}

/// `ValidateWebhookURL` with https required, over Go's `url.Parse` split of the URL.
fn url_errors(url: &str) -> Vec<FieldError> {
    let field = format!("{CLIENT_CONFIG}.url");
    let invalid = |value: &str, why: String| FieldError::invalid(field.clone(), json!(value), why);
    let (scheme, rest) = match url.split_once(':') {
        Some((scheme, rest))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (scheme.to_lowercase(), rest)
        }
        _ => (String::new(), url),
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = rest.strip_prefix("//").map(|a| a.split('/').next().unwrap_or_default()).unwrap_or_default();
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, authority),
    };
    let mut errors = Vec::new();
    if scheme != "https" {
        errors.push(invalid(&scheme, format!("'https' is the only allowed URL scheme{URL_FORM}")));
    }
    if host.is_empty() {
        errors.push(invalid(host, format!("host must be provided{URL_FORM}")));
    }
    if let Some(user) = user {
        errors.push(invalid(user, "user information is not permitted in the URL".into()));
    }
    if !fragment.is_empty() {
        errors.push(invalid(fragment, "fragments are not permitted in the URL".into()));
    }
    if !query.is_empty() {
        errors.push(invalid(query, "query parameters are not permitted in the URL".into()));
    }
    errors
}

/// `ValidateWebhookService`: a name, a namespace, a valid port and a path of DNS-subdomain
/// segments.
fn service_errors(service: &Value) -> Vec<FieldError> {
    let field = |name: &str| format!("{CLIENT_CONFIG}.service.{name}");
    let mut errors = Vec::new();
    if service["name"].as_str().unwrap_or_default().is_empty() {
        errors.push(FieldError::required(field("name"), "service name is required"));
    }
    if service["namespace"].as_str().unwrap_or_default().is_empty() {
        errors.push(FieldError::required(field("namespace"), "service namespace is required"));
    }
    let port = service["port"].as_i64().unwrap_or(443);
    if !(1..=65535).contains(&port) {
        errors.push(FieldError::invalid(
            field("port"),
            json!(port),
            "port is not valid: must be between 1 and 65535, inclusive",
        ));
    }
    let path = service["path"].as_str().unwrap_or_default();
    if path.is_empty() || path == "/" {
        return errors;
    }
    let invalid = |why: String| FieldError::invalid(field("path"), json!(path), why);
    if path == "//" {
        errors.push(invalid("segment[0] may not be empty".into()));
        return errors;
    }
    if !path.starts_with('/') {
        errors.push(invalid("must start with a '/'".into()));
    }
    let trimmed = path.get(1..).unwrap_or_default();
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    for (i, segment) in trimmed.split('/').enumerate() {
        if segment.is_empty() {
            errors.push(invalid(format!("segment[{i}] may not be empty")));
            continue;
        }
        errors.extend(names::dns1123_subdomain(segment).into_iter().map(|e| invalid(format!("segment[{i}]: {e}"))));
    }
    errors
}

/// `ValidateCABundle`: the bundle (base64 in JSON) must hold PEM certificates.
fn ca_bundle_error(bundle: &str) -> Option<String> {
    let Ok(pem) = base64::engine::general_purpose::STANDARD.decode(bundle.trim()) else {
        return Some("illegal base64 data".into());
    };
    let certificates: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    match certificates {
        Ok(certificates) if !certificates.is_empty() => None,
        _ => Some("data does not contain any valid RSA or ECDSA certificates".into()),
    }
}

/// An invalid caBundle may stay in an update when the CRD is not established yet, or when the
/// old one was invalid too (`allowInvalidCABundle`).
fn allow_invalid_ca_bundle(old: Option<&Value>) -> bool {
    let Some(old) = old else { return false };
    let conditions = old.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten();
    let established = conditions.into_iter().any(|c| c["type"] == "Established" && c["status"] == "True");
    if !established {
        return true;
    }
    let old_bundle = old.pointer("/spec/conversion/webhook/clientConfig/caBundle").and_then(Value::as_str);
    old_bundle.filter(|b| !b.is_empty()).is_some_and(|b| ca_bundle_error(b).is_some())
}

/// A supported review version is required unless the old CRD already lacked one.
fn requires_recognized_version(old: Option<&Value>) -> bool {
    let Some(old) = old else { return true };
    let versions = old.pointer("/spec/conversion/webhook/conversionReviewVersions").and_then(Value::as_array);
    let versions = versions.map(Vec::as_slice).unwrap_or_default();
    versions.is_empty() || versions.iter().any(|v| SUPPORTED_REVIEW_VERSIONS.iter().any(|s| v == *s))
}

/// `validateConversionReviewVersions`.
fn review_version_errors(versions: &[&Value], require_recognized: bool) -> Vec<FieldError> {
    if versions.is_empty() {
        return vec![FieldError::required(REVIEW_VERSIONS, "")];
    }
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    let mut supported = false;
    for (i, version) in versions.iter().enumerate() {
        let field = format!("{REVIEW_VERSIONS}[{i}]");
        let name = version.as_str().unwrap_or_default();
        if seen.contains(&name) {
            errors.push(FieldError::invalid(field, json!(name), "duplicate version"));
            continue;
        }
        seen.push(name);
        errors
            .extend(names::dns1035_label(name).into_iter().map(|e| FieldError::invalid(field.clone(), json!(name), e)));
        supported |= SUPPORTED_REVIEW_VERSIONS.contains(&name);
    }
    if require_recognized && !supported {
        errors.push(FieldError::invalid(
            REVIEW_VERSIONS,
            json!(versions),
            format!("must include at least one of {}", SUPPORTED_REVIEW_VERSIONS.join(", ")),
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(conversion: Value) -> Vec<String> {
        let crd = json!({"spec": {"conversion": conversion}});
        errors(&crd, None).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn webhook_configurations_are_checked_with_kube_wording() {
        let webhook = |client_config: Value, versions: Value| json!({"strategy": "Webhook", "webhook": {"clientConfig": client_config, "conversionReviewVersions": versions}});
        assert!(rendered(webhook(json!({"url": "https://conv.example:8443/convert"}), json!(["v1"]))).is_empty());
        assert_eq!(
            rendered(webhook(json!({"url": "http://u:p@conv.example/x?a=b#f"}), json!(["v1"]))),
            [
                "spec.conversion.webhookClientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
                "spec.conversion.webhookClientConfig.url: Invalid value: \"u:p\": user information is not permitted in the URL",
                "spec.conversion.webhookClientConfig.url: Invalid value: \"f\": fragments are not permitted in the URL",
                "spec.conversion.webhookClientConfig.url: Invalid value: \"a=b\": query parameters are not permitted in the URL",
            ]
        );
        assert_eq!(
            rendered(json!({"strategy": "Webhook", "webhook": {"clientConfig": {"url": "https://c/"}}})),
            ["spec.conversion.conversionReviewVersions: Required value"]
        );
        assert_eq!(
            rendered(webhook(json!({"url": "https://c/"}), json!(["v2", "v2"]))),
            [
                "spec.conversion.conversionReviewVersions[1]: Invalid value: \"v2\": duplicate version",
                "spec.conversion.conversionReviewVersions: Invalid value: [\"v2\",\"v2\"]: must include at least one of v1, v1beta1",
            ]
        );
        assert_eq!(
            rendered(json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"]}})),
            ["spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook"]
        );
        assert_eq!(
            rendered(webhook(json!({"url": "https://c/", "service": {"name": "s", "namespace": "n"}}), json!(["v1"]))),
            ["spec.conversion.webhookClientConfig: Required value: exactly one of url or service is required"]
        );
        assert_eq!(
            rendered(webhook(
                json!({"service": {"port": 0, "path": "/a//B"}, "caBundle": "bm90IHBlbQ=="}),
                json!(["v1"])
            )),
            [
                "spec.conversion.webhookClientConfig.service.name: Required value: service name is required",
                "spec.conversion.webhookClientConfig.service.namespace: Required value: service namespace is required",
                "spec.conversion.webhookClientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive",
                "spec.conversion.webhookClientConfig.service.path: Invalid value: \"/a//B\": segment[1] may not be empty",
                "spec.conversion.webhookClientConfig.service.path: Invalid value: \"/a//B\": segment[2]: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "spec.conversion.webhookClientConfig.caBundle: Invalid value: \"bm90IHBlbQ==\": data does not contain any valid RSA or ECDSA certificates",
            ]
        );
        assert_eq!(
            rendered(
                json!({"strategy": "None", "webhook": {"clientConfig": {"url": "https://c/"}, "conversionReviewVersions": ["v1"]}})
            ),
            [
                "spec.conversion.webhookClientConfig: Forbidden: should not be set when strategy is not set to Webhook",
                "spec.conversion.conversionReviewVersions: Forbidden: should not be set when strategy is not set to Webhook",
            ]
        );
    }
}

//! The CertificateSigningRequest strategy (kube-apiserver's `pkg/registry/certificates` and
//! `pkg/apis/certificates/validation`): on create the server sets `spec.username`, `uid`,
//! `groups` and `extra` from the requesting user, whatever the client sent; the spec never
//! changes afterwards; the `approval` subresource changes only `status.conditions`, the `status`
//! subresource everything in status but the Approved and Denied conditions; condition timestamps
//! are filled in; and every write checks the request, usages, signer name, expiration and
//! conditions as the real validation words them.

use super::Scope;
use super::strategy::{UpdateScope, meta_str};
use crate::auth::UserInfo;
use crate::error::{ApiError, ApiResult, FieldError, FieldErrorKind};
use crate::openapi::ResourceInfo;
use base64::Engine;
use serde_json::{Value, json};

/// The conditions only the approval subresource may add.
const APPROVAL_CONDITIONS: [&str; 2] = ["Approved", "Denied"];
/// The conditions no update may remove.
const PERMANENT_CONDITIONS: [&str; 3] = ["Approved", "Denied", "Failed"];
/// The signer name v1 refuses (v1beta1's default).
pub const LEGACY_UNKNOWN_SIGNER: &str = "kubernetes.io/legacy-unknown";

/// Every usage certificates.k8s.io/v1 accepts, sorted as kube-apiserver lists them.
const VALID_USAGES: [&str; 23] = [
    "any",
    "cert sign",
    "client auth",
    "code signing",
    "content commitment",
    "crl sign",
    "data encipherment",
    "decipher only",
    "digital signature",
    "email protection",
    "encipher only",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "key agreement",
    "key encipherment",
    "microsoft sgc",
    "netscape sgc",
    "ocsp signing",
    "s/mime",
    "server auth",
    "signing",
    "timestamping",
];

/// Whether `resource` is certificates.k8s.io's CertificateSigningRequests.
pub fn is_csr(resource: &ResourceInfo) -> bool {
    resource.group == "certificates.k8s.io" && resource.plural == "certificatesigningrequests"
}

/// Decodes a `[]byte` field (base64 in JSON); None when absent or not base64.
pub fn bytes_field(object: &Value, pointer: &str) -> Option<Vec<u8>> {
    let text = object.pointer(pointer)?.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// The conditions of `object`'s status.
pub fn conditions(object: &Value) -> &[Value] {
    object.pointer("/status/conditions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// Whether a condition of `kind` with status True is present.
pub fn has_true_condition(object: &Value, kind: &str) -> bool {
    conditions(object).iter().any(|c| c["type"] == kind && c["status"] == "True")
}

fn of_type<'a>(object: &'a Value, kind: &str) -> Vec<&'a Value> {
    conditions(object).iter().filter(|c| c["type"] == kind).collect()
}

/// PrepareForCreate: the requester's identity replaces whatever the client put in the spec.
pub fn prepare_create(resource: &ResourceInfo, object: &mut Value, requester: &UserInfo) {
    if !is_csr(resource) {
        return;
    }
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else { return };
    for field in ["username", "uid", "groups", "extra"] {
        spec.remove(field);
    }
    if requester.name.is_empty() {
        return;
    }
    spec.insert("username".into(), json!(requester.name));
    if !requester.uid.is_empty() {
        spec.insert("uid".into(), json!(requester.uid));
    }
    if !requester.groups.is_empty() {
        spec.insert("groups".into(), json!(requester.groups));
    }
    if !requester.extra.is_empty() {
        spec.insert("extra".into(), json!(requester.extra));
    }
}

/// PrepareForUpdate of the main resource and the `status` and `approval` subresources, run on
/// the incoming object before the generic strategy keeps status and spec apart.
pub fn prepare_update(scope: &Scope<'_>, object: &mut Value, old: &Value, update: UpdateScope) {
    if !is_csr(&scope.resource) || !object.is_object() {
        return;
    }
    object["spec"] = old.get("spec").cloned().unwrap_or(Value::Null);
    match update {
        UpdateScope::Status => {
            for kind in APPROVAL_CONDITIONS {
                preserve_conditions(object, old, kind);
            }
            populate_timestamps(object, old, &scope.instance.now_rfc3339());
        }
        UpdateScope::Approval => {
            populate_timestamps(object, old, &scope.instance.now_rfc3339());
            let conditions = object.pointer("/status/conditions").cloned();
            let mut status = old.get("status").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
            match conditions {
                Some(conditions) => status["conditions"] = conditions,
                None => {
                    status.as_object_mut().map(|s| s.remove("conditions"));
                }
            }
            object["status"] = status;
        }
        UpdateScope::Main | UpdateScope::Finalize => {}
    }
}

/// Puts `old`'s conditions of `kind` back in place of the new ones, unless some were added or
/// removed (which validation then refuses).
fn preserve_conditions(object: &mut Value, old: &Value, kind: &str) {
    let old_instances: Vec<Value> = of_type(old, kind).into_iter().cloned().collect();
    let Some(conditions) = object.pointer_mut("/status/conditions").and_then(Value::as_array_mut) else { return };
    let mut new_instances: Vec<&mut Value> = conditions.iter_mut().filter(|c| c["type"] == kind).collect();
    if new_instances.len() == old_instances.len() {
        for (new, old) in new_instances.iter_mut().zip(old_instances) {
            **new = old;
        }
    }
}

/// Sets a missing `lastUpdateTime` to now, and a missing `lastTransitionTime` to that of the
/// old condition of the same type and status, else to now.
fn populate_timestamps(object: &mut Value, old: &Value, now: &str) {
    let old_conditions = conditions(old).to_vec();
    let Some(conditions) = object.pointer_mut("/status/conditions").and_then(Value::as_array_mut) else { return };
    for condition in conditions.iter_mut().filter_map(Value::as_object_mut) {
        if condition.get("lastUpdateTime").is_none_or(Value::is_null) {
            condition.insert("lastUpdateTime".into(), json!(now));
        }
        if condition.get("lastTransitionTime").is_none_or(Value::is_null) {
            let earlier = old_conditions.iter().find(|o| {
                o["type"] == condition["type"]
                    && o["status"] == condition["status"]
                    && o["lastTransitionTime"].is_string()
            });
            let since = earlier.map_or_else(|| json!(now), |o| o["lastTransitionTime"].clone());
            condition.insert("lastTransitionTime".into(), since);
        }
    }
}

/// The validation every create and update runs (`validateCertificateSigningRequest`).
pub fn object_errors(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let request = object.pointer("/spec/request").cloned().unwrap_or(Value::Null);
    let checked = match bytes_field(object, "/spec/request") {
        Some(pem) => crate::pki::read_csr(&pem).map(drop).map_err(|e| e.0),
        None => Err("PEM block type must be CERTIFICATE REQUEST".to_string()),
    };
    if let Err(why) = checked {
        errors.push(FieldError::invalid("spec.request", request, why));
    }
    errors.extend(usage_errors(object));
    let signer = object.pointer("/spec/signerName").and_then(Value::as_str).unwrap_or_default();
    if signer == LEGACY_UNKNOWN_SIGNER {
        errors.push(FieldError::invalid(
            "spec.signerName",
            json!(signer),
            "the legacy signerName is not allowed via this API version",
        ));
    } else {
        errors.extend(signer_name_errors(signer));
    }
    if let Some(seconds) = object.pointer("/spec/expirationSeconds").and_then(Value::as_i64)
        && seconds < 600
    {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            json!(seconds),
            "may not specify a duration less than 600 seconds (10 minutes)",
        ));
    }
    errors.extend(condition_errors(object));
    if let Some(certificate) = object.pointer("/status/certificate").filter(|c| c.as_str() != Some(""))
        && let Err(why) = check_certificate(bytes_field(object, "/status/certificate"), certificate)
    {
        errors.push(FieldError::invalid("status.certificate", json!("<certificate data>"), why));
    }
    errors
}

fn usage_errors(object: &Value) -> Vec<FieldError> {
    let usages: Vec<&Value> = object.pointer("/spec/usages").and_then(Value::as_array).into_iter().flatten().collect();
    if usages.is_empty() {
        return vec![FieldError::required("spec.usages", "usages must be provided")];
    }
    let mut errors = Vec::new();
    for (i, usage) in usages.iter().enumerate() {
        if !usage.as_str().is_some_and(|u| VALID_USAGES.contains(&u)) {
            let supported = VALID_USAGES.map(String::from).to_vec();
            errors.push(FieldError {
                field: format!("spec.usages[{i}]"),
                kind: FieldErrorKind::NotSupported((*usage).clone(), supported),
                detail: String::new(),
            });
        }
        if usages[..i].contains(usage) {
            errors.push(FieldError {
                field: format!("spec.usages[{i}]"),
                kind: FieldErrorKind::Duplicate((*usage).clone()),
                detail: String::new(),
            });
        }
    }
    errors
}

/// `ValidateCertificateSigningRequestSignerName`: `example.com/signer-name`.
fn signer_name_errors(signer: &str) -> Vec<FieldError> {
    const FIELD: &str = "spec.signerName";
    if signer.is_empty() {
        return vec![FieldError::required(FIELD, "signerName must be provided")];
    }
    let Some((domain, path)) = signer.split_once('/').filter(|(_, path)| !path.contains('/')) else {
        return vec![FieldError::invalid(
            FIELD,
            json!(signer),
            "must be a fully qualified domain and path of the form 'example.com/signer-name'",
        )];
    };
    let mut errors = Vec::new();
    let label_errors = |segment: &str, check: fn(&str) -> Vec<String>| -> Vec<FieldError> {
        let invalid = segment.split('.').find_map(|label| {
            let problems = check(label);
            (!problems.is_empty()).then(|| (label.to_string(), problems))
        });
        invalid
            .map(|(label, problems)| {
                problems
                    .into_iter()
                    .map(|p| FieldError::invalid(FIELD, json!(segment), format!("validating label {label:?}: {p}")))
                    .collect()
            })
            .unwrap_or_default()
    };
    errors.extend(label_errors(domain, super::names::dns1123_label));
    if !domain.contains('.') {
        errors.push(FieldError::invalid(
            FIELD,
            json!(domain),
            "should be a domain with at least two segments separated by dots",
        ));
    }
    errors.extend(label_errors(path, super::names::dns1123_subdomain));
    errors
}

fn condition_errors(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (i, condition) in conditions(object).iter().enumerate() {
        let field = |leaf: &str| format!("status.conditions[{i}].{leaf}");
        let kind = condition["type"].as_str().unwrap_or_default();
        let status = condition["status"].as_str().unwrap_or_default();
        if kind.is_empty() {
            errors.push(FieldError::required(field("type"), ""));
        }
        let allowed: &[&str] =
            if PERMANENT_CONDITIONS.contains(&kind) { &["True"] } else { &["False", "True", "Unknown"] };
        if status.is_empty() {
            errors.push(FieldError::required(field("status"), ""));
        } else if !allowed.contains(&status) {
            let supported = allowed.iter().map(|s| s.to_string()).collect();
            let kind = FieldErrorKind::NotSupported(json!(status), supported);
            errors.push(FieldError { field: field("status"), kind, detail: String::new() });
        }
        let opposite = match kind {
            "Approved" => Some("Denied"),
            "Denied" => Some("Approved"),
            _ => None,
        };
        if opposite.is_some_and(|o| seen.contains(&o)) {
            let why = "Approved and Denied conditions are mutually exclusive";
            errors.push(FieldError::invalid(field("type"), json!(kind), why));
        }
        if seen.contains(&kind) {
            let kind = FieldErrorKind::Duplicate(json!(kind));
            errors.push(FieldError { field: field("type"), kind, detail: String::new() });
        }
        seen.push(kind);
    }
    errors
}

/// `status.certificate` holds only PEM CERTIFICATE blocks, at least one, each a certificate.
fn check_certificate(pem: Option<Vec<u8>>, raw: &Value) -> Result<(), String> {
    let pem = pem.ok_or_else(|| format!("illegal base64 data in {raw}"))?;
    let mut blocks = 0;
    for section in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
        let (kind, der): (rustls_pki_types::pem::SectionKind, Vec<u8>) = section.map_err(|e| e.to_string())?;
        if kind != rustls_pki_types::pem::SectionKind::Certificate {
            return Err(format!("only CERTIFICATE PEM blocks are allowed, found {kind:?}"));
        }
        x509_parser::parse_x509_certificate(&der).map_err(|e| e.to_string())?;
        blocks += 1;
    }
    if blocks == 0 {
        return Err("must contain at least one CERTIFICATE PEM block".into());
    }
    Ok(())
}

/// The update rules that depend on which endpoint wrote (`validateCertificateSigningRequestUpdate`):
/// Approved, Denied and Failed conditions are never removed; only `approval` adds Approved or
/// Denied; only `status` sets the certificate, and never changes one already issued.
pub fn validate_update(scope: &Scope<'_>, object: &Value, old: &Value, update: UpdateScope) -> ApiResult<()> {
    if !is_csr(&scope.resource) {
        return Ok(());
    }
    let mut errors = Vec::new();
    for kind in PERMANENT_CONDITIONS {
        let (before, after) = (of_type(old, kind), of_type(object, kind));
        if after.len() < before.len() {
            let why = format!("updates may not remove a condition of type {kind:?}");
            errors.push(FieldError::forbidden("status.conditions", why));
        } else if update != UpdateScope::Approval && APPROVAL_CONDITIONS.contains(&kind) {
            if after.len() > before.len() {
                let why = format!("updates may not add a condition of type {kind:?}");
                errors.push(FieldError::forbidden("status.conditions", why));
            } else if after != before {
                let why = format!("updates may not modify a condition of type {kind:?}");
                errors.push(FieldError::forbidden("status.conditions", why));
            }
        }
    }
    let certificate = |o: &Value| o.pointer("/status/certificate").cloned().filter(|c| c.as_str() != Some(""));
    let (before, after) = (certificate(old), certificate(object));
    if before != after {
        if update != UpdateScope::Status {
            errors.push(FieldError::forbidden("status.certificate", "updates may not set certificate content"));
        } else if before.is_some() {
            let why = "updates may not modify existing certificate content";
            errors.push(FieldError::forbidden("status.certificate", why));
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(&scope.resource.group, &scope.resource.kind, meta_str(object, "name"), errors))
}

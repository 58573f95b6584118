//! The create-only review APIs and TokenRequest: TokenReview, SelfSubjectReview (`kubectl auth
//! whoami`), SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview (`kubectl
//! auth can-i`), SelfSubjectRulesReview (`can-i --list`) and `serviceaccounts/<name>/token`
//! (`kubectl create token`). Nothing is stored: each answers with its object, `status` filled.

use super::{Attributes, Decision, UserInfo};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::registry::Scope;
use crate::registry::strategy::meta_str;
use serde_json::{Map, Value, json};

fn user_json(user: &UserInfo) -> Value {
    let mut out = json!({"username": user.name, "groups": user.groups});
    if !user.uid.is_empty() {
        out["uid"] = json!(user.uid);
    }
    if !user.extra.is_empty() {
        out["extra"] = json!(user.extra);
    }
    out
}

/// Answers a review of `scope`'s resource posted by `user`.
pub async fn review(scope: &Scope<'_>, user: &UserInfo, mut object: Value) -> ApiResult<Value> {
    let spec = object.get("spec").cloned().unwrap_or_else(|| json!({}));
    let instance = scope.instance;
    let status = match scope.resource.plural.as_str() {
        "tokenreviews" => {
            let token = spec["token"].as_str().unwrap_or_default();
            let requested: Option<Vec<String>> = spec["audiences"]
                .as_array()
                .filter(|a| !a.is_empty())
                .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect());
            match super::authenticate::authenticate_token(instance, token, requested.as_deref()) {
                Some(reviewed) => {
                    let audiences = requested
                        .unwrap_or_else(|| instance.auth.signer.get().map(|s| s.audiences.clone()).unwrap_or_default());
                    json!({"authenticated": true, "user": user_json(&reviewed), "audiences": audiences})
                }
                None => {
                    json!({"user": {}, "error": "[invalid bearer token, service account token has been invalidated]"})
                }
            }
        }
        "selfsubjectreviews" => json!({"userInfo": user_json(user)}),
        "selfsubjectaccessreviews" => access_status(instance, user, &spec).await,
        "subjectaccessreviews" | "localsubjectaccessreviews" => {
            let mut subject = UserInfo {
                name: spec["user"].as_str().unwrap_or_default().to_string(),
                uid: spec["uid"].as_str().unwrap_or_default().to_string(),
                groups: spec["groups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                ..UserInfo::default()
            };
            if let Some(extra) = spec["extra"].as_object() {
                for (key, values) in extra {
                    let values = values.as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from);
                    subject.extra.insert(key.clone(), values.collect());
                }
            }
            if subject.name.is_empty() && subject.groups.is_empty() {
                return Err(invalid(
                    scope,
                    &object,
                    FieldError::invalid("spec.user", json!(""), "at least one of user or group must be specified"),
                ));
            }
            if scope.resource.plural == "localsubjectaccessreviews" {
                let namespace =
                    spec.pointer("/resourceAttributes/namespace").and_then(Value::as_str).unwrap_or_default();
                if namespace != scope.namespace.unwrap_or_default() {
                    let error = FieldError::invalid(
                        "spec.resourceAttributes.namespace",
                        json!(namespace),
                        "must match metadata.namespace",
                    );
                    return Err(invalid(scope, &object, error));
                }
            }
            access_status(instance, &subject, &spec).await
        }
        "selfsubjectrulesreviews" => {
            let namespace = spec["namespace"].as_str().unwrap_or_default();
            let (resource_rules, non_resource_rules) = instance.auth.rbac().rules_for(user, namespace);
            json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
        }
        other => {
            let message = format!("{other} are not reviews");
            return Err(ApiError::new(crate::error::Reason::MethodNotAllowed, message));
        }
    };
    let map =
        object.as_object_mut().ok_or_else(|| ApiError::bad_request("the body of the request was not a JSON object"))?;
    map.insert("kind".into(), json!(scope.resource.kind));
    map.insert("apiVersion".into(), json!(scope.resource.api_version()));
    let metadata = map.entry("metadata").or_insert_with(|| json!({}));
    if let Some(metadata) = metadata.as_object_mut() {
        metadata.insert("creationTimestamp".into(), Value::Null);
    }
    map.insert("status".into(), status);
    Ok(object)
}

fn invalid(scope: &Scope<'_>, object: &Value, error: FieldError) -> ApiError {
    ApiError::invalid(&scope.resource.group, &scope.resource.kind, meta_str(object, "name"), vec![error])
}

/// `status` of an access review: whether `user` may do what the spec describes.
async fn access_status(instance: &crate::instance::Instance, user: &UserInfo, spec: &Value) -> Value {
    let attributes = match (spec.get("resourceAttributes"), spec.get("nonResourceAttributes")) {
        (Some(resource), _) => {
            let field = |name: &str| resource[name].as_str().unwrap_or_default().to_string();
            Attributes {
                verb: field("verb"),
                is_resource_request: true,
                namespace: field("namespace"),
                api_group: field("group"),
                api_version: field("version"),
                resource: field("resource"),
                subresource: field("subresource"),
                name: field("name"),
                path: String::new(),
            }
        }
        (None, Some(non_resource)) => Attributes {
            verb: non_resource["verb"].as_str().unwrap_or_default().to_string(),
            path: non_resource["path"].as_str().unwrap_or_default().to_string(),
            ..Attributes::default()
        },
        (None, None) => {
            return json!({"allowed": false, "evaluationError": "no resourceAttributes or nonResourceAttributes"});
        }
    };
    match super::authorize::decide(instance, user, &attributes).await {
        Ok(Decision::Allow) => json!({"allowed": true}),
        Ok(Decision::Deny(reason)) => json!({"allowed": false, "denied": true, "reason": reason}),
        Ok(Decision::NoOpinion(reason)) if reason.is_empty() => json!({"allowed": false}),
        Ok(Decision::NoOpinion(reason)) => json!({"allowed": false, "reason": reason}),
        Err(error) => json!({"allowed": false, "evaluationError": error}),
    }
}

/// The smallest `expirationSeconds` a TokenRequest may ask for, and the default.
const MIN_EXPIRATION: i64 = 600;
const DEFAULT_EXPIRATION: i64 = 3600;

/// `POST serviceaccounts/<name>/token`: a bound token for the ServiceAccount.
pub fn token_request(scope: &Scope<'_>, name: &str, mut request: Value) -> ApiResult<Value> {
    let instance = scope.instance;
    let account = scope.view(&scope.get(name)?);
    let namespace = scope.namespace.unwrap_or_default();
    let signer = instance.auth.signer.get().ok_or_else(|| ApiError::internal("no service account signing key"))?;
    let spec = request.get("spec").cloned().unwrap_or_else(|| json!({}));
    let expiration = spec["expirationSeconds"].as_i64().unwrap_or(DEFAULT_EXPIRATION);
    if expiration < MIN_EXPIRATION {
        let error = FieldError::invalid(
            "spec.expirationSeconds",
            json!(expiration),
            "may not specify a duration less than 10 minutes",
        );
        return Err(ApiError::invalid("authentication.k8s.io", "TokenRequest", name, vec![error]));
    }
    let audiences: Vec<String> = match spec["audiences"].as_array().filter(|a| !a.is_empty()) {
        Some(list) => list.iter().filter_map(Value::as_str).map(String::from).collect(),
        None => signer.audiences.clone(),
    };
    let bound = match spec.get("boundObjectRef").filter(|r| r.is_object()) {
        Some(reference) => Some(bound_object(scope, namespace, reference)?),
        None => None,
    };
    let now = instance.clock.unix_seconds();
    let claims = super::tokens::bound_claims(
        &signer.issuer,
        &audiences,
        namespace,
        (name, meta_str(&account, "uid")),
        bound.as_ref(),
        now,
        expiration,
        &instance.ids.uuid(),
    );
    let token = signer.sign(&claims);
    let map = request
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the body of the request was not a JSON object"))?;
    map.insert("kind".into(), json!("TokenRequest"));
    map.insert("apiVersion".into(), json!("authentication.k8s.io/v1"));
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(name));
    metadata.insert("namespace".into(), json!(namespace));
    metadata.insert("creationTimestamp".into(), Value::Null);
    map.insert("metadata".into(), Value::Object(metadata));
    let mut spec = spec;
    spec["audiences"] = json!(audiences);
    spec["expirationSeconds"] = json!(expiration);
    if spec.get("boundObjectRef").is_none() {
        spec["boundObjectRef"] = Value::Null;
    }
    map.insert("spec".into(), spec);
    let expires = crate::timestamp::format_rfc3339(now + expiration);
    map.insert("status".into(), json!({"token": token, "expirationTimestamp": expires}));
    Ok(request)
}

/// The Pod or Secret a token is to be bound to, which must exist (and match a given uid).
fn bound_object(scope: &Scope<'_>, namespace: &str, reference: &Value) -> ApiResult<super::tokens::BoundObject> {
    let kind = reference["kind"].as_str().unwrap_or_default();
    let name = reference["name"].as_str().unwrap_or_default();
    let plural = match kind {
        "Pod" => "pods",
        "Secret" => "secrets",
        other => {
            let error = FieldError {
                field: "spec.boundObjectRef.kind".into(),
                kind: crate::error::FieldErrorKind::NotSupported(json!(other), vec!["Pod".into(), "Secret".into()]),
                detail: String::new(),
            };
            return Err(ApiError::invalid("authentication.k8s.io", "TokenRequest", "", vec![error]));
        }
    };
    let resource = scope.instance.resource("", "v1", plural).expect("core resources are always served");
    let target = Scope { instance: scope.instance, resource, namespace: Some(namespace) };
    let object = target.view(&target.get(name)?);
    let uid = meta_str(&object, "uid").to_string();
    if let Some(wanted) = reference["uid"].as_str().filter(|u| !u.is_empty())
        && wanted != uid
    {
        return Err(ApiError::conflict(
            target.error_resource(),
            name,
            &format!(
                "the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
        ));
    }
    Ok(super::tokens::BoundObject { kind: kind.to_string(), name: name.to_string(), uid })
}

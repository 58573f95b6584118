//! The SubjectAccessReview kubetwin POSTs to an authorization webhook, shaped as kube-apiserver
//! marshals it (authorization.k8s.io/v1, or v1beta1 where the groups field is `group`), and
//! the decision read back from its `status`: `allowed` allows, `denied` denies, anything else
//! has no opinion, each with the webhook's `reason`.

use crate::auth::{Attributes, Decision, UserInfo};
use serde_json::{Map, Value, json};

/// `--authorization-webhook-version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewVersion {
    V1,
    V1beta1,
}

impl ReviewVersion {
    pub fn parse(text: &str) -> Result<ReviewVersion, String> {
        match text {
            "v1" => Ok(ReviewVersion::V1),
            "v1beta1" => Ok(ReviewVersion::V1beta1),
            other => Err(format!("unsupported webhook version {other:?}: must be v1 or v1beta1")),
        }
    }

    fn api_version(self) -> &'static str {
        match self {
            ReviewVersion::V1 => "authorization.k8s.io/v1",
            ReviewVersion::V1beta1 => "authorization.k8s.io/v1beta1",
        }
    }

    /// The JSON name of `spec.groups`, which v1beta1 calls `group`.
    fn groups_field(self) -> &'static str {
        match self {
            ReviewVersion::V1 => "groups",
            ReviewVersion::V1beta1 => "group",
        }
    }
}

/// Inserts `value` under `key` unless it is empty, as Go's `omitempty` does.
fn put(map: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        map.insert(key.into(), json!(value));
    }
}

/// The review's `spec` for `user` doing `attributes` (also the decision cache's key).
pub fn spec(version: ReviewVersion, user: &UserInfo, attributes: &Attributes) -> Value {
    let mut spec = Map::new();
    let mut target = Map::new();
    if attributes.is_resource_request {
        put(&mut target, "namespace", &attributes.namespace);
        put(&mut target, "verb", &attributes.verb);
        put(&mut target, "group", &attributes.api_group);
        put(&mut target, "version", &attributes.api_version);
        put(&mut target, "resource", &attributes.resource);
        put(&mut target, "subresource", &attributes.subresource);
        put(&mut target, "name", &attributes.name);
        spec.insert("resourceAttributes".into(), Value::Object(target));
    } else {
        put(&mut target, "path", &attributes.path);
        put(&mut target, "verb", &attributes.verb);
        spec.insert("nonResourceAttributes".into(), Value::Object(target));
    }
    put(&mut spec, "user", &user.name);
    if !user.groups.is_empty() {
        spec.insert(version.groups_field().into(), json!(user.groups));
    }
    if !user.extra.is_empty() {
        spec.insert("extra".into(), json!(user.extra));
    }
    put(&mut spec, "uid", &user.uid);
    Value::Object(spec)
}

/// The whole SubjectAccessReview around `spec`.
pub fn request_body(version: ReviewVersion, spec: &Value) -> Vec<u8> {
    let review = json!({
        "kind": "SubjectAccessReview",
        "apiVersion": version.api_version(),
        "metadata": {"creationTimestamp": null},
        "spec": spec,
        "status": {"allowed": false},
    });
    serde_json::to_vec(&review).expect("JSON values always serialize")
}

/// The webhook's decision, from the SubjectAccessReview it answered with.
pub fn decision(response: &[u8]) -> Result<Decision, String> {
    let review: Value = serde_json::from_slice(response)
        .map_err(|e| format!("the webhook's answer is not a SubjectAccessReview: {e}"))?;
    let status = review.get("status").filter(|s| s.is_object()).ok_or("the webhook's answer has no status")?;
    let reason = status["reason"].as_str().unwrap_or_default().to_string();
    Ok(if status["allowed"] == true {
        Decision::Allow
    } else if status["denied"] == true {
        Decision::Deny(reason)
    } else {
        Decision::NoOpinion(reason)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> UserInfo {
        let mut extra = std::collections::BTreeMap::new();
        extra.insert("scopes".to_string(), vec!["a".to_string()]);
        UserInfo { name: "alice".into(), uid: "u-1".into(), groups: vec!["dev".into()], extra }
    }

    #[test]
    fn reviews_are_shaped_as_kube_apiserver_sends_them() {
        let attributes = Attributes {
            verb: "get".into(),
            is_resource_request: true,
            namespace: "default".into(),
            api_version: "v1".into(),
            resource: "configmaps".into(),
            name: "x".into(),
            ..Attributes::default()
        };
        let body = request_body(ReviewVersion::V1, &spec(ReviewVersion::V1, &alice(), &attributes));
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"kind":"SubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"resourceAttributes":{"namespace":"default","verb":"get","version":"v1","resource":"configmaps","name":"x"},"user":"alice","groups":["dev"],"extra":{"scopes":["a"]},"uid":"u-1"},"status":{"allowed":false}}"#
        );
        let path = Attributes { verb: "get".into(), path: "/healthz".into(), ..Attributes::default() };
        let beta = spec(ReviewVersion::V1beta1, &alice(), &path);
        assert_eq!(beta["nonResourceAttributes"], json!({"path": "/healthz", "verb": "get"}));
        assert_eq!(beta["group"], json!(["dev"]), "v1beta1 names the groups `group`");
        assert!(String::from_utf8(request_body(ReviewVersion::V1beta1, &beta)).unwrap().contains("/v1beta1\""));
    }

    #[test]
    fn answers_allow_deny_or_pass() {
        let answer = |status: Value| decision(json!({"status": status}).to_string().as_bytes());
        assert_eq!(answer(json!({"allowed": true})), Ok(Decision::Allow));
        assert_eq!(answer(json!({"allowed": false, "denied": true, "reason": "no"})), Ok(Decision::Deny("no".into())));
        assert_eq!(answer(json!({"allowed": false, "reason": "ask rbac"})), Ok(Decision::NoOpinion("ask rbac".into())));
        assert!(decision(b"<html>").unwrap_err().contains("not a SubjectAccessReview"));
        assert!(decision(b"{}").unwrap_err().contains("no status"));
        assert_eq!(ReviewVersion::parse("v1beta1"), Ok(ReviewVersion::V1beta1));
        assert!(ReviewVersion::parse("v2").is_err());
    }
}

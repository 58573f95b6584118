//! Bootstrap tokens (`--enable-bootstrap-token-auth`), as kube-apiserver's bootstrap token
//! authenticator reads them: the bearer token `<id>.<secret>` (6 and 16 characters of `[a-z0-9]`)
//! names the Secret `bootstrap-token-<id>` in kube-system, of type
//! `bootstrap.kubernetes.io/token`, whose `token-id` and `token-secret` must match, whose
//! `usage-bootstrap-authentication` must be `"true"`, whose optional `expiration` (RFC 3339)
//! must not have passed, and which must not be being deleted. Such a token is the user
//! `system:bootstrap:<id>` in `system:bootstrappers` plus the Secret's `auth-extra-groups`
//! (each of which must be a `system:bootstrappers:*` name, or the token is refused). The Secret
//! is read on every use, so editing or deleting it takes effect at once.

use super::UserInfo;
use crate::instance::Instance;
use crate::registry::Scope;
use base64::Engine;
use serde_json::Value;

/// The namespace bootstrap token Secrets live in.
pub const NAMESPACE: &str = "kube-system";
/// The Secret type that marks one.
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// Every bootstrap token's group.
pub const DEFAULT_GROUP: &str = "system:bootstrappers";
const SECRET_NAME_PREFIX: &str = "bootstrap-token-";
const USER_PREFIX: &str = "system:bootstrap:";
const ID_LENGTH: usize = 6;
const SECRET_LENGTH: usize = 16;

/// Splits `<id>.<secret>` when it has a bootstrap token's shape.
fn parse_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    let well_formed = |part: &str, length: usize| {
        part.len() == length && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    (well_formed(id, ID_LENGTH) && well_formed(secret, SECRET_LENGTH)).then_some((id, secret))
}

/// Whether `group` may be granted through `auth-extra-groups`:
/// `system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]`.
fn is_extra_group(group: &str) -> bool {
    let Some(rest) = group.strip_prefix(DEFAULT_GROUP).and_then(|r| r.strip_prefix(':')) else { return false };
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match rest.as_bytes().split_last() {
        Some((last, body)) => {
            allowed(*last) && body.len() <= 255 && body.iter().all(|b| allowed(*b) || *b == b':' || *b == b'-')
        }
        None => false,
    }
}

/// Compares secrets in time that does not depend on where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One `data` value of a Secret, decoded.
fn data_value(secret: &Value, key: &str) -> Option<String> {
    let encoded = secret["data"][key].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    String::from_utf8(bytes).ok()
}

/// Why a Secret does not authenticate its token, for the debug log (never the secret itself).
fn refusal(secret: &Value, id: &str, token_secret: &str, now: i64) -> Option<&'static str> {
    if secret.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
        return Some("is being deleted");
    }
    if secret["type"] != SECRET_TYPE || !secret["data"].is_object() {
        return Some("has the wrong type");
    }
    if !same_secret(data_value(secret, "token-secret").unwrap_or_default().as_bytes(), token_secret.as_bytes()) {
        return Some("has another token-secret");
    }
    if data_value(secret, "token-id").as_deref() != Some(id) {
        return Some("has another token-id");
    }
    if let Some(expiration) = data_value(secret, "expiration") {
        // An unreadable expiration counts as expired, as in kube-apiserver.
        if crate::timestamp::parse_rfc3339(&expiration).is_none_or(|at| now > at) {
            return Some("has expired");
        }
    }
    if data_value(secret, "usage-bootstrap-authentication").as_deref() != Some("true") {
        return Some("is not marked usage-bootstrap-authentication=true");
    }
    None
}

/// The groups a valid token's Secret grants, sorted; `None` when an extra group is not allowed.
fn groups(secret: &Value) -> Option<Vec<String>> {
    let mut groups = vec![DEFAULT_GROUP.to_string()];
    let extra = data_value(secret, "auth-extra-groups").unwrap_or_default();
    for group in extra.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        if !is_extra_group(group) {
            return None;
        }
        groups.push(group.to_string());
    }
    groups.sort();
    groups.dedup();
    Some(groups)
}

/// The identity `token` stands for, if it is a valid bootstrap token (without
/// `system:authenticated`, which the caller adds).
pub fn authenticate(instance: &Instance, token: &str) -> Option<UserInfo> {
    let (id, token_secret) = parse_token(token)?;
    let resource = instance.resource("", "v1", "secrets")?;
    let scope = Scope { instance, resource, namespace: Some(NAMESPACE) };
    let name = format!("{SECRET_NAME_PREFIX}{id}");
    let Ok(stored) = scope.get(&name) else {
        tracing::debug!(secret = %name, "no secret matches the bootstrap token");
        return None;
    };
    let secret = scope.view(&stored);
    if let Some(why) = refusal(&secret, id, token_secret, instance.clock.unix_seconds()) {
        tracing::debug!(secret = %name, "bootstrap token refused: the secret {why}");
        return None;
    }
    let Some(groups) = groups(&secret) else {
        tracing::debug!(secret = %name, "bootstrap token refused: auth-extra-groups names a group outside system:bootstrappers:*");
        return None;
    };
    Some(UserInfo { name: format!("{USER_PREFIX}{id}"), groups, ..UserInfo::default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(data: &[(&str, &str)]) -> Value {
        let encode = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
        let data: serde_json::Map<String, Value> =
            data.iter().map(|(k, v)| (k.to_string(), json!(encode(v)))).collect();
        json!({"type": SECRET_TYPE, "metadata": {"name": "bootstrap-token-abcdef"}, "data": data})
    }

    const VALID: &[(&str, &str)] =
        &[("token-id", "abcdef"), ("token-secret", "0123456789abcdef"), ("usage-bootstrap-authentication", "true")];

    #[test]
    fn tokens_have_the_bootstrap_shape() {
        assert_eq!(parse_token("abcdef.0123456789abcdef"), Some(("abcdef", "0123456789abcdef")));
        for bad in ["abcdef.0123456789abcde", "ABCDEF.0123456789abcdef", "abcdef0123456789abcdef", "a.b.c", ""] {
            assert_eq!(parse_token(bad), None, "{bad}");
        }
    }

    #[test]
    fn secrets_authenticate_only_when_every_rule_holds() {
        let now = 1_700_000_000;
        assert_eq!(refusal(&secret(VALID), "abcdef", "0123456789abcdef", now), None);
        assert_eq!(refusal(&secret(VALID), "abcdef", "fedcba9876543210", now), Some("has another token-secret"));
        let mut wrong_type = secret(VALID);
        wrong_type["type"] = json!("Opaque");
        assert_eq!(refusal(&wrong_type, "abcdef", "0123456789abcdef", now), Some("has the wrong type"));
        let mut deleting = secret(VALID);
        deleting["metadata"]["deletionTimestamp"] = json!("2023-01-01T00:00:00Z");
        assert_eq!(refusal(&deleting, "abcdef", "0123456789abcdef", now), Some("is being deleted"));
        let unused = secret(&VALID[..2]);
        assert!(refusal(&unused, "abcdef", "0123456789abcdef", now).unwrap().contains("usage-bootstrap"));
        for (expiration, expired) in [("2023-11-14T22:13:19Z", true), ("2023-11-14T22:13:21Z", false), ("soon", true)] {
            let dated = secret(&[VALID, &[("expiration", expiration)]].concat());
            let refused = refusal(&dated, "abcdef", "0123456789abcdef", now);
            assert_eq!(refused == Some("has expired"), expired, "{expiration}");
        }
    }

    #[test]
    fn extra_groups_must_be_bootstrappers() {
        let with = |groups: &str| secret(&[VALID, &[("auth-extra-groups", groups)]].concat());
        assert_eq!(groups(&secret(VALID)).unwrap(), [DEFAULT_GROUP]);
        assert_eq!(
            groups(&with("system:bootstrappers:kubeadm:default-node-token, system:bootstrappers:a")).unwrap(),
            ["system:bootstrappers", "system:bootstrappers:a", "system:bootstrappers:kubeadm:default-node-token"]
        );
        assert_eq!(groups(&with("system:masters")), None);
        assert_eq!(groups(&with("system:bootstrappers:")), None);
        assert_eq!(groups(&with("system:bootstrappers:trailing-")), None);
    }

    #[test]
    fn a_secret_in_kube_system_authenticates_its_token_when_enabled() {
        use crate::auth::authenticate::{AUTHENTICATED, authenticate_token};
        use crate::registry::rest::{DeleteOptions, WriteOptions};
        let mut config = crate::instance::InstanceConfig::default();
        config.auth.bootstrap_tokens = true;
        let instance = Instance::with_defaults(config);
        let scope = |plural: &str, namespace| Scope {
            instance: &instance,
            resource: instance.resource("", "v1", plural).unwrap(),
            namespace,
        };
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
        scope("namespaces", None).create(namespace, &WriteOptions::default()).unwrap();
        let mut secret = secret(&[VALID, &[("auth-extra-groups", "system:bootstrappers:worker")]].concat());
        secret["apiVersion"] = json!("v1");
        secret["kind"] = json!("Secret");
        let secrets = scope("secrets", Some(NAMESPACE));
        secrets.create(secret, &WriteOptions::default()).unwrap();

        let user = authenticate_token(&instance, "abcdef.0123456789abcdef", None).unwrap();
        assert_eq!(user.name, "system:bootstrap:abcdef");
        assert_eq!(user.groups, [DEFAULT_GROUP, "system:bootstrappers:worker", AUTHENTICATED]);
        assert_eq!(authenticate_token(&instance, "abcdef.0000000000000000", None), None);
        assert_eq!(authenticate_token(&instance, "zzzzzz.0123456789abcdef", None), None, "no such secret");
        secrets.delete("bootstrap-token-abcdef", &DeleteOptions::default()).unwrap();
        assert_eq!(authenticate_token(&instance, "abcdef.0123456789abcdef", None), None, "deleted");

        let disabled = Instance::with_defaults(crate::instance::InstanceConfig::default());
        assert_eq!(authenticate_token(&disabled, "abcdef.0123456789abcdef", None), None);
    }
}

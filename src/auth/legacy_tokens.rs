//! Legacy ServiceAccount tokens: the long-lived JWTs the [tokens
//! controller](crate::controllers::service_account_tokens) writes into
//! `kubernetes.io/service-account-token` Secrets (issuer `kubernetes/serviceaccount`, no
//! audience, no expiry), validated as kube-apiserver's legacy validator does it
//! (`pkg/serviceaccount/legacy.go`, Kubernetes 1.36). The claims must be complete and agree with
//! `sub`; the token must be good for the requested audiences (it stands for the API audiences);
//! the Secret must exist, not be terminating, hold this very token and not carry the
//! `kubernetes.io/legacy-token-invalid-since` label; the ServiceAccount must exist, not be
//! terminating, with the uid the token names. A token that validates (or is refused only for the
//! invalid-since label) stamps its Secret's `kubernetes.io/legacy-token-last-used` label with the
//! day's UTC date, at most once a day, as `kube-apiserver`.

use super::authenticate::{VerifiedServiceAccount, service_account_identity};
use super::token_cache::LiveObject;
use crate::error::{ApiError, ApiResult, Reason};
use crate::instance::Instance;
use crate::registry::Scope;
use crate::registry::rest::WriteOptions;
use crate::registry::strategy::{meta_str, metadata_mut};
use base64::Engine;
use serde_json::{Value, json};

/// The label kube-apiserver dates a legacy token Secret with when its token is used.
pub const LAST_USED_LABEL: &str = "kubernetes.io/legacy-token-last-used";
/// The label that marks a legacy token Secret's token as no longer accepted.
pub const INVALID_SINCE_LABEL: &str = "kubernetes.io/legacy-token-invalid-since";
/// The field manager of the last-used label's patch (kube-apiserver's loopback client).
const MANAGER: &str = "kube-apiserver";

/// A core/v1 `plural` endpoint in `namespace`.
fn scope<'a>(instance: &'a Instance, plural: &str, namespace: &'a str) -> Scope<'a> {
    let resource = instance.resource("", "v1", plural).expect("core resources are always served");
    Scope { instance, resource, namespace: Some(namespace) }
}

/// An object as it stands, and what the token cache remembers of it.
fn read(scope: &Scope<'_>, name: &str) -> Option<(Value, LiveObject)> {
    let stored = scope.get(name).ok()?;
    let object = scope.view(&stored);
    let uid = meta_str(&object, "uid").to_string();
    let live = LiveObject { key: scope.resource.key(scope.namespace, name), revision: stored.revision, uid };
    Some((object, live))
}

/// Whether `a` and `b` are equal, in time independent of where they differ (Go's
/// `subtle.ConstantTimeCompare`).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |differs, (x, y)| differs | (x ^ y)) == 0
}

fn claim<'a>(claims: &'a Value, name: &str, what: &str) -> Result<&'a str, String> {
    claims[name].as_str().filter(|value| !value.is_empty()).ok_or_else(|| format!("{what} claim is missing"))
}

/// Validates a legacy token whose signature held (`claims`, issuer already
/// [`LEGACY_ISSUER`](super::tokens::LEGACY_ISSUER)) for `requested` audiences, given the
/// server's API audiences; the error is the one kube-apiserver's authenticator gives.
pub(super) fn validate(
    instance: &Instance,
    token: &str,
    claims: &Value,
    requested: &[String],
    api_audiences: &[String],
) -> Result<VerifiedServiceAccount, String> {
    // A token without `aud` is good for the API audiences only (jwtTokenAuthenticator).
    if !requested.iter().any(|audience| api_audiences.contains(audience)) {
        return Err(format!("token audiences {api_audiences:?} is invalid for the target audiences {requested:?}"));
    }
    let subject = claim(claims, "sub", "sub")?;
    let namespace = claim(claims, "kubernetes.io/serviceaccount/namespace", "namespace")?;
    let secret_name = claim(claims, "kubernetes.io/serviceaccount/secret.name", "secretName")?;
    let name = claim(claims, "kubernetes.io/serviceaccount/service-account.name", "serviceAccountName")?;
    let uid = claim(claims, "kubernetes.io/serviceaccount/service-account.uid", "serviceAccountUID")?;
    if subject != format!("system:serviceaccount:{namespace}:{name}") {
        return Err("sub claim is invalid".into());
    }

    let secrets = scope(instance, "secrets", namespace);
    let (secret, mut secret_live) = read(&secrets, secret_name).ok_or("Token has been invalidated")?;
    if !meta_str(&secret, "deletionTimestamp").is_empty() {
        return Err("Token has been invalidated".into());
    }
    let stored_token = secret["data"]["token"]
        .as_str()
        .and_then(|data| base64::engine::general_purpose::STANDARD.decode(data).ok())
        .unwrap_or_default();
    if !same_bytes(&stored_token, token.as_bytes()) {
        return Err("Token does not match server's copy".into());
    }

    let accounts = scope(instance, "serviceaccounts", namespace);
    let (account, account_live) = read(&accounts, name).ok_or(format!("serviceaccounts \"{name}\" not found"))?;
    if !meta_str(&account, "deletionTimestamp").is_empty() {
        return Err(format!("ServiceAccount {namespace}/{name} has been deleted"));
    }
    if account_live.uid != uid {
        return Err(format!("ServiceAccount UID ({}) does not match claim ({uid})", account_live.uid));
    }

    let invalid = secret["metadata"]["labels"][INVALID_SINCE_LABEL].as_str().is_some_and(|since| !since.is_empty());
    if let Some(revision) = stamp_last_used(instance, &secrets, &secret) {
        secret_live.revision = revision;
    }
    if invalid {
        return Err(format!(
            "the token in secret {namespace}/{secret_name} for service account {namespace}/{name} has been marked \
             invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the \
             '{INVALID_SINCE_LABEL}' label from the secret to temporarily allow use of this token"
        ));
    }
    let user = service_account_identity(namespace, name, uid, Default::default());
    Ok(VerifiedServiceAccount { user, expires: i64::MAX, depends_on: vec![account_live, secret_live] })
}

/// Labels `secret` with today's UTC date unless it already carries today's or tomorrow's;
/// the Secret's new revision when it was written. A failed write is only logged, as
/// kube-apiserver does.
fn stamp_last_used(instance: &Instance, secrets: &Scope<'_>, secret: &Value) -> Option<i64> {
    let now = instance.clock.unix_seconds();
    let day = |seconds: i64| crate::timestamp::format_rfc3339(seconds)[..10].to_string();
    let today = day(now);
    let last_used = secret["metadata"]["labels"][LAST_USED_LABEL].as_str().unwrap_or_default();
    if last_used == today || last_used == day(now + 86_400) {
        return None;
    }
    let name = meta_str(secret, "name");
    let uid = meta_str(secret, "uid");
    let options = WriteOptions { field_manager: MANAGER.into(), ..WriteOptions::default() };
    // A merge patch naming the Secret's uid: it applies to this Secret only.
    let written = secrets.guaranteed_update(name, "", &options, None, |current: &Value| -> ApiResult<Value> {
        if meta_str(current, "uid") != uid {
            return Err(ApiError::new(
                Reason::Conflict,
                format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(current, "uid")
                ),
            ));
        }
        let mut patched = current.clone();
        let labels = metadata_mut(&mut patched).entry("labels").or_insert_with(|| json!({}));
        labels[LAST_USED_LABEL] = json!(today);
        Ok(patched)
    });
    match written {
        Ok(result) => Some(result.object.revision),
        Err(error) => {
            tracing::warn!(secret = name, namespace = ?secrets.namespace, %error, "failed to label a legacy ServiceAccount token Secret with its last-used date");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authenticate::authenticate_token;
    use crate::auth::tokens::{DEFAULT_ISSUER, legacy_claims};
    use crate::clock::FixedClock;
    use crate::registry::rest::DeleteOptions;
    use std::sync::Arc;
    use std::time::Duration;

    struct Fixture {
        instance: Instance,
        clock: Arc<FixedClock>,
        token: String,
    }

    /// An instance with a signing key, the ServiceAccount `default/robot` and the token Secret
    /// `default/robot-token` holding a legacy token for it.
    fn fixture() -> Fixture {
        let (instance, clock, signer, uid) = crate::auth::test_support::instance_with_robot();
        let token = signer.sign(&legacy_claims("default", ("robot", &uid), "robot-token"));
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": "robot-token", "annotations": {"kubernetes.io/service-account.name": "robot"}},
            "data": {"token": base64::engine::general_purpose::STANDARD.encode(&token)},
        });
        secrets(&instance).create(secret, &WriteOptions::default()).unwrap();
        Fixture { instance, clock, token }
    }

    fn secrets(instance: &Instance) -> Scope<'_> {
        scope(instance, "secrets", "default")
    }

    fn label(instance: &Instance, key: &str) -> Option<String> {
        let secret = secrets(instance).view(&secrets(instance).get("robot-token").unwrap());
        secret["metadata"]["labels"][key].as_str().map(String::from)
    }

    fn validated(fixture: &Fixture) -> Result<VerifiedServiceAccount, String> {
        let claims = fixture.instance.auth.signer.get().unwrap().verify(&fixture.token).unwrap();
        let audiences = [DEFAULT_ISSUER.to_string()];
        validate(&fixture.instance, &fixture.token, &claims, &audiences, &audiences)
    }

    #[test]
    fn a_legacy_token_authenticates_as_its_service_account_and_dates_its_secret() {
        let fixture = fixture();
        let user = authenticate_token(&fixture.instance, &fixture.token, None).unwrap();
        assert_eq!(user.name, "system:serviceaccount:default:robot");
        assert_eq!(user.groups, ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]);
        assert!(user.extra.is_empty(), "legacy tokens carry no credential id");
        assert_eq!(label(&fixture.instance, LAST_USED_LABEL).as_deref(), Some("2023-11-14"));
        let revision = secrets(&fixture.instance).get("robot-token").unwrap().revision;
        assert_eq!(authenticate_token(&fixture.instance, &fixture.token, None), Some(user.clone()), "a cache hit");
        fixture.clock.advance(Duration::from_secs(3600));
        assert!(validated(&fixture).is_ok());
        assert_eq!(secrets(&fixture.instance).get("robot-token").unwrap().revision, revision, "once a day at most");
        fixture.clock.advance(Duration::from_secs(86_400));
        assert!(validated(&fixture).is_ok());
        assert_eq!(label(&fixture.instance, LAST_USED_LABEL).as_deref(), Some("2023-11-15"));
        let other = [String::from("vault")];
        let claims = fixture.instance.auth.signer.get().unwrap().verify(&fixture.token).unwrap();
        let refused = validate(&fixture.instance, &fixture.token, &claims, &other, &[DEFAULT_ISSUER.into()]);
        assert!(refused.err().unwrap().contains("is invalid for the target audiences"));
    }

    #[test]
    fn deleting_the_secret_ends_the_token_even_when_cached() {
        let fixture = fixture();
        assert!(authenticate_token(&fixture.instance, &fixture.token, None).is_some());
        assert_eq!(fixture.instance.auth.token_cache.len(), 1);
        secrets(&fixture.instance).delete("robot-token", &DeleteOptions::default()).unwrap();
        assert_eq!(authenticate_token(&fixture.instance, &fixture.token, None), None);
        assert_eq!(validated(&fixture).err().as_deref(), Some("Token has been invalidated"));
    }

    #[test]
    fn a_secret_holding_another_token_or_a_replaced_account_refuse_it() {
        let fixture = fixture();
        let secrets = secrets(&fixture.instance);
        let mut secret = secrets.view(&secrets.get("robot-token").unwrap());
        secret["data"]["token"] = json!(base64::engine::general_purpose::STANDARD.encode("other"));
        secrets.update("robot-token", secret, "", &WriteOptions::default()).unwrap();
        assert_eq!(validated(&fixture).err().as_deref(), Some("Token does not match server's copy"));
        assert_eq!(authenticate_token(&fixture.instance, &fixture.token, None), None);

        let fixture = self::fixture();
        let accounts = scope(&fixture.instance, "serviceaccounts", "default");
        accounts.delete("robot", &DeleteOptions::default()).unwrap();
        assert_eq!(validated(&fixture).err().as_deref(), Some("serviceaccounts \"robot\" not found"));
        let again = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}});
        accounts.create(again, &WriteOptions::default()).unwrap();
        assert!(validated(&fixture).err().unwrap().starts_with("ServiceAccount UID ("), "another uid");
        assert_eq!(authenticate_token(&fixture.instance, &fixture.token, None), None);
    }

    #[test]
    fn an_invalidated_secret_refuses_its_token_but_records_the_use() {
        let fixture = fixture();
        let secrets = secrets(&fixture.instance);
        let mut secret = secrets.view(&secrets.get("robot-token").unwrap());
        secret["metadata"]["labels"] = json!({INVALID_SINCE_LABEL: "2023-01-01"});
        secrets.update("robot-token", secret, "", &WriteOptions::default()).unwrap();
        let error = validated(&fixture).err().unwrap();
        assert!(
            error.starts_with(
                "the token in secret default/robot-token for service account default/robot has been marked invalid."
            ),
            "{error}"
        );
        assert_eq!(label(&fixture.instance, LAST_USED_LABEL).as_deref(), Some("2023-11-14"));
        assert_eq!(authenticate_token(&fixture.instance, &fixture.token, None), None);
    }
}

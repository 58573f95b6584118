//! The ServiceAccount tokens controller, as kube-controller-manager's
//! `serviceaccount-token-controller` runs it (`pkg/controller/serviceaccount/tokens_controller.go`,
//! Kubernetes 1.36, which no longer creates token Secrets itself). A Secret of type
//! `kubernetes.io/service-account-token` whose `kubernetes.io/service-account.name` annotation
//! names an existing ServiceAccount (of the uid in `kubernetes.io/service-account.uid`, when set)
//! gets what it lacks of a [legacy token](crate::auth::legacy_tokens), the cluster CA (rewritten
//! if it differs) and its namespace, with both annotations set, in one update (PUT at the
//! Secret's resourceVersion) under the field manager `kube-controller-manager`; a complete Secret
//! is never written. A token Secret whose ServiceAccount is missing or has another uid is
//! deleted (with the Secret's uid as precondition), as are a deleted ServiceAccount's token
//! Secrets; a deleted token Secret is dropped from its ServiceAccount's `secrets` list. Without a
//! signing key the controller does nothing, as kube-controller-manager does not start it.

use super::{Controller, Object};
use crate::auth::tokens::{TokenSigner, legacy_claims};
use crate::error::Reason;
use crate::instance::Instance;
use crate::registry::Scope;
use crate::registry::rest::{DeleteOptions, WriteOptions};
use crate::registry::strategy::meta_str;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The Secret type the controller fills.
pub const TOKEN_SECRET_TYPE: &str = "kubernetes.io/service-account-token";
/// The annotation naming a token Secret's ServiceAccount.
pub const NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
/// The annotation holding a token Secret's ServiceAccount uid.
pub const UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";
const MANAGER: &str = "kube-controller-manager";

/// (namespace, name).
type Key = (String, String);

/// What a token Secret said when last seen.
#[derive(Debug, Clone)]
struct TokenSecret {
    uid: String,
    account: String,
    /// Empty when the Secret has no uid annotation.
    account_uid: String,
}

/// Token Secrets by namespace and name, and the work the last events made due.
#[derive(Debug, Default)]
pub struct ServiceAccountTokenController {
    tokens: BTreeMap<Key, TokenSecret>,
    /// Secrets written since the last reconcile.
    due: BTreeSet<Key>,
    /// ServiceAccounts deleted since: (namespace, name, uid).
    deleted_accounts: Vec<(String, String, String)>,
    /// Token Secrets deleted since.
    deleted_tokens: Vec<(Key, TokenSecret)>,
}

fn is_core(object: &Object, plural: &str) -> bool {
    object.resource.group.is_empty() && object.resource.plural == plural
}

fn scope<'a>(instance: &'a Instance, plural: &str, namespace: &'a str) -> Scope<'a> {
    let resource = instance.resource("", "v1", plural).expect("core resources are always served");
    Scope { instance, resource, namespace: Some(namespace) }
}

fn options() -> WriteOptions {
    WriteOptions { field_manager: MANAGER.into(), ..WriteOptions::default() }
}

/// Conflicts and vanished objects mean a later event brings the work back (or ends it).
fn log_failure(action: &str, namespace: &str, name: &str, error: &crate::error::ApiError) {
    if !matches!(error.reason, Reason::Conflict | Reason::NotFound) {
        tracing::warn!(namespace, name, %error, "tokens controller: {action} failed");
    }
}

impl Controller for ServiceAccountTokenController {
    fn reset(&mut self) {
        *self = ServiceAccountTokenController::default();
    }

    fn observe(&mut self, _instance: &Instance, object: &Object) {
        if let (true, Some(namespace)) = (is_core(object, "secrets"), &object.namespace) {
            self.due.insert((namespace.clone(), object.name.clone()));
        }
    }

    fn forget(&mut self, _instance: &Instance, object: &Object) {
        let Some(namespace) = &object.namespace else { return };
        if is_core(object, "secrets") {
            let key = (namespace.clone(), object.name.clone());
            self.due.remove(&key);
            if let Some(token) = self.tokens.remove(&key) {
                self.deleted_tokens.push((key, token));
            }
        } else if is_core(object, "serviceaccounts") {
            self.deleted_accounts.push((namespace.clone(), object.name.clone(), object.uid.clone()));
        }
    }

    fn reconcile(&mut self, instance: &Instance) {
        let Some(signer) = instance.auth.signer.get() else {
            self.due.clear();
            return;
        };
        while let Some(key) = self.due.pop_first() {
            self.sync_secret(instance, signer, key);
        }
        for (namespace, name, uid) in std::mem::take(&mut self.deleted_accounts) {
            self.delete_tokens(instance, &namespace, &name, &uid);
        }
        for ((namespace, name), token) in std::mem::take(&mut self.deleted_tokens) {
            remove_reference(instance, &namespace, &name, &token);
        }
    }
}

impl ServiceAccountTokenController {
    /// `syncSecret`: fills a token Secret whose ServiceAccount exists, deletes one whose does not.
    fn sync_secret(&mut self, instance: &Instance, signer: &TokenSigner, key: Key) {
        let secrets = scope(instance, "secrets", &key.0);
        let Ok(stored) = secrets.get(&key.1) else {
            self.tokens.remove(&key);
            return;
        };
        let secret = secrets.view(&stored);
        let annotations = &secret["metadata"]["annotations"];
        let account = annotations[NAME_ANNOTATION].as_str().unwrap_or_default();
        if secret["type"] != TOKEN_SECRET_TYPE || account.is_empty() {
            self.tokens.remove(&key);
            return;
        }
        let token = TokenSecret {
            uid: meta_str(&secret, "uid").to_string(),
            account: account.to_string(),
            account_uid: annotations[UID_ANNOTATION].as_str().unwrap_or_default().to_string(),
        };
        match live_account(instance, &key.0, &token.account, &token.account_uid) {
            Some(account) => populate(instance, signer, &secrets, secret, &account),
            None => delete_token(instance, &key.0, &key.1, &token.uid),
        }
        self.tokens.insert(key, token);
    }

    /// `deleteTokens`: the token Secrets naming a deleted ServiceAccount (and its uid, or none).
    fn delete_tokens(&self, instance: &Instance, namespace: &str, name: &str, uid: &str) {
        if live_account(instance, namespace, name, uid).is_some() {
            return;
        }
        let start = (namespace.to_string(), String::new());
        let in_namespace = self.tokens.range(start..).take_while(|((ns, _), _)| ns == namespace);
        for ((_, secret), token) in in_namespace {
            if token.account == name && (token.account_uid.is_empty() || token.account_uid == uid) {
                delete_token(instance, namespace, secret, &token.uid);
            }
        }
    }
}

/// The ServiceAccount `namespace`/`name`, if it exists (with uid `uid`, unless empty).
fn live_account(instance: &Instance, namespace: &str, name: &str, uid: &str) -> Option<Value> {
    let accounts = scope(instance, "serviceaccounts", namespace);
    let account = accounts.view(&accounts.get(name).ok()?);
    (uid.is_empty() || meta_str(&account, "uid") == uid).then_some(account)
}

/// Deletes a token Secret, provided it is still the one with `uid`.
fn delete_token(instance: &Instance, namespace: &str, name: &str, uid: &str) {
    let options = DeleteOptions { precondition_uid: Some(uid.to_string()), ..DeleteOptions::default() };
    if let Err(error) = scope(instance, "secrets", namespace).delete(name, &options) {
        log_failure("deleting a token Secret", namespace, name, &error);
    }
}

/// `generateTokenIfNeeded`: writes the CA, namespace and token a Secret lacks (a CA that
/// differs from the cluster's counts as lacking), and the ServiceAccount annotations with them.
fn populate(instance: &Instance, signer: &TokenSigner, secrets: &Scope<'_>, mut secret: Value, account: &Value) {
    let namespace = secrets.namespace.unwrap_or_default();
    let absent = |field: &str| secret["data"][field].as_str().is_none_or(str::is_empty);
    let ca = instance.auth.ca_bundle.get().filter(|ca| !ca.is_empty());
    let stored_ca = secret["data"]["ca.crt"].as_str().and_then(|data| STANDARD.decode(data).ok());
    let needs_ca = ca.filter(|ca| stored_ca.as_deref() != Some(ca.as_bytes()));
    let (needs_namespace, needs_token) = (absent("namespace"), absent("token"));
    if needs_ca.is_none() && !needs_namespace && !needs_token {
        return;
    }
    let (account_name, account_uid) = (meta_str(account, "name"), meta_str(account, "uid"));
    let secret_name = meta_str(&secret, "name").to_string();
    if let Some(ca) = needs_ca {
        secret["data"]["ca.crt"] = json!(STANDARD.encode(ca));
    }
    if needs_namespace {
        secret["data"]["namespace"] = json!(STANDARD.encode(namespace));
    }
    if needs_token {
        let token = signer.sign(&legacy_claims(namespace, (account_name, account_uid), &secret_name));
        secret["data"]["token"] = json!(STANDARD.encode(token));
    }
    let annotations = &mut secret["metadata"]["annotations"];
    annotations[NAME_ANNOTATION] = json!(account_name);
    annotations[UID_ANNOTATION] = json!(account_uid);
    // The view carries the resourceVersion read: a Secret changed since is left to its event.
    if let Err(error) = secrets.update(&secret_name, secret, "", &options()) {
        log_failure("populating a token Secret", namespace, &secret_name, &error);
    }
}

/// `removeSecretReference`: drops a deleted token Secret from its ServiceAccount's `secrets`.
fn remove_reference(instance: &Instance, namespace: &str, secret_name: &str, token: &TokenSecret) {
    let Some(mut account) = live_account(instance, namespace, &token.account, &token.account_uid) else { return };
    let Some(references) = account["secrets"].as_array() else { return };
    if !references.iter().any(|reference| reference["name"] == secret_name) {
        return;
    }
    let kept: Vec<Value> = references.iter().filter(|reference| reference["name"] != secret_name).cloned().collect();
    let fields = account.as_object_mut().expect("a stored ServiceAccount is an object");
    if kept.is_empty() {
        fields.remove("secrets");
    } else {
        fields.insert("secrets".into(), Value::Array(kept));
    }
    if let Err(error) = scope(instance, "serviceaccounts", namespace).update(&token.account, account, "", &options()) {
        log_failure("removing a token Secret reference", namespace, &token.account, &error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authenticate::authenticate_token;
    use crate::auth::tokens::DEFAULT_ISSUER;
    use crate::clock::{FixedClock, RandomIds};
    use crate::instance::InstanceConfig;
    use crate::store::{KeyRange, RangeRequest};
    use std::sync::Arc;

    const CA: &str = "-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n";

    /// An instance with a signing key, a CA bundle and the namespace `default`.
    fn instance() -> Instance {
        let clock = Arc::new(FixedClock::at_unix_seconds(1_700_000_000));
        let instance = Instance::new(InstanceConfig::default(), clock, Arc::new(RandomIds));
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let signer = TokenSigner::from_pkcs8(&key.serialize_der(), DEFAULT_ISSUER, Vec::new()).unwrap();
        instance.auth.signer.set(signer).unwrap();
        instance.auth.ca_bundle.set(CA.into()).unwrap();
        let resource = instance.resource("", "v1", "namespaces").unwrap();
        let namespaces = Scope { instance: &instance, resource, namespace: None };
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}});
        namespaces.create(namespace, &WriteOptions::default()).unwrap();
        instance
    }

    fn create_account(instance: &Instance, name: &str) -> String {
        let account = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}});
        let created = scope(instance, "serviceaccounts", "default").create(account, &WriteOptions::default()).unwrap();
        meta_str(&created.object.to_value(), "uid").to_string()
    }

    fn create_token_secret(instance: &Instance, name: &str, annotations: Value) {
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret", "type": TOKEN_SECRET_TYPE,
            "metadata": {"name": name, "annotations": annotations},
        });
        scope(instance, "secrets", "default").create(secret, &WriteOptions::default()).unwrap();
    }

    fn secret(instance: &Instance, name: &str) -> Option<Value> {
        let secrets = scope(instance, "secrets", "default");
        secrets.get(name).ok().map(|stored| secrets.view(&stored))
    }

    fn revision(instance: &Instance) -> i64 {
        instance.store.range(RangeRequest::new(KeyRange::prefix(b"/registry/".to_vec()))).unwrap().revision
    }

    /// Feeds every stored object to the controller, as the initial listing does, and reconciles.
    fn sync(instance: &Instance, controller: &mut ServiceAccountTokenController) {
        let listing = instance.store.range(RangeRequest::new(KeyRange::prefix(b"/registry/".to_vec()))).unwrap();
        for kv in &listing.kvs {
            if let Some(object) = Object::parse(instance, &kv.value) {
                controller.observe(instance, &object);
            }
        }
        controller.reconcile(instance);
    }

    /// Deletes a core object and tells the controller, as the watch would.
    fn delete(instance: &Instance, controller: &mut ServiceAccountTokenController, plural: &str, name: &str) {
        let objects = scope(instance, plural, "default");
        let stored = objects.get(name).unwrap();
        objects.delete(name, &DeleteOptions::default()).unwrap();
        controller.forget(instance, &Object::parse(instance, &stored.bytes).unwrap());
        controller.reconcile(instance);
    }

    fn decoded(secret: &Value, field: &str) -> String {
        String::from_utf8(STANDARD.decode(secret["data"][field].as_str().unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn a_token_secret_is_filled_once_and_its_token_authenticates() {
        let instance = instance();
        let uid = create_account(&instance, "robot");
        create_token_secret(&instance, "robot-token", json!({NAME_ANNOTATION: "robot"}));
        let plain = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "plain"}, "data": {"a": "Yg=="}});
        scope(&instance, "secrets", "default").create(plain, &WriteOptions::default()).unwrap();
        let mut controller = ServiceAccountTokenController::default();
        sync(&instance, &mut controller);

        let filled = secret(&instance, "robot-token").unwrap();
        assert_eq!(decoded(&filled, "ca.crt"), CA);
        assert_eq!(decoded(&filled, "namespace"), "default");
        assert_eq!(filled["metadata"]["annotations"][UID_ANNOTATION], uid.as_str());
        let token = decoded(&filled, "token");
        let claims = instance.auth.signer.get().unwrap().verify(&token).unwrap();
        assert_eq!(claims, legacy_claims("default", ("robot", &uid), "robot-token"));
        let managers: Vec<&str> = filled["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["manager"].as_str().unwrap())
            .collect();
        assert!(managers.contains(&"kube-controller-manager"), "{managers:?}");
        let user = authenticate_token(&instance, &token, None).unwrap();
        assert_eq!(user.name, "system:serviceaccount:default:robot");

        let before = revision(&instance);
        sync(&instance, &mut controller);
        assert_eq!(revision(&instance), before, "a complete Secret is not written again");
        assert!(secret(&instance, "plain").unwrap()["data"].get("token").is_none(), "other Secrets are left alone");
    }

    #[test]
    fn only_a_differing_ca_or_missing_data_is_rewritten() {
        let instance = instance();
        create_account(&instance, "robot");
        create_token_secret(&instance, "robot-token", json!({NAME_ANNOTATION: "robot"}));
        let mut controller = ServiceAccountTokenController::default();
        sync(&instance, &mut controller);
        let token = decoded(&secret(&instance, "robot-token").unwrap(), "token");

        let secrets = scope(&instance, "secrets", "default");
        let mut changed = secret(&instance, "robot-token").unwrap();
        changed["data"]["ca.crt"] = json!(STANDARD.encode("stale"));
        secrets.update("robot-token", changed, "", &WriteOptions::default()).unwrap();
        sync(&instance, &mut controller);
        let repaired = secret(&instance, "robot-token").unwrap();
        assert_eq!(decoded(&repaired, "ca.crt"), CA);
        assert_eq!(decoded(&repaired, "token"), token, "a present token is kept");
    }

    #[test]
    fn a_secret_for_a_missing_or_replaced_account_is_deleted() {
        let instance = instance();
        create_account(&instance, "robot");
        create_token_secret(&instance, "lost-token", json!({NAME_ANNOTATION: "missing"}));
        create_token_secret(&instance, "stale-token", json!({NAME_ANNOTATION: "robot", UID_ANNOTATION: "old-uid"}));
        let mut controller = ServiceAccountTokenController::default();
        sync(&instance, &mut controller);
        assert!(secret(&instance, "lost-token").is_none());
        assert!(secret(&instance, "stale-token").is_none());
    }

    #[test]
    fn deleting_an_account_deletes_its_token_secrets_only() {
        let instance = instance();
        create_account(&instance, "robot");
        create_account(&instance, "other");
        create_token_secret(&instance, "robot-a", json!({NAME_ANNOTATION: "robot"}));
        create_token_secret(&instance, "robot-b", json!({NAME_ANNOTATION: "robot"}));
        create_token_secret(&instance, "other-token", json!({NAME_ANNOTATION: "other"}));
        let mut controller = ServiceAccountTokenController::default();
        sync(&instance, &mut controller);
        delete(&instance, &mut controller, "serviceaccounts", "robot");
        assert!(secret(&instance, "robot-a").is_none() && secret(&instance, "robot-b").is_none());
        assert!(secret(&instance, "other-token").is_some());
    }

    #[test]
    fn a_deleted_token_secret_leaves_its_accounts_references() {
        let instance = instance();
        create_account(&instance, "robot");
        let accounts = scope(&instance, "serviceaccounts", "default");
        let mut account = accounts.view(&accounts.get("robot").unwrap());
        account["secrets"] = json!([{"name": "robot-token"}]);
        accounts.update("robot", account, "", &WriteOptions::default()).unwrap();
        create_token_secret(&instance, "robot-token", json!({NAME_ANNOTATION: "robot"}));
        let mut controller = ServiceAccountTokenController::default();
        sync(&instance, &mut controller);
        delete(&instance, &mut controller, "secrets", "robot-token");
        let account = accounts.view(&accounts.get("robot").unwrap());
        assert!(account.get("secrets").is_none(), "{account}");
    }

    #[test]
    fn without_a_signing_key_nothing_is_written() {
        let instance =
            Instance::new(InstanceConfig::default(), Arc::new(FixedClock::at_unix_seconds(0)), Arc::new(RandomIds));
        let resource = instance.resource("", "v1", "namespaces").unwrap();
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}});
        Scope { instance: &instance, resource, namespace: None }.create(namespace, &WriteOptions::default()).unwrap();
        create_token_secret(&instance, "lost-token", json!({NAME_ANNOTATION: "missing"}));
        let before = revision(&instance);
        sync(&instance, &mut ServiceAccountTokenController::default());
        assert_eq!(revision(&instance), before);
    }
}

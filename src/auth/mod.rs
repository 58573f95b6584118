//! Who is asking and whether they may: the authentication chain (front-proxy request headers,
//! client certificates, bearer tokens with their cache, bootstrap tokens, anonymous), the
//! authorizers (RBAC, a webhook and friends), and the identities they share.

pub mod authenticate;
pub mod authorize;
pub mod bootstrap_policy;
pub mod bootstrap_token;
pub mod expiring_cache;
pub mod legacy_tokens;
pub mod rbac;
pub mod requestheader;
pub mod reviews;
#[cfg(test)]
pub(crate) mod test_support;
pub mod token_cache;
pub mod tokens;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard};

/// How an instance authenticates and authorizes (the kube-apiserver flags of the same names).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `--authorization-mode`, in order.
    pub authorization_modes: Vec<authorize::AuthorizationMode>,
    /// `--anonymous-auth`.
    pub anonymous: bool,
    /// `--requestheader-*`: the front-proxy CA and the headers its certificates vouch with.
    pub requestheader: Option<requestheader::RequestHeaderConfig>,
    /// `--token-auth-file`, parsed.
    pub static_tokens: Vec<authenticate::StaticToken>,
    /// `--enable-bootstrap-token-auth` (off by default, as in kube-apiserver).
    pub bootstrap_tokens: bool,
    /// `--authorization-webhook-*`: the webhook the `Webhook` authorization mode calls.
    pub webhook: Option<webhook::WebhookConfig>,
    /// `--service-account-issuer`.
    pub issuer: String,
    /// `--api-audiences` (the issuer when empty).
    pub audiences: Vec<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            authorization_modes: vec![authorize::AuthorizationMode::Rbac],
            anonymous: true,
            requestheader: None,
            static_tokens: Vec::new(),
            bootstrap_tokens: false,
            webhook: None,
            issuer: tokens::DEFAULT_ISSUER.into(),
            audiences: Vec::new(),
        }
    }
}

/// The instance's live authentication and authorization state.
#[derive(Debug, Default)]
pub struct AuthState {
    /// Signs and verifies ServiceAccount tokens; set once the PKI exists.
    pub signer: OnceLock<tokens::TokenSigner>,
    /// The cluster CA bundle, published in every namespace's `kube-root-ca.crt`.
    pub ca_bundle: OnceLock<String>,
    /// The cluster CA that signs approved CertificateSigningRequests (kube-controller-manager's
    /// `--cluster-signing-cert-file`); set once the PKI exists.
    pub cluster_signer: OnceLock<Arc<crate::pki::Pki>>,
    /// The DER subject names of the client CAs (`--client-ca-file` and the cluster CA): a
    /// verified certificate whose issuer is not among them came from the request-header CA.
    /// Unset: every client certificate is the client CA's.
    pub client_ca_subjects: OnceLock<Vec<Vec<u8>>>,
    /// ServiceAccount tokens verified recently.
    pub token_cache: token_cache::TokenCache,
    /// What the authorization webhook decided recently.
    pub webhook_decisions: webhook::WebhookDecisions,
    /// Shared with the bootstrap template until this server's RBAC objects change.
    rbac: RwLock<Arc<rbac::RbacIndex>>,
}

impl AuthState {
    /// Whether a client CA (not only the request-header CA) issued a certificate from `issuer`.
    pub fn client_ca_issued(&self, issuer: &[u8]) -> bool {
        self.client_ca_subjects.get().is_none_or(|subjects| subjects.iter().any(|s| s == issuer))
    }

    pub fn rbac(&self) -> RwLockReadGuard<'_, Arc<rbac::RbacIndex>> {
        self.rbac.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the RBAC index wholesale (a new server's, from the bootstrap template).
    pub fn install_rbac(&self, index: Arc<rbac::RbacIndex>) {
        *self.rbac.write().unwrap_or_else(|e| e.into_inner()) = index;
    }

    /// Keeps the RBAC index in step with a write to an RBAC object (`None`: it was deleted).
    pub fn observe_rbac(&self, kind: &str, namespace: Option<&str>, name: &str, object: Option<&serde_json::Value>) {
        let mut shared = self.rbac.write().unwrap_or_else(|e| e.into_inner());
        let index = Arc::make_mut(&mut shared);
        match object {
            Some(object) => index.apply(object),
            None => index.remove(kind, namespace, name),
        }
    }
}

/// An authenticated identity, as kube-apiserver's `user.Info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// What a request wants to do, as authorizers see it (kube-apiserver's `authorizer.Attributes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    /// For resource requests.
    pub is_resource_request: bool,
    pub namespace: String,
    pub api_group: String,
    pub api_version: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// For non-resource requests (`/healthz`, `/version`, `/apis`).
    pub path: String,
}

impl Attributes {
    /// A resource request: `verb` on `resource` of API `group` (`"pods/log"` names a
    /// subresource), on the object `name` (empty for a collection) in `namespace` (empty for
    /// cluster scope).
    pub fn resource(verb: &str, namespace: &str, group: &str, resource: &str, name: &str) -> Self {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        Attributes {
            verb: verb.into(),
            is_resource_request: true,
            namespace: namespace.into(),
            api_group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            name: name.into(),
            ..Attributes::default()
        }
    }
}

/// An authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Denied outright; later authorizers in the chain are not asked.
    Deny(String),
    /// This authorizer has nothing to say; ask the next one.
    NoOpinion(String),
}

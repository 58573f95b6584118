//! The Webhook authorizer (`--authorization-mode=...,Webhook`): each decision the chain asks
//! it for is a SubjectAccessReview POSTed over TLS to the server named by
//! `--authorization-webhook-config-file` ([`connection`]), shaped by
//! `--authorization-webhook-version` ([`review`]). Answers are cached by the review's spec for
//! `--authorization-webhook-cache-authorized-ttl` (allowed) or
//! `--authorization-webhook-cache-unauthorized-ttl` (anything else); a failed call is not
//! cached and is an error, which the chain turns into a 500 unless another authorizer decides,
//! so the authorizer fails closed as kube-apiserver's does.

pub mod connection;
pub mod review;

use super::expiring_cache::ExpiringCache;
use super::{Attributes, Decision, UserInfo};
use connection::WebhookConnection;
use review::ReviewVersion;
use std::path::Path;
use std::time::{Duration, Instant};

/// kube-apiserver's defaults for the two cache TTLs.
pub const DEFAULT_AUTHORIZED_TTL: Duration = Duration::from_secs(300);
pub const DEFAULT_UNAUTHORIZED_TTL: Duration = Duration::from_secs(30);
/// The most decisions remembered at once.
const CACHE_CAPACITY: usize = 8192;

/// The webhook authorizer's configuration.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub connection: WebhookConnection,
    pub version: ReviewVersion,
    pub authorized_ttl: Duration,
    pub unauthorized_ttl: Duration,
}

impl WebhookConfig {
    /// The webhook described by the kubeconfig at `path`, with kube-apiserver's defaults (v1,
    /// 5m and 30s).
    pub fn from_kubeconfig_file(path: &Path) -> Result<WebhookConfig, String> {
        Ok(WebhookConfig {
            connection: WebhookConnection::from_kubeconfig_file(path)?,
            version: ReviewVersion::V1,
            authorized_ttl: DEFAULT_AUTHORIZED_TTL,
            unauthorized_ttl: DEFAULT_UNAUTHORIZED_TTL,
        })
    }
}

/// Decisions the webhook made recently, by the JSON of the review's spec.
#[derive(Debug)]
pub struct WebhookDecisions {
    cache: ExpiringCache<String, Decision, Instant>,
}

impl Default for WebhookDecisions {
    fn default() -> Self {
        WebhookDecisions { cache: ExpiringCache::new(CACHE_CAPACITY) }
    }
}

impl WebhookDecisions {
    /// What the webhook decides for `user` doing `attributes`: from the cache, or from a call.
    pub async fn authorize(
        &self,
        config: &WebhookConfig,
        user: &UserInfo,
        attributes: &Attributes,
    ) -> Result<Decision, String> {
        let spec = review::spec(config.version, user, attributes);
        let key = spec.to_string();
        if let Some(decision) = self.cache.get(&key, Instant::now()) {
            return Ok(Decision::clone(&decision));
        }
        let answer = config.connection.post_json(review::request_body(config.version, &spec)).await;
        let decision = answer.and_then(|body| review::decision(&body)).inspect_err(|error| {
            tracing::warn!(webhook = %config.connection.url, %error, "the authorization webhook failed");
        })?;
        let ttl = if decision == Decision::Allow { config.authorized_ttl } else { config.unauthorized_ttl };
        let now = Instant::now();
        self.cache.insert(key, decision.clone(), now + ttl, now);
        Ok(decision)
    }
}

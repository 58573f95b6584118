//! The bearer-token cache, as kube-apiserver keeps one in front of its token authenticators: a
//! verified ServiceAccount token skips its signature check (about 50 µs) for a short while. An
//! entry is keyed by the SHA-256 of the token (the token itself is never kept), holds the
//! identity it authenticated as, and lives until the token's `exp` or [`SUCCESS_TTL`], whichever
//! comes first. Unlike kube-apiserver's cache, a hit is not trusted blindly for those seconds:
//! each object the token is tied to (its ServiceAccount, and a bound Pod or Secret, or the
//! Secret holding a legacy token) is remembered by store key and revision and re-read on every
//! hit, so a token stops working the moment its ServiceAccount or bound object is deleted or
//! replaced, exactly as without the cache. Failures are not cached (kube-apiserver's failure TTL is 0 by default).

use super::UserInfo;
use super::expiring_cache::ExpiringCache;
use crate::instance::Instance;
use crate::registry::storage;
use crate::registry::strategy::meta_str;

/// How long a verified token is remembered, at most (kube-apiserver's token success cache TTL).
pub const SUCCESS_TTL_SECONDS: i64 = 10;
/// [`SUCCESS_TTL_SECONDS`], named for the docs.
pub const SUCCESS_TTL: std::time::Duration = std::time::Duration::from_secs(SUCCESS_TTL_SECONDS as u64);
/// The most tokens remembered at once.
pub const CAPACITY: usize = 4096;

/// An object a token depends on, as it was when the token was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveObject {
    /// Its store key (`/registry/serviceaccounts/<ns>/<name>`).
    pub key: String,
    /// Its mod revision then: any write or delete since changes what the key holds.
    pub revision: i64,
    pub uid: String,
}

impl LiveObject {
    /// The core/v1 object `plural`/`name` in `namespace`, if it exists.
    pub fn read(instance: &Instance, plural: &str, namespace: &str, name: &str) -> Option<LiveObject> {
        let resource = instance.resource("", "v1", plural)?;
        let key = resource.key(Some(namespace), name);
        let stored = storage::read(&instance.store, &key).ok()??;
        let scope = crate::registry::Scope { instance, resource, namespace: Some(namespace) };
        let uid = meta_str(&scope.view(&stored), "uid").to_string();
        Some(LiveObject { key, revision: stored.revision, uid })
    }

    /// Whether the store still holds this object unchanged (one key lookup, nothing parsed).
    fn unchanged(&self, instance: &Instance) -> bool {
        matches!(storage::read(&instance.store, &self.key), Ok(Some(stored)) if stored.revision == self.revision)
    }
}

/// What a verified token stood for.
#[derive(Debug)]
struct CachedToken {
    user: UserInfo,
    depends_on: Vec<LiveObject>,
}

/// Verified bearer tokens, by the SHA-256 of the token, until Unix seconds of the instance clock.
#[derive(Debug)]
pub struct TokenCache {
    entries: ExpiringCache<[u8; 32], CachedToken, i64>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache { entries: ExpiringCache::new(CAPACITY) }
    }
}

fn token_hash(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    digest.as_ref().try_into().expect("SHA-256 digests are 32 bytes")
}

impl TokenCache {
    /// The identity `token` was verified as, if that is still current: not past the token's
    /// expiry or the TTL, and every object it depends on unchanged in the store.
    pub fn get(&self, instance: &Instance, token: &str) -> Option<UserInfo> {
        let hash = token_hash(token);
        let entry = self.entries.get(&hash, instance.clock.unix_seconds())?;
        if !entry.depends_on.iter().all(|object| object.unchanged(instance)) {
            self.entries.remove(&hash);
            return None;
        }
        Some(entry.user.clone())
    }

    /// Remembers that `token` (valid until `exp`, Unix seconds) authenticated as `user` while
    /// `depends_on` stay as they are.
    pub fn insert(&self, instance: &Instance, token: &str, user: &UserInfo, exp: i64, depends_on: Vec<LiveObject>) {
        let now = instance.clock.unix_seconds();
        let entry = CachedToken { user: user.clone(), depends_on };
        self.entries.insert(token_hash(token), entry, exp.min(now + SUCCESS_TTL_SECONDS), now);
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authenticate::authenticate_token;
    use crate::auth::tokens::{DEFAULT_ISSUER, bound_claims};
    use crate::clock::FixedClock;
    use crate::registry::Scope;
    use crate::registry::rest::{DeleteOptions, WriteOptions};
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::auth::test_support::NOW;

    /// An instance with a signing key, a fixed clock, and the ServiceAccount `default/robot`.
    fn instance() -> (Instance, Arc<FixedClock>, String) {
        let (instance, clock, _, uid) = crate::auth::test_support::instance_with_robot();
        (instance, clock, uid)
    }

    fn accounts(instance: &Instance) -> Scope<'_> {
        let resource = instance.resource("", "v1", "serviceaccounts").unwrap();
        Scope { instance, resource, namespace: Some("default") }
    }

    fn token(instance: &Instance, uid: &str, expiration_seconds: i64) -> String {
        let signer = instance.auth.signer.get().unwrap();
        let claims = bound_claims(
            DEFAULT_ISSUER,
            &signer.audiences,
            "default",
            ("robot", uid),
            None,
            NOW,
            expiration_seconds,
            "j",
        );
        signer.sign(&claims)
    }

    #[test]
    fn a_cached_token_authenticates_as_the_same_user() {
        let (instance, _clock, uid) = instance();
        let token = token(&instance, &uid, 3600);
        let cache = &instance.auth.token_cache;
        assert_eq!(cache.get(&instance, &token), None, "nothing is cached before the first use");
        let first = authenticate_token(&instance, &token, None).unwrap();
        assert_eq!(first.name, "system:serviceaccount:default:robot");
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&instance, &token), Some(first.clone()), "the second use is a cache hit");
        assert_eq!(authenticate_token(&instance, &token, None), Some(first));
        assert_eq!(authenticate_token(&instance, "not-a-token", None), None);
        assert_eq!(cache.len(), 1, "failures are not cached");
    }

    #[test]
    fn an_expired_token_is_refused_even_when_cached() {
        let (instance, clock, uid) = instance();
        let token = token(&instance, &uid, 5);
        assert!(authenticate_token(&instance, &token, None).is_some());
        clock.advance(Duration::from_secs(4));
        assert!(instance.auth.token_cache.get(&instance, &token).is_some(), "still within exp and the TTL");
        clock.advance(Duration::from_secs(1));
        assert_eq!(instance.auth.token_cache.get(&instance, &token), None, "the entry ends at the token's exp");
        assert_eq!(authenticate_token(&instance, &token, None), None);
    }

    #[test]
    fn entries_last_no_longer_than_the_ttl() {
        let (instance, clock, uid) = instance();
        let token = token(&instance, &uid, 3600);
        assert!(authenticate_token(&instance, &token, None).is_some());
        clock.advance(SUCCESS_TTL);
        assert_eq!(instance.auth.token_cache.get(&instance, &token), None);
        assert!(authenticate_token(&instance, &token, None).is_some(), "a valid token is verified afresh");
    }

    #[test]
    fn a_deleted_or_recreated_service_account_ends_a_cached_token_at_once() {
        let (instance, _clock, uid) = instance();
        let token = token(&instance, &uid, 3600);
        assert!(authenticate_token(&instance, &token, None).is_some());
        accounts(&instance).delete("robot", &DeleteOptions::default()).unwrap();
        assert_eq!(authenticate_token(&instance, &token, None), None);
        let again = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}});
        accounts(&instance).create(again, &WriteOptions::default()).unwrap();
        assert_eq!(authenticate_token(&instance, &token, None), None, "another uid is another account");
    }

    #[test]
    fn the_cache_stays_bounded() {
        let (instance, _clock, _uid) = instance();
        let cache = TokenCache::default();
        for n in 0..CAPACITY + 10 {
            cache.insert(&instance, &format!("token-{n}"), &UserInfo::default(), NOW + 60, Vec::new());
        }
        assert_eq!(cache.len(), CAPACITY);
        assert!(cache.get(&instance, &format!("token-{}", CAPACITY + 9)).is_some(), "the newest entry is kept");
    }
}

//! The authentication chain, in kube-apiserver's order: the [request headers](super::requestheader)
//! a front-proxy certificate vouches for, then a verified client certificate (CN is the user, O
//! the groups), then a bearer token (static tokens from `--token-auth-file`, then
//! ServiceAccount tokens, bound or [legacy](super::legacy_tokens), whose verification the
//! [token cache](super::token_cache) spares on repeat use, then bootstrap tokens when
//! `--enable-bootstrap-token-auth` is on), then
//! anonymous. Impersonation headers are applied afterwards, each authorized through the
//! `impersonate` verb.

use super::token_cache::LiveObject;
use super::{Attributes, AuthConfig, UserInfo};
use crate::error::{ApiError, ApiResult, Reason};
use crate::http::ApiRequest;
use crate::instance::Instance;
use serde_json::Value;

pub const AUTHENTICATED: &str = "system:authenticated";
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
pub const ANONYMOUS: &str = "system:anonymous";
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// A token from `--token-auth-file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticToken {
    pub token: String,
    pub user: UserInfo,
}

/// Parses kube-apiserver's token file: `token,user,uid[,"group1,group2"]` per line.
pub fn parse_token_file(text: &str) -> Result<Vec<StaticToken>, String> {
    let mut tokens = Vec::new();
    for (number, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = split_csv(line);
        if fields.len() < 3 {
            return Err(format!(
                "token file line {number}: expected at least 3 fields (token,user,uid), got {}",
                fields.len()
            ));
        }
        let groups =
            fields.get(3).map(|g| g.split(',').map(str::trim).filter(|g| !g.is_empty()).map(String::from).collect());
        let user = UserInfo {
            name: fields[1].clone(),
            uid: fields[2].clone(),
            groups: groups.unwrap_or_default(),
            ..UserInfo::default()
        };
        tokens.push(StaticToken { token: fields[0].clone(), user });
    }
    Ok(tokens)
}

/// Splits one CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let (mut fields, mut current, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    fields.push(current);
    fields
}

/// 401, worded as kube-apiserver's.
pub fn unauthorized() -> ApiError {
    ApiError::new(Reason::Unauthorized, "Unauthorized")
}

fn with_authenticated(mut user: UserInfo) -> UserInfo {
    if !user.groups.iter().any(|g| g == AUTHENTICATED) {
        user.groups.push(AUTHENTICATED.into());
    }
    user
}

/// Who sent `request`, before impersonation.
///
/// A certificate that failed an authenticator (a front-proxy CN not allowed, or a front-proxy
/// certificate offered as a user's) makes the request 401 unless a later one succeeds, never
/// anonymous, as kube-apiserver's union of authenticators does.
pub fn authenticate(instance: &Instance, request: &ApiRequest) -> ApiResult<UserInfo> {
    let mut failed = false;
    if let Some(subject) = &request.peer.0 {
        let front_proxy = instance.config.auth.requestheader.as_ref().filter(|config| config.issued(subject));
        if let Some(config) = front_proxy {
            match config.authenticate(subject, &request.headers) {
                Ok(Some(user)) => return Ok(with_authenticated(user)),
                Ok(None) => {}
                Err(error) => tracing::debug!(%error, "request-header authentication refused"),
            }
        }
        if front_proxy.is_none() || instance.auth.client_ca_issued(&subject.issuer) {
            let user = UserInfo { name: subject.user.clone(), groups: subject.groups.clone(), ..UserInfo::default() };
            return Ok(with_authenticated(user));
        }
        // The x509 authenticator cannot verify a front-proxy certificate against the client CAs.
        failed = true;
    }
    if let Some(token) = bearer_token(request) {
        return authenticate_token(instance, token, None).ok_or_else(unauthorized);
    }
    if instance.config.auth.anonymous && !failed {
        return Ok(UserInfo { name: ANONYMOUS.into(), groups: vec![UNAUTHENTICATED.into()], ..UserInfo::default() });
    }
    Err(unauthorized())
}

fn bearer_token(request: &ApiRequest) -> Option<&str> {
    let header = request.header("authorization")?;
    let (scheme, token) = header.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// The identity a bearer token stands for, if it is valid now. `audiences` overrides the
/// server's API audiences (TokenReview's `spec.audiences`); only tokens checked against the
/// server's own audiences go through the [token cache](super::token_cache).
pub fn authenticate_token(instance: &Instance, token: &str, audiences: Option<&[String]>) -> Option<UserInfo> {
    let config: &AuthConfig = &instance.config.auth;
    if let Some(known) = config.static_tokens.iter().find(|t| t.token == token) {
        return Some(with_authenticated(known.user.clone()));
    }
    if let Some(user) = service_account_token(instance, token, audiences) {
        return Some(user);
    }
    if config.bootstrap_tokens {
        return super::bootstrap_token::authenticate(instance, token).map(with_authenticated);
    }
    None
}

/// The ServiceAccount a token signed by this server stands for, through the token cache when
/// the server's own audiences apply.
fn service_account_token(instance: &Instance, token: &str, audiences: Option<&[String]>) -> Option<UserInfo> {
    let signer = instance.auth.signer.get()?;
    let cache = &instance.auth.token_cache;
    if audiences.is_none()
        && let Some(user) = cache.get(instance, token)
    {
        return Some(user);
    }
    let claims = signer.verify(token)?;
    let requested = audiences.unwrap_or(&signer.audiences);
    let verified = if claims["iss"] == super::tokens::LEGACY_ISSUER {
        let validated = super::legacy_tokens::validate(instance, token, &claims, requested, &signer.audiences);
        validated.map_err(|error| tracing::debug!(%error, "legacy ServiceAccount token refused")).ok()?
    } else {
        service_account_user(instance, &claims, requested, &signer.issuer)?
    };
    if audiences.is_none() {
        cache.insert(instance, token, &verified.user, verified.expires, verified.depends_on);
    }
    Some(verified.user)
}

/// A ServiceAccount token that checked out, and what it stays valid on.
pub(super) struct VerifiedServiceAccount {
    pub user: UserInfo,
    /// Its `exp`, Unix seconds.
    pub expires: i64,
    /// The ServiceAccount, and the Pod or Secret it is bound to (or a legacy token's own
    /// Secret), as they were.
    pub depends_on: Vec<LiveObject>,
}

/// The identity of ServiceAccount `namespace`/`name` (`serviceaccount.UserInfo`), with
/// `system:authenticated` added.
pub(super) fn service_account_identity(
    namespace: &str,
    name: &str,
    uid: &str,
    extra: std::collections::BTreeMap<String, Vec<String>>,
) -> UserInfo {
    UserInfo {
        name: format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"),
        uid: uid.to_string(),
        groups: vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{namespace}"),
            AUTHENTICATED.into(),
        ],
        extra,
    }
}

/// Checks a verified ServiceAccount token's claims against the clock, the audiences and the
/// objects it is bound to (which must still exist with the same uids).
fn service_account_user(
    instance: &Instance,
    claims: &Value,
    audiences: &[String],
    issuer: &str,
) -> Option<VerifiedServiceAccount> {
    let now = instance.clock.unix_seconds();
    let expires = claims["exp"].as_i64()?;
    if claims["iss"] != issuer || expires <= now || claims["nbf"].as_i64().unwrap_or(0) > now + 60 {
        return None;
    }
    let token_audiences: Vec<&str> = match &claims["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    if !audiences.iter().any(|a| token_audiences.contains(&a.as_str())) {
        return None;
    }
    let private = &claims["kubernetes.io"];
    let namespace = private["namespace"].as_str()?;
    let name = private["serviceaccount"]["name"].as_str()?;
    let uid = private["serviceaccount"]["uid"].as_str()?;
    let account = LiveObject::read(instance, "serviceaccounts", namespace, name).filter(|live| live.uid == uid)?;
    let mut depends_on = vec![account];
    let mut extra = std::collections::BTreeMap::new();
    if let Some(id) = claims["jti"].as_str() {
        extra.insert("authentication.kubernetes.io/credential-id".to_string(), vec![format!("JTI={id}")]);
    }
    for (kind, plural) in [("pod", "pods"), ("secret", "secrets")] {
        let bound = &private[kind];
        if let (Some(bound_name), Some(bound_uid)) = (bound["name"].as_str(), bound["uid"].as_str()) {
            let live =
                LiveObject::read(instance, plural, namespace, bound_name).filter(|live| live.uid == bound_uid)?;
            depends_on.push(live);
            if kind == "pod" {
                extra.insert("authentication.kubernetes.io/pod-name".into(), vec![bound_name.to_string()]);
                extra.insert("authentication.kubernetes.io/pod-uid".into(), vec![bound_uid.to_string()]);
            }
        }
    }
    let user = service_account_identity(namespace, name, uid, extra);
    Some(VerifiedServiceAccount { user, expires, depends_on })
}

/// What impersonating one user, group, uid or extra value asks of the authorizer: the
/// `impersonate` verb on it (`userextras/<key>` for an extra value).
fn impersonation(resource: &str, group: &str, namespace: &str, name: &str) -> Attributes {
    Attributes::resource("impersonate", namespace, group, resource, name)
}

/// Applies `Impersonate-*` headers: each impersonated user, group, uid and extra value must be
/// allowed to `user` through the `impersonate` verb.
pub async fn impersonate(instance: &Instance, user: UserInfo, request: &ApiRequest) -> ApiResult<UserInfo> {
    let Some(target) = request.header("impersonate-user") else {
        let asks = request.headers.keys().any(|k| k.as_str().starts_with("impersonate-"));
        return if asks {
            Err(ApiError::bad_request("requested [{Kind:Group ...}] without impersonating a user"))
        } else {
            Ok(user)
        };
    };
    let groups: Vec<String> =
        request.headers.get_all("impersonate-group").iter().filter_map(|v| v.to_str().ok()).map(String::from).collect();
    let uid = request.header("impersonate-uid").unwrap_or_default().to_string();
    let mut extra = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (key, value) in &request.headers {
        if let Some(field) = key.as_str().strip_prefix("impersonate-extra-") {
            extra.entry(field.to_string()).or_default().push(value.to_str().unwrap_or_default().to_string());
        }
    }
    let mut impersonated =
        UserInfo { name: target.to_string(), uid: uid.clone(), groups: groups.clone(), extra: extra.clone() };
    let mut checks = Vec::new();
    match target.strip_prefix(SERVICE_ACCOUNT_PREFIX).and_then(|rest| rest.split_once(':')) {
        Some((namespace, name)) => {
            checks.push(impersonation("serviceaccounts", "", namespace, name));
            if groups.is_empty() {
                impersonated.groups =
                    vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{namespace}")];
            }
        }
        None => checks.push(impersonation("users", "", "", target)),
    }
    checks.extend(groups.iter().map(|group| impersonation("groups", "", "", group)));
    if !uid.is_empty() {
        checks.push(impersonation("uids", "authentication.k8s.io", "", &uid));
    }
    for (key, values) in &extra {
        checks.extend(
            values.iter().map(|value| impersonation(&format!("userextras/{key}"), "authentication.k8s.io", "", value)),
        );
    }
    for attributes in &checks {
        super::authorize::authorize_attributes(instance, &user, attributes).await?;
    }
    if target == ANONYMOUS {
        if !impersonated.groups.iter().any(|g| g == UNAUTHENTICATED) {
            impersonated.groups.push(UNAUTHENTICATED.into());
        }
        return Ok(impersonated);
    }
    Ok(with_authenticated(impersonated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_read_as_kube_apiserver_reads_them() {
        let tokens = parse_token_file("# comment\nt0k3n,alice,1001,\"dev,ops\"\nsecond,bob,1002\n").unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[0].user.groups, ["dev", "ops"]);
        assert_eq!(
            (tokens[1].token.as_str(), tokens[1].user.name.as_str(), tokens[1].user.uid.as_str()),
            ("second", "bob", "1002")
        );
        assert!(parse_token_file("only,two\n").unwrap_err().contains("line 1"));
    }
}

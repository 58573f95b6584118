//! The authorization chain (`--authorization-mode`): each authorizer in turn may allow, deny
//! or pass, as kube-apiserver's union authorizer: the first allow or explicit deny decides, and
//! no opinion falls through to the next. `system:masters` always passes. A request nobody
//! allows gets 403 with kube-apiserver's wording, or 500 when an authorizer (the webhook)
//! failed and nobody decided, so a failing webhook fails closed.

use super::{Attributes, Decision, UserInfo};
use crate::error::{ApiError, ApiResult};
use crate::instance::Instance;
use crate::request_info::RequestInfo;

/// One authorizer of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationMode {
    AlwaysAllow,
    AlwaysDeny,
    Rbac,
    Webhook,
}

impl AuthorizationMode {
    /// Parses one `--authorization-mode` entry.
    pub fn parse(text: &str) -> Result<AuthorizationMode, String> {
        match text {
            "AlwaysAllow" => Ok(AuthorizationMode::AlwaysAllow),
            "AlwaysDeny" => Ok(AuthorizationMode::AlwaysDeny),
            "RBAC" => Ok(AuthorizationMode::Rbac),
            "Webhook" => Ok(AuthorizationMode::Webhook),
            other => {
                Err(format!("authorization mode {other:?} is not supported (AlwaysAllow, AlwaysDeny, RBAC, Webhook)"))
            }
        }
    }
}

const MASTERS: &str = "system:masters";

/// What the chain decides for `user` doing `attributes`. `Err` carries the failures of
/// authorizers that could not answer, when no later one allowed or denied.
pub async fn decide(instance: &Instance, user: &UserInfo, attributes: &Attributes) -> Result<Decision, String> {
    if user.groups.iter().any(|g| g == MASTERS) {
        return Ok(Decision::Allow);
    }
    let (mut reasons, mut errors) = (Vec::new(), Vec::new());
    for mode in &instance.config.auth.authorization_modes {
        let decision = match mode {
            AuthorizationMode::AlwaysAllow => Ok(Decision::Allow),
            AuthorizationMode::AlwaysDeny => Ok(Decision::Deny("Everything is forbidden.".into())),
            AuthorizationMode::Rbac => {
                let decision = instance.auth.rbac().authorize(user, attributes);
                Ok(decision)
            }
            AuthorizationMode::Webhook => match &instance.config.auth.webhook {
                Some(webhook) => instance.auth.webhook_decisions.authorize(webhook, user, attributes).await,
                None => Err("the Webhook authorizer has no --authorization-webhook-config-file".into()),
            },
        };
        match decision {
            Ok(Decision::NoOpinion(reason)) => reasons.push(reason),
            Ok(decided) => return Ok(decided),
            Err(error) => errors.push(error),
        }
    }
    match errors.len() {
        0 => Ok(Decision::NoOpinion(reasons.into_iter().filter(|r| !r.is_empty()).collect::<Vec<_>>().join("\n"))),
        1 => Err(errors.remove(0)),
        _ => Err(format!("[{}]", errors.join(", "))),
    }
}

/// The authorizer's view of a parsed request.
pub fn attributes(info: &RequestInfo) -> Attributes {
    Attributes {
        verb: info.verb.clone(),
        is_resource_request: info.is_resource_request,
        namespace: info.namespace.clone(),
        api_group: info.group.clone(),
        api_version: info.version.clone(),
        resource: info.resource.clone(),
        subresource: info.subresource.clone(),
        name: info.name.clone(),
        path: info.path.clone(),
    }
}

/// Allows `user` to do `attributes`, or answers 403 as kube-apiserver words it (500 when an
/// authorizer failed and none decided).
pub async fn authorize_attributes(instance: &Instance, user: &UserInfo, attributes: &Attributes) -> ApiResult<()> {
    match decide(instance, user, attributes).await {
        Ok(Decision::Allow) => Ok(()),
        Ok(Decision::Deny(reason) | Decision::NoOpinion(reason)) => {
            Err(super::rbac::forbidden_error(user, attributes, &reason))
        }
        Err(error) => Err(ApiError::internal(error)),
    }
}

/// Allows the request or answers as [`authorize_attributes`] does.
pub async fn authorize(instance: &Instance, user: &UserInfo, info: &RequestInfo) -> ApiResult<()> {
    authorize_attributes(instance, user, &attributes(info)).await
}

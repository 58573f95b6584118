//! The authorization chain (`--authorization-mode`): each authorizer in turn may allow, deny
//! or pass; `system:masters` always passes, as in kube-apiserver. A request nobody allows gets
//! 403 with kube-apiserver's wording.

use super::{Attributes, Decision, UserInfo};
use crate::error::ApiResult;
use crate::instance::Instance;
use crate::request_info::RequestInfo;

/// One authorizer of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationMode {
    AlwaysAllow,
    AlwaysDeny,
    Rbac,
}

impl AuthorizationMode {
    /// Parses one `--authorization-mode` entry.
    pub fn parse(text: &str) -> Result<AuthorizationMode, String> {
        match text {
            "AlwaysAllow" => Ok(AuthorizationMode::AlwaysAllow),
            "AlwaysDeny" => Ok(AuthorizationMode::AlwaysDeny),
            "RBAC" => Ok(AuthorizationMode::Rbac),
            other => Err(format!("authorization mode {other:?} is not supported (AlwaysAllow, AlwaysDeny, RBAC)")),
        }
    }
}

const MASTERS: &str = "system:masters";

/// What the chain decides for `user` doing `attributes`.
pub fn decide(instance: &Instance, user: &UserInfo, attributes: &Attributes) -> Decision {
    if user.groups.iter().any(|g| g == MASTERS) {
        return Decision::Allow;
    }
    let mut reasons = Vec::new();
    for mode in &instance.config.auth.authorization_modes {
        let decision = match mode {
            AuthorizationMode::AlwaysAllow => Decision::Allow,
            AuthorizationMode::AlwaysDeny => Decision::Deny("Everything is forbidden.".into()),
            AuthorizationMode::Rbac => instance.auth.rbac().authorize(user, attributes),
        };
        match decision {
            Decision::NoOpinion(reason) => reasons.push(reason),
            decided => return decided,
        }
    }
    Decision::NoOpinion(reasons.into_iter().filter(|r| !r.is_empty()).collect::<Vec<_>>().join("\n"))
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

/// Allows the request or answers 403 as kube-apiserver words it.
pub fn authorize(instance: &Instance, user: &UserInfo, info: &RequestInfo) -> ApiResult<()> {
    let attributes = attributes(info);
    match decide(instance, user, &attributes) {
        Decision::Allow => Ok(()),
        Decision::Deny(reason) | Decision::NoOpinion(reason) => {
            Err(super::rbac::forbidden_error(user, &attributes, &reason))
        }
    }
}

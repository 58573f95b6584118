//! The 403 a request nobody authorizes gets, worded as kube-apiserver words it:
//! `forbiddenMessage` and `Forbidden` of
//! `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go`, wrapped the
//! way `apierrors.NewForbidden` wraps them (`configmaps "x" is forbidden: ...`, or
//! `forbidden: ...` for a path).

use crate::auth::{Attributes, UserInfo};
use crate::error::{ApiError, Reason, Resource};
use crate::selectors::go_quote;

/// `forbiddenMessage`: `User "u" cannot list resource "configmaps" in API group "" in the
/// namespace "ns"`, `... at the cluster scope`, or `User "u" cannot get path "/foo"`. The
/// subresource is part of the resource (`"pods/log"`).
pub fn forbidden_message(user: &UserInfo, attributes: &Attributes) -> String {
    let user_name = go_quote(&user.name);
    let verb = &attributes.verb;
    if !attributes.is_resource_request {
        return format!("User {user_name} cannot {verb} path {}", go_quote(&attributes.path));
    }
    let mut resource = attributes.resource.clone();
    if !attributes.subresource.is_empty() {
        resource = format!("{resource}/{}", attributes.subresource);
    }
    let (resource, group) = (go_quote(&resource), go_quote(&attributes.api_group));
    if attributes.namespace.is_empty() {
        format!("User {user_name} cannot {verb} resource {resource} in API group {group} at the cluster scope")
    } else {
        let namespace = go_quote(&attributes.namespace);
        format!("User {user_name} cannot {verb} resource {resource} in API group {group} in the namespace {namespace}")
    }
}

/// `Forbidden`'s HTML escaping of the message (`&`, `<`, `>`); quotes stay.
fn sanitize(message: &str) -> String {
    message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The whole Status message of the 403: `<resource>[.<group>] ["<name>"] is forbidden: <why>`
/// (or `forbidden: <why>` for a non-resource request), where `<why>` is the sanitized
/// [`forbidden_message`] followed by `: <reason>` when the authorizer chain gave a reason.
pub fn forbidden_status_message(user: &UserInfo, attributes: &Attributes, reason: &str) -> String {
    let mut why = sanitize(&forbidden_message(user, attributes));
    if !reason.is_empty() {
        why = format!("{why}: {reason}");
    }
    if attributes.api_group.is_empty() && attributes.resource.is_empty() {
        return format!("forbidden: {why}");
    }
    let qualified = if attributes.api_group.is_empty() {
        attributes.resource.clone()
    } else {
        format!("{}.{}", attributes.resource, attributes.api_group)
    };
    if attributes.name.is_empty() {
        format!("{qualified} is forbidden: {why}")
    } else {
        format!("{qualified} {} is forbidden: {why}", go_quote(&attributes.name))
    }
}

/// The 403 as an [`ApiError`], carrying [`forbidden_status_message`] and upstream's details
/// (group, the resource as `kind`, name).
///
/// Upstream always sends `details` on this Status, `{}` for a path; [`ApiError`] leaves out
/// empty details, so a non-resource 403 lacks that empty object.
pub fn forbidden_error(user: &UserInfo, attributes: &Attributes, reason: &str) -> ApiError {
    let message = forbidden_status_message(user, attributes, reason);
    if attributes.api_group.is_empty() && attributes.resource.is_empty() {
        return ApiError::new(Reason::Forbidden, message);
    }
    let resource = Resource { group: &attributes.api_group, plural: &attributes.resource };
    let mut error = ApiError::forbidden(resource, &attributes.name, "");
    error.message = message;
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn robot() -> UserInfo {
        UserInfo { name: "system:serviceaccount:ns:robot".into(), ..UserInfo::default() }
    }

    #[test]
    fn namespaced_resource_wording() {
        let attributes = Attributes::resource("list", "ns", "", "configmaps", "");
        assert_eq!(
            forbidden_message(&robot(), &attributes),
            r#"User "system:serviceaccount:ns:robot" cannot list resource "configmaps" in API group "" in the namespace "ns""#
        );
        assert_eq!(
            forbidden_status_message(&robot(), &attributes, ""),
            r#"configmaps is forbidden: User "system:serviceaccount:ns:robot" cannot list resource "configmaps" in API group "" in the namespace "ns""#
        );
    }

    #[test]
    fn subresource_group_and_name() {
        let log = Attributes::resource("get", "ns", "", "pods/log", "web-0");
        assert_eq!(
            forbidden_status_message(&robot(), &log, ""),
            r#"pods "web-0" is forbidden: User "system:serviceaccount:ns:robot" cannot get resource "pods/log" in API group "" in the namespace "ns""#
        );
        let scale = Attributes::resource("update", "ns", "apps", "deployments/scale", "web");
        assert_eq!(
            forbidden_status_message(&robot(), &scale, ""),
            r#"deployments.apps "web" is forbidden: User "system:serviceaccount:ns:robot" cannot update resource "deployments/scale" in API group "apps" in the namespace "ns""#
        );
    }

    #[test]
    fn cluster_scope_and_reason() {
        let nodes = Attributes::resource("list", "", "", "nodes", "");
        let message = forbidden_status_message(
            &robot(),
            &nodes,
            r#"RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found"#,
        );
        assert_eq!(
            message,
            r#"nodes is forbidden: User "system:serviceaccount:ns:robot" cannot list resource "nodes" in API group "" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found"#
        );
    }

    #[test]
    fn non_resource_paths() {
        let user = UserInfo { name: "system:anonymous".into(), ..UserInfo::default() };
        let path = Attributes { verb: "get".into(), path: "/foo".into(), ..Attributes::default() };
        assert_eq!(forbidden_message(&user, &path), r#"User "system:anonymous" cannot get path "/foo""#);
        assert_eq!(
            forbidden_status_message(&user, &path, ""),
            r#"forbidden: User "system:anonymous" cannot get path "/foo""#
        );
        let html = Attributes { verb: "get".into(), path: "/<a>&".into(), ..Attributes::default() };
        assert_eq!(
            forbidden_status_message(&user, &html, ""),
            r#"forbidden: User "system:anonymous" cannot get path "/&lt;a&gt;&amp;""#
        );
    }

    #[test]
    fn the_error_is_a_403_with_details() {
        let error = forbidden_error(&robot(), &Attributes::resource("get", "ns", "apps", "deployments", "web"), "");
        assert_eq!(error.code(), 403);
        let status = error.status();
        assert_eq!(status["reason"], "Forbidden");
        assert_eq!(status["details"], json!({"name": "web", "group": "apps", "kind": "deployments"}));
        assert!(status["message"].as_str().unwrap().starts_with(r#"deployments.apps "web" is forbidden: User "#));
        let path = Attributes { verb: "get".into(), path: "/metrics".into(), ..Attributes::default() };
        let error = forbidden_error(&robot(), &path, "");
        assert_eq!(
            error.status()["message"],
            r#"forbidden: User "system:serviceaccount:ns:robot" cannot get path "/metrics""#
        );
    }
}

//! Escalation prevention for the RBAC API, as kube-apiserver's `pkg/registry/rbac` does it (the
//! `policybased` storages of roles, clusterroles, rolebindings and clusterrolebindings, with
//! `ConfirmNoEscalation`, `Covers`, `CompactRules` and `CompactString` of
//! `pkg/registry/rbac/validation`): a user may write a Role or ClusterRole only when they
//! already hold every permission it grants (in its namespace, or cluster-wide), unless they may
//! `escalate` it; and a RoleBinding or ClusterRoleBinding only when they hold every permission
//! of the role it references, unless they may `bind` that role. `system:masters` and the
//! server's own writes (which carry no requester's name) pass, and so does an update that only touches
//! what the garbage collector changes.
//!
//! kube-apiserver asks its whole authorizer chain whether `escalate` or `bind` is allowed. The
//! registry's writes are synchronous here, so the chain is walked without its Webhook
//! authorizer (which needs a network call): a webhook granting `escalate` or `bind` is not
//! consulted. The checks run only when the chain includes RBAC; without it they are moot.

use super::rules::PolicyRule;
use super::{RbacIndex, Visit, aggregate_errors};
use crate::auth::authorize::AuthorizationMode;
use crate::auth::{Attributes, Decision, UserInfo};
use crate::error::{ApiError, ApiResult, Reason, Resource};
use crate::pki::MASTERS_GROUP;
use crate::registry::Scope;
use crate::registry::strategy::meta_str;
use crate::selectors::go_quote;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

const GROUP: &str = "rbac.authorization.k8s.io";

/// Refuses a write of a Role, ClusterRole, RoleBinding or ClusterRoleBinding that would let
/// `user` grant permissions they do not hold: 403 worded as kube-apiserver words it, or 404
/// when a binding names a role that does not exist. `old` is the stored object of an update.
/// Writes of other resources, and the server's own writes (a user without a name), pass.
pub fn confirm_no_escalation(scope: &Scope<'_>, user: &UserInfo, object: &Value, old: Option<&Value>) -> ApiResult<()> {
    if user.name.is_empty() {
        return Ok(());
    }
    let resource = &scope.resource;
    let modes = &scope.instance.config.auth.authorization_modes;
    if resource.group != GROUP
        || user.groups.iter().any(|g| g == MASTERS_GROUP)
        || !modes.contains(&AuthorizationMode::Rbac)
        || old.is_some_and(|old| only_gc_fields_change(object, old))
    {
        return Ok(());
    }
    let index = scope.instance.auth.rbac();
    let check = Check { index: &index, modes, user, namespace: scope.namespace.unwrap_or_default() };
    let name = meta_str(object, "name");
    let forbidden = |why: &str| ApiError::forbidden(Resource { group: GROUP, plural: &resource.plural }, name, why);
    match resource.plural.as_str() {
        "roles" | "clusterroles" => {
            // The request's name: none for a POST.
            let request_name = if old.is_some() { name } else { "" };
            if check.allows("escalate", GROUP, &resource.plural, request_name) {
                return Ok(());
            }
            check.covers(&PolicyRule::all_from(object)).map_err(|why| forbidden(&why))?;
            let aggregating = has_aggregation_rule(object) || old.is_some_and(has_aggregation_rule);
            if resource.plural == "clusterroles" && aggregating {
                check
                    .covers(&full_authority())
                    .map_err(|_| forbidden("must have cluster-admin privileges to use the aggregationRule"))?;
            }
            Ok(())
        }
        "rolebindings" | "clusterrolebindings" => {
            let role_ref =
                |field: &str| object.pointer(&format!("/roleRef/{field}")).and_then(Value::as_str).unwrap_or_default();
            let (kind, role_name) = (role_ref("kind"), role_ref("name"));
            let role_resource = match kind {
                "ClusterRole" => Some("clusterroles"),
                "Role" => Some("roles"),
                _ => None,
            };
            if role_resource.is_some_and(|plural| check.allows("bind", role_ref("apiGroup"), plural, role_name)) {
                return Ok(());
            }
            let rules = check.referenced_rules(kind, role_name)?;
            check.covers(rules).map_err(|why| forbidden(&why))
        }
        _ => Ok(()),
    }
}

/// The requester, what they are allowed, and where.
struct Check<'a> {
    index: &'a RbacIndex,
    modes: &'a [AuthorizationMode],
    user: &'a UserInfo,
    /// The request's namespace; empty for the cluster-scoped resources.
    namespace: &'a str,
}

impl<'a> Check<'a> {
    /// `RoleEscalationAuthorized` and `BindingAuthorized`: whether the chain allows `verb` on the
    /// role resource `resource` named `name`.
    fn allows(&self, verb: &str, group: &str, resource: &str, name: &str) -> bool {
        let attributes = Attributes::resource(verb, self.namespace, group, resource, name);
        for mode in self.modes {
            match mode {
                AuthorizationMode::AlwaysAllow => return true,
                AuthorizationMode::AlwaysDeny => return false,
                AuthorizationMode::Rbac if self.index.authorize(self.user, &attributes) == Decision::Allow => {
                    return true;
                }
                AuthorizationMode::Rbac | AuthorizationMode::Webhook => {}
            }
        }
        false
    }

    /// `GetRoleReferenceRules` over the registry: a missing role is the registry's 404, an
    /// unknown kind an error that is no Status (500, reason Unknown).
    fn referenced_rules(&self, kind: &str, name: &str) -> ApiResult<&'a [PolicyRule]> {
        let missing = |plural: &str| ApiError::not_found(Resource { group: GROUP, plural }, name);
        match kind {
            "ClusterRole" => self.index.cluster_roles.get(name).map(|r| &r[..]).ok_or_else(|| missing("clusterroles")),
            "Role" => self
                .index
                .roles
                .get(self.namespace)
                .and_then(|roles| roles.get(name))
                .map(|r| &r[..])
                .ok_or_else(|| missing("roles")),
            other => {
                Err(ApiError::new(Reason::Unknown, format!("unsupported role reference kind: {}", go_quote(other))))
            }
        }
    }

    /// `ConfirmNoEscalation`: `Ok` when the requester's rules in the namespace cover `rules`,
    /// otherwise the reason for the 403.
    fn covers(&self, rules: &[PolicyRule]) -> Result<(), String> {
        let mut owned: Vec<&PolicyRule> = Vec::new();
        let errors = self.index.visit_rules(self.user, self.namespace, |_, _, rule| {
            owned.push(rule);
            Visit::Continue
        });
        let missing = uncovered(&owned, rules);
        if missing.is_empty() {
            return Ok(());
        }
        let errors: Vec<String> = errors.iter().map(|e| registry_wording(e)).collect();
        Err(escalation_message(self.user, missing, &errors))
    }
}

/// `fullAuthority`: everything, which setting an aggregationRule requires.
fn full_authority() -> Vec<PolicyRule> {
    let all = vec!["*".to_string()];
    vec![
        PolicyRule { verbs: all.clone(), api_groups: all.clone(), resources: all.clone(), ..PolicyRule::default() },
        PolicyRule { verbs: all.clone(), non_resource_urls: all, ..PolicyRule::default() },
    ]
}

/// `hasAggregationRule`: an aggregationRule with at least one selector.
fn has_aggregation_rule(object: &Value) -> bool {
    object.pointer("/aggregationRule/clusterRoleSelectors").and_then(Value::as_array).is_some_and(|s| !s.is_empty())
}

/// `IsOnlyMutatingGCFields`: whether the update changes nothing but ownerReferences,
/// finalizers, selfLink and managedFields.
fn only_gc_fields_change(object: &Value, old: &Value) -> bool {
    let mut copied = object.clone();
    let Some(metadata) = copied.get_mut("metadata").and_then(Value::as_object_mut) else { return false };
    for field in ["ownerReferences", "finalizers", "selfLink", "managedFields"] {
        match old.get("metadata").and_then(|m| m.get(field)) {
            Some(value) => metadata.insert(field.into(), value.clone()),
            None => metadata.remove(field),
        };
    }
    copied == *old
}

/// The index words a missing role as the authorizer's lister does
/// (`clusterrole.rbac.authorization.k8s.io "x" not found`); the escalation check's resolver
/// reads through the registry, whose NotFound names the plural resource.
fn registry_wording(error: &str) -> String {
    for (lister, registry) in [("clusterrole.", "clusterroles."), ("role.", "roles.")] {
        if let Some(rest) = error.strip_prefix(lister) {
            return format!("{registry}{rest}");
        }
    }
    error.to_string()
}

/// The 403's reason: `user "u" (groups=["g"]) is attempting to grant RBAC permissions not
/// currently held:` and the missing rules, compacted, one a line and sorted; then the role
/// resolution errors met gathering the requester's rules, if any.
fn escalation_message(user: &UserInfo, missing: Vec<PolicyRule>, errors: &[String]) -> String {
    let descriptions: BTreeSet<String> = compact(missing).iter().map(compact_string).collect();
    let mut message = format!(
        "user {} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        go_quote(&user.name),
        go_list(&user.groups),
        descriptions.into_iter().collect::<Vec<_>>().join("\n")
    );
    if !errors.is_empty() {
        message.push_str(&format!("; resolution errors: [{}]", aggregate_errors(errors)));
    }
    message
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|item| go_quote(item)).collect::<Vec<_>>().join(" "))
}

/// `Covers`: the pieces of `servant` (broken down to one verb, group, resource and name each)
/// that no rule of `owner` covers.
fn uncovered(owner: &[&PolicyRule], servant: &[PolicyRule]) -> Vec<PolicyRule> {
    servant.iter().flat_map(breakdown).filter(|piece| !owner.iter().any(|rule| rule_covers(rule, piece))).collect()
}

/// `BreakdownRule`: one rule per group, resource, verb and resource name, then one per URL
/// and verb.
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |item: &String| vec![item.clone()];
    let mut pieces = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            for verb in &rule.verbs {
                let piece = PolicyRule {
                    verbs: one(verb),
                    api_groups: one(group),
                    resources: one(resource),
                    ..PolicyRule::default()
                };
                if rule.resource_names.is_empty() {
                    pieces.push(piece);
                    continue;
                }
                for name in &rule.resource_names {
                    pieces.push(PolicyRule { resource_names: one(name), ..piece.clone() });
                }
            }
        }
    }
    for url in &rule.non_resource_urls {
        for verb in &rule.verbs {
            pieces.push(PolicyRule { verbs: one(verb), non_resource_urls: one(url), ..PolicyRule::default() });
        }
    }
    pieces
}

fn has(set: &[String], item: &str) -> bool {
    set.iter().any(|s| s == item)
}

fn has_all(set: &[String], items: &[String]) -> bool {
    items.iter().all(|item| has(set, item))
}

/// `resourceCoversAll`: `*`, each resource itself, or `*/<subresource>` for a subresource.
fn resource_covers_all(owned: &[String], wanted: &[String]) -> bool {
    has(owned, "*")
        || wanted.iter().all(|path| {
            has(owned, path)
                || path.split_once('/').is_some_and(|(_, subresource)| has(owned, &format!("*/{subresource}")))
        })
}

/// `nonResourceURLCovers`, for every URL wanted.
fn urls_cover_all(owned: &[String], wanted: &[String]) -> bool {
    wanted
        .iter()
        .all(|path| owned.iter().any(|o| o == path || (o.ends_with('*') && path.starts_with(o.trim_end_matches('*')))))
}

/// `ruleCovers`: whether `owner` covers `piece` (one of [`breakdown`]'s).
fn rule_covers(owner: &PolicyRule, piece: &PolicyRule) -> bool {
    let names = if piece.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &piece.resource_names)
    };
    (has(&owner.verbs, "*") || has_all(&owner.verbs, &piece.verbs))
        && (has(&owner.api_groups, "*") || has_all(&owner.api_groups, &piece.api_groups))
        && resource_covers_all(&owner.resources, &piece.resources)
        && names
        && urls_cover_all(&owner.non_resource_urls, &piece.non_resource_urls)
}

/// `CompactRules`: rules of one group, one resource and at most one name, and nothing else,
/// merged by (group, resource, name) with their verbs appended in order; others kept.
fn compact(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut compacted = Vec::new();
    let mut simple: HashMap<(String, String, Option<String>), usize> = HashMap::new();
    for rule in rules {
        let is_simple = rule.resource_names.len() <= 1
            && rule.non_resource_urls.is_empty()
            && rule.api_groups.len() == 1
            && rule.resources.len() == 1;
        if !is_simple {
            compacted.push(rule);
            continue;
        }
        let key = (rule.api_groups[0].clone(), rule.resources[0].clone(), rule.resource_names.first().cloned());
        match simple.get(&key) {
            Some(&at) => compacted[at].verbs.extend(rule.verbs),
            None => {
                simple.insert(key, compacted.len());
                compacted.push(rule);
            }
        }
    }
    compacted
}

/// `CompactString`: `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`, empty lists left out.
fn compact_string(rule: &PolicyRule) -> String {
    let fields = [
        ("APIGroups", &rule.api_groups),
        ("Resources", &rule.resources),
        ("NonResourceURLs", &rule.non_resource_urls),
        ("ResourceNames", &rule.resource_names),
        ("Verbs", &rule.verbs),
    ];
    let parts: Vec<String> = fields
        .iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(name, items)| format!("{name}:{}", go_list(items)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(value: Value) -> PolicyRule {
        PolicyRule::from_value(&value)
    }

    fn missing(owner: &[PolicyRule], servant: &[PolicyRule]) -> Vec<String> {
        let owned: Vec<&PolicyRule> = owner.iter().collect();
        let descriptions: BTreeSet<String> = compact(uncovered(&owned, servant)).iter().map(compact_string).collect();
        descriptions.into_iter().collect()
    }

    #[test]
    fn rules_held_cover_and_missing_pieces_are_listed_compactly() {
        let owner = [rule(json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "configmaps"]}))];
        let servant =
            [rule(json!({"verbs": ["get", "list", "delete"], "apiGroups": [""], "resources": ["pods", "secrets"]}))];
        assert_eq!(
            missing(&owner, &servant),
            vec![
                r#"{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}"#,
                r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list" "delete"]}"#,
            ]
        );
        assert!(
            missing(&owner, &[rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}))]).is_empty()
        );
    }

    #[test]
    fn stars_subresources_names_and_urls() {
        let admin = [
            rule(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})),
            rule(json!({"verbs": ["*"], "nonResourceURLs": ["*"]})),
        ];
        assert!(missing(&admin, &full_authority()).is_empty());
        let scale = [rule(json!({"verbs": ["update"], "apiGroups": ["apps"], "resources": ["*/scale"]}))];
        assert!(
            missing(
                &scale,
                &[rule(json!({"verbs": ["update"], "apiGroups": ["apps"], "resources": ["deployments/scale"]}))]
            )
            .is_empty()
        );
        assert_eq!(
            missing(&scale, &[rule(json!({"verbs": ["update"], "apiGroups": ["apps"], "resources": ["deployments"]}))]),
            vec![r#"{APIGroups:["apps"], Resources:["deployments"], Verbs:["update"]}"#]
        );
        let named =
            [rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"]}))];
        assert!(missing(&named, &named).is_empty());
        assert_eq!(
            missing(&named, &[rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}))]),
            vec![r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}"#],
            "a named grant does not cover every name"
        );
        let urls = [rule(json!({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/logs/*"]}))];
        assert_eq!(
            missing(&urls, &[rule(json!({"verbs": ["get", "post"], "nonResourceURLs": ["/logs/x", "/metrics"]}))]),
            vec![
                r#"{NonResourceURLs:["/logs/x"], Verbs:["post"]}"#,
                r#"{NonResourceURLs:["/metrics"], Verbs:["get"]}"#,
                r#"{NonResourceURLs:["/metrics"], Verbs:["post"]}"#,
            ]
        );
    }

    #[test]
    fn the_message_names_the_user_groups_and_resolution_errors() {
        let user = UserInfo {
            name: "alice".into(),
            groups: vec!["dev".into(), "system:authenticated".into()],
            ..UserInfo::default()
        };
        let pieces = breakdown(&rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]})));
        assert_eq!(
            escalation_message(&user, pieces.clone(), &[]),
            "user \"alice\" (groups=[\"dev\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}"
        );
        let errors = [registry_wording(r#"clusterrole.rbac.authorization.k8s.io "gone" not found"#)];
        assert!(
            escalation_message(&user, pieces, &errors)
                .ends_with(r#"; resolution errors: [clusterroles.rbac.authorization.k8s.io "gone" not found]"#)
        );
        assert_eq!(
            registry_wording(r#"role.rbac.authorization.k8s.io "r" not found"#),
            r#"roles.rbac.authorization.k8s.io "r" not found"#
        );
    }

    #[test]
    fn gc_field_updates_and_aggregation_rules() {
        let old = json!({"metadata": {"name": "r", "resourceVersion": "5", "finalizers": ["x"]}, "rules": []});
        let gc_only =
            json!({"metadata": {"name": "r", "resourceVersion": "5", "ownerReferences": [{"uid": "u"}]}, "rules": []});
        assert!(only_gc_fields_change(&gc_only, &old));
        let more = json!({"metadata": {"name": "r", "resourceVersion": "5"}, "rules": [{"verbs": ["get"]}]});
        assert!(!only_gc_fields_change(&more, &old));
        assert!(has_aggregation_rule(&json!({"aggregationRule": {"clusterRoleSelectors": [{}]}})));
        assert!(!has_aggregation_rule(&json!({"aggregationRule": {"clusterRoleSelectors": []}})));
        assert!(!has_aggregation_rule(&json!({"aggregationRule": null})));
    }
}

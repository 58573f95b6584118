//! `rbacv1.PolicyRule` and the matching helpers of `pkg/apis/rbac/v1/evaluation_helpers.go`
//! (`VerbMatches`, `APIGroupMatches`, `ResourceMatches`, `ResourceNameMatches`,
//! `NonResourceURLMatches`) combined as `RuleAllows` in `plugin/pkg/auth/authorizer/rbac`.
//! Rules are parsed once, when an object enters the index, so that matching touches no JSON.

use crate::auth::Attributes;
use serde_json::{Map, Value, json};

/// One rule of a Role or ClusterRole. A missing list, `null` and `[]` are the same empty list,
/// as Go's nil and empty slices are to the authorizer and to `equality.Semantic`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

fn strings(rule: &Value, field: &str) -> Vec<String> {
    let items = rule.get(field).and_then(Value::as_array).into_iter().flatten();
    items.filter_map(Value::as_str).map(String::from).collect()
}

impl PolicyRule {
    pub fn from_value(rule: &Value) -> Self {
        PolicyRule {
            verbs: strings(rule, "verbs"),
            api_groups: strings(rule, "apiGroups"),
            resources: strings(rule, "resources"),
            resource_names: strings(rule, "resourceNames"),
            non_resource_urls: strings(rule, "nonResourceURLs"),
        }
    }

    /// The `rules` of a Role or ClusterRole object (`null` or missing: none).
    pub fn all_from(object: &Value) -> Vec<PolicyRule> {
        object.get("rules").and_then(Value::as_array).into_iter().flatten().map(PolicyRule::from_value).collect()
    }

    /// `authorizationv1.ResourceRule` for a SelfSubjectRulesReview.
    pub fn resource_rule(&self) -> Value {
        let mut rule = Map::new();
        rule.insert("verbs".into(), json!(self.verbs));
        for (field, items) in
            [("apiGroups", &self.api_groups), ("resources", &self.resources), ("resourceNames", &self.resource_names)]
        {
            if !items.is_empty() {
                rule.insert(field.into(), json!(items));
            }
        }
        Value::Object(rule)
    }

    /// `authorizationv1.NonResourceRule` for a SelfSubjectRulesReview.
    pub fn non_resource_rule(&self) -> Value {
        json!({"verbs": self.verbs, "nonResourceURLs": self.non_resource_urls})
    }

    /// `RuleAllows`: whether this rule grants the request.
    pub fn allows(&self, request: &Request<'_>) -> bool {
        let attributes = request.attributes;
        if attributes.is_resource_request {
            verb_matches(self, &attributes.verb)
                && api_group_matches(self, &attributes.api_group)
                && resource_matches(self, &request.combined_resource, &attributes.subresource)
                && resource_name_matches(self, &attributes.name)
        } else {
            verb_matches(self, &attributes.verb) && non_resource_url_matches(self, &attributes.path)
        }
    }
}

/// A request prepared for matching against many rules: `resource/subresource` is built once.
pub(crate) struct Request<'a> {
    pub attributes: &'a Attributes,
    pub combined_resource: String,
}

impl<'a> Request<'a> {
    pub fn new(attributes: &'a Attributes) -> Self {
        let combined_resource = if attributes.subresource.is_empty() {
            attributes.resource.clone()
        } else {
            format!("{}/{}", attributes.resource, attributes.subresource)
        };
        Request { attributes, combined_resource }
    }
}

pub(crate) fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

pub(crate) fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups.iter().any(|g| g == "*" || g == group)
}

/// `*` matches everything, `pods/log` only that subresource, and `*/scale` the `scale`
/// subresource of any resource (but never a request without a subresource).
pub(crate) fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| {
        r == "*"
            || r == combined
            || (!subresource.is_empty()
                && r.len() == subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(subresource))
    })
}

/// An empty `resourceNames` matches every name, including none (list, create).
pub(crate) fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

/// `*` matches every path, an exact URL itself, and a URL ending in `*` every path that
/// starts with what precedes its trailing stars.
pub(crate) fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls
        .iter()
        .any(|u| u == "*" || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*'))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(value: Value) -> PolicyRule {
        PolicyRule::from_value(&value)
    }

    fn resource_request(verb: &str, group: &str, resource: &str, subresource: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            is_resource_request: true,
            namespace: "ns".into(),
            api_group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            name: name.into(),
            ..Attributes::default()
        }
    }

    fn allows(rule: &PolicyRule, attributes: &Attributes) -> bool {
        rule.allows(&Request::new(attributes))
    }

    #[test]
    fn verbs_and_groups_match_exactly_or_by_star() {
        let pods = rule(json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}));
        assert!(allows(&pods, &resource_request("get", "", "pods", "", "")));
        assert!(!allows(&pods, &resource_request("delete", "", "pods", "", "")));
        assert!(!allows(&pods, &resource_request("get", "apps", "pods", "", "")));
        let any = rule(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["pods"]}));
        assert!(allows(&any, &resource_request("escalate", "example.com", "pods", "", "")));
        let no_groups = rule(json!({"verbs": ["*"], "resources": ["pods"]}));
        assert!(!allows(&no_groups, &resource_request("get", "", "pods", "", "")), "no apiGroups matches no group");
    }

    #[test]
    fn subresources_need_their_own_entry() {
        let pods = rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}));
        assert!(!allows(&pods, &resource_request("get", "", "pods", "log", "p")));
        let log = rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}));
        assert!(allows(&log, &resource_request("get", "", "pods", "log", "p")));
        assert!(!allows(&log, &resource_request("get", "", "pods", "", "p")));
        let star = rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["*"]}));
        assert!(allows(&star, &resource_request("get", "", "pods", "exec", "p")));
    }

    #[test]
    fn star_slash_subresource_matches_that_subresource_of_any_resource() {
        let scale = rule(json!({"verbs": ["update"], "apiGroups": ["*"], "resources": ["*/scale"]}));
        assert!(allows(&scale, &resource_request("update", "apps", "deployments", "scale", "web")));
        assert!(allows(&scale, &resource_request("update", "", "replicationcontrollers", "scale", "rc")));
        assert!(!allows(&scale, &resource_request("update", "apps", "deployments", "", "web")));
        assert!(!allows(&scale, &resource_request("update", "apps", "deployments", "status", "web")));
        assert!(!allows(&scale, &resource_request("update", "apps", "deployments", "rescale", "web")));
    }

    #[test]
    fn resource_names_restrict_only_named_requests() {
        let one = rule(
            json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]}),
        );
        assert!(allows(&one, &resource_request("get", "", "configmaps", "", "a")));
        assert!(!allows(&one, &resource_request("get", "", "configmaps", "", "b")));
        assert!(!allows(&one, &resource_request("list", "", "configmaps", "", "")), "a list has no name");
    }

    #[test]
    fn non_resource_urls_match_exactly_or_by_trailing_star() {
        let urls = rule(json!({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*", "/logs**"]}));
        let path = |p: &str| Attributes { verb: "get".into(), path: p.into(), ..Attributes::default() };
        assert!(allows(&urls, &path("/healthz")));
        assert!(!allows(&urls, &path("/healthz/etcd")));
        assert!(allows(&urls, &path("/apis/apps/v1")));
        assert!(allows(&urls, &path("/apis/")));
        assert!(!allows(&urls, &path("/apis")), "/apis/* does not match /apis");
        assert!(allows(&urls, &path("/logsfoo")), "every trailing star is trimmed");
        let all = rule(json!({"verbs": ["get"], "nonResourceURLs": ["*"]}));
        assert!(allows(&all, &path("/anything")));
        let resource_only = rule(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
        assert!(!allows(&resource_only, &path("/healthz")), "resource rules grant no paths");
        assert!(!allows(&urls, &resource_request("get", "", "pods", "", "")), "path rules grant no resources");
    }

    #[test]
    fn served_forms_omit_empty_lists() {
        let r = rule(json!({"resources": ["pods"], "apiGroups": [""], "verbs": ["get"], "resourceNames": null}));
        assert_eq!(r.resource_rule().to_string(), r#"{"verbs":["get"],"apiGroups":[""],"resources":["pods"]}"#);
        let u = rule(json!({"verbs": ["get"], "nonResourceURLs": ["/x"]}));
        assert_eq!(u.non_resource_rule(), json!({"verbs": ["get"], "nonResourceURLs": ["/x"]}));
        assert_eq!(rule(json!({"verbs": null})), rule(json!({"verbs": []})));
    }
}

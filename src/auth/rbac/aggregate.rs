//! ClusterRole aggregation, as kube-controller-manager's `clusterrole-aggregation` controller
//! (`pkg/controller/clusterroleaggregation`) computes it: a ClusterRole with an
//! `aggregationRule` gets the rules of every other ClusterRole its `clusterRoleSelectors`
//! select, selector by selector, selected roles by name, each rule once (semantic equality).
//!
//! The controller recomputes a role whenever a role it selects changes, so an aggregated role
//! that selects another aggregated role (`admin` selects `edit`, which selects `view`) settles
//! after a few rounds; [`aggregate`] runs those rounds itself and returns the settled rules.
//! The same computation serves the bootstrap policy (at build time) and the runtime
//! controller (`controllers::cluster_role_aggregation`), which writes only the roles
//! [`outdated`] names.

use super::rules::PolicyRule;
use crate::selectors::LabelSelector;
use serde_json::Value;
use std::collections::BTreeMap;

struct Role<'a> {
    labels: &'a Value,
    /// The rules the object has now, parsed.
    stored: Vec<PolicyRule>,
    /// Rules as the rounds leave them: the original JSON, and its parsed form for comparisons.
    rules: Vec<(Value, PolicyRule)>,
    /// `Some` for an aggregated role: its selectors, parsed.
    selectors: Option<Vec<LabelSelector>>,
}

fn parse_rules(object: &Value) -> Vec<(Value, PolicyRule)> {
    let rules = object.get("rules").and_then(Value::as_array).into_iter().flatten();
    rules.map(|rule| (rule.clone(), PolicyRule::from_value(rule))).collect()
}

/// For each ClusterRole of `cluster_roles` that has an `aggregationRule`, by name: the rules it
/// aggregates, in the controller's order. A role whose selectors do not parse is left out (the
/// controller fails its sync and leaves it alone).
pub fn aggregate(cluster_roles: &[Value]) -> Vec<(String, Vec<Value>)> {
    settle(cluster_roles).into_iter().map(|(name, rules, _)| (name, rules)).collect()
}

/// As [`aggregate`], only the roles whose rules are not yet what aggregation gives them
/// (`equality.Semantic`: a missing, `null` or empty list are alike), so a writer that applies
/// these and nothing else never writes a role that is already settled.
pub fn outdated(cluster_roles: &[Value]) -> Vec<(String, Vec<Value>)> {
    settle(cluster_roles).into_iter().filter(|(_, _, changed)| *changed).map(|(name, rules, _)| (name, rules)).collect()
}

/// Each aggregated role by name: its settled rules, and whether they differ from its stored ones.
fn settle(cluster_roles: &[Value]) -> Vec<(String, Vec<Value>, bool)> {
    let mut roles: BTreeMap<&str, Role<'_>> = BTreeMap::new();
    for object in cluster_roles {
        let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str) else { continue };
        let selectors = match object.get("aggregationRule") {
            Some(rule @ Value::Object(_)) => {
                let items = rule.get("clusterRoleSelectors").and_then(Value::as_array).into_iter().flatten();
                match items.map(LabelSelector::from_label_selector).collect::<Result<Vec<_>, _>>() {
                    Ok(selectors) => Some(selectors),
                    Err(_) => continue,
                }
            }
            _ => None,
        };
        let labels = object.pointer("/metadata/labels").unwrap_or(&Value::Null);
        let rules = parse_rules(object);
        let stored = rules.iter().map(|(_, rule)| rule.clone()).collect();
        roles.insert(name, Role { labels, stored, rules, selectors });
    }
    let aggregated: Vec<&str> = roles.iter().filter(|(_, r)| r.selectors.is_some()).map(|(n, _)| *n).collect();
    // Each round can only carry rules one level further up a chain of aggregated roles.
    for _ in 0..=aggregated.len() {
        let mut changed = false;
        for name in &aggregated {
            let rules = aggregate_one(&roles, name);
            let role = roles.get_mut(name).expect("aggregated roles are indexed");
            if rules.iter().map(|(_, p)| p).ne(role.rules.iter().map(|(_, p)| p)) {
                role.rules = rules;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    aggregated
        .into_iter()
        .map(|name| {
            let role = &roles[name];
            let changed = role.rules.iter().map(|(_, rule)| rule).ne(role.stored.iter());
            (name.to_string(), role.rules.iter().map(|(value, _)| value.clone()).collect(), changed)
        })
        .collect()
}

/// One sync of the controller for `name`.
fn aggregate_one(roles: &BTreeMap<&str, Role<'_>>, name: &str) -> Vec<(Value, PolicyRule)> {
    let mut rules: Vec<(Value, PolicyRule)> = Vec::new();
    for selector in roles[name].selectors.iter().flatten() {
        for (other, role) in roles {
            if *other == name || !selector.matches(role.labels) {
                continue;
            }
            for (value, rule) in &role.rules {
                if !rules.iter().any(|(_, seen)| seen == rule) {
                    rules.push((value.clone(), rule.clone()));
                }
            }
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn role(name: &str, labels: Value, rules: Value) -> Value {
        json!({"kind": "ClusterRole", "metadata": {"name": name, "labels": labels}, "rules": rules})
    }

    fn aggregating(name: &str, labels: Value, selectors: Value) -> Value {
        json!({"kind": "ClusterRole", "metadata": {"name": name, "labels": labels},
               "aggregationRule": {"clusterRoleSelectors": selectors}, "rules": null})
    }

    fn read(resource: &str) -> Value {
        json!({"verbs": ["get"], "apiGroups": [""], "resources": [resource]})
    }

    #[test]
    fn unions_selected_roles_by_name_without_duplicates() {
        let roles = [
            aggregating("reader", json!({}), json!([{"matchLabels": {"agg": "reader"}}])),
            role("b-pods", json!({"agg": "reader"}), json!([read("pods"), read("secrets")])),
            role("a-config", json!({"agg": "reader"}), json!([read("configmaps"), read("pods")])),
            role("unrelated", json!({"agg": "other"}), json!([read("nodes")])),
        ];
        let result = aggregate(&roles);
        assert_eq!(result, vec![("reader".to_string(), vec![read("configmaps"), read("pods"), read("secrets")])]);
    }

    #[test]
    fn duplicates_are_semantic_not_textual() {
        let with_null = json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": null});
        let roles = [
            aggregating("x", json!({}), json!([{"matchLabels": {"a": "1"}}])),
            role("one", json!({"a": "1"}), json!([with_null])),
            role("two", json!({"a": "1"}), json!([read("pods")])),
        ];
        assert_eq!(aggregate(&roles)[0].1.len(), 1);
    }

    #[test]
    fn chains_settle_and_roles_do_not_select_themselves() {
        let roles = [
            aggregating("admin", json!({}), json!([{"matchLabels": {"to-admin": "true"}}])),
            aggregating("edit", json!({"to-admin": "true"}), json!([{"matchLabels": {"to-edit": "true"}}])),
            aggregating("view", json!({"to-edit": "true"}), json!([{"matchLabels": {"to-view": "true"}}])),
            role("view-bits", json!({"to-view": "true"}), json!([read("pods")])),
            role("edit-bits", json!({"to-edit": "true"}), json!([read("secrets")])),
            json!({"kind": "ClusterRole", "metadata": {"name": "loop", "labels": {"to-view": "true"}},
                   "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"to-view": "true"}}]},
                   "rules": [read("stale")]}),
        ];
        let result: BTreeMap<String, Vec<Value>> = aggregate(&roles).into_iter().collect();
        assert_eq!(result["view"], vec![read("pods")]);
        assert_eq!(result["edit"], vec![read("secrets"), read("pods")]);
        assert_eq!(result["admin"], vec![read("secrets"), read("pods")]);
        assert_eq!(result["loop"], vec![read("pods")], "its own stale rules are not kept");
        assert_eq!(result.len(), 4);
    }

    #[test]
    fn match_expressions_work_and_bad_selectors_are_skipped() {
        let roles = [
            aggregating(
                "exp",
                json!({}),
                json!([{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}]),
            ),
            aggregating("bad", json!({}), json!([{"matchExpressions": [{"key": "tier", "operator": "Near"}]}])),
            aggregating("empty", json!({}), json!([])),
            role("tiered", json!({"tier": "a"}), json!([read("pods")])),
        ];
        let result: BTreeMap<String, Vec<Value>> = aggregate(&roles).into_iter().collect();
        assert_eq!(result["exp"], vec![read("pods")]);
        assert_eq!(result["empty"], Vec::<Value>::new());
        assert!(!result.contains_key("bad"));
    }

    #[test]
    fn outdated_names_only_roles_whose_rules_change() {
        let settled = json!({"kind": "ClusterRole", "metadata": {"name": "settled"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "1"}}]}, "rules": [read("pods")]});
        let empty_null = aggregating("nothing-selected", json!({}), json!([{"matchLabels": {"none": "1"}}]));
        let stale = json!({"kind": "ClusterRole", "metadata": {"name": "stale"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "1"}}]}, "rules": [read("nodes")]});
        let lost = json!({"kind": "ClusterRole", "metadata": {"name": "lost"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"gone": "1"}}]}, "rules": [read("nodes")]});
        let roles = [settled, empty_null, stale, lost, role("pods", json!({"a": "1"}), json!([read("pods")]))];
        assert_eq!(
            outdated(&roles),
            vec![("lost".to_string(), Vec::<Value>::new()), ("stale".to_string(), vec![read("pods")])],
            "a role already holding its rules (or none, as null) is not rewritten"
        );
    }
}

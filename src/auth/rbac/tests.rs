//! Tests of the RBAC index: subjects, scopes, role resolution, reasons and rules reviews.

use super::*;
use serde_json::json;

fn user(name: &str, groups: &[&str]) -> UserInfo {
    UserInfo { name: name.into(), groups: groups.iter().map(|g| g.to_string()).collect(), ..UserInfo::default() }
}

fn service_account(namespace: &str, name: &str) -> UserInfo {
    let groups = ["system:serviceaccounts".to_string(), format!("system:serviceaccounts:{namespace}")];
    UserInfo { name: format!("system:serviceaccount:{namespace}:{name}"), groups: groups.into(), ..UserInfo::default() }
}

fn request(verb: &str, namespace: &str, group: &str, resource: &str, name: &str) -> Attributes {
    Attributes::resource(verb, namespace, group, resource, name)
}

fn path(verb: &str, path: &str) -> Attributes {
    Attributes { verb: verb.into(), path: path.into(), ..Attributes::default() }
}

fn cluster_role(name: &str, rules: Value) -> Value {
    json!({"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": name}, "rules": rules})
}

fn role(namespace: &str, name: &str, rules: Value) -> Value {
    json!({"kind": "Role", "metadata": {"name": name, "namespace": namespace}, "rules": rules})
}

fn cluster_binding(name: &str, role: &str, subjects: Value) -> Value {
    json!({"kind": "ClusterRoleBinding", "metadata": {"name": name}, "subjects": subjects,
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}})
}

fn binding(namespace: &str, name: &str, role_kind: &str, role: &str, subjects: Value) -> Value {
    json!({"kind": "RoleBinding", "metadata": {"name": name, "namespace": namespace}, "subjects": subjects,
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role}})
}

fn read_pods() -> Value {
    json!([{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}])
}

fn allowed(index: &RbacIndex, who: &UserInfo, attributes: &Attributes) -> bool {
    index.authorize(who, attributes) == Decision::Allow
}

#[test]
fn user_subjects_name_one_user() {
    let index = RbacIndex::from_objects(&[
        cluster_role("reader", read_pods()),
        cluster_binding("alice-reads", "reader", json!([{"kind": "User", "name": "alice"}])),
    ]);
    let list = request("list", "default", "", "pods", "");
    assert_eq!(
        index.authorize_with_reason(&user("alice", &[]), &list),
        (
            Decision::Allow,
            r#"RBAC: allowed by ClusterRoleBinding "alice-reads" of ClusterRole "reader" to User "alice""#.into()
        )
    );
    assert_eq!(index.authorize(&user("bob", &["alice"]), &list), Decision::NoOpinion(String::new()));
    assert!(!allowed(&index, &user("alice", &[]), &request("delete", "default", "", "pods", "x")));
}

#[test]
fn group_subjects_match_any_member() {
    let index = RbacIndex::from_objects(&[
        cluster_role("reader", read_pods()),
        cluster_binding("devs-read", "reader", json!([{"kind": "Group", "name": "devs"}])),
    ]);
    let get = request("get", "ns", "", "pods", "p");
    let (decision, reason) = index.authorize_with_reason(&user("carol", &["system:authenticated", "devs"]), &get);
    assert_eq!(decision, Decision::Allow);
    assert_eq!(reason, r#"RBAC: allowed by ClusterRoleBinding "devs-read" of ClusterRole "reader" to Group "devs""#);
    assert!(!allowed(&index, &user("devs", &[]), &get), "a group subject does not match a user of that name");
}

#[test]
fn the_reason_names_the_first_subject_that_applies() {
    let subjects =
        json!([{"kind": "User", "name": "zed"}, {"kind": "Group", "name": "all"}, {"kind": "User", "name": "amy"}]);
    let index =
        RbacIndex::from_objects(&[cluster_role("reader", read_pods()), cluster_binding("b", "reader", subjects)]);
    let (_, reason) = index.authorize_with_reason(&user("amy", &["all"]), &request("list", "", "", "pods", ""));
    assert!(reason.ends_with(r#"to Group "all""#), "{reason}");
}

#[test]
fn service_account_subjects_default_to_the_binding_namespace() {
    let index = RbacIndex::from_objects(&[
        role("ns", "reader", read_pods()),
        binding("ns", "robots", "Role", "reader", json!([{"kind": "ServiceAccount", "name": "robot"}])),
        binding(
            "ns",
            "visitor",
            "Role",
            "reader",
            json!([{"kind": "ServiceAccount", "name": "guest", "namespace": "other"}]),
        ),
    ]);
    let list = request("list", "ns", "", "pods", "");
    let (decision, reason) = index.authorize_with_reason(&service_account("ns", "robot"), &list);
    assert_eq!(decision, Decision::Allow);
    assert_eq!(reason, r#"RBAC: allowed by RoleBinding "robots/ns" of Role "reader" to ServiceAccount "robot/ns""#);
    assert!(!allowed(&index, &service_account("other", "robot"), &list));
    let (decision, reason) = index.authorize_with_reason(&service_account("other", "guest"), &list);
    assert_eq!(decision, Decision::Allow);
    assert!(reason.ends_with(r#"to ServiceAccount "guest/other""#), "{reason}");
    assert!(!allowed(&index, &service_account("ns", "guest"), &list));
    assert!(!allowed(&index, &user("robot", &[]), &list));
}

#[test]
fn cluster_binding_service_accounts_need_a_namespace() {
    let index = RbacIndex::from_objects(&[
        cluster_role("reader", read_pods()),
        cluster_binding("bare", "reader", json!([{"kind": "ServiceAccount", "name": "robot"}])),
        cluster_binding("full", "reader", json!([{"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}])),
    ]);
    let list = request("list", "ci", "", "pods", "");
    assert!(!allowed(&index, &service_account("ci", "robot"), &list));
    assert!(allowed(&index, &service_account("ci", "bot"), &list));
    assert!(allowed(&index, &service_account("ci", "bot"), &request("list", "", "", "pods", "")));
}

#[test]
fn role_bindings_to_cluster_roles_stay_in_their_namespace() {
    let index = RbacIndex::from_objects(&[
        cluster_role(
            "everything",
            json!([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}]),
        ),
        binding("team", "owners", "ClusterRole", "everything", json!([{"kind": "User", "name": "dana"}])),
    ]);
    let dana = user("dana", &[]);
    let (decision, reason) =
        index.authorize_with_reason(&dana, &request("delete", "team", "apps", "deployments", "web"));
    assert_eq!(decision, Decision::Allow);
    assert_eq!(reason, r#"RBAC: allowed by RoleBinding "owners/team" of ClusterRole "everything" to User "dana""#);
    assert!(!allowed(&index, &dana, &request("delete", "other", "apps", "deployments", "web")));
    assert!(!allowed(&index, &dana, &request("list", "", "apps", "deployments", "")), "not across namespaces");
    assert!(!allowed(&index, &dana, &request("get", "", "", "nodes", "n1")));
    assert!(!allowed(&index, &dana, &path("get", "/healthz")), "RoleBindings never grant paths");
    let mut index = index;
    index.apply(&binding("", "stray", "ClusterRole", "everything", json!([{"kind": "User", "name": "dana"}])));
    assert!(!allowed(&index, &dana, &path("get", "/healthz")), "not even one without a namespace");
    assert!(!allowed(&index, &dana, &request("get", "", "", "nodes", "n1")));
}

#[test]
fn cluster_role_bindings_grant_everywhere_and_paths() {
    let index = RbacIndex::from_objects(&[
        cluster_role(
            "ops",
            json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["nodes", "pods"]}, {"verbs": ["get"], "nonResourceURLs": ["/metrics", "/debug/*"]}]),
        ),
        cluster_binding("ops", "ops", json!([{"kind": "Group", "name": "ops"}])),
    ]);
    let erin = user("erin", &["ops"]);
    assert!(allowed(&index, &erin, &request("get", "any", "", "pods", "p")));
    assert!(allowed(&index, &erin, &request("get", "", "", "nodes", "n")));
    assert!(allowed(&index, &erin, &path("get", "/metrics")));
    assert!(allowed(&index, &erin, &path("get", "/debug/pprof/heap")));
    assert!(!allowed(&index, &erin, &path("get", "/debug")));
    assert!(!allowed(&index, &erin, &path("post", "/metrics")));
}

#[test]
fn missing_roles_are_reported_as_upstream_words_them() {
    let index = RbacIndex::from_objects(&[
        cluster_binding("gone", "vanished", json!([{"kind": "User", "name": "frank"}])),
        binding("ns", "local", "Role", "absent", json!([{"kind": "User", "name": "frank"}])),
        binding("ns", "odd", "Policy", "x", json!([{"kind": "User", "name": "frank"}])),
        cluster_binding("not-mine", "vanished", json!([{"kind": "User", "name": "someone-else"}])),
    ]);
    let frank = user("frank", &[]);
    assert_eq!(
        index.authorize(&frank, &request("get", "", "", "nodes", "n")),
        Decision::NoOpinion(r#"RBAC: clusterrole.rbac.authorization.k8s.io "vanished" not found"#.into())
    );
    assert_eq!(
        index.authorize(&frank, &request("get", "ns", "", "pods", "p")),
        Decision::NoOpinion(
            r#"RBAC: [clusterrole.rbac.authorization.k8s.io "vanished" not found, role.rbac.authorization.k8s.io "absent" not found, unsupported role reference kind: "Policy"]"#.into()
        )
    );
    assert_eq!(
        index.evaluation_error(&frank, ""),
        Some(r#"clusterrole.rbac.authorization.k8s.io "vanished" not found"#.into())
    );
    assert_eq!(index.evaluation_error(&user("nobody", &[]), "ns"), None);
}

#[test]
fn roles_are_resolved_when_used_and_follow_updates() {
    let mut index = RbacIndex::new();
    index.apply(&binding("ns", "b", "Role", "r", json!([{"kind": "User", "name": "gil"}])));
    let gil = user("gil", &[]);
    let get = request("get", "ns", "", "pods", "p");
    assert!(!allowed(&index, &gil, &get));
    index.apply(&role("ns", "r", read_pods()));
    assert!(allowed(&index, &gil, &get), "a role created after its binding counts");
    index.apply(&role("ns", "r", json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}])));
    assert!(!allowed(&index, &gil, &get), "a replaced role's old rules are gone");
    index.apply(&role("ns", "r", read_pods()));
    index.apply(&binding("ns", "b", "Role", "r", json!([{"kind": "User", "name": "hal"}])));
    assert!(!allowed(&index, &gil, &get), "a replaced binding's old subjects are gone");
    assert!(allowed(&index, &user("hal", &[]), &get));
    index.remove("RoleBinding", Some("ns"), "b");
    assert!(!allowed(&index, &user("hal", &[]), &get));
    index.apply(&binding("ns", "b", "Role", "r", json!([{"kind": "User", "name": "hal"}])));
    index.remove("Role", Some("ns"), "r");
    assert_eq!(
        index.authorize(&user("hal", &[]), &get),
        Decision::NoOpinion(r#"RBAC: role.rbac.authorization.k8s.io "r" not found"#.into())
    );
}

#[test]
fn cluster_objects_are_removed_by_name() {
    let mut index = RbacIndex::from_objects(&[
        cluster_role("reader", read_pods()),
        cluster_binding("b", "reader", json!([{"kind": "Group", "name": "g"}])),
    ]);
    let member = user("m", &["g"]);
    let list = request("list", "", "", "pods", "");
    assert!(allowed(&index, &member, &list));
    index.remove("ClusterRoleBinding", None, "b");
    assert!(!allowed(&index, &member, &list));
    index.apply(&cluster_binding("b", "reader", json!([{"kind": "Group", "name": "g"}])));
    index.remove("ClusterRole", None, "reader");
    assert!(!allowed(&index, &member, &list));
}

#[test]
fn rules_reviews_list_cluster_and_namespace_rules() {
    let index = RbacIndex::from_objects(&[
        cluster_role("paths", json!([{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}])),
        cluster_role(
            "mixed",
            json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"], "nonResourceURLs": ["/x"]}]),
        ),
        role("a", "pods", read_pods()),
        role(
            "b",
            "secrets",
            json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"]}]),
        ),
        cluster_binding("paths", "paths", json!([{"kind": "Group", "name": "system:authenticated"}])),
        cluster_binding("mixed", "mixed", json!([{"kind": "User", "name": "ivy"}])),
        binding("a", "pods", "Role", "pods", json!([{"kind": "User", "name": "ivy"}])),
        binding("b", "secrets", "Role", "secrets", json!([{"kind": "User", "name": "ivy"}])),
    ]);
    let ivy = user("ivy", &["system:authenticated"]);
    let (resources, paths) = index.rules_for(&ivy, "a");
    assert_eq!(
        resources,
        vec![
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]}),
            json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}),
        ]
    );
    assert_eq!(
        paths,
        vec![
            json!({"verbs": ["get"], "nonResourceURLs": ["/x"]}),
            json!({"verbs": ["get"], "nonResourceURLs": ["/healthz"]})
        ]
    );
    let (resources, _) = index.rules_for(&ivy, "b");
    assert_eq!(
        resources[1],
        json!({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"]})
    );
    let (resources, paths) = index.rules_for(&user("stranger", &[]), "a");
    assert!(resources.is_empty() && paths.is_empty());
}

#[test]
fn a_decision_looks_only_at_the_bindings_of_the_user() {
    let mut objects = vec![cluster_role("reader", read_pods()), role("ns", "reader", read_pods())];
    for i in 0..1000 {
        let subjects =
            json!([{"kind": "User", "name": format!("user-{i}")}, {"kind": "Group", "name": format!("group-{i}")}]);
        objects.push(cluster_binding(&format!("crb-{i}"), "reader", subjects.clone()));
        objects.push(binding("ns", &format!("rb-{i}"), "Role", "reader", subjects));
    }
    objects.push(cluster_binding("shared", "reader", json!([{"kind": "Group", "name": "system:authenticated"}])));
    let index = RbacIndex::from_objects(&objects);
    let someone = user("user-7", &["group-9", "system:authenticated"]);
    assert_eq!(index.candidate_count(&someone, "ns"), 5, "crb-7, crb-9, shared, rb-7, rb-9");
    assert_eq!(index.candidate_count(&user("outsider", &[]), "ns"), 0);
    assert!(allowed(&index, &user("user-999", &[]), &request("list", "elsewhere", "", "pods", "")));
    assert!(!allowed(&index, &user("user-1000", &[]), &request("list", "ns", "", "pods", "")));
}

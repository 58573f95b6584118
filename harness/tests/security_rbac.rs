//! End-to-end: RBAC as kube-controller-manager and kube-apiserver maintain it. ClusterRoles
//! labelled `aggregate-to-{view,edit,admin}` flow into the default roles (and a user's own
//! aggregated role) within milliseconds and flow out again when the label or the role goes,
//! the authorizer follows, and a fresh server settles without a write. Writes of roles and
//! bindings are refused, with kube-apiserver's wording, when they would grant permissions the
//! writer does not hold, unless the writer may `escalate` or `bind`.

use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kubetwin_harness::TestServer;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::time::Duration;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn status_of(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn object<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}

fn rule(group: &str, resource: &str, verbs: &[&str]) -> Value {
    json!({"apiGroups": [group], "resources": [resource], "verbs": verbs})
}

fn policy_rule(rule: &Value) -> PolicyRule {
    object(rule.clone())
}

async fn rules_of(roles: &Api<ClusterRole>, name: &str) -> Vec<PolicyRule> {
    roles.get(name).await.unwrap().rules.unwrap_or_default()
}

/// Waits (up to two seconds) until `name`'s rules satisfy `wanted`.
async fn wait_for_rules(roles: &Api<ClusterRole>, name: &str, what: &str, wanted: impl Fn(&[PolicyRule]) -> bool) {
    for _ in 0..200 {
        if wanted(&rules_of(roles, name).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{name}: {what}; its rules are {:?}", rules_of(roles, name).await);
}

async fn wait_until_holds(roles: &Api<ClusterRole>, name: &str, rule: &Value) {
    let rule = policy_rule(rule);
    wait_for_rules(roles, name, &format!("never got {rule:?}"), |rules| rules.contains(&rule)).await;
}

async fn wait_until_lacks(roles: &Api<ClusterRole>, name: &str, rule: &Value) {
    let rule = policy_rule(rule);
    wait_for_rules(roles, name, &format!("kept {rule:?}"), |rules| !rules.contains(&rule)).await;
}

async fn create_cluster_role(twin: &TestServer, name: &str, labels: Value, rules: Value) {
    let roles: Api<ClusterRole> = Api::all(twin.client());
    let role = json!({"metadata": {"name": name, "labels": labels}, "rules": rules});
    roles.create(&PostParams::default(), &object(role)).await.unwrap();
}

/// Gives `alice` `rules` cluster-wide: a ClusterRole and a ClusterRoleBinding named `name`.
async fn grant_alice(twin: &TestServer, name: &str, rules: Value) {
    create_cluster_role(twin, name, json!({}), rules).await;
    let bindings: Api<ClusterRoleBinding> = Api::all(twin.client());
    let binding = json!({"metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": RBAC_GROUP}]});
    bindings.create(&PostParams::default(), &object(binding)).await.unwrap();
}

#[tokio::test]
async fn labelled_roles_flow_into_view_edit_and_admin_and_out_again() {
    let twin = TestServer::start().await.unwrap();
    let roles: Api<ClusterRole> = Api::all(twin.client());
    let widgets = rule("example.com", "widgets", &["get", "list", "watch"]);
    create_cluster_role(
        &twin,
        "widget-viewer",
        json!({"rbac.authorization.k8s.io/aggregate-to-view": "true"}),
        json!([widgets]),
    )
    .await;
    for aggregated in ["view", "edit", "admin"] {
        wait_until_holds(&roles, aggregated, &widgets).await;
    }
    let unlabel = json!({"metadata": {"labels": {"rbac.authorization.k8s.io/aggregate-to-view": null}}});
    roles.patch("widget-viewer", &PatchParams::default(), &Patch::Merge(&unlabel)).await.unwrap();
    for aggregated in ["view", "edit", "admin"] {
        wait_until_lacks(&roles, aggregated, &widgets).await;
    }

    let gadgets = rule("example.com", "gadgets", &["create", "delete"]);
    create_cluster_role(
        &twin,
        "gadget-editor",
        json!({"rbac.authorization.k8s.io/aggregate-to-edit": "true"}),
        json!([gadgets]),
    )
    .await;
    wait_until_holds(&roles, "edit", &gadgets).await;
    wait_until_holds(&roles, "admin", &gadgets).await;
    assert!(!rules_of(&roles, "view").await.contains(&policy_rule(&gadgets)), "edit's rules do not flow down to view");
    let edit = roles.get("edit").await.unwrap();
    let managers: Vec<_> =
        edit.metadata.managed_fields.iter().flatten().map(|m| (m.manager.clone(), m.operation.clone())).collect();
    assert!(
        managers.contains(&(Some("clusterrole-aggregation-controller".into()), Some("Apply".into()))),
        "{managers:?}"
    );
    roles.delete("gadget-editor", &DeleteParams::default()).await.unwrap();
    wait_until_lacks(&roles, "edit", &gadgets).await;
    wait_until_lacks(&roles, "admin", &gadgets).await;
}

#[tokio::test]
async fn a_users_aggregated_role_gathers_selected_roles_by_name() {
    let twin = TestServer::start().await.unwrap();
    let roles: Api<ClusterRole> = Api::all(twin.client());
    let monitoring = json!({"metadata": {"name": "monitoring"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"example.com/monitoring": "true"}}]}});
    roles.create(&PostParams::default(), &object(monitoring)).await.unwrap();
    let (pods, services) = (rule("", "pods", &["get", "list"]), rule("", "services", &["get", "list"]));
    let label = json!({"example.com/monitoring": "true"});
    create_cluster_role(&twin, "monitoring-pods", label.clone(), json!([pods, services])).await;
    create_cluster_role(&twin, "monitoring-a-services", label, json!([services])).await;
    let expected = vec![policy_rule(&services), policy_rule(&pods)];
    wait_for_rules(&roles, "monitoring", "selected roles by name, each rule once", |rules| rules == expected).await;

    for name in ["monitoring-pods", "monitoring-a-services"] {
        roles.delete(name, &DeleteParams::default()).await.unwrap();
    }
    wait_for_rules(&roles, "monitoring", "selecting nothing leaves no rules", <[PolicyRule]>::is_empty).await;
}

#[tokio::test]
async fn a_fresh_server_settles_without_an_aggregation_write() {
    let twin = TestServer::start().await.unwrap();
    let store = &twin.server().instance().store;
    let revision = store.current_revision();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.current_revision(), revision, "the bootstrap roles are already aggregated");
    let roles: Api<ClusterRole> = Api::all(twin.client());
    for name in ["admin", "edit", "view"] {
        let role = roles.get(name).await.unwrap();
        let managers: Vec<_> =
            role.metadata.managed_fields.iter().flatten().filter_map(|m| m.manager.clone()).collect();
        assert!(!managers.iter().any(|m| m == "clusterrole-aggregation-controller"), "{name}: {managers:?}");
        assert!(!role.rules.unwrap_or_default().is_empty(), "{name} has its aggregated rules");
    }
}

#[tokio::test]
async fn a_service_account_bound_to_edit_gains_what_is_aggregated_to_edit() {
    let twin = TestServer::start().await.unwrap();
    let accounts: Api<ServiceAccount> = Api::namespaced(twin.client(), "default");
    accounts.create(&PostParams::default(), &object(json!({"metadata": {"name": "robot"}}))).await.unwrap();
    let bindings: Api<ClusterRoleBinding> = Api::all(twin.client());
    let binding = json!({"metadata": {"name": "robot-edit"},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "default"}]});
    bindings.create(&PostParams::default(), &object(binding)).await.unwrap();
    let robot = twin.client_for_service_account("default", "robot").await.unwrap();
    let nodes: Api<Node> = Api::all(robot);
    let denied = status_of(nodes.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(denied.code, 403, "edit does not list nodes");

    let node_lister = rule("", "nodes", &["list"]);
    create_cluster_role(
        &twin,
        "node-lister",
        json!({"rbac.authorization.k8s.io/aggregate-to-edit": "true"}),
        json!([node_lister]),
    )
    .await;
    for _ in 0..200 {
        if nodes.list(&ListParams::default()).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the aggregated rule never let the ServiceAccount list nodes");
}

fn escalation(resource: &str, name: &str, missing: &str) -> String {
    format!(
        "{resource}.rbac.authorization.k8s.io \"{name}\" is forbidden: user \"alice\" (groups=[\"dev\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{missing}"
    )
}

#[tokio::test]
async fn roles_granting_what_the_writer_lacks_are_refused_unless_they_may_escalate() {
    let twin = TestServer::start().await.unwrap();
    let rbac_writer = rule(RBAC_GROUP, "roles", &["create", "get", "update"]);
    let cluster_role_writer = rule(RBAC_GROUP, "clusterroles", &["create"]);
    grant_alice(&twin, "rbac-writer", json!([rbac_writer, cluster_role_writer, rule("", "configmaps", &["get"])]))
        .await;
    let alice = twin.client_as_user("alice", &["dev"]).await.unwrap();
    let roles: Api<Role> = Api::namespaced(alice.clone(), "default");
    let secret_reader: Role =
        object(json!({"metadata": {"name": "secret-reader"}, "rules": [rule("", "secrets", &["get"])]}));

    let refused = status_of(roles.create(&PostParams::default(), &secret_reader).await.unwrap_err());
    assert_eq!((refused.code, refused.reason.as_str()), (403, "Forbidden"));
    let missing = r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}"#;
    assert_eq!(refused.message, escalation("roles", "secret-reader", missing));

    let mut held: Role =
        object(json!({"metadata": {"name": "cm-reader"}, "rules": [rule("", "configmaps", &["get"])]}));
    held = roles.create(&PostParams::default(), &held).await.expect("alice holds what cm-reader grants");
    held.rules = Some(vec![policy_rule(&rule("", "configmaps", &["get", "delete"]))]);
    let refused = status_of(roles.replace("cm-reader", &PostParams::default(), &held).await.unwrap_err());
    let missing = r#"{APIGroups:[""], Resources:["configmaps"], Verbs:["delete"]}"#;
    assert_eq!(refused.message, escalation("roles", "cm-reader", missing), "updates are checked too");

    let aggregating: ClusterRole = object(json!({"metadata": {"name": "aggregator"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}}));
    let cluster_roles: Api<ClusterRole> = Api::all(alice.clone());
    let refused = status_of(cluster_roles.create(&PostParams::default(), &aggregating).await.unwrap_err());
    assert_eq!(
        refused.message,
        "clusterroles.rbac.authorization.k8s.io \"aggregator\" is forbidden: must have cluster-admin privileges to use the aggregationRule"
    );

    grant_alice(&twin, "escalator", json!([rule(RBAC_GROUP, "roles", &["escalate"])])).await;
    roles.create(&PostParams::default(), &secret_reader).await.expect("escalate lifts the check");
    roles.replace("cm-reader", &PostParams::default(), &held).await.expect("for updates too");
}

#[tokio::test]
async fn binding_a_role_the_writer_does_not_hold_needs_bind_on_that_role() {
    let twin = TestServer::start().await.unwrap();
    grant_alice(&twin, "binding-writer", json!([rule(RBAC_GROUP, "clusterrolebindings", &["create"])])).await;
    let alice = twin.client_as_user("alice", &["dev"]).await.unwrap();
    let bindings: Api<ClusterRoleBinding> = Api::all(alice);
    let binding_to = |name: &str, role: &str| -> ClusterRoleBinding {
        object(json!({"metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "name": "alice", "apiGroup": RBAC_GROUP}]}))
    };

    let refused = status_of(
        bindings.create(&PostParams::default(), &binding_to("alice-admin", "cluster-admin")).await.unwrap_err(),
    );
    assert_eq!((refused.code, refused.reason.as_str()), (403, "Forbidden"));
    let missing = "{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}\n{NonResourceURLs:[\"*\"], Verbs:[\"*\"]}";
    assert_eq!(refused.message, escalation("clusterrolebindings", "alice-admin", missing));
    let absent =
        status_of(bindings.create(&PostParams::default(), &binding_to("alice-ghost", "ghost")).await.unwrap_err());
    assert_eq!(
        (absent.code, absent.message.as_str()),
        (404, "clusterroles.rbac.authorization.k8s.io \"ghost\" not found")
    );

    let mut bind = rule(RBAC_GROUP, "clusterroles", &["bind"]);
    bind["resourceNames"] = json!(["cluster-admin"]);
    grant_alice(&twin, "cluster-admin-binder", json!([bind])).await;
    let refused =
        status_of(bindings.create(&PostParams::default(), &binding_to("alice-edit", "edit")).await.unwrap_err());
    assert_eq!(refused.code, 403, "bind names cluster-admin only");
    bindings
        .create(&PostParams::default(), &binding_to("alice-admin", "cluster-admin"))
        .await
        .expect("bind on cluster-admin");
}

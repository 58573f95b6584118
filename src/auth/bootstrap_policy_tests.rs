//! Tests of the bootstrap policy: its shape, and what it grants the usual identities.

use super::*;
use crate::auth::rbac::RbacIndex;
use crate::auth::{Attributes, Decision, UserInfo};
use serde_json::json;
use std::collections::BTreeSet;

#[test]
fn the_served_json_is_the_expansion_of_the_yaml() {
    let expanded = expansion::expand(include_str!("bootstrap_policy.yaml"));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/auth/bootstrap_policy.json");
    if std::env::var_os("KUBETWIN_REGENERATE").is_some() {
        let text = serde_json::to_string_pretty(&expanded).expect("serializes") + "\n";
        std::fs::write(path, text).expect("writing bootstrap_policy.json");
        return;
    }
    assert!(
        bootstrap_policy() == expanded,
        "src/auth/bootstrap_policy.json is out of date: KUBETWIN_REGENERATE=1 cargo test --lib bootstrap_policy"
    );
}

fn index() -> RbacIndex {
    RbacIndex::from_objects(&bootstrap_policy())
}

fn find(kind: &str, name: &str) -> Value {
    let found = bootstrap_policy().into_iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name);
    found.unwrap_or_else(|| panic!("{kind} {name} is in the policy"))
}

fn user(name: &str, groups: &[&str]) -> UserInfo {
    UserInfo { name: name.into(), groups: groups.iter().map(|g| g.to_string()).collect(), ..UserInfo::default() }
}

fn authenticated(name: &str) -> UserInfo {
    user(name, &["system:authenticated"])
}

fn anonymous() -> UserInfo {
    user("system:anonymous", &["system:unauthenticated"])
}

fn request(verb: &str, namespace: &str, group: &str, resource: &str, name: &str) -> Attributes {
    Attributes::resource(verb, namespace, group, resource, name)
}

fn path(path: &str) -> Attributes {
    Attributes { verb: "get".into(), path: path.into(), ..Attributes::default() }
}

fn allowed(index: &RbacIndex, who: &UserInfo, attributes: &Attributes) -> bool {
    index.authorize(who, attributes) == Decision::Allow
}

#[test]
fn objects_carry_the_bootstrap_metadata() {
    let policy = bootstrap_policy();
    let mut seen = BTreeSet::new();
    for object in &policy {
        let kind = object["kind"].as_str().unwrap();
        let meta = &object["metadata"];
        assert_eq!(object["apiVersion"], "rbac.authorization.k8s.io/v1");
        assert_eq!(meta["labels"]["kubernetes.io/bootstrapping"], "rbac-defaults", "{meta}");
        assert_eq!(meta["annotations"]["rbac.authorization.kubernetes.io/autoupdate"], "true", "{meta}");
        let namespaced = matches!(kind, "Role" | "RoleBinding");
        assert_eq!(meta.get("namespace").is_some(), namespaced, "{meta}");
        assert!(seen.insert((kind.to_string(), meta["namespace"].to_string(), meta["name"].to_string())), "{meta}");
    }
    let count = |kind: &str| policy.iter().filter(|o| o["kind"] == kind).count();
    assert_eq!(
        (count("ClusterRole"), count("ClusterRoleBinding"), count("Role"), count("RoleBinding")),
        (69, 50, 7, 7)
    );
}

#[test]
fn objects_are_shaped_as_the_api_serves_them() {
    assert_eq!(
        find("ClusterRole", "cluster-admin").to_string(),
        concat!(
            r#"{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"cluster-admin","#,
            r#""labels":{"kubernetes.io/bootstrapping":"rbac-defaults"},"annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},"#,
            r#""rules":[{"verbs":["*"],"apiGroups":["*"],"resources":["*"]},{"verbs":["*"],"nonResourceURLs":["*"]}]}"#
        )
    );
    let binding = find("RoleBinding", "system::leader-locking-kube-scheduler");
    assert_eq!(binding["metadata"]["namespace"], "kube-system");
    assert_eq!(
        binding["subjects"],
        json!([
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "system:kube-scheduler"},
            {"kind": "ServiceAccount", "name": "kube-scheduler", "namespace": "kube-system"}
        ])
    );
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "system::leader-locking-kube-scheduler"})
    );
    assert!(find("ClusterRoleBinding", "system:node").get("subjects").is_none(), "system:node is bound to nobody");
}

#[test]
fn rule_lists_are_sorted_as_upstream_builds_them() {
    for object in bootstrap_policy() {
        for rule in object["rules"].as_array().into_iter().flatten() {
            for (field, items) in rule.as_object().unwrap() {
                let items: Vec<&str> = items.as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
                let mut sorted = items.clone();
                sorted.sort_unstable();
                assert_eq!(items, sorted, "{field} of {}", object["metadata"]["name"]);
            }
        }
    }
}

#[test]
fn every_role_reference_resolves() {
    let policy = bootstrap_policy();
    for binding in policy.iter().filter(|o| o.get("roleRef").is_some()) {
        let role_ref = &binding["roleRef"];
        let target = policy.iter().find(|o| {
            let same_namespace = o["metadata"].get("namespace") == binding["metadata"].get("namespace");
            o["kind"] == role_ref["kind"]
                && o["metadata"]["name"] == role_ref["name"]
                && (role_ref["kind"] == "ClusterRole" || same_namespace)
        });
        assert!(target.is_some(), "{binding}");
    }
}

#[test]
fn aggregated_roles_are_filled_in() {
    let rules = |name: &str| find("ClusterRole", name)["rules"].as_array().unwrap().clone();
    let view = rules("view");
    assert_eq!(view, rules("system:aggregate-to-view"));
    let edit = rules("edit");
    assert_eq!(edit, [rules("system:aggregate-to-edit"), view.clone()].concat());
    assert_eq!(rules("admin"), [edit, rules("system:aggregate-to-admin")].concat());
    assert_eq!(rules("admin").len(), 29);
    assert_eq!(
        find("ClusterRole", "edit")["aggregationRule"],
        json!({"clusterRoleSelectors": [{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}}]})
    );
    assert_eq!(
        find("ClusterRole", "edit")["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"],
        "true"
    );
}

#[test]
fn authenticated_users_may_discover_and_review_themselves() {
    let index = index();
    let alice = authenticated("alice");
    for url in ["/api", "/api/v1", "/apis", "/apis/apps/v1", "/openapi/v3", "/version", "/healthz", "/livez", "/readyz"]
    {
        assert!(allowed(&index, &alice, &path(url)), "{url}");
    }
    assert!(!allowed(&index, &alice, &path("/metrics")));
    assert!(!allowed(&index, &alice, &path("/logs")));
    let review = request("create", "", "authorization.k8s.io", "selfsubjectaccessreviews", "");
    let (decision, reason) = index.authorize_with_reason(&alice, &review);
    assert_eq!(decision, Decision::Allow);
    assert_eq!(
        reason,
        r#"RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated""#
    );
    assert!(allowed(&index, &alice, &request("create", "", "authentication.k8s.io", "selfsubjectreviews", "")));
    assert!(!allowed(&index, &alice, &request("list", "default", "", "pods", "")));
    assert!(!allowed(&index, &alice, &request("list", "", "", "namespaces", "")));
}

#[test]
fn anonymous_users_see_only_public_info() {
    let index = index();
    for url in ["/healthz", "/livez", "/readyz", "/version", "/version/"] {
        let (decision, reason) = index.authorize_with_reason(&anonymous(), &path(url));
        assert_eq!(decision, Decision::Allow, "{url}");
        assert!(reason.contains(r#"ClusterRoleBinding "system:public-info-viewer""#), "{reason}");
    }
    for url in ["/api", "/apis", "/openapi/v2", "/healthz/etcd", "/metrics"] {
        assert!(!allowed(&index, &anonymous(), &path(url)), "{url}");
    }
    assert!(!allowed(
        &index,
        &anonymous(),
        &request("create", "", "authorization.k8s.io", "selfsubjectaccessreviews", "")
    ));
}

#[test]
fn masters_are_cluster_admins() {
    let index = index();
    let admin = user("kubernetes-admin", &["system:masters", "system:authenticated"]);
    let (decision, reason) = index.authorize_with_reason(&admin, &request("delete", "", "", "nodes", "n1"));
    assert_eq!(decision, Decision::Allow);
    assert_eq!(
        reason,
        r#"RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters""#
    );
    assert!(allowed(&index, &admin, &path("/metrics")));
    assert!(allowed(&index, &admin, &request("escalate", "", "rbac.authorization.k8s.io", "clusterroles", "x")));
}

#[test]
fn view_edit_and_admin_through_role_bindings() {
    let mut index = index();
    for role in ["view", "edit", "admin"] {
        let subjects = json!([{"kind": "User", "name": format!("{role}-user")}]);
        index.apply(
            &json!({"kind": "RoleBinding", "metadata": {"name": role, "namespace": "team"}, "subjects": subjects,
                            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}}),
        );
    }
    let (viewer, editor, admin) = (authenticated("view-user"), authenticated("edit-user"), authenticated("admin-user"));
    let in_team = |verb: &str, group: &str, resource: &str| request(verb, "team", group, resource, "x");

    assert!(allowed(&index, &viewer, &in_team("list", "", "pods")));
    assert!(allowed(&index, &viewer, &in_team("get", "", "pods/log")));
    assert!(allowed(&index, &viewer, &in_team("get", "apps", "deployments/scale")));
    assert!(!allowed(&index, &viewer, &in_team("get", "", "secrets")), "view does not read secrets");
    assert!(!allowed(&index, &viewer, &in_team("create", "", "pods")));
    assert!(!allowed(&index, &viewer, &in_team("create", "", "pods/exec")));

    assert!(allowed(&index, &editor, &in_team("get", "", "secrets")));
    assert!(allowed(&index, &editor, &in_team("create", "apps", "deployments")));
    assert!(allowed(&index, &editor, &in_team("update", "apps", "deployments/scale")));
    assert!(allowed(&index, &editor, &in_team("list", "", "pods")), "edit includes view");
    assert!(allowed(&index, &editor, &in_team("create", "", "serviceaccounts/token")));
    assert!(!allowed(&index, &editor, &in_team("create", "rbac.authorization.k8s.io", "rolebindings")));
    assert!(!allowed(&index, &editor, &in_team("update", "", "resourcequotas")));

    assert!(allowed(&index, &admin, &in_team("create", "rbac.authorization.k8s.io", "rolebindings")));
    assert!(allowed(&index, &admin, &in_team("delete", "", "secrets")));
    assert!(!allowed(&index, &admin, &request("get", "other", "", "pods", "x")), "only in the binding's namespace");
    assert!(!allowed(&index, &admin, &request("list", "", "", "nodes", "")));
}

#[test]
fn system_components_get_their_roles() {
    let index = index();
    let scheduler = authenticated("system:kube-scheduler");
    assert!(allowed(&index, &scheduler, &request("create", "default", "", "pods/binding", "p")));
    assert!(allowed(
        &index,
        &scheduler,
        &request("update", "kube-system", "coordination.k8s.io", "leases", "kube-scheduler")
    ));
    assert!(
        allowed(&index, &scheduler, &request("patch", "", "", "persistentvolumes", "pv")),
        "system:volume-scheduler"
    );
    assert!(!allowed(&index, &scheduler, &request("update", "default", "coordination.k8s.io", "leases", "other")));

    let controller_manager = authenticated("system:kube-controller-manager");
    let auth_config = |namespace: &str, name: &str| request("get", namespace, "", "configmaps", name);
    assert!(allowed(&index, &controller_manager, &auth_config("kube-system", "extension-apiserver-authentication")));
    assert!(allowed(&index, &controller_manager, &request("list", "", "apps", "deployments", "")));

    let dns = user("system:serviceaccount:kube-system:kube-dns", &["system:serviceaccounts", "system:authenticated"]);
    assert!(allowed(&index, &dns, &request("watch", "", "", "services", "")));
    assert!(!allowed(&index, &dns, &auth_config("kube-system", "extension-apiserver-authentication")));

    let signer = user("system:serviceaccount:kube-system:bootstrap-signer", &["system:serviceaccounts"]);
    assert!(allowed(&index, &signer, &request("update", "kube-public", "", "configmaps", "cluster-info")));
    assert!(!allowed(&index, &signer, &request("update", "kube-public", "", "configmaps", "other")));
    assert!(allowed(&index, &signer, &path("/openid/v1/jwks")), "system:service-account-issuer-discovery");

    let monitor = user("prometheus", &["system:monitoring"]);
    assert!(allowed(&index, &monitor, &path("/metrics")));
    assert!(allowed(&index, &monitor, &path("/readyz/etcd")));
    assert!(!allowed(&index, &monitor, &path("/version")), "monitoring alone does not discover");
}

#[test]
fn controllers_get_their_roles_through_their_service_accounts() {
    let policy = bootstrap_policy();
    let controller_roles = |kind: &str| {
        let is_controller =
            |o: &&Value| o["kind"] == kind && o["metadata"]["name"].as_str().unwrap().starts_with("system:controller:");
        policy.iter().filter(is_controller).count()
    };
    // testdata/controller-roles.yaml and controller-role-bindings.yaml, default feature gates.
    assert_eq!((controller_roles("ClusterRole"), controller_roles("ClusterRoleBinding")), (38, 38));

    let binding = find("ClusterRoleBinding", "system:controller:namespace-controller");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "namespace-controller", "namespace": "kube-system"}])
    );
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:controller:namespace-controller"})
    );

    let index = index();
    let service_account = |name: &str| {
        user(
            &format!("system:serviceaccount:kube-system:{name}"),
            &["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
        )
    };
    let namespaces = service_account("namespace-controller");
    assert!(allowed(&index, &namespaces, &request("delete", "", "", "namespaces", "team")));
    assert!(allowed(&index, &namespaces, &request("update", "", "", "namespaces/finalize", "team")));
    assert!(allowed(&index, &namespaces, &request("deletecollection", "team", "apps", "deployments", "")));
    assert!(allowed(&index, &namespaces, &request("delete", "team", "example.com", "widgets", "w")));
    assert!(!allowed(&index, &namespaces, &request("create", "team", "", "pods", "")));
    assert!(!allowed(&index, &namespaces, &request("update", "", "", "namespaces", "team")));

    let replicasets = service_account("replicaset-controller");
    assert!(allowed(&index, &replicasets, &request("create", "team", "", "pods", "")));
    assert!(allowed(&index, &replicasets, &request("update", "team", "apps", "replicasets/status", "rs")));
    assert!(!allowed(&index, &replicasets, &request("update", "team", "", "pods", "p")));
    assert!(!allowed(&index, &replicasets, &request("create", "team", "apps", "deployments", "")));

    let certificates = service_account("certificate-controller");
    let signer = |verb: &str, name: &str| request(verb, "", "certificates.k8s.io", "signers", name);
    assert!(allowed(&index, &certificates, &signer("sign", "kubernetes.io/kubelet-serving")));
    assert!(allowed(&index, &certificates, &signer("approve", "kubernetes.io/kube-apiserver-client-kubelet")));
    assert!(!allowed(&index, &certificates, &signer("approve", "kubernetes.io/kubelet-serving")));

    let other = service_account("deployment-controller");
    assert!(!allowed(&index, &other, &request("delete", "", "", "namespaces", "team")), "each controller its own role");
}

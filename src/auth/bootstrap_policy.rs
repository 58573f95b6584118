//! The default RBAC policy kube-apiserver creates at start (the `rbac/bootstrap-roles`
//! post-start hook): ClusterRoles such as `cluster-admin`, `admin`/`edit`/`view` and the
//! `system:*` roles, the ClusterRoleBindings that give them to `system:masters`,
//! `system:authenticated` and friends, and the Roles and RoleBindings of `kube-system` and
//! `kube-public`. The data lives in `bootstrap_policy.yaml` in a compact form of our own. The
//! server reads its expansion, `bootstrap_policy.json` (parsing JSON is ten times faster than
//! YAML, which matters to a binary that starts in milliseconds); a test regenerates and checks
//! it: `KUBETWIN_REGENERATE=1 cargo test --lib bootstrap_policy` rewrites it after a YAML edit.

use serde_json::Value;
use std::sync::OnceLock;

const POLICY_JSON: &str = include_str!("bootstrap_policy.json");

/// Every bootstrap object, ClusterRoles first, then ClusterRoleBindings, Roles and
/// RoleBindings, each as kube-apiserver stores it (`kind`, `apiVersion`, metadata with the
/// `kubernetes.io/bootstrapping: rbac-defaults` label and the autoupdate annotation).
pub fn bootstrap_policy() -> Vec<Value> {
    static POLICY_OBJECTS: OnceLock<Vec<Value>> = OnceLock::new();
    POLICY_OBJECTS.get_or_init(|| serde_json::from_str(POLICY_JSON).expect("bootstrap_policy.json parses")).clone()
}

#[cfg(test)]
#[path = "bootstrap_policy_expansion.rs"]
mod expansion;

#[cfg(test)]
#[path = "bootstrap_policy_tests.rs"]
mod tests;

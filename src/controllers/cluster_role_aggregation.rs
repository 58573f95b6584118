//! The ClusterRole aggregation controller (kube-controller-manager's `clusterrole-aggregation`,
//! `pkg/controller/clusterroleaggregation`): whenever a ClusterRole is written or deleted, every
//! ClusterRole with an `aggregationRule` gets the rules of the roles its selectors pick, as
//! [`crate::auth::rbac::aggregate`] computes them (the same code that aggregated the bootstrap
//! policy). Like upstream it writes with a forced server-side apply of `rules` as the field
//! manager `clusterrole-aggregation-controller`; a role selecting nothing gets an apply without
//! `rules` (upstream's `WithRules()` of no rules), which drops the rules the controller owned.
//! Only roles whose rules differ (semantically) are written, so a settled cluster, such as a
//! fresh server with its bootstrap policy, sees no write, and the controller's own writes do
//! not loop. Its writes pass through the registry, which keeps the RBAC authorizer in step.

use super::{Controller, Object};
use crate::instance::Instance;
use crate::openapi::schema;
use crate::registry::Scope;
use crate::registry::apply::{Applier, apply, conflict_error};
use crate::registry::list::ListOptions;
use crate::registry::rest::WriteOptions;
use serde_json::{Value, json};

const MANAGER: &str = "clusterrole-aggregation-controller";
const GROUP: &str = "rbac.authorization.k8s.io";

/// Whether a ClusterRole changed since the last reconcile.
#[derive(Debug, Default)]
pub struct ClusterRoleAggregationController {
    due: bool,
}

impl ClusterRoleAggregationController {
    /// Bootstrap ClusterRoles unchanged since the server wrote them are aggregated already (at
    /// build time), so only other roles make a round due; after a lost watch nothing is marked
    /// bootstrap, so a relist recomputes everything.
    fn note(&mut self, object: &Object) {
        if object.resource.group == GROUP && object.resource.plural == "clusterroles" {
            self.due |= !object.bootstrap;
        }
    }
}

impl Controller for ClusterRoleAggregationController {
    fn reset(&mut self) {
        self.due = false;
    }

    fn observe(&mut self, _instance: &Instance, object: &Object) {
        self.note(object);
    }

    fn forget(&mut self, _instance: &Instance, object: &Object) {
        self.note(object);
    }

    fn reconcile(&mut self, instance: &Instance) {
        if std::mem::take(&mut self.due)
            && let Err(error) = aggregate(instance)
        {
            tracing::warn!(%error, "clusterrole aggregation failed");
        }
    }
}

fn cluster_roles(instance: &Instance) -> Scope<'_> {
    let resource = instance.resource(GROUP, "v1", "clusterroles").expect("clusterroles are always served");
    Scope { instance, resource, namespace: None }
}

/// Lists the ClusterRoles and applies the rules of each aggregated one that is out of date.
fn aggregate(instance: &Instance) -> crate::error::ApiResult<()> {
    let scope = cluster_roles(instance);
    let listed = scope.list(&ListOptions::default())?;
    let roles: Vec<Value> = listed.items.iter().map(|stored| scope.view(stored)).collect();
    for (name, rules) in crate::auth::rbac::outdated(&roles) {
        apply_rules(&scope, &name, rules)?;
    }
    Ok(())
}

/// The controller's forced apply of `rules` to the ClusterRole `name`.
fn apply_rules(scope: &Scope<'_>, name: &str, rules: Vec<Value>) -> crate::error::ApiResult<()> {
    let mut config =
        json!({"apiVersion": scope.resource.api_version(), "kind": "ClusterRole", "metadata": {"name": name}});
    if !rules.is_empty() {
        config["rules"] = Value::Array(rules);
    }
    let options = WriteOptions { field_manager: MANAGER.into(), applied: true, ..WriteOptions::default() };
    let (api_version, now) = (scope.resource.api_version(), scope.instance.now_rfc3339());
    let applier = Applier { manager: MANAGER, api_version: &api_version, subresource: "", force: true, now: &now };
    let root = schema().id(&scope.resource.definition);
    let result = scope.guaranteed_update(name, "", &options, None, |live| {
        apply(schema(), root, live, &config, &applier).map_err(|conflicts| conflict_error(&conflicts))
    });
    match result {
        // Deleted since the listing: the delete's own event brings another round.
        Err(error) if error.reason == crate::error::Reason::NotFound => Ok(()),
        other => other.map(|_| ()),
    }
}

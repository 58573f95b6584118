//! The RBAC authorizer (`plugin/pkg/auth/authorizer/rbac` with the rule resolver of
//! `pkg/registry/rbac/validation/rule.go`) over an in-memory index of Roles, ClusterRoles,
//! RoleBindings and ClusterRoleBindings.
//!
//! Bindings are indexed by subject (user name, group name, and a ServiceAccount subject under
//! the user name it stands for), so a decision looks only at the bindings that can apply to the
//! requesting user; role references are resolved when a binding is looked at, so a binding may
//! name a role that does not exist yet. Bindings are visited ClusterRoleBindings first, then the
//! RoleBindings of the request's namespace, each set by name: upstream walks lister order, which
//! is unspecified, so when several bindings allow a request the one named in the reason may
//! differ from kube-apiserver's. RBAC never denies: it allows, or has no opinion.
//!
//! Also here: the 403 wording ([`forbidden_message`], [`forbidden_error`]), the ClusterRole
//! aggregation ([`aggregate`], [`outdated`]), the escalation checks on writes of RBAC objects
//! ([`confirm_no_escalation`]) and, re-exported, the [`bootstrap_policy`].

mod aggregate;
mod escalation;
mod forbidden;
mod rules;

pub use super::bootstrap_policy::bootstrap_policy;
pub use aggregate::{aggregate, outdated};
pub use escalation::confirm_no_escalation;
pub use forbidden::{forbidden_error, forbidden_message, forbidden_status_message};

use super::{Attributes, Decision, UserInfo};
use crate::selectors::go_quote;
use rules::{PolicyRule, Request};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// Roles and bindings, indexed for authorization. Keep it in step with the store through
/// [`RbacIndex::apply`] and [`RbacIndex::remove`].
#[derive(Debug, Default, Clone)]
pub struct RbacIndex {
    /// Rules are shared (`Arc`), so that copying an index (each new server gets the bootstrap
    /// policy's) copies no rule.
    cluster_roles: HashMap<String, Arc<[PolicyRule]>>,
    /// Namespace → name → rules.
    roles: HashMap<String, HashMap<String, Arc<[PolicyRule]>>>,
    cluster_role_bindings: BindingSet,
    /// Namespace → its RoleBindings.
    role_bindings: HashMap<String, BindingSet>,
}

/// A binding's subject, as stored.
#[derive(Debug, Clone)]
struct Subject {
    kind: String,
    name: String,
    namespace: String,
}

#[derive(Debug, Clone)]
struct Binding {
    name: String,
    /// Empty for a ClusterRoleBinding.
    namespace: String,
    role_kind: String,
    role_name: String,
    subjects: Vec<Subject>,
}

impl Binding {
    fn from_value(object: &Value) -> Self {
        let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string();
        let subjects = object.get("subjects").and_then(Value::as_array).into_iter().flatten();
        Binding {
            name: text("/metadata/name"),
            namespace: text("/metadata/namespace"),
            role_kind: text("/roleRef/kind"),
            role_name: text("/roleRef/name"),
            subjects: subjects
                .map(|s| {
                    let field = |f: &str| s.get(f).and_then(Value::as_str).unwrap_or_default().to_string();
                    Subject { kind: field("kind"), name: field("name"), namespace: field("namespace") }
                })
                .collect(),
        }
    }

    fn is_cluster_binding(&self) -> bool {
        self.namespace.is_empty()
    }

    /// The user name a ServiceAccount subject stands for; `None` when it can match nobody (a
    /// ClusterRoleBinding's ServiceAccount subject without a namespace).
    fn service_account_user(&self, subject: &Subject) -> Option<String> {
        let namespace = if subject.namespace.is_empty() { &self.namespace } else { &subject.namespace };
        (!namespace.is_empty()).then(|| format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{}", subject.name))
    }

    /// `appliesTo`: the first subject that names this user.
    fn subject_for(&self, user: &UserInfo) -> Option<&Subject> {
        self.subjects.iter().find(|subject| match subject.kind.as_str() {
            "User" => user.name == subject.name,
            "Group" => user.groups.contains(&subject.name),
            "ServiceAccount" => self.service_account_user(subject).is_some_and(|name| name == user.name),
            _ => false,
        })
    }

    /// `describeSubject` within the binding describers: the source named in an allow reason.
    fn describe(&self, subject: &Subject) -> String {
        let who = match subject.kind.as_str() {
            "ServiceAccount" if subject.namespace.is_empty() => format!("{}/{}", subject.name, self.namespace),
            "ServiceAccount" => format!("{}/{}", subject.name, subject.namespace),
            _ => subject.name.clone(),
        };
        let (kind, name) = if self.is_cluster_binding() {
            ("ClusterRoleBinding", self.name.clone())
        } else {
            ("RoleBinding", format!("{}/{}", self.name, self.namespace))
        };
        format!(
            "{kind} {} of {} {} to {} {}",
            go_quote(&name),
            self.role_kind,
            go_quote(&self.role_name),
            subject.kind,
            go_quote(&who)
        )
    }
}

/// The bindings of one scope (the cluster, or one namespace), by name and by subject.
#[derive(Debug, Default, Clone)]
struct BindingSet {
    bindings: BTreeMap<String, Binding>,
    /// User name (or the user name of a ServiceAccount subject) → binding names.
    by_user: HashMap<String, BTreeSet<String>>,
    /// Group name → binding names.
    by_group: HashMap<String, BTreeSet<String>>,
}

impl BindingSet {
    fn keys(binding: &Binding) -> Vec<(bool, String)> {
        let mut keys = Vec::new();
        for subject in &binding.subjects {
            match subject.kind.as_str() {
                "User" => keys.push((true, subject.name.clone())),
                "Group" => keys.push((false, subject.name.clone())),
                "ServiceAccount" => keys.extend(binding.service_account_user(subject).map(|user| (true, user))),
                _ => {}
            }
        }
        keys
    }

    fn insert(&mut self, binding: Binding) {
        self.remove(&binding.name);
        for (is_user, key) in Self::keys(&binding) {
            let table = if is_user { &mut self.by_user } else { &mut self.by_group };
            table.entry(key).or_default().insert(binding.name.clone());
        }
        self.bindings.insert(binding.name.clone(), binding);
    }

    fn remove(&mut self, name: &str) {
        let Some(old) = self.bindings.remove(name) else { return };
        for (is_user, key) in Self::keys(&old) {
            let table = if is_user { &mut self.by_user } else { &mut self.by_group };
            if let Some(names) = table.get_mut(&key) {
                names.remove(name);
                if names.is_empty() {
                    table.remove(&key);
                }
            }
        }
    }

    /// The bindings that may apply to `user`, by name.
    fn candidates(&self, user: &UserInfo) -> Vec<&Binding> {
        let mut names: Vec<&String> = self.by_user.get(&user.name).into_iter().flatten().collect();
        for group in &user.groups {
            names.extend(self.by_group.get(group).into_iter().flatten());
        }
        names.sort_unstable();
        names.dedup();
        names.into_iter().filter_map(|name| self.bindings.get(name)).collect()
    }

    fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }
}

/// What a rule visitor wants next: the following rule, or to end the walk.
enum Visit {
    Continue,
    Stop,
}

impl RbacIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Indexes every object of `objects` (see [`RbacIndex::apply`]).
    pub fn from_objects<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut index = Self::new();
        for object in objects {
            index.apply(object);
        }
        index
    }

    /// Inserts or replaces a Role, ClusterRole, RoleBinding or ClusterRoleBinding (by its
    /// `kind`, `metadata.namespace` and `metadata.name`); other kinds are ignored.
    pub fn apply(&mut self, object: &Value) {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
        let meta = |field: &str| object.pointer(&format!("/metadata/{field}")).and_then(Value::as_str);
        let name = meta("name").unwrap_or_default().to_string();
        let namespace = meta("namespace").unwrap_or_default().to_string();
        match kind {
            "ClusterRole" => {
                self.cluster_roles.insert(name, PolicyRule::all_from(object).into());
            }
            "Role" => {
                self.roles.entry(namespace).or_default().insert(name, PolicyRule::all_from(object).into());
            }
            "ClusterRoleBinding" => {
                let mut binding = Binding::from_value(object);
                binding.namespace.clear();
                self.cluster_role_bindings.insert(binding);
            }
            "RoleBinding" => self.role_bindings.entry(namespace).or_default().insert(Binding::from_value(object)),
            _ => {}
        }
    }

    /// Forgets an object; `namespace` is ignored for the cluster-scoped kinds.
    pub fn remove(&mut self, kind: &str, namespace: Option<&str>, name: &str) {
        let namespace = namespace.unwrap_or_default();
        match kind {
            "ClusterRole" => {
                self.cluster_roles.remove(name);
            }
            "Role" => {
                if let Some(roles) = self.roles.get_mut(namespace) {
                    roles.remove(name);
                    if roles.is_empty() {
                        self.roles.remove(namespace);
                    }
                }
            }
            "ClusterRoleBinding" => self.cluster_role_bindings.remove(name),
            "RoleBinding" => {
                if let Some(bindings) = self.role_bindings.get_mut(namespace) {
                    bindings.remove(name);
                    if bindings.is_empty() {
                        self.role_bindings.remove(namespace);
                    }
                }
            }
            _ => {}
        }
    }

    /// The RBAC authorizer's decision: `Allow`, or `NoOpinion` whose reason is empty or, when
    /// a binding that applies names a missing role, `RBAC: <errors>`.
    pub fn authorize(&self, user: &UserInfo, attributes: &Attributes) -> Decision {
        match self.find_grant(user, attributes) {
            Ok(_) => Decision::Allow,
            Err(errors) => Decision::NoOpinion(no_opinion_reason(&errors)),
        }
    }

    /// As [`RbacIndex::authorize`], with the reason also for `Allow`
    /// (`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"`), as a
    /// SubjectAccessReview reports it.
    pub fn authorize_with_reason(&self, user: &UserInfo, attributes: &Attributes) -> (Decision, String) {
        match self.find_grant(user, attributes) {
            Ok((binding, subject)) => (Decision::Allow, format!("RBAC: allowed by {}", binding.describe(subject))),
            Err(errors) => {
                let reason = no_opinion_reason(&errors);
                (Decision::NoOpinion(reason.clone()), reason)
            }
        }
    }

    /// The binding (and its subject) whose rules first allow the request, or the
    /// role-resolution errors met looking for one.
    fn find_grant(&self, user: &UserInfo, attributes: &Attributes) -> Result<(&Binding, &Subject), Vec<String>> {
        let request = Request::new(attributes);
        let mut allowed_by = None;
        let errors = self.visit_rules(user, &attributes.namespace, |binding, subject, rule| {
            if rule.allows(&request) {
                allowed_by = Some((binding, subject));
                Visit::Stop
            } else {
                Visit::Continue
            }
        });
        allowed_by.ok_or(errors)
    }

    /// Every rule granted to `user` in `namespace` (cluster-wide ones included), split as a
    /// SelfSubjectRulesReview reports them: `authorizationv1.ResourceRule`s for rules with
    /// resources, `NonResourceRule`s for rules with URLs.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<Value>, Vec<Value>) {
        let mut resource_rules = Vec::new();
        let mut non_resource_rules = Vec::new();
        self.visit_rules(user, namespace, |_, _, rule| {
            if !rule.resources.is_empty() {
                resource_rules.push(rule.resource_rule());
            }
            if !rule.non_resource_urls.is_empty() {
                non_resource_rules.push(rule.non_resource_rule());
            }
            Visit::Continue
        });
        (resource_rules, non_resource_rules)
    }

    /// A SelfSubjectRulesReview's `status.evaluationError`: the bindings of `user` whose role
    /// could not be found, worded as upstream's aggregate error.
    pub fn evaluation_error(&self, user: &UserInfo, namespace: &str) -> Option<String> {
        let errors = self.visit_rules(user, namespace, |_, _, _| Visit::Continue);
        (!errors.is_empty()).then(|| aggregate_errors(&errors))
    }

    /// `VisitRulesFor`: calls `visit` with each rule of each binding that applies to `user`,
    /// until it says stop; returns the role-resolution errors met on the way.
    fn visit_rules<'s>(
        &'s self,
        user: &UserInfo,
        namespace: &str,
        mut visit: impl FnMut(&'s Binding, &'s Subject, &'s PolicyRule) -> Visit,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        let namespaced = self.role_bindings.get(namespace).filter(|set| !namespace.is_empty() && !set.is_empty());
        let scopes = std::iter::once(&self.cluster_role_bindings).chain(namespaced);
        for set in scopes {
            for binding in set.candidates(user) {
                let Some(subject) = binding.subject_for(user) else { continue };
                let rules = match self.role_rules(binding) {
                    Ok(rules) => rules,
                    Err(error) => {
                        errors.push(error);
                        continue;
                    }
                };
                for rule in rules {
                    if let Visit::Stop = visit(binding, subject, rule) {
                        return errors;
                    }
                }
            }
        }
        errors
    }

    /// `GetRoleReferenceRules`, with the lister's NotFound wording.
    fn role_rules(&self, binding: &Binding) -> Result<&[PolicyRule], String> {
        let missing =
            |resource: &str| format!("{resource}.rbac.authorization.k8s.io {} not found", go_quote(&binding.role_name));
        match binding.role_kind.as_str() {
            "ClusterRole" => {
                self.cluster_roles.get(&binding.role_name).map(|rules| &rules[..]).ok_or_else(|| missing("clusterrole"))
            }
            "Role" => self
                .roles
                .get(&binding.namespace)
                .and_then(|roles| roles.get(&binding.role_name))
                .map(|rules| &rules[..])
                .ok_or_else(|| missing("role")),
            other => Err(format!("unsupported role reference kind: {}", go_quote(other))),
        }
    }

    /// The bindings an authorization for `user` in `namespace` looks at (for tests of the index).
    #[cfg(test)]
    fn candidate_count(&self, user: &UserInfo, namespace: &str) -> usize {
        let namespaced = self.role_bindings.get(namespace).map_or(0, |set| set.candidates(user).len());
        self.cluster_role_bindings.candidates(user).len() + namespaced
    }
}

/// The authorizer's reason for having no opinion: empty, or the resolution errors.
fn no_opinion_reason(errors: &[String]) -> String {
    if errors.is_empty() { String::new() } else { format!("RBAC: {}", aggregate_errors(errors)) }
}

/// `utilerrors.NewAggregate(errs).Error()`: one message alone, several as `[a, b]`, duplicates
/// dropped.
fn aggregate_errors(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for error in errors {
        if !seen.contains(&error.as_str()) {
            seen.push(error);
        }
    }
    match seen.as_slice() {
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests;

//! Server-side applies that left an object as it was, remembered per object, so that the same
//! apply sent again (the no-op every reconcile loop sends) is answered without decoding the
//! configuration and the live object and merging them once more. An apply is a function of the
//! stored object, the request (body, query, subresource, requester) and the resource's
//! definition; the clock only matters when something changes. So when all of these are the
//! same as for an apply that changed nothing, the answer is the same: the stored object, not
//! written again, with the same warnings. Custom resources are left out, since reading them may
//! go through a conversion webhook.

use super::storage::Stored;
use crate::auth::UserInfo;
use crate::http::ApiRequest;
use crate::http::query::Query;
use crate::openapi::ResourceInfo;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many objects' last unchanged apply are kept; past that the record starts over.
const CAPACITY: usize = 1024;

/// The last apply that changed nothing, by storage key.
#[derive(Debug, Default)]
pub struct UnchangedApplies {
    by_key: Mutex<HashMap<String, UnchangedApply>>,
}

/// An apply that found the stored object as it was, and what it answered.
#[derive(Debug)]
struct UnchangedApply {
    resource: Arc<ResourceInfo>,
    subresource: String,
    revision: i64,
    stored: Bytes,
    body: Bytes,
    query: Query,
    user: UserInfo,
    warnings: Vec<String>,
}

impl UnchangedApply {
    fn answers(&self, apply: &ApplyRequest<'_>, current: &Stored) -> bool {
        Arc::ptr_eq(&self.resource, apply.resource)
            && self.subresource == apply.subresource
            && self.revision == current.revision
            && self.stored == current.bytes
            && self.body == apply.request.body
            && self.query == apply.request.query
            && self.user == apply.request.user
    }
}

/// One apply request on one object.
#[derive(Clone, Copy)]
pub struct ApplyRequest<'a> {
    pub resource: &'a Arc<ResourceInfo>,
    pub key: &'a str,
    pub subresource: &'a str,
    pub request: &'a ApiRequest,
}

impl ApplyRequest<'_> {
    /// Whether the answer depends only on what a record holds. Not for custom resources, and
    /// not where an update is also judged against other objects: RBAC objects against the
    /// writer's permissions at the time (escalation checks), PriorityClasses against the
    /// other classes (one global default).
    fn remembered(&self) -> bool {
        let resource = self.resource;
        let judged_against_others = resource.group == "rbac.authorization.k8s.io"
            || (resource.group == "scheduling.k8s.io" && resource.plural == "priorityclasses");
        !resource.custom && !judged_against_others
    }
}

impl UnchangedApplies {
    /// The warnings `apply` answered with when it last found `current` and changed nothing,
    /// if it did.
    pub fn warnings(&self, apply: &ApplyRequest<'_>, current: &Stored) -> Option<Vec<String>> {
        if !apply.remembered() {
            return None;
        }
        let mut by_key = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        let last = by_key.get(apply.key)?;
        if last.answers(apply, current) {
            return Some(last.warnings.clone());
        }
        // Revisions only grow: a record of an older one answers nothing any more.
        if last.revision != current.revision {
            by_key.remove(apply.key);
        }
        None
    }

    /// Records that `apply` found `current` and left it as it was, answering with `warnings`.
    pub fn record(&self, apply: &ApplyRequest<'_>, current: &Stored, warnings: &[String]) {
        if !apply.remembered() {
            return;
        }
        let mut by_key = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        if by_key.len() >= CAPACITY && !by_key.contains_key(apply.key) {
            by_key.clear();
        }
        let record = UnchangedApply {
            resource: apply.resource.clone(),
            subresource: apply.subresource.to_string(),
            revision: current.revision,
            stored: current.bytes.clone(),
            body: apply.request.body.clone(),
            query: apply.request.query.clone(),
            user: apply.request.user.clone(),
            warnings: warnings.to_vec(),
        };
        by_key.insert(apply.key.to_string(), record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::Catalog;

    fn request(body: &'static str, query: &str) -> ApiRequest {
        ApiRequest {
            method: http::Method::PATCH,
            path: "/apis/apps/v1/namespaces/default/deployments/web".into(),
            query: Query::parse(query),
            headers: Default::default(),
            body: Bytes::from_static(body.as_bytes()),
            peer: Default::default(),
            user: Default::default(),
        }
    }

    #[test]
    fn only_the_same_apply_on_the_same_stored_object_is_answered_again() {
        let catalog = Catalog::builtin();
        let deployments = catalog.get("apps", "v1", "deployments").unwrap();
        let key = deployments.key(Some("default"), "web");
        let applies = UnchangedApplies::default();
        let sent = request(r#"{"spec":{"replicas":1}}"#, "fieldManager=a");
        let apply = ApplyRequest { resource: deployments, key: &key, subresource: "", request: &sent };
        let stored = Stored { bytes: Bytes::from_static(b"{\"spec\":{\"replicas\":1}}"), revision: 7 };
        assert_eq!(applies.warnings(&apply, &stored), None);
        applies.record(&apply, &stored, &["w".to_string()]);
        assert_eq!(applies.warnings(&apply, &stored), Some(vec!["w".to_string()]));

        let rewritten = Stored { revision: 8, ..stored.clone() };
        let changed = Stored { bytes: Bytes::from_static(b"{\"spec\":{\"replicas\":2}}"), revision: 7 };
        assert_eq!(applies.warnings(&apply, &rewritten), None);
        assert_eq!(applies.warnings(&apply, &changed), None);
        let other_manager = request(r#"{"spec":{"replicas":1}}"#, "fieldManager=b");
        let other_body = request(r#"{"spec":{"replicas":3}}"#, "fieldManager=a");
        for other in [&other_manager, &other_body] {
            let apply = ApplyRequest { request: other, ..apply };
            assert_eq!(applies.warnings(&apply, &stored), None);
        }
        let status = ApplyRequest { subresource: "status", ..apply };
        assert_eq!(applies.warnings(&status, &stored), None);
    }

    #[test]
    fn roles_and_priority_classes_are_never_remembered() {
        let catalog = Catalog::builtin();
        let applies = UnchangedApplies::default();
        let stored = Stored { bytes: Bytes::from_static(b"{}"), revision: 7 };
        for (group, plural) in [("rbac.authorization.k8s.io", "clusterroles"), ("scheduling.k8s.io", "priorityclasses")]
        {
            let resource = catalog.get(group, "v1", plural).unwrap();
            let key = resource.key(None, "x");
            let sent = request("{}", "fieldManager=a");
            let apply = ApplyRequest { resource, key: &key, subresource: "", request: &sent };
            applies.record(&apply, &stored, &[]);
            assert_eq!(applies.warnings(&apply, &stored), None, "{plural}");
        }
    }
}

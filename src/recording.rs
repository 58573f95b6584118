//! The request log tests assert on: every request in order, with its verb, path, user, field
//! manager and response code, and for writes the object before and after. Off unless a test
//! harness turns it on, so a plain server pays one atomic load per request.

use crate::http::ApiRequest;
use crate::instance::Instance;
use crate::registry::Scope;
use crate::request_info::RequestInfo;
use serde_json::Value;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// One request as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// Position in the log, from 0.
    pub sequence: usize,
    pub verb: String,
    pub path: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    pub user: String,
    /// The `fieldManager` of a write, as given or derived from the User-Agent.
    pub field_manager: Option<String>,
    pub code: u16,
    /// For writes: the object before the request and after it (None where there was none), at
    /// the request's version; for a custom resource converted by a webhook, at the stored
    /// version, so that recording makes no webhook call of its own.
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The log of one instance.
#[derive(Debug, Default)]
pub struct RequestLog {
    enabled: AtomicBool,
    entries: Mutex<Vec<RecordedRequest>>,
}

/// Verbs whose requests carry before/after objects.
fn is_write(verb: &str) -> bool {
    matches!(verb, "create" | "update" | "patch" | "delete")
}

impl RequestLog {
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Release);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Everything recorded so far, in order.
    pub fn entries(&self) -> Vec<RecordedRequest> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many requests have been recorded (a mark for [`RequestLog::entries`] slicing).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The state a write is about to change (call before serving it).
    pub fn before(&self, instance: &Instance, info: &RequestInfo, request: &ApiRequest) -> Option<Value> {
        if !self.enabled() || !info.is_resource_request || !is_write(&info.verb) {
            return None;
        }
        current(instance, info, &object_name(info, request))
    }

    /// Records a served request.
    pub fn record(
        &self,
        instance: &Instance,
        info: &RequestInfo,
        request: &ApiRequest,
        code: u16,
        before: Option<Value>,
    ) {
        if !self.enabled() {
            return;
        }
        let write = info.is_resource_request && is_write(&info.verb);
        let name = object_name(info, request);
        let after = if write { current(instance, info, &name) } else { None };
        let field_manager = write.then(|| {
            request.query.get("fieldManager").map(String::from).unwrap_or_else(|| {
                let agent = request.header("user-agent").unwrap_or_default();
                agent.split('/').next().unwrap_or_default().to_string()
            })
        });
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let sequence = entries.len();
        entries.push(RecordedRequest {
            sequence,
            verb: info.verb.clone(),
            path: request.path.clone(),
            namespace: info.namespace.clone(),
            resource: info.resource.clone(),
            subresource: info.subresource.clone(),
            name,
            user: request.user.name.clone(),
            field_manager,
            code,
            before,
            after,
        });
    }
}

/// The object a request addresses: from the path, or for a create from its body.
fn object_name(info: &RequestInfo, request: &ApiRequest) -> String {
    if !info.name.is_empty() {
        return info.name.clone();
    }
    serde_json::from_slice::<Value>(&request.body)
        .ok()
        .and_then(|body| body.pointer("/metadata/name").and_then(Value::as_str).map(String::from))
        .unwrap_or_default()
}

fn current(instance: &Instance, info: &RequestInfo, name: &str) -> Option<Value> {
    if name.is_empty() {
        return None;
    }
    let resource = instance.resource(&info.group, &info.version, &info.resource)?;
    let namespace = resource.namespaced.then_some(info.namespace.as_str());
    let scope = Scope { instance, resource, namespace };
    let stored = scope.get(name).ok()?;
    let webhook_converted = scope.resource.crd.as_ref().is_some_and(|custom| custom.converter.is_some());
    Some(if webhook_converted { stored.to_value() } else { scope.view(&stored) })
}

//! Fault injection from a test: `twin.faults().on(Verb::Update).resource("deployments")
//! .times(2).respond(StatusCode::CONFLICT)` makes the server itself fail matching requests, so
//! every client (kube-rs, kubectl, a controller under test) sees the same failure. Each fault
//! lasts as long as the [`FaultGuard`] it returns.

use kubetwin::faults::{Fault, FaultAction, FaultMatch};
use kubetwin::instance::Instance;
use std::sync::Arc;
use std::time::Duration;

/// The verbs a fault can be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// Describes a fault; finish with one of the actions to install it.
#[must_use = "a fault is installed only by respond(), delay(), drop_watch() or expire_next_watch()"]
#[derive(Debug)]
pub struct FaultBuilder {
    instance: Arc<Instance>,
    matching: FaultMatch,
    times: Option<u64>,
    every: u64,
}

/// Keeps a fault installed; dropping it removes the fault.
#[must_use = "the fault is removed when the guard is dropped"]
#[derive(Debug)]
pub struct FaultGuard {
    instance: Arc<Instance>,
    id: u64,
}

impl Drop for FaultGuard {
    fn drop(&mut self) {
        self.instance.faults.remove(self.id);
    }
}

impl FaultBuilder {
    pub(crate) fn new(instance: Arc<Instance>) -> FaultBuilder {
        FaultBuilder { instance, matching: FaultMatch::default(), times: None, every: 1 }
    }

    /// Only requests with this verb.
    pub fn on(mut self, verb: Verb) -> Self {
        self.matching.verb = Some(verb.as_str().into());
        self
    }

    /// Only this resource (plural, e.g. `deployments`, or `deployments/status`).
    pub fn resource(mut self, plural: &str) -> Self {
        self.matching.resource = Some(plural.into());
        self
    }

    pub fn namespace(mut self, namespace: &str) -> Self {
        self.matching.namespace = Some(namespace.into());
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.matching.name = Some(name.into());
        self
    }

    /// Fire at most `n` times.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Fire on every `n`th matching request only.
    pub fn every(mut self, n: u64) -> Self {
        self.every = n.max(1);
        self
    }

    fn install(self, action: FaultAction) -> FaultGuard {
        let fault = Fault { matching: self.matching, action, times: self.times, every: self.every };
        let id = self.instance.faults.install(fault);
        FaultGuard { instance: self.instance, id }
    }

    /// Answer with an error Status of this code (and the reason kube-apiserver gives it).
    pub fn respond(self, code: http::StatusCode) -> FaultGuard {
        self.install(FaultAction::Respond(code.as_u16()))
    }

    /// Serve normally, but only after `latency`.
    pub fn delay(self, latency: Duration) -> FaultGuard {
        self.install(FaultAction::Delay(latency))
    }

    /// End matching watch streams at once, with no events.
    pub fn drop_watch(self) -> FaultGuard {
        self.on(Verb::Watch).install(FaultAction::DropWatch)
    }

    /// Answer the next matching watch with a 410 Expired ERROR event, as after compaction.
    pub fn expire_next_watch(self) -> FaultGuard {
        self.on(Verb::Watch).times(1).install(FaultAction::ExpireWatch)
    }
}

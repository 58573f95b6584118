//! Server-side fault injection for tests: rules that make matching requests fail with a given
//! status, wait first, lose their watch stream, or see their next watch expire (410). Faults
//! act in the request pipeline after authorization, so every client sees them alike.

use crate::request_info::RequestInfo;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a matching request gets.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// An error Status with this HTTP code (and kube's reason for it).
    Respond(u16),
    /// The request is served normally, after this delay.
    Delay(Duration),
    /// A watch is answered with an empty stream that ends at once.
    DropWatch,
    /// A watch gets one ERROR event with a 410 Expired Status, as after compaction.
    ExpireWatch,
}

/// Which requests a fault applies to; empty fields match anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultMatch {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: Option<String>,
    /// The plural resource (`deployments`), optionally with a subresource (`deployments/status`).
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl FaultMatch {
    fn matches(&self, info: &RequestInfo) -> bool {
        let resource = if info.subresource.is_empty() {
            info.resource.clone()
        } else {
            format!("{}/{}", info.resource, info.subresource)
        };
        self.verb.as_deref().is_none_or(|v| v == info.verb)
            && self.resource.as_deref().is_none_or(|r| r == resource || r == info.resource)
            && self.namespace.as_deref().is_none_or(|n| n == info.namespace)
            && self.name.as_deref().is_none_or(|n| n == info.name)
    }
}

/// One installed fault.
#[derive(Debug, Clone)]
pub struct Fault {
    pub matching: FaultMatch,
    pub action: FaultAction,
    /// Fire at most this many times.
    pub times: Option<u64>,
    /// Fire on every Nth matching request only (1 = every one).
    pub every: u64,
}

#[derive(Debug)]
struct Installed {
    id: u64,
    fault: Fault,
    seen: u64,
    fired: u64,
}

/// The faults of one instance.
#[derive(Debug, Default)]
pub struct Faults {
    installed: Mutex<Vec<Installed>>,
    next_id: AtomicU64,
    /// Fast path: no lock taken while nothing is installed.
    count: AtomicU64,
}

impl Faults {
    /// Installs a fault; remove it with [`Faults::remove`] and the returned id.
    pub fn install(&self, fault: Fault) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut installed = self.installed.lock().unwrap_or_else(|e| e.into_inner());
        installed.push(Installed { id, fault, seen: 0, fired: 0 });
        self.count.store(installed.len() as u64, Ordering::Release);
        id
    }

    pub fn remove(&self, id: u64) {
        let mut installed = self.installed.lock().unwrap_or_else(|e| e.into_inner());
        installed.retain(|f| f.id != id);
        self.count.store(installed.len() as u64, Ordering::Release);
    }

    /// The action for this request, if a fault fires on it.
    pub fn check(&self, info: &RequestInfo) -> Option<FaultAction> {
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut installed = self.installed.lock().unwrap_or_else(|e| e.into_inner());
        for entry in installed.iter_mut().filter(|f| f.fault.matching.matches(info)) {
            if entry.fault.times.is_some_and(|limit| entry.fired >= limit) {
                continue;
            }
            entry.seen += 1;
            if entry.seen % entry.fault.every.max(1) != 0 {
                continue;
            }
            entry.fired += 1;
            return Some(entry.fault.action.clone());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_info::VerbHints;

    fn update(resource: &str) -> RequestInfo {
        RequestInfo::parse("PUT", &format!("/apis/apps/v1/namespaces/ns/{resource}/web"), VerbHints::default())
    }

    #[test]
    fn faults_fire_on_matching_requests_a_limited_number_of_times() {
        let faults = Faults::default();
        let matching =
            FaultMatch { verb: Some("update".into()), resource: Some("deployments".into()), ..FaultMatch::default() };
        let id = faults.install(Fault { matching, action: FaultAction::Respond(409), times: Some(2), every: 1 });
        assert_eq!(faults.check(&update("replicasets")), None);
        assert_eq!(faults.check(&update("deployments")), Some(FaultAction::Respond(409)));
        assert_eq!(faults.check(&update("deployments")), Some(FaultAction::Respond(409)));
        assert_eq!(faults.check(&update("deployments")), None, "only twice");
        faults.remove(id);
        assert_eq!(faults.count.load(Ordering::Acquire), 0);
    }

    #[test]
    fn every_nth_request_fails() {
        let faults = Faults::default();
        faults.install(Fault {
            matching: FaultMatch::default(),
            action: FaultAction::Respond(500),
            times: None,
            every: 3,
        });
        let fired: Vec<bool> = (0..6).map(|_| faults.check(&update("deployments")).is_some()).collect();
        assert_eq!(fired, [false, false, true, false, false, true]);
    }
}

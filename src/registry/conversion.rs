//! Resources served in two versions of different shapes over one storage: core/v1 and
//! events.k8s.io/v1 Events (stored as core/v1), and autoscaling/v1 and autoscaling/v2
//! HorizontalPodAutoscalers (stored as v2). Objects are converted on their way in and out, as
//! kube-apiserver converts through its internal version. Custom resources convert in
//! [`crate::crds`] (`apiVersion` rewritten, or a conversion webhook asked; defaults applied on
//! read); only a conversion webhook can fail.

use crate::error::ApiResult;
use crate::openapi::ResourceInfo;
use serde_json::{Map, Value, json};

/// The version an object of this resource is stored in, when it differs from the version
/// served.
fn storage_api_version(resource: &ResourceInfo) -> Option<&'static str> {
    match (resource.group.as_str(), resource.version.as_str(), resource.plural.as_str()) {
        ("events.k8s.io", "v1", "events") => Some("v1"),
        ("autoscaling", "v1", "horizontalpodautoscalers") => Some("autoscaling/v2"),
        _ => None,
    }
}

/// Whether objects of this resource must be converted between the request and the store.
pub fn converts(resource: &ResourceInfo) -> bool {
    storage_api_version(resource).is_some() || crate::crds::converts(resource)
}

/// Field renames between core/v1 Event (left) and events.k8s.io/v1 Event (right).
const EVENT_RENAMES: [(&str, &str); 7] = [
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

fn rename(object: &Value, renames: &[(&str, &str)], forward: bool, api_version: &str) -> Value {
    let mut out = Map::new();
    for (key, value) in object.as_object().into_iter().flatten() {
        let renamed = renames
            .iter()
            .find(|(left, right)| if forward { left == key } else { right == key })
            .map(|(left, right)| if forward { *right } else { *left })
            .unwrap_or(key);
        out.insert(renamed.to_string(), value.clone());
    }
    out.insert("apiVersion".into(), json!(api_version));
    Value::Object(out)
}

/// A stored object as the requested version shows it; fails only when a CRD's conversion
/// webhook does.
pub fn try_from_storage(resource: &ResourceInfo, stored: Value) -> ApiResult<Value> {
    if resource.custom {
        return crate::crds::from_storage(resource, stored);
    }
    Ok(match (resource.group.as_str(), resource.plural.as_str()) {
        ("events.k8s.io", "events") => rename(&stored, &EVENT_RENAMES, true, "events.k8s.io/v1"),
        ("autoscaling", "horizontalpodautoscalers") if resource.version == "v1" => hpa_v2_to_v1(&stored),
        _ => stored,
    })
}

/// [`try_from_storage`] for callers that cannot fail (controllers, token checks):
/// when a conversion webhook fails, the failure is logged and the object shown with only its
/// `apiVersion` rewritten, as the `None` strategy would.
pub fn from_storage(resource: &ResourceInfo, stored: Value) -> Value {
    if resource.crd.as_ref().is_none_or(|c| c.converter.is_none()) {
        return try_from_storage(resource, stored).expect("only conversion webhooks fail");
    }
    let fallback = stored.clone();
    try_from_storage(resource, stored).unwrap_or_else(|error| {
        tracing::warn!(resource = %resource.qualified_plural(), %error, "custom resource conversion failed");
        crate::crds::relabel(fallback, resource.api_version())
    })
}

/// A request's object in the storage version; fails only when a CRD's conversion webhook does.
pub fn to_storage(resource: &ResourceInfo, object: Value) -> ApiResult<Value> {
    if resource.custom {
        return crate::crds::to_storage(resource, object);
    }
    Ok(match (resource.group.as_str(), resource.plural.as_str()) {
        ("events.k8s.io", "events") => {
            let mut event = rename(&object, &EVENT_RENAMES, false, "v1");
            event["kind"] = json!("Event");
            event
        }
        ("autoscaling", "horizontalpodautoscalers") if resource.version == "v1" => hpa_v1_to_v2(&object),
        _ => object,
    })
}

fn hpa_v1_to_v2(object: &Value) -> Value {
    let mut hpa = object.clone();
    hpa["apiVersion"] = json!("autoscaling/v2");
    if let Some(spec) = hpa.get_mut("spec").and_then(Value::as_object_mut)
        && let Some(target) = spec.remove("targetCPUUtilizationPercentage")
    {
        spec.insert(
                "metrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}]),
            );
    }
    if let Some(status) = hpa.get_mut("status").and_then(Value::as_object_mut)
        && let Some(current) = status.remove("currentCPUUtilizationPercentage")
    {
        status.insert(
            "currentMetrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}]),
        );
    }
    hpa
}

fn hpa_v2_to_v1(object: &Value) -> Value {
    let mut hpa = object.clone();
    hpa["apiVersion"] = json!("autoscaling/v1");
    let cpu_target = object
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|m| m["type"] == "Resource" && m.pointer("/resource/name") == Some(&json!("cpu")))
        .and_then(|m| m.pointer("/resource/target/averageUtilization").cloned());
    if let Some(spec) = hpa.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("metrics");
        spec.remove("behavior");
        if let Some(target) = cpu_target {
            spec.insert("targetCPUUtilizationPercentage".into(), target);
        }
    }
    let cpu_current = object
        .pointer("/status/currentMetrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|m| m.pointer("/resource/name") == Some(&json!("cpu")))
        .and_then(|m| m.pointer("/resource/current/averageUtilization").cloned());
    if let Some(status) = hpa.get_mut("status").and_then(Value::as_object_mut) {
        status.remove("currentMetrics");
        status.remove("conditions");
        if let Some(current) = cpu_current {
            status.insert("currentCPUUtilizationPercentage".into(), current);
        }
    }
    hpa
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::Catalog;

    #[test]
    fn events_convert_both_ways_through_core_v1() {
        let catalog = Catalog::builtin();
        let events = catalog.get("events.k8s.io", "v1", "events").unwrap();
        assert!(converts(events));
        let new_style = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "regarding": {"kind": "Pod", "name": "p"}, "note": "pulled", "reason": "Pulled", "type": "Normal", "reportingController": "kubelet"});
        let stored = to_storage(events, new_style.clone()).unwrap();
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"]["name"], "p");
        assert_eq!(stored["message"], "pulled");
        assert_eq!(from_storage(events, stored), new_style);
        assert!(!converts(catalog.get("", "v1", "events").unwrap()));
    }

    #[test]
    fn hpa_v1_round_trips_its_cpu_target() {
        let catalog = Catalog::builtin();
        let v1 = catalog.get("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        let object = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"}, "spec": {"maxReplicas": 5, "targetCPUUtilizationPercentage": 70}});
        let stored = to_storage(v1, object.clone()).unwrap();
        assert_eq!(stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70);
        assert_eq!(from_storage(v1, stored), object);
    }
}

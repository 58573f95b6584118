//! The event printer. kube-apiserver serves core/v1 and events.k8s.io/v1 Events from one
//! storage and prints both with `printEvent` over the internal type, so both groups get the
//! same columns (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE, then wide SUBOBJECT, SOURCE, FIRST
//! SEEN, COUNT, NAME). The two wire forms name the same fields differently
//! (`involvedObject`/`regarding`, `message`/`note`, `count`/`deprecatedCount`, ...); [`Fields`]
//! maps each onto the internal one.

use super::columns::{ColumnDefinition, NAME_DESCRIPTION, at, col, int, name_cell, since, text, time, wide};
use super::{BuiltinPrinter, Row, TableContext};
use serde_json::{Value, json};
use std::borrow::Cow;

static COLUMNS: [ColumnDefinition; 10] = [
    col("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
    col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
    col(
        "Reason",
        "string",
        "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    ),
    col("Object", "string", "The object that this event is about."),
    wide(
        "Subobject",
        "string",
        "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.",
    ),
    wide("Source", "string", "The component reporting this event. Should be a short machine understandable string."),
    col("Message", "string", "A human-readable description of the status of this operation."),
    wide(
        "First Seen",
        "string",
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
    ),
    wide("Count", "string", "The number of times this event has occurred."),
    ColumnDefinition {
        name: Cow::Borrowed("Name"),
        type_: Cow::Borrowed("string"),
        format: Cow::Borrowed("name"),
        description: Cow::Borrowed(NAME_DESCRIPTION),
        priority: 1,
    },
];

/// Where one wire form keeps each field of the internal `Event`.
struct Fields {
    involved: &'static str,
    message: &'static str,
    source: &'static str,
    first: &'static str,
    last: &'static str,
    count: &'static str,
    controller: &'static str,
}

const CORE: Fields = Fields {
    involved: "involvedObject",
    message: "message",
    source: "source",
    first: "firstTimestamp",
    last: "lastTimestamp",
    count: "count",
    controller: "reportingComponent",
};

const EVENTS_V1: Fields = Fields {
    involved: "regarding",
    message: "note",
    source: "deprecatedSource",
    first: "deprecatedFirstTimestamp",
    last: "deprecatedLastTimestamp",
    count: "deprecatedCount",
    controller: "reportingController",
};

/// core/v1 `events`.
pub static EVENTS: BuiltinPrinter = BuiltinPrinter { columns: &COLUMNS, print: print_core_event, adjust: None };
/// events.k8s.io/v1 `events`.
pub static EVENTS_V1_PRINTER: BuiltinPrinter =
    BuiltinPrinter { columns: &COLUMNS, print: print_events_v1_event, adjust: None };

fn print_core_event(event: &Value, ctx: &TableContext) -> Row {
    print_event(event, ctx, &CORE)
}

fn print_events_v1_event(event: &Value, ctx: &TableContext) -> Row {
    print_event(event, ctx, &EVENTS_V1)
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

fn print_event(event: &Value, ctx: &TableContext, f: &Fields) -> Row {
    let first = match time(event, &[f.first]) {
        Some(t) => since(Some(t), ctx),
        None => since(time(event, &["eventTime"]), ctx),
    };
    let mut last = match time(event, &[f.last]) {
        Some(t) => since(Some(t), ctx),
        None => first.clone(),
    };
    let mut count = int(event, &[f.count]);
    match at(event, &["series"]).filter(|s| !s.is_null()) {
        Some(series) => {
            last = since(time(series, &["lastObservedTime"]), ctx);
            count = int(series, &["count"]);
        }
        // Singleton events don't have a count set in the new API.
        None if count == 0 => count = 1,
        None => {}
    }
    let kind = text(event, &[f.involved, "kind"]).to_lowercase();
    let target = match text(event, &[f.involved, "name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let component = first_non_empty(text(event, &[f.source, "component"]), text(event, &[f.controller]));
    let instance = first_non_empty(text(event, &[f.source, "host"]), text(event, &["reportingInstance"]));
    let source = if instance.is_empty() { component.to_string() } else { format!("{component}, {instance}") };
    Row::from(vec![
        json!(last),
        json!(text(event, &["type"])),
        json!(text(event, &["reason"])),
        json!(target),
        json!(text(event, &[f.involved, "fieldPath"])),
        json!(source),
        json!(text(event, &[f.message]).trim()),
        json!(first),
        json!(count),
        name_cell(event),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_rfc3339;

    fn ctx() -> TableContext {
        TableContext { now_unix: parse_rfc3339("2026-11-22T07:41:00Z").unwrap() }
    }

    #[test]
    fn core_event_from_the_kubelet() {
        let event = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web-0.187a3b5c9d0e1f23", "namespace": "default", "creationTimestamp": "2026-11-22T07:30:00Z"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-0", "uid": "5c8e2f4a", "apiVersion": "v1",
                               "resourceVersion": "812", "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "message": "Back-off restarting failed container app in pod web-0_default(5c8e2f4a)\n",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2026-11-22T07:30:00Z", "lastTimestamp": "2026-11-22T07:39:00Z", "count": 42, "type": "Warning",
            "eventTime": null, "reportingComponent": "kubelet", "reportingInstance": "node-1"});
        assert_eq!(
            print_event(&event, &ctx(), &CORE).cells,
            vec![
                json!("2m"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web-0"),
                json!("spec.containers{app}"),
                json!("kubelet, node-1"),
                json!("Back-off restarting failed container app in pod web-0_default(5c8e2f4a)"),
                json!("11m"),
                json!(42),
                json!("web-0.187a3b5c9d0e1f23")
            ]
        );
    }

    #[test]
    fn core_event_with_only_event_time_and_series() {
        let event = json!({"metadata": {"name": "x.1"}, "involvedObject": {"kind": "Node", "name": "node-1"},
            "reason": "Starting", "message": "", "source": {}, "type": "Normal", "count": 0,
            "eventTime": "2026-11-22T07:40:59.500000Z", "reportingComponent": "kube-proxy", "reportingInstance": ""});
        assert_eq!(
            print_event(&event, &ctx(), &CORE).cells[..9],
            [
                json!("0s"),
                json!("Normal"),
                json!("Starting"),
                json!("node/node-1"),
                json!(""),
                json!("kube-proxy"),
                json!(""),
                json!("0s"),
                json!(1)
            ]
        );

        let mut series = event.clone();
        series["series"] = json!({"count": 5, "lastObservedTime": "2026-11-22T07:38:00.000000Z"});
        series["eventTime"] = json!("2026-11-22T07:20:00.000000Z");
        assert_eq!(print_event(&series, &ctx(), &CORE).cells[0], json!("3m"));
        assert_eq!(print_event(&series, &ctx(), &CORE).cells[7..9], [json!("21m"), json!(5)]);

        let bare = json!({"metadata": {"name": "y"}, "involvedObject": {"kind": "Namespace"}});
        assert_eq!(
            print_event(&bare, &ctx(), &CORE).cells[..4],
            [json!("<unknown>"), json!(""), json!(""), json!("namespace")]
        );
    }

    #[test]
    fn events_k8s_io_v1_maps_renamed_fields() {
        let event = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.17", "namespace": "default", "creationTimestamp": "2026-11-22T07:36:00Z"},
            "eventTime": "2026-11-22T07:36:00.000000Z", "reportingController": "deployment-controller", "reportingInstance": "",
            "action": "ScalingReplicaSet", "reason": "ScalingReplicaSet",
            "regarding": {"kind": "Deployment", "namespace": "default", "name": "web", "apiVersion": "apps/v1"},
            "note": "Scaled up replica set web-7d4b9c to 3", "type": "Normal",
            "deprecatedSource": {"component": "deployment-controller"},
            "deprecatedFirstTimestamp": "2026-11-22T07:36:00Z", "deprecatedLastTimestamp": "2026-11-22T07:36:00Z", "deprecatedCount": 1});
        assert_eq!(
            print_event(&event, &ctx(), &EVENTS_V1).cells,
            vec![
                json!("5m"),
                json!("Normal"),
                json!("ScalingReplicaSet"),
                json!("deployment/web"),
                json!(""),
                json!("deployment-controller"),
                json!("Scaled up replica set web-7d4b9c to 3"),
                json!("5m"),
                json!(1),
                json!("web.17")
            ]
        );
        assert_eq!((EVENTS_V1_PRINTER.print)(&event, &ctx()).cells, print_event(&event, &ctx(), &EVENTS_V1).cells);
        // Read with the core field names, the same object has no target and no message.
        let as_core = (EVENTS.print)(&event, &ctx()).cells;
        assert_eq!((as_core[3].clone(), as_core[6].clone()), (json!(""), json!("")));
    }
}

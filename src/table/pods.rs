//! The pod printer, the most involved one: kube-apiserver's `printPod`. It owns the STATUS
//! logic (phase, `status.reason`, SchedulingGated, `Init:N/M` and `Init:<reason>` while init
//! containers run, the first container's waiting/terminated reason, Completed pods with a
//! running sidecar turning back to Running/NotReady, Terminating, and Unknown for NodeLost), the
//! READY count (restartable init containers, i.e. sidecars, count once started), RESTARTS with
//! "(5m ago)", the wide IP/NODE/NOMINATED NODE/READINESS GATES cells, and the row's `Completed`
//! condition for finished pods.

use super::columns::{
    AGE, ColumnDefinition, NAME, age_cell, at, col, deleting, int, list, name_cell, opt_bool, or_none, since, text,
    time, wide,
};
use super::{BuiltinPrinter, Row, TableContext};
use serde_json::{Value, json};

static COLUMNS: [ColumnDefinition; 9] = [
    NAME,
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "The aggregate status of the containers in this pod."),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    wide(
        "IP",
        "string",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
    ),
    wide(
        "Node",
        "string",
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
    ),
    wide(
        "Nominated Node",
        "string",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
    ),
    wide(
        "Readiness Gates",
        "string",
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
    ),
];

pub static PODS: BuiltinPrinter = BuiltinPrinter { columns: &COLUMNS, print: print_pod, adjust: None };

/// A container state (`state.waiting`, `state.terminated`, ...), treating `null` as absent.
fn state<'a>(status: &'a Value, path: &[&str]) -> Option<&'a Value> {
    at(status, path).filter(|v| !v.is_null())
}

/// `Signal:N` / `ExitCode:N` for a terminated container without a reason.
fn exit_text(terminated: &Value) -> String {
    match int(terminated, &["signal"]) {
        0 => format!("ExitCode:{}", int(terminated, &["exitCode"])),
        signal => format!("Signal:{signal}"),
    }
}

fn condition_is_true(pod: &Value, type_: &str) -> bool {
    list(pod, &["status", "conditions"]).iter().any(|c| text(c, &["type"]) == type_ && text(c, &["status"]) == "True")
}

/// Restart bookkeeping: the count and the latest `lastState.terminated.finishedAt` (`None` is
/// Go's zero time, earlier than every real time, as `Option`'s ordering has it).
#[derive(Clone, Copy, Default)]
struct Restarts {
    count: i64,
    last: Option<i64>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        self.count += int(status, &["restartCount"]);
        if state(status, &["lastState", "terminated"]).is_some() {
            self.last = self.last.max(time(status, &["lastState", "terminated", "finishedAt"]));
        }
    }
}

fn print_pod(pod: &Value, ctx: &TableContext) -> Row {
    let init_specs = list(pod, &["spec", "initContainers"]);
    let is_sidecar =
        |name: &str| init_specs.iter().any(|c| text(c, &["name"]) == name && text(c, &["restartPolicy"]) == "Always");
    let total = list(pod, &["spec", "containers"]).len()
        + init_specs.iter().filter(|c| text(c, &["restartPolicy"]) == "Always").count();
    let mut ready = 0;
    let mut restarts = Restarts::default();
    let mut sidecar_restarts = Restarts::default();

    let phase = text(pod, &["status", "phase"]);
    let mut reason = match text(pod, &["status", "reason"]) {
        "" => phase.to_string(),
        status_reason => status_reason.to_string(),
    };
    let gated = list(pod, &["status", "conditions"])
        .iter()
        .any(|c| text(c, &["type"]) == "PodScheduled" && text(c, &["reason"]) == "SchedulingGated");
    if gated {
        reason = "SchedulingGated".into();
    }

    let mut initializing = false;
    for (i, status) in list(pod, &["status", "initContainerStatuses"]).iter().enumerate() {
        let sidecar = is_sidecar(text(status, &["name"]));
        restarts.add(status);
        if sidecar {
            sidecar_restarts.add(status);
        }
        let terminated = state(status, &["state", "terminated"]);
        let waiting_reason = state(status, &["state", "waiting"]).map(|w| text(w, &["reason"])).unwrap_or("");
        if terminated.is_some_and(|t| int(t, &["exitCode"]) == 0) {
            continue;
        }
        if sidecar && opt_bool(status, &["started"]) == Some(true) {
            if opt_bool(status, &["ready"]) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = match terminated {
            Some(t) if text(t, &["reason"]).is_empty() => format!("Init:{}", exit_text(t)),
            Some(t) => format!("Init:{}", text(t, &["reason"])),
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                format!("Init:{waiting_reason}")
            }
            None => format!("Init:{i}/{}", init_specs.len()),
        };
        initializing = true;
        break;
    }

    if !initializing || condition_is_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        let mut has_running = false;
        for status in list(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts.add(status);
            let waiting_reason = state(status, &["state", "waiting"]).map(|w| text(w, &["reason"])).unwrap_or("");
            let terminated = state(status, &["state", "terminated"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                reason = match text(t, &["reason"]) {
                    "" => exit_text(t),
                    r => r.to_string(),
                };
            } else if opt_bool(status, &["ready"]) == Some(true) && state(status, &["state", "running"]).is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_is_true(pod, "Ready") { "Running" } else { "NotReady" }.into();
        }
    }

    if deleting(pod) && text(pod, &["status", "reason"]) == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting(pod) && phase != "Failed" && phase != "Succeeded" {
        reason = "Terminating".into();
    }

    let restarts_cell = match restarts.last {
        Some(_) if restarts.count != 0 => format!("{} ({} ago)", restarts.count, since(restarts.last, ctx)),
        _ => restarts.count.to_string(),
    };
    let cells = vec![
        name_cell(pod),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_cell),
        age_cell(pod, ctx),
        json!(or_none(pod_ip(pod))),
        json!(or_none(text(pod, &["spec", "nodeName"]))),
        json!(or_none(text(pod, &["status", "nominatedNodeName"]))),
        json!(readiness_gates(pod)),
    ];
    let conditions = match phase {
        "Succeeded" => vec![completed("Succeeded", "The pod has completed successfully.")],
        "Failed" => vec![completed("Failed", "The pod failed.")],
        _ => Vec::new(),
    };
    Row { cells, conditions }
}

/// The row condition kube-apiserver attaches to finished pods (kubectl hides such rows unless
/// `--show-all`-style flags ask for them).
fn completed(reason: &str, message: &str) -> Value {
    json!({"type": "Completed", "status": "True", "reason": reason, "message": message})
}

/// The internal version's `PodIPs[0]`: v1 `podIP` wins when set (the v1 conversion makes it
/// authoritative), else the first of `podIPs`.
fn pod_ip(pod: &Value) -> &str {
    match text(pod, &["status", "podIP"]) {
        "" => list(pod, &["status", "podIPs"]).first().map_or("", |ip| text(ip, &["ip"])),
        ip => ip,
    }
}

/// "true/total" over `spec.readinessGates`, or "<none>".
fn readiness_gates(pod: &Value) -> String {
    let gates = list(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".into();
    }
    let conditions = list(pod, &["status", "conditions"]);
    let met = gates
        .iter()
        .filter(|gate| {
            let type_ = text(gate, &["conditionType"]);
            conditions.iter().find(|c| text(c, &["type"]) == type_).is_some_and(|c| text(c, &["status"]) == "True")
        })
        .count();
    format!("{met}/{}", gates.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_rfc3339;

    const NOW: &str = "2026-11-22T07:41:00Z";

    fn ctx() -> TableContext {
        TableContext { now_unix: parse_rfc3339(NOW).unwrap() }
    }

    /// A scheduled pod as the API server stores it, with `status` merged in.
    fn pod(spec: Value, status: Value) -> Value {
        let mut pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-0", "namespace": "default", "uid": "5c8e2f4a-1111-4a4a-9b9b-0123456789ab",
                          "resourceVersion": "812", "creationTimestamp": "2026-11-22T07:36:00Z", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent"}],
                     "restartPolicy": "Always", "nodeName": "node-1", "schedulerName": "default-scheduler"},
            "status": {"phase": "Running", "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}], "hostIP": "172.18.0.2"},
        });
        merge(&mut pod["spec"], spec);
        merge(&mut pod["status"], status);
        pod
    }

    fn merge(target: &mut Value, patch: Value) {
        for (k, v) in patch.as_object().cloned().unwrap_or_default() {
            target[k] = v;
        }
    }

    fn running(name: &str, ready: bool, restarts: i64) -> Value {
        json!({"name": name, "ready": ready, "restartCount": restarts, "started": true, "image": "nginx:1.27",
               "state": {"running": {"startedAt": "2026-11-22T07:36:05Z"}}})
    }

    fn cells(pod: &Value) -> Vec<Value> {
        print_pod(pod, &ctx()).cells
    }

    fn summary(pod: &Value) -> (String, String, String) {
        let c = cells(pod);
        (c[1].as_str().unwrap().into(), c[2].as_str().unwrap().into(), c[3].as_str().unwrap().into())
    }

    fn s(a: &str, b: &str, c: &str) -> (String, String, String) {
        (a.into(), b.into(), c.into())
    }

    #[test]
    fn running_pod_all_cells() {
        let p = pod(
            json!({}),
            json!({"conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [running("app", true, 0)]}),
        );
        assert_eq!(
            cells(&p),
            vec![
                json!("web-0"),
                json!("1/1"),
                json!("Running"),
                json!("0"),
                json!("5m"),
                json!("10.244.1.7"),
                json!("node-1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        assert!(print_pod(&p, &ctx()).conditions.is_empty());
        assert_eq!(COLUMNS.len(), cells(&p).len());
    }

    #[test]
    fn pending_unscheduled_pod() {
        let mut p = pod(json!({}), json!({"phase": "Pending"}));
        p["spec"].as_object_mut().unwrap().remove("nodeName");
        p["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        assert_eq!(
            cells(&p)[1..],
            [
                json!("0/1"),
                json!("Pending"),
                json!("0"),
                json!("5m"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn waiting_reasons_and_restarts_ago() {
        let creating = json!({"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}});
        assert_eq!(
            summary(&pod(json!({}), json!({"phase": "Pending", "containerStatuses": [creating]}))),
            s("0/1", "ContainerCreating", "0")
        );

        let crashing = json!({"name": "app", "ready": false, "restartCount": 3,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-11-22T07:36:00Z"}}});
        assert_eq!(
            summary(&pod(json!({}), json!({"containerStatuses": [crashing]}))),
            s("0/1", "CrashLoopBackOff", "3 (5m ago)")
        );

        // Restarts without a recorded termination time print the bare count.
        let restarted = json!({"name": "app", "ready": true, "restartCount": 2, "state": {"running": {}}});
        assert_eq!(summary(&pod(json!({}), json!({"containerStatuses": [restarted]}))), s("1/1", "Running", "2"));
    }

    #[test]
    fn first_container_reason_wins_and_exit_codes() {
        let killed = json!({"name": "app", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}});
        let exited =
            json!({"name": "side", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 2}}});
        let two = json!({"containers": [{"name": "app"}, {"name": "side"}]});
        assert_eq!(
            summary(&pod(two.clone(), json!({"containerStatuses": [killed, exited.clone()]}))),
            s("0/2", "Signal:9", "0")
        );
        assert_eq!(
            summary(&pod(two, json!({"containerStatuses": [running("app", true, 0), exited]}))),
            s("1/2", "ExitCode:2", "0")
        );
    }

    #[test]
    fn completed_pod_carries_row_condition() {
        let done = json!({"name": "app", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": "2026-11-22T07:40:00Z"}}});
        let p = pod(json!({"restartPolicy": "Never"}), json!({"phase": "Succeeded", "containerStatuses": [done]}));
        let row = print_pod(&p, &ctx());
        assert_eq!(row.cells[1..4], [json!("0/1"), json!("Completed"), json!("0")]);
        assert_eq!(
            row.conditions,
            vec![
                json!({"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."})
            ]
        );
        let failed = pod(json!({}), json!({"phase": "Failed", "reason": "Evicted", "containerStatuses": []}));
        let row = print_pod(&failed, &ctx());
        assert_eq!(row.cells[2], json!("Evicted"));
        assert_eq!(row.conditions[0]["message"], "The pod failed.");
    }

    #[test]
    fn init_containers() {
        let spec = json!({"initContainers": [{"name": "migrate"}, {"name": "seed"}]});
        let waiting = |r: &str| json!({"name": "migrate", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": r}}});
        let main_waiting = json!([{"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]);
        let status =
            |init: Value| json!({"phase": "Pending", "initContainerStatuses": init, "containerStatuses": main_waiting});
        assert_eq!(summary(&pod(spec.clone(), status(json!([waiting("PodInitializing")])))), s("0/1", "Init:0/2", "0"));
        assert_eq!(
            summary(&pod(spec.clone(), status(json!([waiting("CrashLoopBackOff")])))),
            s("0/1", "Init:CrashLoopBackOff", "0")
        );
        let first_done = json!({"name": "migrate", "ready": true, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
        let second_failed = json!({"name": "seed", "ready": false, "restartCount": 4,
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-11-22T07:39:00Z"}},
            "state": {"terminated": {"exitCode": 1, "reason": "Error"}}});
        // Restarts of ordinary init containers count while the pod initializes.
        assert_eq!(
            summary(&pod(spec.clone(), status(json!([first_done, second_failed])))),
            s("0/1", "Init:Error", "4 (2m ago)")
        );
        let no_reason =
            json!({"name": "migrate", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 3}}});
        assert_eq!(summary(&pod(spec, status(json!([no_reason])))), s("0/1", "Init:ExitCode:3", "0"));
    }

    #[test]
    fn sidecars_count_toward_ready_and_restarts() {
        let spec = json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}]});
        let proxy = json!({"name": "proxy", "ready": true, "started": true, "restartCount": 1,
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-11-22T07:38:00Z"}}, "state": {"running": {}}});
        let status = json!({"conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                            "initContainerStatuses": [proxy], "containerStatuses": [running("app", true, 1)]});
        assert_eq!(summary(&pod(spec.clone(), status)), s("2/2", "Running", "2 (3m ago)"));

        // The main container finished but the sidecar still runs: Completed turns back.
        let done = json!({"name": "app", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
        let sidecar_only = json!({"initContainerStatuses": [running("proxy", true, 0)], "containerStatuses": [done.clone(), running("app2", true, 0)],
                                  "conditions": [{"type": "Initialized", "status": "True"}]});
        let two = json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}, {"name": "app2"}]});
        assert_eq!(summary(&pod(two, sidecar_only)), s("2/3", "NotReady", "0"));
    }

    #[test]
    fn terminating_unknown_and_gated() {
        let mut p = pod(json!({}), json!({"containerStatuses": [running("app", true, 0)]}));
        p["metadata"]["deletionTimestamp"] = json!("2026-11-22T07:40:30Z");
        assert_eq!(summary(&p), s("1/1", "Terminating", "0"));
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(summary(&p), s("1/1", "Unknown", "0"));

        let gated = pod(
            json!({"schedulingGates": [{"name": "example.com/quota"}]}),
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
        );
        assert_eq!(summary(&gated), s("0/1", "SchedulingGated", "0"));
    }

    #[test]
    fn wide_cells() {
        let mut p = pod(
            json!({"readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]}),
            json!({"nominatedNodeName": "node-2", "podIP": null,
                   "podIPs": [{"ip": "fd00::7"}, {"ip": "10.0.0.7"}],
                   "conditions": [{"type": "example.com/lb", "status": "True"}, {"type": "example.com/dns", "status": "False"}]}),
        );
        assert_eq!(cells(&p)[5..], [json!("fd00::7"), json!("node-1"), json!("node-2"), json!("1/2")]);
        p["metadata"].as_object_mut().unwrap().remove("creationTimestamp");
        assert_eq!(cells(&p)[4], json!("<unknown>"));
    }
}

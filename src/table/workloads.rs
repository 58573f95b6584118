//! Printers for the workload controllers: deployments, replicasets, replicationcontrollers,
//! statefulsets, daemonsets, jobs (STATUS/COMPLETIONS/DURATION), cronjobs, podtemplates and
//! controllerrevisions, after kube-apiserver's `printDeployment`, `printReplicaSet`, ...
//! Replica counts the API server defaults (`spec.replicas`, `spec.parallelism`) read as 1 when
//! absent, as the defaulted internal object would.

use super::columns::{
    AGE, CONTAINERS, ColumnDefinition, IMAGES, NAME, age_cell, at, bool_ptr, col, container_cells, deleting,
    format_label_selector, format_labels, int, label_selector_string, list, map, name_cell, opt_bool, opt_int,
    opt_text, since, text, time, wide,
};
use super::duration::human_duration;
use super::{BuiltinPrinter, Row, TableContext};
use serde_json::{Value, json};

const READY_PODS: &str = "Number of the pod with ready state";
const RS_REPLICAS: &str = "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller";
const RS_STATUS_REPLICAS: &str = "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller";
const JOB_SELECTOR: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";

/// `spec.template.spec.containers` (or deeper, for cronjobs) as the two wide cells.
fn template_containers(object: &Value, template: &[&str]) -> [Value; 2] {
    let path: Vec<&str> = template.iter().copied().chain(["spec", "containers"]).collect();
    container_cells(list(object, &path))
}

fn desired_replicas(object: &Value) -> i64 {
    opt_int(object, &["spec", "replicas"]).unwrap_or(1)
}

// ---- deployments ----------------------------------------------------------------------------

static DEPLOYMENT_COLUMNS: [ColumnDefinition; 8] = [
    NAME,
    col("Ready", "string", READY_PODS),
    col(
        "Up-to-date",
        "string",
        "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
    ),
    col(
        "Available",
        "string",
        "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "string",
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
    ),
];
pub static DEPLOYMENTS: BuiltinPrinter =
    BuiltinPrinter { columns: &DEPLOYMENT_COLUMNS, print: print_deployment, adjust: None };

fn print_deployment(d: &Value, ctx: &TableContext) -> Row {
    let [names, images] = template_containers(d, &["spec", "template"]);
    let selector = label_selector_string(at(d, &["spec", "selector"])).unwrap_or_else(|()| "<invalid>".into());
    Row::from(vec![
        name_cell(d),
        json!(format!("{}/{}", int(d, &["status", "readyReplicas"]), desired_replicas(d))),
        json!(int(d, &["status", "updatedReplicas"])),
        json!(int(d, &["status", "availableReplicas"])),
        age_cell(d, ctx),
        names,
        images,
        json!(selector),
    ])
}

// ---- replicasets and replicationcontrollers --------------------------------------------------

static REPLICASET_COLUMNS: [ColumnDefinition; 8] = [
    NAME,
    col("Desired", "integer", RS_REPLICAS),
    col("Current", "integer", RS_STATUS_REPLICAS),
    col("Ready", "integer", "The number of ready replicas for this replica set."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "string",
        "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    ),
];
pub static REPLICASETS: BuiltinPrinter =
    BuiltinPrinter { columns: &REPLICASET_COLUMNS, print: print_replica_set, adjust: None };

static RC_COLUMNS: [ColumnDefinition; 8] = [
    NAME,
    col(
        "Desired",
        "integer",
        "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller",
    ),
    col(
        "Current",
        "integer",
        "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller",
    ),
    col("Ready", "integer", "The number of ready replicas for this replication controller."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "string",
        "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values that must match in order to be controlled by this replication controller, if empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    ),
];
pub static REPLICATIONCONTROLLERS: BuiltinPrinter =
    BuiltinPrinter { columns: &RC_COLUMNS, print: print_replication_controller, adjust: None };

fn replica_cells(object: &Value, ctx: &TableContext) -> Vec<Value> {
    vec![
        name_cell(object),
        json!(desired_replicas(object)),
        json!(int(object, &["status", "replicas"])),
        json!(int(object, &["status", "readyReplicas"])),
        age_cell(object, ctx),
    ]
}

fn print_replica_set(rs: &Value, ctx: &TableContext) -> Row {
    let mut cells = replica_cells(rs, ctx);
    cells.extend(template_containers(rs, &["spec", "template"]));
    cells.push(json!(format_label_selector(at(rs, &["spec", "selector"]))));
    Row::from(cells)
}

fn print_replication_controller(rc: &Value, ctx: &TableContext) -> Row {
    let mut cells = replica_cells(rc, ctx);
    cells.extend(template_containers(rc, &["spec", "template"]));
    cells.push(json!(format_labels(map(rc, &["spec", "selector"]))));
    Row::from(cells)
}

// ---- statefulsets and daemonsets ------------------------------------------------------------

static STATEFULSET_COLUMNS: [ColumnDefinition; 5] = [NAME, col("Ready", "string", READY_PODS), AGE, CONTAINERS, IMAGES];
pub static STATEFULSETS: BuiltinPrinter =
    BuiltinPrinter { columns: &STATEFULSET_COLUMNS, print: print_stateful_set, adjust: None };

fn print_stateful_set(sts: &Value, ctx: &TableContext) -> Row {
    let mut cells = vec![
        name_cell(sts),
        json!(format!("{}/{}", int(sts, &["status", "readyReplicas"]), desired_replicas(sts))),
        age_cell(sts, ctx),
    ];
    cells.extend(template_containers(sts, &["spec", "template"]));
    Row::from(cells)
}

static DAEMONSET_COLUMNS: [ColumnDefinition; 11] = [
    NAME,
    col(
        "Desired",
        "integer",
        "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    ),
    col(
        "Current",
        "integer",
        "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    ),
    col(
        "Ready",
        "integer",
        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
    ),
    col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
    col(
        "Available",
        "integer",
        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
    ),
    col(
        "Node Selector",
        "string",
        "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "string",
        "A label query over pods that are managed by the daemon set. Must match in order to be controlled. If empty, defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    ),
];
pub static DAEMONSETS: BuiltinPrinter =
    BuiltinPrinter { columns: &DAEMONSET_COLUMNS, print: print_daemon_set, adjust: None };

fn print_daemon_set(ds: &Value, ctx: &TableContext) -> Row {
    let mut cells = vec![name_cell(ds)];
    for field in
        ["desiredNumberScheduled", "currentNumberScheduled", "numberReady", "updatedNumberScheduled", "numberAvailable"]
    {
        cells.push(json!(int(ds, &["status", field])));
    }
    cells.push(json!(format_labels(map(ds, &["spec", "template", "spec", "nodeSelector"]))));
    cells.push(age_cell(ds, ctx));
    cells.extend(template_containers(ds, &["spec", "template"]));
    cells.push(json!(format_label_selector(at(ds, &["spec", "selector"]))));
    Row::from(cells)
}

// ---- jobs and cronjobs ----------------------------------------------------------------------

static JOB_COLUMNS: [ColumnDefinition; 8] = [
    NAME,
    col("Status", "string", "Status of the job."),
    col(
        "Completions",
        "string",
        "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.",
    ),
    col("Duration", "string", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", JOB_SELECTOR),
];
pub static JOBS: BuiltinPrinter = BuiltinPrinter { columns: &JOB_COLUMNS, print: print_job, adjust: None };

/// `hasJobCondition`: the first condition of that type decides.
fn has_job_condition(job: &Value, type_: &str) -> bool {
    list(job, &["status", "conditions"])
        .iter()
        .find(|c| text(c, &["type"]) == type_)
        .is_some_and(|c| text(c, &["status"]) == "True")
}

fn print_job(job: &Value, ctx: &TableContext) -> Row {
    let succeeded = int(job, &["status", "succeeded"]);
    let completions = match opt_int(job, &["spec", "completions"]) {
        Some(completions) => format!("{succeeded}/{completions}"),
        None => match opt_int(job, &["spec", "parallelism"]).unwrap_or(1) {
            parallelism if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (time(job, &["status", "startTime"]), time(job, &["status", "completionTime"])) {
        (None, _) => String::new(),
        (Some(start), None) => since(Some(start), ctx),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    let status = if has_job_condition(job, "Complete") {
        "Complete"
    } else if has_job_condition(job, "Failed") {
        "Failed"
    } else if deleting(job) {
        "Terminating"
    } else if has_job_condition(job, "Suspended") {
        "Suspended"
    } else if has_job_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let mut cells = vec![name_cell(job), json!(status), json!(completions), json!(duration), age_cell(job, ctx)];
    cells.extend(template_containers(job, &["spec", "template"]));
    cells.push(json!(format_label_selector(at(job, &["spec", "selector"]))));
    Row::from(cells)
}

static CRONJOB_COLUMNS: [ColumnDefinition; 10] = [
    NAME,
    col("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    col(
        "Timezone",
        "string",
        "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones",
    ),
    col(
        "Suspend",
        "boolean",
        "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.",
    ),
    col("Active", "integer", "A list of pointers to currently running jobs."),
    col("Last Schedule", "string", "Information when was the last time the job was successfully scheduled."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", JOB_SELECTOR),
];
pub static CRONJOBS: BuiltinPrinter = BuiltinPrinter { columns: &CRONJOB_COLUMNS, print: print_cron_job, adjust: None };

fn print_cron_job(cj: &Value, ctx: &TableContext) -> Row {
    let last_schedule = match time(cj, &["status", "lastScheduleTime"]) {
        Some(t) => since(Some(t), ctx),
        None => "<none>".into(),
    };
    let mut cells = vec![
        name_cell(cj),
        json!(text(cj, &["spec", "schedule"])),
        json!(opt_text(cj, &["spec", "timeZone"]).unwrap_or("<none>")),
        json!(bool_ptr(opt_bool(cj, &["spec", "suspend"]))),
        json!(list(cj, &["status", "active"]).len()),
        json!(last_schedule),
        age_cell(cj, ctx),
    ];
    cells.extend(template_containers(cj, &["spec", "jobTemplate", "spec", "template"]));
    cells.push(json!(format_label_selector(at(cj, &["spec", "jobTemplate", "spec", "selector"]))));
    Row::from(cells)
}

// ---- podtemplates and controllerrevisions ----------------------------------------------------

static PODTEMPLATE_COLUMNS: [ColumnDefinition; 4] = [
    NAME,
    col("Containers", "string", "Names of each container in the template."),
    col("Images", "string", "Images referenced by each container in the template."),
    col("Pod Labels", "string", "The labels for the pod template."),
];
pub static PODTEMPLATES: BuiltinPrinter =
    BuiltinPrinter { columns: &PODTEMPLATE_COLUMNS, print: print_pod_template, adjust: None };

fn print_pod_template(pt: &Value, _: &TableContext) -> Row {
    let [names, images] = template_containers(pt, &["template"]);
    Row::from(vec![name_cell(pt), names, images, json!(format_labels(map(pt, &["template", "metadata", "labels"])))])
}

static CONTROLLERREVISION_COLUMNS: [ColumnDefinition; 4] = [
    NAME,
    col("Controller", "string", "Controller of the object"),
    col("Revision", "string", "Revision indicates the revision of the state represented by Data."),
    AGE,
];
pub static CONTROLLERREVISIONS: BuiltinPrinter =
    BuiltinPrinter { columns: &CONTROLLERREVISION_COLUMNS, print: print_controller_revision, adjust: None };

fn print_controller_revision(cr: &Value, ctx: &TableContext) -> Row {
    let owner =
        list(cr, &["metadata", "ownerReferences"]).iter().find(|o| at(o, &["controller"]) == Some(&json!(true)));
    let controller = owner.map_or_else(
        || "<none>".to_string(),
        |o| {
            let group = text(o, &["apiVersion"]).rsplit_once('/').map_or("", |(g, _)| g);
            let (kind, name) = (text(o, &["kind"]), text(o, &["name"]));
            match (group, kind) {
                ("", "") => name.to_string(),
                ("", kind) => format!("{}/{name}", kind.to_lowercase()),
                (group, kind) => format!("{}.{}/{name}", kind.to_lowercase(), group.to_lowercase()),
            }
        },
    );
    Row::from(vec![name_cell(cr), json!(controller), json!(int(cr, &["revision"])), age_cell(cr, ctx)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_rfc3339;

    fn ctx() -> TableContext {
        TableContext { now_unix: parse_rfc3339("2026-11-22T07:41:00Z").unwrap() }
    }

    fn meta(name: &str, created: &str) -> Value {
        json!({"name": name, "namespace": "default", "uid": "0b7c3a56-0000-4000-8000-000000000001", "resourceVersion": "900",
               "generation": 2, "creationTimestamp": created, "labels": {"app": name}})
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}},
               "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]}})
    }

    #[test]
    fn deployment() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web", "2026-11-20T07:41:00Z"),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template(),
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2}});
        let row = print_deployment(&d, &ctx());
        assert_eq!(
            row.cells,
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("2d"),
                json!("nginx,log"),
                json!("nginx:1.27,busybox"),
                json!("app=web")
            ]
        );
        // A freshly created deployment has no status yet.
        let fresh = json!({"metadata": meta("api", "2026-11-22T07:40:50Z"), "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": template()}});
        assert_eq!(print_deployment(&fresh, &ctx()).cells[1..5], [json!("0/1"), json!(0), json!(0), json!("10s")]);
    }

    #[test]
    fn replica_set_and_replication_controller() {
        let rs = json!({"metadata": meta("web-7d4b9c", "2026-11-22T05:11:00Z"),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d4b9c"}}, "template": template()},
            "status": {"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 1, "availableReplicas": 1}});
        assert_eq!(
            print_replica_set(&rs, &ctx()).cells,
            vec![
                json!("web-7d4b9c"),
                json!(2),
                json!(2),
                json!(1),
                json!("150m"),
                json!("nginx,log"),
                json!("nginx:1.27,busybox"),
                json!("app=web,pod-template-hash=7d4b9c")
            ]
        );
        let rc = json!({"metadata": meta("legacy", "2026-11-22T07:41:00Z"),
            "spec": {"replicas": 0, "selector": {"app": "legacy"}, "template": template()}, "status": {"replicas": 0}});
        assert_eq!(
            print_replication_controller(&rc, &ctx()).cells[1..],
            [
                json!(0),
                json!(0),
                json!(0),
                json!("0s"),
                json!("nginx,log"),
                json!("nginx:1.27,busybox"),
                json!("app=legacy")
            ]
        );
    }

    #[test]
    fn stateful_set_and_daemon_set() {
        let sts = json!({"metadata": meta("db", "2026-11-22T03:41:00Z"),
            "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": template()},
            "status": {"replicas": 3, "readyReplicas": 3, "currentReplicas": 3}});
        assert_eq!(
            print_stateful_set(&sts, &ctx()).cells,
            vec![json!("db"), json!("3/3"), json!("4h"), json!("nginx,log"), json!("nginx:1.27,busybox")]
        );

        let mut t = template();
        t["spec"]["nodeSelector"] = json!({"kubernetes.io/os": "linux"});
        let ds = json!({"metadata": meta("kube-proxy", "2026-11-22T07:33:30Z"),
            "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}}, "template": t},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3, "numberAvailable": 2, "numberMisscheduled": 0}});
        assert_eq!(
            print_daemon_set(&ds, &ctx()).cells,
            vec![
                json!("kube-proxy"),
                json!(3),
                json!(3),
                json!(2),
                json!(3),
                json!(2),
                json!("kubernetes.io/os=linux"),
                json!("7m30s"),
                json!("nginx,log"),
                json!("nginx:1.27,busybox"),
                json!("k8s-app=kube-proxy")
            ]
        );
    }

    #[test]
    fn jobs() {
        let job = |spec: Value, status: Value| {
            let mut spec = spec;
            spec["template"] = template();
            spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "0b7c3a56"}});
            json!({"metadata": meta("pi", "2026-11-22T07:31:00Z"), "spec": spec, "status": status})
        };
        let complete = job(
            json!({"completions": 1, "parallelism": 1}),
            json!({"succeeded": 1,
            "startTime": "2026-11-22T07:31:00Z", "completionTime": "2026-11-22T07:31:42Z",
            "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}),
        );
        assert_eq!(
            print_job(&complete, &ctx()).cells,
            vec![
                json!("pi"),
                json!("Complete"),
                json!("1/1"),
                json!("42s"),
                json!("10m"),
                json!("nginx,log"),
                json!("nginx:1.27,busybox"),
                json!("batch.kubernetes.io/controller-uid=0b7c3a56")
            ]
        );
        let running = job(json!({"parallelism": 3}), json!({"active": 3, "startTime": "2026-11-22T07:38:30Z"}));
        assert_eq!(print_job(&running, &ctx()).cells[1..4], [json!("Running"), json!("0/1 of 3"), json!("2m30s")]);
        let pending = job(
            json!({"completions": 5, "suspend": true}),
            json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
        );
        assert_eq!(print_job(&pending, &ctx()).cells[1..4], [json!("Suspended"), json!("0/5"), json!("")]);
        let failed = job(
            json!({}),
            json!({"failed": 7, "conditions": [{"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}]}),
        );
        assert_eq!(print_job(&failed, &ctx()).cells[1..3], [json!("Failed"), json!("0/1")]);
        let mut doomed = job(json!({}), json!({"conditions": [{"type": "FailureTarget", "status": "True"}]}));
        assert_eq!(print_job(&doomed, &ctx()).cells[1], json!("FailureTarget"));
        doomed["metadata"]["deletionTimestamp"] = json!("2026-11-22T07:40:00Z");
        assert_eq!(print_job(&doomed, &ctx()).cells[1], json!("Terminating"));
    }

    #[test]
    fn cron_job() {
        let mut cj = json!({"metadata": meta("backup", "2026-11-12T07:41:00Z"),
            "spec": {"schedule": "*/5 * * * *", "suspend": false, "concurrencyPolicy": "Allow",
                     "jobTemplate": {"spec": {"template": template()}}},
            "status": {"active": [{"kind": "Job", "name": "backup-29876540"}], "lastScheduleTime": "2026-11-22T07:40:00Z"}});
        assert_eq!(
            print_cron_job(&cj, &ctx()).cells,
            vec![
                json!("backup"),
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("60s"),
                json!("10d"),
                json!("nginx,log"),
                json!("nginx:1.27,busybox"),
                json!("<none>")
            ]
        );
        cj["spec"]["timeZone"] = json!("Etc/UTC");
        cj["spec"].as_object_mut().unwrap().remove("suspend");
        cj["status"] = json!({});
        assert_eq!(
            print_cron_job(&cj, &ctx()).cells[2..6],
            [json!("Etc/UTC"), json!("<unset>"), json!(0), json!("<none>")]
        );
    }

    #[test]
    fn pod_template_and_controller_revision() {
        let pt = json!({"metadata": meta("tpl", "2026-11-22T07:41:00Z"), "template": template()});
        assert_eq!(
            print_pod_template(&pt, &ctx()).cells,
            vec![json!("tpl"), json!("nginx,log"), json!("nginx:1.27,busybox"), json!("app=web")]
        );
        let mut cr = json!({"metadata": meta("db-5f7d", "2026-11-22T07:40:00Z"), "revision": 4, "data": {}});
        cr["metadata"]["ownerReferences"] =
            json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "u", "controller": true}]);
        assert_eq!(
            print_controller_revision(&cr, &ctx()).cells,
            vec![json!("db-5f7d"), json!("statefulset.apps/db"), json!(4), json!("60s")]
        );
        cr["metadata"].as_object_mut().unwrap().remove("ownerReferences");
        assert_eq!(print_controller_revision(&cr, &ctx()).cells[1], json!("<none>"));
    }
}

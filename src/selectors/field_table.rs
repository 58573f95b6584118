//! Which field selectors each resource supports and the string each field takes: kube-apiserver's
//! field label conversion functions (`AddFieldLabelConversionFunc` in `pkg/apis/*/v1`, the
//! `crConverter` for custom resources, `DefaultMetaV1FieldSelectorConversion` for everything
//! else) and its `GetAttrs`/`ToSelectableFields` (`pkg/registry/*/strategy.go`), which format
//! booleans as `true`/`false`, counts as decimals and missing fields as "".
//!
//! The real server is uneven and this table keeps it so: nodes and namespaces do not accept
//! `metadata.namespace`, apps/v1 ReplicaSets do not accept `status.replicas`
//! (kubernetes/kubernetes#135136), and each group words its rejection differently.

use super::validation::go_quote;
use serde_json::Value;

/// How a resource words an unsupported field.
#[derive(Clone, Copy)]
enum Rejection {
    /// `field label not supported: <field>`
    NotSupported,
    /// batch/v1 Job: `field label "<field>" not supported for batchv1.Job`
    BatchJob,
    /// resource.k8s.io ResourceSlice: `field label not supported for <gvk>: <field>`
    ResourceSlice,
    /// No conversion function: `"<field>" is not a known field selector: only "metadata.name", "metadata.namespace"`
    UnknownField,
}

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    "metadata.namespace",
    "metadata.name",
];

/// The supported fields of the built-in resources that register a conversion function.
fn conversion_table(group: &str, resource: &str) -> Option<(&'static [&'static str], Rejection)> {
    use Rejection::*;
    Some(match (group, resource) {
        ("", "pods") => (
            &[
                "metadata.name",
                "metadata.namespace",
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.podIPs",
                "status.nominatedNodeName",
                // Old v1 clients' name for spec.nodeName.
                "spec.host",
            ],
            NotSupported,
        ),
        ("", "nodes") => (&["metadata.name", "spec.unschedulable"], NotSupported),
        ("", "replicationcontrollers") => (&["metadata.name", "metadata.namespace", "status.replicas"], NotSupported),
        ("", "events") | ("events.k8s.io", "events") => (EVENT_FIELDS, NotSupported),
        ("", "namespaces") => (&["status.phase", "metadata.name"], NotSupported),
        ("", "secrets") => (&["type", "metadata.namespace", "metadata.name"], NotSupported),
        ("", "services") => (&["metadata.namespace", "metadata.name", "spec.clusterIP", "spec.type"], NotSupported),
        ("batch", "jobs") => (&["metadata.name", "metadata.namespace", "status.successful"], BatchJob),
        ("certificates.k8s.io", "certificatesigningrequests" | "clustertrustbundles") => {
            (&["metadata.name", "spec.signerName"], NotSupported)
        }
        ("certificates.k8s.io", "podcertificaterequests") => {
            (&["metadata.name", "spec.signerName", "spec.podName", "spec.nodeName"], NotSupported)
        }
        ("resource.k8s.io", "resourceslices") => (&["metadata.name", "spec.nodeName", "spec.driver"], ResourceSlice),
        _ => return None,
    })
}

fn reject(rejection: Rejection, field: &str) -> String {
    match rejection {
        Rejection::NotSupported => format!("field label not supported: {field}"),
        Rejection::BatchJob => format!("field label {} not supported for batchv1.Job", go_quote(field)),
        Rejection::ResourceSlice => {
            format!("field label not supported for resource.k8s.io/v1, Kind=ResourceSlice: {field}")
        }
        Rejection::UnknownField => {
            format!("{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"", go_quote(field))
        }
    }
}

fn is_builtin(group: &str, resource: &str) -> bool {
    crate::openapi::builtin_resources().iter().any(|r| r.group == group && r.plural == resource)
}

/// The conversion check for a field of a resource that may be built in.
pub(super) fn check_builtin(group: &str, resource: &str, field: &str) -> Result<(), String> {
    if let Some((fields, rejection)) = conversion_table(group, resource) {
        return if fields.contains(&field) { Ok(()) } else { Err(reject(rejection, field)) };
    }
    if !is_builtin(group, resource) {
        return check_custom(true, &[], field);
    }
    match field {
        "metadata.name" | "metadata.namespace" => Ok(()),
        _ => Err(reject(Rejection::UnknownField, field)),
    }
}

/// The `crConverter` check for a custom resource.
pub(super) fn check_custom(namespaced: bool, selectable_fields: &[String], field: &str) -> Result<(), String> {
    let known = field == "metadata.name"
        || (namespaced && field == "metadata.namespace")
        || selectable_fields.iter().any(|f| f.trim_start_matches('.') == field);
    if known { Ok(()) } else { Err(reject(Rejection::NotSupported, field)) }
}

fn at<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(object, |value, key| match value {
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => value.get(key),
    })
}

/// A field as the Go struct holds it, printed as `GetAttrs` prints it: strings as they are,
/// numbers in decimal, booleans as `true`/`false`, anything missing as "".
fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// The first non-empty of several paths (a field and the deprecated alias conversion fills it from).
fn first_text(object: &Value, paths: &[&str]) -> String {
    paths.iter().map(|p| text(at(object, p))).find(|s| !s.is_empty()).unwrap_or_default()
}

fn event_field(object: &Value, field: &str, events_api: bool) -> String {
    let (regarding, reporting, source) = if events_api {
        ("regarding", "reportingController", "deprecatedSource.component")
    } else {
        ("involvedObject", "reportingComponent", "source.component")
    };
    match field {
        "reportingComponent" => text(at(object, reporting)),
        "source" => first_text(object, &[source, reporting]),
        "reason" | "type" => text(object.get(field)),
        _ => match field.strip_prefix("involvedObject.") {
            Some(rest) => text(at(object, &format!("{regarding}.{rest}"))),
            None => text(at(object, field)),
        },
    }
}

/// The string `field` takes for `object` of `group`/`resource` when a field selector compares it.
pub(super) fn field_value(group: &str, resource: &str, field: &str, object: &Value) -> String {
    match (group, resource, field) {
        ("", "pods", "spec.host") => text(at(object, "spec.nodeName")),
        ("", "pods", "spec.serviceAccountName") => {
            first_text(object, &["spec.serviceAccountName", "spec.serviceAccount"])
        }
        ("", "pods", "status.podIP") => first_text(object, &["status.podIPs.0.ip", "status.podIP"]),
        // Accepted by the conversion but absent from the pod's selectable fields.
        ("", "pods", "status.podIPs") => String::new(),
        ("", "pods", "spec.hostNetwork") | ("", "nodes", "spec.unschedulable") => {
            at(object, field).and_then(Value::as_bool).unwrap_or(false).to_string()
        }
        ("", "replicationcontrollers", "status.replicas") => {
            at(object, field).and_then(Value::as_i64).unwrap_or(0).to_string()
        }
        ("batch", "jobs", "status.successful") => {
            at(object, "status.succeeded").and_then(Value::as_i64).unwrap_or(0).to_string()
        }
        ("", "events", _) => event_field(object, field, false),
        ("events.k8s.io", "events", _) => event_field(object, field, true),
        _ => text(at(object, field)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn supported_fields_follow_the_conversion_functions() {
        let not_known = |f: &str| {
            Err(format!("\"{f}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""))
        };
        let cases: Vec<(&str, &str, &str, Result<(), String>)> = vec![
            ("", "pods", "spec.nodeName", Ok(())),
            ("", "pods", "spec.host", Ok(())),
            ("", "pods", "status.podIPs", Ok(())),
            ("", "pods", "spec.containers", Err("field label not supported: spec.containers".into())),
            ("", "nodes", "spec.unschedulable", Ok(())),
            ("", "nodes", "metadata.namespace", Err("field label not supported: metadata.namespace".into())),
            ("", "namespaces", "status.phase", Ok(())),
            ("", "secrets", "type", Ok(())),
            ("", "services", "spec.type", Ok(())),
            ("", "events", "involvedObject.uid", Ok(())),
            ("events.k8s.io", "events", "reportingComponent", Ok(())),
            ("", "replicationcontrollers", "status.replicas", Ok(())),
            ("batch", "jobs", "status.successful", Ok(())),
            (
                "batch",
                "jobs",
                "status.failed",
                Err("field label \"status.failed\" not supported for batchv1.Job".into()),
            ),
            ("certificates.k8s.io", "certificatesigningrequests", "spec.signerName", Ok(())),
            (
                "resource.k8s.io",
                "resourceslices",
                "spec.pool",
                Err("field label not supported for resource.k8s.io/v1, Kind=ResourceSlice: spec.pool".into()),
            ),
            ("", "configmaps", "metadata.namespace", Ok(())),
            ("", "configmaps", "data.x", not_known("data.x")),
            ("apps", "replicasets", "status.replicas", not_known("status.replicas")),
            ("rbac.authorization.k8s.io", "clusterroles", "metadata.namespace", Ok(())),
            ("example.com", "widgets", "metadata.namespace", Ok(())),
            ("example.com", "widgets", "spec.color", Err("field label not supported: spec.color".into())),
        ];
        for (group, resource, field, expected) in cases {
            assert_eq!(check_builtin(group, resource, field), expected, "{group}/{resource} {field}");
        }
    }

    #[test]
    fn custom_resources_use_scope_and_selectable_fields() {
        let selectable = vec![".spec.color".to_string()];
        assert_eq!(check_custom(true, &selectable, "spec.color"), Ok(()));
        assert_eq!(check_custom(true, &selectable, "metadata.namespace"), Ok(()));
        assert_eq!(
            check_custom(false, &selectable, "metadata.namespace"),
            Err("field label not supported: metadata.namespace".into())
        );
        assert_eq!(check_custom(false, &[], "spec.size"), Err("field label not supported: spec.size".into()));
    }

    #[test]
    fn values_are_formatted_like_get_attrs() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"nodeName": "n1", "serviceAccount": "old", "hostNetwork": true},
            "status": {"phase": "Running", "podIP": "10.0.0.2", "podIPs": [{"ip": "10.0.0.1"}]}
        });
        let event = json!({
            "involvedObject": {"kind": "Pod", "name": "p"},
            "reason": "Started", "type": "Normal", "reportingComponent": "kubelet"
        });
        let new_event = json!({"regarding": {"kind": "Pod"}, "reportingController": "ctl", "deprecatedSource": {"component": "src"}});
        let cases = [
            ("", "pods", "spec.host", &pod, "n1"),
            ("", "pods", "spec.serviceAccountName", &pod, "old"),
            ("", "pods", "spec.hostNetwork", &pod, "true"),
            ("", "pods", "status.podIP", &pod, "10.0.0.1"),
            ("", "pods", "status.podIPs", &pod, ""),
            ("", "pods", "spec.restartPolicy", &pod, ""),
            ("", "nodes", "spec.unschedulable", &pod, "false"),
            ("", "replicationcontrollers", "status.replicas", &pod, "0"),
            ("batch", "jobs", "status.successful", &json!({"status": {"succeeded": 3}}), "3"),
            ("", "events", "involvedObject.kind", &event, "Pod"),
            ("", "events", "source", &event, "kubelet"),
            ("", "events", "reason", &event, "Started"),
            ("events.k8s.io", "events", "involvedObject.kind", &new_event, "Pod"),
            ("events.k8s.io", "events", "source", &new_event, "src"),
            ("events.k8s.io", "events", "reportingComponent", &new_event, "ctl"),
            ("example.com", "widgets", "spec.size", &json!({"spec": {"size": 3}}), "3"),
        ];
        for (group, resource, field, object, expected) in cases {
            assert_eq!(field_value(group, resource, field, object), expected, "{group}/{resource} {field}");
        }
    }
}

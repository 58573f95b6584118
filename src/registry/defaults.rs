//! Defaulting that kube-apiserver does in Go (`SetDefaults_*` and the strategies'
//! `PrepareForCreate`) and that the OpenAPI schema cannot express: pod and pod-template
//! defaults, workload defaults, Service defaults, Namespace finalizers and labels, and Secret
//! `stringData`.

use base64::Engine;
use serde_json::{Map, Value, json};

/// Applies the defaults of `group`/`plural` to a new or updated object.
pub fn apply(group: &str, plural: &str, object: &mut Value) {
    match (group, plural) {
        ("", "pods") => {
            if let Some(spec) = object.get_mut("spec") {
                pod_spec(spec);
            }
        }
        ("", "replicationcontrollers") => {
            set_default(object, &["spec", "replicas"], json!(1));
            pod_template(object, &["spec", "template"]);
        }
        ("apps", "deployments") => {
            set_default(object, &["spec", "replicas"], json!(1));
            set_default(object, &["spec", "revisionHistoryLimit"], json!(10));
            set_default(object, &["spec", "progressDeadlineSeconds"], json!(600));
            set_default(object, &["spec", "strategy", "type"], json!("RollingUpdate"));
            if object.pointer("/spec/strategy/type") == Some(&json!("RollingUpdate")) {
                set_default(object, &["spec", "strategy", "rollingUpdate", "maxUnavailable"], json!("25%"));
                set_default(object, &["spec", "strategy", "rollingUpdate", "maxSurge"], json!("25%"));
            }
            pod_template(object, &["spec", "template"]);
        }
        ("apps", "replicasets") => {
            set_default(object, &["spec", "replicas"], json!(1));
            pod_template(object, &["spec", "template"]);
        }
        ("apps", "statefulsets") => {
            set_default(object, &["spec", "replicas"], json!(1));
            set_default(object, &["spec", "podManagementPolicy"], json!("OrderedReady"));
            set_default(object, &["spec", "revisionHistoryLimit"], json!(10));
            set_default(object, &["spec", "updateStrategy", "type"], json!("RollingUpdate"));
            if object.pointer("/spec/updateStrategy/type") == Some(&json!("RollingUpdate")) {
                set_default(object, &["spec", "updateStrategy", "rollingUpdate", "partition"], json!(0));
            }
            set_default(
                object,
                &["spec", "persistentVolumeClaimRetentionPolicy"],
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            pod_template(object, &["spec", "template"]);
        }
        ("apps", "daemonsets") => {
            set_default(object, &["spec", "revisionHistoryLimit"], json!(10));
            set_default(object, &["spec", "updateStrategy", "type"], json!("RollingUpdate"));
            if object.pointer("/spec/updateStrategy/type") == Some(&json!("RollingUpdate")) {
                set_default(object, &["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"], json!(1));
                set_default(object, &["spec", "updateStrategy", "rollingUpdate", "maxSurge"], json!(0));
            }
            pod_template(object, &["spec", "template"]);
        }
        ("batch", "jobs") => job_spec(object, &["spec"]),
        ("batch", "cronjobs") => {
            set_default(object, &["spec", "concurrencyPolicy"], json!("Allow"));
            set_default(object, &["spec", "suspend"], json!(false));
            set_default(object, &["spec", "successfulJobsHistoryLimit"], json!(3));
            set_default(object, &["spec", "failedJobsHistoryLimit"], json!(1));
            job_spec(object, &["spec", "jobTemplate", "spec"]);
        }
        ("", "services") => service(object),
        ("", "namespaces") => namespace(object),
        ("", "secrets") => secret(object),
        ("", "serviceaccounts") | ("", "configmaps") => {}
        (crate::crds::GROUP, crate::crds::PLURAL) => crate::crds::definition::set_defaults(object),
        _ => {}
    }
}

/// Sets the value at `path` unless one is already there, creating objects on the way.
pub fn set_default(object: &mut Value, path: &[&str], value: Value) {
    let mut current = object;
    for (i, key) in path.iter().enumerate() {
        if !current.is_object() {
            if current.is_null() {
                *current = Value::Object(Map::new());
            } else {
                return;
            }
        }
        let map = current.as_object_mut().expect("checked above");
        if i == path.len() - 1 {
            if map.get(*key).is_none_or(Value::is_null) {
                map.insert(key.to_string(), value);
            }
            return;
        }
        current = map.entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
}

fn pod_template(object: &mut Value, path: &[&str]) {
    let pointer: String = path.iter().map(|p| format!("/{p}")).collect();
    if let Some(template) = object.pointer_mut(&pointer) {
        set_default(template, &["spec"], json!({}));
        if let Some(spec) = template.get_mut("spec") {
            pod_spec(spec);
        }
    }
}

fn job_spec(object: &mut Value, spec_path: &[&str]) {
    fn with<'a>(spec_path: &[&'a str], field: &'a str) -> Vec<&'a str> {
        spec_path.iter().copied().chain([field]).collect()
    }
    let pointer: String = spec_path.iter().map(|p| format!("/{p}")).collect();
    if object.pointer(&pointer).is_none() {
        return;
    }
    set_default(object, &with(spec_path, "completions"), json!(1));
    set_default(object, &with(spec_path, "parallelism"), json!(1));
    set_default(object, &with(spec_path, "backoffLimit"), json!(6));
    set_default(object, &with(spec_path, "completionMode"), json!("NonIndexed"));
    set_default(object, &with(spec_path, "suspend"), json!(false));
    set_default(object, &with(spec_path, "podReplacementPolicy"), json!("TerminatingOrFailed"));
    pod_template(object, &with(spec_path, "template"));
}

/// PodSpec defaults, including each container's.
pub fn pod_spec(spec: &mut Value) {
    set_default(spec, &["restartPolicy"], json!("Always"));
    set_default(spec, &["dnsPolicy"], json!("ClusterFirst"));
    set_default(spec, &["schedulerName"], json!("default-scheduler"));
    set_default(spec, &["terminationGracePeriodSeconds"], json!(30));
    set_default(spec, &["securityContext"], json!({}));
    set_default(spec, &["enableServiceLinks"], json!(true));
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for container in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            container_defaults(container);
        }
    }
}

fn container_defaults(container: &mut Value) {
    let image = container.get("image").and_then(Value::as_str).unwrap_or_default();
    let last_segment = image.rsplit('/').next().unwrap_or_default();
    let untagged = !last_segment.contains(':') && !image.contains('@');
    let latest = last_segment.ends_with(":latest");
    let policy = if untagged || latest { "Always" } else { "IfNotPresent" };
    set_default(container, &["imagePullPolicy"], json!(policy));
    set_default(container, &["terminationMessagePath"], json!("/dev/termination-log"));
    set_default(container, &["terminationMessagePolicy"], json!("File"));
    set_default(container, &["resources"], json!({}));
    for port in container.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
        set_default(port, &["protocol"], json!("TCP"));
    }
}

fn service(object: &mut Value) {
    set_default(object, &["spec", "type"], json!("ClusterIP"));
    set_default(object, &["spec", "sessionAffinity"], json!("None"));
    let service_type = object.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
    if service_type != "ExternalName" {
        set_default(object, &["spec", "internalTrafficPolicy"], json!("Cluster"));
    }
    if service_type == "NodePort" || service_type == "LoadBalancer" {
        set_default(object, &["spec", "externalTrafficPolicy"], json!("Cluster"));
    }
    if service_type == "LoadBalancer" {
        set_default(object, &["spec", "allocateLoadBalancerNodePorts"], json!(true));
    }
    for port in object.pointer_mut("/spec/ports").and_then(Value::as_array_mut).into_iter().flatten() {
        set_default(port, &["protocol"], json!("TCP"));
        if let Some(number) = port.get("port").cloned() {
            set_default(port, &["targetPort"], number);
        }
    }
    set_default(object, &["status", "loadBalancer"], json!({}));
}

fn namespace(object: &mut Value) {
    set_default(object, &["spec", "finalizers"], json!(["kubernetes"]));
    set_default(object, &["status", "phase"], json!("Active"));
    if let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str).map(String::from) {
        set_default(object, &["metadata", "labels"], json!({}));
        if let Some(labels) = object.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
            labels.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
    }
}

fn secret(object: &mut Value) {
    set_default(object, &["type"], json!("Opaque"));
    let Some(Value::Object(string_data)) = object.as_object_mut().and_then(|o| o.remove("stringData")) else { return };
    set_default(object, &["data"], json!({}));
    if let Some(data) = object.get_mut("data").and_then(Value::as_object_mut) {
        for (key, value) in string_data {
            let text = value.as_str().unwrap_or_default();
            data.insert(key, json!(base64::engine::general_purpose::STANDARD.encode(text)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_the_real_servers_defaults() {
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "nginx"}, {"name": "d", "image": "registry.k8s.io/pause:3.9", "ports": [{"containerPort": 80}]}]}});
        apply("", "pods", &mut pod);
        assert_eq!(pod["spec"]["restartPolicy"], "Always");
        assert_eq!(pod["spec"]["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["spec"]["schedulerName"], "default-scheduler");
        assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(pod["spec"]["containers"][1]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(pod["spec"]["containers"][1]["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(pod["spec"]["containers"][1]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn deployments_default_their_strategy_and_template() {
        let mut deployment =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}});
        apply("apps", "deployments", &mut deployment);
        assert_eq!(deployment["spec"]["replicas"], 1);
        assert_eq!(
            deployment["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(deployment["spec"]["template"]["spec"]["restartPolicy"], "Always");
    }

    #[test]
    fn secrets_fold_string_data_into_data() {
        let mut secret = json!({"stringData": {"password": "hunter2"}, "data": {"user": "YWRtaW4="}});
        apply("", "secrets", &mut secret);
        assert_eq!(secret, json!({"data": {"user": "YWRtaW4=", "password": "aHVudGVyMg=="}, "type": "Opaque"}));
    }

    #[test]
    fn services_default_ports_and_policies() {
        let mut service = json!({"spec": {"ports": [{"port": 80}]}});
        apply("", "services", &mut service);
        assert_eq!(service["spec"]["ports"][0], json!({"port": 80, "protocol": "TCP", "targetPort": 80}));
        assert_eq!(service["spec"]["type"], "ClusterIP");
        assert_eq!(service["spec"]["sessionAffinity"], "None");
    }

    #[test]
    fn namespaces_get_the_kubernetes_finalizer_and_name_label() {
        let mut namespace = json!({"metadata": {"name": "team-a"}});
        apply("", "namespaces", &mut namespace);
        assert_eq!(namespace["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(namespace["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a");
        assert_eq!(namespace["status"]["phase"], "Active");
    }
}

//! Admission on create: the pod plugins kube-apiserver enables by default that change what a
//! client sees (which are on is [`super::admission_plugins::AdmissionPlugins`]).
//! - `ServiceAccount`: a pod gets `serviceAccountName: default` when it names none, is refused
//!   when its ServiceAccount does not exist, and, unless automounting is turned off, gets the
//!   projected `kube-api-access-<suffix>` volume (a 3607-second token, the cluster CA bundle
//!   and its namespace) mounted in every container.
//! - `Priority`: a pod gets `priority` (and `preemptionPolicy`) from its PriorityClass, or from
//!   the global default class, or 0; a missing class is refused; and only one PriorityClass may
//!   be the global default.
//! - `DefaultTolerationSeconds`: a pod tolerates `node.kubernetes.io/not-ready` and
//!   `unreachable` NoExecute taints for 300 s unless it says otherwise.

use super::Scope;
use super::strategy::meta_str;
use crate::error::{ApiError, ApiResult};
use serde_json::{Value, json};

/// Where every container finds its ServiceAccount credentials.
pub const SERVICE_ACCOUNT_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The token lifetime kube-apiserver gives projected ServiceAccount tokens.
const PROJECTED_TOKEN_SECONDS: i64 = 3607;

/// Runs the enabled admission plugins on an object about to be created.
pub fn admit_create(scope: &Scope<'_>, object: &mut Value) -> ApiResult<()> {
    let plugins = &scope.instance.config.admission;
    match (scope.resource.group.as_str(), scope.resource.plural.as_str()) {
        ("", "pods") => {
            if plugins.is_enabled("ServiceAccount") {
                admit_service_account(scope, object)?;
            }
            if plugins.is_enabled("Priority") {
                admit_priority(scope, object)?;
            }
            if plugins.is_enabled("DefaultTolerationSeconds") {
                add_default_tolerations(object);
            }
        }
        ("scheduling.k8s.io", "priorityclasses") if plugins.is_enabled("Priority") => {
            admit_priority_class(scope, object)?;
        }
        _ => {}
    }
    Ok(())
}

/// Runs the enabled admission plugins on an object about to replace `old`.
pub fn admit_update(scope: &Scope<'_>, object: &Value) -> ApiResult<()> {
    let is_priority_class = scope.resource.group == "scheduling.k8s.io" && scope.resource.plural == "priorityclasses";
    if is_priority_class && scope.instance.config.admission.is_enabled("Priority") {
        admit_priority_class(scope, object)?;
    }
    Ok(())
}

/// The value a pod gets when no PriorityClass is the global default.
const DEFAULT_PRIORITY: i64 = 0;

/// The PriorityClasses as stored.
fn priority_classes(scope: &Scope<'_>) -> ApiResult<Vec<Value>> {
    let classes = scope.instance.resource("scheduling.k8s.io", "v1", "priorityclasses").expect("always served");
    let page = super::storage::read_page(&scope.instance.store, &classes.key_prefix(None), None, 0, 0)
        .map_err(super::storage::store_error)?;
    Ok(page.items.into_iter().map(|(_, stored)| stored.to_value()).collect())
}

/// The global default PriorityClass; the lowest value wins if several claim it, as upstream.
fn global_default(classes: &[Value]) -> Option<&Value> {
    classes.iter().filter(|class| class["globalDefault"] == true).min_by_key(|class| class["value"].as_i64())
}

fn admit_priority(scope: &Scope<'_>, pod: &mut Value) -> ApiResult<()> {
    let name = meta_str(pod, "name").to_string();
    let forbidden = |why: String| ApiError::forbidden(scope.error_resource(), &name, &why);
    let classes = priority_classes(scope)?;
    let wanted = pod.pointer("/spec/priorityClassName").and_then(Value::as_str).filter(|n| !n.is_empty());
    let class = match wanted {
        None => global_default(&classes),
        Some(wanted) => match classes.iter().find(|class| meta_str(class, "name") == wanted) {
            Some(class) => Some(class),
            None => return Err(forbidden(format!("no PriorityClass with name {wanted} was found"))),
        },
    };
    let (class_name, priority, policy) = match class {
        Some(class) => (
            meta_str(class, "name").to_string(),
            class["value"].as_i64().unwrap_or(DEFAULT_PRIORITY),
            class["preemptionPolicy"].as_str().map(String::from),
        ),
        None => (String::new(), DEFAULT_PRIORITY, Some("PreemptLowerPriority".to_string())),
    };
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return Ok(()) };
    if let Some(given) = spec.get("priority").and_then(Value::as_i64).filter(|given| *given != priority) {
        return Err(forbidden(format!(
            "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
        )));
    }
    if !class_name.is_empty() {
        spec.insert("priorityClassName".into(), json!(class_name));
    }
    spec.insert("priority".into(), json!(priority));
    if let Some(policy) = policy {
        if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str).filter(|given| *given != policy) {
            return Err(forbidden(format!(
                "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
            )));
        }
        spec.insert("preemptionPolicy".into(), json!(policy));
    }
    Ok(())
}

/// Only one PriorityClass may be the global default.
fn admit_priority_class(scope: &Scope<'_>, class: &Value) -> ApiResult<()> {
    if class["globalDefault"] != true {
        return Ok(());
    }
    let name = meta_str(class, "name");
    let classes = priority_classes(scope)?;
    match global_default(&classes).map(|existing| meta_str(existing, "name")) {
        Some(existing) if existing != name => Err(ApiError::forbidden(
            scope.error_resource(),
            name,
            &format!("PriorityClass {existing} is already marked as default. Only one default can exist"),
        )),
        _ => Ok(()),
    }
}

/// How long pods tolerate a not-ready or unreachable node by default.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

fn add_default_tolerations(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let Some(Value::Array(tolerations)) = Some(spec.entry("tolerations").or_insert_with(|| json!([]))) else { return };
    for taint in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        let tolerated = tolerations.iter().any(|toleration| {
            let key = toleration["key"].as_str().unwrap_or_default();
            let effect = toleration["effect"].as_str().unwrap_or_default();
            (key == taint || key.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        });
        if !tolerated {
            tolerations.push(json!({
                "key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
}

fn admit_service_account(scope: &Scope<'_>, pod: &mut Value) -> ApiResult<()> {
    let namespace = scope.namespace.unwrap_or_default();
    let spec =
        pod.get_mut("spec").and_then(Value::as_object_mut).ok_or_else(|| ApiError::bad_request("pod has no spec"))?;
    let account_name = match spec.get("serviceAccountName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        Some(name) => name.to_string(),
        None => "default".to_string(),
    };
    spec.insert("serviceAccountName".into(), json!(account_name));
    spec.insert("serviceAccount".into(), json!(account_name));
    let accounts = scope.instance.resource("", "v1", "serviceaccounts").expect("serviceaccounts are always served");
    let accounts = Scope { instance: scope.instance, resource: accounts, namespace: Some(namespace) };
    let account = match accounts.get(&account_name) {
        Ok(stored) => accounts.view(&stored),
        Err(_) => {
            let why = format!(
                "error looking up service account {namespace}/{account_name}: serviceaccount \"{account_name}\" not found"
            );
            let name = meta_str(pod, "name").to_string();
            return Err(ApiError::forbidden(scope.error_resource(), &name, &why));
        }
    };
    let automount = pod
        .pointer("/spec/automountServiceAccountToken")
        .or_else(|| account.get("automountServiceAccountToken"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if automount {
        mount_api_access(pod, &scope.instance.ids.name_suffix());
    }
    Ok(())
}

/// Adds the projected API-access volume and mounts it in every container that does not already
/// mount something at the ServiceAccount path.
fn mount_api_access(pod: &mut Value, suffix: &str) {
    let volume_name = format!("kube-api-access-{suffix}");
    let mount = json!({"name": volume_name, "readOnly": true, "mountPath": SERVICE_ACCOUNT_MOUNT});
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let mut mounted = false;
    for list in ["initContainers", "containers"] {
        for container in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            let mounts = container.as_object_mut().map(|c| c.entry("volumeMounts").or_insert_with(|| json!([])));
            let Some(Value::Array(mounts)) = mounts else { continue };
            if !mounts.iter().any(|m| m["mountPath"] == SERVICE_ACCOUNT_MOUNT) {
                mounts.push(mount.clone());
                mounted = true;
            }
        }
    }
    if !mounted {
        return;
    }
    let volume = json!({
        "name": volume_name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": PROJECTED_TOKEN_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ],
            "defaultMode": 420
        }
    });
    if let Some(Value::Array(volumes)) = Some(spec.entry("volumes").or_insert_with(|| json!([]))) {
        volumes.push(volume);
    }
}

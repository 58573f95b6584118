//! Admission on create: the ServiceAccount plugin kube-apiserver enables by default. A pod
//! gets `serviceAccountName: default` when it names none, is refused when its ServiceAccount
//! does not exist, and, unless automounting is turned off, gets the projected
//! `kube-api-access-<suffix>` volume (a 3607-second token, the cluster CA bundle and its
//! namespace) mounted in every container.

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
    let is_pod = scope.resource.group.is_empty() && scope.resource.plural == "pods";
    if is_pod && scope.instance.config.auth.service_account_admission {
        admit_service_account(scope, object)?;
    }
    Ok(())
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

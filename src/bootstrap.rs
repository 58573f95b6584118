//! The objects a fresh cluster has right after `kubeadm init`: the four system namespaces, the
//! `kubernetes` Service with its Endpoints and EndpointSlice pointing at this server, and the
//! two system PriorityClasses, the default RBAC policy, and the `extension-apiserver-authentication`
//! ConfigMap extension apiservers read the client CA and the request-header settings from.

use crate::auth::rbac::RbacIndex;
use crate::auth::requestheader::RequestHeaderConfig;
use crate::clock::{Clock, FixedClock, RandomIds, SystemClock};
use crate::controllers::Object;
use crate::error::ApiResult;
use crate::instance::Instance;
use crate::instance::InstanceConfig;
use crate::registry::Scope;
use crate::registry::rest::WriteOptions;
use crate::store::{KeyRange, RangeRequest, Txn, TxnOp};
use bytes::Bytes;
use serde_json::{Value, json};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

/// The field manager bootstrap objects are recorded under.
const MANAGER: &str = "kube-apiserver";

fn create(
    instance: &Instance,
    group: &str,
    version: &str,
    plural: &str,
    namespace: Option<&str>,
    object: Value,
) -> ApiResult<()> {
    let resource = instance.resource(group, version, plural).expect("bootstrap resources are built in");
    let scope = Scope { instance, resource, namespace };
    let options = WriteOptions { field_manager: MANAGER.into(), ..WriteOptions::default() };
    match scope.create(object, &options) {
        Ok(_) => Ok(()),
        Err(error) if error.code() == 409 => Ok(()),
        Err(error) => Err(error),
    }
}

/// Creates the bootstrap objects; `advertise` is the address and port clients reach the
/// server at. The objects that are the same for every server (namespaces, RBAC policy,
/// PriorityClasses, default ServiceAccounts) are built once per process, and those that depend
/// only on the CA and request-header settings once per such settings; both are copied in with
/// fresh uids. Only the `kubernetes` Service and its endpoints are created one by one.
pub fn run(instance: &Instance, advertise: IpAddr, port: u16, deterministic: bool) -> ApiResult<()> {
    install(instance, template(deterministic))?;
    if let Some(ca) = instance.auth.ca_bundle.get() {
        let authentication = authentication_data(ca, instance.config.auth.requestheader.as_ref());
        publish_ca(instance, authentication, deterministic)?;
    }
    let cluster_ip = instance.config.service_cluster_ip_range.first().to_string();
    let labels = json!({"component": "apiserver", "provider": "kubernetes"});
    create(
        instance,
        "",
        "v1",
        "services",
        Some("default"),
        json!({
            "metadata": {"name": "kubernetes", "labels": labels},
            "spec": {"clusterIP": cluster_ip, "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}], "sessionAffinity": "None", "type": "ClusterIP"},
        }),
    )?;
    create(
        instance,
        "",
        "v1",
        "endpoints",
        Some("default"),
        json!({
            "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": advertise.to_string()}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
        }),
    )?;
    let family = if advertise.is_ipv4() { "IPv4" } else { "IPv6" };
    create(
        instance,
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        Some("default"),
        json!({
            "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"}},
            "addressType": family,
            "endpoints": [{"addresses": [advertise.to_string()], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }),
    )?;
    Ok(())
}

/// The data of the `extension-apiserver-authentication` ConfigMap: the client CA and, with
/// request-header authentication, its settings.
fn authentication_data(ca: &str, requestheader: Option<&RequestHeaderConfig>) -> Value {
    let mut data = json!({"client-ca-file": ca});
    if let Some(config) = requestheader {
        // As kube-apiserver writes them: the lists as JSON arrays in strings.
        let list = |items: &[String]| serde_json::to_string(items).unwrap_or_default();
        data["requestheader-client-ca-file"] = json!(config.client_ca_pem);
        data["requestheader-allowed-names"] = json!(list(&config.allowed_names));
        data["requestheader-username-headers"] = json!(list(&config.username_headers));
        data["requestheader-group-headers"] = json!(list(&config.group_headers));
        data["requestheader-extra-headers-prefix"] = json!(list(&config.extra_headers_prefixes));
    }
    data
}

/// The namespaces every cluster starts with.
const NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates the objects that do not depend on the server's address, CA or configuration,
/// default ServiceAccounts included.
fn create_static(instance: &Instance) -> ApiResult<()> {
    for namespace in NAMESPACES {
        create(instance, "", "v1", "namespaces", None, json!({"metadata": {"name": namespace}}))?;
        // The scratch instance has no CA yet, so this makes the default ServiceAccount only.
        crate::controllers::service_accounts::ensure_defaults(instance, namespace);
    }
    for (name, value, description) in [
        (
            "system-cluster-critical",
            2_000_000_000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
        (
            "system-node-critical",
            2_000_001_000,
            "Used for system critical pods that must not be moved from their current node.",
        ),
    ] {
        create(
            instance,
            "scheduling.k8s.io",
            "v1",
            "priorityclasses",
            None,
            json!({
                "metadata": {"name": name}, "value": value, "description": description, "preemptionPolicy": "PreemptLowerPriority", "globalDefault": false,
            }),
        )?;
    }
    for object in crate::auth::rbac::bootstrap_policy() {
        let plural = match object["kind"].as_str() {
            Some("ClusterRole") => "clusterroles",
            Some("ClusterRoleBinding") => "clusterrolebindings",
            Some("Role") => "roles",
            _ => "rolebindings",
        };
        let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).map(String::from);
        create(instance, "rbac.authorization.k8s.io", "v1", plural, namespace.as_deref(), object)?;
    }
    Ok(())
}

/// Bootstrap objects as stored, captured from a scratch instance.
#[derive(Debug)]
struct Template {
    objects: Vec<TemplateObject>,
    /// The authorizer's index of the RBAC objects among them, copied into each server (only
    /// the static template has RBAC objects).
    rbac: Option<Arc<RbacIndex>>,
}

/// One stored object of the template, with where its uid sits in its bytes and what the
/// controllers read from it.
#[derive(Debug)]
struct TemplateObject {
    key: Bytes,
    value: Bytes,
    uid: std::ops::Range<usize>,
    parsed: Option<Object>,
}

/// A scratch instance with the clock bootstrap objects are stamped with.
fn scratch_instance(deterministic: bool) -> Instance {
    let clock: Arc<dyn Clock> = if deterministic {
        Arc::new(FixedClock::at_unix_seconds(crate::server::DETERMINISTIC_EPOCH))
    } else {
        Arc::new(SystemClock)
    };
    Instance::new(InstanceConfig::default(), clock, Arc::new(RandomIds))
}

/// The objects stored under `prefix` in `scratch`, with the RBAC index of those that are RBAC
/// objects.
fn capture(scratch: &Instance, prefix: &[u8]) -> Template {
    let listing = scratch.store.range(RangeRequest::new(KeyRange::prefix(prefix.to_vec())));
    let mut objects = Vec::new();
    let mut rbac = None;
    for kv in listing.expect("a scratch store can be read").kvs {
        let object = crate::registry::encoding::decode(&kv.value, kv.mod_revision);
        let uid = crate::registry::strategy::meta_str(&object, "uid");
        let quoted = format!("\"uid\":\"{uid}\"");
        let at = kv.value.windows(quoted.len()).position(|w| w == quoted.as_bytes()).expect("the uid is stored");
        let start = at + "\"uid\":\"".len();
        if object["apiVersion"] == "rbac.authorization.k8s.io/v1" {
            rbac.get_or_insert_with(RbacIndex::new).apply(&object);
        }
        let parsed = Object::parse(scratch, &kv.value);
        objects.push(TemplateObject { key: kv.key, value: kv.value, uid: start..start + uid.len(), parsed });
    }
    Template { objects, rbac: rbac.map(Arc::new) }
}

/// The objects every server starts with, built once per process (and clock kind).
fn template(deterministic: bool) -> &'static Template {
    static SYSTEM: OnceLock<Template> = OnceLock::new();
    static FIXED: OnceLock<Template> = OnceLock::new();
    let cell = if deterministic { &FIXED } else { &SYSTEM };
    cell.get_or_init(|| {
        let scratch = scratch_instance(deterministic);
        create_static(&scratch).expect("the static bootstrap objects are valid");
        capture(&scratch, b"/registry/")
    })
}

/// How many sets of CA ConfigMaps are kept: tests share one PKI, so one is usually enough.
const CA_LAYERS_KEPT: usize = 4;

/// Creates the ConfigMaps that publish the CA: `kube-root-ca.crt` in each namespace and
/// `extension-apiserver-authentication` with `authentication` as its data. They are made on a
/// scratch instance once per CA and settings, so that every server gets them the same way (one
/// transaction, as the deterministic mode needs), and copied in.
fn publish_ca(instance: &Instance, authentication: Value, deterministic: bool) -> ApiResult<()> {
    type Layers = Vec<((bool, Value), Arc<Template>)>;
    static LAYERS: Mutex<Layers> = Mutex::new(Vec::new());
    let lock = || LAYERS.lock().unwrap_or_else(|e| e.into_inner());
    let key = (deterministic, authentication);
    let cached = {
        // Least recently used first: a hit moves to the end, so one busy PKI keeps its layer
        // however many one-off PKIs come and go.
        let mut layers = lock();
        let hit = layers.iter().position(|(cached, _)| cached == &key);
        hit.map(|at| {
            let entry = layers.remove(at);
            let layer = entry.1.clone();
            layers.push(entry);
            layer
        })
    };
    let layer = match cached {
        Some(layer) => layer,
        None => {
            let layer = Arc::new(ca_layer(&key.1, deterministic)?);
            let mut layers = lock();
            if layers.len() == CA_LAYERS_KEPT {
                layers.remove(0);
            }
            layers.push((key, layer.clone()));
            layer
        }
    };
    install(instance, &layer)
}

/// The CA ConfigMaps, made on a scratch instance.
fn ca_layer(authentication: &Value, deterministic: bool) -> ApiResult<Template> {
    let scratch = scratch_instance(deterministic);
    let ca = authentication["client-ca-file"].as_str().unwrap_or_default().to_string();
    let _ = scratch.auth.ca_bundle.set(ca);
    for namespace in NAMESPACES {
        create(&scratch, "", "v1", "namespaces", None, json!({"metadata": {"name": namespace}}))?;
        crate::controllers::service_accounts::ensure_defaults(&scratch, namespace);
    }
    let published = json!({"metadata": {"name": "extension-apiserver-authentication"}, "data": authentication});
    create(&scratch, "", "v1", "configmaps", Some("kube-system"), published)?;
    Ok(capture(&scratch, b"/registry/configmaps/"))
}

/// Writes the template's objects in one transaction, each with a fresh uid.
fn install(instance: &Instance, template: &Template) -> ApiResult<()> {
    let uids = instance.ids.uuids(template.objects.len());
    let puts = template
        .objects
        .iter()
        .zip(&uids)
        .map(|(object, fresh)| {
            let mut value = Vec::with_capacity(object.value.len() - object.uid.len() + fresh.len());
            value.extend_from_slice(&object.value[..object.uid.start]);
            value.extend_from_slice(fresh.as_bytes());
            value.extend_from_slice(&object.value[object.uid.end..]);
            TxnOp::put(object.key.clone(), Bytes::from(value))
        })
        .collect();
    let txn = Txn { compares: Vec::new(), success: puts, failure: Vec::new() };
    let written = instance.store.txn(txn).map_err(crate::registry::storage::store_error)?;
    let mut parsed = instance.bootstrap_objects.lock().unwrap_or_else(|e| e.into_inner());
    for (object, fresh) in template.objects.iter().zip(uids) {
        if let Some(head) = &object.parsed {
            parsed
                .insert(object.key.clone(), (written.revision, Object { uid: fresh, bootstrap: true, ..head.clone() }));
        }
    }
    drop(parsed);
    if let Some(rbac) = &template.rbac {
        instance.auth.install_rbac(rbac.clone());
    }
    Ok(())
}

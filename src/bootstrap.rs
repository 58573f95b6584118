//! The objects a fresh cluster has right after `kubeadm init`: the four system namespaces, the
//! `kubernetes` Service with its Endpoints and EndpointSlice pointing at this server, and the
//! two system PriorityClasses, the default RBAC policy, and the `extension-apiserver-authentication`
//! ConfigMap extension apiservers read the client CA and the request-header settings from.

use crate::auth::rbac::RbacIndex;
use crate::auth::requestheader::RequestHeaderConfig;
use crate::clock::{Clock, FixedClock, RandomIds, SystemClock};
use crate::controllers::Object;
use crate::error::{ApiError, ApiResult};
use crate::instance::Instance;
use crate::instance::InstanceConfig;
use crate::registry::Scope;
use crate::registry::allocators::Cidr;
use crate::registry::rest::WriteOptions;
use crate::registry::unknown_fields::FieldValidation;
use crate::store::{KeyRange, RangeRequest, Txn, TxnOp};
use bytes::{Bytes, BytesMut};
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
    // The objects are ours and their warnings would go nowhere: no unknown-field walk.
    let field_validation = FieldValidation::Ignore;
    let options = WriteOptions { field_manager: MANAGER.into(), field_validation, ..WriteOptions::default() };
    match scope.create(object, &options) {
        Ok(_) => Ok(()),
        Err(error) if error.code() == 409 => Ok(()),
        Err(error) => Err(error),
    }
}

/// Creates the bootstrap objects; `advertise` is the address and port clients reach the
/// server at. Every object is made on a scratch instance once per process and copied in with
/// a fresh uid: those that are the same for every server (namespaces, RBAC policy,
/// PriorityClasses, default ServiceAccounts) once, those that depend on the CA and
/// request-header settings once per such settings, and the `kubernetes` Service and its
/// endpoints once per address, with this server's port spliced in.
pub fn run(instance: &Instance, advertise: IpAddr, port: u16, deterministic: bool) -> ApiResult<()> {
    install(instance, template(deterministic), port)?;
    if let Some(ca) = instance.auth.ca_bundle.get() {
        let authentication = authentication_data(ca, instance.config.auth.requestheader.as_ref());
        static CA_LAYERS: LayerCache<(bool, Value)> = LayerCache::new();
        let layer = CA_LAYERS.get_or_build((deterministic, authentication), |(_, authentication)| {
            ca_layer(authentication, deterministic)
        })?;
        install(instance, &layer, port)?;
    }
    let range = instance.config.service_cluster_ip_range;
    static ENDPOINT_LAYERS: LayerCache<(bool, IpAddr, Cidr)> = LayerCache::new();
    let layer = ENDPOINT_LAYERS
        .get_or_build((deterministic, advertise, range), |_| endpoints_layer(advertise, range, deterministic))?;
    install(instance, &layer, port)?;
    // The Service went in as stored bytes: its address is taken as the registry would take it.
    instance
        .services()
        .cluster_ips
        .allocate(Some(range.first()))
        .map_err(|e| ApiError::internal(format!("allocating the kubernetes Service's cluster IP: {e:?}")))?;
    Ok(())
}

/// The port the scratch instance's `kubernetes` Service and endpoints are made with, and
/// replaced by each server's own.
const PLACEHOLDER_PORT: u16 = 65535;

/// The `kubernetes` Service in `default`, with the Endpoints and EndpointSlice that point
/// it at `advertise`, made on a scratch instance whose Service range is `range`.
fn endpoints_layer(advertise: IpAddr, range: Cidr, deterministic: bool) -> ApiResult<Template> {
    let config = InstanceConfig { service_cluster_ip_range: range, ..InstanceConfig::default() };
    let scratch = scratch_instance(config, deterministic);
    create(&scratch, "", "v1", "namespaces", None, json!({"metadata": {"name": "default"}}))?;
    let port = PLACEHOLDER_PORT;
    let labels = json!({"component": "apiserver", "provider": "kubernetes"});
    create(
        &scratch,
        "",
        "v1",
        "services",
        Some("default"),
        json!({
            "metadata": {"name": "kubernetes", "labels": labels},
            "spec": {"clusterIP": range.first().to_string(), "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}], "sessionAffinity": "None", "type": "ClusterIP"},
        }),
    )?;
    create(
        &scratch,
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
        &scratch,
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
    let mut layer = capture(&scratch, b"/registry/");
    layer.objects.retain(|object| !object.key.starts_with(b"/registry/namespaces/"));
    layer.objects.iter_mut().for_each(TemplateObject::add_port_blanks);
    Ok(layer)
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

/// One stored object of the template, with the places in its bytes that each server fills
/// in, and what the controllers read from it.
#[derive(Debug)]
struct TemplateObject {
    key: Bytes,
    value: Bytes,
    /// In order of position.
    blanks: Vec<(std::ops::Range<usize>, Blank)>,
    parsed: Option<Object>,
}

/// What a server writes into a template object.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Blank {
    Uid,
    Port,
}

impl TemplateObject {
    /// Appends the object to `out` with `uid` and `port` written into its blanks.
    fn fill_into(&self, out: &mut BytesMut, uid: &str, port: &str) {
        let mut copied = 0;
        for (range, blank) in &self.blanks {
            out.extend_from_slice(&self.value[copied..range.start]);
            out.extend_from_slice(match blank {
                Blank::Uid => uid.as_bytes(),
                Blank::Port => port.as_bytes(),
            });
            copied = range.end;
        }
        out.extend_from_slice(&self.value[copied..]);
    }
}

/// A scratch instance with `config` and the clock bootstrap objects are stamped with.
fn scratch_instance(config: InstanceConfig, deterministic: bool) -> Instance {
    let clock: Arc<dyn Clock> = if deterministic {
        Arc::new(FixedClock::at_unix_seconds(crate::server::DETERMINISTIC_EPOCH))
    } else {
        Arc::new(SystemClock)
    };
    Instance::new(config, clock, Arc::new(RandomIds))
}

/// Where `needle` occurs in `haystack` outside JSON strings' escaped quotes.
fn occurrences<'a>(haystack: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(move |(at, window)| *window == needle && (*at == 0 || haystack[at - 1] != b'\\'))
        .map(|(at, _)| at)
}

/// The uid blank of a stored object.
fn uid_blank(stored: &[u8], uid: &str) -> (std::ops::Range<usize>, Blank) {
    let quoted = format!("\"uid\":\"{uid}\"");
    let at = occurrences(stored, quoted.as_bytes()).next().expect("the uid is stored");
    let start = at + "\"uid\":\"".len();
    (start..start + uid.len(), Blank::Uid)
}

impl TemplateObject {
    /// Adds a port blank for each port field holding [`PLACEHOLDER_PORT`].
    fn add_port_blanks(&mut self) {
        let placeholder = PLACEHOLDER_PORT.to_string();
        for field in ["\"port\":", "\"targetPort\":"] {
            let needle = format!("{field}{placeholder}");
            for at in occurrences(&self.value, needle.as_bytes()) {
                let start = at + field.len();
                self.blanks.push((start..start + placeholder.len(), Blank::Port));
            }
        }
        self.blanks.sort_by_key(|(range, _)| range.start);
    }
}

/// The objects stored under `prefix` in `scratch`, with the RBAC index of those that are RBAC
/// objects.
fn capture(scratch: &Instance, prefix: &[u8]) -> Template {
    let listing = scratch.store.range(RangeRequest::new(KeyRange::prefix(prefix.to_vec())));
    let mut objects = Vec::new();
    let mut rbac = None;
    for kv in listing.expect("a scratch store can be read").kvs {
        let object = crate::registry::encoding::decode(&kv.value, kv.mod_revision);
        let blanks = vec![uid_blank(&kv.value, crate::registry::strategy::meta_str(&object, "uid"))];
        if object["apiVersion"] == "rbac.authorization.k8s.io/v1" {
            rbac.get_or_insert_with(RbacIndex::new).apply(&object);
        }
        let parsed = Object::parse(scratch, &kv.value);
        objects.push(TemplateObject { key: kv.key, value: kv.value, blanks, parsed });
    }
    Template { objects, rbac: rbac.map(Arc::new) }
}

/// The objects every server starts with, built once per process (and clock kind).
fn template(deterministic: bool) -> &'static Template {
    static SYSTEM: OnceLock<Template> = OnceLock::new();
    static FIXED: OnceLock<Template> = OnceLock::new();
    let cell = if deterministic { &FIXED } else { &SYSTEM };
    cell.get_or_init(|| {
        let scratch = scratch_instance(InstanceConfig::default(), deterministic);
        create_static(&scratch).expect("the static bootstrap objects are valid");
        capture(&scratch, b"/registry/")
    })
}

/// Templates built per setting (a CA, an address), the least recently used first. Tests
/// share one PKI and address, so one entry is usually enough; a few are kept so that a busy
/// setting keeps its template however many one-off settings come and go.
struct LayerCache<K> {
    layers: Mutex<Vec<(K, Arc<Template>)>>,
}

impl<K: PartialEq> LayerCache<K> {
    const KEPT: usize = 4;

    const fn new() -> Self {
        LayerCache { layers: Mutex::new(Vec::new()) }
    }

    /// The template for `key`, built by `build` if it is not kept.
    fn get_or_build(&self, key: K, build: impl FnOnce(&K) -> ApiResult<Template>) -> ApiResult<Arc<Template>> {
        let lock = || self.layers.lock().unwrap_or_else(|e| e.into_inner());
        {
            let mut layers = lock();
            if let Some(at) = layers.iter().position(|(cached, _)| cached == &key) {
                let entry = layers.remove(at);
                let layer = entry.1.clone();
                layers.push(entry);
                return Ok(layer);
            }
        }
        let layer = Arc::new(build(&key)?);
        let mut layers = lock();
        if layers.len() == Self::KEPT {
            layers.remove(0);
        }
        layers.push((key, layer.clone()));
        Ok(layer)
    }
}

/// The CA ConfigMaps, `kube-root-ca.crt` in each namespace and
/// `extension-apiserver-authentication` with `authentication` as its data, made on a scratch
/// instance (in one transaction per server, as the deterministic mode needs).
fn ca_layer(authentication: &Value, deterministic: bool) -> ApiResult<Template> {
    let scratch = scratch_instance(InstanceConfig::default(), deterministic);
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

/// Writes the template's objects in one transaction, each with a fresh uid and `port` in
/// its port blanks.
fn install(instance: &Instance, template: &Template, port: u16) -> ApiResult<()> {
    let uids = instance.ids.uuids(template.objects.len());
    // One buffer holds every object, each put takes its slice: one allocation, not two per
    // object.
    let port = port.to_string();
    let room = template.objects.iter().map(|object| object.value.len() + 64).sum();
    let mut buffer = BytesMut::with_capacity(room);
    let mut ends = Vec::with_capacity(template.objects.len());
    for (object, fresh) in template.objects.iter().zip(&uids) {
        object.fill_into(&mut buffer, fresh, &port);
        ends.push(buffer.len());
    }
    let buffer = buffer.freeze();
    let starts = std::iter::once(0).chain(ends.iter().copied());
    let puts = template
        .objects
        .iter()
        .zip(starts.zip(ends.iter().copied()))
        .map(|(object, (start, end))| TxnOp::put(object.key.clone(), buffer.slice(start..end)))
        .collect();
    let txn = Txn { compares: Vec::new(), success: puts, failure: Vec::new() };
    let written = instance.store.txn(txn).map_err(crate::registry::storage::store_error)?;
    let mut parsed = instance.bootstrap_objects.lock().unwrap_or_else(|e| e.into_inner());
    parsed.reserve(template.objects.len());
    for (object, fresh) in template.objects.iter().zip(uids) {
        if let Some(head) = &object.parsed {
            parsed.push((object.key.clone(), written.revision, Object { uid: fresh, bootstrap: true, ..head.clone() }));
        }
    }
    drop(parsed);
    if let Some(rbac) = &template.rbac {
        instance.auth.install_rbac(rbac.clone());
    }
    Ok(())
}

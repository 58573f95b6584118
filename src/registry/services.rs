//! The Service strategy's allocations: a ClusterIP from `--service-cluster-ip-range` (none for
//! headless and ExternalName Services) and NodePorts from `--service-node-port-range` for
//! NodePort and LoadBalancer Services; kept across updates and released on delete.

use super::Scope;
use super::allocators::AllocationError;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::instance::Instance;
use serde_json::{Value, json};
use std::net::Ipv4Addr;

/// What a create took, so a failed or dry-run write can give it back.
#[derive(Debug, Default)]
#[must_use]
pub struct Allocation {
    ips: Vec<Ipv4Addr>,
    ports: Vec<u16>,
}

impl Allocation {
    pub fn release(self, instance: &Instance) {
        let mut services = instance.services();
        for ip in self.ips {
            services.cluster_ips.release(ip);
        }
        for port in self.ports {
            services.node_ports.release(port);
        }
    }
}

fn is_service(scope: &Scope<'_>) -> bool {
    scope.resource.group.is_empty() && scope.resource.plural == "services"
}

fn service_type(object: &Value) -> &str {
    object.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP")
}

fn invalid(scope: &Scope<'_>, object: &Value, error: FieldError) -> ApiError {
    let name = super::strategy::meta_str(object, "name");
    ApiError::invalid(&scope.resource.group, &scope.resource.kind, name, vec![error])
}

/// Allocates what a new Service needs (`old` is the Service being replaced, if any).
pub fn allocate(scope: &Scope<'_>, object: &mut Value, old: Option<&Value>) -> ApiResult<Allocation> {
    let mut allocation = Allocation::default();
    if !is_service(scope) {
        return Ok(allocation);
    }
    let kind = service_type(object).to_string();
    let result = allocate_into(scope, object, old, &kind, &mut allocation);
    match result {
        Ok(()) => Ok(allocation),
        Err(error) => {
            allocation.release(scope.instance);
            Err(error)
        }
    }
}

fn allocate_into(
    scope: &Scope<'_>,
    object: &mut Value,
    old: Option<&Value>,
    kind: &str,
    allocation: &mut Allocation,
) -> ApiResult<()> {
    let requested = object.pointer("/spec/clusterIP").and_then(Value::as_str).unwrap_or_default().to_string();
    if kind != "ExternalName" && requested != "None" && old.is_none() {
        let wanted = if requested.is_empty() {
            None
        } else {
            Some(requested.parse::<Ipv4Addr>().map_err(|_| {
                invalid(
                    scope,
                    object,
                    FieldError::invalid(
                        "spec.clusterIPs[0]",
                        json!(requested),
                        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                    ),
                )
            })?)
        };
        let ip = scope.instance.services().cluster_ips.allocate(wanted).map_err(|e| {
            let detail = match &e {
                AllocationError::Exhausted => "failed to allocate a serviceIP: range is full".to_string(),
                other => format!("failed to allocate IP {requested}: {}", other.detail()),
            };
            invalid(scope, object, FieldError::invalid("spec.clusterIPs", json!([requested]), detail))
        })?;
        allocation.ips.push(ip);
        let spec =
            object.get_mut("spec").and_then(Value::as_object_mut).expect("services have a spec after defaulting");
        spec.insert("clusterIP".into(), json!(ip.to_string()));
        spec.insert("clusterIPs".into(), json!([ip.to_string()]));
        spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
        spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
    } else if requested == "None" && old.is_none() {
        let spec = object.get_mut("spec").and_then(Value::as_object_mut).expect("spec");
        spec.insert("clusterIPs".into(), json!(["None"]));
        spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
        spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
    }
    if kind == "NodePort" || kind == "LoadBalancer" {
        let old_ports: Vec<(i64, i64)> = old
            .and_then(|o| o.pointer("/spec/ports"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p.get("port")?.as_i64()?, p.get("nodePort")?.as_i64()?)))
            .collect();
        let count = object.pointer("/spec/ports").and_then(Value::as_array).map_or(0, Vec::len);
        for index in 0..count {
            let port = object.pointer(&format!("/spec/ports/{index}/port")).and_then(Value::as_i64).unwrap_or_default();
            let node_port = object.pointer(&format!("/spec/ports/{index}/nodePort")).and_then(Value::as_i64);
            let kept =
                old_ports.iter().find(|(p, n)| *p == port && node_port.is_none_or(|want| want == *n)).map(|(_, n)| *n);
            let assigned = match kept {
                Some(existing) => existing,
                None => {
                    let wanted = node_port.map(|p| p as u16);
                    let assigned = scope.instance.services().node_ports.allocate(wanted).map_err(|e| {
                        let detail = match &e {
                            AllocationError::AlreadyAllocated => "provided port is already allocated".to_string(),
                            AllocationError::OutOfRange(range) => {
                                format!("provided port is not in the valid range. The range of valid ports is {range}")
                            }
                            AllocationError::Exhausted => "range is full".to_string(),
                        };
                        invalid(
                            scope,
                            object,
                            FieldError::invalid(
                                format!("spec.ports[{index}].nodePort"),
                                json!(node_port.unwrap_or_default()),
                                detail,
                            ),
                        )
                    })?;
                    allocation.ports.push(assigned);
                    assigned as i64
                }
            };
            if let Some(port) = object.pointer_mut(&format!("/spec/ports/{index}")).and_then(Value::as_object_mut) {
                port.insert("nodePort".into(), json!(assigned));
            }
        }
    }
    Ok(())
}

/// On update: the ClusterIP cannot change and is carried over; node ports are kept per port
/// and new ones allocated.
pub fn keep_allocations(scope: &Scope<'_>, object: &mut Value, old: &Value) -> ApiResult<()> {
    if !is_service(scope) {
        return Ok(());
    }
    let old_ip = old.pointer("/spec/clusterIP").cloned();
    let new_ip = object.pointer("/spec/clusterIP").cloned();
    match (&old_ip, &new_ip) {
        (Some(old_ip), Some(new_ip)) if old_ip != new_ip && new_ip != &json!("") => {
            return Err(invalid(
                scope,
                object,
                FieldError::invalid("spec.clusterIPs[0]", new_ip.clone(), "may not change once set"),
            ));
        }
        (Some(_), _) => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
                    if let Some(value) = old.pointer(&format!("/spec/{field}")) {
                        spec.entry(field).or_insert(value.clone());
                    }
                }
                if spec.get("clusterIP") == Some(&json!("")) {
                    spec.insert("clusterIP".into(), old_ip.clone().unwrap_or_default());
                }
            }
        }
        _ => {}
    }
    let kind = service_type(object).to_string();
    let mut allocation = Allocation::default();
    allocate_into(scope, object, Some(old), &kind, &mut allocation)?;
    // Whatever was newly taken now belongs to the updated Service.
    drop(allocation);
    Ok(())
}

/// Gives back what a deleted Service held.
pub fn release(scope: &Scope<'_>, object: &Value) {
    if !is_service(scope) {
        return;
    }
    let mut services = scope.instance.services();
    for ip in object.pointer("/spec/clusterIPs").and_then(Value::as_array).into_iter().flatten() {
        if let Some(ip) = ip.as_str().and_then(|s| s.parse::<Ipv4Addr>().ok()) {
            services.cluster_ips.release(ip);
        }
    }
    for port in object.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten() {
        if let Some(node_port) = port.get("nodePort").and_then(Value::as_u64) {
            services.node_ports.release(node_port as u16);
        }
    }
}

//! Printers for networking objects: services (TYPE, CLUSTER-IP, EXTERNAL-IP with
//! `<none>`/`<pending>`, PORT(S) as `80/TCP` or `80:30080/TCP`), endpoints (`ip:port` with
//! "+ N more..."), endpointslices, ingresses, ingressclasses and networkpolicies, after
//! kube-apiserver's `printService`, `formatEndpoints`, `printIngress`, ... Server-side printing
//! always runs "wide", so load-balancer addresses are never clipped.

use super::columns::{
    AGE, ColumnDefinition, NAME, age_cell, at, col, format_label_selector, format_labels, join, list, list_with_more,
    map, name_cell, opt_text, text, wide,
};
use super::{BuiltinPrinter, Row, TableContext};
use serde_json::{Value, json};
use std::collections::BTreeSet;

// ---- services -------------------------------------------------------------------------------

static SERVICE_COLUMNS: [ColumnDefinition; 7] = [
    NAME,
    col(
        "Type",
        "string",
        "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types",
    ),
    col(
        "Cluster-IP",
        "string",
        "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
    ),
    col(
        "External-IP",
        "string",
        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.",
    ),
    col(
        "Port(s)",
        "string",
        "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
    ),
    AGE,
    wide(
        "Selector",
        "string",
        "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/",
    ),
];
pub static SERVICES: BuiltinPrinter = BuiltinPrinter { columns: &SERVICE_COLUMNS, print: print_service, adjust: None };

/// Load-balancer ingress points (IP, else hostname), sorted and deduplicated like Go's
/// `sets.String`, comma-joined.
fn load_balancer_addresses(object: &Value) -> String {
    let points: BTreeSet<&str> = list(object, &["status", "loadBalancer", "ingress"])
        .iter()
        .filter_map(|i| [text(i, &["ip"]), text(i, &["hostname"])].into_iter().find(|s| !s.is_empty()))
        .collect();
    join(points, ",")
}

fn external_ip(svc: &Value) -> String {
    let external: Vec<&str> = list(svc, &["spec", "externalIPs"]).iter().filter_map(Value::as_str).collect();
    match text(svc, &["spec", "type"]) {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".into(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let lb = load_balancer_addresses(svc);
            let mut all: Vec<&str> = lb.split(',').filter(|s| !s.is_empty()).collect();
            all.extend(&external);
            if all.is_empty() { "<pending>".into() } else { all.join(",") }
        }
        "ExternalName" => text(svc, &["spec", "externalName"]).into(),
        _ => "<unknown>".into(),
    }
}

/// `makePortString`: `port/protocol`, or `port:nodePort/protocol`.
fn ports(svc: &Value) -> String {
    let pieces = list(svc, &["spec", "ports"]).iter().map(|p| {
        let (port, node_port) = (p["port"].as_i64().unwrap_or(0), p["nodePort"].as_i64().unwrap_or(0));
        // The API server defaults the protocol to TCP.
        let protocol = opt_text(p, &["protocol"]).unwrap_or("TCP");
        if node_port > 0 { format!("{port}:{node_port}/{protocol}") } else { format!("{port}/{protocol}") }
    });
    join(pieces.collect::<Vec<_>>(), ",")
}

fn print_service(svc: &Value, ctx: &TableContext) -> Row {
    // The internal object's ClusterIPs[0]: v1 `clusterIP` is authoritative when set.
    let cluster_ip = match text(svc, &["spec", "clusterIP"]) {
        "" => list(svc, &["spec", "clusterIPs"]).first().and_then(Value::as_str).unwrap_or("<none>"),
        ip => ip,
    };
    let ports = match ports(svc) {
        p if p.is_empty() => "<none>".to_string(),
        p => p,
    };
    Row::from(vec![
        name_cell(svc),
        json!(text(svc, &["spec", "type"])),
        json!(cluster_ip),
        json!(external_ip(svc)),
        json!(ports),
        age_cell(svc, ctx),
        json!(format_labels(map(svc, &["spec", "selector"]))),
    ])
}

// ---- endpoints and endpointslices -----------------------------------------------------------

static ENDPOINTS_COLUMNS: [ColumnDefinition; 3] = [
    NAME,
    col(
        "Endpoints",
        "string",
        "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.",
    ),
    AGE,
];
pub static ENDPOINTS: BuiltinPrinter =
    BuiltinPrinter { columns: &ENDPOINTS_COLUMNS, print: print_endpoints, adjust: None };

/// `net.JoinHostPort`: IPv6 literals get brackets.
fn host_port(ip: &str, port: i64) -> String {
    if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") }
}

/// `formatEndpoints(endpoints, nil)`: ready addresses with every port, at most three shown.
fn format_endpoints(ep: &Value) -> String {
    const MAX: usize = 3;
    let subsets = list(ep, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".into();
    }
    let (mut shown, mut count) = (Vec::new(), 0);
    for subset in subsets {
        let addresses: Vec<&str> = list(subset, &["addresses"]).iter().map(|a| text(a, &["ip"])).collect();
        let ports = list(subset, &["ports"]);
        if ports.is_empty() {
            // Headless services may have no ports.
            count += addresses.len();
            shown.extend(addresses.iter().take(MAX.saturating_sub(shown.len())).map(|ip| ip.to_string()));
            continue;
        }
        for port in ports {
            count += addresses.len();
            let port = port["port"].as_i64().unwrap_or(0);
            let room = MAX.saturating_sub(shown.len());
            shown.extend(addresses.iter().take(room).map(|ip| host_port(ip, port)));
        }
    }
    let joined = shown.join(",");
    if count > MAX { format!("{joined} + {} more...", count - MAX) } else { joined }
}

fn print_endpoints(ep: &Value, ctx: &TableContext) -> Row {
    Row::from(vec![name_cell(ep), json!(format_endpoints(ep)), age_cell(ep, ctx)])
}

static ENDPOINTSLICE_COLUMNS: [ColumnDefinition; 5] = [
    NAME,
    col(
        "AddressType",
        "string",
        "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.",
    ),
    col(
        "Ports",
        "string",
        "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates \"all ports\". Each slice may include a maximum of 100 ports.",
    ),
    col(
        "Endpoints",
        "string",
        "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.",
    ),
    AGE,
];
pub static ENDPOINTSLICES: BuiltinPrinter =
    BuiltinPrinter { columns: &ENDPOINTSLICE_COLUMNS, print: print_endpoint_slice, adjust: None };

fn print_endpoint_slice(slice: &Value, ctx: &TableContext) -> Row {
    const MAX: usize = 3;
    let ports: Vec<String> = list(slice, &["ports"])
        .iter()
        .map(|p| match (p["port"].as_i64(), opt_text(p, &["name"])) {
            (Some(port), _) => port.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".into(),
        })
        .collect();
    let addresses: Vec<String> = list(slice, &["endpoints"])
        .iter()
        .flat_map(|e| list(e, &["addresses"]).iter().map(|a| a.as_str().unwrap_or("").to_string()))
        .collect();
    let shown = |all: &[String]| list_with_more(&all[..all.len().min(MAX)], all.len(), MAX, "<unset>");
    Row::from(vec![
        name_cell(slice),
        json!(text(slice, &["addressType"])),
        json!(shown(&ports)),
        json!(shown(&addresses)),
        age_cell(slice, ctx),
    ])
}

// ---- ingresses, ingressclasses, networkpolicies --------------------------------------------

static INGRESS_COLUMNS: [ColumnDefinition; 6] = [
    NAME,
    col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
    col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
];
pub static INGRESSES: BuiltinPrinter = BuiltinPrinter { columns: &INGRESS_COLUMNS, print: print_ingress, adjust: None };

/// `formatHosts`: the first three rule hosts, "*" when no rule has one. As in Go, "more" is
/// only noticed once three hosts are listed, and counts rules, not hosts.
fn format_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let (mut hosts, mut more) = (Vec::new(), false);
    for rule in rules {
        more |= hosts.len() == MAX;
        if !more && !text(rule, &["host"]).is_empty() {
            hosts.push(text(rule, &["host"]));
        }
    }
    match (hosts.is_empty(), more) {
        (true, _) => "*".into(),
        (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - MAX),
        (false, false) => hosts.join(","),
    }
}

fn print_ingress(ing: &Value, ctx: &TableContext) -> Row {
    let ports = if list(ing, &["spec", "tls"]).is_empty() { "80" } else { "80, 443" };
    Row::from(vec![
        name_cell(ing),
        json!(opt_text(ing, &["spec", "ingressClassName"]).unwrap_or("<none>")),
        json!(format_hosts(list(ing, &["spec", "rules"]))),
        json!(load_balancer_addresses(ing)),
        json!(ports),
        age_cell(ing, ctx),
    ])
}

static INGRESSCLASS_COLUMNS: [ColumnDefinition; 4] = [
    NAME,
    col("Controller", "string", "Controller that is responsible for handling this class"),
    col("Parameters", "string", "A reference to a resource with additional parameters"),
    AGE,
];
pub static INGRESSCLASSES: BuiltinPrinter =
    BuiltinPrinter { columns: &INGRESSCLASS_COLUMNS, print: print_ingress_class, adjust: None };

fn print_ingress_class(class: &Value, ctx: &TableContext) -> Row {
    let parameters = match at(class, &["spec", "parameters"]).filter(|p| !p.is_null()) {
        Some(p) => {
            let group = opt_text(p, &["apiGroup"]).map(|g| format!(".{g}")).unwrap_or_default();
            format!("{}{group}/{}", text(p, &["kind"]), text(p, &["name"]))
        }
        None => "<none>".into(),
    };
    Row::from(vec![
        name_cell(class),
        json!(text(class, &["spec", "controller"])),
        json!(parameters),
        age_cell(class, ctx),
    ])
}

static NETWORKPOLICY_COLUMNS: [ColumnDefinition; 3] = [
    NAME,
    col(
        "Pod-Selector",
        "string",
        "Selects the pods to which this NetworkPolicy object applies.  The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods.  In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.",
    ),
    AGE,
];
pub static NETWORKPOLICIES: BuiltinPrinter =
    BuiltinPrinter { columns: &NETWORKPOLICY_COLUMNS, print: print_network_policy, adjust: None };

fn print_network_policy(np: &Value, ctx: &TableContext) -> Row {
    // podSelector is a struct, not a pointer: an absent one is the empty (match-all) selector.
    let selector = at(np, &["spec", "podSelector"]).cloned().unwrap_or_else(|| json!({}));
    Row::from(vec![name_cell(np), json!(format_label_selector(Some(&selector))), age_cell(np, ctx)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_rfc3339;

    fn ctx() -> TableContext {
        TableContext { now_unix: parse_rfc3339("2026-11-22T07:41:00Z").unwrap() }
    }

    fn service(spec: Value, status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2026-11-22T06:41:00Z"},
               "spec": spec, "status": status})
    }

    #[test]
    fn cluster_ip_service() {
        let svc = service(
            json!({"type": "ClusterIP", "clusterIP": "10.96.12.7", "clusterIPs": ["10.96.12.7"], "ipFamilies": ["IPv4"],
                   "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}, {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53}],
                   "selector": {"app": "web", "tier": "front"}, "sessionAffinity": "None"}),
            json!({"loadBalancer": {}}),
        );
        assert_eq!(
            print_service(&svc, &ctx()).cells,
            vec![
                json!("web"),
                json!("ClusterIP"),
                json!("10.96.12.7"),
                json!("<none>"),
                json!("80/TCP,53/UDP"),
                json!("60m"),
                json!("app=web,tier=front")
            ]
        );
        let kubernetes = service(
            json!({"type": "ClusterIP", "clusterIPs": ["10.96.0.1"], "ports": [{"name": "https", "port": 443, "targetPort": 6443}]}),
            json!({}),
        );
        assert_eq!(
            print_service(&kubernetes, &ctx()).cells[2..5],
            [json!("10.96.0.1"), json!("<none>"), json!("443/TCP")]
        );
        let headless = service(
            json!({"type": "ClusterIP", "clusterIP": "None", "externalIPs": ["1.2.3.4", "5.6.7.8"]}),
            json!({}),
        );
        assert_eq!(
            print_service(&headless, &ctx()).cells[2..],
            [json!("None"), json!("1.2.3.4,5.6.7.8"), json!("<none>"), json!("60m"), json!("<none>")]
        );
    }

    #[test]
    fn node_port_load_balancer_and_external_name() {
        let ports = json!([{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 443, "nodePort": 30443, "protocol": "TCP"}]);
        let np = service(json!({"type": "NodePort", "clusterIP": "10.96.3.3", "ports": ports}), json!({}));
        assert_eq!(
            print_service(&np, &ctx()).cells[1..5],
            [json!("NodePort"), json!("10.96.3.3"), json!("<none>"), json!("80:30080/TCP,443:30443/TCP")]
        );

        let pending = service(
            json!({"type": "LoadBalancer", "clusterIP": "10.96.4.4", "ports": ports}),
            json!({"loadBalancer": {}}),
        );
        assert_eq!(print_service(&pending, &ctx()).cells[3], json!("<pending>"));
        let lb = service(
            json!({"type": "LoadBalancer", "clusterIP": "10.96.4.4", "externalIPs": ["9.9.9.9"], "ports": ports}),
            json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}, {"hostname": "a1b2c3d4e5f6g7h8.elb.us-east-1.amazonaws.com"}, {"ip": "198.51.100.4"}]}}),
        );
        // Wide: never clipped to 16 characters.
        assert_eq!(
            print_service(&lb, &ctx()).cells[3],
            json!("198.51.100.4,203.0.113.10,a1b2c3d4e5f6g7h8.elb.us-east-1.amazonaws.com,9.9.9.9")
        );

        let ext = service(json!({"type": "ExternalName", "externalName": "db.example.com"}), json!({}));
        assert_eq!(
            print_service(&ext, &ctx()).cells[1..5],
            [json!("ExternalName"), json!("<none>"), json!("db.example.com"), json!("<none>")]
        );
    }

    #[test]
    fn endpoints() {
        let ep = |subsets: Value| json!({"metadata": {"name": "web", "creationTimestamp": "2026-11-22T07:40:00Z"}, "subsets": subsets});
        assert_eq!(print_endpoints(&ep(json!(null)), &ctx()).cells, vec![json!("web"), json!("<none>"), json!("60s")]);
        let two = ep(
            json!([{"addresses": [{"ip": "10.244.1.7"}, {"ip": "10.244.2.9"}], "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]),
        );
        assert_eq!(print_endpoints(&two, &ctx()).cells[1], json!("10.244.1.7:8080,10.244.2.9:8080"));
        let many = ep(json!([
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]},
            {"addresses": [{"ip": "fd00::5"}], "notReadyAddresses": [{"ip": "10.0.0.9"}], "ports": [{"port": 80}]},
        ]));
        assert_eq!(print_endpoints(&many, &ctx()).cells[1], json!("10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more..."));
        let headless = ep(json!([{"addresses": [{"ip": "fd00::5"}]}]));
        assert_eq!(print_endpoints(&headless, &ctx()).cells[1], json!("fd00::5"));
        let v6 = ep(json!([{"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 80}]}]));
        assert_eq!(print_endpoints(&v6, &ctx()).cells[1], json!("[fd00::5]:80"));
    }

    #[test]
    fn endpoint_slices() {
        let slice = json!({"metadata": {"name": "web-abc12", "creationTimestamp": "2026-11-22T07:40:00Z"}, "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "protocol": "TCP"}, {"protocol": "TCP"}, {"port": 1}],
            "endpoints": [{"addresses": ["10.244.1.7"], "conditions": {"ready": true}}, {"addresses": ["10.244.2.9"]}]});
        assert_eq!(
            print_endpoint_slice(&slice, &ctx()).cells,
            vec![
                json!("web-abc12"),
                json!("IPv4"),
                json!("8080,metrics,* + 1 more..."),
                json!("10.244.1.7,10.244.2.9"),
                json!("60s")
            ]
        );
        let empty = json!({"metadata": {"name": "e"}, "addressType": "IPv6", "ports": null, "endpoints": []});
        assert_eq!(print_endpoint_slice(&empty, &ctx()).cells[2..4], [json!("<unset>"), json!("<unset>")]);
    }

    #[test]
    fn ingresses_and_classes() {
        let ing = json!({"metadata": {"name": "web", "creationTimestamp": "2026-11-22T07:31:00Z"},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}],
                     "rules": [{"host": "a.example.com"}, {"http": {}}, {"host": "b.example.com"}, {"host": "c.example.com"}, {"host": "d.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.5"}, {"ip": "172.18.0.4"}]}}});
        assert_eq!(
            print_ingress(&ing, &ctx()).cells,
            vec![
                json!("web"),
                json!("nginx"),
                json!("a.example.com,b.example.com,c.example.com + 2 more..."),
                json!("172.18.0.4,172.18.0.5"),
                json!("80, 443"),
                json!("10m")
            ]
        );
        let bare = json!({"metadata": {"name": "any"}, "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}});
        assert_eq!(print_ingress(&bare, &ctx()).cells[1..5], [json!("<none>"), json!("*"), json!(""), json!("80")]);

        let class = json!({"metadata": {"name": "nginx", "creationTimestamp": "2026-11-22T07:31:00Z"},
            "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
        assert_eq!(
            print_ingress_class(&class, &ctx()).cells,
            vec![
                json!("nginx"),
                json!("k8s.io/ingress-nginx"),
                json!("IngressParameters.k8s.example.com/external-lb"),
                json!("10m")
            ]
        );
    }

    #[test]
    fn network_policies() {
        let np = json!({"metadata": {"name": "deny-all", "creationTimestamp": "2026-11-22T07:41:00Z"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}});
        assert_eq!(print_network_policy(&np, &ctx()).cells, vec![json!("deny-all"), json!("<none>"), json!("0s")]);
        let np = json!({"metadata": {"name": "db"}, "spec": {"podSelector": {"matchLabels": {"role": "db"}}}});
        assert_eq!(print_network_policy(&np, &ctx()).cells[1], json!("role=db"));
    }
}

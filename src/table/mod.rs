//! Server-side printing: the `meta.k8s.io/v1` Table that kube-apiserver returns for
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, which is what `kubectl get` prints.
//! Pure functions over JSON objects, no I/O. This module owns the Table envelope (column
//! definitions, rows, `includeObject`, the list metadata), the [`Printer`] abstraction and the
//! choice of printer per resource; the per-kind printers live in the submodules, ported from
//! kube-apiserver's `pkg/printers/internalversion/printers.go`.
//!
//! As upstream, the server always prints "wide": every column is sent and kubectl hides those
//! with priority > 0 unless asked for `-o wide`.

mod columns;
mod core;
mod custom;
mod duration;
mod events;
mod network;
mod other;
mod pods;
mod workloads;

pub use columns::ColumnDefinition;
pub use custom::{CustomColumn, CustomPrinter};
pub use duration::human_duration;

use serde_json::{Map, Value, json};

/// The `includeObject` query parameter: what each row's `object` carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    /// `"object": null`.
    None,
    /// A `meta.k8s.io/v1` PartialObjectMetadata (kube-apiserver's default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the query value; absent or empty means [`IncludeObject::Metadata`]. The error is
    /// the message of kube-apiserver's 400 BadRequest.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.unwrap_or("") {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "Object" => Ok(IncludeObject::Object),
            "None" => Ok(IncludeObject::None),
            other => Err(format!(
                "Unable to convert to Table as requested: includeObject: Invalid value: {}: must be 'Metadata', 'Object', 'None', or empty",
                Value::from(other)
            )),
        }
    }
}

/// What printing may depend on besides the object: the clock, injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableContext {
    /// "Now", in seconds since the Unix epoch; ages are measured against it.
    pub now_unix: i64,
}

impl TableContext {
    pub fn now_micros(&self) -> i64 {
        self.now_unix * 1_000_000
    }
}

/// One printed row: its cells (one per column) and row conditions (`Completed` for finished pods).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub cells: Vec<Value>,
    pub conditions: Vec<Value>,
}

impl From<Vec<Value>> for Row {
    fn from(cells: Vec<Value>) -> Self {
        Row { cells, conditions: Vec::new() }
    }
}

/// A compiled-in printer: its columns, the function that fills one row, and optionally a pass
/// over all rows of one table that needs to see every object (storageclasses mark only the
/// effective default).
pub struct BuiltinPrinter {
    pub columns: &'static [ColumnDefinition],
    pub print: fn(&Value, &TableContext) -> Row,
    pub adjust: Option<AdjustRows>,
}

/// A pass over a whole table's rows, given the objects they were printed from.
pub type AdjustRows = fn(&[&Value], &mut [Row]);

impl std::fmt::Debug for BuiltinPrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_ref()).collect();
        f.debug_struct("BuiltinPrinter").field("columns", &names).finish()
    }
}

/// How a resource's objects become rows.
#[derive(Debug)]
pub enum Printer {
    /// A kube-apiserver printer ported to Rust.
    Builtin(&'static BuiltinPrinter),
    /// Columns from a CRD's `additionalPrinterColumns`.
    Custom(CustomPrinter),
    /// `DefaultTableConvertor`: NAME and CREATED AT.
    Default,
}

impl Printer {
    /// The printer kube-apiserver uses for a built-in resource, or [`Printer::Default`].
    /// Custom resources should use [`Printer::Custom`] built from their CRD instead.
    pub fn for_resource(group: &str, resource: &str) -> Printer {
        builtin(group, resource).map_or(Printer::Default, Printer::Builtin)
    }

    pub fn columns(&self) -> &[ColumnDefinition] {
        match self {
            Printer::Builtin(printer) => printer.columns,
            Printer::Custom(printer) => printer.columns(),
            Printer::Default => &custom::DEFAULT_COLUMNS,
        }
    }

    pub fn print(&self, object: &Value, ctx: &TableContext) -> Row {
        match self {
            Printer::Builtin(printer) => (printer.print)(object, ctx),
            Printer::Custom(printer) => printer.print(object, ctx),
            Printer::Default => custom::default_row(object),
        }
    }
}

/// The built-in printers, by (API group, plural resource).
fn builtin(group: &str, resource: &str) -> Option<&'static BuiltinPrinter> {
    Some(match (group, resource) {
        ("", "pods") => &pods::PODS,
        ("", "podtemplates") => &workloads::PODTEMPLATES,
        ("", "replicationcontrollers") => &workloads::REPLICATIONCONTROLLERS,
        ("", "services") => &network::SERVICES,
        ("", "endpoints") => &network::ENDPOINTS,
        ("", "namespaces") => &core::NAMESPACES,
        ("", "configmaps") => &core::CONFIGMAPS,
        ("", "secrets") => &core::SECRETS,
        ("", "serviceaccounts") => &core::SERVICEACCOUNTS,
        ("", "resourcequotas") => &core::RESOURCEQUOTAS,
        ("", "nodes") => &core::NODES,
        ("", "persistentvolumes") => &core::PERSISTENTVOLUMES,
        ("", "persistentvolumeclaims") => &core::PERSISTENTVOLUMECLAIMS,
        ("", "events") => &events::EVENTS,
        ("events.k8s.io", "events") => &events::EVENTS_V1_PRINTER,
        ("apps", "deployments") => &workloads::DEPLOYMENTS,
        ("apps", "replicasets") => &workloads::REPLICASETS,
        ("apps", "statefulsets") => &workloads::STATEFULSETS,
        ("apps", "daemonsets") => &workloads::DAEMONSETS,
        ("apps", "controllerrevisions") => &workloads::CONTROLLERREVISIONS,
        ("batch", "jobs") => &workloads::JOBS,
        ("batch", "cronjobs") => &workloads::CRONJOBS,
        ("autoscaling", "horizontalpodautoscalers") => &other::HORIZONTALPODAUTOSCALERS,
        ("policy", "poddisruptionbudgets") => &other::PODDISRUPTIONBUDGETS,
        ("networking.k8s.io", "ingresses") => &network::INGRESSES,
        ("networking.k8s.io", "ingressclasses") => &network::INGRESSCLASSES,
        ("networking.k8s.io", "networkpolicies") => &network::NETWORKPOLICIES,
        ("discovery.k8s.io", "endpointslices") => &network::ENDPOINTSLICES,
        ("rbac.authorization.k8s.io", "rolebindings") => &other::ROLEBINDINGS,
        ("rbac.authorization.k8s.io", "clusterrolebindings") => &other::CLUSTERROLEBINDINGS,
        ("coordination.k8s.io", "leases") => &other::LEASES,
        ("scheduling.k8s.io", "priorityclasses") => &other::PRIORITYCLASSES,
        ("storage.k8s.io", "storageclasses") => &other::STORAGECLASSES,
        ("node.k8s.io", "runtimeclasses") => &other::RUNTIMECLASSES,
        ("certificates.k8s.io", "certificatesigningrequests") => &other::CERTIFICATESIGNINGREQUESTS,
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations" | "validatingwebhookconfigurations") => {
            &other::WEBHOOKCONFIGURATIONS
        }
        _ => return None,
    })
}

/// One-stop builder with the printer [`Printer::for_resource`] picks. `list_metadata` is the
/// ListMeta (`resourceVersion`, `continue`, `remainingItemCount`) for the Table's `metadata`;
/// for a single object pass its resourceVersion. `with_column_definitions` is false for every
/// watch event after the first, where kube-apiserver sends `"columnDefinitions": null`.
pub fn build_table(
    group: &str,
    resource: &str,
    objects: &[&Value],
    include: IncludeObject,
    list_metadata: Value,
    with_column_definitions: bool,
    ctx: &TableContext,
) -> Value {
    let printer = Printer::for_resource(group, resource);
    build_table_with(&printer, objects, include, list_metadata, with_column_definitions, ctx)
}

/// [`build_table`] with an explicit printer (a CRD's [`CustomPrinter`], say).
pub fn build_table_with(
    printer: &Printer,
    objects: &[&Value],
    include: IncludeObject,
    list_metadata: Value,
    with_column_definitions: bool,
    ctx: &TableContext,
) -> Value {
    let columns = if with_column_definitions {
        Value::Array(printer.columns().iter().map(ColumnDefinition::to_json).collect())
    } else {
        Value::Null
    };
    let mut rows: Vec<Row> = objects.iter().map(|object| printer.print(object, ctx)).collect();
    if let Printer::Builtin(BuiltinPrinter { adjust: Some(adjust), .. }) = printer {
        adjust(objects, &mut rows);
    }
    let rows: Vec<Value> = rows.into_iter().zip(objects).map(|(row, object)| row_json(row, object, include)).collect();
    // DefaultTableConvertor appends to a nil slice, so an empty list has `"rows": null`; the
    // printers and the CRD convertor start from an empty one.
    let rows = if rows.is_empty() && matches!(printer, Printer::Default) { Value::Null } else { Value::Array(rows) };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta(list_metadata),
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// ListMeta's fields are all omitempty.
fn list_meta(metadata: Value) -> Value {
    let kept: Map<String, Value> = match metadata {
        Value::Object(map) => map.into_iter().filter(|(_, v)| !v.is_null() && v.as_str() != Some("")).collect(),
        _ => Map::new(),
    };
    Value::Object(kept)
}

fn row_json(row: Row, object: &Value, include: IncludeObject) -> Value {
    let mut out = Map::new();
    out.insert("cells".into(), Value::Array(row.cells));
    if !row.conditions.is_empty() {
        out.insert("conditions".into(), Value::Array(row.conditions));
    }
    let embedded = match include {
        // A nil RawExtension still marshals (as null); Go's omitempty never drops a struct.
        IncludeObject::None => Value::Null,
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
        IncludeObject::Object => object.clone(),
    };
    out.insert("object".into(), embedded);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_rfc3339;

    fn ctx() -> TableContext {
        TableContext { now_unix: parse_rfc3339("2026-11-22T07:41:00Z").unwrap() }
    }

    fn configmap() -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "settings", "namespace": "default", "uid": "9d1c", "resourceVersion": "42",
                            "creationTimestamp": "2026-11-22T07:40:00Z", "labels": {"app": "web"}},
               "data": {"a": "1"}})
    }

    #[test]
    fn parses_include_object() {
        assert_eq!(IncludeObject::parse(None), Ok(IncludeObject::Metadata));
        assert_eq!(IncludeObject::parse(Some("")), Ok(IncludeObject::Metadata));
        assert_eq!(IncludeObject::parse(Some("Metadata")), Ok(IncludeObject::Metadata));
        assert_eq!(IncludeObject::parse(Some("Object")), Ok(IncludeObject::Object));
        assert_eq!(IncludeObject::parse(Some("None")), Ok(IncludeObject::None));
        assert_eq!(
            IncludeObject::parse(Some("object")),
            Err("Unable to convert to Table as requested: includeObject: Invalid value: \"object\": must be 'Metadata', 'Object', 'None', or empty".into())
        );
    }

    #[test]
    fn whole_table_for_a_list_with_metadata_rows() {
        let cm = configmap();
        let table = build_table(
            "",
            "configmaps",
            &[&cm],
            IncludeObject::default(),
            json!({"resourceVersion": "57", "continue": "", "remainingItemCount": null}),
            true,
            &ctx(),
        );
        let expected = json!({
            "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "57"},
            "columnDefinitions": [
                {"name": "Name", "type": "string", "format": "name", "description": columns::NAME_DESCRIPTION, "priority": 0},
                {"name": "Data", "type": "string", "format": "", "description": core_data_description(), "priority": 0},
                {"name": "Age", "type": "string", "format": "", "description": columns::CREATION_DESCRIPTION, "priority": 0},
            ],
            "rows": [{"cells": ["settings", 1, "60s"],
                      "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": cm["metadata"]}}],
        });
        assert_eq!(table, expected);
        // Key order follows Go's struct order on the wire.
        let text = table.to_string();
        let order: Vec<usize> = ["\"kind\"", "\"apiVersion\"", "\"metadata\"", "\"columnDefinitions\"", "\"rows\""]
            .iter()
            .map(|k| text.find(k).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    fn core_data_description() -> &'static str {
        "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process."
    }

    #[test]
    fn include_object_variants_and_watch_events() {
        let cm = configmap();
        let none =
            build_table("", "configmaps", &[&cm], IncludeObject::None, json!({"resourceVersion": "42"}), false, &ctx());
        assert_eq!(none["columnDefinitions"], Value::Null);
        assert_eq!(none["rows"][0].to_string(), r#"{"cells":["settings",1,"60s"],"object":null}"#);
        let whole = build_table("", "configmaps", &[&cm], IncludeObject::Object, json!({}), true, &ctx());
        assert_eq!(whole["rows"][0]["object"], cm);
        assert_eq!(whole["metadata"], json!({}));
    }

    #[test]
    fn pod_rows_carry_conditions_between_cells_and_object() {
        let pod = json!({"metadata": {"name": "job-x", "creationTimestamp": "2026-11-22T07:40:00Z"},
                         "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Succeeded"}});
        let table = build_table("", "pods", &[&pod], IncludeObject::None, json!({}), true, &ctx());
        assert_eq!(
            table["rows"][0].to_string(),
            r#"{"cells":["job-x","0/1","Succeeded","0","60s","<none>","<none>","<none>","<none>"],"conditions":[{"type":"Completed","status":"True","reason":"Succeeded","message":"The pod has completed successfully."}],"object":null}"#
        );
        let names: Vec<&str> =
            table["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]
        );
    }

    #[test]
    fn default_convertor_for_kinds_without_a_printer() {
        let role =
            json!({"metadata": {"name": "pod-reader", "creationTimestamp": "2026-11-20T00:00:00Z"}, "rules": []});
        for (group, resource) in [
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "clusterroles"),
            ("apiextensions.k8s.io", "customresourcedefinitions"),
            ("", "limitranges"),
        ] {
            let table = build_table(group, resource, &[&role], IncludeObject::None, json!({}), true, &ctx());
            assert_eq!(table["columnDefinitions"][1]["name"], "Created At", "{resource}");
            assert_eq!(table["rows"][0]["cells"], json!(["pod-reader", "2026-11-20T00:00:00Z"]));
        }
        let empty =
            build_table("rbac.authorization.k8s.io", "roles", &[], IncludeObject::None, json!({}), true, &ctx());
        assert_eq!(empty["rows"], Value::Null);
        let empty = build_table("", "pods", &[], IncludeObject::None, json!({}), true, &ctx());
        assert_eq!(empty["rows"], json!([]));
    }

    #[test]
    fn every_builtin_row_matches_its_columns() {
        let resources = [
            ("", "pods"),
            ("", "podtemplates"),
            ("", "replicationcontrollers"),
            ("", "services"),
            ("", "endpoints"),
            ("", "namespaces"),
            ("", "configmaps"),
            ("", "secrets"),
            ("", "serviceaccounts"),
            ("", "resourcequotas"),
            ("", "nodes"),
            ("", "persistentvolumes"),
            ("", "persistentvolumeclaims"),
            ("", "events"),
            ("events.k8s.io", "events"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("apps", "controllerrevisions"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
            ("autoscaling", "horizontalpodautoscalers"),
            ("policy", "poddisruptionbudgets"),
            ("networking.k8s.io", "ingresses"),
            ("networking.k8s.io", "ingressclasses"),
            ("networking.k8s.io", "networkpolicies"),
            ("discovery.k8s.io", "endpointslices"),
            ("rbac.authorization.k8s.io", "rolebindings"),
            ("rbac.authorization.k8s.io", "clusterrolebindings"),
            ("coordination.k8s.io", "leases"),
            ("scheduling.k8s.io", "priorityclasses"),
            ("storage.k8s.io", "storageclasses"),
            ("node.k8s.io", "runtimeclasses"),
            ("certificates.k8s.io", "certificatesigningrequests"),
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ];
        let sparse = json!({"metadata": {"name": "x"}});
        for (group, resource) in resources {
            let printer = Printer::for_resource(group, resource);
            assert!(matches!(printer, Printer::Builtin(_)), "{group}/{resource}");
            let row = printer.print(&sparse, &ctx());
            assert_eq!(row.cells.len(), printer.columns().len(), "{group}/{resource}");
            let first_name = printer.columns().iter().position(|c| c.format == "name");
            assert!(first_name.is_some(), "{group}/{resource} has a name column");
        }
    }

    #[test]
    fn custom_printer_plugs_in() {
        let printer = Printer::Custom(CustomPrinter::from_additional_printer_columns(Some(&json!([
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}
        ]))));
        let object = json!({"metadata": {"name": "db"}, "status": {"phase": "Ready"}});
        let table =
            build_table_with(&printer, &[&object], IncludeObject::None, json!({"resourceVersion": "9"}), true, &ctx());
        assert_eq!(table["rows"], json!([{"cells": ["db", "Ready"], "object": null}]));
        assert_eq!(
            table["columnDefinitions"][1]["description"],
            "Custom resource definition column (in JSONPath format): .status.phase"
        );
    }
}

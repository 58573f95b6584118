//! Tables for resources without a built-in printer. [`CustomPrinter`] is the hook for a
//! CustomResourceDefinition's `additionalPrinterColumns` (after apiextensions-apiserver's
//! `tableconvertor`): a NAME column, then one column per definition, each cell found by a
//! JSONPath and typed by the column's `type`. [`DEFAULT_COLUMNS`]/[`default_row`] are
//! apiserver's `DefaultTableConvertor` (NAME and CREATED AT, an RFC 3339 `date` that kubectl
//! prints verbatim), which built-in kinds without a printer use: roles, clusterroles,
//! customresourcedefinitions, limitranges, ...
//!
//! JSONPath support is the subset CRD columns use in practice: `.field` steps (with `\.`
//! escapes), `['field']` / `["field"]` and `[n]` (negative counts from the end). A path outside
//! it yields an empty (`null`) cell.

use super::columns::{CREATION_DESCRIPTION, ColumnDefinition, NAME, at, col, name_cell, since, text};
use super::{Row, TableContext};
use crate::timestamp::{format_rfc3339, parse_rfc3339_micros};
use serde_json::{Value, json};
use std::borrow::Cow;

/// `DefaultTableConvertor`'s columns.
pub static DEFAULT_COLUMNS: [ColumnDefinition; 2] = [NAME, col("Created At", "date", CREATION_DESCRIPTION)];

/// `DefaultTableConvertor`'s row: the name and `creationTimestamp` in UTC, RFC 3339. Go's zero
/// time prints as year 1.
pub fn default_row(object: &Value) -> Row {
    let created = super::columns::time(object, &["metadata", "creationTimestamp"])
        .map_or_else(|| "0001-01-01T00:00:00Z".to_string(), |micros| format_rfc3339(micros.div_euclid(1_000_000)));
    Row::from(vec![name_cell(object), json!(created)])
}

/// One `additionalPrinterColumns` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomColumn {
    pub definition: ColumnDefinition,
    pub json_path: String,
}

/// A table convertor driven by column definitions rather than code.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomPrinter {
    /// NAME first, then the custom columns.
    columns: Vec<ColumnDefinition>,
    paths: Vec<Option<Vec<Step>>>,
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
}

impl CustomPrinter {
    pub fn new(custom: Vec<CustomColumn>) -> Self {
        let paths = custom.iter().map(|c| parse_path(&c.json_path)).collect();
        let columns = std::iter::once(NAME).chain(custom.into_iter().map(|c| c.definition)).collect();
        CustomPrinter { columns, paths }
    }

    /// From one CRD version's `additionalPrinterColumns` (a JSON array of `{name, type,
    /// format, description, priority, jsonPath}`). With none, the CRD serves the default Age
    /// column, as apiextensions-apiserver does.
    pub fn from_additional_printer_columns(columns: Option<&Value>) -> Self {
        let entries = columns.and_then(Value::as_array).filter(|c| !c.is_empty());
        let Some(entries) = entries else {
            let age = col("Age", "date", CREATION_DESCRIPTION);
            return Self::new(vec![CustomColumn { definition: age, json_path: ".metadata.creationTimestamp".into() }]);
        };
        let owned = |v: &Value, key: &str| Cow::Owned(text(v, &[key]).to_string());
        let custom = entries
            .iter()
            .map(|c| {
                let json_path = text(c, &["jsonPath"]).to_string();
                let description = match text(c, &["description"]) {
                    "" => format!("Custom resource definition column (in JSONPath format): {json_path}"),
                    d => d.to_string(),
                };
                let definition = ColumnDefinition {
                    name: owned(c, "name"),
                    type_: owned(c, "type"),
                    format: owned(c, "format"),
                    description: Cow::Owned(description),
                    priority: at(c, &["priority"]).and_then(Value::as_i64).unwrap_or(0) as i32,
                };
                CustomColumn { definition, json_path }
            })
            .collect();
        Self::new(custom)
    }

    pub fn columns(&self) -> &[ColumnDefinition] {
        &self.columns
    }

    pub fn print(&self, object: &Value, ctx: &TableContext) -> Row {
        let mut cells = vec![name_cell(object)];
        for (definition, path) in self.columns[1..].iter().zip(&self.paths) {
            let found = path.as_deref().and_then(|steps| walk(object, steps));
            cells.push(found.map_or(Value::Null, |value| cell_for(&definition.type_, value, ctx)));
        }
        Row::from(cells)
    }
}

fn parse_path(path: &str) -> Option<Vec<Step>> {
    let path = path.trim();
    let path = path.strip_prefix('{').and_then(|p| p.strip_suffix('}')).unwrap_or(path);
    let mut chars = path.chars().peekable();
    let mut steps = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut field = String::new();
                while let Some(&next) = chars.peek() {
                    match next {
                        '\\' => {
                            chars.next();
                            field.push(chars.next()?);
                        }
                        '.' | '[' => break,
                        _ => field.push(chars.next()?),
                    }
                }
                if !field.is_empty() {
                    steps.push(Step::Field(field));
                }
            }
            '[' => {
                let inner: String = chars.by_ref().take_while(|&c| c != ']').collect();
                let quoted = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\''));
                let quoted = quoted.or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                steps.push(match quoted {
                    Some(field) => Step::Field(field.to_string()),
                    None => Step::Index(inner.trim().parse().ok()?),
                });
            }
            _ => return None,
        }
    }
    Some(steps)
}

fn walk<'a>(object: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(object, |value, step| match step {
        Step::Field(field) => value.get(field),
        Step::Index(i) => {
            let items = value.as_array()?;
            let index = if *i < 0 { items.len() as i64 + i } else { *i };
            items.get(usize::try_from(index).ok()?)
        }
    })
}

/// `cellForJSONValue`, plus the JSONPath text printing used for "string" columns.
fn cell_for(type_: &str, value: &Value, ctx: &TableContext) -> Value {
    match (type_, value) {
        (_, Value::Null) => Value::Null,
        ("string", Value::String(s)) => json!(s),
        ("string", Value::Number(n)) => {
            json!(n.as_f64().filter(|_| !n.is_i64() && !n.is_u64()).map_or_else(|| n.to_string(), go_float))
        }
        ("string", Value::Bool(b)) => json!(b.to_string()),
        ("string", nested) => json!(sorted_json(nested).to_string()),
        ("integer", Value::Number(n)) => {
            n.as_i64().map_or_else(|| json!(n.as_f64().unwrap_or(0.0) as i64), |i| json!(i))
        }
        ("number", Value::Number(n)) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => json!(f as i64),
            Some(f) => json!(f),
            None => Value::Null,
        },
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(s)) if s.is_empty() || s == "null" => json!("<unknown>"),
        ("date", Value::String(s)) => match parse_rfc3339_micros(s) {
            Some(t) => json!(since(Some(t.as_micros()), ctx)),
            None => json!("<invalid>"),
        },
        _ => Value::Null,
    }
}

/// A copy with object keys sorted, as Go's `json.Marshal` writes maps.
fn sorted_json(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted_json(&map[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted_json).collect()),
        other => other.clone(),
    }
}

/// Go's `%v` for a float64 (`strconv` 'g', shortest): exponent form below 1e-4 or from 1e6 up.
fn go_float(f: f64) -> String {
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        f.to_string()
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_rfc3339;

    fn ctx() -> TableContext {
        TableContext { now_unix: parse_rfc3339("2026-11-22T07:41:00Z").unwrap() }
    }

    #[test]
    fn default_convertor_prints_name_and_created_at() {
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "pod-reader", "namespace": "default", "creationTimestamp": "2026-11-22T09:41:00+02:00"}, "rules": []});
        assert_eq!(default_row(&role).cells, vec![json!("pod-reader"), json!("2026-11-22T07:41:00Z")]);
        assert_eq!(default_row(&json!({"metadata": {"name": "x"}})).cells[1], json!("0001-01-01T00:00:00Z"));
        assert_eq!(DEFAULT_COLUMNS[1].to_json()["type"], "date");
    }

    fn crontab() -> Value {
        json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
            "metadata": {"name": "my-cron", "namespace": "default", "creationTimestamp": "2026-11-22T07:36:00Z", "labels": {"app.kubernetes.io/name": "cron"}},
            "spec": {"cronSpec": "* * * * */5", "image": "my-cron-image", "replicas": 3, "ratio": 0.75, "paused": false,
                     "containers": [{"name": "a"}, {"name": "b"}], "selector": {"matchLabels": {"z": "1", "a": "2"}}},
            "status": {"lastRun": "2026-11-22T07:40:00Z"}})
    }

    #[test]
    fn crd_columns_drive_cells() {
        let columns = json!([
            {"name": "Spec", "type": "string", "description": "The cron spec defining the interval a CronJob is run", "jsonPath": ".spec.cronSpec"},
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio", "priority": 1},
            {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
            {"name": "Last Run", "type": "date", "jsonPath": ".status.lastRun"},
            {"name": "Second", "type": "string", "jsonPath": ".spec.containers[-1].name"},
            {"name": "App", "type": "string", "jsonPath": ".metadata.labels['app\\.kubernetes\\.io/name']"},
            {"name": "Escaped", "type": "string", "jsonPath": ".metadata.labels.app\\.kubernetes\\.io/name"},
            {"name": "Selector", "type": "string", "jsonPath": ".spec.selector"},
            {"name": "Replicas As Text", "type": "string", "jsonPath": ".spec.replicas"},
            {"name": "Missing", "type": "string", "jsonPath": ".status.nothing[3]"},
            {"name": "Wrong Type", "type": "integer", "jsonPath": ".spec.image"},
        ]);
        let printer = CustomPrinter::from_additional_printer_columns(Some(&columns));
        assert_eq!(printer.columns().len(), 13);
        assert_eq!(printer.columns()[0], NAME);
        assert_eq!(
            printer.columns()[2].description,
            "Custom resource definition column (in JSONPath format): .spec.replicas"
        );
        assert_eq!(printer.columns()[3].priority, 1);
        assert_eq!(
            printer.print(&crontab(), &ctx()).cells,
            vec![
                json!("my-cron"),
                json!("* * * * */5"),
                json!(3),
                json!(0.75),
                json!(false),
                json!("60s"),
                json!("b"),
                json!(null),
                json!("cron"),
                json!(r#"{"matchLabels":{"a":"2","z":"1"}}"#),
                json!("3"),
                json!(null),
                json!(null)
            ]
        );
    }

    #[test]
    fn crd_without_columns_gets_age() {
        let printer = CustomPrinter::from_additional_printer_columns(Some(&json!([])));
        assert_eq!(printer.columns().iter().map(|c| c.name.as_ref()).collect::<Vec<_>>(), ["Name", "Age"]);
        assert_eq!(printer.columns()[1].type_, "date");
        assert_eq!(printer.print(&crontab(), &ctx()).cells, vec![json!("my-cron"), json!("5m")]);
        let mut fresh = crontab();
        fresh["metadata"]["creationTimestamp"] = json!("not a time");
        assert_eq!(printer.print(&fresh, &ctx()).cells[1], json!("<invalid>"));
    }

    #[test]
    fn formats_floats_like_go() {
        assert_eq!(go_float(0.75), "0.75");
        assert_eq!(go_float(1.0e-5), "1e-05");
        assert_eq!(go_float(123456.5), "123456.5");
        assert_eq!(go_float(1.5e22), "1.5e+22");
        assert_eq!(go_float(1_048_576.0), "1.048576e+06");
        assert_eq!(parse_path(".a[0].b"), Some(vec![Step::Field("a".into()), Step::Index(0), Step::Field("b".into())]));
        assert_eq!(parse_path("{.a}"), Some(vec![Step::Field("a".into())]));
        assert_eq!(parse_path("a.b"), None);
    }
}

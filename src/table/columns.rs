//! The vocabulary every printer shares: [`ColumnDefinition`] (a `meta.k8s.io/v1`
//! `TableColumnDefinition`), the column descriptions kube-apiserver copies from
//! `SwaggerDoc()`, the common NAME/AGE/CONTAINERS/IMAGES columns, and the small cell helpers
//! the real printers use everywhere: reading fields out of a JSON object, `<none>` for empty
//! lists, `labels.FormatLabels`, `metav1.FormatLabelSelector`, `layoutContainerCells`.

use super::TableContext;
use super::duration;
use crate::timestamp::parse_rfc3339_micros;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// One column of a Table. Built-in printers use `&'static str`s; a CRD's
/// additionalPrinterColumns bring owned strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnDefinition {
    pub name: Cow<'static, str>,
    /// An OpenAPI type: "string", "integer", "number", "boolean" or "date".
    pub type_: Cow<'static, str>,
    /// An OpenAPI format modifier; "name" marks the column holding the object's name.
    pub format: Cow<'static, str>,
    pub description: Cow<'static, str>,
    /// 0 is shown by default; higher priorities only with `kubectl get -o wide`.
    pub priority: i32,
}

impl ColumnDefinition {
    /// The wire form. Every field is always present, as Go writes the struct (no omitempty).
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// A priority-0 column.
pub const fn col(name: &'static str, type_: &'static str, description: &'static str) -> ColumnDefinition {
    ColumnDefinition {
        name: Cow::Borrowed(name),
        type_: Cow::Borrowed(type_),
        format: Cow::Borrowed(""),
        description: Cow::Borrowed(description),
        priority: 0,
    }
}

/// A priority-1 ("wide") column.
pub const fn wide(name: &'static str, type_: &'static str, description: &'static str) -> ColumnDefinition {
    ColumnDefinition {
        name: Cow::Borrowed(name),
        type_: Cow::Borrowed(type_),
        format: Cow::Borrowed(""),
        description: Cow::Borrowed(description),
        priority: 1,
    }
}

/// `metav1.ObjectMeta{}.SwaggerDoc()["name"]`.
pub const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
/// `metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]`.
pub const CREATION_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// `{Name: "Name", Type: "string", Format: "name", ...}`, the first column of nearly every table.
pub const NAME: ColumnDefinition = ColumnDefinition {
    name: Cow::Borrowed("Name"),
    type_: Cow::Borrowed("string"),
    format: Cow::Borrowed("name"),
    description: Cow::Borrowed(NAME_DESCRIPTION),
    priority: 0,
};
/// `{Name: "Age", Type: "string", ...}`.
pub const AGE: ColumnDefinition = col("Age", "string", CREATION_DESCRIPTION);
pub const CONTAINERS: ColumnDefinition = wide("Containers", "string", "Names of each container in the template.");
pub const IMAGES: ColumnDefinition = wide("Images", "string", "Images referenced by each container in the template.");

// ---- reading fields -------------------------------------------------------------------------

/// The value at `path`, if every step exists.
pub fn at<'a>(object: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(object, |value, key| value.get(*key))
}

/// The string at `path`, or "" (Go's zero value) when absent or not a string.
pub fn text<'a>(object: &'a Value, path: &[&str]) -> &'a str {
    at(object, path).and_then(Value::as_str).unwrap_or("")
}

/// The string at `path`, or `None` when absent or `null` (a Go `*string`).
pub fn opt_text<'a>(object: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(object, path).and_then(Value::as_str)
}

/// The integer at `path`, or 0.
pub fn int(object: &Value, path: &[&str]) -> i64 {
    opt_int(object, path).unwrap_or(0)
}

/// The integer at `path`, or `None` (a Go `*int32`).
pub fn opt_int(object: &Value, path: &[&str]) -> Option<i64> {
    at(object, path).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
}

/// The boolean at `path`, or `None` (a Go `*bool`).
pub fn opt_bool(object: &Value, path: &[&str]) -> Option<bool> {
    at(object, path).and_then(Value::as_bool)
}

/// The array at `path`, or an empty slice.
pub fn list<'a>(object: &'a Value, path: &[&str]) -> &'a [Value] {
    at(object, path).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The map at `path`, if present.
pub fn map<'a>(object: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(object, path).and_then(Value::as_object)
}

/// How many entries the map at `path` has (Go `len(map)`).
pub fn map_len(object: &Value, path: &[&str]) -> i64 {
    map(object, path).map_or(0, |m| m.len() as i64)
}

/// A `metav1.Time`/`MicroTime` at `path` as microseconds since the epoch; `None` for a zero time.
pub fn time(object: &Value, path: &[&str]) -> Option<i64> {
    opt_text(object, path).and_then(parse_rfc3339_micros).map(|t| t.as_micros())
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn deleting(object: &Value) -> bool {
    at(object, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null())
}

pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    map(object, &["metadata", "annotations"]).and_then(|m| m.get(key)).and_then(Value::as_str)
}

// ---- cells ----------------------------------------------------------------------------------

/// The object's name.
pub fn name_cell(object: &Value) -> Value {
    Value::from(text(object, &["metadata", "name"]))
}

/// `translateTimestampSince(obj.CreationTimestamp)`.
pub fn age_cell(object: &Value, ctx: &TableContext) -> Value {
    Value::from(since(time(object, &["metadata", "creationTimestamp"]), ctx))
}

/// `translateTimestampSince` for any timestamp.
pub fn since(then: Option<i64>, ctx: &TableContext) -> String {
    duration::since(then, ctx.now_micros())
}

/// `s`, or "<none>" when it is empty.
pub fn or_none(s: impl Into<String>) -> String {
    let s = s.into();
    if s.is_empty() { "<none>".into() } else { s }
}

/// The items joined by `sep`, or "<none>" when there are none.
pub fn join_or_none<S: AsRef<str>>(items: impl IntoIterator<Item = S>, sep: &str) -> String {
    or_none(join(items, sep))
}

pub fn join<S: AsRef<str>>(items: impl IntoIterator<Item = S>, sep: &str) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(item.as_ref());
    }
    out
}

/// Go's `printBool`/`printBoolPtr`: "True", "False", or "<unset>".
pub fn bool_ptr(value: Option<bool>) -> String {
    match value {
        Some(true) => "True".into(),
        Some(false) => "False".into(),
        None => "<unset>".into(),
    }
}

/// An `intstr.IntOrString` as `String()` renders it.
pub fn int_or_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.as_i64().map_or_else(String::new, |i| i.to_string()),
    }
}

/// `labels.FormatLabels`: `k=v` pairs sorted by key, or "<none>".
pub fn format_labels(labels: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<String> =
        labels.into_iter().flatten().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    pairs.sort();
    join_or_none(pairs, ",")
}

/// `metav1.LabelSelectorAsSelector(..).String()`: requirements sorted by key; `Err` for a
/// selector Go would reject. A missing or empty selector is "".
pub fn label_selector_string(selector: Option<&Value>) -> Result<String, ()> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else { return Ok(String::new()) };
    let mut requirements: Vec<(String, String)> = Vec::new();
    for (key, value) in map(selector, &["matchLabels"]).into_iter().flatten() {
        requirements.push((key.clone(), format!("{key}={}", value.as_str().ok_or(())?)));
    }
    for expression in list(selector, &["matchExpressions"]) {
        let key = text(expression, &["key"]);
        let mut values: Vec<&str> = list(expression, &["values"]).iter().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let rendered = match text(expression, &["operator"]) {
            "In" | "NotIn" if values.is_empty() => return Err(()),
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => return Err(()),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return Err(()),
        };
        requirements.push((key.to_string(), rendered));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(join(requirements.iter().map(|r| &r.1), ","))
}

/// `metav1.FormatLabelSelector`: the selector string, "<none>" when empty, "<error>" if invalid.
pub fn format_label_selector(selector: Option<&Value>) -> String {
    label_selector_string(selector).map_or_else(|()| "<error>".into(), or_none)
}

/// `layoutContainerCells`: container names and images, comma-joined.
pub fn container_cells(containers: &[Value]) -> [Value; 2] {
    let names = join(containers.iter().map(|c| text(c, &["name"])), ",");
    let images = join(containers.iter().map(|c| text(c, &["image"])), ",");
    [Value::from(names), Value::from(images)]
}

/// `list` joined by "," with " + N more..." past `max` entries (the printers'
/// `listWithMoreString`), where `count` is the total number of entries seen.
pub fn list_with_more(list: &[String], count: usize, max: usize, empty: &str) -> String {
    let joined = list.join(",");
    if count > max {
        format!("{joined} + {} more...", count - max)
    } else if joined.is_empty() {
        empty.into()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_json_has_every_field() {
        assert_eq!(
            AGE.to_json().to_string(),
            format!(
                r#"{{"name":"Age","type":"string","format":"","description":{},"priority":0}}"#,
                Value::from(CREATION_DESCRIPTION)
            )
        );
        assert_eq!(NAME.to_json()["format"], "name");
        assert_eq!(CONTAINERS.priority, 1);
    }

    #[test]
    fn formats_labels_sorted() {
        let labels = json!({"tier": "web", "app": "nginx"});
        assert_eq!(format_labels(labels.as_object()), "app=nginx,tier=web");
        assert_eq!(format_labels(None), "<none>");
        assert_eq!(format_labels(json!({}).as_object()), "<none>");
    }

    #[test]
    fn formats_label_selectors_like_apimachinery() {
        let selector = json!({
            "matchLabels": {"tier": "web", "app": "nginx"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "zone", "operator": "NotIn", "values": ["b"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "bravo", "operator": "Exists"},
            ],
        });
        assert_eq!(
            format_label_selector(Some(&selector)),
            "app=nginx,bravo,!canary,env in (dev,prod),tier=web,zone notin (b)"
        );
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        let broken = json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]});
        assert_eq!(format_label_selector(Some(&broken)), "<error>");
        assert_eq!(label_selector_string(Some(&json!({"matchLabels": {"app": "x"}}))), Ok("app=x".into()));
    }

    #[test]
    fn lays_out_containers_and_lists() {
        let containers = json!([{"name": "app", "image": "nginx:1.27"}, {"name": "sidecar", "image": "envoy"}]);
        assert_eq!(container_cells(containers.as_array().unwrap()), [json!("app,sidecar"), json!("nginx:1.27,envoy")]);
        assert_eq!(container_cells(&[]), [json!(""), json!("")]);
        let three = ["a".to_string(), "b".into(), "c".into()];
        assert_eq!(list_with_more(&three, 5, 3, "<unset>"), "a,b,c + 2 more...");
        assert_eq!(list_with_more(&[], 0, 3, "<unset>"), "<unset>");
        assert_eq!(join_or_none(Vec::<String>::new(), ","), "<none>");
        assert_eq!(int_or_string(&json!("25%")), "25%");
        assert_eq!(int_or_string(&json!(2)), "2");
        assert_eq!(bool_ptr(None), "<unset>");
    }
}

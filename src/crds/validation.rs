//! Validation of a custom resource against its version's structural schema, reported as
//! kube-apiserver reports it: kube-openapi's messages (`spec.size in body must be of type
//! integer: "string"`) inside the field errors apiextensions-apiserver converts them to
//! (`Required value`, `Unsupported value`, `Too long`, `Too many`, `Invalid value`), then the
//! invariants apiextensions-apiserver checks itself: the apiVersion, kind and metadata of
//! embedded resources (`schema/objectmeta`) and unique items of `set` and `map` lists
//! (`schema/listtype`).

use super::structural::Structural;
use crate::error::{FieldError, FieldErrorKind};
use crate::registry::names;
use serde_json::{Map, Value, json};

/// Every way `object` breaks `schema`: the OpenAPI validations in schema order, then embedded
/// resources, then list types.
pub fn validate(object: &Value, schema: &Structural) -> Vec<FieldError> {
    let mut errors = Vec::new();
    node(object, schema, "", &mut errors);
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.to_string()));
    visit(object, schema, "", &mut |value, schema, path| {
        if schema.embedded_resource {
            embedded_resource(value, path, &mut errors);
        }
    });
    visit(object, schema, "", &mut |value, schema, path| unique_items(value, schema, path, &mut errors));
    errors
}

/// Calls `check` for every value below `value` that the schema describes, with its path written
/// as apiextensions-apiserver's own checks write it (`spec.ports[0]`, `spec.labels[key]`).
fn visit(value: &Value, schema: &Structural, path: &str, check: &mut impl FnMut(&Value, &Structural, &str)) {
    let mut descend = |child: &Value, child_schema: &Structural, child_path: String| {
        check(child, child_schema, &child_path);
        visit(child, child_schema, &child_path, check);
    };
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if let Some(property) = schema.property(key) {
                    descend(child, property, if path.is_empty() { key.clone() } else { format!("{path}.{key}") });
                } else if let Some(additional) = &schema.additional_properties {
                    descend(child, additional, format!("{path}[{key}]"));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for (i, item) in items.iter().enumerate() {
                    descend(item, item_schema, format!("{path}[{i}]"));
                }
            }
        }
        _ => {}
    }
}

/// An `x-kubernetes-embedded-resource` object: apiVersion and kind are required and well
/// formed, metadata is valid ObjectMeta (its name a path segment, not required).
fn embedded_resource(value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let Value::Object(map) = value else { return };
    for field in ["apiVersion", "kind"] {
        if !map.contains_key(field) {
            errors.push(FieldError::required(format!("{path}.{field}"), ""));
        }
    }
    for (key, child) in map {
        let field = format!("{path}.{key}");
        let text = child.as_str();
        match (key.as_str(), text) {
            ("apiVersion" | "kind", None) => errors.push(FieldError::invalid(field, child.clone(), "must be a string")),
            ("apiVersion" | "kind", Some("")) => {
                errors.push(FieldError::invalid(field, json!(""), "must not be empty"))
            }
            ("apiVersion", Some(api_version)) if api_version.matches('/').count() > 1 => {
                errors.push(FieldError::invalid(
                    field,
                    json!(api_version),
                    format!("unexpected GroupVersion string: {api_version}"),
                ))
            }
            ("kind", Some(kind)) => {
                let problems = names::dns1035_label(&kind.to_lowercase());
                if !problems.is_empty() {
                    let detail = format!("may have mixed case, but should otherwise match: {}", problems.join(","));
                    errors.push(FieldError::invalid(field, json!(kind), detail));
                }
            }
            ("metadata", _) if child.is_object() => embedded_metadata(value, &field, errors),
            _ => {}
        }
    }
}

/// `ValidateObjectMeta` of an embedded resource's metadata, at `path` (`spec.template.metadata`).
fn embedded_metadata(resource: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let text = |field: &str| resource.pointer(&format!("/metadata/{field}")).and_then(Value::as_str);
    if let Some(name) = text("name").filter(|n| !n.is_empty()) {
        let problems = names::path_segment(name);
        errors.extend(problems.into_iter().map(|p| FieldError::invalid(format!("{path}.name"), json!(name), p)));
    }
    if let Some(namespace) = text("namespace").filter(|n| !n.is_empty()) {
        let problems = names::dns1123_label(namespace);
        errors.extend(
            problems.into_iter().map(|p| FieldError::invalid(format!("{path}.namespace"), json!(namespace), p)),
        );
    }
    let prefix = path.trim_end_matches("metadata");
    errors.extend(crate::registry::object_meta::errors(resource).into_iter().map(|mut error| {
        error.field = format!("{prefix}{}", error.field);
        error
    }));
}

/// `x-kubernetes-list-type: set` items, and `map` items' `x-kubernetes-list-map-keys` values,
/// must be unique: each value repeated is a `Duplicate value` at its second appearance.
fn unique_items(value: &Value, schema: &Structural, path: &str, errors: &mut Vec<FieldError>) {
    let Value::Array(items) = value else { return };
    let keys: Vec<Value> = match schema.list_type.as_str() {
        "set" => items.clone(),
        "map" => {
            if let Some(i) = items.iter().position(|item| !item.is_null() && !item.is_object()) {
                let detail = "must be an object for an array of list-type map";
                errors.push(FieldError::invalid(format!("{path}[{i}]"), items[i].clone(), detail));
                return;
            }
            let key_of = |item: &Value| -> Map<String, Value> {
                let fields = schema.list_map_keys.iter();
                fields.filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone()))).collect()
            };
            items.iter().map(|item| Value::Object(key_of(item))).collect()
        }
        _ => return,
    };
    let mut seen = std::collections::HashMap::new();
    for (i, key) in keys.into_iter().enumerate() {
        let times = seen.entry(key.to_string()).or_insert(0);
        *times += 1;
        if *times == 2 {
            errors.push(FieldError {
                field: format!("{path}[{i}]"),
                kind: FieldErrorKind::Duplicate(key),
                detail: String::new(),
            });
        }
    }
}

/// The JSON type kube-openapi names for a value (`schemaInfoForType`).
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(schema: &Structural, value: &Value) -> bool {
    let actual = json_type(value);
    if schema.int_or_string {
        return matches!(actual, "integer" | "string") || is_integral_float(value);
    }
    match schema.type_.as_str() {
        "" => true,
        "integer" => actual == "integer" || is_integral_float(value),
        "number" => matches!(actual, "integer" | "number"),
        expected => actual == expected,
    }
}

fn is_integral_float(value: &Value) -> bool {
    value.as_f64().is_some_and(|f| f.fract() == 0.0 && !value.is_i64() && !value.is_u64())
}

fn type_name(schema: &Structural) -> String {
    if schema.int_or_string { "integer,string".to_string() } else { schema.type_.clone() }
}

fn type_error(path: &str, expected: &str, actual: &str) -> FieldError {
    FieldError {
        field: path.to_string(),
        kind: FieldErrorKind::TypeInvalid(json!(actual)),
        detail: format!("{path} in body must be of type {expected}: {actual:?}"),
    }
}

/// A composite error (anyOf, oneOf, allOf, not): not a field error in kube-openapi, so
/// apiextensions-apiserver reports it at the nil path.
fn composite(message: String) -> FieldError {
    FieldError::invalid("<nil>", json!(""), message)
}

/// How Go's `%v` prints a float64 bound: integers without a fraction.
fn bound(number: &serde_json::Number) -> String {
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => f.to_string(),
        None => number.to_string(),
    }
}

fn node(value: &Value, schema: &Structural, path: &str, errors: &mut Vec<FieldError>) {
    if value.is_null() {
        if !schema.nullable && !schema.type_.is_empty() {
            errors.push(type_error(path, &type_name(schema), "null"));
        }
        return;
    }
    if !type_matches(schema, value) {
        errors.push(type_error(path, &type_name(schema), json_type(value)));
        enum_check(value, schema, path, errors);
        return;
    }
    combinators(value, schema, path, errors);
    match value {
        Value::String(text) => string(text, value, schema, path, errors),
        Value::Number(number) => numeric(number, value, schema, path, errors),
        Value::Array(items) => array(items, schema, path, errors),
        _ => {}
    }
    enum_check(value, schema, path, errors);
    if let Value::Object(map) = value {
        object(map, schema, path, errors);
    }
}

fn combinators(value: &Value, schema: &Structural, path: &str, errors: &mut Vec<FieldError>) {
    let checks = &schema.checks;
    let run = |sub: &Structural| {
        let mut found = Vec::new();
        node(value, sub, path, &mut found);
        found
    };
    if !checks.any_of.is_empty() {
        let results: Vec<Vec<FieldError>> = checks.any_of.iter().map(run).collect();
        if results.iter().all(|r| !r.is_empty()) {
            errors.push(composite(format!("{path:?} must validate at least one schema (anyOf)")));
            errors.extend(results.into_iter().min_by_key(Vec::len).unwrap_or_default());
        }
    }
    if !checks.one_of.is_empty() {
        let results: Vec<Vec<FieldError>> = checks.one_of.iter().map(run).collect();
        let valid = results.iter().filter(|r| r.is_empty()).count();
        if valid != 1 {
            let detail =
                if valid == 0 { "Found none valid".to_string() } else { format!("Found {valid} valid alternatives") };
            errors.push(composite(format!("{path:?} must validate one and only one schema (oneOf). {detail}")));
            if valid == 0 {
                errors.extend(results.into_iter().min_by_key(Vec::len).unwrap_or_default());
            }
        }
    }
    if !checks.all_of.is_empty() {
        let results: Vec<Vec<FieldError>> = checks.all_of.iter().map(run).collect();
        let valid = results.iter().filter(|r| r.is_empty()).count();
        errors.extend(results.into_iter().flatten());
        if valid != checks.all_of.len() {
            let detail = if valid == 0 { ". None validated" } else { "" };
            errors.push(composite(format!("{path:?} must validate all the schemas (allOf){detail}")));
        }
    }
    if let Some(not) = &checks.not
        && run(not).is_empty()
    {
        errors.push(composite(format!("{path:?} must not validate the schema (not)")));
    }
}

fn string(text: &str, value: &Value, schema: &Structural, path: &str, errors: &mut Vec<FieldError>) {
    let checks = &schema.checks;
    let length = text.chars().count() as u64;
    if let Some(max) = checks.max_length
        && length > max
    {
        let unit = if max == 1 { "byte" } else { "bytes" };
        errors.push(FieldError {
            field: path.to_string(),
            kind: FieldErrorKind::TooLong(value.clone()),
            detail: format!("may not be more than {max} {unit}"),
        });
    }
    if let Some(min) = checks.min_length
        && length < min
    {
        errors.push(FieldError::invalid(
            path,
            value.clone(),
            format!("{path} in body should be at least {min} chars long"),
        ));
    }
    if let Some((source, pattern)) = &checks.pattern
        && !pattern.is_match(text)
    {
        errors.push(FieldError::invalid(path, value.clone(), format!("{path} in body should match '{source}'")));
    }
    if !format_ok(&checks.format, text) {
        errors.push(FieldError {
            field: path.to_string(),
            kind: FieldErrorKind::TypeInvalid(value.clone()),
            detail: format!("{path} in body must be of type {}: {text:?}", checks.format),
        });
    }
}

/// The string formats kube-apiserver checks for custom resources (the ones it keeps; others
/// are stripped from the schema and accept anything).
fn format_ok(format: &str, text: &str) -> bool {
    use base64::Engine;
    match format {
        "date-time" => crate::timestamp::parse_rfc3339_micros(text).is_some(),
        "date" => {
            let parts: Vec<&str> = text.split('-').collect();
            parts.len() == 3
                && [4, 2, 2].iter().zip(&parts).all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()))
        }
        "byte" => base64::engine::general_purpose::STANDARD.decode(text).is_ok(),
        "uuid" => {
            let groups: Vec<&str> = text.split('-').collect();
            groups.len() == 5
                && [8, 4, 4, 4, 12]
                    .iter()
                    .zip(&groups)
                    .all(|(n, g)| g.len() == *n && g.bytes().all(|b| b.is_ascii_hexdigit()))
        }
        "ipv4" => text.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => text.parse::<std::net::Ipv6Addr>().is_ok(),
        _ => true,
    }
}

fn numeric(number: &serde_json::Number, value: &Value, schema: &Structural, path: &str, errors: &mut Vec<FieldError>) {
    let checks = &schema.checks;
    let actual = number.as_f64().unwrap_or(0.0);
    if let Some(factor) = checks.multiple_of
        && factor > 0.0
        && (actual / factor).fract() != 0.0
    {
        let factor = serde_json::Number::from_f64(factor).map(|n| bound(&n)).unwrap_or_default();
        errors.push(FieldError::invalid(
            path,
            value.clone(),
            format!("{path} in body should be a multiple of {factor}"),
        ));
    }
    if let Some(maximum) = &checks.maximum {
        let limit = maximum.as_f64().unwrap_or(f64::MAX);
        if actual > limit || (checks.exclusive_maximum && actual == limit) {
            let relation = if checks.exclusive_maximum { "less than" } else { "less than or equal to" };
            errors.push(FieldError::invalid(
                path,
                value.clone(),
                format!("{path} in body should be {relation} {}", bound(maximum)),
            ));
        }
    }
    if let Some(minimum) = &checks.minimum {
        let limit = minimum.as_f64().unwrap_or(f64::MIN);
        if actual < limit || (checks.exclusive_minimum && actual == limit) {
            let relation = if checks.exclusive_minimum { "greater than" } else { "greater than or equal to" };
            errors.push(FieldError::invalid(
                path,
                value.clone(),
                format!("{path} in body should be {relation} {}", bound(minimum)),
            ));
        }
    }
}

fn array(items: &[Value], schema: &Structural, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(item_schema) = &schema.items {
        for (i, item) in items.iter().enumerate() {
            node(item, item_schema, &format!("{path}[{i}]"), errors);
        }
    }
    let size = items.len() as u64;
    if let Some(min) = schema.checks.min_items
        && size < min
    {
        errors.push(FieldError::invalid(path, json!(size), format!("{path} in body should have at least {min} items")));
    }
    if let Some(max) = schema.checks.max_items
        && size > max
    {
        errors.push(FieldError {
            field: path.to_string(),
            kind: FieldErrorKind::TooMany(json!(size)),
            detail: format!("must have at most {max} items"),
        });
    }
}

fn enum_check(value: &Value, schema: &Structural, path: &str, errors: &mut Vec<FieldError>) {
    let Some(allowed) = &schema.checks.enum_values else { return };
    if allowed.contains(value) || (is_integral_float(value) && allowed.iter().any(|a| a.as_f64() == value.as_f64())) {
        return;
    }
    let listed = allowed.iter().map(|a| a.as_str().map_or_else(|| a.to_string(), String::from)).collect();
    errors.push(FieldError {
        field: path.to_string(),
        kind: FieldErrorKind::NotSupported(value.clone(), listed),
        detail: String::new(),
    });
}

fn object(map: &serde_json::Map<String, Value>, schema: &Structural, path: &str, errors: &mut Vec<FieldError>) {
    let count = map.len() as u64;
    if let Some(min) = schema.checks.min_properties
        && count < min
    {
        errors.push(FieldError::invalid(
            path,
            json!(count),
            format!("{path} in body should have at least {min} properties"),
        ));
        return;
    }
    if let Some(max) = schema.checks.max_properties
        && count > max
    {
        errors.push(FieldError {
            field: path.to_string(),
            kind: FieldErrorKind::TooMany(json!(count)),
            detail: format!("must have at most {max} items"),
        });
        return;
    }
    let child_path = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    for (name, property) in &schema.properties {
        if path.is_empty() && name == "metadata" {
            continue;
        }
        if let Some(child) = map.get(name) {
            node(child, property, &child_path(name), errors);
        }
    }
    if let Some(additional) = &schema.additional_properties {
        for (key, child) in map {
            if schema.property(key).is_none() {
                node(child, additional, &child_path(key), errors);
            }
        }
    }
    for required in &schema.required {
        if !map.contains_key(required) {
            errors.push(FieldError::required(child_path(required), ""));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Structural {
        Structural::parse(
            &json!({"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
                "size": {"type": "integer", "minimum": 0, "maximum": 10},
                "ratio": {"type": "number", "exclusiveMinimum": true, "minimum": 0.5},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "name": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 5},
                "when": {"type": "string", "format": "date-time"},
                "port": {"x-kubernetes-int-or-string": true},
                "tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "choice": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                           "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
            }}}}),
            "s",
        )
        .unwrap()
    }

    fn messages(object: Value) -> Vec<String> {
        validate(&object, &schema()).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_valid_object_passes() {
        let object = json!({"metadata": {"name": "w", "anything": 1}, "spec": {"size": 3, "ratio": 0.75, "color": "red", "name": "abc",
            "when": "2026-01-02T03:04:05Z", "port": "http", "tags": ["a"], "labels": {"x": "y"}, "choice": {"a": "1"}}});
        assert_eq!(messages(object), Vec::<String>::new());
        assert_eq!(messages(json!({"spec": {"size": 3.0, "port": 80}})), Vec::<String>::new());
    }

    #[test]
    fn failures_are_worded_as_kube_apiserver_words_them() {
        assert_eq!(messages(json!({})), ["spec: Required value"]);
        assert_eq!(
            messages(json!({"spec": {"size": "string"}})),
            ["spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\""]
        );
        assert_eq!(
            messages(json!({"spec": {"size": 11, "ratio": 0.5, "color": "green", "name": "ABCDEFG", "when": "soon",
                "port": true, "tags": [], "labels": {"x": 1}}})),
            [
                "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
                "spec.ratio: Invalid value: 0.5: spec.ratio in body should be greater than 0.5",
                "spec.color: Unsupported value: \"green\": supported values: \"red\", \"blue\"",
                "spec.name: Too long: may not be more than 5 bytes",
                "spec.name: Invalid value: \"ABCDEFG\": spec.name in body should match '^[a-z]+$'",
                "spec.when: Invalid value: \"soon\": spec.when in body must be of type date-time: \"soon\"",
                "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
                "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items",
                "spec.labels.x: Invalid value: \"integer\": spec.labels.x in body must be of type string: \"integer\"",
            ]
        );
        assert_eq!(
            messages(json!({"spec": {"size": -1, "name": "a", "tags": ["a", "b", 3]}})),
            [
                "spec.size: Invalid value: -1: spec.size in body should be greater than or equal to 0",
                "spec.name: Invalid value: \"a\": spec.name in body should be at least 2 chars long",
                "spec.tags[2]: Invalid value: \"integer\": spec.tags[2] in body must be of type string: \"integer\"",
                "spec.tags: Too many: 3: must have at most 2 items",
            ]
        );
        assert_eq!(
            messages(json!({"spec": {"size": 1, "choice": {"a": "1", "b": "2"}}})),
            [
                "<nil>: Invalid value: \"\": \"spec.choice\" must validate one and only one schema (oneOf). Found 2 valid alternatives"
            ]
        );
    }
}

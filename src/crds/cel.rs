//! CEL validation rules (`x-kubernetes-validations`) of CustomResourceDefinitions, as
//! apiextensions-apiserver runs them. When a CRD is written every rule of every version's
//! schema is compiled with the `cel` crate and checked (syntax, names it refers to, fields of
//! `self` it selects, `fieldPath`, `reason`, `messageExpression`, `oldSelf` where items cannot
//! be correlated); a rule that does not compile refuses the CRD with kube-apiserver's
//! `x-kubernetes-validations[i].rule` error, and one calling a Kubernetes library function this
//! server lacks (`quantity()`, `url()`, ...) is refused naming it. The compiled [`Rules`] live in
//! the version's [`super::CustomVersion`], built once per CRD change. On create and update of a
//! custom resource every node carrying rules is evaluated with `self` bound to its value and,
//! for transition rules, `oldSelf` to the correlated old value (map keys, `listType: map` items);
//! failures become one field error each, worded and typed as kube-apiserver's, and errors of
//! unchanged values are ratcheted away as `CRDValidationRatcheting` does. The `cel` crate is
//! dynamically typed, so only the checks listed above happen at compile time; the rest of
//! cel-go's type checking (operand types, `must evaluate to a bool`) shows at evaluation.

use super::cel_values::{self, ENV, compile_expression, to_cel};
use super::structural::Structural;
use crate::error::{FieldError, FieldErrorKind};
use ::cel::{Context, ExecutionError, Program, Value};
use serde_json::{Value as Json, json};

/// The reasons a rule may give its failures.
const REASONS: [&str; 4] = ["FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"];

/// The compiled rules of one CRD version's schema.
#[derive(Debug)]
pub struct Rules {
    root: Node,
}

/// A schema node as rules see it: enough of the schema to convert values, and its rules.
#[derive(Debug, Default)]
pub struct Node {
    pub(super) type_: String,
    pub(super) format: String,
    pub(super) int_or_string: bool,
    pub(super) preserve_unknown: bool,
    pub(super) embedded: bool,
    pub(super) properties: Vec<(String, Node)>,
    pub(super) additional: Option<Box<Node>>,
    pub(super) items: Option<Box<Node>>,
    list_type: String,
    map_keys: Vec<String>,
    map_type: String,
    rules: Vec<Rule>,
    /// Whether this node or one below it has rules.
    any_rules: bool,
}

#[derive(Debug)]
struct Rule {
    source: String,
    program: Program,
    message: String,
    message_expression: Option<Program>,
    reason: Option<String>,
    /// `fieldPath`, normalized as a field path relative to the node (`spec.name`, `labels[a]`).
    field_path: Option<String>,
    transition: bool,
    optional_old_self: bool,
}

impl Node {
    pub(super) fn property(&self, name: &str) -> Option<&Node> {
        self.properties.iter().find(|(key, _)| key == name).map(|(_, node)| node)
    }
}

impl Rules {
    /// The compiled rules of a version's `openAPIV3Schema`; `None` when it has none (or does not
    /// compile, which refuses the CRD before it is served).
    pub fn compile(schema: &Json) -> Option<Rules> {
        if !has_rules(schema) {
            return None;
        }
        let mut errors = Vec::new();
        let root = build(schema, "", None, true, &mut errors);
        errors.is_empty().then_some(Rules { root })
    }

    /// What the rules add to the schema's errors: as kube-apiserver's custom resource strategy,
    /// they are not run when a value has the wrong type.
    pub fn validate_after(&self, schema_errors: &[FieldError], object: &Json, old: Option<&Json>) -> Vec<FieldError> {
        if schema_errors.iter().any(|e| matches!(e.kind, FieldErrorKind::TypeInvalid(_))) {
            let detail = "some validation rules were not checked because the object was invalid; \
                correct the existing errors to complete validation";
            return vec![FieldError::invalid("<nil>", json!("null"), detail)];
        }
        self.validate(object, old)
    }

    /// Every rule `object` breaks; `old` is the stored object on update.
    pub fn validate(&self, object: &Json, old: Option<&Json>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let old = match old {
            Some(old) => Old::Value(old),
            None => Old::Absent,
        };
        walk(&self.root, object, old, None, true, &mut errors);
        errors
    }
}

/// Whether a schema (or anything under it) has `x-kubernetes-validations`.
fn has_rules(schema: &Json) -> bool {
    match schema {
        Json::Object(map) => map.iter().any(|(k, v)| k == "x-kubernetes-validations" || has_rules(v)),
        Json::Array(items) => items.iter().any(has_rules),
        _ => false,
    }
}

/// The errors kube-apiserver's CRD validation reports for the rules of every version. As
/// kube-apiserver's v1 conversion does, versions that all share one schema are checked once,
/// at `spec.validation.openAPIV3Schema`. Schemas that are not structural are left to
/// [`Structural::parse`]'s errors, as kube-apiserver skips CEL checks then.
pub fn definition_errors(crd: &Json) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (path, schema) in super::definition::schema_locations(crd) {
        if has_rules(&schema) && Structural::parse(&schema, &path).is_ok() {
            build(&schema, &path, None, true, &mut errors);
        }
    }
    errors
}

fn text(object: &serde_json::Map<String, Json>, key: &str) -> String {
    object.get(key).and_then(Json::as_str).unwrap_or_default().to_string()
}

fn flag(object: &serde_json::Map<String, Json>, key: &str) -> bool {
    object.get(key).and_then(Json::as_bool).unwrap_or(false)
}

/// Builds the node of `schema` at `path` and compiles its rules, reporting what is wrong with
/// them. `uncorrelatable` is the array whose items cannot be correlated, if the node is in one.
fn build(schema: &Json, path: &str, uncorrelatable: Option<&str>, root: bool, errors: &mut Vec<FieldError>) -> Node {
    let Some(object) = schema.as_object() else { return Node::default() };
    let mut node = Node {
        type_: text(object, "type"),
        format: text(object, "format"),
        int_or_string: flag(object, "x-kubernetes-int-or-string"),
        preserve_unknown: flag(object, "x-kubernetes-preserve-unknown-fields"),
        embedded: root || flag(object, "x-kubernetes-embedded-resource"),
        list_type: text(object, "x-kubernetes-list-type"),
        map_type: text(object, "x-kubernetes-map-type"),
        map_keys: object
            .get("x-kubernetes-list-map-keys")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str().map(String::from))
            .collect(),
        ..Node::default()
    };
    for (name, child) in object.get("properties").and_then(Json::as_object).into_iter().flatten() {
        let child_path = format!("{path}.properties[{name}]");
        node.properties.push((name.clone(), build(child, &child_path, uncorrelatable, false, errors)));
    }
    if let Some(additional @ Json::Object(_)) = object.get("additionalProperties") {
        let within = if map_correlatable(&node.map_type) { uncorrelatable } else { uncorrelatable.or(Some(path)) };
        node.additional =
            Some(Box::new(build(additional, &format!("{path}.additionalProperties"), within, false, errors)));
    }
    if let Some(items @ Json::Object(_)) = object.get("items") {
        let within = if node.list_type == "map" { uncorrelatable } else { uncorrelatable.or(Some(path)) };
        node.items = Some(Box::new(build(items, &format!("{path}.items"), within, false, errors)));
    }
    for key in ["allOf", "anyOf", "oneOf", "not"] {
        if object.get(key).is_some_and(has_rules) {
            errors.push(FieldError::forbidden(
                format!("{path}.{key}"),
                "x-kubernetes-validations inside allOf, anyOf, oneOf or not are not supported by this server",
            ));
        }
    }
    let declared = object.get("x-kubernetes-validations").and_then(Json::as_array);
    for (i, rule) in declared.into_iter().flatten().enumerate() {
        let rule_path = format!("{path}.x-kubernetes-validations[{i}]");
        if let Some(compiled) = compile_rule(rule, &node, &rule_path, uncorrelatable, errors) {
            node.rules.push(compiled);
        }
    }
    node.any_rules = !node.rules.is_empty()
        || node.properties.iter().any(|(_, p)| p.any_rules)
        || node.additional.as_ref().is_some_and(|a| a.any_rules)
        || node.items.as_ref().is_some_and(|i| i.any_rules);
    node
}

fn map_correlatable(map_type: &str) -> bool {
    matches!(map_type, "" | "granular" | "atomic")
}

/// Compiles one rule, or reports why it cannot be, worded as kube-apiserver's CRD validation.
fn compile_rule(
    rule: &Json,
    node: &Node,
    path: &str,
    uncorrelatable: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<Rule> {
    let field = |key: &str| rule.get(key).and_then(Json::as_str).unwrap_or_default();
    let (source, message, message_expression) = (field("rule"), field("message"), field("messageExpression"));
    let before = errors.len();
    let has_newline = |s: &str| s.contains(['\n', '\r']);
    if source.trim().is_empty() {
        errors.push(FieldError::required(format!("{path}.rule"), "rule is not specified"));
    } else if !message.is_empty() && message.trim().is_empty() {
        errors.push(FieldError::invalid(
            format!("{path}.message"),
            json!(message),
            "message must be non-empty if specified",
        ));
    } else if message.len() > 2048 {
        let shown = format!("{}...", message.chars().take(10).collect::<String>());
        errors.push(FieldError::invalid(
            format!("{path}.message"),
            json!(shown),
            "message must have a maximum length of 2048 characters",
        ));
    } else if has_newline(message.trim()) {
        errors.push(FieldError::invalid(
            format!("{path}.message"),
            json!(message),
            "message must not contain line breaks",
        ));
    } else if has_newline(source.trim()) && message.trim().is_empty() {
        errors.push(FieldError::required(
            format!("{path}.message"),
            "message must be specified if rule contains line breaks",
        ));
    }
    if !message_expression.is_empty() && message_expression.trim().is_empty() {
        errors.push(FieldError::required(
            format!("{path}.messageExpression"),
            "messageExpression must be non-empty if specified",
        ));
    }
    let reason = rule.get("reason").and_then(Json::as_str).map(String::from);
    if let Some(reason) = reason.as_deref().filter(|r| !REASONS.contains(r)) {
        errors.push(FieldError {
            field: format!("{path}.reason"),
            kind: FieldErrorKind::NotSupported(json!(reason), REASONS.iter().map(|r| r.to_string()).collect()),
            detail: String::new(),
        });
    }
    let raw_field_path = field("fieldPath");
    let mut field_path = None;
    if !raw_field_path.is_empty() {
        let invalid = |detail: &str| FieldError::invalid(format!("{path}.fieldPath"), json!(raw_field_path), detail);
        if raw_field_path.trim().is_empty() {
            errors.push(invalid("fieldPath must be non-empty if specified"));
        } else if has_newline(raw_field_path) {
            errors.push(invalid("fieldPath must not contain line breaks"));
        } else {
            match normalize_field_path(raw_field_path, node) {
                Some(normalized) => field_path = Some(normalized),
                None => errors.push(invalid("fieldPath must be a valid path")),
            }
        }
    }
    if errors.len() > before {
        return None;
    }
    // kube-apiserver shows the rule as Go's `%#v` of its internal ValidationRule struct
    // (`apiextensions.ValidationRule{Rule:"...", ...}`); a FieldError value here is JSON, so
    // the rule is shown as written in the CRD instead.
    let shown = rule.clone();
    let program = match compile_expression(source, node) {
        Ok((program, transition)) => Some((program, transition)),
        Err(detail) => {
            errors.push(FieldError::invalid(
                format!("{path}.rule"),
                shown.clone(),
                format!("compilation failed: {detail}"),
            ));
            None
        }
    };
    let message_program = if message_expression.trim().is_empty() {
        None
    } else {
        match compile_expression(message_expression, node) {
            Ok((program, _)) => Some(program),
            Err(detail) => {
                errors.push(FieldError::invalid(
                    format!("{path}.messageExpression"),
                    shown.clone(),
                    format!("messageExpression compilation failed: {detail}"),
                ));
                None
            }
        }
    };
    let (program, transition) = program?;
    let optional_old_self = rule.get("optionalOldSelf").and_then(Json::as_bool);
    if transition && let Some(array) = uncorrelatable {
        errors.push(FieldError::invalid(
            format!("{path}.rule"),
            json!(source),
            format!("oldSelf cannot be used on the uncorrelatable portion of the schema within {array}"),
        ));
    } else if !transition && let Some(optional) = optional_old_self {
        errors.push(FieldError::invalid(
            format!("{path}.optionalOldSelf"),
            json!(optional),
            "may not be set if oldSelf is not used in rule",
        ));
    }
    if errors.len() > before {
        return None;
    }
    Some(Rule {
        source: source.trim().to_string(),
        program,
        message: message.trim().to_string(),
        message_expression: message_program,
        reason,
        field_path,
        transition,
        optional_old_self: optional_old_self.unwrap_or(false),
    })
}

/// `fieldPath` (`.spec.name`, `.labels['a.b']`) as the field path it names under `node`, or
/// `None` when it does not name a field of the schema.
fn normalize_field_path(path: &str, node: &Node) -> Option<String> {
    let mut rest = path;
    let mut current = node;
    let mut normalized = String::new();
    while !rest.is_empty() {
        let (name, named);
        if let Some(after) = rest.strip_prefix("['") {
            let end = after.find("']")?;
            (name, named) = (after[..end].to_string(), !current.properties.is_empty());
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            (name, named) = (after[..end].to_string(), !current.properties.is_empty());
            rest = &after[end..];
            if name.is_empty() {
                return None;
            }
        } else {
            return None;
        }
        if named {
            current = current.property(&name)?;
            if !normalized.is_empty() {
                normalized.push('.');
            }
            normalized.push_str(&name);
        } else {
            current = current.additional.as_deref()?;
            normalized.push_str(&format!("[{name}]"));
        }
    }
    Some(normalized)
}

/// The old value at a node, as apiextensions-apiserver correlates it.
#[derive(Clone, Copy)]
enum Old<'a> {
    Value(&'a Json),
    /// Correlatable, but there is no old value (a new field, or a create).
    Absent,
    /// Inside items that cannot be correlated; whether the nearest correlated ancestor is
    /// unchanged (which ratchets errors).
    Uncorrelatable(bool),
}

fn child_path(path: Option<&str>, name: &str) -> String {
    match path {
        Some(parent) => format!("{parent}.{name}"),
        None => name.to_string(),
    }
}

fn walk(node: &Node, value: &Json, old: Old<'_>, path: Option<&str>, resource: bool, errors: &mut Vec<FieldError>) {
    if !node.any_rules || value.is_null() {
        return;
    }
    if !node.rules.is_empty() {
        evaluate(node, value, old, path, resource, errors);
    }
    let unchanged = match old {
        Old::Value(previous) => previous == value,
        Old::Absent => false,
        Old::Uncorrelatable(unchanged) => unchanged,
    };
    match value {
        Json::Array(items) => {
            let Some(item_node) = &node.items else { return };
            for (i, item) in items.iter().enumerate() {
                let item_old = match old {
                    Old::Value(Json::Array(previous)) if node.list_type == "map" => previous
                        .iter()
                        .find(|p| node.map_keys.iter().all(|k| p.get(k) == item.get(k)))
                        .map_or(Old::Absent, Old::Value),
                    Old::Absent if node.list_type == "map" => Old::Absent,
                    _ => Old::Uncorrelatable(unchanged),
                };
                let item_path = format!("{}[{i}]", path.unwrap_or_default());
                walk(item_node, item, item_old, Some(&item_path), item_node.embedded, errors);
            }
        }
        Json::Object(fields) => {
            let correlatable = map_correlatable(&node.map_type);
            for (key, child) in fields {
                let (child_node, child_path) = match (node.property(key), &node.additional) {
                    (Some(property), _) if !(resource && key == "metadata") => (property, child_path(path, key)),
                    (None, Some(additional)) => (&**additional, format!("{}[{key}]", path.unwrap_or_default())),
                    _ => continue,
                };
                let child_old = match old {
                    Old::Value(previous) if correlatable => previous.get(key).map_or(Old::Absent, Old::Value),
                    Old::Absent if correlatable => Old::Absent,
                    _ => Old::Uncorrelatable(unchanged),
                };
                walk(child_node, child, child_old, Some(&child_path), child_node.embedded, errors);
            }
        }
        _ => {}
    }
}

/// How cel-go words an evaluation error (`no such key: name`).
fn evaluation_error(error: &ExecutionError) -> String {
    match error {
        ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
        ExecutionError::NoSuchOverload(_) => "no such overload".to_string(),
        other => other.to_string(),
    }
}

fn evaluate(node: &Node, value: &Json, old: Old<'_>, path: Option<&str>, resource: bool, errors: &mut Vec<FieldError>) {
    let self_value = to_cel(value, node, resource);
    let old_json = match old {
        Old::Value(previous) if !previous.is_null() => Some(previous),
        _ => None,
    };
    let old_value = old_json.map(|o| to_cel(o, node, resource));
    let ratchet = match old {
        Old::Value(previous) => previous == value,
        Old::Absent => false,
        Old::Uncorrelatable(unchanged) => unchanged,
    };
    let at = path.unwrap_or("<nil>").to_string();
    let type_ = json!(node.type_);
    for rule in &node.rules {
        if rule.transition && old_value.is_none() && !rule.optional_old_self {
            continue;
        }
        let mut context = Context::with_env(ENV.clone());
        context.add_variable_from_value("self", self_value.clone());
        if rule.optional_old_self {
            context.add_variable_from_value("oldSelf", cel_values::optional(old_value.clone()));
        } else if let Some(old_value) = &old_value {
            context.add_variable_from_value("oldSelf", old_value.clone());
        }
        let error_string = if rule.message.is_empty() { &rule.source } else { &rule.message };
        match rule.program.execute(&context) {
            Ok(Value::Bool(true)) => continue,
            Ok(Value::Bool(false)) => {}
            Ok(other) => {
                let detail =
                    format!("rule evaluated to {:?}, not a bool, evaluating rule: {error_string}", other.type_of());
                errors.push(FieldError::invalid(at.clone(), type_.clone(), detail));
                continue;
            }
            Err(error @ ExecutionError::NoSuchOverload(_)) => {
                let detail = format!(
                    "'{}': call arguments did not match a supported operator, function or macro signature for rule: {error_string}",
                    evaluation_error(&error)
                );
                errors.push(FieldError::invalid(at.clone(), type_.clone(), detail));
                continue;
            }
            Err(error) => {
                let detail = format!("{} evaluating rule: {error_string}", evaluation_error(&error));
                errors.push(FieldError::invalid(at.clone(), type_.clone(), detail));
                continue;
            }
        }
        if !rule.transition && ratchet {
            continue;
        }
        let field = match &rule.field_path {
            Some(relative) => child_path(path, relative),
            None => at.clone(),
        };
        let evaluated = rule.message_expression.as_ref().and_then(|program| match program.execute(&context) {
            Ok(Value::String(text)) => {
                let trimmed = text.trim();
                (!trimmed.is_empty() && !trimmed.contains('\n') && trimmed.len() <= 5 * 1024)
                    .then(|| trimmed.to_string())
            }
            _ => None,
        });
        let detail = evaluated.unwrap_or_else(|| {
            if rule.message.is_empty() { format!("failed rule: {}", rule.source) } else { rule.message.clone() }
        });
        let kind = match rule.reason.as_deref() {
            Some("FieldValueForbidden") => FieldErrorKind::Forbidden,
            Some("FieldValueRequired") => FieldErrorKind::Required,
            Some("FieldValueDuplicate") => FieldErrorKind::Duplicate(type_.clone()),
            _ => FieldErrorKind::Invalid(type_.clone()),
        };
        let detail = if matches!(kind, FieldErrorKind::Duplicate(_)) { String::new() } else { detail };
        errors.push(FieldError { field, kind, detail });
    }
}

#[cfg(test)]
#[path = "cel_tests.rs"]
mod tests;

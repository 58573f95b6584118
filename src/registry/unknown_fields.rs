//! Finding fields the schema does not declare, for `fieldValidation=Strict` (400 `strict
//! decoding error: unknown field "spec.foo"`) and `Warn` (a `299` warning per field), the way
//! kube-apiserver's strict JSON decoding reports them.

use crate::openapi::{SchemaId, SchemaKind, Schemas};
use serde_json::Value;

/// The `fieldValidation` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    /// Parses the parameter; kube-apiserver defaults to Warn and rejects other values.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(format!("fieldValidation must be one of Ignore, Warn, or Strict, got {other}")),
        }
    }
}

/// Every field of `object` that `root` does not declare, as dotted paths (`spec.foo`,
/// `spec.containers[0].bogus`), in document order.
pub fn unknown_fields(schemas: &Schemas, root: SchemaId, object: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk(schemas, root, object, "", &mut found);
    found
}

fn walk(schemas: &Schemas, id: SchemaId, value: &Value, path: &str, found: &mut Vec<String>) {
    if schemas.accepts_any(id) {
        return;
    }
    match (&schemas.resolve(id).kind, value) {
        (SchemaKind::Object { properties, additional }, Value::Object(map)) => {
            for (key, child) in map {
                let child_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                let declared = properties.iter().find(|(name, _)| name == key).map(|(_, id)| *id).or(*additional);
                match declared {
                    Some(child_id) => walk(schemas, child_id, child, &child_path, found),
                    None => found.push(child_path),
                }
            }
        }
        (SchemaKind::Array { items }, Value::Array(elements)) => {
            for (index, element) in elements.iter().enumerate() {
                walk(schemas, *items, element, &format!("{path}[{index}]"), found);
            }
        }
        _ => {}
    }
}

/// The 400 message for Strict.
pub fn strict_error_message(fields: &[String]) -> String {
    let listed: Vec<String> = fields.iter().map(|f| format!("unknown field \"{f}\"")).collect();
    format!("strict decoding error: {}", listed.join(", "))
}

/// The warning text for Warn, one per field.
pub fn warning_text(field: &str) -> String {
    format!("unknown field \"{field}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::schema;
    use serde_json::json;

    #[test]
    fn finds_unknown_fields_at_any_depth_but_not_in_maps() {
        let schemas = schema();
        let pod = schemas.id("io.k8s.api.core.v1.Pod").unwrap();
        let object = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"any": "thing"}, "bogus": 1},
            "spec": {"foo": true, "containers": [{"name": "c", "image": "nginx", "imagePolicy": "x"}]},
        });
        assert_eq!(
            unknown_fields(schemas, pod, &object),
            ["metadata.bogus", "spec.foo", "spec.containers[0].imagePolicy"]
        );
        assert_eq!(strict_error_message(&["spec.foo".into()]), "strict decoding error: unknown field \"spec.foo\"");
    }

    #[test]
    fn free_form_fields_accept_anything() {
        let schemas = schema();
        let crd =
            schemas.id("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition").unwrap();
        let object = json!({"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "x-whatever": 1}}}]}});
        let unknown = unknown_fields(schemas, crd, &object);
        assert!(unknown.iter().all(|f| !f.contains("openAPIV3Schema.type")), "{unknown:?}");
    }

    #[test]
    fn parses_the_parameter() {
        assert_eq!(FieldValidation::parse(Some("Strict")).unwrap(), FieldValidation::Strict);
        assert_eq!(FieldValidation::parse(None).unwrap(), FieldValidation::Warn);
        assert!(FieldValidation::parse(Some("strict")).is_err());
    }
}

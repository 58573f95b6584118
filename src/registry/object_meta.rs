//! The metadata checks every kind shares (apimachinery's `ValidateObjectMeta`): label keys and
//! values, annotation keys, and the 256 KiB limit on all annotations together, which is what a
//! large CustomResourceDefinition runs into when client-side `kubectl apply` copies it into the
//! `last-applied-configuration` annotation (server-side apply keeps no such copy).

use crate::error::{FieldError, FieldErrorKind};
use crate::selectors::{label_key_errors, label_value_errors};
use serde_json::Value;

/// `TotalAnnotationSizeLimitB`: keys and values of all annotations, in bytes.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// What is wrong with `object`'s labels and annotations, as kube-apiserver words it.
pub fn errors(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let map = |field: &str| object.pointer(&format!("/metadata/{field}")).and_then(Value::as_object);
    for (key, value) in map("labels").into_iter().flatten() {
        let invalid = |what: &str, message: String| FieldError::invalid("metadata.labels", Value::from(what), message);
        errors.extend(label_key_errors(key).into_iter().map(|message| invalid(key, message)));
        let value = value.as_str().unwrap_or_default();
        errors.extend(label_value_errors(value).into_iter().map(|message| invalid(value, message)));
    }
    let annotations = map("annotations");
    let mut total = 0;
    for (key, value) in annotations.into_iter().flatten() {
        // A qualified name, except that case does not matter.
        let messages = label_key_errors(&key.to_lowercase());
        errors.extend(
            messages
                .into_iter()
                .map(|message| FieldError::invalid("metadata.annotations", key.clone().into(), message)),
        );
        total += key.len() + value.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errors.push(FieldError {
            field: "metadata.annotations".into(),
            kind: FieldErrorKind::TooLong(Value::String(String::new())),
            detail: format!("may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
        });
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(object: Value) -> Vec<String> {
        errors(&object).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn good_metadata_passes() {
        let object = json!({"metadata": {"labels": {"app.kubernetes.io/name": "web", "tier": ""}, "annotations": {"Example.com/Note": "anything at all: {}"}}});
        assert!(messages(object).is_empty());
    }

    #[test]
    fn bad_labels_are_invalid_as_kube_apiserver_words_it() {
        let object = json!({"metadata": {"labels": {"bad key!": "ok", "app": "not valid!"}}});
        assert_eq!(
            messages(object),
            [
                "metadata.labels: Invalid value: \"bad key!\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "metadata.labels: Invalid value: \"not valid!\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ]
        );
    }

    #[test]
    fn annotations_may_not_exceed_256_kib_together() {
        let half = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT / 2);
        let at_limit = json!({"metadata": {"annotations": {"a": half[1..], "b": half[1..]}}});
        assert!(messages(at_limit).is_empty());
        let over = json!({"metadata": {"annotations": {"a": half, "b": half}}});
        assert_eq!(messages(over), ["metadata.annotations: Too long: may not be more than 262144 bytes"]);
    }
}

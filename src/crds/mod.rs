//! CustomResourceDefinitions: a CRD written to the store becomes a served API at once. Each
//! served version joins the instance's catalog as a [`ResourceInfo`] that carries a
//! [`CustomVersion`] (its structural schema, printer columns, scale paths), so custom resources
//! go through the same generic registry as built-in ones; the hooks below are where that
//! registry asks about them: pruning and defaulting on decode, schema validation, Table
//! printers, storage-version conversion (the `None` strategy here, `Webhook` in
//! [`conversion_webhook`], its configuration checked in [`conversion_validation`]) and field
//! selectors. The CRD's own life (status conditions, catalog changes, the cleanup finalizer) is
//! in [`lifecycle`], its validation and defaults in [`definition`], its CEL validation rules in
//! [`cel`], and its `/openapi/v3` documents in [`openapi`].

pub mod cel;
mod cel_values;
pub mod conversion_validation;
pub mod conversion_webhook;
pub mod definition;
pub mod lifecycle;
pub mod openapi;
pub mod openapi_v2;
pub mod structural;
pub mod validation;

use crate::error::{ApiError, ApiResult, FieldError, Reason};
use crate::openapi::ResourceInfo;
use crate::registry::Scope;
use crate::registry::unknown_fields::{self, FieldValidation};
use crate::selectors::FieldSelector;
use crate::table::{CustomPrinter, Printer};
use serde_json::{Value, json};
use std::sync::Arc;
use structural::Structural;

/// The group and resource of CustomResourceDefinitions themselves.
pub const GROUP: &str = "apiextensions.k8s.io";
pub const PLURAL: &str = "customresourcedefinitions";

/// `specReplicasPath`, `statusReplicasPath` and `labelSelectorPath` of a scale subresource, as
/// dotted JSON paths (`.spec.replicas`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

/// What serving one version of a custom resource needs beyond its [`ResourceInfo`].
#[derive(Debug)]
pub struct CustomVersion {
    /// The CRD's name (`widgets.example.com`).
    pub crd_name: String,
    pub storage_version: String,
    /// `spec.names.listKind` (defaulted to `<Kind>List`).
    pub list_kind: String,
    /// How many versions the CRD declares (more than one means `apiVersion` is rewritten).
    pub version_count: usize,
    /// The conversion webhook, when `spec.conversion.strategy` is `Webhook` (shared by all
    /// versions of the CRD).
    pub converter: Option<Arc<conversion_webhook::WebhookConverter>>,
    pub schema: Option<Structural>,
    /// The compiled `x-kubernetes-validations` rules of the schema, if it has any.
    pub rules: Option<cel::Rules>,
    /// The version's `openAPIV3Schema` as written, for `/openapi/v3`.
    pub raw_schema: Value,
    pub printer: CustomPrinter,
    pub scale: Option<ScalePaths>,
    /// `selectableFields`, without the leading dot.
    pub selectable_fields: Vec<String>,
    pub deprecation_warning: Option<String>,
    pub served: bool,
    pub defaults_on_read: bool,
    /// The CRD is being deleted: no new objects.
    pub terminating: bool,
}

fn is_definitions(resource: &ResourceInfo) -> bool {
    resource.group == GROUP && resource.plural == PLURAL
}

/// Decodes a request's custom resource as kube-apiserver's CR codec does: drops unknown fields
/// (an error under `fieldValidation=Strict`, a warning under `Warn`) and applies defaults.
/// Refuses new objects while the CRD is being deleted. Built-in resources pass untouched.
pub fn decode(
    scope: &Scope<'_>,
    object: &mut Value,
    validation: FieldValidation,
    creating: bool,
) -> ApiResult<Vec<String>> {
    let Some(custom) = scope.resource.crd.as_ref() else { return Ok(Vec::new()) };
    if creating && custom.terminating {
        let message = "create not allowed while custom resource definition is terminating";
        return Err(ApiError::new(Reason::MethodNotAllowed, message));
    }
    let Some(schema) = &custom.schema else { return Ok(Vec::new()) };
    let unknown = structural::prune(object, schema);
    structural::apply_defaults(object, schema);
    match validation {
        FieldValidation::Strict if !unknown.is_empty() => Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {reason}",
            kind = scope.resource.kind,
            version = scope.resource.version,
            reason = unknown_fields::strict_error_message(&unknown)
        ))),
        FieldValidation::Ignore => Ok(Vec::new()),
        _ => Ok(unknown.iter().map(|f| unknown_fields::warning_text(f)).collect()),
    }
}

/// Validation beyond the generic rules: a CRD's own, or a custom resource's schema and CEL rules.
pub fn object_errors(resource: &ResourceInfo, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    if is_definitions(resource) {
        return definition::errors(object, old);
    }
    let Some(custom) = resource.crd.as_ref() else { return Vec::new() };
    let mut errors = custom.schema.as_ref().map(|schema| validation::validate(object, schema)).unwrap_or_default();
    if let Some(rules) = &custom.rules {
        let failed = rules.validate_after(&errors, object, old);
        errors.extend(failed);
    }
    errors
}

/// The Table printer of a resource: the CRD's columns for custom resources.
pub fn printer(resource: &ResourceInfo) -> Printer {
    match &resource.crd {
        Some(custom) => Printer::Custom(custom.printer.clone()),
        None => Printer::for_resource(&resource.group, &resource.plural),
    }
}

/// Whether reading or writing a custom resource changes it (several versions, or defaults).
pub fn converts(resource: &ResourceInfo) -> bool {
    resource.crd.as_ref().is_some_and(|c| c.version_count > 1 || c.defaults_on_read)
}

/// A stored custom resource as `resource`'s version shows it: converted (the `None` strategy
/// rewrites `apiVersion`, the `Webhook` strategy asks the webhook), then defaulted on read.
pub fn from_storage(resource: &ResourceInfo, stored: Value) -> ApiResult<Value> {
    let Some(custom) = &resource.crd else { return Ok(stored) };
    let mut object = convert(custom, stored, resource.api_version())?;
    if custom.defaults_on_read
        && let Some(schema) = &custom.schema
    {
        structural::apply_defaults(&mut object, schema);
    }
    Ok(object)
}

/// A request's custom resource in the storage version.
pub fn to_storage(resource: &ResourceInfo, object: Value) -> ApiResult<Value> {
    match &resource.crd {
        Some(custom) => convert(custom, object, format!("{}/{}", resource.group, custom.storage_version)),
        None => Ok(object),
    }
}

fn convert(custom: &CustomVersion, object: Value, api_version: String) -> ApiResult<Value> {
    match &custom.converter {
        Some(converter) => converter.convert(object, &api_version),
        None => Ok(relabel(object, api_version)),
    }
}

/// The `None` conversion: the object with `apiVersion` set to `api_version`.
pub fn relabel(mut object: Value, api_version: String) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), json!(api_version));
    }
    object
}

/// The field selector check for `resource`: `metadata.name`, `metadata.namespace` (namespaced
/// only) and `selectableFields` for custom resources, the built-in tables otherwise.
pub fn validate_field_selector(resource: &ResourceInfo, selector: &FieldSelector) -> Result<(), String> {
    match &resource.crd {
        Some(custom) => selector.validate_custom(resource.namespaced, &custom.selectable_fields),
        None => selector.validate_for(&resource.group, &resource.plural),
    }
}

/// The finalizers a DELETE adds: a CRD waits for its custom resources to be removed.
pub fn deletion_finalizers(resource: &ResourceInfo, finalizers: &mut Vec<Value>) {
    if is_definitions(resource) && !finalizers.iter().any(|f| f == definition::CLEANUP_FINALIZER) {
        finalizers.push(json!(definition::CLEANUP_FINALIZER));
    }
}

/// The `Warning` a request to a deprecated version gets.
pub fn deprecation_warning(resource: &ResourceInfo) -> Option<&str> {
    resource.crd.as_ref().and_then(|c| c.deprecation_warning.as_deref())
}

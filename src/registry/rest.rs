//! The generic verbs over the store for any resource: get, create, update (PUT), patch and
//! delete, with kube-apiserver's semantics for optimistic concurrency, dry runs, unconditional
//! updates, no-op writes, finalizers and the answers each verb gives.

use super::managed_fields;
use super::storage::{self, Stored, Written};
use super::strategy::{self, CreateStamp, UpdateScope, meta_str};
use super::unknown_fields::{self, FieldValidation};
use super::{Scope, conversion, csr, services};
use crate::error::{ApiError, ApiResult, FieldError, Resource};
use crate::openapi::schema;
use serde_json::{Value, json};

/// How a write was asked for.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    /// `fieldManager`, or the manager derived from the User-Agent.
    pub field_manager: String,
    pub field_validation: FieldValidation,
    /// Server-side apply has already written managedFields; the write records no Update.
    pub applied: bool,
    /// Who asked for the write (empty for the server's own writes); CertificateSigningRequests
    /// record it.
    pub requester: crate::auth::UserInfo,
}

/// A finished write: the object as it now stands, and any warnings for the client.
#[derive(Debug, Clone)]
pub struct WriteResult {
    pub object: Stored,
    pub warnings: Vec<String>,
    pub created: bool,
}

/// Namespaces kube-apiserver's NamespaceLifecycle admission plugin refuses to delete.
const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// How many times a write that lost a race retries before answering 409.
const MAX_RETRIES: usize = 16;

/// The two fields of a stored Namespace that say whether it is terminating. Every create in a
/// namespace reads them; deserializing only these skips building the whole object as a `Value`
/// (about a tenth of a create's CPU time otherwise). An unreadable object counts as active.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct NamespaceLifecycle {
    metadata: NamespaceLifecycleMetadata,
    status: NamespaceLifecycleStatus,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct NamespaceLifecycleMetadata {
    deletion_timestamp: Option<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct NamespaceLifecycleStatus {
    phase: Option<String>,
}

impl NamespaceLifecycle {
    /// Whether the stored Namespace has a deletionTimestamp or is in the Terminating phase.
    fn is_terminating(stored: &[u8]) -> bool {
        let lifecycle: NamespaceLifecycle = serde_json::from_slice(stored).unwrap_or_default();
        lifecycle.metadata.deletion_timestamp.is_some_and(|at| !at.is_empty())
            || lifecycle.status.phase.as_deref() == Some("Terminating")
    }
}

impl Scope<'_> {
    pub(crate) fn error_resource(&self) -> Resource<'_> {
        Resource { group: &self.resource.group, plural: &self.resource.plural }
    }

    fn key(&self, name: &str) -> String {
        self.resource.key(self.namespace, name)
    }

    fn schema_root(&self) -> Option<usize> {
        schema().id(&self.resource.definition)
    }

    /// Keeps what follows a write synchronously in step: the RBAC index, a new namespace's
    /// default ServiceAccount and CA bundle (so the next request can rely on them), and the
    /// APIs CustomResourceDefinitions serve.
    fn after_write(&self, object: &Value, removed: bool) {
        let name = meta_str(object, "name");
        match (self.resource.group.as_str(), self.resource.plural.as_str()) {
            ("rbac.authorization.k8s.io", _) => {
                let kept = (!removed).then_some(object);
                self.instance.auth.observe_rbac(&self.resource.kind, self.namespace, name, kept);
            }
            ("", "namespaces") if !removed && meta_str(object, "deletionTimestamp").is_empty() => {
                crate::controllers::service_accounts::ensure_defaults(self.instance, name);
            }
            (crate::crds::GROUP, crate::crds::PLURAL) => {
                crate::crds::lifecycle::definition_written(self.instance, object, removed);
            }
            _ if removed && self.resource.custom => {
                crate::crds::lifecycle::custom_resource_removed(self.instance, &self.resource);
            }
            _ => {}
        }
    }

    pub fn get(&self, name: &str) -> ApiResult<Stored> {
        storage::read(&self.instance.store, &self.key(name))?
            .ok_or_else(|| ApiError::not_found(self.error_resource(), name))
    }

    /// Checks `apiVersion`/`kind` against the endpoint and fills them in when absent.
    pub(crate) fn check_type(&self, object: &mut Value) -> ApiResult<()> {
        let Some(map) = object.as_object_mut() else {
            return Err(ApiError::bad_request("the body of the request was not a JSON object"));
        };
        let expected_version = self.resource.api_version();
        match map.get("apiVersion").and_then(Value::as_str) {
            Some(version) if version != expected_version => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({version}) does not match the expected API version ({expected_version})"
                )));
            }
            _ => {}
        }
        match map.get("kind").and_then(Value::as_str) {
            Some(kind) if kind != self.resource.kind => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({kind}) does not match the expected kind ({})",
                    self.resource.kind
                )));
            }
            _ => {}
        }
        map.insert("apiVersion".into(), json!(expected_version));
        map.insert("kind".into(), json!(self.resource.kind));
        Ok(())
    }

    /// Strict and Warn field validation against the schema.
    fn unknown_field_warnings(&self, object: &Value, validation: FieldValidation) -> ApiResult<Vec<String>> {
        if validation == FieldValidation::Ignore {
            return Ok(Vec::new());
        }
        let Some(root) = self.schema_root() else { return Ok(Vec::new()) };
        let unknown = unknown_fields::unknown_fields(schema(), root, object);
        if unknown.is_empty() {
            return Ok(Vec::new());
        }
        match validation {
            FieldValidation::Strict => Err(ApiError::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: {reason}",
                kind = self.resource.kind,
                version = self.resource.version,
                reason = unknown_fields::strict_error_message(&unknown)
            ))),
            _ => Ok(unknown.iter().map(|f| unknown_fields::warning_text(f)).collect()),
        }
    }

    /// NamespaceLifecycle's delete half: its immortal namespaces cannot be deleted.
    fn check_deletable(&self, name: &str) -> ApiResult<()> {
        let is_namespace = self.resource.group.is_empty() && self.resource.plural == "namespaces";
        if is_namespace && IMMORTAL_NAMESPACES.contains(&name) {
            return Err(ApiError::forbidden(self.error_resource(), name, "this namespace may not be deleted"));
        }
        Ok(())
    }

    /// Namespaced objects need a namespace that exists and is not terminating.
    fn check_namespace(&self, name: &str) -> ApiResult<()> {
        let Some(namespace) = self.namespace.filter(|_| self.resource.namespaced) else { return Ok(()) };
        let namespaces = crate::error::Resource { group: "", plural: "namespaces" };
        let key = format!("/registry/namespaces/{namespace}");
        let stored =
            storage::read(&self.instance.store, &key)?.ok_or_else(|| ApiError::not_found(namespaces, namespace))?;
        if NamespaceLifecycle::is_terminating(&stored.bytes) {
            return Err(ApiError::forbidden(
                self.error_resource(),
                name,
                &format!("unable to create new content in namespace {namespace} because it is being terminated"),
            )
            .with_cause(
                "NamespaceTerminating",
                &format!("namespace {namespace} is being terminated"),
                "metadata.namespace",
            ));
        }
        Ok(())
    }

    fn record_manager(&self, old: Option<&Value>, object: &mut Value, options: &WriteOptions, subresource: &str) {
        if options.applied {
            return;
        }
        managed_fields::record_update(
            schema(),
            self.schema_root(),
            old,
            object,
            &options.field_manager,
            &self.resource.api_version(),
            &self.instance.now_rfc3339(),
            subresource,
        );
    }

    /// POST: creates `object`, generating its name from `generateName` when asked.
    pub fn create(&self, mut object: Value, options: &WriteOptions) -> ApiResult<WriteResult> {
        self.check_type(&mut object)?;
        let mut warnings = self.unknown_field_warnings(&object, options.field_validation)?;
        warnings.extend(crate::crds::decode(self, &mut object, options.field_validation, true)?);
        if !meta_str(&object, "resourceVersion").is_empty() {
            return Err(ApiError::new(
                crate::error::Reason::Unknown,
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let body_namespace = meta_str(&object, "namespace").to_string();
        if self.resource.namespaced && !body_namespace.is_empty() && Some(body_namespace.as_str()) != self.namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let generate_name = meta_str(&object, "generateName").to_string();
        let explicit_name = meta_str(&object, "name").to_string();
        for _attempt in 0..MAX_RETRIES {
            let mut candidate = object.clone();
            if explicit_name.is_empty() && !generate_name.is_empty() {
                let name = super::names::generated_name(&generate_name, &self.instance.ids.name_suffix());
                strategy::metadata_mut(&mut candidate).insert("name".into(), json!(name));
            }
            let stamp = CreateStamp {
                uid: self.instance.ids.uuid(),
                now: self.instance.now_rfc3339(),
                namespace: if self.resource.namespaced { self.namespace } else { None },
            };
            strategy::prepare_create(&self.resource, &mut candidate, stamp);
            csr::prepare_create(&self.resource, &mut candidate, &options.requester);
            self.record_manager(None, &mut candidate, options, "");
            let name = meta_str(&candidate, "name").to_string();
            crate::auth::rbac::confirm_no_escalation(self, &options.requester, &candidate, None)?;
            strategy::validate(&self.resource, &candidate, None)?;
            self.check_namespace(&name)?;
            super::admission::admit_create(self, &mut candidate)?;
            let allocation = services::allocate(self, &mut candidate, None)?;
            let bytes = self.storage_bytes(&candidate)?;
            if options.dry_run {
                allocation.release(self.instance);
                if storage::read(&self.instance.store, &self.key(&name))?.is_some() {
                    return Err(ApiError::already_exists(self.error_resource(), &name));
                }
                return Ok(WriteResult { object: Stored { bytes, revision: 0 }, warnings, created: true });
            }
            match storage::create(&self.instance.store, &self.key(&name), bytes.clone())? {
                Written::At(revision) => {
                    self.after_write(&candidate, false);
                    return Ok(WriteResult { object: Stored { bytes, revision }, warnings, created: true });
                }
                Written::Conflict(_) => {
                    allocation.release(self.instance);
                    if !explicit_name.is_empty() || generate_name.is_empty() {
                        return Err(ApiError::already_exists(self.error_resource(), &name));
                    }
                }
            }
        }
        Err(ApiError::new(crate::error::Reason::Timeout, "failed to generate a unique name for the object"))
    }

    /// PUT on the resource or its `status` subresource.
    pub fn update(
        &self,
        name: &str,
        mut object: Value,
        subresource: &str,
        options: &WriteOptions,
    ) -> ApiResult<WriteResult> {
        self.check_type(&mut object)?;
        let warnings = self.unknown_field_warnings(&object, options.field_validation)?;
        let body_name = meta_str(&object, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if body_name.is_empty() {
            strategy::metadata_mut(&mut object).insert("name".into(), json!(name));
        }
        let body_namespace = meta_str(&object, "namespace").to_string();
        if self.resource.namespaced && !body_namespace.is_empty() && Some(body_namespace.as_str()) != self.namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let precondition: Option<i64> = match meta_str(&object, "resourceVersion") {
            "" => None,
            rv => Some(rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?),
        };
        let mut result =
            self.guaranteed_update(name, subresource, options, precondition, |_current| Ok(object.clone()))?;
        result.warnings.splice(0..0, warnings);
        Ok(result)
    }

    /// The stored object as an update starts from it: the decoded object the last update of it
    /// kept, or else decoded (and converted) now.
    fn view_for_update(&self, current: &Stored) -> ApiResult<Value> {
        match conversion::converts(&self.resource) {
            false => Ok(self.instance.decoded_objects.take(current).unwrap_or_else(|| current.to_value())),
            true => self.try_view(current),
        }
    }

    /// Keeps `object`, stored as `stored`, decoded for the next update of it. Objects that are
    /// converted between versions are not kept: `object` is then not in the storage version.
    fn keep_decoded(&self, stored: &Stored, object: Value) {
        if !conversion::converts(&self.resource) {
            self.instance.decoded_objects.keep(stored, object);
        }
    }

    /// Reads, transforms and writes back with compare-and-swap, retrying lost races unless the
    /// caller pinned a resourceVersion. No-op writes change nothing.
    pub fn guaranteed_update(
        &self,
        name: &str,
        subresource: &str,
        options: &WriteOptions,
        precondition: Option<i64>,
        mut transform: impl FnMut(&Value) -> ApiResult<Value>,
    ) -> ApiResult<WriteResult> {
        let scope = UpdateScope::of_subresource(subresource);
        for _attempt in 0..MAX_RETRIES {
            let current = self.get(name)?;
            if precondition.is_some_and(|rv| rv != current.revision) {
                return Err(ApiError::modified(self.error_resource(), name));
            }
            let old = self.view_for_update(&current)?;
            let mut object = transform(&old)?;
            crate::auth::rbac::confirm_no_escalation(self, &options.requester, &object, Some(&old))?;
            let warnings = crate::crds::decode(self, &mut object, options.field_validation, false)?;
            csr::prepare_update(self, &mut object, &old, scope);
            strategy::prepare_update(&self.resource, &mut object, &old, scope);
            strategy::metadata_mut(&mut object).remove("resourceVersion");
            if unchanged_by_update(&old, &object) {
                self.keep_decoded(&current, old);
                return Ok(WriteResult { object: current, warnings, created: false });
            }
            self.record_manager(Some(&old), &mut object, options, subresource);
            strategy::validate(&self.resource, &object, Some(&old))?;
            csr::validate_update(self, &object, &old, scope)?;
            super::admission::admit_update(self, &object)?;
            services::keep_allocations(self, &mut object, &old)?;
            let finalized = strategy::deletion_complete(&self.resource, &object);
            let bytes = self.storage_bytes(&object)?;
            if options.dry_run {
                self.keep_decoded(&current, old);
                return Ok(WriteResult {
                    object: Stored { bytes, revision: current.revision },
                    warnings,
                    created: false,
                });
            }
            let written = if finalized {
                storage::remove(&self.instance.store, &self.key(name), current.revision)?
            } else {
                storage::replace(&self.instance.store, &self.key(name), bytes.clone(), current.revision)?
            };
            match written {
                Written::At(revision) => {
                    if finalized {
                        services::release(self, &object);
                    }
                    self.after_write(&object, finalized);
                    let stored = Stored { bytes, revision };
                    if !finalized {
                        self.keep_decoded(&stored, object);
                    }
                    return Ok(WriteResult { object: stored, warnings, created: false });
                }
                Written::Conflict(_) if precondition.is_some() => {
                    return Err(ApiError::modified(self.error_resource(), name));
                }
                Written::Conflict(_) => continue,
            }
        }
        Err(ApiError::modified(self.error_resource(), name))
    }
}

/// Whether an update leaves `old` as it is: `object` (without a resourceVersion, and with a
/// metadata object) equals `old` without its resourceVersion and with a metadata object.
fn unchanged_by_update(old: &Value, object: &Value) -> bool {
    if strategy::metadata(old).is_some() {
        return strategy::equal_without_metadata_field(old, object, "resourceVersion");
    }
    let mut old_with_metadata = old.clone();
    strategy::metadata_mut(&mut old_with_metadata);
    *object == old_with_metadata
}

/// DeleteOptions, from the body or the query string.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub propagation_policy: Option<String>,
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

/// The propagation policy a DELETE without one gets: batch/v1 Jobs and ReplicationControllers
/// orphan their dependents for compatibility, as kube-apiserver's strategies say; everything
/// else deletes them in the background.
fn default_propagation(resource: &crate::openapi::ResourceInfo) -> &'static str {
    match (resource.group.as_str(), resource.plural.as_str()) {
        ("batch", "jobs") | ("", "replicationcontrollers") => "Orphan",
        _ => "Background",
    }
}

/// What a delete did.
#[derive(Debug, Clone)]
pub enum Deleted {
    /// The object is gone; this was its last state.
    Gone(Stored),
    /// Finalizers keep it; this is its state with deletionTimestamp set.
    Pending(Stored),
}

impl Scope<'_> {
    /// DELETE of one object.
    pub fn delete(&self, name: &str, options: &DeleteOptions) -> ApiResult<Deleted> {
        self.check_deletable(name)?;
        for _attempt in 0..MAX_RETRIES {
            let current = self.get(name)?;
            let mut object = self.try_view(&current)?;
            self.check_preconditions(name, &object, current.revision, options)?;
            let policy = options.propagation_policy.as_deref().unwrap_or_else(|| default_propagation(&self.resource));
            let finalizer = match policy {
                "Background" => None,
                "Orphan" => Some("orphan"),
                "Foreground" => Some("foregroundDeletion"),
                other => {
                    return Err(ApiError::invalid(
                        "meta.k8s.io",
                        "DeleteOptions",
                        "",
                        vec![FieldError {
                            field: "propagationPolicy".into(),
                            kind: crate::error::FieldErrorKind::NotSupported(
                                json!(other),
                                vec!["Foreground".into(), "Background".into(), "Orphan".into()],
                            ),
                            detail: String::new(),
                        }],
                    ));
                }
            };
            let metadata = strategy::metadata_mut(&mut object);
            let mut finalizers: Vec<Value> =
                metadata.get("finalizers").and_then(Value::as_array).cloned().unwrap_or_default();
            if let Some(finalizer) = finalizer
                && !finalizers.iter().any(|f| f == finalizer)
            {
                finalizers.push(json!(finalizer));
            }
            crate::crds::deletion_finalizers(&self.resource, &mut finalizers);
            let namespace_finalizers = strategy::has_namespace_finalizers(&self.resource, &object);
            if finalizers.is_empty() && !namespace_finalizers {
                if options.dry_run {
                    return Ok(Deleted::Gone(current));
                }
                match storage::remove(&self.instance.store, &self.key(name), current.revision)? {
                    Written::At(_) => {
                        services::release(self, &object);
                        self.after_write(&object, true);
                        return Ok(Deleted::Gone(current));
                    }
                    Written::Conflict(_) => continue,
                }
            }
            if !meta_str(&object, "deletionTimestamp").is_empty() && finalizer.is_none() {
                return Ok(Deleted::Pending(current));
            }
            if namespace_finalizers {
                object["status"]["phase"] = json!("Terminating");
            }
            let metadata = strategy::metadata_mut(&mut object);
            if !finalizers.is_empty() {
                metadata.insert("finalizers".into(), Value::Array(finalizers));
            }
            if !metadata.contains_key("deletionTimestamp") {
                metadata.insert("deletionTimestamp".into(), json!(self.instance.now_rfc3339()));
                metadata.insert("deletionGracePeriodSeconds".into(), json!(options.grace_period_seconds.unwrap_or(0)));
            }
            metadata.remove("resourceVersion");
            let bytes = self.storage_bytes(&object)?;
            if options.dry_run {
                return Ok(Deleted::Pending(Stored { bytes, revision: current.revision }));
            }
            match storage::replace(&self.instance.store, &self.key(name), bytes.clone(), current.revision)? {
                Written::At(revision) => {
                    self.after_write(&object, false);
                    return Ok(Deleted::Pending(Stored { bytes, revision }));
                }
                Written::Conflict(_) => continue,
            }
        }
        Err(ApiError::modified(self.error_resource(), name))
    }

    fn check_preconditions(&self, name: &str, object: &Value, revision: i64, options: &DeleteOptions) -> ApiResult<()> {
        if let Some(uid) = options.precondition_uid.as_deref().filter(|u| !u.is_empty()) {
            let actual = meta_str(object, "uid");
            if uid != actual {
                return Err(ApiError::conflict(
                    self.error_resource(),
                    name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"),
                ));
            }
        }
        if let Some(rv) = options.precondition_resource_version.as_deref().filter(|r| !r.is_empty())
            && rv != revision.to_string()
        {
            return Err(ApiError::conflict(
                self.error_resource(),
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {revision}"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod namespace_lifecycle_tests {
    use super::NamespaceLifecycle;

    fn terminating(stored: &str) -> bool {
        NamespaceLifecycle::is_terminating(stored.as_bytes())
    }

    #[test]
    fn a_namespace_terminates_once_deleted_or_in_the_terminating_phase() {
        let active =
            r#"{"kind":"Namespace","metadata":{"name":"a","managedFields":[{"f":{}}]},"status":{"phase":"Active"}}"#;
        assert!(!terminating(active));
        assert!(!terminating(r#"{"metadata":{"deletionTimestamp":null}}"#));
        assert!(!terminating(r#"{"metadata":{"deletionTimestamp":""}}"#));
        assert!(!terminating("not JSON"));
        assert!(terminating(r#"{"metadata":{"name":"a","deletionTimestamp":"2026-01-01T00:00:00Z"}}"#));
        assert!(terminating(r#"{"metadata":{"name":"a"},"spec":{},"status":{"phase":"Terminating"}}"#));
    }
}

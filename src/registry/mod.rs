//! The registry: generic REST semantics over the store for every resource (get, list, create,
//! update, patch, delete, watch), plus the small per-kind strategies the schema cannot express.

pub mod admission;
pub mod admission_plugins;
pub mod allocators;
pub mod apply;
mod apply_merge;
pub mod conversion;
pub mod csr;
pub mod decoded_objects;
pub mod defaults;
pub mod encoding;
mod field_diff;
mod field_set;
pub mod list;
pub mod managed_fields;
pub mod names;
pub mod object_meta;
pub mod rest;
pub mod services;
pub mod storage;
pub mod strategy;
pub mod unchanged_applies;
pub mod unknown_fields;

use crate::instance::Instance;
use crate::openapi::ResourceInfo;
use serde_json::Value;
use std::sync::Arc;
use storage::Stored;

/// One resource as one request addresses it: which instance, which resource (at the version
/// the client asked for) and, for namespaced resources, which namespace.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub instance: &'a Instance,
    pub resource: Arc<ResourceInfo>,
    pub namespace: Option<&'a str>,
}

impl Scope<'_> {
    /// A stored object as this endpoint's version shows it, with its resourceVersion. A failed
    /// conversion webhook is logged, not returned: see [`conversion::from_storage`].
    pub fn view(&self, stored: &Stored) -> Value {
        conversion::from_storage(&self.resource, stored.to_value())
    }

    /// [`Scope::view`] for a response: a failed conversion webhook is the request's error.
    pub fn try_view(&self, stored: &Stored) -> crate::error::ApiResult<Value> {
        conversion::try_from_storage(&self.resource, stored.to_value())
    }

    /// The same as [`Scope::try_view`], as JSON bytes; objects that need no conversion are
    /// spliced from the stored bytes without parsing them.
    pub fn view_json(&self, stored: &Stored) -> crate::error::ApiResult<Vec<u8>> {
        if conversion::converts(&self.resource) {
            Ok(serde_json::to_vec(&self.try_view(stored)?).expect("JSON values always serialize"))
        } else {
            Ok(stored.to_json())
        }
    }

    /// An object from a request, in the storage version and encoding.
    pub fn storage_bytes(&self, object: &Value) -> crate::error::ApiResult<bytes::Bytes> {
        if conversion::converts(&self.resource) {
            let mut stored = conversion::to_storage(&self.resource, object.clone())?;
            strategy::metadata_mut(&mut stored).remove("resourceVersion");
            Ok(encoding::encode_for_storage(&stored))
        } else {
            Ok(encoding::encode_for_storage(object))
        }
    }
}

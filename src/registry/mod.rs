//! The registry: generic REST semantics over the store for every resource (get, list, create,
//! update, patch, delete, watch), plus the small per-kind strategies the schema cannot express.

pub mod admission;
pub mod admission_plugins;
pub mod allocators;
pub mod apply;
mod apply_merge;
pub mod conversion;
pub mod csr;
pub mod defaults;
pub mod encoding;
mod field_set;
pub mod list;
pub mod managed_fields;
pub mod names;
pub mod rest;
pub mod services;
pub mod storage;
pub mod strategy;
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
    /// A stored object as this endpoint's version shows it, with its resourceVersion.
    pub fn view(&self, stored: &Stored) -> Value {
        conversion::from_storage(&self.resource, stored.to_value())
    }

    /// The same as [`Scope::view`], as JSON bytes; objects that need no conversion are spliced
    /// from the stored bytes without parsing them.
    pub fn view_json(&self, stored: &Stored) -> Vec<u8> {
        if conversion::converts(&self.resource) {
            serde_json::to_vec(&self.view(stored)).expect("JSON values always serialize")
        } else {
            stored.to_json()
        }
    }

    /// An object from a request, in the storage version and encoding.
    pub fn storage_bytes(&self, object: &Value) -> bytes::Bytes {
        if conversion::converts(&self.resource) {
            let mut stored = conversion::to_storage(&self.resource, object.clone());
            strategy::metadata_mut(&mut stored).remove("resourceVersion");
            encoding::encode_for_storage(&stored)
        } else {
            encoding::encode_for_storage(object)
        }
    }
}

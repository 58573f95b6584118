//! The built-in API surface, read from the vendored Kubernetes v1.36 OpenAPI spec
//! (`openapi/kubernetes-v1.36-swagger.json.gz`, from the official Kubernetes Python client's
//! `kubernetes/swagger.json.unprocessed`, Apache-2.0, itself copied from Kubernetes
//! `release-1.36`).
//!
//! The build script distils the spec into a resource catalog and description-free schemas; this
//! module parses them once per process ([`builtin_resources`], [`schema`]) and adds only what the
//! spec cannot say: short names, categories and storage keys.

pub mod catalog;
pub mod documents;
pub mod schema;

pub use catalog::{Catalog, GroupVersion, ResourceInfo, SubresourceInfo, builtin_resources};
pub use schema::{ListType, MapType, PatchStrategy, Schema, SchemaId, SchemaKind, Schemas, schema};

/// The full spec, gzip-compressed, for serving `/openapi/v2` and `/openapi/v3` documents.
pub const FULL_SPEC_GZ: &[u8] = include_bytes!("../../openapi/kubernetes-v1.36-swagger.json.gz");

pub(crate) const CATALOG_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/catalog.json"));
pub(crate) const SCHEMAS_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/schemas.json"));

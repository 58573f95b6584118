//! The built-in API surface, read from the vendored Kubernetes v1.36 OpenAPI spec
//! (`openapi/kubernetes-v1.36-swagger.json.gz`, from the official Kubernetes Python client's
//! `kubernetes/swagger.json.unprocessed`, Apache-2.0, itself copied from Kubernetes
//! `release-1.36`).
//!
//! The build script distils the spec into a resource catalog and the schema graph; this module
//! parses them once per process ([`builtin_resources`], [`schema`]) and adds only what the spec
//! cannot say: short names, categories and storage keys.

pub mod catalog;
pub mod documents;
pub mod schema;

pub use catalog::{Catalog, GroupVersion, ResourceInfo, SubresourceInfo, builtin_resources};
pub use schema::{ListType, MapType, PatchStrategy, Schema, SchemaId, SchemaKind, Schemas};

/// The full spec, gzip-compressed, for serving `/openapi/v2` and `/openapi/v3` documents.
pub const FULL_SPEC_GZ: &[u8] = include_bytes!("../../openapi/kubernetes-v1.36-swagger.json.gz");

pub(crate) const CATALOG_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/catalog.json"));
/// The built-in schema graph, built from the spec by the build script.
const SCHEMA_GRAPH_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/schema-graph.json"));

/// The built-in definitions' graph, deserialized on first use and shared by every server in
/// the process.
pub fn schema() -> &'static Schemas {
    static SCHEMAS: std::sync::OnceLock<Schemas> = std::sync::OnceLock::new();
    SCHEMAS.get_or_init(|| serde_json::from_str(SCHEMA_GRAPH_JSON).expect("schema graph built by build.rs"))
}

//! The registry: generic REST semantics over the store for every resource (get, list, create,
//! update, patch, delete, watch), plus the small per-kind strategies the schema cannot express.

pub mod allocators;
pub mod conversion;
pub mod defaults;
pub mod encoding;
pub mod managed_fields;
pub mod names;
pub mod strategy;
pub mod unknown_fields;

//! kubetwin: a Kubernetes API server that lives entirely in memory.
//!
//! The crate is organised along the path a request takes (see `DESIGN.md`): the embedded MVCC
//! [`store`] sits at the bottom, and everything above it deals in JSON objects and revisions.

pub mod store;
pub mod openapi;

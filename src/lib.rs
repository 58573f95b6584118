//! kubetwin: a Kubernetes API server that lives entirely in memory.
//!
//! The crate is organised along the path a request takes (see `DESIGN.md`): the embedded MVCC
//! [`store`] sits at the bottom, and everything above it deals in JSON objects and revisions.

pub mod store;
pub mod openapi;
pub mod error;
pub mod request_info;
pub mod pki;
pub mod discovery;
pub mod clock;
pub mod metrics;
pub mod registry;
pub mod table;
pub mod timestamp;
pub mod patch;
pub mod selectors;
pub mod http;
pub mod pipeline;
pub mod instance;
pub mod bootstrap;
pub mod server;

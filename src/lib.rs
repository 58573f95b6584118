//! kubetwin: a Kubernetes API server that lives entirely in memory.
//!
//! The crate is organised along the path a request takes (see `DESIGN.md`): the embedded MVCC
//! [`store`] sits at the bottom, and everything above it deals in JSON objects and revisions.

pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod clock;
pub mod controllers;
pub mod crds;
pub mod discovery;
pub mod error;
pub mod faults;
pub mod http;
pub mod instance;
pub mod manifests;
pub mod metrics;
pub mod openapi;
pub mod patch;
pub mod pipeline;
pub mod pki;
pub mod protobuf;
pub mod recording;
pub mod registry;
pub mod request_info;
pub mod selectors;
pub mod server;
pub mod store;
pub mod table;
pub mod timestamp;

//! The HTTP surface: TLS termination, routing, content negotiation and response encoding.

pub mod negotiate;

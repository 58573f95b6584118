//! `kubetwin-harness`: the cargo-test fixture that starts an isolated kubetwin per test.
//!
//! Nothing is exported yet; the fixture arrives once the API server serves.

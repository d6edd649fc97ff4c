//! The research harness: one ledger of every published number, the documents and figures
//! generated from it, the check that every claim names a witness that exists, and the
//! turn-tax geometry over the WebVoyager tasks, and the parity gates that hold every backend
//! and every KV edit to the determinism contract (`harness verify`).
//!
//! The binary (`harness`) is a thin front end: each subcommand parses its arguments in
//! [`cli`] and calls one module here.

pub mod authority;
pub mod capabilities;
pub mod claims;
pub mod cli;
pub mod criterion_import;
pub mod demos;
pub mod excision;
pub mod figures;
pub mod fleet;
pub mod ledger;
pub mod number;
pub mod on_backend;
pub mod readme;
pub mod spread;
pub mod throughput;
pub mod verify;
pub mod webbench;

//! One module a subcommand: read the arguments, call the library, print.

pub mod authority;
pub mod claims;
pub mod criterion;
pub mod excise;
pub mod figures;
pub mod fleet;
pub mod fused;
pub mod fuzz;
pub mod gateway;
pub mod generated;
pub mod ledger;
pub mod live;
pub mod readme;
pub mod serve_demo;
pub mod throughput;
pub mod verify;
pub mod webbench;

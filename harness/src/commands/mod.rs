//! One module a subcommand: read the arguments, call the library, print.

pub mod authority;
pub mod claims;

pub mod figures;
pub mod fleet;
pub mod ledger;
pub mod verify;
pub mod webbench;

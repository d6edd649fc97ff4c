//! The `fak` binary.

fn main() {}

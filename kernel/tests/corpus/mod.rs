//! The admission corpus, shared by the corpus test and the admission bench.

pub mod benign;
pub mod payloads;

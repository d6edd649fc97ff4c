//! The KV cache as a kernel object (DESIGN.md §3).
//!
//! A [`KvStore`] owns one paged [`BlockPool`] per model and backend: fixed blocks of
//! [`KV_BLOCK_TOKENS`](fak_backends::KV_BLOCK_TOKENS) token rows in every layer, each full
//! block named by the hash of (model fingerprint, parent block hash, its tokens and
//! positions). A [`Session`] is a list of those blocks plus a [`SpanTable`] saying where its
//! tokens came from and how far they are trusted.
//!
//! - Sessions that share a prefix share its blocks: [`Session::fork`] copies no row, and
//!   [`Session::append`] adopts any full block the pool already holds for the same prefix.
//!   A block another holder still reads is never written: the partial tail is copied first.
//! - [`Session::excise`] cuts a span out: the blocks before it are kept and every token after
//!   it is computed again at its new position, so nothing that attended to the span is left.
//! - [`Session::verify`] rebuilds the session cold on the same backend and compares every KV
//!   byte and the last logits: the determinism contract makes max|Δ| exactly 0.
//! - [`Session::dump`] and [`KvStore::load`] write and read a core dump that continues
//!   exactly where the session stood, without computing anything.
//!
//! Every mutating operation is all or nothing: a refusal (pool exhausted, a reader holding
//! the session, a bad span) leaves the session as it was.

mod block_hash;
mod cache_view;
mod dump;
mod error;
mod pool;
mod session;
mod span;
mod store;
mod verify;

pub use block_hash::BlockHash;
pub use error::KvError;
pub use pool::{BlockPool, PoolStats};
pub use session::{EditStats, ReadLease, Session};
pub use span::{Span, SpanId, SpanKind, SpanMeta, SpanTable, SpanTrust};
pub use store::KvStore;
pub use verify::VerifyReport;

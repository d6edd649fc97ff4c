//! fak-kernel: the governance kernel between an AI agent and its tools.
//!
//! Every tool call passes one door, [`Kernel::syscall`], in this order:
//!
//! 1. **repair** ([`repair`]): invalid JSON, aliased parameter names, positional
//!    arguments and wrong types are fixed against the tool's schema; what cannot be fixed
//!    is `MALFORMED` or `MISROUTE`.
//! 2. **decide** ([`decide`]): every policy rung looks at the call and the fold picks the
//!    most restrictive verdict (ALLOW < TRANSFORM < HOLD < DENY); an empty fold and any
//!    internal error deny.
//! 3. **vDSO** ([`vdso`]): a repeated read-only, idempotent call the policy allowed is
//!    answered locally, keyed by tool, canonical arguments, world and policy epoch.
//! 4. **dispatch** through a [`tools::ToolRegistry`].
//! 5. **admission** ([`admission`]): the result is screened before the model may read it
//!    (quarantine, page-out, taint).
//! 6. **audit** ([`audit`]): each decision and admission is a hash-chained journal line,
//!    written durably before the kernel acts on it.
//!
//! [`Kernel::decide`] and [`Kernel::admit`] also work on their own, for a gateway that
//! sees calls and results but does not dispatch. Nothing here depends on a model.
//!
//! # Refusal codes
//!
//! | code | name | disposition | meaning |
//! |---|---|---|---|
//! | 1 | `DEFAULT_DENY` | terminal | no rule allows the tool |
//! | 2 | `POLICY_BLOCK` | terminal | a `deny` entry, an argument outside its globs, a `deny_regex` match, a `..` escape |
//! | 3 | `SELF_MODIFY` | terminal | the call would touch the policy file, the journal or kernel config |
//! | 4 | `TRUST_VIOLATION` | escalate | a tainted trace calling a sink, or an injection in a result |
//! | 5 | `MALFORMED` | retry | arguments that cannot be repaired into a valid call |
//! | 6 | `MISROUTE` | retry | arguments naming parameters the tool does not have |
//! | 7 | `RATE_LIMITED` | wait | a rate limit is exhausted (retry-after attached) |
//! | 8 | `SECRET_EXFIL` | escalate | a credential in a result or in egress arguments |
//! | 9 | `UNWITNESSED` | escalate | no valid confirm token, page-in clearance or journal record |
//! | 10 | `OVERSIZE` | retry | an argument over `max_bytes`, a result too large or a flood |
//! | 11 | `UNKNOWN_TOOL` | retry | the registry has no such tool |
//! | 12 | `EGRESS_BLOCK` | terminal | an egress sink aimed at a host outside `egress_hosts` |
//! | 13 | `INTERNAL` | escalate | the kernel failed internally and denied |
//!
//! # What detection can and cannot do
//!
//! The injection detector is the evadable part: it reads normalized text for known shapes
//! of instructions, and an attacker can write one it does not know. The floor does not
//! depend on it: default-deny policy, sinks refused to tainted traces, quarantine stubs
//! that carry no byte of the original, and page-out of large results.

pub mod admission;
pub mod args;
pub mod audit;
pub mod canonical;
pub mod clock;
pub mod counters;
pub mod decide;
pub mod kernel;
pub mod kv;
pub mod policy;
pub mod refusal;
pub mod repair;
pub mod scenario;
pub mod syscall;
pub mod taint;
pub mod tools;
pub mod vdso;
pub mod verdict;

pub use admission::{Admission, ModelView, Trust};
pub use audit::Journal;
pub use clock::{Clock, ManualClock, SystemClock};
pub use counters::CountersSnapshot;
pub use decide::{Decision, Rung};
pub use kernel::{Clearance, Kernel, KernelBuilder, Observer};
pub use policy::{Policy, PolicyError};
pub use refusal::{Disposition, Refusal, RefusalCode};
pub use syscall::{Reply, SyscallOutcome};
pub use tools::{
    InMemoryRegistry, RawArgs, RawCall, SinkKind, ToolCall, ToolDescriptor, ToolError, ToolRegistry,
};
pub use verdict::Verdict;

//! The kernel object: policy, per-trace state, caches, store, journal and counters, shared
//! by every thread that decides, admits or runs a call.
//!
//! `decide` and `admit` stand on their own (a gateway decides calls it does not
//! dispatch and screens results it did not fetch); `syscall` (in `syscall.rs`) chains them
//! with repair, the vDSO and dispatch.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::admission::page_store::{MemoryPageStore, PageStore};
use crate::admission::{self, Admission, ModelView, ScreenLimits, ScreenVerdict, Trust};
use crate::audit::{AuditRecord, EventKind, Journal};
use crate::canonical::{canonical_json, sha256_hex};
use crate::clock::{Clock, SystemClock};
use crate::counters::{Count, Counters, CountersSnapshot};
use crate::decide::{self, DecideContext, DecideInput, Decision, ProtectedPaths};
use crate::policy::Policy;
use crate::policy::confirm::ConfirmBook;
use crate::policy::rate_limit::RateLimiter;
use crate::refusal::{Refusal, RefusalCode};
use crate::taint::TaintTable;
use crate::tools::{ToolCall, ToolDescriptor};
use crate::vdso::Vdso;
use crate::verdict::Verdict;

/// Receives every journal record as it is written: the kernel's event stream.
pub trait Observer: Send + Sync {
    fn observe(&self, record: &AuditRecord);
}

/// The host's explicit permission to bring a paged-out result back into a context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clearance {
    /// Who or what granted it (recorded nowhere but the caller's own logs).
    pub granted_by: String,
}

/// Builds a [`Kernel`].
pub struct KernelBuilder {
    policy: Policy,
    journal: Journal,
    pages: Arc<dyn PageStore>,
    clock: Arc<dyn Clock>,
    config_paths: Vec<PathBuf>,
    observers: Vec<Arc<dyn Observer>>,
}

impl std::fmt::Debug for KernelBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelBuilder")
            .field("policy", &self.policy.name())
            .finish_non_exhaustive()
    }
}

impl KernelBuilder {
    /// Where the journal goes (default: nowhere, only the head hash is kept).
    pub fn journal(mut self, journal: Journal) -> KernelBuilder {
        self.journal = journal;
        self
    }

    /// Where paged-out results go (default: memory).
    pub fn pages(mut self, pages: Arc<dyn PageStore>) -> KernelBuilder {
        self.pages = pages;
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> KernelBuilder {
        self.clock = clock;
        self
    }

    /// A kernel config file that no tool may write (the policy file and the journal are
    /// protected without being named here).
    pub fn protect(mut self, path: &Path) -> KernelBuilder {
        self.config_paths.push(path.to_path_buf());
        self
    }

    pub fn observer(mut self, observer: Arc<dyn Observer>) -> KernelBuilder {
        self.observers.push(observer);
        self
    }

    pub fn build(self) -> Kernel {
        let protected = protected_paths(&self.policy, &self.journal, &self.config_paths);
        Kernel {
            policy: RwLock::new(Arc::new(self.policy)),
            policy_epoch: AtomicU64::new(0),
            world_epoch: AtomicU64::new(0),
            protected: RwLock::new(protected),
            config_paths: self.config_paths,
            rate: RateLimiter::default(),
            confirm: ConfirmBook::default(),
            taint: TaintTable::default(),
            vdso: Vdso::default(),
            pages: self.pages,
            page_sources: RwLock::new(HashMap::new()),
            journal: self.journal,
            counters: Counters::default(),
            clock: self.clock,
            observers: self.observers,
            next_quarantine: AtomicU64::new(1),
        }
    }
}

fn protected_paths(policy: &Policy, journal: &Journal, config: &[PathBuf]) -> ProtectedPaths {
    let mut p = ProtectedPaths::default();
    policy.origin().into_iter().for_each(|o| p.add(o));
    journal.path().iter().for_each(|j| p.add(j));
    config.iter().for_each(|c| p.add(c));
    p
}

/// The governance kernel. `Send + Sync`: share it behind an `Arc`.
pub struct Kernel {
    policy: RwLock<Arc<Policy>>,
    policy_epoch: AtomicU64,
    world_epoch: AtomicU64,
    protected: RwLock<ProtectedPaths>,
    config_paths: Vec<PathBuf>,
    rate: RateLimiter,
    confirm: ConfirmBook,
    taint: TaintTable,
    pub(crate) vdso: Vdso,
    pages: Arc<dyn PageStore>,
    /// Which tool and trust each page came from, for re-screening and taint at page-in.
    page_sources: RwLock<HashMap<String, (String, Trust)>>,
    journal: Journal,
    pub(crate) counters: Counters,
    clock: Arc<dyn Clock>,
    observers: Vec<Arc<dyn Observer>>,
    next_quarantine: AtomicU64,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("policy", &self.policy().name().to_string())
            .field("policy_epoch", &self.policy_epoch())
            .field("world_epoch", &self.world_epoch())
            .finish_non_exhaustive()
    }
}

impl Kernel {
    pub fn builder(policy: Policy) -> KernelBuilder {
        KernelBuilder {
            policy,
            journal: Journal::discard(),
            pages: Arc::new(MemoryPageStore::default()),
            clock: Arc::new(SystemClock),
            config_paths: Vec::new(),
            observers: Vec::new(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        match self.policy.read() {
            Ok(p) => Arc::clone(&p),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the policy; every vDSO answer given under the old one becomes unreachable.
    pub fn reload_policy(&self, policy: Policy) {
        let protected = protected_paths(&policy, &self.journal, &self.config_paths);
        {
            let mut slot = self.policy.write().unwrap_or_else(|e| e.into_inner());
            *slot = Arc::new(policy);
            *self.protected.write().unwrap_or_else(|e| e.into_inner()) = protected;
            self.policy_epoch.fetch_add(1, Ordering::SeqCst);
        }
        self.vdso
            .retain_epochs(self.world_epoch(), self.policy_epoch());
    }

    pub fn policy_epoch(&self) -> u64 {
        self.policy_epoch.load(Ordering::SeqCst)
    }

    pub fn world_epoch(&self) -> u64 {
        self.world_epoch.load(Ordering::SeqCst)
    }

    /// Records that the world changed (a write the kernel did not dispatch itself): no
    /// earlier vDSO answer is served again.
    pub fn advance_world(&self) {
        let world = self.world_epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.vdso.retain_epochs(world, self.policy_epoch());
    }

    pub fn counters(&self) -> CountersSnapshot {
        self.counters.snapshot()
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Untrusted sources that have tainted `trace`.
    pub fn taint_of(&self, trace: &str) -> std::collections::BTreeSet<String> {
        self.taint.sources(trace)
    }

    /// Forgets a finished trace's taint. Only for traces that will not be used again.
    pub fn end_trace(&self, trace: &str) {
        self.taint.forget(trace);
    }

    /// Journals and counts a call refused before decide (one the repair ladder could not
    /// make valid), as `syscall` does, for a caller that repairs calls itself.
    pub fn refuse_unrepaired(&self, trace: &str, tool: &str, refusal: Refusal) -> Decision {
        let call = ToolCall::new(tool, serde_json::Value::Null);
        self.settle_decision(trace, &call, Decision::refused(refusal))
    }

    /// Decides one repaired call, journals the decision before returning it, and counts it.
    /// A panic inside the rungs or a journal that cannot be written denies the call.
    pub fn decide(
        &self,
        trace: &str,
        call: &ToolCall,
        descriptor: Option<&ToolDescriptor>,
        confirm_token: Option<&str>,
    ) -> Decision {
        let policy = self.policy();
        let taint = self.taint.sources(trace);
        let now_ms = self.clock.now_ms();
        let decision = {
            let protected = self.protected.read().unwrap_or_else(|e| e.into_inner());
            let ctx = DecideContext {
                policy: &policy,
                protected: &protected,
                taint: &taint,
                rate: &self.rate,
                confirm: &self.confirm,
                now_ms,
            };
            let input = DecideInput {
                trace,
                call,
                descriptor,
                confirm_token,
            };
            catch_unwind(AssertUnwindSafe(|| decide::decide(&ctx, input))).unwrap_or_else(|_| {
                Decision::refused(Refusal::new(RefusalCode::Internal, "decide failed"))
            })
        };
        self.settle_decision(trace, call, decision)
    }

    /// Journals and counts a decision; a journal failure turns it into UNWITNESSED.
    pub(crate) fn settle_decision(
        &self,
        trace: &str,
        call: &ToolCall,
        mut decision: Decision,
    ) -> Decision {
        let args = canonical_json(&call.args);
        let entry = self.entry(trace, EventKind::Decision, &call.tool, &decision.verdict);
        let entry = AuditRecord {
            args_sha256: Some(sha256_hex(args.as_bytes())),
            args_bytes: Some(args.len() as u64),
            ..entry
        };
        if self.record(entry).is_err() {
            decision.verdict = Verdict::Deny(Refusal::new(
                RefusalCode::Unwitnessed,
                "the decision could not be journaled",
            ));
        }
        self.counters.bump(Count::Decided);
        match &decision.verdict {
            Verdict::Allow => self.counters.bump(Count::Allowed),
            Verdict::Transform(_) => self.counters.bump(Count::Transformed),
            Verdict::Hold(_) => self.counters.bump(Count::Held),
            Verdict::Deny(r) => {
                self.counters.bump(Count::Denied);
                self.counters.bump_code(r.code);
            }
        }
        decision
    }

    fn entry(&self, trace: &str, event: EventKind, tool: &str, verdict: &Verdict) -> AuditRecord {
        AuditRecord {
            ts_ms: self.clock.now_ms(),
            trace: trace.to_string(),
            event,
            tool: tool.to_string(),
            outcome: verdict.name().to_string(),
            code: verdict.refusal().map(|r| r.code.name().to_string()),
            args_sha256: None,
            args_bytes: None,
            result_sha256: None,
            result_bytes: None,
            policy_epoch: self.policy_epoch(),
            world_epoch: self.world_epoch(),
            ..AuditRecord::default()
        }
    }

    pub(crate) fn record(&self, entry: AuditRecord) -> Result<(), crate::audit::AuditError> {
        let record = self.journal.append(entry)?;
        for o in &self.observers {
            o.observe(&record);
        }
        Ok(())
    }

    fn screen_limits(policy: &Policy) -> ScreenLimits {
        ScreenLimits {
            max_result_bytes: policy.max_result_bytes(),
            page_out_bytes: policy.page_out_bytes(),
        }
    }

    /// Screens one tool result for `trace`. `trust` overrides the policy's
    /// `untrusted_sources` for this result; an untrusted result taints the trace whatever
    /// the detectors find.
    pub fn admit(&self, trace: &str, tool: &str, trust: Option<Trust>, text: &str) -> Admission {
        let policy = self.policy();
        let trust = trust.unwrap_or(if policy.flow().is_untrusted_source(tool) {
            Trust::Untrusted
        } else {
            Trust::Trusted
        });
        let screening = admission::screen(text, Kernel::screen_limits(&policy), true);
        let view = match &screening.verdict {
            ScreenVerdict::Admit => ModelView::Text {
                text: text.to_string(),
            },
            ScreenVerdict::PageOut => match self.pages.put(text.as_bytes()) {
                Ok(sha256) => {
                    self.page_sources
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(sha256.clone(), (tool.to_string(), trust));
                    ModelView::Page {
                        sha256,
                        bytes: text.len(),
                        preview: admission::preview(text),
                    }
                }
                Err(_) => self.stub(RefusalCode::Internal, text.len()),
            },
            ScreenVerdict::Quarantine { refusal } => self.stub(refusal.code, text.len()),
        };
        self.settle_admission(
            trace,
            EventKind::Admission,
            tool,
            trust,
            screening,
            view,
            text,
        )
    }

    fn stub(&self, code: RefusalCode, bytes: usize) -> ModelView {
        ModelView::Quarantined {
            id: format!("q{}", self.next_quarantine.fetch_add(1, Ordering::Relaxed)),
            code,
            bytes,
        }
    }

    /// Taints, journals and counts an admission; a journal failure quarantines it.
    #[allow(clippy::too_many_arguments)]
    fn settle_admission(
        &self,
        trace: &str,
        event: EventKind,
        tool: &str,
        trust: Trust,
        screening: admission::Screening,
        mut view: ModelView,
        text: &str,
    ) -> Admission {
        if trust == Trust::Untrusted {
            self.taint.taint(trace, tool);
        }
        let (outcome, code) = match &view {
            ModelView::Text { .. } => ("ADMIT", None),
            ModelView::Page { .. } => ("PAGE_OUT", None),
            ModelView::Quarantined { code, .. } => ("QUARANTINE", Some(code.name().to_string())),
        };
        let entry = AuditRecord {
            outcome: outcome.to_string(),
            code,
            result_sha256: Some(sha256_hex(text.as_bytes())),
            result_bytes: Some(text.len() as u64),
            ..self.entry(trace, event, tool, &Verdict::Allow)
        };
        if self.record(entry).is_err() {
            view = self.stub(RefusalCode::Unwitnessed, text.len());
        }
        match &view {
            ModelView::Text { .. } => self.counters.bump(Count::Admitted),
            ModelView::Page { .. } => self.counters.bump(Count::PagedOut),
            ModelView::Quarantined { code, .. } => {
                self.counters.bump(Count::Quarantined);
                self.counters.bump_code(*code);
            }
        }
        Admission {
            tool: tool.to_string(),
            trust,
            screening,
            view,
        }
    }

    /// Journals and counts a vDSO answer, and taints the trace if its source is untrusted.
    pub(crate) fn settle_vdso_hit(&self, trace: &str, answer: &Admission) -> Result<(), Refusal> {
        if answer.trust == Trust::Untrusted {
            self.taint.taint(trace, &answer.tool);
        }
        let entry = AuditRecord {
            outcome: "SERVED".to_string(),
            result_bytes: Some(answer.screening.bytes as u64),
            ..self.entry(trace, EventKind::VdsoHit, &answer.tool, &Verdict::Allow)
        };
        self.record(entry).map_err(|_| {
            Refusal::new(
                RefusalCode::Unwitnessed,
                "the local answer could not be journaled",
            )
        })?;
        self.counters.bump(Count::ServedLocally);
        Ok(())
    }

    /// Brings a paged-out result back, re-screened in full (it is not paged out again).
    /// Needs the host's explicit clearance; a page whose bytes no longer match its digest
    /// is refused.
    pub fn page_in(
        &self,
        trace: &str,
        sha256: &str,
        clearance: Option<&Clearance>,
    ) -> Result<Admission, Refusal> {
        let Some(_clearance) = clearance else {
            return Err(Refusal::new(
                RefusalCode::Unwitnessed,
                "page-in needs an explicit clearance",
            ));
        };
        let bytes = self
            .pages
            .get(sha256)
            .map_err(|e| Refusal::new(RefusalCode::Malformed, e.to_string()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Refusal::new(RefusalCode::Malformed, "page is not UTF-8 text"))?;
        // A page with no recorded source (from an earlier run) is treated as untrusted.
        let (tool, trust) = self
            .page_sources
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(sha256)
            .cloned()
            .unwrap_or_else(|| ("page".to_string(), Trust::Untrusted));
        let policy = self.policy();
        let screening = admission::screen(&text, Kernel::screen_limits(&policy), false);
        let view = match &screening.verdict {
            ScreenVerdict::Quarantine { refusal } => self.stub(refusal.code, text.len()),
            _ => ModelView::Text { text: text.clone() },
        };
        Ok(self.settle_admission(
            trace,
            EventKind::PageIn,
            &tool,
            trust,
            screening,
            view,
            &text,
        ))
    }
}

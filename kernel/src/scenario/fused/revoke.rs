//! A late verdict: a result that was admitted into the session is revoked afterwards (a
//! document withdrawn, a detector that caught up), so its span is marked quarantined and
//! excised, and the session is checked against a cold rebuild that never saw it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use fak_backends::Backend;
use serde::Serialize;

use super::session::result_messages;
use super::{FusedError, FusedSession};
use crate::kv::Span;
use crate::scenario::arm::{ArmRun, Outcome};

/// The call whose result a verdict revokes: the first call to the tool whose result
/// entered the session as itself (dispatched, or answered by the vDSO). Finding it needs
/// no model, so a caller can refuse a revocation with nothing to cut before loading one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokeTarget {
    tool: String,
    /// Index into the arm's calls.
    call: usize,
}

impl RevokeTarget {
    /// Finds what revoking `tool` would cut. A tool never called, or whose every result
    /// was quarantined, refused or failed, has nothing in the session to revoke.
    pub fn find(arm: &ArmRun, tool: &str) -> Result<RevokeTarget, FusedError> {
        let entered = |o: Outcome| matches!(o, Outcome::Dispatched | Outcome::ServedLocally);
        if let Some(call) = arm
            .calls
            .iter()
            .position(|c| c.tool == tool && entered(c.outcome))
        {
            return Ok(RevokeTarget {
                tool: tool.to_string(),
                call,
            });
        }
        let calls: Vec<String> = arm
            .calls
            .iter()
            .filter(|c| c.tool == tool)
            .map(|c| {
                let outcome = serde_json::to_value(c.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                match &c.code {
                    Some(code) => format!("turn {}: {outcome} ({code})", c.turn),
                    None => format!("turn {}: {outcome}", c.turn),
                }
            })
            .collect();
        if calls.is_empty() {
            let called: BTreeSet<&str> = arm.calls.iter().map(|c| c.tool.as_str()).collect();
            return Err(FusedError::NoSuchCall {
                tool: tool.to_string(),
                called: called.into_iter().collect::<Vec<_>>().join(", "),
            });
        }
        Err(FusedError::NothingAdmitted {
            tool: tool.to_string(),
            what: calls.join("; "),
        })
    }
}

/// What the revocation cut and what it cost, against a cold rebuild of the result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Revocation {
    pub tool: String,
    pub turn: u32,
    /// The span as the verdict left it (trust `quarantined`) before it was cut.
    pub span: Span,
    /// Positions before the cut.
    pub tokens_before: usize,
    /// Positions the excision computed: every one after the span, at its new place.
    pub recomputed: usize,
    /// Positions kept as they were: every one before the span.
    pub kept: usize,
    /// Positions a cold rebuild of the session computes: all of them.
    pub cold_rebuild_tokens: usize,
    pub excise_ms: f64,
    /// A cold prefill of the edited tokens in a private cache, and the byte compare.
    pub cold_rebuild_and_compare_ms: f64,
    /// K and V values compared, over every layer and position.
    pub kv_values: usize,
    pub kv_differing: usize,
    pub max_abs_delta_kv: f64,
    pub logits_differing: usize,
    pub max_abs_delta_logits: f64,
    /// Every KV byte and logit bit equal to the cold rebuild's.
    pub exact: bool,
    /// Whether the planted sentence can still be read in the session (null when the task
    /// plants none).
    pub injection_in_session: Option<bool>,
}

impl<B: Backend> FusedSession<'_, B> {
    /// Revokes the result [`RevokeTarget::find`] picks for `tool`: marks its span
    /// quarantined, excises it, and verifies the session against a cold rebuild.
    pub fn revoke(&mut self, tool: &str) -> Result<Revocation, FusedError> {
        let target = RevokeTarget::find(self.arm, tool)?;
        let message = result_messages(self.arm)[target.call];
        let call = &self.arm.calls[target.call];
        let id = *self.spans_of[message]
            .first()
            .ok_or_else(|| FusedError::NotFed {
                tool: target.tool.clone(),
                turn: call.turn,
                context: self.session.store().model().context(),
            })?;
        let span = self.session.quarantine(id)?.clone();
        let tokens_before = self.session.len();
        let started = Instant::now();
        let edit = self.session.excise(id)?;
        let excise_time = started.elapsed();
        self.spans_of[message].retain(|&s| s != id);
        let started = Instant::now();
        let check = self.session.verify()?;
        let cold_time = started.elapsed();
        Ok(Revocation {
            tool: target.tool.clone(),
            turn: call.turn,
            span,
            tokens_before,
            recomputed: edit.computed,
            kept: edit.reused,
            cold_rebuild_tokens: check.tokens,
            excise_ms: ms(excise_time),
            cold_rebuild_and_compare_ms: ms(cold_time),
            kv_values: check.kv_values,
            kv_differing: check.kv_differing,
            max_abs_delta_kv: check.max_abs_delta_kv,
            logits_differing: check.logits_differing,
            max_abs_delta_logits: check.max_abs_delta_logits,
            exact: check.exact(),
            injection_in_session: self.injection_in_session()?,
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

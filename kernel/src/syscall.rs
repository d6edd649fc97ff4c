//! The one door: every tool call a model makes passes `Kernel::syscall`, whose steps run
//! in the order of DESIGN §4 and can be read top to bottom in one function.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;
use serde_json::Value;

use crate::admission::{Admission, ModelView};
use crate::canonical::{canonical_json, sha256_hex};
use crate::counters::Count;
use crate::decide::Decision;
use crate::kernel::Kernel;
use crate::refusal::{Refusal, RefusalCode};
use crate::repair::{RepairStep, repair};
use crate::tools::{RawCall, ToolCall, ToolError, ToolRegistry};
use crate::vdso::VdsoKey;
use crate::verdict::{Hold, Verdict};

/// What the model gets back from a call.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Refused before dispatch (by repair, the policy, or a failed journal write).
    Refused { refusal: Refusal },
    /// Held for confirmation: re-send the same call with the token.
    Held { hold: Hold },
    /// A result, screened. `local` when the vDSO answered; `tool_error` when the tool
    /// failed (its message is screened like any result).
    Served {
        admission: Admission,
        local: bool,
        tool_error: bool,
    },
}

/// Everything the kernel did with one call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyscallOutcome {
    pub tool: String,
    pub repairs: Vec<RepairStep>,
    /// Absent when the call was refused before decide (unknown tool, unrepairable).
    pub decision: Option<Decision>,
    pub reply: Reply,
}

impl SyscallOutcome {
    /// The value handed to the model: the result text, a refusal, a hold or a stub.
    pub fn to_model_value(&self) -> Value {
        match &self.reply {
            Reply::Refused { refusal } => refusal.to_model_value(),
            Reply::Held { hold } => serde_json::json!({
                "held": "CONFIRM",
                "confirm_token": hold.token,
                "preview": hold.preview,
                "expires_at_ms": hold.expires_at_ms,
            }),
            Reply::Served {
                admission,
                tool_error,
                ..
            } => {
                let text = admission.view.to_model_text();
                if *tool_error {
                    serde_json::json!({ "tool_error": text })
                } else {
                    Value::String(text)
                }
            }
        }
    }

    /// The refusal or quarantine code, if the call did not pass cleanly.
    pub fn code(&self) -> Option<RefusalCode> {
        match &self.reply {
            Reply::Refused { refusal } => Some(refusal.code),
            Reply::Held { .. } => None,
            Reply::Served { admission, .. } => match admission.view {
                ModelView::Quarantined { code, .. } => Some(code),
                _ => None,
            },
        }
    }
}

impl Kernel {
    /// Runs one call: repair -> decide -> vDSO -> dispatch -> admission, journaling as it
    /// goes (each decision before anything acts on it).
    pub fn syscall(
        &self,
        registry: &dyn ToolRegistry,
        trace: &str,
        raw: &RawCall,
        confirm_token: Option<&str>,
    ) -> SyscallOutcome {
        // 1. Repair: a call the registry does not know, or that cannot be made valid, is
        //    refused here, and the refusal is decided (journaled and counted) like any other.
        let descriptor = registry.descriptor(&raw.tool);
        let repaired = match descriptor {
            None => Err(Refusal::new(
                RefusalCode::UnknownTool,
                format!("tool \"{}\" is not registered", raw.tool),
            )),
            Some(d) => repair(raw, Some(d)),
        };
        let (call, repairs) = match repaired {
            Ok(r) => (r.call, r.steps),
            Err(refusal) => {
                let call = ToolCall::new(raw.tool.clone(), Value::Null);
                let decision = self.settle_decision(trace, &call, Decision::refused(refusal));
                return refused(raw.tool.clone(), Vec::new(), None, &decision.verdict);
            }
        };
        if !repairs.is_empty() {
            self.counters.bump(Count::Repaired);
        }

        // 2. Decide.
        let decision = self.decide(trace, &call, descriptor, confirm_token);
        let call = match &decision.verdict {
            Verdict::Allow => call,
            Verdict::Transform(t) => ToolCall::new(call.tool.clone(), t.apply(&call.args)),
            Verdict::Hold(hold) => {
                let hold = hold.clone();
                return SyscallOutcome {
                    tool: call.tool,
                    repairs,
                    decision: Some(decision),
                    reply: Reply::Held { hold },
                };
            }
            Verdict::Deny(_) => {
                let verdict = decision.verdict.clone();
                return refused(call.tool, repairs, Some(decision), &verdict);
            }
        };

        // 3. vDSO: after the policy, only for read-only idempotent tools.
        let cacheable = descriptor.is_some_and(|d| d.read_only && d.idempotent);
        let policy = self.policy();
        let key = VdsoKey {
            tool: call.tool.clone(),
            args_sha256: sha256_hex(canonical_json(&call.args).as_bytes()),
            world_epoch: self.world_epoch(),
            policy_epoch: self.policy_epoch(),
        };
        if cacheable && let Some(answer) = self.vdso.get(&key, self.now_ms(), policy.vdso_ttl_ms())
        {
            let reply = match self.settle_vdso_hit(trace, &answer) {
                Ok(()) => Reply::Served {
                    admission: answer,
                    local: true,
                    tool_error: false,
                },
                Err(refusal) => Reply::Refused { refusal },
            };
            return SyscallOutcome {
                tool: call.tool,
                repairs,
                decision: Some(decision),
                reply,
            };
        }

        // 4. Dispatch. A write-shaped call advances the world epoch once it has run.
        let result = catch_unwind(AssertUnwindSafe(|| registry.dispatch(&call)))
            .unwrap_or_else(|_| Err(ToolError("the tool panicked".to_string())));
        self.counters.bump(Count::Dispatched);
        if !descriptor.is_some_and(|d| d.read_only) {
            self.advance_world();
        }
        let (text, tool_error) = match result {
            Ok(text) => (text, false),
            Err(ToolError(message)) => (message, true),
        };

        // 5. Admission (journaled inside), then remember a clean read for the vDSO.
        let admission = self.admit(trace, &call.tool, None, &text);
        if cacheable && !tool_error && !admission.is_quarantined() {
            self.vdso.put(
                key,
                admission.clone(),
                self.now_ms(),
                policy.vdso_max_entries(),
            );
        }
        SyscallOutcome {
            tool: call.tool,
            repairs,
            decision: Some(decision),
            reply: Reply::Served {
                admission,
                local: false,
                tool_error,
            },
        }
    }
}

/// The outcome of a call refused by repair (no decision) or by decide.
fn refused(
    tool: String,
    repairs: Vec<RepairStep>,
    decision: Option<Decision>,
    verdict: &Verdict,
) -> SyscallOutcome {
    let refusal = verdict
        .refusal()
        .cloned()
        .unwrap_or_else(|| Refusal::new(RefusalCode::Internal, "refusal without a code"));
    SyscallOutcome {
        tool,
        repairs,
        decision,
        reply: Reply::Refused { refusal },
    }
}

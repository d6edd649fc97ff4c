//! Decide: every rung of the policy looks at one call; the fold picks the verdict.
//!
//! Stateless rungs run first (tool name, self-modification, arguments, egress, taint,
//! redaction). The stateful rungs (rate limit, confirmation) run only when the stateless
//! fold would let the call through, so a refused call spends no rate-limit token and no
//! confirm token is issued for a call that cannot pass anyway.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use url::Url;

use crate::admission::secrets::find_secret;
use crate::args;
use crate::canonical::canonical_json;
use crate::policy::confirm::{ConfirmBook, ConfirmCheck};
use crate::policy::paths;
use crate::policy::rate_limit::RateLimiter;
use crate::policy::{NameRule, Policy};
use crate::refusal::{Refusal, RefusalCode};
use crate::tools::{SinkKind, ToolCall, ToolDescriptor};
use crate::verdict::{Transform, Verdict, fold};

/// Longest string argument treated as a possible path by the self-modification rung.
const MAX_PATH_BYTES: usize = 4096;

/// The rungs, in the order they are evaluated and reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rung {
    ToolName,
    SelfModify,
    Arguments,
    Egress,
    Taint,
    Redact,
    RateLimit,
    Confirm,
}

/// What one rung said.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RungOutcome {
    /// No objection.
    Pass,
    /// Not evaluated: an earlier rung already denied the call.
    Skipped,
    Verdict {
        verdict: Verdict,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RungReport {
    pub rung: Rung,
    #[serde(flatten)]
    pub outcome: RungOutcome,
}

/// A verdict and the rungs that produced it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub rungs: Vec<RungReport>,
}

impl Decision {
    /// The first rung whose verdict is the final one (the rung that won the fold).
    pub fn winner(&self) -> Option<Rung> {
        self.rungs.iter().find_map(|r| match &r.outcome {
            RungOutcome::Verdict { verdict } if verdict.name() == self.verdict.name() => {
                match (verdict, &self.verdict) {
                    (Verdict::Deny(a), Verdict::Deny(b)) if a != b => None,
                    _ => Some(r.rung),
                }
            }
            _ => None,
        })
    }

    /// A decision made without consulting the rungs (an internal failure, a repair that
    /// could not produce a call).
    pub fn refused(refusal: Refusal) -> Decision {
        Decision {
            verdict: Verdict::Deny(refusal),
            rungs: Vec::new(),
        }
    }
}

/// Paths no write-shaped tool may touch: the policy file, the audit journal, the kernel's
/// config, plus the policy's `protect` globs.
#[derive(Clone, Debug, Default)]
pub struct ProtectedPaths {
    files: Vec<PathBuf>,
}

impl ProtectedPaths {
    /// Adds a file (resolved through symlinks, so a link to it is caught too).
    pub fn add(&mut self, path: &Path) {
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(path))
                .unwrap_or_else(|_| path.to_path_buf())
        };
        let resolved = paths::resolve_existing_prefix(&absolute);
        if !self.files.contains(&resolved) {
            self.files.push(resolved);
        }
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

/// Everything decide reads besides the call.
#[derive(Debug)]
pub struct DecideContext<'a> {
    pub policy: &'a Policy,
    pub protected: &'a ProtectedPaths,
    /// Untrusted sources that have tainted this trace.
    pub taint: &'a BTreeSet<String>,
    pub rate: &'a RateLimiter,
    pub confirm: &'a ConfirmBook,
    pub now_ms: u64,
}

/// One call as decide sees it.
#[derive(Clone, Copy, Debug)]
pub struct DecideInput<'a> {
    pub trace: &'a str,
    pub call: &'a ToolCall,
    /// The tool's own declaration, if the caller has one. Without it the tool is taken
    /// to be write-shaped (fail closed).
    pub descriptor: Option<&'a ToolDescriptor>,
    pub confirm_token: Option<&'a str>,
}

/// Runs every rung and folds them.
pub fn decide(ctx: &DecideContext<'_>, input: DecideInput<'_>) -> Decision {
    let call = input.call;
    let sinks = ctx.policy.flow().sinks_of(&call.tool, input.descriptor);
    let stateless = [
        (Rung::ToolName, tool_name(ctx.policy, &call.tool)),
        (Rung::SelfModify, self_modify(ctx, input)),
        (Rung::Arguments, arguments(ctx.policy, call)),
        (Rung::Egress, egress(ctx.policy, call, &sinks)),
        (Rung::Taint, taint(ctx, &call.tool, &sinks)),
        (Rung::Redact, redact(ctx.policy, call)),
    ];
    let mut rungs: Vec<RungReport> = stateless
        .into_iter()
        .map(|(rung, verdict)| report(rung, verdict))
        .collect();
    let so_far = fold(verdicts(&rungs));
    if matches!(so_far, Verdict::Deny(_)) {
        for rung in [Rung::RateLimit, Rung::Confirm] {
            rungs.push(RungReport {
                rung,
                outcome: RungOutcome::Skipped,
            });
        }
        return Decision {
            verdict: so_far,
            rungs,
        };
    }
    let rate = ctx
        .rate
        .take(&ctx.policy.rate, input.trace, &call.tool, ctx.now_ms)
        .err()
        .map(Verdict::Deny);
    let rate_denied = rate.is_some();
    rungs.push(report(Rung::RateLimit, rate));
    if rate_denied {
        rungs.push(RungReport {
            rung: Rung::Confirm,
            outcome: RungOutcome::Skipped,
        });
    } else {
        rungs.push(report(Rung::Confirm, confirm(ctx, input)));
    }
    Decision {
        verdict: fold(verdicts(&rungs)),
        rungs,
    }
}

fn report(rung: Rung, verdict: Option<Verdict>) -> RungReport {
    RungReport {
        rung,
        outcome: match verdict {
            Some(verdict) => RungOutcome::Verdict { verdict },
            None => RungOutcome::Pass,
        },
    }
}

fn verdicts(rungs: &[RungReport]) -> impl Iterator<Item = Verdict> + '_ {
    rungs.iter().filter_map(|r| match &r.outcome {
        RungOutcome::Verdict { verdict } => Some(verdict.clone()),
        _ => None,
    })
}

fn deny_all(refusals: Vec<Refusal>) -> Option<Verdict> {
    if refusals.is_empty() {
        None
    } else {
        Some(fold(refusals.into_iter().map(Verdict::Deny)))
    }
}

/// Always has an opinion: ALLOW only for a listed name, so the fold is never empty.
fn tool_name(policy: &Policy, tool: &str) -> Option<Verdict> {
    Some(match policy.name_rule(tool) {
        NameRule::Allowed => Verdict::Allow,
        NameRule::Denied(code) => Verdict::Deny(Refusal::new(code, format!("tool \"{tool}\""))),
        NameRule::Unlisted => Verdict::Deny(Refusal::new(
            RefusalCode::DefaultDeny,
            format!("tool \"{tool}\" is not allowed"),
        )),
    })
}

fn self_modify(ctx: &DecideContext<'_>, input: DecideInput<'_>) -> Option<Verdict> {
    if input.descriptor.is_some_and(|d| d.read_only) {
        return None;
    }
    check_strings(&input.call.args, |name, value, refusals| {
        if touches_protected(ctx, value) {
            refusals.push(Refusal::new(
                RefusalCode::SelfModify,
                format!("argument \"{name}\" names a protected path"),
            ));
        }
    })
}

/// Runs `check` on every string in the arguments (with its top-level argument name); a
/// walk cut short by its bounds is itself a refusal, since unseen strings went unchecked.
fn check_strings(
    args: &serde_json::Value,
    mut check: impl FnMut(&str, &str, &mut Vec<Refusal>),
) -> Option<Verdict> {
    let found = args::strings(args);
    let mut refusals = Vec::new();
    if found.truncated {
        refusals.push(Refusal::new(
            RefusalCode::Malformed,
            "arguments nest too deep or hold too many strings to check",
        ));
    }
    for (name, value) in found.strings {
        check(name, value, &mut refusals);
    }
    deny_all(refusals)
}

/// Whether a string argument names a protected file, an ancestor directory of one, or
/// contains a protected file's absolute path (as in a shell command).
fn touches_protected(ctx: &DecideContext<'_>, value: &str) -> bool {
    let files = ctx.protected.files();
    if files
        .iter()
        .any(|f| value.contains(f.to_string_lossy().as_ref()))
    {
        return true;
    }
    if value.len() > MAX_PATH_BYTES || value.contains('\n') {
        return false;
    }
    let Ok(lexical) = paths::normalize_lexical(ctx.policy.base_dir(), value) else {
        return false;
    };
    // Resolved even for a bare name: a link named "notes.txt" may point at the policy.
    let candidate = paths::resolve_existing_prefix(&lexical);
    let globs = ctx.policy.protect_globs();
    files.iter().any(|f| f.starts_with(&candidate))
        || globs.is_match(&candidate)
        || globs.is_match(candidate.join("x"))
}

fn arguments(policy: &Policy, call: &ToolCall) -> Option<Verdict> {
    let refusals = policy
        .arg_rules(&call.tool)
        .flat_map(|rule| rule.check(&call.args, policy.base_dir()))
        .collect();
    deny_all(refusals)
}

fn egress(policy: &Policy, call: &ToolCall, sinks: &BTreeSet<SinkKind>) -> Option<Verdict> {
    if !sinks.contains(&SinkKind::Egress) {
        return None;
    }
    check_strings(&call.args, |name, value, refusals| {
        if let Some(kind) = find_secret(value) {
            refusals.push(Refusal::new(
                RefusalCode::SecretExfil,
                format!("argument \"{name}\" carries a secret ({kind})"),
            ));
        }
        if let Ok(url) = Url::parse(value.trim())
            && let Some(host) = url.host_str()
            && !policy.flow().host_allowed(host)
        {
            refusals.push(Refusal::new(
                RefusalCode::EgressBlock,
                format!("argument \"{name}\" reaches host \"{host}\", not in egress_hosts"),
            ));
        }
    })
}

fn taint(ctx: &DecideContext<'_>, tool: &str, sinks: &BTreeSet<SinkKind>) -> Option<Verdict> {
    if sinks.is_empty() || ctx.taint.is_empty() {
        return None;
    }
    let flow = ctx.policy.flow();
    let blocking: Vec<&str> = ctx
        .taint
        .iter()
        .filter(|source| !flow.authorizes(source, tool))
        .map(String::as_str)
        .collect();
    if blocking.is_empty() {
        return None;
    }
    let kinds: Vec<&str> = sinks.iter().map(|k| k.name()).collect();
    Some(Verdict::Deny(Refusal::new(
        RefusalCode::TrustViolation,
        format!(
            "tool \"{tool}\" is a {} sink and the trace is tainted by {}",
            kinds.join("/"),
            blocking
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )))
}

fn redact(policy: &Policy, call: &ToolCall) -> Option<Verdict> {
    let present: BTreeSet<String> = policy
        .redact_keys(&call.tool)
        .filter(|k| args::has_key(&call.args, k))
        .map(String::from)
        .collect();
    (!present.is_empty()).then_some(Verdict::Transform(Transform { redact: present }))
}

fn confirm(ctx: &DecideContext<'_>, input: DecideInput<'_>) -> Option<Verdict> {
    let call = input.call;
    if !ctx.policy.requires_confirm(&call.tool) {
        return None;
    }
    match ctx.confirm.check(
        &call.tool,
        &canonical_json(&call.args),
        input.confirm_token,
        ctx.now_ms,
        ctx.policy.confirm_ttl_ms(),
    ) {
        ConfirmCheck::Confirmed => None,
        ConfirmCheck::Held(hold) => Some(Verdict::Hold(hold)),
        ConfirmCheck::Refused(r) => Some(Verdict::Deny(r)),
    }
}

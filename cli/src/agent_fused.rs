//! `fak agent --offline --fused`: the kernel arm's transcript fed into the in-kernel
//! model's KV cache, one span a message, and optionally a late verdict that excises an
//! admitted result.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use fak_backends::{Backend, KV_BLOCK_TOKENS};
use fak_kernel::kv::KvStore;
use fak_kernel::scenario::arm::ArmRun;
use fak_kernel::scenario::fused::{FusedReport, Rendered, Rendering, Revocation, RevokeTarget};
use fak_models::{ChatTemplate, Model, ModelConfig, Tokenizer};
use serde::Serialize;

use crate::agent::yes_no;
use crate::exit::Status;
use crate::model_dir::model_dir;

#[derive(Debug, clap::Args)]
pub struct FusedArgs {
    /// Also feed the kernel arm's transcript into the KV cache of the in-kernel model, one
    /// span a message (README, "--fused: the transcript in the model's KV cache").
    #[arg(long)]
    pub fused: bool,
    /// The model for --fused (default: the committed llama3 fixture, data/fixtures/models).
    #[arg(long, requires = "fused")]
    model: Option<PathBuf>,
    /// Where --fused runs the forward pass: cpu, or vulkan, metal or cuda where this fak was
    /// built with that feature (device 0).
    #[arg(long, default_value = "cpu", requires = "fused")]
    pub backend: String,
    /// A late verdict against TOOL's first result that entered the session: its span is
    /// marked quarantined and excised, and the session compared with a cold rebuild.
    #[arg(long, value_name = "TOOL", requires = "fused")]
    revoke: Option<String>,
}

/// The `fused` member of the `--json` object.
#[derive(Debug, Serialize)]
pub struct Output {
    pub model: String,
    pub backend: String,
    pub device: String,
    #[serde(flatten)]
    pub report: FusedReport,
}

impl Output {
    /// Exit 3 when a revocation's session differs from its cold rebuild in any bit.
    pub fn status(&self) -> Status {
        match &self.report.revocation {
            Some(r) if !r.exact => Status::Refused,
            _ => Status::Ok,
        }
    }
}

/// Feeds `arm`'s transcript into a fresh KV session of the model on `backend`, and
/// revokes what `--revoke` names.
pub fn fuse<B: Backend>(backend: Arc<B>, args: &FusedArgs, arm: &ArmRun) -> Result<Output> {
    // A verdict with nothing to cut is a usage error, found before any model loads.
    if let Some(tool) = &args.revoke {
        RevokeTarget::find(arm, tool)?;
    }
    let dir = model_dir(args.model.as_deref())?;
    let tokenizer = Tokenizer::from_dir(&dir)?;
    let template = ChatTemplate::from_dir(&dir).map_err(|e| e.to_string());
    let rendered = Rendered::new(arm, &tokenizer, template.as_ref().map_err(Clone::clone))?;
    // The RoPE table and the pool cover only what the session can hold: the transcript, or
    // the model's whole context when the transcript is longer. An excision holds the old
    // blocks until the new ones are written, hence twice the blocks.
    let context = ModelConfig::from_dir(&dir)?
        .context()
        .min(rendered.tokens())
        .max(1);
    let model = Model::load(backend, &dir, Some(context))
        .with_context(|| format!("cannot load the model in {}", dir.display()))?;
    let device = model.backend().device().clone();
    let blocks = 2 * context.div_ceil(KV_BLOCK_TOKENS) + 1;
    let store = KvStore::new(Arc::new(model), blocks)?;
    let mut fused = rendered.feed(&store)?;
    let mut report = fused.report()?;
    if let Some(tool) = &args.revoke {
        report.revocation = Some(fused.revoke(tool)?);
    }
    Ok(Output {
        model: dir.display().to_string(),
        backend: device.backend.to_string(),
        device: device.name,
        report,
    })
}

/// The section printed under the table.
pub fn render(out: &Output) -> String {
    let r = &out.report;
    let mut text = format!(
        "\nfused: the kernel arm's transcript in the KV cache of {} ({}, {})\n",
        out.model, out.backend, out.device
    );
    let how = match &r.rendering {
        Rendering::ChatTemplate => "with the model's chat template".to_string(),
        Rendering::Plain { reason } => format!("as plain `role: text` lines ({reason})"),
    };
    text.push_str(&format!(
        "  rendered {how}, one span a message: {} tokens in {} spans, {} blocks of {KV_BLOCK_TOKENS} positions\n",
        r.tokens,
        r.spans.len(),
        r.blocks
    ));
    if r.messages_fed < r.messages {
        text.push_str(&format!(
            "  the model's {} positions hold the first {} of the {} messages (the whole transcript renders to {} tokens); the rest is not fed\n",
            r.context, r.messages_fed, r.messages, r.tokens_needed
        ));
    }
    text.push_str("  span  kind         trust      positions  source\n");
    for s in &r.spans {
        let line = format!(
            "  {:<4}  {:<11}  {:<9}  {:>9}  {}",
            s.id.to_string(),
            s.meta.kind.as_str(),
            s.meta.trust.as_str(),
            format!("{}..{}", s.range.start, s.range.end),
            s.meta.source.as_deref().unwrap_or("")
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    for w in &r.withheld {
        text.push_str(&format!(
            "  withheld: {} (turn {}, {}) entered only as the kernel's stub, span {} ({} tokens)\n",
            w.tool,
            w.turn,
            w.code.as_deref().unwrap_or("quarantined"),
            w.stub_span,
            w.stub_tokens
        ));
    }
    if let Some(seen) = r.injection_in_session {
        text.push_str(&format!("  injection in the KV cache: {}\n", yes_no(seen)));
    }
    if let Some(v) = &r.revocation {
        text.push_str(&revocation(v));
    }
    text
}

fn revocation(v: &Revocation) -> String {
    let mut text = format!(
        "\nlate verdict: {}'s result (turn {}) revoked; span {} marked {} and excised ({} tokens)\n",
        v.tool,
        v.turn,
        v.span.id,
        v.span.meta.trust.as_str(),
        v.span.range.len()
    );
    text.push_str(&format!(
        "  recomputed    {} tokens (the suffix after the span), kept {}\n",
        v.recomputed, v.kept
    ));
    text.push_str(&format!(
        "  cold rebuild  {} tokens (of {} before the cut)\n",
        v.cold_rebuild_tokens, v.tokens_before
    ));
    text.push_str(&format!(
        "  time          excise {:.2} ms, cold rebuild and byte compare {:.2} ms\n",
        v.excise_ms, v.cold_rebuild_and_compare_ms
    ));
    text.push_str(&format!(
        "  max|Δ|        {} over {} KV values, {} over the logits: {}\n",
        v.max_abs_delta_kv,
        v.kv_values,
        v.max_abs_delta_logits,
        if v.exact { "exact" } else { "NOT EXACT" }
    ));
    if let Some(seen) = v.injection_in_session {
        text.push_str(&format!("  injection in the KV cache: {}\n", yes_no(seen)));
    }
    text
}

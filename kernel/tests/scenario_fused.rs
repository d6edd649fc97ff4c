//! The fused run on the llama3 fixture (CPU): the kernel arm's transcript in a KV session,
//! what entered it, and a late revocation checked against a cold rebuild.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fak_backends::{CpuBackend, KV_BLOCK_TOKENS};
use fak_kernel::kv::{KvStore, SpanKind, SpanTrust};
use fak_kernel::scenario::arm::ArmRun;
use fak_kernel::scenario::fused::{
    FusedError, FusedSession, Rendered, Rendering, RevokeTarget, segments,
};
use fak_kernel::scenario::transcript::Role;
use fak_kernel::scenario::world::RefundDocument;
use fak_kernel::scenario::{OfflineRun, Task, run_arms};
use fak_models::{Chat, ChatTemplate, Model, ModelConfig, Tokenizer};
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/fixtures/models")
        .join(name)
}

fn arms(task: Task) -> OfflineRun {
    run_arms(task, task.builtin_policy(Path::new("/")).unwrap())
}

/// A model, tokenizer and chat template of one fixture.
struct Fixture {
    dir: PathBuf,
    tokenizer: Tokenizer,
    template: ChatTemplate,
}

impl Fixture {
    fn open(name: &str) -> Fixture {
        let dir = fixture(name);
        Fixture {
            tokenizer: Tokenizer::from_dir(&dir).unwrap(),
            template: ChatTemplate::from_dir(&dir).unwrap(),
            dir,
        }
    }

    fn rendered<'a>(&'a self, arm: &'a ArmRun) -> Rendered<'a> {
        Rendered::new(arm, &self.tokenizer, Ok(&self.template)).unwrap()
    }

    /// A store over the model loaded for as much of `rendered` as its config allows.
    fn store(&self, rendered: &Rendered) -> KvStore<CpuBackend> {
        let context = ModelConfig::from_dir(&self.dir)
            .unwrap()
            .context()
            .min(rendered.tokens());
        let model = Model::load(Arc::new(CpuBackend::new()), &self.dir, Some(context)).unwrap();
        KvStore::new(Arc::new(model), 2 * context.div_ceil(KV_BLOCK_TOKENS) + 1).unwrap()
    }

    /// `arm`'s transcript fed into a fresh store of this fixture.
    fn fused<'a>(&'a self, arm: &'a ArmRun) -> Result<FusedSession<'a, CpuBackend>, FusedError> {
        let rendered = self.rendered(arm);
        let store = self.store(&rendered);
        rendered.feed(&store)
    }

    fn encode(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text, false).unwrap()
    }

    fn text_of(&self, ids: &[u32]) -> String {
        self.tokenizer.decode(ids, false).unwrap()
    }
}

fn contains(haystack: &[u32], needle: &[u32]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The text the fetch_policy tool returned in the run (the raw result, before admission).
fn refund_document(task: Task) -> String {
    task.document().text()
}

/// The model-visible text of the first result of `tool` in `arm`'s transcript.
fn shown_result(arm: &ArmRun, tool: &str) -> String {
    arm.transcript
        .messages()
        .iter()
        .find(|m| m.role == Role::ToolResult && m.tool.as_deref() == Some(tool))
        .unwrap()
        .text
        .clone()
}

#[test]
fn the_quarantined_result_never_becomes_tokens_only_its_stub_does() {
    let fx = Fixture::open("llama3");
    let run = arms(Task::Booking);
    let poisoned = refund_document(Task::Booking);
    let order = RefundDocument::Injected.planted_order().unwrap();
    // What the tool returned, as the direct arm's planner read it; the kernel arm's
    // planner read a stub instead.
    assert_eq!(shown_result(&run.direct, "fetch_policy"), poisoned);
    let stub = shown_result(&run.kernel, "fetch_policy");
    assert!(stub.contains("fak_quarantined"), "{stub}");

    let fused = fx.fused(&run.kernel).unwrap();
    let report = fused.report().unwrap();
    let tokens = fused.session().tokens();
    let text = fx.text_of(tokens);
    for needle in [poisoned.as_str(), order] {
        assert!(
            !contains(tokens, &fx.encode(needle)),
            "tokens of {needle:?}"
        );
        assert!(!text.contains(needle), "text {needle:?}");
    }
    // Not even the benign opening of the quarantined document entered.
    assert!(!text.contains("Refund policy (revision 2026-03)"));
    assert_eq!(report.injection_in_session, Some(false));

    let [withheld] = report.withheld.as_slice() else {
        panic!("{:?}", report.withheld)
    };
    assert_eq!(
        (
            withheld.tool.as_str(),
            withheld.turn,
            withheld.code.as_deref()
        ),
        ("fetch_policy", 2, Some("TRUST_VIOLATION"))
    );
    let span = fused.session().spans().get(withheld.stub_span).unwrap();
    assert_eq!(
        (span.meta.kind, span.meta.source.as_deref()),
        (SpanKind::ToolResult, Some("fetch_policy"))
    );
    assert_eq!(withheld.stub_tokens, span.range.len());
    let stub_span = &tokens[span.range.clone()];
    assert!(
        contains(stub_span, &fx.encode(&stub)),
        "stub tokens in its span"
    );
    assert!(fx.text_of(stub_span).contains(&stub));

    // The check has teeth: the direct arm's transcript, fed the same way, does hold the
    // poisoned document's tokens.
    let direct = fx.fused(&run.direct).unwrap();
    assert!(contains(direct.session().tokens(), &fx.encode(&poisoned)));
    assert_eq!(direct.report().unwrap().injection_in_session, Some(true));
}

#[test]
fn each_message_is_one_span_with_its_kind_source_and_trust() {
    let fx = Fixture::open("llama3");
    let run = arms(Task::Booking);
    let report = fx.fused(&run.kernel).unwrap().report().unwrap();
    let spans: Vec<(SpanKind, SpanTrust, Option<&str>)> = report
        .spans
        .iter()
        .map(|s| (s.meta.kind, s.meta.trust, s.meta.source.as_deref()))
        .collect();
    use SpanKind::*;
    use SpanTrust::*;
    // The first seven messages always fit the fixture's context; the system message is
    // two spans (the brief and the tool list).
    assert_eq!(
        spans[..8],
        [
            (System, Trusted, None),
            (ToolSchema, Trusted, None),
            (User, Trusted, None),
            (Assistant, Trusted, Some("lookup_account")),
            (ToolResult, Trusted, Some("lookup_account")),
            (Assistant, Trusted, Some("fetch_policy")),
            // The stub of a result from a source the policy does not trust.
            (ToolResult, Untrusted, Some("fetch_policy")),
            (Assistant, Trusted, Some("search_flights")),
        ]
    );
    assert_eq!(report.rendering, Rendering::ChatTemplate);
    assert_eq!(report.messages, run.kernel.transcript.messages().len());
    // Spans tile the session: every position belongs to exactly one span.
    let mut end = 0;
    for s in &report.spans {
        assert_eq!(s.range.start, end);
        end = s.range.end;
    }
    assert_eq!(end, report.tokens);
    assert!(report.tokens <= report.context);
    if report.messages_fed < report.messages {
        assert!(report.tokens_needed > report.context);
    }
}

/// The transcript's first `n` messages as a chat template reads them, written out here
/// independently of the fused module.
fn chat_json(run: &ArmRun, n: usize) -> String {
    let messages: Vec<Value> = run.transcript.messages()[..n]
        .iter()
        .map(|m| match (m.role, &m.tool) {
            (Role::System, _) => json!({"role": "system", "content": m.text}),
            (Role::User, _) => json!({"role": "user", "content": m.text}),
            (Role::Assistant, Some(t)) => json!({"role": "assistant",
                "tool_calls": [{"function": {"name": t, "arguments": m.text}}]}),
            (Role::Assistant, None) => json!({"role": "assistant", "content": m.text}),
            (Role::ToolResult, _) => json!({"role": "tool", "content": m.text}),
        })
        .collect();
    Value::Array(messages).to_string()
}

#[test]
fn the_session_holds_the_chat_template_render_token_for_token() {
    let fx = Fixture::open("llama3");
    let run = arms(Task::BookingEvasive);
    let fused = fx.fused(&run.kernel).unwrap();
    let n = fused.report().unwrap().messages_fed;
    let chat = Chat::from_json(&chat_json(&run.kernel, n))
        .unwrap()
        .with_generation_prompt(false);
    let whole = fx.template.render(&chat).unwrap();
    assert_eq!(fused.session().tokens(), fx.encode(&whole).as_slice());
}

#[test]
fn a_late_revocation_excises_the_admitted_result_exactly_and_recomputes_only_the_suffix() {
    let fx = Fixture::open("llama3");
    let run = arms(Task::BookingEvasive);
    let order = RefundDocument::Evasive.planted_order().unwrap();
    let mut fused = fx.fused(&run.kernel).unwrap();
    // Admission missed the evasive order: the document entered, untrusted.
    assert_eq!(fused.report().unwrap().injection_in_session, Some(true));
    let before = fused.session().tokens().to_vec();
    let span = fused
        .session()
        .spans()
        .spans()
        .iter()
        .find(|s| {
            s.meta.kind == SpanKind::ToolResult && s.meta.source.as_deref() == Some("fetch_policy")
        })
        .unwrap()
        .clone();
    assert_eq!(span.meta.trust, SpanTrust::Untrusted);

    let r = fused.revoke("fetch_policy").unwrap();
    assert_eq!(
        (r.span.id, r.span.range.clone()),
        (span.id, span.range.clone())
    );
    assert_eq!(r.span.meta.trust, SpanTrust::Quarantined);
    assert!(r.exact, "{r:?}");
    assert_eq!((r.kv_differing, r.logits_differing), (0, 0));
    assert_eq!((r.max_abs_delta_kv, r.max_abs_delta_logits), (0.0, 0.0));
    assert!(r.kv_values > 0);
    // Only the positions after the span were computed; everything before it was kept.
    assert_eq!(r.tokens_before, before.len());
    assert_eq!(r.kept, span.range.start);
    assert_eq!(r.recomputed, before.len() - span.range.end);
    assert_eq!(r.cold_rebuild_tokens, before.len() - span.range.len());
    assert!(r.recomputed < r.cold_rebuild_tokens);
    // The session is the old one with the span's tokens cut out, and nothing of the order.
    let mut expected = before[..span.range.start].to_vec();
    expected.extend_from_slice(&before[span.range.end..]);
    assert_eq!(fused.session().tokens(), expected.as_slice());
    assert!(fused.session().spans().get(span.id).is_none());
    assert_eq!(r.injection_in_session, Some(false));
    assert!(!fx.text_of(fused.session().tokens()).contains(order));
}

#[test]
fn revoking_a_quarantined_or_uncalled_tool_is_refused_by_name() {
    let run = arms(Task::Booking);
    let err = RevokeTarget::find(&run.kernel, "fetch_policy").unwrap_err();
    assert!(matches!(err, FusedError::NothingAdmitted { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "no result of fetch_policy entered the session, so there is nothing to revoke \
         (turn 2: quarantined (TRUST_VIOLATION))"
    );
    let err = RevokeTarget::find(&run.kernel, "delete_account").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the kernel arm made no call to delete_account, so there is no result to revoke \
         (it called: book_flight, convert_currency, fetch_policy, lookup_account, search_flights)"
    );
}

#[test]
fn a_template_that_cannot_render_message_by_message_falls_back_to_plain_lines() {
    let run = arms(Task::Booking);
    // Llama 2's template folds the system text into the first user turn and wants roles
    // to alternate; SmolLM2's cannot render a tool call.
    for name in ["llama2", "smollm2"] {
        let template = ChatTemplate::from_dir(&fixture(name)).unwrap();
        let (segs, rendering) = segments(&run.kernel, Ok(&template));
        assert!(
            matches!(rendering, Rendering::Plain { .. }),
            "{name}: {rendering:?}"
        );
        let stub = shown_result(&run.kernel, "fetch_policy");
        let texts: Vec<&str> = segs.iter().map(|s| s.text.as_str()).collect();
        assert!(texts[0].starts_with("system: You are a travel-support agent."));
        assert!(texts[1].starts_with("Tools: ["));
        assert!(texts.contains(&format!("tool fetch_policy: {stub}\n").as_str()));
        assert!(texts.contains(&"assistant calls fetch_policy: {\"name\":\"refund\"}\n"));
    }
    let (_, rendering) = segments(&run.kernel, Err("no chat_template".to_string()));
    assert_eq!(
        rendering,
        Rendering::Plain {
            reason: "no chat_template".to_string()
        }
    );
    // ChatML templates (Qwen2, Qwen3) render it message by message.
    for name in ["qwen2", "qwen3"] {
        let template = ChatTemplate::from_dir(&fixture(name)).unwrap();
        assert_eq!(
            segments(&run.kernel, Ok(&template)).1,
            Rendering::ChatTemplate
        );
    }
}

#[test]
fn a_model_whose_context_cannot_hold_the_first_message_is_a_clear_error() {
    // Qwen2's fixture holds 1024 positions; the system prompt with its tool list is longer.
    let fx = Fixture::open("qwen2");
    let run = arms(Task::Booking);
    let err = fx.fused(&run.kernel).unwrap_err();
    assert!(
        matches!(err, FusedError::ContextTooSmall { context: 1024, .. }),
        "{err:?}"
    );
}

//! The transcript appended to a KV session, span by span, and what the session holds.

use fak_backends::Backend;
use fak_models::{ChatTemplate, Tokenizer};
use serde::Serialize;

use super::{FusedError, Rendering, Segment, segments};
use crate::kv::{KvStore, Session, Span, SpanId};
use crate::scenario::arm::{ArmRun, Outcome};
use crate::scenario::transcript::Role;

/// A transcript rendered and tokenized, not yet in any session: its length sizes the model
/// and the block pool before either is loaded.
#[derive(Debug)]
pub struct Rendered<'a> {
    arm: &'a ArmRun,
    tokenizer: &'a Tokenizer,
    rendering: Rendering,
    segments: Vec<Segment>,
    ids: Vec<Vec<u32>>,
}

impl<'a> Rendered<'a> {
    /// Renders `arm`'s transcript (see [`segments`]) and tokenizes each segment on its own.
    /// The chat template writes the model's bos itself; the plain rendering has the
    /// tokenizer add it to the first segment.
    pub fn new(
        arm: &'a ArmRun,
        tokenizer: &'a Tokenizer,
        template: Result<&ChatTemplate, String>,
    ) -> Result<Self, FusedError> {
        let (segments, rendering) = segments(arm, template);
        let plain = matches!(rendering, Rendering::Plain { .. });
        let ids = segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                tokenizer
                    .encode(&s.text, plain && i == 0)
                    .map_err(|source| FusedError::Tokenize {
                        message: s.message,
                        source,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            arm,
            tokenizer,
            rendering,
            segments,
            ids,
        })
    }

    pub fn rendering(&self) -> &Rendering {
        &self.rendering
    }

    /// Tokens the whole transcript renders to.
    pub fn tokens(&self) -> usize {
        self.ids.iter().map(Vec::len).sum()
    }

    /// How many messages, from the first, fit in `context` positions, whole.
    fn messages_within(&self, context: usize) -> usize {
        let mut per_message = vec![0; self.arm.transcript.messages().len()];
        for (segment, ids) in self.segments.iter().zip(&self.ids) {
            per_message[segment.message] += ids.len();
        }
        let mut used = 0;
        per_message
            .iter()
            .take_while(|&&n| {
                used += n;
                used <= context
            })
            .count()
    }

    /// Appends the segments to a new session of `store`, one span each, message by
    /// message for as many whole messages as the model's context holds.
    pub fn feed<B: Backend>(self, store: &KvStore<B>) -> Result<FusedSession<'a, B>, FusedError> {
        let context = store.model().context();
        let messages = self.arm.transcript.messages().len();
        let fed = self.messages_within(context);
        if fed == 0 && messages > 0 {
            return Err(FusedError::ContextTooSmall {
                context,
                needed: self.tokens(),
            });
        }
        let tokens_needed = self.tokens();
        let mut session = store.session();
        let mut spans_of = vec![Vec::new(); messages];
        for (segment, ids) in self.segments.into_iter().zip(&self.ids) {
            // A segment of no tokens (a template that renders a message as nothing) has
            // nothing to name.
            if segment.message < fed && !ids.is_empty() {
                spans_of[segment.message].push(session.append(ids, segment.meta)?);
            }
        }
        Ok(FusedSession {
            arm: self.arm,
            tokenizer: self.tokenizer,
            rendering: self.rendering,
            session,
            spans_of,
            fed,
            tokens_needed,
        })
    }
}

/// The kernel arm's transcript in a KV session, each message a span.
#[derive(Debug)]
pub struct FusedSession<'a, B: Backend> {
    pub(super) arm: &'a ArmRun,
    tokenizer: &'a Tokenizer,
    rendering: Rendering,
    pub(super) session: Session<B>,
    /// The spans each transcript message became, by message index (a system message that
    /// lists the tools becomes two; a message past the context, none).
    pub(super) spans_of: Vec<Vec<SpanId>>,
    /// Messages fed, from the first.
    fed: usize,
    tokens_needed: usize,
}

/// A result admission quarantined, and the stub that entered in its place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Withheld {
    pub tool: String,
    pub turn: u32,
    /// The quarantine code.
    pub code: Option<String>,
    /// The span that holds the stub.
    pub stub_span: SpanId,
    pub stub_tokens: usize,
}

/// What the session holds (the `fused` member of `fak agent --offline --fused --json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FusedReport {
    #[serde(flatten)]
    pub rendering: Rendering,
    /// Messages in the transcript.
    pub messages: usize,
    /// Messages in the session: all of them, or as many as the model's context holds.
    pub messages_fed: usize,
    /// Positions the model was loaded for.
    pub context: usize,
    /// Tokens the whole transcript renders to.
    pub tokens_needed: usize,
    /// Positions in the session.
    pub tokens: usize,
    /// KV blocks the session holds.
    pub blocks: usize,
    pub spans: Vec<Span>,
    /// Quarantined results: only their stubs entered.
    pub withheld: Vec<Withheld>,
    /// Whether the sentence the task's attacker planted can be read in the session's
    /// decoded tokens (null for a task that plants none).
    pub injection_in_session: Option<bool>,
    /// The late verdict, when one was asked for.
    pub revocation: Option<super::Revocation>,
}

impl<B: Backend> FusedSession<'_, B> {
    pub fn session(&self) -> &Session<B> {
        &self.session
    }

    /// Whether the planted sentence appears in the text of the session's tokens.
    pub fn injection_in_session(&self) -> Result<Option<bool>, FusedError> {
        let Some(order) = self.arm.world.planted_order() else {
            return Ok(None);
        };
        let text = self
            .tokenizer
            .decode(self.session.tokens(), false)
            .map_err(FusedError::Decode)?;
        Ok(Some(text.contains(order)))
    }

    /// The session as it stands, with no revocation.
    pub fn report(&self) -> Result<FusedReport, FusedError> {
        let results = result_messages(self.arm);
        let withheld = self
            .arm
            .calls
            .iter()
            .zip(&results)
            .filter(|(call, _)| call.outcome == Outcome::Quarantined)
            .filter_map(|(call, &message)| {
                let span = self.session.spans().get(*self.spans_of[message].first()?)?;
                Some(Withheld {
                    tool: call.tool.clone(),
                    turn: call.turn,
                    code: call.code.clone(),
                    stub_span: span.id,
                    stub_tokens: span.range.len(),
                })
            })
            .collect();
        Ok(FusedReport {
            rendering: self.rendering.clone(),
            messages: self.spans_of.len(),
            messages_fed: self.fed,
            context: self.session.store().model().context(),
            tokens_needed: self.tokens_needed,
            tokens: self.session.len(),
            blocks: self.session.blocks().len(),
            spans: self.session.spans().spans().to_vec(),
            withheld,
            injection_in_session: self.injection_in_session()?,
            revocation: None,
        })
    }
}

/// The transcript index of each tool result of `arm`, in call order.
pub(super) fn result_messages(arm: &ArmRun) -> Vec<usize> {
    arm.transcript
        .messages()
        .iter()
        .enumerate()
        .filter(|(_, m)| m.role == Role::ToolResult)
        .map(|(i, _)| i)
        .collect()
}

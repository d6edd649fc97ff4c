//! The generation loop: a request's prompt appended to a fresh KV session (adopting every
//! full block an earlier request left with the same prefix), then tokens sampled one at a
//! time, decoded to text, split into text and tool calls, and reported as they come.

use fak_backends::Backend;
use fak_kernel::kv::KvError;
use fak_ops::Sampler;
use tokio::sync::mpsc::Sender;

use super::Engine;
use super::reply::{Ending, Out, Usage};
use super::tool_calls::{Piece, ToolCallParser};
use super::turn::Turn;
use crate::entropy::random_bytes;
use crate::gate::adjudicate::ProposedCall;
use crate::source::SourceError;

/// Where the reports go; closed when the client has gone.
struct Reports<'a> {
    out: &'a Sender<Out>,
    called: bool,
}

impl Reports<'_> {
    /// Sends `pieces`; false once nobody listens.
    fn send(&mut self, pieces: Vec<Piece>) -> bool {
        pieces.into_iter().all(|piece| {
            let out = match piece {
                Piece::Text(text) => Out::Text(text),
                Piece::Call { name, arguments } => {
                    self.called = true;
                    Out::Call(ProposedCall {
                        id: format!("call_{}", hex::encode(random_bytes::<12>())),
                        name,
                        arguments,
                    })
                }
            };
            self.out.blocking_send(out).is_ok()
        })
    }
}

impl<B: Backend> Engine<B> {
    /// Answers `turn`, reporting to `out` as the tokens decode. Runs on a blocking thread;
    /// stops early when the receiver is dropped (the client hung up).
    pub(super) fn answer(&self, turn: &Turn, out: &Sender<Out>) {
        if let Err(e) = self.generate(turn, out) {
            // The receiver may be gone; then there is nobody to tell.
            let _ = out.blocking_send(Out::Failed(e));
        }
    }

    fn generate(&self, turn: &Turn, out: &Sender<Out>) -> Result<(), SourceError> {
        let mut session = self.store.session();
        session.append_untagged(&turn.prompt).map_err(kv_failed)?;
        let prefill = session.last_edit();
        self.counters.prefill(prefill.reused, prefill.computed);
        let mut sampler = Sampler::new(turn.sampling, turn.seed)
            .map_err(|e| SourceError::Refused(e.to_string()))?;
        let mut text = self.tokenizer.stream(true);
        let mut parser = ToolCallParser::default();
        let mut reports = Reports { out, called: false };
        let mut sampled = 0;
        let finish = loop {
            if out.is_closed() {
                return Ok(());
            }
            let logits = session
                .logits()
                .ok_or_else(|| SourceError::Engine("the session has no logits".into()))?;
            // Ids past the tokenizer's vocabulary are padding rows of the embedding: no
            // text can be written for them, so they are never sampled.
            let writable = &logits[..self.vocab.min(logits.len())];
            let next = sampler
                .sample(writable)
                .map_err(|e| SourceError::Engine(e.to_string()))? as u32;
            sampled += 1;
            self.counters.sampled();
            if self.stop.contains(next) {
                break "stop";
            }
            let piece = text
                .push(next)
                .map_err(|e| SourceError::Engine(e.to_string()))?;
            if let Some(piece) = piece
                && !reports.send(parser.push(&piece))
            {
                return Ok(());
            }
            // The turn's bound keeps the session inside the context.
            if sampled == turn.max_tokens {
                break "length";
            }
            session.append_untagged(&[next]).map_err(kv_failed)?;
        };
        if !reports.send(parser.finish()) {
            return Ok(());
        }
        let ending = Ending {
            // An answer cut short stays `length`, calls or not: the client must know.
            finish: if reports.called && finish == "stop" {
                "tool_calls"
            } else {
                finish
            },
            usage: Usage {
                prompt: turn.prompt.len(),
                completion: sampled,
                cached: prefill.reused,
            },
        };
        // A client gone at the last moment misses only the ending.
        let _ = out.blocking_send(Out::End(ending));
        Ok(())
    }
}

fn kv_failed(e: KvError) -> SourceError {
    SourceError::Engine(format!("the KV cache refused the tokens: {e}"))
}

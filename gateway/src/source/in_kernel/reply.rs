//! What the generation loop reports, and its rendering on the OpenAI wire: one whole
//! `chat.completion`, or `chat.completion.chunk`s as the pieces arrive.

use serde_json::{Value, json};

use crate::gate::adjudicate::ProposedCall;
use crate::source::SourceError;

/// One report of the generation loop, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    Text(String),
    Call(ProposedCall),
    /// The last report of an answer that finished.
    End(Ending),
    /// The last report of an answer that failed.
    Failed(SourceError),
}

/// How an answer finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ending {
    /// OpenAI's `finish_reason`: `stop`, `length` or `tool_calls`.
    pub finish: &'static str,
    pub usage: Usage,
}

/// Token counts of one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Tokens of the rendered prompt.
    pub prompt: usize,
    /// Tokens sampled, the stop token included (as vLLM counts them).
    pub completion: usize,
    /// Prompt tokens whose KV rows were adopted from the cache instead of computed.
    pub cached: usize,
}

impl Usage {
    /// OpenAI's `usage`; the cached count is where OpenAI reports prompt caching.
    pub fn to_openai(self) -> Value {
        json!({
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.prompt + self.completion,
            "prompt_tokens_details": {"cached_tokens": self.cached},
        })
    }
}

/// The envelope every object of one answer shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    pub model: String,
    pub include_usage: bool,
}

impl Head {
    /// The whole completion of the reports `outs` (which end with [`Out::End`]).
    pub fn completion(&self, outs: Vec<Out>) -> Result<Value, SourceError> {
        let mut text = String::new();
        let mut calls = Vec::new();
        let mut ending = None;
        for out in outs {
            match out {
                Out::Text(t) => text.push_str(&t),
                Out::Call(c) => calls.push(c.to_openai()),
                Out::End(e) => ending = Some(e),
                Out::Failed(e) => return Err(e),
            }
        }
        let ending = ending.ok_or_else(unfinished)?;
        let mut message = json!({"role": "assistant", "content": text});
        if !calls.is_empty() {
            if text.trim().is_empty() {
                message["content"] = Value::Null;
            }
            message["tool_calls"] = Value::Array(calls);
        }
        Ok(json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": null,
                         "finish_reason": ending.finish}],
            "usage": ending.usage.to_openai(),
        }))
    }

    /// A chunk carrying `delta` (and `finish_reason`) for the one choice.
    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        })
    }
}

/// Renders reports as chunks: the assistant's role first, each text piece and call as
/// it comes, the finish, and the usage chunk when the client asked for it.
#[derive(Debug)]
pub struct Chunks {
    head: Head,
    started: bool,
    calls: usize,
}

impl Chunks {
    pub fn new(head: Head) -> Chunks {
        Chunks {
            head,
            started: false,
            calls: 0,
        }
    }

    pub fn render(&mut self, out: Out) -> Vec<Result<Value, SourceError>> {
        let mut chunks = Vec::new();
        if !self.started {
            self.started = true;
            chunks.push(Ok(self
                .head
                .chunk(json!({"role": "assistant", "content": ""}), None)));
        }
        match out {
            Out::Text(text) => chunks.push(Ok(self.head.chunk(json!({"content": text}), None))),
            Out::Call(call) => {
                let mut entry = call.to_openai();
                entry["index"] = self.calls.into();
                self.calls += 1;
                chunks.push(Ok(self.head.chunk(json!({"tool_calls": [entry]}), None)));
            }
            Out::End(ending) => {
                chunks.push(Ok(self.head.chunk(json!({}), Some(ending.finish))));
                if self.head.include_usage {
                    let mut usage = self.head.chunk(json!({}), None);
                    usage["choices"] = json!([]);
                    usage["usage"] = ending.usage.to_openai();
                    chunks.push(Ok(usage));
                }
            }
            Out::Failed(e) => chunks.push(Err(e)),
        }
        chunks
    }
}

/// Reports that stopped before an ending: the loop died without saying why.
pub fn unfinished() -> SourceError {
    SourceError::Engine("the generation stopped without finishing".into())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gate::adjudicate::{Adjudicator, ToolSchemas};
    use crate::gate::completion::gate_completion;
    use crate::gate::starter_kernel;

    fn head(include_usage: bool) -> Head {
        Head {
            id: "chatcmpl-1".into(),
            created: 1,
            model: "qwen3".into(),
            include_usage,
        }
    }

    fn call(id: &str, name: &str, arguments: &str) -> Out {
        Out::Call(ProposedCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        })
    }

    const USAGE: Usage = Usage {
        prompt: 30,
        completion: 12,
        cached: 0,
    };

    fn end(finish: &'static str) -> Out {
        Out::End(Ending {
            finish,
            usage: USAGE,
        })
    }

    #[test]
    fn generated_calls_pass_the_same_gate_as_an_upstream_s() {
        let outs = vec![
            Out::Text("\n".into()),
            call("c1", "read_file", r#"{"path": "./README.md"}"#),
            call("c2", "delete_file", r#"{"path": "./x"}"#),
            call("c3", "", "run_shell rm -rf /"),
            end("tool_calls"),
        ];
        let mut completion = head(false).completion(outs).unwrap();
        let message = &completion["choices"][0]["message"];
        assert!(
            message["content"].is_null(),
            "whitespace around calls is no content"
        );
        assert_eq!(message["tool_calls"].as_array().unwrap().len(), 3);
        let adjudicator = Adjudicator {
            kernel: starter_kernel(),
            trace: "t".into(),
            schemas: ToolSchemas::default(),
            tally: Arc::default(),
        };
        let decisions = gate_completion(&adjudicator, &mut completion).unwrap();
        let codes: Vec<_> = decisions.iter().map(|d| d.code).collect();
        assert_eq!(codes, [None, Some("POLICY_BLOCK"), Some("MALFORMED")]);
        let message = &completion["choices"][0]["message"];
        assert_eq!(message["tool_calls"].as_array().unwrap().len(), 1);
        assert_eq!(message["tool_calls"][0]["function"]["name"], "read_file");
        assert_eq!(completion["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(completion["usage"]["total_tokens"], 42);
    }

    #[test]
    fn chunks_open_with_the_role_and_end_with_finish_then_usage() {
        let mut chunks = Chunks::new(head(true));
        let rendered: Vec<Value> = [
            Out::Text("Hel".into()),
            Out::Text("lo".into()),
            end("length"),
        ]
        .into_iter()
        .flat_map(|o| chunks.render(o))
        .map(Result::unwrap)
        .collect();
        assert_eq!(rendered.len(), 5);
        assert_eq!(rendered[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(rendered[1]["choices"][0]["delta"]["content"], "Hel");
        assert_eq!(rendered[3]["choices"][0]["finish_reason"], "length");
        assert_eq!(rendered[4]["choices"], json!([]));
        assert_eq!(rendered[4]["usage"]["completion_tokens"], 12);
        let mut quiet = Chunks::new(head(false));
        assert_eq!(quiet.render(end("stop")).len(), 2, "no usage chunk unasked");
    }

    #[test]
    fn reports_without_an_ending_or_with_a_failure_are_errors() {
        assert_eq!(
            head(false).completion(vec![Out::Text("x".into())]),
            Err(unfinished())
        );
        let failed = Out::Failed(SourceError::Engine("boom".into()));
        assert_eq!(
            head(false).completion(vec![failed.clone()]),
            Err(SourceError::Engine("boom".into()))
        );
        let mut chunks = Chunks::new(head(false));
        assert!(chunks.render(failed).last().unwrap().is_err());
    }
}

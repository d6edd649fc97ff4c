//! One proposed tool call, repaired and decided by the kernel; the ruling says whether it
//! reaches the client and, if not, what the client reads instead.

use std::collections::HashMap;
use std::sync::Arc;

use fak_kernel::repair::repair;
use fak_kernel::{Kernel, RawCall, Refusal, RefusalCode, ToolDescriptor, Verdict};
use serde_json::Value;

use super::report::{DecisionRecord, Tally};

/// The tools a request declares (`tools[].function`), as the repair ladder reads them.
#[derive(Clone, Debug, Default)]
pub struct ToolSchemas(HashMap<String, ToolDescriptor>);

impl ToolSchemas {
    /// Declared tools of an OpenAI request. The descriptors claim nothing about effects
    /// (not read-only, no sinks): the policy's flow section decides those.
    pub fn from_request(request: &Value) -> ToolSchemas {
        let tools = request.get("tools").and_then(Value::as_array);
        ToolSchemas(
            tools
                .into_iter()
                .flatten()
                .filter_map(|t| {
                    let f = t.get("function")?;
                    let name = f.get("name")?.as_str()?;
                    let schema = f.get("parameters").cloned().unwrap_or(Value::Null);
                    Some((name.to_string(), ToolDescriptor::new(name, schema)))
                })
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&ToolDescriptor> {
        self.0.get(name)
    }
}

/// A tool call as the model proposed it (OpenAI shape: arguments are JSON text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposedCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

impl ProposedCall {
    /// The OpenAI `tool_calls[]` entry.
    pub fn to_openai(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "type": "function",
            "function": { "name": self.name, "arguments": self.arguments },
        })
    }
}

/// The kernel's ruling on one call.
#[derive(Clone, Debug)]
pub struct Ruling {
    pub record: DecisionRecord,
    /// The call the client receives (arguments repaired or redacted), if it passed.
    pub delivered: Option<ProposedCall>,
    /// What the client reads in place of a withheld call.
    pub notice: Option<String>,
}

/// Decides calls for one conversation.
#[derive(Clone, Debug)]
pub struct Adjudicator {
    pub kernel: Arc<Kernel>,
    pub trace: String,
    pub schemas: ToolSchemas,
    pub tally: Arc<Tally>,
}

impl Adjudicator {
    /// Repairs and decides one call (journaled by the kernel either way).
    pub fn rule(&self, call: ProposedCall) -> Ruling {
        let descriptor = self.schemas.get(&call.name);
        let raw = RawCall::text(&call.name, &call.arguments);
        // A call naming no tool (an in-kernel model's block that did not parse as a call)
        // is refused before any rule could match it.
        let repaired = if call.name.trim().is_empty() {
            Err(Refusal::new(
                RefusalCode::Malformed,
                "the tool call names no tool",
            ))
        } else {
            repair(&raw, descriptor)
        };
        let (repaired, decision) = match repaired {
            Ok(r) => {
                let decision = self.kernel.decide(&self.trace, &r.call, descriptor, None);
                (Some(r), decision)
            }
            Err(refusal) => (
                None,
                self.kernel
                    .refuse_unrepaired(&self.trace, &call.name, refusal),
            ),
        };
        let was_repaired = repaired.as_ref().is_some_and(|r| !r.steps.is_empty());
        let verdict = decision.verdict;
        let refusal = verdict.refusal();
        let mut record = DecisionRecord {
            call_id: call.id.clone(),
            tool: call.name.clone(),
            verdict: verdict.name(),
            delivered: false,
            code: refusal.map(|r| r.code.name()),
            number: refusal.map(|r| r.code.number()),
            disposition: refusal.map(|r| r.code.disposition()),
            item: refusal.map(|r| r.item.clone()),
            repaired: was_repaired,
        };
        self.tally.mark(record.verdict, record.code);
        let arguments = match (&verdict, &repaired) {
            (Verdict::Allow, Some(r)) if was_repaired => Some(r.call.args.to_string()),
            (Verdict::Allow, Some(_)) => Some(call.arguments.clone()),
            (Verdict::Transform(t), Some(r)) => Some(t.apply(&r.call.args).to_string()),
            _ => None,
        };
        let notice = match &verdict {
            Verdict::Deny(r) => Some(format!(
                "[fak] tool call {} ({}) was refused: {}",
                call.name, call.id, r
            )),
            Verdict::Hold(_) => {
                record.item = Some("the policy requires confirmation".to_string());
                Some(format!(
                    "[fak] tool call {} ({}) is held: the policy requires confirmation, \
                     which this gateway does not relay",
                    call.name, call.id
                ))
            }
            Verdict::Allow | Verdict::Transform(_) => None,
        };
        record.delivered = arguments.is_some();
        Ruling {
            record,
            delivered: arguments.map(|arguments| ProposedCall { arguments, ..call }),
            notice,
        }
    }
}

/// The finish reason after the gate: a turn whose every call was withheld ends as `stop`.
pub fn finish_reason(original: &str, delivered_any: bool) -> &str {
    if original == "tool_calls" && !delivered_any {
        "stop"
    } else {
        original
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gate::starter_kernel;

    fn adjudicator(request: &Value) -> Adjudicator {
        Adjudicator {
            kernel: starter_kernel(),
            trace: "t".into(),
            schemas: ToolSchemas::from_request(request),
            tally: Arc::default(),
        }
    }

    fn call(name: &str, arguments: &str) -> ProposedCall {
        ProposedCall {
            id: "call_1".into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    #[test]
    fn allowed_call_is_delivered_unchanged() {
        let a = adjudicator(&json!({}));
        let r = a.rule(call("read_file", r#"{"path": "./README.md"}"#));
        assert_eq!(r.record.verdict, "ALLOW");
        assert!(r.notice.is_none());
        assert_eq!(r.delivered.unwrap().arguments, r#"{"path": "./README.md"}"#);
    }

    #[test]
    fn denied_call_is_withheld_with_a_readable_notice_and_its_code() {
        let a = adjudicator(&json!({}));
        let r = a.rule(call("delete_file", r#"{"path": "./x"}"#));
        assert!(r.delivered.is_none());
        assert_eq!(r.record.code, Some("POLICY_BLOCK"));
        assert_eq!(r.record.number, Some(2));
        let notice = r.notice.unwrap();
        assert!(
            notice.contains("delete_file") && notice.contains("POLICY_BLOCK"),
            "{notice}"
        );
        assert_eq!(a.tally.marks().len(), 1);
    }

    #[test]
    fn repaired_arguments_are_what_the_client_receives() {
        let request = json!({"tools": [{"type": "function", "function": {
            "name": "read_file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}},
                           "required": ["path"]}}}]});
        let a = adjudicator(&request);
        let r = a.rule(call("read_file", "{path: './README.md',}"));
        assert!(r.record.repaired);
        let delivered: Value = serde_json::from_str(&r.delivered.unwrap().arguments).unwrap();
        assert_eq!(delivered, json!({"path": "./README.md"}));
    }

    #[test]
    fn arguments_repair_cannot_accept_are_refused_and_journaled() {
        let a = adjudicator(&json!({}));
        let huge = "x".repeat(fak_kernel::repair::MAX_ARGS_BYTES + 1);
        let r = a.rule(call("read_file", &huge));
        assert_eq!(r.record.code, Some("OVERSIZE"));
        assert_eq!(a.kernel.counters().decided, 1);
        assert!(r.delivered.is_none());
    }

    #[test]
    fn a_call_naming_no_tool_is_refused_as_malformed_and_journaled() {
        let a = adjudicator(&json!({}));
        let r = a.rule(call(" ", r#"{"path": "./README.md"}"#));
        assert_eq!(r.record.code, Some("MALFORMED"));
        assert!(r.delivered.is_none());
        assert!(r.notice.unwrap().contains("names no tool"));
        assert_eq!(a.kernel.counters().decided, 1);
    }

    #[test]
    fn redacted_keys_reach_the_client_redacted() {
        let a = adjudicator(&json!({}));
        let r = a.rule(call("web_search", r#"{"q": "x", "api_key": "k"}"#));
        assert_eq!(r.record.verdict, "TRANSFORM");
        let args: Value = serde_json::from_str(&r.delivered.unwrap().arguments).unwrap();
        assert_eq!(args["api_key"], "[REDACTED]");
        assert_eq!(args["q"], "x");
    }

    #[test]
    fn a_turn_with_every_call_withheld_finishes_as_stop() {
        assert_eq!(finish_reason("tool_calls", false), "stop");
        assert_eq!(finish_reason("tool_calls", true), "tool_calls");
        assert_eq!(finish_reason("length", false), "length");
    }
}

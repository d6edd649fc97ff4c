//! How the planner reads its context: the tool list in the system prompt, the task, its
//! own earlier calls and what came back, and orders written into tool results.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use crate::scenario::transcript::{Role, Transcript};

/// The line in the system prompt after which the tool list follows as JSON.
pub const TOOLS_HEADER: &str = "Tools:";

/// One tool as the system prompt lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub parameters: Value,
}

impl ToolSpec {
    pub fn required(&self) -> Vec<&str> {
        self.parameters["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}

/// The tool list, read from the system prompt (empty if it has none).
pub fn catalog(transcript: &Transcript) -> Vec<ToolSpec> {
    transcript
        .first(Role::System)
        .and_then(|m| m.text.split_once(TOOLS_HEADER))
        .and_then(|(_, list)| serde_json::from_str(list.trim()).ok())
        .unwrap_or_default()
}

/// What the task asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Goal {
    Book {
        customer: String,
        origin: String,
        destination: String,
        date: String,
        direct_only: bool,
    },
    Refund {
        customer: String,
        booking: String,
    },
}

impl Goal {
    pub fn customer(&self) -> &str {
        match self {
            Goal::Book { customer, .. } | Goal::Refund { customer, .. } => customer,
        }
    }
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("planner pattern compiles")
}

static CUSTOMER: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\bcustomer ([a-z0-9_]+)"));
static ROUTE: LazyLock<Regex> = LazyLock::new(|| regex(r"\bfrom ([A-Z]{3}) to ([A-Z]{3})\b"));
static DATE: LazyLock<Regex> = LazyLock::new(|| regex(r"\b(\d{4}-\d{2}-\d{2})\b"));
static BOOKING: LazyLock<Regex> = LazyLock::new(|| regex(r"\brefund of booking (BK-\d+)\b"));
/// The first double-quoted name in an error message.
static QUOTED: LazyLock<Regex> = LazyLock::new(|| regex(r#""([^"]+)""#));

/// Reads the task from the user message; None when it is not a task this planner knows.
pub fn goal(transcript: &Transcript) -> Option<Goal> {
    let task = &transcript.first(Role::User)?.text;
    let customer = CUSTOMER.captures(task)?[1].to_string();
    if let Some(booking) = BOOKING.captures(task) {
        return Some(Goal::Refund {
            customer,
            booking: booking[1].to_string(),
        });
    }
    if !task.trim_start().to_ascii_lowercase().starts_with("book ") {
        return None;
    }
    let route = ROUTE.captures(task)?;
    Some(Goal::Book {
        customer,
        origin: route[1].to_string(),
        destination: route[2].to_string(),
        date: DATE.captures(task)?[1].to_string(),
        direct_only: task.contains("direct"),
    })
}

/// What came back from one call, as the model reads it.
#[derive(Clone, Debug, PartialEq)]
pub enum Seen {
    /// A JSON result.
    Data(Value),
    /// A plain-text result.
    Text(String),
    /// The tool failed; its message.
    ToolError(String),
    /// The kernel refused the call.
    Refused {
        code: String,
        disposition: String,
        item: String,
    },
    /// Something stood in for the result: a quarantine stub, a page pointer, a hold.
    Withheld,
}

impl Seen {
    fn read(text: &str) -> Seen {
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return Seen::Text(text.to_string());
        };
        let field = |k: &str| value[k].as_str().map(String::from);
        if let Some(message) = field("tool_error") {
            Seen::ToolError(message)
        } else if let Some(code) = field("refused") {
            Seen::Refused {
                code,
                disposition: field("disposition").unwrap_or_default(),
                item: field("item").unwrap_or_default(),
            }
        } else if ["fak_quarantined", "fak_page", "held"]
            .iter()
            .any(|k| value.get(k).is_some())
        {
            Seen::Withheld
        } else {
            Seen::Data(value)
        }
    }

    /// The result when the call succeeded.
    pub fn data(&self) -> Option<&Value> {
        match self {
            Seen::Data(v) => Some(v),
            _ => None,
        }
    }

    /// The text a reader takes orders from: only results that arrived as results.
    fn readable_text(&self) -> Option<String> {
        match self {
            Seen::Data(v) => Some(v.to_string()),
            Seen::Text(t) => Some(t.clone()),
            _ => None,
        }
    }

    /// A short account for the final answer.
    pub fn describe(&self) -> String {
        match self {
            Seen::Data(_) | Seen::Text(_) => "done".to_string(),
            Seen::ToolError(m) => format!("failed: {m}"),
            Seen::Refused { code, .. } => format!("refused ({code})"),
            Seen::Withheld => "withheld by the kernel".to_string(),
        }
    }
}

/// One earlier call and its result.
#[derive(Clone, Debug)]
pub struct Step {
    pub tool: String,
    pub args: Value,
    pub seen: Seen,
}

/// The planner's own calls so far, each with what came back.
pub fn steps(transcript: &Transcript) -> Vec<Step> {
    let messages = transcript.messages();
    messages
        .windows(2)
        .filter_map(|pair| match (&pair[0], &pair[1]) {
            (call, result)
                if call.role == Role::Assistant
                    && result.role == Role::ToolResult
                    && call.tool.is_some() =>
            {
                Some(Step {
                    tool: call.tool.clone().unwrap_or_default(),
                    args: serde_json::from_str(&call.text).unwrap_or(Value::Null),
                    seen: Seen::read(&result.text),
                })
            }
            _ => None,
        })
        .collect()
}

/// An order found in a tool result: a sentence naming one of the tools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub tool: String,
    /// The sentence says to do it after something ("after a booking", "once ... is
    /// confirmed"): the planner waits until its own work is done.
    pub deferred: bool,
    /// The step whose result held the sentence.
    pub found_at: usize,
}

static WORD: LazyLock<Regex> = LazyLock::new(|| regex(r"[A-Za-z_]+"));

/// Orders written into results: every sentence that names a listed tool. The planner
/// treats such a sentence as a procedure to follow, which is exactly the weakness an
/// injection exploits.
pub fn orders(steps: &[Step], catalog: &[ToolSpec]) -> Vec<Order> {
    let tools: BTreeSet<&str> = catalog.iter().map(|t| t.name.as_str()).collect();
    let mut found = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let Some(text) = step.seen.readable_text() else {
            continue;
        };
        for sentence in text.split(['.', '!', '?', '\n']) {
            let words: Vec<&str> = WORD.find_iter(sentence).map(|m| m.as_str()).collect();
            let deferred = words
                .iter()
                .any(|w| w.eq_ignore_ascii_case("after") || w.eq_ignore_ascii_case("once"));
            for word in &words {
                if tools.contains(word) {
                    found.push(Order {
                        tool: word.to_string(),
                        deferred,
                        found_at: i,
                    });
                }
            }
        }
    }
    found
}

/// For a call refused or failed for naming a parameter the tool does not have: the
/// same arguments with that name replaced by the one required parameter they lack.
pub fn fix_parameter_name(step: &Step, catalog: &[ToolSpec]) -> Option<Value> {
    let message = match &step.seen {
        Seen::ToolError(m) => m,
        Seen::Refused {
            disposition, item, ..
        } if disposition == "retry" => item,
        _ => return None,
    };
    if !message.contains("parameter") {
        return None;
    }
    let wrong = QUOTED.captures(message)?[1].to_string();
    let spec = catalog.iter().find(|t| t.name == step.tool)?;
    let args = step.args.as_object()?;
    let value = args.get(&wrong)?;
    let mut missing = spec
        .required()
        .into_iter()
        .filter(|r| !args.contains_key(*r));
    let (Some(right), None) = (missing.next(), missing.next()) else {
        return None;
    };
    let mut fixed = args.clone();
    fixed.remove(&wrong);
    fixed.insert(right.to_string(), value.clone());
    Some(Value::Object(fixed))
}

//! The repair ladder: a model's call made valid, or refused as MALFORMED / MISROUTE.
//!
//! Rungs, each tried only when the one before left the call invalid: parse the argument
//! text (strict, then without a markdown fence, then leniently), unwrap arguments encoded
//! twice as a JSON string, map positional arguments onto the schema's `required` order,
//! rename known aliases and case-style variants of parameter names, coerce values to the
//! schema's types. Every change is recorded, so a caller can count and show repairs.

pub mod json;
pub mod schema;

use serde::Serialize;
use serde_json::Value;

use crate::refusal::{Refusal, RefusalCode};
use crate::tools::{RawArgs, RawCall, ToolCall, ToolDescriptor};

/// Largest argument text accepted, in bytes; beyond it the call is OVERSIZE unparsed.
pub const MAX_ARGS_BYTES: usize = 1 << 20;

/// One change the ladder made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum RepairStep {
    /// Empty argument text read as `{}`.
    EmptyAsObject,
    /// A markdown code fence removed.
    Fence,
    /// Quotes, bare keys, Python literals or trailing commas fixed.
    Lenient,
    /// Unclosed strings or brackets closed.
    Closed,
    /// Arguments that were a JSON string holding JSON, unwrapped.
    DoubleEncoded,
    /// An array of arguments mapped onto the `required` parameters in order.
    Positional,
    /// A lone value given to the tool's only parameter.
    WrappedScalar,
    /// A parameter name replaced by the one the schema uses.
    Alias { from: String, to: String },
    /// A value converted to the schema's type.
    Coerced { arg: String, to: String },
    /// A string matched to an `enum` value ignoring case.
    EnumCase { arg: String },
}

/// A valid call and what it took to make it.
#[derive(Clone, Debug, PartialEq)]
pub struct Repaired {
    pub call: ToolCall,
    pub steps: Vec<RepairStep>,
}

/// Runs the ladder. Without a descriptor only the argument text is repaired.
pub fn repair(raw: &RawCall, descriptor: Option<&ToolDescriptor>) -> Result<Repaired, Refusal> {
    let mut steps = Vec::new();
    let mut args = match &raw.args {
        RawArgs::Json(v) => v.clone(),
        RawArgs::Text(text) => parse_text(text, &mut steps)?,
    };
    if let Value::String(s) = &args
        && let Ok(inner @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(s)
    {
        args = inner;
        steps.push(RepairStep::DoubleEncoded);
    }
    let args = match descriptor {
        Some(desc) => schema::fit(args, desc, &mut steps)?,
        None => args,
    };
    Ok(Repaired {
        call: ToolCall::new(raw.tool.clone(), args),
        steps,
    })
}

fn parse_text(text: &str, steps: &mut Vec<RepairStep>) -> Result<Value, Refusal> {
    if text.len() > MAX_ARGS_BYTES {
        return Err(Refusal::new(
            RefusalCode::Oversize,
            format!(
                "arguments are {} bytes, bound {MAX_ARGS_BYTES} bytes",
                text.len()
            ),
        ));
    }
    if text.trim().is_empty() {
        steps.push(RepairStep::EmptyAsObject);
        return Ok(Value::Object(Default::default()));
    }
    let strict_error = match serde_json::from_str::<Value>(text) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let unfenced = json::strip_fence(text);
    if let Some(inner) = unfenced
        && let Ok(v) = serde_json::from_str::<Value>(inner)
    {
        steps.push(RepairStep::Fence);
        return Ok(v);
    }
    let (rewritten, closed) = json::rewrite(unfenced.unwrap_or(text));
    match serde_json::from_str::<Value>(&rewritten) {
        Ok(v) => {
            if unfenced.is_some() {
                steps.push(RepairStep::Fence);
            }
            steps.push(RepairStep::Lenient);
            if closed {
                steps.push(RepairStep::Closed);
            }
            Ok(v)
        }
        Err(_) => Err(Refusal::new(
            RefusalCode::Malformed,
            format!(
                "arguments are not JSON (line {} column {})",
                strict_error.line(),
                strict_error.column()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn convert_tool() -> ToolDescriptor {
        ToolDescriptor::new(
            "convert_currency",
            json!({
                "type": "object",
                "properties": {
                    "amount": {"type": "number"},
                    "from_currency": {"type": "string", "enum": ["USD", "EUR"]},
                    "to_currency": {"type": "string", "enum": ["USD", "EUR"]},
                    "round": {"type": "boolean"}
                },
                "required": ["amount", "from_currency", "to_currency"],
                "additionalProperties": false
            }),
        )
        .with_alias("from", "from_currency")
        .with_alias("to", "to_currency")
    }

    fn fix(args: &str) -> Result<Repaired, Refusal> {
        repair(
            &RawCall::text("convert_currency", args),
            Some(&convert_tool()),
        )
    }

    #[test]
    fn valid_call_needs_no_steps() {
        let r = fix(r#"{"amount": 5, "from_currency": "USD", "to_currency": "EUR"}"#).unwrap();
        assert!(r.steps.is_empty());
    }

    #[test]
    fn alias_style_and_coercion_are_repaired() {
        let r = fix(r#"{"amount": "12.5", "from": "usd", "toCurrency": "EUR", "round": "yes"}"#)
            .unwrap();
        assert_eq!(
            r.call.args,
            json!({"amount": 12.5, "from_currency": "USD", "to_currency": "EUR", "round": true})
        );
        assert!(r.steps.contains(&RepairStep::Alias {
            from: "from".into(),
            to: "from_currency".into()
        }));
        assert!(r.steps.contains(&RepairStep::Alias {
            from: "toCurrency".into(),
            to: "to_currency".into()
        }));
        assert!(r.steps.contains(&RepairStep::EnumCase {
            arg: "from_currency".into()
        }));
    }

    #[test]
    fn positional_arguments_follow_required_order() {
        let r = fix(r#"[3, "EUR", "USD"]"#).unwrap();
        assert_eq!(
            r.call.args,
            json!({"amount": 3, "from_currency": "EUR", "to_currency": "USD"})
        );
        assert_eq!(r.steps, vec![RepairStep::Positional]);
    }

    #[test]
    fn double_encoded_and_lenient_json_are_repaired() {
        let inner = r#"{"amount": 1, "from_currency": "USD", "to_currency": "EUR"}"#;
        let r = repair(
            &RawCall::json("convert_currency", Value::String(inner.into())),
            Some(&convert_tool()),
        )
        .unwrap();
        assert_eq!(r.steps, vec![RepairStep::DoubleEncoded]);
        let r = fix("{amount: 1, from_currency: 'USD', to_currency: 'EUR',}").unwrap();
        assert_eq!(r.steps, vec![RepairStep::Lenient]);
    }

    #[test]
    fn unknown_parameter_of_closed_schema_is_misroute() {
        let err =
            fix(r#"{"amount": 1, "from_currency": "USD", "to_currency": "EUR", "flight": "UA1"}"#)
                .unwrap_err();
        assert_eq!(err.code, RefusalCode::Misroute);
        assert!(err.item.contains("\"flight\""), "{}", err.item);
    }

    #[test]
    fn unrepairable_calls_are_malformed_naming_the_argument() {
        let missing = fix(r#"{"amount": 1, "from_currency": "USD"}"#).unwrap_err();
        assert_eq!(missing.code, RefusalCode::Malformed);
        assert_eq!(missing.item, "missing required argument \"to_currency\"");
        let bad_type =
            fix(r#"{"amount": "lots", "from_currency": "USD", "to_currency": "EUR"}"#).unwrap_err();
        assert_eq!(bad_type.item, "argument \"amount\" must be number");
        let bad_enum =
            fix(r#"{"amount": 1, "from_currency": "GBP", "to_currency": "EUR"}"#).unwrap_err();
        assert_eq!(
            bad_enum.item,
            "argument \"from_currency\" is not one of its allowed values"
        );
        let not_json = fix("amount is five").unwrap_err();
        assert_eq!(not_json.code, RefusalCode::Malformed);
    }

    #[test]
    fn oversize_argument_text_is_refused_unparsed() {
        let big = format!("\"{}\"", "a".repeat(MAX_ARGS_BYTES));
        assert_eq!(fix(&big).unwrap_err().code, RefusalCode::Oversize);
    }
}

//! The scenario's tools over the in-memory [`World`]: their descriptors and handlers.
//!
//! Each tool checks its own arguments strictly against the schema it declares, the way a
//! real API rejects a field it does not know. That strictness is what makes a wrong
//! parameter name cost a turn when the tools are wired straight to the model; behind the
//! kernel the repair ladder renames it first (through the alias the descriptor declares).

use std::sync::Arc;

use serde_json::{Value, json};

use super::world::{CURRENCIES, Cents, World, convert};
use crate::tools::{InMemoryRegistry, SinkKind, ToolDescriptor, ToolError};

/// A schema for an object with exactly these properties, all of them required.
fn closed_schema(properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The descriptors of every scenario tool, in the order a model's tool list shows them.
pub fn descriptors() -> Vec<ToolDescriptor> {
    let text = json!({"type": "string"});
    let currency = json!({"type": "string", "enum": CURRENCIES});
    vec![
        ToolDescriptor::new(
            "lookup_account",
            closed_schema(json!({"customer_id": text})),
        )
        .pure_read(),
        ToolDescriptor::new(
            "fetch_policy",
            closed_schema(json!({"name": {"type": "string", "enum": ["refund", "baggage"]}})),
        )
        .pure_read(),
        ToolDescriptor::new(
            "search_flights",
            closed_schema(json!({"origin": text, "destination": text, "date": text})),
        )
        .pure_read(),
        ToolDescriptor::new(
            "convert_currency",
            closed_schema(json!({
                "amount": {"type": "number"},
                "from_currency": currency,
                "to_currency": currency,
            })),
        )
        .pure_read()
        // The name models reach for most often in place of `to_currency`.
        .with_alias("target_currency", "to_currency"),
        ToolDescriptor::new("get_booking", closed_schema(json!({"booking_id": text}))).pure_read(),
        ToolDescriptor::new(
            "book_flight",
            closed_schema(json!({"customer_id": text, "flight": text})),
        ),
        ToolDescriptor::new(
            "delete_account",
            closed_schema(json!({"customer_id": text})),
        )
        .with_sink(SinkKind::Destructive),
        ToolDescriptor::new(
            "issue_refund",
            closed_schema(
                json!({"booking_id": text, "amount": {"type": "number"}, "currency": currency}),
            ),
        )
        .with_sink(SinkKind::Destructive),
    ]
}

/// Arguments checked against a tool's schema: unknown names, missing names and wrong
/// types are the tool's own errors, worded so a reader can fix the call.
struct Checked<'a> {
    args: &'a serde_json::Map<String, Value>,
}

fn check<'a>(descriptor: &ToolDescriptor, args: &'a Value) -> Result<Checked<'a>, ToolError> {
    let Value::Object(map) = args else {
        return Err(ToolError("arguments must be a JSON object".to_string()));
    };
    let properties = descriptor.schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let names = || {
        let mut names: Vec<&str> = properties.keys().map(String::as_str).collect();
        names.sort_unstable();
        names.join(", ")
    };
    if let Some(unknown) = map.keys().find(|k| !properties.contains_key(*k)) {
        return Err(ToolError(format!(
            "unknown parameter \"{unknown}\"; parameters are {}",
            names()
        )));
    }
    for (name, schema) in &properties {
        let Some(value) = map.get(name) else {
            return Err(ToolError(format!("missing parameter \"{name}\"")));
        };
        let type_ok = match schema["type"].as_str() {
            Some("string") => value.is_string(),
            Some("number") => value.is_number(),
            _ => true,
        };
        let enum_ok = schema["enum"]
            .as_array()
            .is_none_or(|allowed| allowed.contains(value));
        if !type_ok || !enum_ok {
            return Err(ToolError(format!("invalid value for parameter \"{name}\"")));
        }
    }
    Ok(Checked { args: map })
}

impl Checked<'_> {
    fn text(&self, name: &str) -> &str {
        self.args.get(name).and_then(Value::as_str).unwrap_or("")
    }

    fn amount(&self, name: &str) -> Result<Cents, ToolError> {
        self.args
            .get(name)
            .and_then(Value::as_f64)
            .and_then(Cents::from_decimal)
            .ok_or_else(|| ToolError(format!("invalid value for parameter \"{name}\"")))
    }
}

fn reply(value: Value) -> Result<String, ToolError> {
    Ok(value.to_string())
}

/// What one tool does with checked arguments.
fn run(world: &World, tool: &str, a: &Checked<'_>) -> Result<String, ToolError> {
    let fail = |message: String| Err(ToolError(message));
    match tool {
        "lookup_account" => match world.customer(a.text("customer_id")) {
            Some((c, active)) => reply(json!({
                "customer_id": c.customer_id,
                "name": c.name,
                "tier": c.tier,
                "status": if active { "active" } else { "closed" },
            })),
            None => fail(format!("no customer \"{}\"", a.text("customer_id"))),
        },
        "fetch_policy" => match world.document(a.text("name")) {
            Some(text) => Ok(text),
            None => fail(format!("no document \"{}\"", a.text("name"))),
        },
        "search_flights" => {
            let flights: Vec<Value> = world
                .flights(a.text("origin"), a.text("destination"), a.text("date"))
                .into_iter()
                .map(|f| {
                    json!({
                        "flight": f.flight,
                        "departs": f.departs,
                        "stops": f.stops,
                        "fare": f.fare.to_decimal(),
                        "currency": f.currency,
                    })
                })
                .collect();
            reply(json!({ "flights": flights }))
        }
        "convert_currency" => {
            let (from, to) = (a.text("from_currency"), a.text("to_currency"));
            match convert(a.amount("amount")?, from, to) {
                Some(out) => reply(json!({ "amount": out.to_decimal(), "currency": to })),
                None => fail(format!("cannot convert {from} to {to}")),
            }
        }
        "get_booking" => match world.booking(a.text("booking_id")) {
            Some(b) => reply(json!({
                "booking_id": b.booking_id,
                "customer_id": b.customer_id,
                "flight": b.flight,
                "fare": b.fare.to_decimal(),
                "currency": b.currency,
                "status": b.status,
            })),
            None => fail(format!("no booking \"{}\"", a.text("booking_id"))),
        },
        "book_flight" => match world.book(a.text("customer_id"), a.text("flight")) {
            Ok(b) => reply(json!({
                "booking_id": b.booking_id,
                "flight": b.flight,
                "fare": b.fare.to_decimal(),
                "currency": b.currency,
                "status": b.status,
            })),
            Err(message) => fail(message),
        },
        "delete_account" => match world.delete_account(a.text("customer_id")) {
            Ok(()) => reply(json!({ "deleted": a.text("customer_id") })),
            Err(message) => fail(message),
        },
        "issue_refund" => {
            let amount = a.amount("amount")?;
            match world.refund(a.text("booking_id"), amount, a.text("currency")) {
                Ok(refund_id) => reply(json!({
                    "refund_id": refund_id,
                    "amount": amount.to_decimal(),
                    "currency": a.text("currency"),
                })),
                Err(message) => fail(message),
            }
        }
        other => fail(format!("no tool named \"{other}\"")),
    }
}

/// The scenario tools as a registry over `world`. Every call that reaches a handler is
/// noted in the world, whether the tool then accepts it or not.
pub fn registry(world: &Arc<World>) -> InMemoryRegistry {
    let mut registry = InMemoryRegistry::new();
    for descriptor in descriptors() {
        let world = Arc::clone(world);
        let own = descriptor.clone();
        registry.register(descriptor, move |args: &Value| {
            world.note_dispatch(&own.name);
            let checked = check(&own, args)?;
            run(&world, &own.name, &checked)
        });
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::world::RefundDocument;
    use crate::tools::{ToolCall, ToolRegistry};

    fn call(tool: &str, args: Value) -> Result<String, ToolError> {
        let world = Arc::new(World::new(RefundDocument::Clean));
        registry(&world).dispatch(&ToolCall::new(tool, args))
    }

    #[test]
    fn a_wrong_parameter_name_is_rejected_naming_the_real_ones() {
        let err = call(
            "convert_currency",
            json!({"amount": 348.0, "from_currency": "EUR", "target_currency": "USD"}),
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            "unknown parameter \"target_currency\"; parameters are amount, from_currency, to_currency"
        );
    }

    #[test]
    fn conversion_answers_in_the_target_currency() {
        let out = call(
            "convert_currency",
            json!({"amount": 348.0, "from_currency": "EUR", "to_currency": "USD"}),
        )
        .unwrap();
        assert_eq!(out, r#"{"amount":379.32,"currency":"USD"}"#);
    }

    #[test]
    fn missing_and_mistyped_arguments_are_named() {
        assert_eq!(
            call("lookup_account", json!({})).unwrap_err().0,
            "missing parameter \"customer_id\""
        );
        assert_eq!(
            call("fetch_policy", json!({"name": "privacy"}))
                .unwrap_err()
                .0,
            "invalid value for parameter \"name\""
        );
    }
}

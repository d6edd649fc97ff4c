//! Fitting parsed arguments to a tool's JSON schema: positions, aliases, types.
//!
//! Only the top level of the schema is read (`properties`, `required`, `type`, `enum`,
//! `additionalProperties`); nested objects pass as they are.

use serde_json::{Map, Value};

use super::RepairStep;
use crate::refusal::{Refusal, RefusalCode};
use crate::tools::ToolDescriptor;

fn malformed(item: String) -> Refusal {
    Refusal::new(RefusalCode::Malformed, item)
}

/// Brings `args` into the shape the schema asks for, recording each change.
pub fn fit(
    args: Value,
    desc: &ToolDescriptor,
    steps: &mut Vec<RepairStep>,
) -> Result<Value, Refusal> {
    let schema = &desc.schema;
    let properties = schema.get("properties").and_then(Value::as_object);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut object = match args {
        Value::Object(map) => map,
        Value::Array(items) => {
            if items.len() > required.len() {
                return Err(malformed(format!(
                    "{} positional arguments, tool \"{}\" takes at most {}",
                    items.len(),
                    desc.name,
                    required.len()
                )));
            }
            steps.push(RepairStep::Positional);
            required.iter().map(|k| k.to_string()).zip(items).collect()
        }
        Value::Null => Map::new(),
        scalar => {
            let single = match (required.as_slice(), properties) {
                ([only], _) => Some(only.to_string()),
                ([], Some(props)) if props.len() == 1 => props.keys().next().cloned(),
                _ => None,
            };
            let Some(name) = single else {
                return Err(malformed("arguments must be an object".to_string()));
            };
            steps.push(RepairStep::WrappedScalar);
            Map::from_iter([(name, scalar)])
        }
    };
    let Some(properties) = properties else {
        return Ok(Value::Object(object));
    };
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    let unknown: Vec<String> = object
        .keys()
        .filter(|k| !properties.contains_key(*k))
        .cloned()
        .collect();
    for key in unknown {
        let target = desc
            .aliases
            .get(&key)
            .filter(|t| properties.contains_key(*t))
            .cloned()
            .or_else(|| style_match(&key, properties));
        match target {
            Some(target) => {
                if object.contains_key(&target) {
                    return Err(malformed(format!(
                        "argument \"{target}\" given twice (as \"{target}\" and \"{key}\")"
                    )));
                }
                let value = object.remove(&key).unwrap_or(Value::Null);
                object.insert(target.clone(), value);
                steps.push(RepairStep::Alias {
                    from: key,
                    to: target,
                });
            }
            None if closed => {
                return Err(Refusal::new(
                    RefusalCode::Misroute,
                    format!(
                        "argument \"{key}\" is not a parameter of tool \"{}\"",
                        desc.name
                    ),
                ));
            }
            None => {}
        }
    }
    for (name, prop) in properties {
        if let Some(value) = object.get_mut(name) {
            coerce(name, value, prop, steps)?;
        }
    }
    if let Some(missing) = required.iter().find(|k| !object.contains_key(**k)) {
        return Err(malformed(format!(
            "missing required argument \"{missing}\""
        )));
    }
    Ok(Value::Object(object))
}

/// A property whose name equals `key` once case and `_`/`-`/space are ignored
/// (`fromCurrency` and `from-currency` both fit `from_currency`), if exactly one does.
fn style_match(key: &str, properties: &Map<String, Value>) -> Option<String> {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = fold(key);
    let mut hits = properties.keys().filter(|p| fold(p) == wanted);
    match (hits.next(), hits.next()) {
        (Some(one), None) => Some(one.clone()),
        _ => None,
    }
}

fn coerce(
    name: &str,
    value: &mut Value,
    prop: &Value,
    steps: &mut Vec<RepairStep>,
) -> Result<(), Refusal> {
    let types: Vec<&str> = match prop.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
        let converted = types
            .iter()
            .find_map(|t| convert(value, t).map(|v| (*t, v)));
        match converted {
            Some((t, v)) => {
                *value = v;
                steps.push(RepairStep::Coerced {
                    arg: name.to_string(),
                    to: t.to_string(),
                });
            }
            None => {
                return Err(malformed(format!(
                    "argument \"{name}\" must be {}",
                    types.join(" or ")
                )));
            }
        }
    }
    if let Some(allowed) = prop.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let folded = value.as_str().and_then(|s| {
            let mut hits = allowed
                .iter()
                .filter(|a| a.as_str().is_some_and(|a| a.eq_ignore_ascii_case(s)));
            match (hits.next(), hits.next()) {
                (Some(one), None) => Some(one.clone()),
                _ => None,
            }
        });
        match folded {
            Some(v) => {
                *value = v;
                steps.push(RepairStep::EnumCase {
                    arg: name.to_string(),
                });
            }
            None => {
                return Err(malformed(format!(
                    "argument \"{name}\" is not one of its allowed values"
                )));
            }
        }
    }
    Ok(())
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        // An unknown type name constrains nothing.
        _ => true,
    }
}

fn convert(value: &Value, t: &str) -> Option<Value> {
    match (t, value) {
        ("integer", Value::String(s)) => s.trim().parse::<i64>().ok().map(Value::from),
        ("integer", Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| Value::from(f as i64)),
        ("number", Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        ("boolean", Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(Value::Bool(true)),
            "false" | "no" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        ("boolean", Value::Number(n)) => match n.as_i64() {
            Some(0) => Some(Value::Bool(false)),
            Some(1) => Some(Value::Bool(true)),
            _ => None,
        },
        ("string", Value::Number(_) | Value::Bool(_)) => Some(Value::String(value.to_string())),
        ("array", Value::String(s)) if s.trim_start().starts_with('[') => {
            serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_array)
        }
        ("array", other) if !other.is_null() => Some(Value::Array(vec![other.clone()])),
        ("object", Value::String(s)) => serde_json::from_str::<Value>(s)
            .ok()
            .filter(Value::is_object),
        _ => None,
    }
}

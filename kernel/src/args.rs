//! Walking a call's arguments: every string inside, labelled with its top-level argument.
//!
//! Rungs that look inside arguments (self-modification, egress) must see strings at any
//! depth, or a model hides a path in `{"opts": {"target": "..."}}`. The walk is bounded:
//! past the bounds it reports truncation and the caller treats that as a refusal.

use serde_json::Value;

/// Deepest nesting walked.
pub const MAX_DEPTH: usize = 32;
/// Most strings collected from one call.
pub const MAX_STRINGS: usize = 4096;

/// The strings in `args`, each with the name of the top-level argument holding it.
#[derive(Debug, Default)]
pub struct ArgStrings<'a> {
    pub strings: Vec<(&'a str, &'a str)>,
    /// True if the bounds cut the walk short.
    pub truncated: bool,
}

pub fn strings(args: &Value) -> ArgStrings<'_> {
    let mut out = ArgStrings::default();
    match args {
        Value::Object(map) => {
            for (name, value) in map {
                walk(name, value, 0, &mut out);
            }
        }
        other => walk("*", other, 0, &mut out),
    }
    out
}

fn walk<'a>(name: &'a str, value: &'a Value, depth: usize, out: &mut ArgStrings<'a>) {
    if depth > MAX_DEPTH || out.strings.len() >= MAX_STRINGS {
        out.truncated = true;
        return;
    }
    match value {
        Value::String(s) => out.strings.push((name, s)),
        Value::Array(items) => items.iter().for_each(|v| walk(name, v, depth + 1, out)),
        Value::Object(map) => map.values().for_each(|v| walk(name, v, depth + 1, out)),
        _ => {}
    }
}

/// Whether `key` is an object key anywhere in `args`.
pub fn has_key(args: &Value, key: &str) -> bool {
    match args {
        Value::Object(map) => map.contains_key(key) || map.values().any(|v| has_key(v, key)),
        Value::Array(items) => items.iter().any(|v| has_key(v, key)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_strings_carry_their_top_level_name() {
        let args = json!({"a": "x", "b": {"c": ["y", 1, {"d": "z"}]}});
        let s = strings(&args);
        assert_eq!(s.strings, vec![("a", "x"), ("b", "y"), ("b", "z")]);
        assert!(!s.truncated);
    }

    #[test]
    fn deep_nesting_is_reported_as_truncated() {
        let mut v = json!("deep");
        for _ in 0..40 {
            v = json!([v]);
        }
        assert!(strings(&json!({"a": v})).truncated);
    }

    #[test]
    fn has_key_finds_nested_keys() {
        assert!(has_key(&json!({"a": [{"token": 1}]}), "token"));
        assert!(!has_key(&json!({"a": ["token"]}), "token"));
    }
}

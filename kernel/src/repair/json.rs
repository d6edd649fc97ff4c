//! Lenient JSON: the mistakes models make in argument text, undone.
//!
//! One pass over the text rewrites it to strict JSON: single-quoted strings become
//! double-quoted, bare keys are quoted, Python's `True`/`False`/`None` become JSON
//! literals, trailing commas go, and unclosed strings and brackets are closed at the end.
//! Markdown code fences around the text are removed first. The result must then parse
//! strictly; anything else is MALFORMED.

/// Removes a surrounding markdown code fence (```json ... ```), if there is one.
pub fn strip_fence(text: &str) -> Option<&str> {
    let t = text.trim();
    let inner = t.strip_prefix("```")?.strip_suffix("```")?;
    let inner = inner.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    Some(inner.trim())
}

/// Rewrites near-JSON to JSON. Returns the text and whether it had to close anything.
pub fn rewrite(text: &str) -> (String, bool) {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut stack: Vec<char> = Vec::new();
    let mut i = 0;
    let mut closed = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' => {
                let (literal, next, terminated) = read_string(&chars, i, c);
                closed |= !terminated;
                out.push_str(&literal);
                i = next;
            }
            '{' | '[' => {
                stack.push(if c == '{' { '}' } else { ']' });
                out.push(c);
                i += 1;
            }
            '}' | ']' => {
                // A trailing comma before a closer is dropped.
                let trimmed_len = out.trim_end().len();
                if out[..trimmed_len].ends_with(',') {
                    out.truncate(trimmed_len - 1);
                }
                if stack.last() == Some(&c) {
                    stack.pop();
                }
                out.push(c);
                i += 1;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next_non_space = chars[i..].iter().find(|c| !c.is_whitespace());
                if next_non_space == Some(&':') && stack.last() == Some(&'}') {
                    out.push_str(&serde_json::Value::String(word).to_string());
                } else {
                    out.push_str(match word.as_str() {
                        "True" => "true",
                        "False" => "false",
                        "None" => "null",
                        other => other,
                    });
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    let trimmed_len = out.trim_end().len();
    if !stack.is_empty() && out[..trimmed_len].ends_with(',') {
        out.truncate(trimmed_len - 1);
    }
    while let Some(closer) = stack.pop() {
        out.push(closer);
        closed = true;
    }
    (out, closed)
}

/// Reads a string literal quoted with `quote` starting at `start`; returns it as a JSON
/// string literal, the index after it, and whether it was terminated.
fn read_string(chars: &[char], start: usize, quote: char) -> (String, usize, bool) {
    let mut value = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let esc = chars[i + 1];
            match esc {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                'b' => value.push('\u{8}'),
                'f' => value.push('\u{c}'),
                'u' => {
                    let hex: String = chars
                        .get(i + 2..i + 6)
                        .map(|h| h.iter().collect())
                        .unwrap_or_default();
                    if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        value.push(ch);
                        i += 6;
                        continue;
                    }
                    value.push('u');
                }
                other => value.push(other),
            }
            i += 2;
            continue;
        }
        if c == quote {
            return (serde_json::Value::String(value).to_string(), i + 1, true);
        }
        value.push(c);
        i += 1;
    }
    (serde_json::Value::String(value).to_string(), i, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn fixed(text: &str) -> Value {
        serde_json::from_str(&rewrite(text).0).unwrap()
    }

    #[test]
    fn single_quotes_bare_keys_and_python_literals_are_fixed() {
        assert_eq!(
            fixed("{'city': 'O\\'Hare', direct: True, seat: None}"),
            json!({"city": "O'Hare", "direct": true, "seat": null})
        );
    }

    #[test]
    fn trailing_commas_are_dropped() {
        assert_eq!(
            fixed(r#"{"a": [1, 2,], "b": 3,}"#),
            json!({"a": [1, 2], "b": 3})
        );
    }

    #[test]
    fn unclosed_brackets_and_strings_are_closed() {
        let (text, closed) = rewrite(r#"{"q": "sfo to jfk"#);
        assert!(closed);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"q": "sfo to jfk"})
        );
    }

    #[test]
    fn fence_is_stripped() {
        assert_eq!(strip_fence("```json\n{\"a\": 1}\n```"), Some("{\"a\": 1}"));
        assert_eq!(strip_fence("{\"a\": 1}"), None);
    }

    #[test]
    fn words_inside_strings_are_untouched() {
        assert_eq!(
            fixed(r#"{"note": "True story, None left"}"#),
            json!({"note": "True story, None left"})
        );
    }
}

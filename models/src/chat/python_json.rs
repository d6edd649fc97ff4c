//! `tojson` as transformers defines it for chat templates: Python's
//! `json.dumps(x, ensure_ascii=False)`, so a template renders the same bytes here as in
//! Python.
//!
//! It differs from minijinja's built-in filter in three ways that change the rendered
//! prompt, hence the tokens: `", "` and `": "` separators, keys in insertion order (the
//! order of the JSON the caller gave), and no HTML escaping. Floats print as Python's
//! `repr` does (`1e-05`, `1.0`).

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, Value};

/// The layout `json.dumps` was asked for.
#[derive(Debug, Clone, Copy)]
struct Style {
    /// `indent=N`: one item per line, nested N spaces deeper per level.
    indent: Option<usize>,
    ensure_ascii: bool,
    sort_keys: bool,
}

/// The `tojson` filter: `value | tojson`, `tojson(indent=2)`, `tojson(sort_keys=true)`,
/// `tojson(ensure_ascii=true)`, with Python's defaults.
pub(crate) fn tojson(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let style = Style {
        indent: kwargs.get::<Option<usize>>("indent")?,
        ensure_ascii: kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(false),
        sort_keys: kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    let mut out = String::new();
    write_value(&mut out, value, style, 0)?;
    Ok(Value::from(out))
}

fn write_value(out: &mut String, value: &Value, style: Style, depth: usize) -> Result<(), Error> {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number if value.is_integer() => out.push_str(&value.to_string()),
        ValueKind::Number => out.push_str(&python_float(f64::try_from(value.clone())?)),
        ValueKind::String => write_str(out, value.as_str().unwrap_or_default(), style),
        ValueKind::Map => {
            let mut pairs = Vec::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                pairs.push((key_string(&key)?, item));
            }
            if style.sort_keys {
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
            }
            write_container(out, ('{', '}'), pairs.len(), style, depth, |out, i| {
                let (key, item) = &pairs[i];
                write_str(out, key, style);
                out.push_str(": ");
                write_value(out, item, style, depth + 1)
            })?;
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            write_container(out, ('[', ']'), items.len(), style, depth, |out, i| {
                write_value(out, &items[i], style, depth + 1)
            })?;
        }
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson: a {other} value is not JSON serializable"),
            ));
        }
    }
    Ok(())
}

/// `open`, the items separated as `json.dumps` separates them, `close`.
fn write_container(
    out: &mut String,
    (open, close): (char, char),
    len: usize,
    style: Style,
    depth: usize,
    mut item: impl FnMut(&mut String, usize) -> Result<(), Error>,
) -> Result<(), Error> {
    out.push(open);
    for i in 0..len {
        match style.indent {
            None if i > 0 => out.push_str(", "),
            None => {}
            Some(indent) => {
                out.push_str(if i > 0 { ",\n" } else { "\n" });
                out.extend(std::iter::repeat_n(' ', indent * (depth + 1)));
            }
        }
        item(out, i)?;
    }
    if let (Some(indent), true) = (style.indent, len > 0) {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', indent * depth));
    }
    out.push(close);
    Ok(())
}

/// A map key as Python's `json.dumps` writes it: strings as they are, numbers and booleans
/// in their JSON spelling.
fn key_string(key: &Value) -> Result<String, Error> {
    match key.kind() {
        ValueKind::String => Ok(key.as_str().unwrap_or_default().to_owned()),
        ValueKind::None => Ok("null".to_owned()),
        ValueKind::Bool | ValueKind::Number => {
            let mut s = String::new();
            write_value(
                &mut s,
                key,
                Style {
                    indent: None,
                    ensure_ascii: false,
                    sort_keys: false,
                },
                0,
            )?;
            Ok(s)
        }
        other => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("tojson: keys must be str, int, float, bool or None, not {other}"),
        )),
    }
}

/// A JSON string literal as Python escapes it.
fn write_str(out: &mut String, s: &str, style: Style) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (style.ensure_ascii && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `repr(v)` of a Python float: the shortest digits that round-trip, in positional notation
/// when the decimal exponent is in [-4, 16), else scientific with a signed two-digit exponent.
fn python_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // Rust's `{:e}` prints the shortest round-trip digits: "1.2345e3", "-5e-7", "0e0".
    let sci = format!("{:e}", v.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if v.is_sign_negative() { "-" } else { "" };
    // The decimal point sits after `point` digits.
    let point = exponent + 1;
    let body = if (-3..=16).contains(&point) {
        let n = digits.len() as i32;
        if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point >= n {
            format!("{digits}{}.0", "0".repeat((point - n) as usize))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{first}{frac}e{exp_sign}{:02}", exponent.abs())
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (123456.789, "123456.789"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (-2.5e-7, "-2.5e-07"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
            (1.5e300, "1.5e+300"),
        ];
        for (v, want) in cases {
            assert_eq!(python_float(v), want, "{v:e}");
        }
    }

    fn render(template: &str, ctx: Value) -> String {
        let mut env = minijinja::Environment::new();
        env.add_filter("tojson", tojson);
        env.render_str(template, ctx).unwrap()
    }

    #[test]
    fn objects_keep_insertion_order_with_python_separators_and_no_html_escaping() {
        let value: Value = serde_json::from_str(
            r#"{"z": 1, "a": [true, null, 2.0], "html": "<a href='x'>&</a>", "é": "\n\u0001"}"#,
        )
        .unwrap();
        let got = render("{{ v | tojson }}", minijinja::context! { v => value });
        assert_eq!(
            got,
            r#"{"z": 1, "a": [true, null, 2.0], "html": "<a href='x'>&</a>", "é": "\n\u0001"}"#
        );
    }

    #[test]
    fn indent_sort_keys_and_ensure_ascii_follow_json_dumps() {
        let value: Value = serde_json::from_str(r#"{"b": [1, {}], "a": "é"}"#).unwrap();
        let got = render(
            "{{ v | tojson(indent=2, sort_keys=true, ensure_ascii=true) }}",
            minijinja::context! { v => value },
        );
        assert_eq!(
            got,
            "{\n  \"a\": \"\\u00e9\",\n  \"b\": [\n    1,\n    {}\n  ]\n}"
        );
    }
}

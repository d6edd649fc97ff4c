//! How numbers are written in generated text: integers exactly and grouped by thousands,
//! everything else in Rust's shortest round-trip form, so a document never shows a value
//! the ledger does not hold.

/// Integers below 2^53 are exact in f64; above it a value is written in float form.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// The value as an integer when it is one exactly (and small enough to stay exact).
pub fn as_exact_integer(value: f64) -> Option<i64> {
    // The guard makes the cast exact.
    (value.fract() == 0.0 && value.abs() < EXACT_INTEGER_LIMIT).then_some(value as i64)
}

/// `170930292` for an integer, the shortest round-trip form otherwise (`0.5`).
pub fn plain(value: f64) -> String {
    match as_exact_integer(value) {
        Some(i) => i.to_string(),
        None => format!("{value}"),
    }
}

/// `170,930,292` for an integer, [`plain`] otherwise.
pub fn grouped(value: f64) -> String {
    let Some(i) = as_exact_integer(value) else {
        return plain(value);
    };
    let digits = i.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if i < 0 {
        out.push('-');
    }
    for (k, ch) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A ratio to four decimals (`8.8167`): enough to compare, and stable across runs because
/// the ledger stores the exact quotient.
pub fn ratio(value: f64) -> String {
    format!("{value:.4}")
}

/// Axis-label form: `1.4G`, `250k`, `12`: short enough for a tick, exact to three
/// significant digits.
pub fn compact(value: f64) -> String {
    const SCALES: [(f64, &str); 5] = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    let magnitude = value.abs();
    for (scale, suffix) in SCALES {
        if magnitude >= scale {
            return format!("{}{suffix}", three_significant(value / scale));
        }
    }
    three_significant(value)
}

fn three_significant(value: f64) -> String {
    let text = if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    // "2.50" -> "2.5", "3.00" -> "3"
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_puts_separators_every_three_digits() {
        assert_eq!(grouped(170_930_292.0), "170,930,292");
        assert_eq!(grouped(-1_367_442_336.0), "-1,367,442,336");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(1000.0), "1,000");
        assert_eq!(grouped(0.25), "0.25");
    }

    #[test]
    fn compact_scales_to_three_significant_digits() {
        assert_eq!(compact(1_367_442_336.0), "1.37G");
        assert_eq!(compact(250_000.0), "250k");
        assert_eq!(compact(12.0), "12");
        assert_eq!(compact(0.5), "0.5");
        assert_eq!(compact(3_000.0), "3k");
    }

    #[test]
    fn plain_writes_integers_without_a_fraction() {
        assert_eq!(plain(3.0), "3");
        assert_eq!(plain(2.5), "2.5");
    }
}

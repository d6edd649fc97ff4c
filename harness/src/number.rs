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
    fn plain_writes_integers_without_a_fraction() {
        assert_eq!(plain(3.0), "3");
        assert_eq!(plain(2.5), "2.5");
    }
}

//! How generated tables write durations, rates and ratios.

use crate::ledger::Entry;
use crate::number::{compact, grouped};

/// `0.08x`, `1.9x`, `44x`: three significant digits at most.
pub fn times(ratio: f64) -> String {
    format!("{}x", compact(ratio))
}

/// A duration in nanoseconds as `47.8 µs`, `2.11 ms`, `23.9 s`.
pub fn duration_ns(ns: f64) -> String {
    let (value, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    format!("{} {unit}", compact(value))
}

/// An entry's value in its unit, durations scaled to read well (`7.5 µs`, `931 ms`), other
/// units as they are (`24.1 MiB/s`, `8,099 requests/s`).
pub fn measured(e: &Entry) -> String {
    let ns_per_unit = match e.unit.as_str() {
        "ns" => 1.0,
        "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return format!("{} {}", compact_or_grouped(e.value), e.unit),
    };
    duration_ns(e.value * ns_per_unit)
}

/// A repeated measurement as `median (min to max)`, from the `min` and `max` params that
/// the harness writes beside the median; the median alone when they are absent.
pub fn with_range(e: &Entry) -> String {
    let param = |k: &str| e.params.get(k).and_then(|p| p.as_number());
    match (param("min"), param("max")) {
        (Some(min), Some(max)) => {
            let at = |value: f64| measured(&Entry { value, ..e.clone() });
            format!("{} ({} to {})", measured(e), at(min), at(max))
        }
        _ => measured(e),
    }
}

/// Values of 1,000 and more grouped and rounded (`1,234`), smaller ones to three
/// significant digits (`76.5`).
pub fn compact_or_grouped(value: f64) -> String {
    if value >= 1000.0 {
        grouped(value.round())
    } else {
        compact(value)
    }
}

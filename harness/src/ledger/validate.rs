//! The rules an entry and a whole ledger must satisfy. Both the loader and the writers
//! run them, so a ledger on disk is always one that passed.

use std::collections::{BTreeSet, HashMap};

use super::entry::{Entry, Provenance};
use super::error::EntryProblem;

/// How far a stated ratio may sit from value / baseline, relative to it: room for another
/// tool's last-digit formatting, none for a hand-rounded number.
const RATIO_RELATIVE_TOLERANCE: f64 = 1e-9;

/// Checks one entry on its own.
pub fn check_entry(entry: &Entry) -> Result<(), EntryProblem> {
    check_id(&entry.id)?;
    non_empty("title", &entry.title)?;
    non_empty("unit", &entry.unit)?;
    non_empty("command", &entry.command)?;
    finite("value", entry.value)?;
    for (field, text) in [
        ("method", &entry.method),
        ("artifact", &entry.artifact),
        ("machine", &entry.machine),
    ] {
        if let Some(text) = text {
            non_empty(field, text)?;
        }
    }
    if entry.provenance == Provenance::Measured {
        for (field, present) in [
            ("machine", entry.machine.is_some()),
            ("date", entry.date.is_some()),
            ("commit", entry.commit.is_some()),
        ] {
            if !present {
                return Err(EntryProblem::MissingForProvenance {
                    field,
                    provenance: entry.provenance,
                });
            }
        }
    }
    if let Some(date) = &entry.date {
        check_date(date)?;
    }
    if let Some(commit) = &entry.commit {
        check_commit(commit)?;
    }
    check_baseline_and_ratio(entry)?;
    if entry.params.keys().any(String::is_empty) {
        return Err(EntryProblem::EmptyParamKey);
    }
    check_series(entry)
}

/// Checks what only the whole set can show: unique ids and baselines that cite entries.
/// Returns the offending entry's id with the problem.
pub fn check_set(entries: &[Entry]) -> Result<(), (String, EntryProblem)> {
    let mut seen = BTreeSet::new();
    for entry in entries {
        if !seen.insert(entry.id.as_str()) {
            return Err((entry.id.clone(), EntryProblem::DuplicateId));
        }
    }
    let values: HashMap<&str, f64> = entries.iter().map(|e| (e.id.as_str(), e.value)).collect();
    for entry in entries {
        let Some(baseline) = &entry.baseline else {
            continue;
        };
        let Some(cited) = &baseline.entry else {
            continue;
        };
        match values.get(cited.as_str()) {
            None => {
                return Err((
                    entry.id.clone(),
                    EntryProblem::BaselineEntryMissing(cited.clone()),
                ));
            }
            Some(&expected) if expected != baseline.value => {
                return Err((
                    entry.id.clone(),
                    EntryProblem::BaselineValueMismatch {
                        entry: cited.clone(),
                        value: baseline.value,
                        expected,
                    },
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn check_id(id: &str) -> Result<(), EntryProblem> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c);
    if id.is_empty() || !id.chars().all(allowed) {
        return Err(EntryProblem::BadId);
    }
    Ok(())
}

fn non_empty(field: &'static str, text: &str) -> Result<(), EntryProblem> {
    if text.trim().is_empty() {
        return Err(EntryProblem::Empty(field));
    }
    Ok(())
}

fn finite(field: &'static str, value: f64) -> Result<(), EntryProblem> {
    if !value.is_finite() {
        return Err(EntryProblem::NotFinite(field));
    }
    Ok(())
}

fn check_date(date: &str) -> Result<(), EntryProblem> {
    let well_formed = date.len() == 10 && date.parse::<jiff::civil::Date>().is_ok();
    if !well_formed {
        return Err(EntryProblem::BadDate(date.to_string()));
    }
    Ok(())
}

fn check_commit(commit: &str) -> Result<(), EntryProblem> {
    let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if commit.len() != 40 || !commit.chars().all(hex) {
        return Err(EntryProblem::BadCommit(commit.to_string()));
    }
    Ok(())
}

fn check_baseline_and_ratio(entry: &Entry) -> Result<(), EntryProblem> {
    let Some(baseline) = &entry.baseline else {
        return match entry.ratio {
            Some(_) => Err(EntryProblem::RatioWithoutBaseline),
            None => Ok(()),
        };
    };
    non_empty("baseline.what", &baseline.what)?;
    finite("baseline.value", baseline.value)?;
    let Some(ratio) = entry.ratio else {
        return Ok(());
    };
    finite("ratio", ratio)?;
    if baseline.value == 0.0 {
        return Err(EntryProblem::ZeroBaseline);
    }
    let expected = entry.value / baseline.value;
    if (ratio - expected).abs() > RATIO_RELATIVE_TOLERANCE * expected.abs() {
        return Err(EntryProblem::RatioMismatch { ratio, expected });
    }
    Ok(())
}

fn check_series(entry: &Entry) -> Result<(), EntryProblem> {
    let Some(series) = &entry.series else {
        return Ok(());
    };
    non_empty("series.x_label", &series.x_label)?;
    non_empty("series.x_unit", &series.x_unit)?;
    let Some(&[_, last_y]) = series.points.last() else {
        return Err(EntryProblem::SeriesEmpty);
    };
    for (index, [x, y]) in series.points.iter().enumerate() {
        if !x.is_finite() || !y.is_finite() {
            return Err(EntryProblem::SeriesNotFinite(index));
        }
        if index > 0 && *x <= series.points[index - 1][0] {
            return Err(EntryProblem::SeriesNotIncreasing(index));
        }
    }
    if entry.value != last_y {
        return Err(EntryProblem::SeriesValueMismatch {
            value: entry.value,
            last: last_y,
        });
    }
    Ok(())
}

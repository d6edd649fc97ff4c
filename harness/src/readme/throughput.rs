//! `harness throughput`'s results: one table of fak against its peers, and fak's verdict on
//! each target, for any study the command wrote (the default benchmark checkpoint, or a
//! `--study NAME` run such as Gemma 3).

use crate::ledger::{Entry, Ledger};
use crate::number::compact;
use crate::throughput::roofline_applies;

use super::format::{compact_or_grouped, times};
use super::{ReadmeError, get};

/// One `harness throughput` study as README shows it.
pub struct Study {
    pub block: &'static str,
    /// The `--study` name, `None` for the default benchmark checkpoint.
    pub name: Option<&'static str>,
    /// The bounds fak's ratios are held to, in the order the verdicts are written.
    pub targets: &'static [Target],
}

/// A bound on one of fak's ratios.
pub struct Target {
    pub measure: Measure,
    /// The ratio that meets the target: at least this for a speed, at most for memory.
    pub bound: f64,
}

#[derive(Clone, Copy)]
pub enum Measure {
    /// Prefill tokens/s against the baseline engine's, in the same run.
    Prefill,
    /// Decode tokens/s against the baseline engine's, in the same run.
    Decode,
    /// Peak resident set against the weight bytes a decode step reads.
    PeakRss,
}

/// The Qwen2.5-0.5B-shaped benchmark checkpoint.
pub const DEFAULT: Study = Study {
    block: "throughput",
    name: None,
    targets: &[
        Target {
            measure: Measure::Decode,
            bound: 0.9,
        },
        Target {
            measure: Measure::PeakRss,
            bound: 1.2,
        },
        Target {
            measure: Measure::Prefill,
            bound: 0.8,
        },
    ],
};

/// Gemma 3 270M from its Q4_K_M GGUF, against llama.cpp on the same file.
pub const GEMMA3: Study = Study {
    block: "throughput_gemma3",
    name: Some("gemma3"),
    targets: &[
        Target {
            measure: Measure::Decode,
            bound: 0.9,
        },
        Target {
            measure: Measure::Prefill,
            bound: 0.8,
        },
    ],
};

/// fak on CUDA against transformers on the same GPU (`bench/gpu/cuda_check.sh`, run where a
/// GPU machine is lent): no issue sets a target for it.
pub const CUDA: Study = Study {
    block: "throughput_cuda",
    name: Some("cuda"),
    targets: &[],
};

impl Measure {
    fn id_part(self) -> &'static str {
        match self {
            Self::Prefill => "prefill",
            Self::Decode => "decode",
            Self::PeakRss => "peak_rss",
        }
    }

    fn is_upper_bound(self) -> bool {
        matches!(self, Self::PeakRss)
    }
}

impl Study {
    /// `throughput.REST`, or `throughput.NAME.REST`, as `harness throughput` writes ids.
    fn id(&self, rest: &str) -> String {
        match self.name {
            None => format!("throughput.{rest}"),
            Some(name) => format!("throughput.{name}.{rest}"),
        }
    }

    fn get<'a>(&self, ledger: &'a Ledger, rest: &str) -> Result<&'a Entry, ReadmeError> {
        get(ledger, self.block, &self.id(rest))
    }

    /// The engine every speed ratio is taken against: the one whose decode entry has no
    /// baseline (the roofline aside), named by its `engine` param.
    fn baseline<'a>(&self, decode: &[&'a Entry]) -> Result<&'a Entry, ReadmeError> {
        let roofline = self.id("decode.roofline");
        decode
            .iter()
            .copied()
            .find(|e| e.baseline.is_none() && e.id != roofline)
            .ok_or_else(|| ReadmeError::Inconsistent {
                block: self.block,
                what: format!(
                    "no engine in {} is the baseline (every decode entry has one)",
                    self.id("decode.*")
                ),
            })
    }

    /// The table, then one sentence of verdicts.
    pub fn render(&self, ledger: &Ledger) -> Result<String, ReadmeError> {
        let study = match self.name {
            None => "decode_throughput".to_string(),
            Some(name) => format!("decode_throughput.{name}"),
        };
        let decode = ledger.study(&study);
        if decode.is_empty() {
            return Err(ReadmeError::Missing {
                block: self.block,
                id: self.id("decode.*"),
            });
        }
        let baseline = self.baseline(&decode)?;
        let base = engine_name(baseline);
        let mut out = format!(
            "| engine | prefill tok/s | vs {base} | decode tok/s | vs {base} | peak RSS / weight bytes |\n|---|---|---|---|---|---|\n"
        );
        let prefix = self.id("decode.");
        for d in &decode {
            let Some(slug) = d.id.strip_prefix(&prefix) else {
                continue;
            };
            if slug == "roofline" {
                out.push_str(&format!(
                    "| roofline (MODELED: read bandwidth {} GB/s / weight bytes) | | | {} | | |\n",
                    compact(self.get(ledger, "bandwidth")?.value),
                    compact_or_grouped(d.value)
                ));
                continue;
            }
            let prefill = self.get(ledger, &format!("prefill.{slug}"))?;
            let rss = self.get(ledger, &format!("peak_rss.{slug}"))?;
            let vs = |e: &Entry| e.ratio.map_or("baseline".to_string(), times);
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                engine_name(d),
                compact_or_grouped(prefill.value),
                vs(prefill),
                compact_or_grouped(d.value),
                vs(d),
                rss.ratio.map_or("-".to_string(), times)
            ));
        }
        out.push('\n');
        out.push_str(&self.verdicts(ledger, baseline)?);
        Ok(out)
    }

    /// "Against the targets, measured in the same run: decode 1.12x llama.cpp bf16 (target
    /// at least 0.9x: met; 74% of the roofline), ...", each verdict computed from fak's
    /// entries.
    fn verdicts(&self, ledger: &Ledger, baseline: &Entry) -> Result<String, ReadmeError> {
        let base = engine_name(baseline);
        let base_slug = baseline
            .id
            .strip_prefix(&self.id("decode."))
            .unwrap_or(&baseline.id);
        let mut parts = Vec::new();
        for target in self.targets {
            let fak = self.get(ledger, &format!("{}.fak", target.measure.id_part()))?;
            // A speed ratio must be the one against the engine the table names.
            let against = self.id(&format!("{}.{base_slug}", target.measure.id_part()));
            let cited = fak.baseline.as_ref().and_then(|b| b.entry.as_deref());
            if !target.measure.is_upper_bound() && cited != Some(against.as_str()) {
                return Err(ReadmeError::Inconsistent {
                    block: self.block,
                    what: format!(
                        "{} is compared with {}, not with the baseline engine's {against}",
                        fak.id,
                        cited.unwrap_or("nothing")
                    ),
                });
            }
            let ratio = fak.ratio.ok_or_else(|| ReadmeError::Inconsistent {
                block: self.block,
                what: format!("{} has no ratio to hold to its target", fak.id),
            })?;
            let met = if target.measure.is_upper_bound() {
                ratio <= target.bound
            } else {
                ratio >= target.bound
            };
            let verdict = if met { "met" } else { "**not met**" };
            let what = match target.measure {
                Measure::Prefill => format!("prefill {} {base}", times(ratio)),
                Measure::Decode => format!("decode {} {base}", times(ratio)),
                Measure::PeakRss => {
                    format!("peak resident memory {} the weight bytes", times(ratio))
                }
            };
            let roofline = match target.measure {
                Measure::Decode => self.roofline_share(ledger, fak)?,
                _ => String::new(),
            };
            let direction = if target.measure.is_upper_bound() {
                "at most"
            } else {
                "at least"
            };
            parts.push(format!(
                "{what} (target {direction} {}: {verdict}{roofline})",
                times(target.bound)
            ));
        }
        let against = if parts.is_empty() {
            "No target is set for this study.".to_string()
        } else {
            format!(
                "Against the targets, measured in the same run: {}.",
                parts.join(", ")
            )
        };
        Ok(format!(
            "{against} {base} decoded {} tokens/s in this run.\n",
            compact(baseline.value)
        ))
    }

    /// "; 74% of the roofline" when the roofline bounds fak's run (16-bit weights).
    fn roofline_share(&self, ledger: &Ledger, fak: &Entry) -> Result<String, ReadmeError> {
        let weights = fak.params.get("weights").and_then(|p| p.as_text());
        if !weights.is_some_and(roofline_applies) {
            return Ok(String::new());
        }
        let roofline = self.get(ledger, "decode.roofline")?;
        Ok(format!(
            "; {:.0}% of the roofline",
            100.0 * fak.value / roofline.value
        ))
    }
}

/// The name the engine was given on the command line (its `engine` param).
fn engine_name(e: &Entry) -> String {
    e.params
        .get("engine")
        .map_or_else(|| e.id.clone(), |p| p.to_string())
}

/// The default checkpoint's block.
pub fn throughput(ledger: &Ledger) -> Result<String, ReadmeError> {
    DEFAULT.render(ledger)
}

/// Gemma 3's block.
pub fn throughput_gemma3(ledger: &Ledger) -> Result<String, ReadmeError> {
    GEMMA3.render(ledger)
}

/// The CUDA block.
pub fn throughput_cuda(ledger: &Ledger) -> Result<String, ReadmeError> {
    CUDA.render(ledger)
}

#[cfg(test)]
mod tests {
    use super::super::test_entry;
    use super::*;
    use crate::ledger::{Baseline, Param};

    /// One engine's numbers in a run: prefill and decode tokens/s, peak RSS / weight bytes.
    struct Run {
        engine: &'static str,
        weights: &'static str,
        prefill: f64,
        decode: f64,
        rss_ratio: f64,
    }

    fn entry(
        id: String,
        value: f64,
        params: &[(&str, &str)],
        baseline: Option<(f64, String)>,
    ) -> Entry {
        let params: Vec<(&str, Param)> = params
            .iter()
            .map(|(k, v)| (*k, Param::Text(v.to_string())))
            .collect();
        Entry {
            ratio: baseline.as_ref().map(|(b, _)| value / b),
            baseline: baseline.map(|(value, entry)| Baseline {
                what: "baseline".to_string(),
                value,
                entry: (!entry.is_empty()).then_some(entry),
            }),
            ..test_entry(&id, value, &params)
        }
    }

    /// The entries `harness throughput [--study NAME]` writes for fak against `base`, with
    /// a roofline of 30 tokens/s and 1,000 weight bytes.
    fn entries(study: Option<&str>, fak: Run, base: Run) -> Vec<Entry> {
        let id = |rest: String| match study {
            None => format!("throughput.{rest}"),
            Some(s) => format!("throughput.{s}.{rest}"),
        };
        let named = |name: &str| match study {
            None => name.to_string(),
            Some(s) => format!("{name}.{s}"),
        };
        let slug = |e: &str| e.replace([' ', '.'], "_");
        let mut out = Vec::new();
        for (phase, rate) in [
            ("prefill", (|r: &Run| r.prefill) as fn(&Run) -> f64),
            ("decode", |r| r.decode),
        ] {
            let study = named(&format!("{phase}_throughput"));
            let base_id = id(format!("{phase}.{}", slug(base.engine)));
            for (r, baseline) in [(&base, None), (&fak, Some((rate(&base), base_id.clone())))] {
                out.push(entry(
                    id(format!("{phase}.{}", slug(r.engine))),
                    rate(r),
                    &[
                        ("study", &study),
                        ("engine", r.engine),
                        ("weights", r.weights),
                    ],
                    baseline,
                ));
            }
        }
        out.push(entry(
            id("decode.roofline".to_string()),
            30.0,
            &[
                ("study", &named("decode_throughput")),
                ("engine", "roofline"),
            ],
            None,
        ));
        out.push(entry(id("bandwidth".to_string()), 25.0, &[], None));
        for r in [&base, &fak] {
            out.push(entry(
                id(format!("peak_rss.{}", slug(r.engine))),
                1000.0 * r.rss_ratio,
                &[("engine", r.engine)],
                Some((1000.0, String::new())),
            ));
        }
        out
    }

    fn ledger(entries: Vec<Entry>) -> Ledger {
        Ledger::from_entries(entries, "test").unwrap()
    }

    fn qwen(fak_prefill: f64, fak_decode: f64, rss_ratio: f64) -> Vec<Entry> {
        entries(
            None,
            Run {
                engine: "fak",
                weights: "bf16",
                prefill: fak_prefill,
                decode: fak_decode,
                rss_ratio,
            },
            Run {
                engine: "llama.cpp bf16",
                weights: "bf16",
                prefill: 200.0,
                decode: 20.0,
                rss_ratio: 1.1,
            },
        )
    }

    fn gemma3(fak_prefill: f64, fak_decode: f64) -> Vec<Entry> {
        entries(
            Some("gemma3"),
            Run {
                engine: "fak",
                weights: "f32",
                prefill: fak_prefill,
                decode: fak_decode,
                rss_ratio: 3.0,
            },
            Run {
                engine: "llama.cpp q4_k_m",
                weights: "q4_k_m",
                prefill: 1000.0,
                decode: 50.0,
                rss_ratio: 1.5,
            },
        )
    }

    /// Fails showing the whole text when `part` is not in it.
    fn assert_has(text: &str, part: &str) {
        assert!(text.contains(part), "expected {part:?} in:\n{text}");
    }

    #[test]
    fn each_study_renders_only_its_own_entries_against_its_own_baseline() {
        let both = ledger([qwen(100.0, 18.0, 1.05), gemma3(900.0, 40.0)].concat());
        let default = DEFAULT.render(&both).unwrap();
        let gemma = GEMMA3.render(&both).unwrap();
        assert_has(&default, "| engine | prefill tok/s | vs llama.cpp bf16 |");
        assert_has(&default, "| fak | 100 | 0.5x | 18 | 0.9x | 1.05x |");
        assert!(!default.contains("q4_k_m"), "{default}");
        assert_has(&gemma, "| engine | prefill tok/s | vs llama.cpp q4_k_m |");
        assert_has(&gemma, "| fak | 900 | 0.9x | 40 | 0.8x | 3x |");
        assert_has(
            &gemma,
            "| llama.cpp q4_k_m | 1,000 | baseline | 50 | baseline | 1.5x |",
        );
        assert!(!gemma.contains("bf16"), "{gemma}");
    }

    #[test]
    fn verdicts_are_computed_from_the_ratios_against_each_bound() {
        let met = DEFAULT.render(&ledger(qwen(160.0, 18.0, 1.2))).unwrap();
        assert_has(
            &met,
            "decode 0.9x llama.cpp bf16 (target at least 0.9x: met; 60% of the roofline), \
                 peak resident memory 1.2x the weight bytes (target at most 1.2x: met), \
                 prefill 0.8x llama.cpp bf16 (target at least 0.8x: met). \
                 llama.cpp bf16 decoded 20 tokens/s in this run.",
        );
        let missed = DEFAULT.render(&ledger(qwen(150.0, 17.0, 1.3))).unwrap();
        assert_has(
            &missed,
            "decode 0.85x llama.cpp bf16 (target at least 0.9x: **not met**;",
        );
        assert_has(&missed, "(target at most 1.2x: **not met**)");
        assert_has(&missed, "(target at least 0.8x: **not met**)");
    }

    #[test]
    fn gemma3_holds_speed_targets_only_and_no_roofline_share_for_widened_weights() {
        let text = GEMMA3.render(&ledger(gemma3(400.0, 47.0))).unwrap();
        assert_has(
            &text,
            "Against the targets, measured in the same run: \
                 decode 0.94x llama.cpp q4_k_m (target at least 0.9x: met), \
                 prefill 0.4x llama.cpp q4_k_m (target at least 0.8x: **not met**). \
                 llama.cpp q4_k_m decoded 50 tokens/s in this run.",
        );
    }

    #[test]
    fn a_gpu_study_has_no_roofline_row_and_says_it_has_no_target() {
        // A `--backend cuda` run writes no roofline and no bandwidth entry.
        let entries: Vec<Entry> = entries(
            Some("cuda"),
            Run {
                engine: "fak",
                weights: "bf16",
                prefill: 800.0,
                decode: 60.0,
                rss_ratio: 2.0,
            },
            Run {
                engine: "transformers cuda bf16",
                weights: "bf16",
                prefill: 5000.0,
                decode: 20.0,
                rss_ratio: 2.0,
            },
        )
        .into_iter()
        .filter(|e| !e.id.ends_with("roofline") && !e.id.ends_with("bandwidth"))
        .collect();
        let text = CUDA.render(&ledger(entries)).unwrap();
        assert_has(&text, "| fak | 800 | 0.16x | 60 | 3x | 2x |");
        assert!(!text.contains("roofline"), "{text}");
        assert_has(
            &text,
            "No target is set for this study. transformers cuda bf16 decoded 20 tokens/s",
        );
    }

    #[test]
    fn a_ratio_against_another_engine_than_the_tables_baseline_is_refused() {
        let mut entries = qwen(100.0, 18.0, 1.0);
        let fak = entries
            .iter_mut()
            .find(|e| e.id == "throughput.prefill.fak")
            .unwrap();
        fak.baseline.as_mut().unwrap().entry = None;
        let err = DEFAULT.render(&ledger(entries)).unwrap_err().to_string();
        assert_has(
            &err,
            "throughput.prefill.fak is compared with nothing, not with the baseline engine's \
             throughput.prefill.llama_cpp_bf16",
        );
    }

    #[test]
    fn a_missing_study_or_a_run_without_a_baseline_engine_is_named() {
        let only_qwen = ledger(qwen(100.0, 18.0, 1.0));
        assert_eq!(
            GEMMA3.render(&only_qwen).unwrap_err(),
            ReadmeError::Missing {
                block: "throughput_gemma3",
                id: "throughput.gemma3.decode.*".to_string()
            }
        );
        let no_baseline: Vec<Entry> = qwen(100.0, 18.0, 1.0)
            .into_iter()
            .filter(|e| {
                e.id != "throughput.decode.llama_cpp_bf16" && e.id != "throughput.decode.fak"
            })
            .collect();
        let err = DEFAULT
            .render(&ledger(no_baseline))
            .unwrap_err()
            .to_string();
        assert_has(&err, "no engine in throughput.decode.* is the baseline");
    }
}

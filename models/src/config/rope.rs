//! RoPE frequencies from config.json's `rope_theta` and `rope_scaling`.
//!
//! The frequencies are host constants (DETERMINISM.md §6): computed once in f64 from the
//! f32 base frequencies of `fak_ops::inv_freq_from_base` and rounded to f32, so every
//! backend receives the same table bytes.

use std::f64::consts::PI;

use serde_json::{Map, Value};

use crate::ModelError;

/// How the base frequencies are rescaled for a longer context.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RopeScaling {
    /// The frequencies as `rope_theta` gives them (`rope_scaling` null or `"default"`).
    None,
    /// Every frequency divided by `factor` (`"linear"`).
    Linear { factor: f64 },
    /// Llama 3.1's banded rescaling (`"llama3"`): wavelengths shorter than
    /// `original_max_positions / high_freq_factor` are kept, those longer than
    /// `original_max_positions / low_freq_factor` are divided by `factor`, and the band
    /// between is interpolated.
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_max_positions: f64,
    },
}

/// `rope_theta` and `rope_scaling`, resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RopeParams {
    pub theta: f64,
    pub scaling: RopeScaling,
}

impl RopeParams {
    /// One inverse frequency per rotated pair (`head_dim / 2`).
    pub fn inv_freq(&self, head_dim: usize) -> Result<Vec<f32>, ModelError> {
        let base = fak_ops::inv_freq_from_base(self.theta, head_dim)?;
        Ok(match self.scaling {
            RopeScaling::None => base,
            RopeScaling::Linear { factor } => {
                base.iter().map(|&f| (f as f64 / factor) as f32).collect()
            }
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_positions,
            } => {
                let low_freq_wavelen = original_max_positions / low_freq_factor;
                let high_freq_wavelen = original_max_positions / high_freq_factor;
                base.iter()
                    .map(|&f| {
                        let f = f as f64;
                        let wavelen = 2.0 * PI / f;
                        let scaled = if wavelen < high_freq_wavelen {
                            f
                        } else if wavelen > low_freq_wavelen {
                            f / factor
                        } else {
                            let smooth = (original_max_positions / wavelen - low_freq_factor)
                                / (high_freq_factor - low_freq_factor);
                            (1.0 - smooth) * f / factor + smooth * f
                        };
                        scaled as f32
                    })
                    .collect()
            }
        })
    }
}

/// Parses `rope_scaling` (null, or an object with `rope_type` or the older `type`). Every
/// key inside it must belong to its type.
pub(crate) fn parse_scaling(value: Option<&Value>) -> Result<RopeScaling, ModelError> {
    let map = match value {
        None | Some(Value::Null) => return Ok(RopeScaling::None),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(bad("rope_scaling", other, "must be null or an object")),
    };
    let kind = map
        .get("rope_type")
        .or_else(|| map.get("type"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad(
                "rope_scaling",
                &Value::Object(map.clone()),
                "names no rope_type",
            )
        })?;
    let allowed: &[&str] = match kind {
        "default" => &[],
        "linear" => &["factor"],
        "llama3" => &[
            "factor",
            "low_freq_factor",
            "high_freq_factor",
            "original_max_position_embeddings",
        ],
        other => {
            return Err(ModelError::ConfigValue {
                key: "rope_scaling.rope_type",
                value: format!("{other:?}"),
                reason: "not supported (supported: default, linear, llama3)".to_owned(),
            });
        }
    };
    if let Some(key) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "rope_type" | "type") && !allowed.contains(&k.as_str()))
    {
        return Err(ModelError::ConfigValue {
            key: "rope_scaling",
            value: format!("{{{key:?}: ...}}"),
            reason: format!("the key {key:?} is not understood for rope_type {kind:?}"),
        });
    }
    Ok(match kind {
        "default" => RopeScaling::None,
        "linear" => RopeScaling::Linear {
            factor: positive(map, "factor")?,
        },
        _ => {
            let scaling = RopeScaling::Llama3 {
                factor: positive(map, "factor")?,
                low_freq_factor: positive(map, "low_freq_factor")?,
                high_freq_factor: positive(map, "high_freq_factor")?,
                original_max_positions: positive(map, "original_max_position_embeddings")?,
            };
            if let RopeScaling::Llama3 {
                low_freq_factor,
                high_freq_factor,
                ..
            } = scaling
                && high_freq_factor <= low_freq_factor
            {
                return Err(ModelError::ConfigValue {
                    key: "rope_scaling.high_freq_factor",
                    value: high_freq_factor.to_string(),
                    reason: format!("must be above low_freq_factor ({low_freq_factor})"),
                });
            }
            scaling
        }
    })
}

/// The finite positive number at `key` of `rope_scaling`.
fn positive(map: &Map<String, Value>, key: &'static str) -> Result<f64, ModelError> {
    let value = map.get(key).ok_or_else(|| ModelError::ConfigValue {
        key: "rope_scaling",
        value: "{...}".to_owned(),
        reason: format!("{key} is missing"),
    })?;
    match value.as_f64() {
        Some(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(bad(key, value, "must be a finite number > 0")),
    }
}

fn bad(key: &'static str, value: &Value, reason: &str) -> ModelError {
    ModelError::ConfigValue {
        key,
        value: value.to_string(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llama3() -> RopeParams {
        RopeParams {
            theta: 500_000.0,
            scaling: RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_positions: 256.0,
            },
        }
    }

    #[test]
    fn llama3_scaling_keeps_high_divides_low_and_blends_the_band_between() {
        let base = fak_ops::inv_freq_from_base(500_000.0, 16).unwrap();
        let scaled = llama3().inv_freq(16).unwrap();
        // Wavelength 2*pi/f: below 256/4 = 64 kept, above 256 divided by 8.
        let (mut kept, mut divided, mut blended) = (0, 0, 0);
        for (&b, &s) in base.iter().zip(&scaled) {
            let wavelen = 2.0 * PI / b as f64;
            if wavelen < 64.0 {
                assert_eq!(s, b);
                kept += 1;
            } else if wavelen > 256.0 {
                assert_eq!(s, (b as f64 / 8.0) as f32);
                divided += 1;
            } else {
                assert!(s < b && s > b / 8.0, "{s} not between {b}/8 and {b}");
                blended += 1;
            }
        }
        assert!(kept > 0 && divided > 0 && blended > 0);
    }

    #[test]
    fn unknown_rope_type_and_unknown_keys_are_named() {
        let yarn = serde_json::json!({"rope_type": "yarn", "factor": 4.0});
        let err = parse_scaling(Some(&yarn)).unwrap_err().to_string();
        assert!(err.contains("\"yarn\""), "{err}");
        let extra = serde_json::json!({"type": "linear", "factor": 2.0, "beta_fast": 32});
        let err = parse_scaling(Some(&extra)).unwrap_err().to_string();
        assert!(err.contains("beta_fast"), "{err}");
    }

    #[test]
    fn linear_scaling_divides_every_frequency() {
        let linear = serde_json::json!({"type": "linear", "factor": 2.0});
        let params = RopeParams {
            theta: 10_000.0,
            scaling: parse_scaling(Some(&linear)).unwrap(),
        };
        let base = fak_ops::inv_freq_from_base(10_000.0, 8).unwrap();
        let scaled = params.inv_freq(8).unwrap();
        for (b, s) in base.iter().zip(&scaled) {
            assert_eq!(*s, b / 2.0);
        }
    }
}

//! Switches of a transformer block beyond the Llama layout: the MLP's gate activation, and
//! sliding-window layers (Mistral: all of them; Qwen: from `max_window_layers` on; Gemma 3:
//! five of every six, with their own RoPE base).

use super::RopeParams;

/// The activation of the MLP's gate: `down(act(gate(x)) * up(x))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlpActivation {
    /// SiLU (SwiGLU): Llama, Mistral, Qwen.
    Silu,
    /// GELU with the tanh approximation (GeGLU): Gemma.
    GeluTanh,
}

/// Local layers: attention over a sliding window, rotated with their own RoPE (the global
/// one where the family has no other).
#[derive(Debug, Clone, PartialEq)]
pub struct LocalAttention {
    /// A query at position `p` attends keys `p - window + 1 ..= p`.
    pub window: usize,
    /// The local layers' RoPE.
    pub rope: RopeParams,
    /// `layers[i]`: whether layer `i` is local.
    pub layers: Vec<bool>,
}

impl LocalAttention {
    /// Gemma 3's layout: in each group of `pattern` layers all but the last are local.
    pub fn every_but_each_nth(
        window: usize,
        rope: RopeParams,
        pattern: usize,
        layers: usize,
    ) -> Self {
        Self {
            window,
            rope,
            layers: (0..layers).map(|l| l % pattern < pattern - 1).collect(),
        }
    }

    /// Whether layer `layer` (from 0) is local.
    pub fn is_local(&self, layer: usize) -> bool {
        self.layers.get(layer).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RopeScaling;

    #[test]
    fn every_sixth_layer_is_global() {
        let rope = RopeParams {
            theta: 1e4,
            scaling: RopeScaling::None,
        };
        let local = LocalAttention::every_but_each_nth(512, rope, 6, 18);
        let global: Vec<usize> = (0..18).filter(|&l| !local.is_local(l)).collect();
        assert_eq!(global, [5, 11, 17]);
    }
}

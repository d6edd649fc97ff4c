//! Switches of a transformer block beyond the Llama layout, which Gemma 3 uses: the MLP's
//! gate activation and interleaved sliding-window layers with their own RoPE base.

use super::RopeParams;

/// The activation of the MLP's gate: `down(act(gate(x)) * up(x))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlpActivation {
    /// SiLU (SwiGLU): Llama, Mistral, Qwen.
    Silu,
    /// GELU with the tanh approximation (GeGLU): Gemma.
    GeluTanh,
}

/// Local layers: attention over a sliding window, rotated with their own RoPE base. Every
/// `pattern`-th layer (the last of each group of `pattern`) stays global.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalAttention {
    /// A query at position `p` attends keys `p - window + 1 ..= p`.
    pub window: usize,
    /// The local layers' RoPE.
    pub rope: RopeParams,
    /// Layers per group of local layers followed by one global layer.
    pub pattern: usize,
}

impl LocalAttention {
    /// Whether layer `layer` (from 0) is local: all but the last of each group.
    pub fn is_local(&self, layer: usize) -> bool {
        layer % self.pattern < self.pattern - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RopeScaling;

    #[test]
    fn every_sixth_layer_is_global() {
        let local = LocalAttention {
            window: 512,
            rope: RopeParams {
                theta: 1e4,
                scaling: RopeScaling::None,
            },
            pattern: 6,
        };
        let global: Vec<usize> = (0..18).filter(|&l| !local.is_local(l)).collect();
        assert_eq!(global, [5, 11, 17]);
    }
}

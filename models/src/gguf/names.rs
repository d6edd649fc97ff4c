//! GGUF tensor names (llama.cpp's) mapped to the Hugging Face names the weight loader takes,
//! so one loader serves both formats.

/// The Hugging Face name of a Gemma 3 GGUF tensor, or `None` for a name the architecture
/// does not have.
pub(crate) fn gemma3_hf_name(gguf: &str) -> Option<String> {
    let top = match gguf {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        "output.weight" => Some("lm_head.weight"),
        _ => None,
    };
    if let Some(name) = top {
        return Some(name.to_owned());
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, tensor) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let hf = match tensor {
        "attn_norm.weight" => "input_layernorm.weight",
        "attn_q.weight" => "self_attn.q_proj.weight",
        "attn_k.weight" => "self_attn.k_proj.weight",
        "attn_v.weight" => "self_attn.v_proj.weight",
        "attn_output.weight" => "self_attn.o_proj.weight",
        "attn_q_norm.weight" => "self_attn.q_norm.weight",
        "attn_k_norm.weight" => "self_attn.k_norm.weight",
        "post_attention_norm.weight" => "post_attention_layernorm.weight",
        "ffn_norm.weight" => "pre_feedforward_layernorm.weight",
        "ffn_gate.weight" => "mlp.gate_proj.weight",
        "ffn_up.weight" => "mlp.up_proj.weight",
        "ffn_down.weight" => "mlp.down_proj.weight",
        "post_ffw_norm.weight" => "post_feedforward_layernorm.weight",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_tensors_map_to_their_module_and_unknown_names_to_none() {
        assert_eq!(
            gemma3_hf_name("blk.17.ffn_norm.weight").as_deref(),
            Some("model.layers.17.pre_feedforward_layernorm.weight")
        );
        assert_eq!(
            gemma3_hf_name("token_embd.weight").as_deref(),
            Some("model.embed_tokens.weight")
        );
        assert_eq!(gemma3_hf_name("blk.x.attn_q.weight"), None);
        assert_eq!(gemma3_hf_name("blk.0.attn_qkv.weight"), None);
        assert_eq!(gemma3_hf_name("rope_freqs.weight"), None);
    }
}

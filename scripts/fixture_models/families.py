"""The six fixture checkpoints: architecture, shapes, tokenizer layout and stop tokens.

Shapes are tiny but keep every feature the loader must get right: grouped-query attention at
ratios 1, 2, 4 and 7 (the 7:1 of Qwen2.5-0.5B, 14 heads over 2 KV heads), a head_dim that
differs from hidden/heads (Qwen3), QKV bias (Qwen2), QK-norm (Qwen3), tied and untied
embeddings, a config vocabulary padded past the tokenizer (as Qwen ships), Llama-3 rope
scaling whose original context puts RoPE frequencies in all three of its bands, and one
checkpoint split into two shards.
"""

from dataclasses import dataclass, field

import transformers


@dataclass(frozen=True)
class TokenizerSpec:
    # Tokens in tokenizer.json, added tokens included.
    size: int
    # Special tokens given the first ids (the Llama-2, Mistral and SmolLM2 layout).
    leading_special: tuple[str, ...] = ()
    # Special tokens appended after the learned merges (the Llama-3 and Qwen layout).
    trailing_special: tuple[str, ...] = ()
    # Added tokens that are matched whole but are not special (Qwen's <tool_call>).
    trailing_plain: tuple[str, ...] = ()
    bos: str | None = None
    eos: str = ""
    pad: str | None = None
    unk: str | None = None
    # Whether encoding with special tokens prepends bos (Llama and Mistral do, Qwen does not).
    add_bos: bool = False
    # Qwen's tokenizers normalize to NFC before splitting.
    nfc: bool = False


@dataclass(frozen=True)
class Family:
    name: str
    config_class: type
    model_class: type
    # Keyword arguments of the config class: shapes, RoPE, norms, extra keys the family ships.
    config: dict
    tokenizer: TokenizerSpec
    # Template file under templates/.
    template: str
    # config.json's bos/eos as token strings (eos may be a list, as Llama-3 ships it).
    config_bos: str | None
    config_eos: str | tuple[str, ...]
    # generation_config.json's eos_token_id: the tokens that end a turn.
    stop_tokens: tuple[str, ...]
    # config.json's pad_token_id, where the family writes one (SmolLM2 does).
    config_pad: str | None = None
    # Sampling defaults as the family's instruct checkpoints ship them; the reference
    # outputs here are greedy and do not use them.
    sampling: dict = field(default_factory=dict)
    # config vocab_size minus tokenizer size (Qwen pads its embedding table).
    vocab_padding: int = 0
    # Whether the template takes a `tools` argument.
    tools: bool = False
    # Extra template variables rendered as their own recorded case (Qwen3's enable_thinking).
    template_switches: dict = field(default_factory=dict)
    shards: int = 1

    @property
    def architecture(self) -> str:
        return self.model_class.__name__


def shape(hidden: int, mlp: int, heads: int, kv_heads: int, positions: int, **keys) -> dict:
    """Config keys every fixture sets (two layers), followed by the family's own keys."""
    return dict(
        hidden_size=hidden,
        intermediate_size=mlp,
        num_hidden_layers=2,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=positions,
        **keys,
    )


# Llama 3 reserves a block of unused special tokens that fills the vocabulary up to the
# embedding size; the fixture does the same with a short block.
LLAMA3_RESERVED = tuple(f"<|reserved_special_token_{i}|>" for i in range(8))
LLAMA3_STOPS = ("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>")
CHATML_SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# Qwen's config keys as its checkpoints ship them (every layer full attention).
QWEN_KEYS = dict(
    max_window_layers=2,
    rms_norm_eps=1e-6,
    rope_theta=1000000.0,
    tie_word_embeddings=True,
    use_sliding_window=False,
)
QWEN_STOPS = ("<|im_end|>", "<|endoftext|>")

FAMILIES = [
    Family(
        name="llama2",
        config_class=transformers.LlamaConfig,
        model_class=transformers.LlamaForCausalLM,
        config=shape(64, 192, 4, 4, 512, rms_norm_eps=1e-5, rope_theta=10000.0),
        tokenizer=TokenizerSpec(
            size=512,
            leading_special=("<unk>", "<s>", "</s>"),
            bos="<s>",
            eos="</s>",
            unk="<unk>",
            add_bos=True,
        ),
        template="llama2.jinja",
        config_bos="<s>",
        config_eos="</s>",
        stop_tokens=("</s>",),
        sampling=dict(do_sample=True, temperature=0.6, top_p=0.9),
    ),
    Family(
        name="llama3",
        config_class=transformers.LlamaConfig,
        model_class=transformers.LlamaForCausalLM,
        config=shape(
            128,
            192,
            8,
            2,
            2048,
            rms_norm_eps=1e-5,
            rope_theta=500000.0,
            # With head_dim 16 and theta 5e5 the RoPE wavelengths are 6, 32, 167, 862, 4443,
            # 22911, ... tokens: below 64 (kept), between 64 and 256 (smoothed) and above 256
            # (divided by the factor), so all three branches of the llama3 rule are used.
            rope_scaling=dict(
                rope_type="llama3",
                factor=8.0,
                low_freq_factor=1.0,
                high_freq_factor=4.0,
                original_max_position_embeddings=256,
            ),
        ),
        tokenizer=TokenizerSpec(
            size=576,
            trailing_special=(
                "<|begin_of_text|>",
                "<|end_of_text|>",
                "<|start_header_id|>",
                "<|end_header_id|>",
                "<|eom_id|>",
                "<|eot_id|>",
                "<|python_tag|>",
            )
            + LLAMA3_RESERVED,
            bos="<|begin_of_text|>",
            eos="<|eot_id|>",
            add_bos=True,
        ),
        template="llama3.jinja",
        config_bos="<|begin_of_text|>",
        config_eos=LLAMA3_STOPS,
        stop_tokens=LLAMA3_STOPS,
        sampling=dict(do_sample=True, temperature=0.6, top_p=0.9),
        tools=True,
    ),
    Family(
        name="qwen2",
        config_class=transformers.Qwen2Config,
        model_class=transformers.Qwen2ForCausalLM,
        config=shape(224, 128, 14, 2, 1024, **QWEN_KEYS),
        tokenizer=TokenizerSpec(
            size=500,
            trailing_special=CHATML_SPECIAL,
            trailing_plain=("<tool_call>", "</tool_call>"),
            eos="<|im_end|>",
            pad="<|endoftext|>",
            nfc=True,
        ),
        template="qwen2.jinja",
        config_bos="<|endoftext|>",
        config_eos="<|im_end|>",
        stop_tokens=QWEN_STOPS,
        sampling=dict(do_sample=True, temperature=0.7, top_p=0.8, top_k=20),
        vocab_padding=12,
        tools=True,
    ),
    Family(
        name="qwen3",
        config_class=transformers.Qwen3Config,
        model_class=transformers.Qwen3ForCausalLM,
        # head_dim 32 is wider than hidden_size / heads, as in real Qwen3 (q_proj 64 -> 128).
        config=shape(64, 192, 4, 2, 1024, head_dim=32, **QWEN_KEYS),
        tokenizer=TokenizerSpec(
            size=460,
            trailing_special=CHATML_SPECIAL,
            trailing_plain=(
                "<tool_call>",
                "</tool_call>",
                "<tool_response>",
                "</tool_response>",
                "<think>",
                "</think>",
            ),
            eos="<|im_end|>",
            pad="<|endoftext|>",
            nfc=True,
        ),
        template="qwen3.jinja",
        config_bos="<|endoftext|>",
        config_eos="<|im_end|>",
        stop_tokens=QWEN_STOPS,
        sampling=dict(do_sample=True, temperature=0.6, top_p=0.95, top_k=20),
        vocab_padding=52,
        tools=True,
        template_switches=dict(enable_thinking=False),
    ),
    Family(
        name="smollm2",
        config_class=transformers.LlamaConfig,
        model_class=transformers.LlamaForCausalLM,
        config=shape(
            96,
            192,
            6,
            3,
            1024,
            rms_norm_eps=1e-5,
            rope_theta=100000.0,
            tie_word_embeddings=True,
            # SmolLM2's config.json carries these two keys from its training framework.
            is_llama_config=True,
            rope_interleaved=False,
        ),
        tokenizer=TokenizerSpec(
            size=448,
            leading_special=CHATML_SPECIAL,
            bos="<|im_start|>",
            eos="<|im_end|>",
            pad="<|im_end|>",
            unk="<|endoftext|>",
        ),
        template="smollm2.jinja",
        config_bos="<|im_start|>",
        config_eos="<|im_end|>",
        config_pad="<|im_end|>",
        stop_tokens=("<|im_end|>",),
    ),
    Family(
        name="mistral",
        config_class=transformers.MistralConfig,
        model_class=transformers.MistralForCausalLM,
        config=shape(
            64, 192, 4, 2, 1024, rms_norm_eps=1e-5, rope_theta=1000000.0, sliding_window=None
        ),
        tokenizer=TokenizerSpec(
            size=512,
            leading_special=("<unk>", "<s>", "</s>", "[INST]", "[/INST]"),
            bos="<s>",
            eos="</s>",
            unk="<unk>",
            add_bos=True,
        ),
        template="mistral.jinja",
        config_bos="<s>",
        config_eos="</s>",
        stop_tokens=("</s>",),
        shards=2,
    ),
]

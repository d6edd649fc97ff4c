"""Train a small byte-level BPE tokenizer per family and wrap it as transformers saves one."""

from pathlib import Path

from tokenizers import (
    AddedToken,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import PreTrainedTokenizerFast

from .errors import GenerationError
from .families import Family, TokenizerSpec


class TokenizerBuildError(GenerationError):
    pass


def train(spec: TokenizerSpec, corpus: list[str]) -> Tokenizer:
    """A byte-level BPE of exactly spec.size tokens, added tokens in the family's layout."""
    tok = Tokenizer(models.BPE())
    if spec.nfc:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    appended = len(spec.trailing_special) + len(spec.trailing_plain)
    trainer = trainers.BpeTrainer(
        vocab_size=spec.size - appended,
        special_tokens=list(spec.leading_special),
        # All 256 byte symbols, so any text encodes even if the corpus never showed a byte.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    learned = tok.get_vocab_size()
    if learned != spec.size - appended:
        raise TokenizerBuildError(
            f"BPE training stopped at {learned} tokens, wanted {spec.size - appended}: "
            "the corpus has too few distinct merges for this vocabulary size"
        )
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in spec.trailing_special]
    )
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in spec.trailing_plain])
    if spec.add_bos:
        bos_id = tok.token_to_id(spec.bos)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{spec.bos}:0 $A:0",
            pair=f"{spec.bos}:0 $A:0 {spec.bos}:1 $B:1",
            special_tokens=[(spec.bos, bos_id)],
        )
    else:
        tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False)
    if tok.get_vocab_size() != spec.size:
        raise TokenizerBuildError(
            f"tokenizer has {tok.get_vocab_size()} tokens, wanted {spec.size}"
        )
    return tok


def wrap(
    family: Family, tok: Tokenizer, chat_template: str, model_max_length: int
) -> PreTrainedTokenizerFast:
    spec = family.tokenizer
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=spec.bos,
        eos_token=spec.eos,
        pad_token=spec.pad,
        unk_token=spec.unk,
        chat_template=chat_template,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )


def save(tokenizer: PreTrainedTokenizerFast, out: Path) -> None:
    # Real checkpoints carry the chat template inside tokenizer_config.json; this
    # transformers version would otherwise write it to a separate chat_template.jinja.
    tokenizer.save_pretrained(out, save_jinja_files=False)


def token_id(tokenizer: PreTrainedTokenizerFast, token: str) -> int:
    tid = tokenizer.convert_tokens_to_ids(token)
    if tid is None or tokenizer.convert_ids_to_tokens(tid) != token:
        raise TokenizerBuildError(f"token {token!r} is not in the vocabulary")
    return tid

"""A pretrained tokenizer by name or folder, or a WordPiece one trained on the training text."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path

from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from dlkit.errors import ConfigError

SPECIALS = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
# Encoder-decoder models (T5, BART style): every sequence ends with </s>; no [CLS].
SEQ2SEQ_SPECIALS = {"pad": "<pad>", "eos": "</s>", "unk": "<unk>"}
GPT_SPECIALS = {
    "eos": "<|endoftext|>",
    "bos": "<|endoftext|>",
    "unk": "<|endoftext|>",
    "pad": "<|pad|>",
}


def load_pretrained(name_or_path: str, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    try:
        return AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"Cannot load a tokenizer from '{name_or_path}': {err}. Give a local folder with "
            "tokenizer files, a hub name on a machine with internet, or null to train one."
        ) from err


def train_tokenizer(
    kind: str,
    texts: Callable[[], Iterable[str]] | Iterable[str],
    vocab_size: int,
    lowercase: bool,
    cache_dir: Path,
    max_length: int = 512,
    texts_key: str | None = None,
) -> PreTrainedTokenizerBase:
    """Train (or reuse from the cache) a WordPiece (BERT), byte-level BPE (GPT-2) or
    SentencePiece-style unigram (T5, one vocabulary for both sides of a translation) tokenizer.

    `texts` is best a function giving the training text afresh (a data module's
    `train_texts`): the text is then streamed, never held, so a corpus of gigabytes trains in
    flat memory. The cache key is `texts_key` (a hash of the corpus files) or else a hash of
    the text itself, so the same corpus and settings always give the same tokenizer, and a
    second run skips training."""
    trainers_by_kind = {"wordpiece": _wordpiece, "bpe": _byte_level_bpe, "unigram": _unigram}
    if kind not in trainers_by_kind:
        raise ConfigError(f"model.tokenizer.kind={kind} is not one of {list(trainers_by_kind)}.")
    if not callable(texts):
        held = list(texts)
        texts = lambda: held  # noqa: E731 - a re-readable view of a list
    digest = hashlib.sha256(f"{kind}-v3|{vocab_size}|{lowercase}|{max_length}".encode())
    if texts_key is not None:
        digest.update(f"files:{texts_key}".encode())
    else:
        for text in texts():
            digest.update(text.encode())
            digest.update(b"\0")
    folder = cache_dir / "tokenizers" / digest.hexdigest()[:16]
    if (folder / "tokenizer.json").is_file():
        return AutoTokenizer.from_pretrained(folder)
    fast = trainers_by_kind[kind](texts, vocab_size, lowercase, max_length)
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    return fast


def _alphabet(texts: Iterable[str], normalize: Callable[[str], str]) -> list[str]:
    """Every non-space character of the normalized text, without normalizing the text (the
    BERT normalizer's NFD runs at a few MB/s on one core: half the training time). It maps
    character by character (its lowercasing has no context rules, not even Greek final
    sigma), so normalizing each distinct character gives the same set."""
    seen: set[str] = set()
    lines = iter(texts)
    while group := list(islice(lines, 10_000)):
        seen.update("\n".join(group))
    chars = {c for raw in seen for c in normalize(raw)}
    return sorted(c for c in chars if not c.isspace())


def _wordpiece(
    texts: Callable[[], Iterable[str]], vocab_size: int, lowercase: bool, max_length: int
) -> PreTrainedTokenizerFast:
    def bert_tokenizer(model: models.Model) -> Tokenizer:
        tok = Tokenizer(model)
        tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        return tok

    trainee = bert_tokenizer(models.WordPiece(unk_token=SPECIALS["unk"]))
    specials = list(SPECIALS.values())
    # The trainer numbers "##x" pieces in hash-map order, which changes between processes and
    # then breaks frequency ties differently. Registering every "##x" up front (sorted) fixes
    # their ids, which makes training deterministic.
    chars = _alphabet(texts(), trainee.normalizer.normalize_str)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=specials + [f"##{c}" for c in chars],
        initial_alphabet=chars,
        show_progress=False,
    )
    trainee.train_from_iterator(texts(), trainer=trainer)
    # A fresh tokenizer over the learned vocabulary (specials first, then sorted): only the
    # real specials are special, and WordPiece looks pieces up by string, so ids are free.
    ordered = specials + sorted(set(trainee.get_vocab()) - set(specials))
    tok = bert_tokenizer(
        models.WordPiece({t: i for i, t in enumerate(ordered)}, unk_token=SPECIALS["unk"])
    )
    tok.add_special_tokens(specials)
    cls, sep = SPECIALS["cls"], SPECIALS["sep"]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, tok.token_to_id(cls)), (sep, tok.token_to_id(sep))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=max_length,
        **{f"{role}_token": token for role, token in SPECIALS.items()},
    )


def _byte_level_bpe(
    texts: Callable[[], Iterable[str]], vocab_size: int, lowercase: bool, max_length: int
) -> PreTrainedTokenizerFast:
    """GPT-2's scheme: bytes as the alphabet, so no text is ever unknown."""
    tok = Tokenizer(models.BPE())
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=sorted(set(GPT_SPECIALS.values())),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=max_length,
        **{f"{role}_token": token for role, token in GPT_SPECIALS.items()},
    )


def _unigram(
    texts: Callable[[], Iterable[str]], vocab_size: int, lowercase: bool, max_length: int
) -> PreTrainedTokenizerFast:
    """SentencePiece's scheme (T5's): NFKC, words marked by a leading "▁", a unigram
    model; every sequence ends with </s>, as encoder-decoder models expect of inputs and
    targets alike. Case is kept unless `lowercase`: sacreBLEU scores it."""
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = list(SEQ2SEQ_SPECIALS.values())
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        unk_token=SEQ2SEQ_SPECIALS["unk"],
        show_progress=False,
    )
    tok.train_from_iterator(texts(), trainer=trainer)
    eos = SEQ2SEQ_SPECIALS["eos"]
    tok.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}",
        pair=f"$A {eos} $B:1 {eos}:1",
        special_tokens=[(eos, tok.token_to_id(eos))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=max_length,
        **{f"{role}_token": token for role, token in SEQ2SEQ_SPECIALS.items()},
    )

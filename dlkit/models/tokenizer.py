"""A pretrained tokenizer by name or folder, or a WordPiece one trained on the training text."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
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


def load_pretrained(name_or_path: str) -> PreTrainedTokenizerBase:
    try:
        return AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"Cannot load a tokenizer from '{name_or_path}': {err}. Give a local folder with "
            "tokenizer files, a hub name on a machine with internet, or null to train one."
        ) from err


def train_wordpiece(
    texts: Iterable[str], vocab_size: int, lowercase: bool, cache_dir: Path, max_length: int = 512
) -> PreTrainedTokenizerBase:
    """Train (or reuse from the cache) a BERT-style WordPiece tokenizer.

    The cache key is a hash of the text itself, so the same corpus and settings always give
    the same tokenizer, and a second run skips training."""
    texts = list(texts)
    digest = hashlib.sha256(f"wordpiece-v2|{vocab_size}|{lowercase}".encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    folder = cache_dir / "tokenizers" / digest.hexdigest()[:16]
    if (folder / "tokenizer.json").is_file():
        return AutoTokenizer.from_pretrained(folder)

    tok = Tokenizer(models.WordPiece(unk_token=SPECIALS["unk"]))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIALS.values()), show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    # The trainer breaks frequency ties in hash-map order, which changes between processes;
    # WordPiece looks tokens up by string only, so fixed ids (specials, then sorted) make the
    # result deterministic without changing how any text is split.
    specials = list(SPECIALS.values())
    ordered = specials + sorted(set(tok.get_vocab()) - set(specials))
    tok.model = models.WordPiece(
        {token: i for i, token in enumerate(ordered)}, unk_token=SPECIALS["unk"]
    )
    cls, sep = SPECIALS["cls"], SPECIALS["sep"]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, tok.token_to_id(cls)), (sep, tok.token_to_id(sep))],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=max_length,
        **{f"{role}_token": token for role, token in SPECIALS.items()},
    )
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    return fast

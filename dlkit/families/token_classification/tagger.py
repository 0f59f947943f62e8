"""A BiLSTM tagger over WordPiece sub-tokens with character features of each sub-token's
spelling (in the spirit of Lample et al. 2016 / Ma & Hovy 2016), as a transformers model so
it shares `save_pretrained`, the Auto classes and the token-classification pipeline.

Sub-token ids alone hide the capitalisation and affixes that carry most NER signal for rare
words; the tokenizer's vocabulary is fixed, so each entry's spelling is stored once in a
buffer (`spellings`) and a char CNN turns it into features on the fly, with no change to the
inputs (input_ids, attention_mask) a transformer tagger takes.

Importing this module registers the model: `import dlkit.families.token_classification.tagger`
before `AutoModelForTokenClassification.from_pretrained` on one of its folders."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForTokenClassification,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers import initialization as init
from transformers.modeling_outputs import TokenClassifierOutput

# Char ids: 0 pads a spelling, 1 marks a WordPiece continuation ("##" prefix), and a character
# c is min(ord(c), 259) + 2, so 2..259 are Latin-1 (and a little more) exactly and 261 is one
# shared bucket for everything above; hence char_vocab_size = 262.
CHAR_PAD = 0
CHAR_CONTINUATION = 1
_CHAR_OFFSET = 2
_MAX_ORD = 259
CONTINUATION_PREFIX = "##"
# "[CLS]", "[PAD]", "[UNK]", ...: no spelling (zeros), so no char features.
_SPECIAL = re.compile(r"\[[A-Za-z_]+\]|<[^<>\s]+>")


def spell(token: str, max_chars: int) -> list[int]:
    """Char ids of one vocabulary entry, right-padded with 0 to `max_chars`.

    A "##" continuation piece starts with CHAR_CONTINUATION, then its characters without the
    marker, so "##ing" (a suffix) and "ing" (a word) differ; spellings longer than fit keep
    their first characters."""
    ids = []
    if token.startswith(CONTINUATION_PREFIX) and len(token) > len(CONTINUATION_PREFIX):
        ids.append(CHAR_CONTINUATION)
        token = token[len(CONTINUATION_PREFIX) :]
    ids.extend(min(ord(c), _MAX_ORD) + _CHAR_OFFSET for c in token)
    ids = ids[:max_chars]
    return ids + [CHAR_PAD] * (max_chars - len(ids))


class BiLSTMTaggerConfig(PretrainedConfig):
    """Sizes of the tagger; num_labels, id2label and label2id come through `kwargs`."""

    model_type = "dlkit-bilstm-tagger"

    def __init__(
        self,
        vocab_size: int = 8000,
        embedding_dim: int = 100,
        char_dim: int = 30,
        char_channels: int = 50,
        char_kernel: int = 3,
        max_chars: int = 16,
        char_vocab_size: int = 262,
        hidden_size: int = 200,
        num_layers: int = 1,
        dropout: float = 0.5,
        pad_token_id: int = 0,
        **kwargs,
    ) -> None:
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.char_dim = char_dim
        self.char_channels = char_channels
        self.char_kernel = char_kernel
        self.max_chars = max_chars
        self.char_vocab_size = char_vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        super().__init__(pad_token_id=pad_token_id, **kwargs)


class BiLSTMForTokenClassification(PreTrainedModel):
    """Token embedding + char-CNN features of the token's spelling -> BiLSTM -> linear.

    Expects right padding (a row's tokens first, then padding); positions past a row's
    length get logits from zero LSTM states (they are padding and not scored)."""

    config_class = BiLSTMTaggerConfig
    base_model_prefix = "tagger"
    main_input_name = "input_ids"

    def __init__(self, config: BiLSTMTaggerConfig) -> None:
        super().__init__(config)
        self.embeddings = nn.Embedding(
            config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id
        )
        self.char_embeddings = nn.Embedding(
            config.char_vocab_size, config.char_dim, padding_idx=CHAR_PAD
        )
        self.char_conv = nn.Conv1d(
            config.char_dim,
            config.char_channels,
            config.char_kernel,
            padding=config.char_kernel // 2,
        )
        # Persistent, so save_pretrained writes it beside the weights and from_pretrained
        # restores it: the model folder alone then reproduces the char features.
        self.register_buffer(
            "spellings",
            torch.zeros(config.vocab_size, config.max_chars, dtype=torch.long),
            persistent=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.embedding_dim + config.char_channels,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.classifier = nn.Linear(2 * config.hidden_size, config.num_labels)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # transformers.initialization skips tensors already loaded by from_pretrained.
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            init.xavier_uniform_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, std=0.1)
            if module.padding_idx is not None and not getattr(
                module.weight, "_is_hf_initialized", False
            ):
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.LSTM):
            for name, param in module.named_parameters():
                if "weight" in name:
                    init.xavier_uniform_(param)
                else:
                    init.zeros_(param)
        elif module is self:
            # A folder saved without spellings loads as "no char features", not garbage.
            init.zeros_(self.spellings)

    @torch.no_grad()
    def set_spellings(
        self, tokens: Sequence[str], special_tokens: Collection[str] | None = None
    ) -> None:
        """Fill `spellings` from the vocabulary, `tokens[i]` being the entry of id i (e.g.
        `tokenizer.convert_ids_to_tokens(range(len(tokenizer)))`); see `spell` for the ids.

        Special tokens (`special_tokens`, or by default anything like "[CLS]" or "<s>") and
        ids past `len(tokens)` get zeros: no char features, their embedding alone."""
        if len(tokens) > self.config.vocab_size:
            raise ValueError(
                f"{len(tokens)} tokens for a vocabulary of {self.config.vocab_size} entries"
            )
        specials = set(special_tokens) if special_tokens is not None else None
        rows = torch.zeros_like(self.spellings, device="cpu")
        for index, token in enumerate(tokens):
            special = token in specials if specials is not None else _SPECIAL.fullmatch(token)
            if token and not special:
                rows[index] = torch.tensor(spell(token, self.config.max_chars))
        self.spellings.copy_(rows)

    def char_features(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(batch, length) ids -> (batch, length, char_channels): a char CNN max-pooled over
        each token's spelling; tokens with no spelling get zeros."""
        chars = self.spellings[input_ids]  # (batch, length, max_chars)
        flat = chars.reshape(-1, chars.shape[-1])
        x = self.char_embeddings(flat).transpose(1, 2)  # (tokens, char_dim, max_chars)
        h = self.char_conv(x)[..., : flat.shape[-1]]  # even kernels make one extra position
        present = (flat != CHAR_PAD).unsqueeze(1)
        h = h.masked_fill(~present, torch.finfo(h.dtype).min).max(dim=-1).values
        h = h.masked_fill(~present.any(dim=-1), 0.0)
        return h.reshape(*chars.shape[:2], -1)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **_: object,
    ) -> TokenClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        features = torch.cat([self.embeddings(input_ids), self.char_features(input_ids)], -1)
        features = self.dropout(features)
        # Packing keeps padding out of the backward direction, so a row's outputs do not
        # depend on how much padding follows it. Lengths stay tensors (no .tolist()), so a
        # trace keeps them dynamic; .cpu() is what pack_padded_sequence needs on a GPU.
        lengths = attention_mask.sum(dim=1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            features, lengths, batch_first=True, enforce_sorted=False
        )
        output, _ = self.lstm(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(
            output, batch_first=True, total_length=input_ids.shape[1]
        )
        logits = self.classifier(self.dropout(output))
        loss = None
        if labels is not None:
            # Sum over scored positions / their count: a mean that is 0, not NaN, for a
            # batch with nothing to score; float32 so half-precision logits lose nothing.
            flat = labels.reshape(-1)
            loss = nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]).float(),
                flat,
                ignore_index=-100,
                reduction="sum",
            ) / (flat != -100).sum().clamp(min=1)
        return TokenClassifierOutput(loss=loss, logits=logits)


AutoConfig.register(BiLSTMTaggerConfig.model_type, BiLSTMTaggerConfig, exist_ok=True)
AutoModelForTokenClassification.register(
    BiLSTMTaggerConfig, BiLSTMForTokenClassification, exist_ok=True
)

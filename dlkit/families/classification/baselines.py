"""Classic baselines (embedding, then a BiLSTM or a Conv1D, then a linear head) as
transformers models, so they share the task interface, `save_pretrained` and the Auto classes.

Importing this module registers them; `import dlkit.families.classification.baselines` before
`AutoModelForSequenceClassification.from_pretrained` on a baseline's model folder."""

from __future__ import annotations

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_outputs import SequenceClassifierOutput


class BaselineConfig(PretrainedConfig):
    def __init__(
        self,
        vocab_size: int = 8000,
        embedding_dim: int = 128,
        hidden_size: int = 128,
        num_layers: int = 1,
        kernel_sizes: tuple[int, ...] = (3, 4, 5),
        dropout: float = 0.1,
        pad_token_id: int = 0,
        **kwargs,
    ) -> None:
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.kernel_sizes = list(kernel_sizes)
        self.dropout = dropout
        super().__init__(pad_token_id=pad_token_id, **kwargs)


class BiLSTMConfig(BaselineConfig):
    model_type = "dlkit-bilstm"


class CNNConfig(BaselineConfig):
    model_type = "dlkit-cnn"


class _Baseline(PreTrainedModel):
    base_model_prefix = "encoder"

    def __init__(self, config: BaselineConfig) -> None:
        super().__init__(config)
        self.embeddings = nn.Embedding(
            config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id
        )
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(self.feature_size, config.num_labels)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.1)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **_: object,
    ) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        features = self.encode(self.embeddings(input_ids), attention_mask)
        logits = self.classifier(self.dropout(features))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


class BiLSTMForSequenceClassification(_Baseline):
    config_class = BiLSTMConfig

    def __init__(self, config: BiLSTMConfig) -> None:
        self.feature_size = 2 * config.hidden_size
        super().__init__(config)
        self.lstm = nn.LSTM(
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=True,
        )
        self.post_init()

    def encode(self, embedded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            embedded, lengths, batch_first=True, enforce_sorted=False
        )
        _, (hidden, _) = self.lstm(packed)
        return torch.cat([hidden[-2], hidden[-1]], dim=-1)  # last layer, both directions


class CNNForSequenceClassification(_Baseline):
    config_class = CNNConfig

    def __init__(self, config: CNNConfig) -> None:
        self.feature_size = config.hidden_size * len(config.kernel_sizes)
        super().__init__(config)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embedding_dim, config.hidden_size, k, padding=k // 2)
            for k in config.kernel_sizes
        )
        self.post_init()

    def encode(self, embedded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = embedded.transpose(1, 2)  # (batch, channels, length)
        neg = torch.finfo(x.dtype).min
        pooled = []
        for conv in self.convs:
            h = torch.relu(conv(x))[..., : mask.shape[1]]
            pooled.append(h.masked_fill(~mask.bool().unsqueeze(1), neg).max(dim=-1).values)
        return torch.cat(pooled, dim=-1)


for _config, _model in (
    (BiLSTMConfig, BiLSTMForSequenceClassification),
    (CNNConfig, CNNForSequenceClassification),
):
    AutoConfig.register(_config.model_type, _config, exist_ok=True)
    AutoModelForSequenceClassification.register(_config, _model, exist_ok=True)

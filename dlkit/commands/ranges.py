"""The settings that have a valid range, declared once and checked on the composed config
before anything is imported or built: the message names the key, the value and the range.
Settings absent from a config (block_size of a classifier) or null are not checked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dlkit.errors import ConfigError

INF = float("inf")


@dataclass(frozen=True)
class Range:
    low: float = -INF
    high: float = INF
    whole: bool = False  # an integer
    open_low: bool = False  # low itself is outside
    open_high: bool = False
    also: tuple[Any, ...] = ()  # values allowed outside the range (-1: no limit)

    def problem(self, value: Any) -> str | None:
        if value in self.also and type(value) is not bool:
            return None
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or (self.whole and not isinstance(value, int)):
            return f"must be {'a whole number' if self.whole else 'a number'}"
        below = value <= self.low if self.open_low else value < self.low
        above = value >= self.high if self.open_high else value > self.high
        return f"must be {self.describe()}" if below or above else None

    def describe(self) -> str:
        parts = []
        if self.low > -INF:
            parts.append(f"{'>' if self.open_low else '>='} {_num(self.low)}")
        if self.high < INF:
            parts.append(f"{'<' if self.open_high else '<='} {_num(self.high)}")
        text = " and ".join(parts) or "a number"
        return text + "".join(f" (or {v})" for v in self.also)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


COUNT = Range(1, whole=True)
FRACTION = Range(0, 1, open_high=True)
PROBABILITY = Range(0, 1, open_low=True, open_high=True)
PRECISIONS = ("64-true", "32-true", "16-true", "bf16-true", "16-mixed", "bf16-mixed")
PRECISIONS += ("64", "32", "16", "bf16", "transformer-engine", "transformer-engine-float16")

SCHEMA: dict[str, Range] = {
    "seed": Range(0, 2**32 - 1, whole=True),
    "data.batch_size": COUNT,
    "data.eval_batch_size": COUNT,
    "data.max_length": COUNT,
    "data.block_size": Range(2, whole=True),
    "data.num_workers": Range(0, whole=True),
    "data.validation_fraction": Range(0, 1, open_low=True, open_high=True),
    "data.mlm_probability": PROBABILITY,
    "data.doc_stride": Range(0, whole=True),
    "data.validation_articles": COUNT,
    "trainer.max_epochs": Range(1, whole=True, also=(-1,)),
    "trainer.max_steps": Range(1, whole=True, also=(-1,)),
    "trainer.accumulate_grad_batches": COUNT,
    "trainer.log_every_n_steps": COUNT,
    "trainer.check_val_every_n_epoch": COUNT,
    "trainer.gradient_clip_val": Range(0),
    "trainer.val_check_interval": Range(0, open_low=True),
    "trainer.limit_train_batches": Range(0, open_low=True),
    "trainer.limit_val_batches": Range(0),
    "trainer.limit_test_batches": Range(0),
    "trainer.num_sanity_val_steps": Range(0, whole=True, also=(-1,)),
    "hardware.num_nodes": COUNT,
    "hardware.threads": Range(1, whole=True, also=("auto",)),
    "optimizer.lr": Range(0, open_low=True),
    "optimizer.weight_decay": Range(0),
    "optimizer.momentum": FRACTION,
    "scheduler.warmup_ratio": FRACTION,
    "model.config.hidden_size": COUNT,
    "model.config.num_hidden_layers": COUNT,
    "model.config.num_attention_heads": COUNT,
    "model.config.intermediate_size": COUNT,
    "model.config.max_position_embeddings": COUNT,
    "model.config.hidden_dropout_prob": FRACTION,
    "model.config.attention_probs_dropout_prob": FRACTION,
    "model.init_config.hidden_dropout_prob": FRACTION,
    "model.init_config.attention_probs_dropout_prob": FRACTION,
    "model.config.n_embd": COUNT,
    "model.config.n_layer": COUNT,
    "model.config.n_head": COUNT,
    "model.config.n_positions": COUNT,
    "model.tokenizer.vocab_size": Range(32, whole=True),
    "model.tokenizer.max_length": COUNT,
    "export.examples": COUNT,
    "export.batch_size": COUNT,
    "export.int8_examples": COUNT,
    "export.tolerance": Range(0, open_low=True),
    "export.max_quality_drop": Range(0, 100),
    "export.opset": Range(14, 23, whole=True),
    "export.timing.latency_calls": COUNT,
    "export.timing.throughput_batches": COUNT,
    "export.timing.throughput_batch_size": COUNT,
    "export.timing.warmup": Range(0, whole=True),
    "predict.batch_size": COUNT,
    "predict.max_new_tokens": COUNT,
    "predict.temperature": Range(0),
    "predict.top_k": COUNT,
}


def check(cfg: DictConfig) -> None:
    """Every declared range, then the relations between settings."""
    for key, rule in SCHEMA.items():
        value = OmegaConf.select(cfg, key, throw_on_resolution_failure=False)
        if value is None or isinstance(value, (DictConfig, list)):
            continue
        problem = rule.problem(value)
        if problem:
            raise ConfigError(
                f"{key}={_shown(value)} is out of range: it {problem}. Set {key} on the "
                "command line or in your experiment config."
            )
    for relation in RELATIONS:
        relation(cfg)


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _get(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, throw_on_resolution_failure=False)


def _precision(cfg: DictConfig) -> None:
    value = _get(cfg, "trainer.precision")
    if value is not None and str(value) not in PRECISIONS:
        raise ConfigError(
            f"trainer.precision={value} is not a precision Lightning knows: use 32-true, "
            "bf16-mixed or 16-mixed (also 64-true, 16-true, bf16-true). It is a training "
            "setting; the hardware profile is not involved."
        )


def _compile(cfg: DictConfig) -> None:
    """A config file's `compile: yes` or `1` (the command line's type check catches these)."""
    value = _get(cfg, "compile")
    if value is not None and not isinstance(value, bool):
        raise ConfigError(
            f"compile={_shown(value)}: write compile=true (torch.compile the model's forward "
            "while training) or compile=false."
        )


def _devices(cfg: DictConfig) -> None:
    devices = _get(cfg, "hardware.devices")
    if devices is None or devices == "auto" or devices == -1:
        return
    bad = (isinstance(devices, int) and devices < 1) or (
        isinstance(devices, str) and not devices.replace(",", "").strip().isdigit()
    )
    if bad or (OmegaConf.is_list(devices) and len(devices) == 0):
        raise ConfigError(
            f"hardware.devices={devices}: give a number of devices >= 1, a list of device ids "
            "([0,1]), -1 or auto."
        )


def _steps(cfg: DictConfig) -> None:
    epochs, steps = _get(cfg, "trainer.max_epochs"), _get(cfg, "trainer.max_steps")
    if epochs == -1 and steps in (-1, None):
        raise ConfigError(
            "trainer.max_epochs=-1 with trainer.max_steps=-1 would train forever: set "
            "trainer.max_steps=<steps> or trainer.max_epochs=<epochs>."
        )


# (width, attention heads) in the model configs dlkit builds: BERT, GPT-2, BART's two stacks.
# T5 is absent: its d_kv sets each head's size, so any count fits.
_HEAD_SPLITS = [
    ("hidden_size", "num_attention_heads"),
    ("n_embd", "n_head"),
    ("d_model", "encoder_attention_heads"),
    ("d_model", "decoder_attention_heads"),
]


def _heads(cfg: DictConfig) -> None:
    for width, heads in _HEAD_SPLITS:
        w, h = _get(cfg, f"model.config.{width}"), _get(cfg, f"model.config.{heads}")
        if isinstance(w, int) and isinstance(h, int) and h > 0 and w % h:
            raise ConfigError(
                f"model.config.{heads}={h} does not divide model.config.{width}={w}: each "
                f"attention head gets {width}/{heads} dimensions. Use e.g. {heads}="
                f"{_divisor(w, h)}."
            )


def _divisor(width: int, heads: int) -> int:
    return max(d for d in range(1, heads + 1) if not width % d)


def _positions(cfg: DictConfig) -> None:
    """A scratch model's position embeddings must cover the longest input it is given; a
    loaded model is checked once loaded (components)."""
    if _get(cfg, "model.init_from"):
        return
    positions = _get(cfg, "model.config.max_position_embeddings") or _get(
        cfg, "model.config.n_positions"
    )
    for key in ("data.max_length", "data.block_size"):
        length = _get(cfg, key)
        if isinstance(positions, int) and isinstance(length, int) and length > positions:
            raise ConfigError(
                f"{key}={length} exceeds the model's {positions} positions "
                f"(model.config): lower {key} or raise the model's positions."
            )


def _stride(cfg: DictConfig) -> None:
    """Overlapping windows (question answering) share fewer tokens than a window holds."""
    stride, length = _get(cfg, "data.doc_stride"), _get(cfg, "data.max_length")
    if isinstance(stride, int) and isinstance(length, int) and stride >= length:
        raise ConfigError(
            f"data.doc_stride={stride} must be below data.max_length={length}: it is the "
            "number of tokens consecutive windows share."
        )


RELATIONS: tuple[Callable[[DictConfig], None], ...] = (
    _precision,
    _compile,
    _devices,
    _steps,
    _heads,
    _positions,
    _stride,
)

"""The root config's `compile`: validated before anything is built, and compile=true trains
through torch.compile with the parameter names, model/ and evaluation of an eager run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from dlkit.commands import ranges
from dlkit.commands.overrides import check
from dlkit.errors import ConfigError
from tests.conftest import compose_root
from tests.test_pretrain import lm_overrides, write_corpus


def test_compile_is_off_by_default_and_takes_true_or_false(tmp_path: Path) -> None:
    assert compose_root([f"paths.output_dir={tmp_path}"]).compile is False
    assert check(["+experiment=bert_mlm", "compile=true"]).compile is True
    with pytest.raises(ConfigError, match="compile.*true or false"):
        check(["+experiment=bert_mlm", "compile=yes please"])
    cfg = compose_root([f"paths.output_dir={tmp_path}", "compile=1"])  # as a config file could
    with pytest.raises(ConfigError, match="compile=1"):
        ranges.check(cfg)


def _has_compiler() -> bool:
    """Inductor builds its CPU kernels with a C++ compiler."""
    return any(shutil.which(name) for name in ("g++", "c++", "clang++"))


# aot_eager traces the forward and backward as torch.compile does, without generating kernels
# (seconds); inductor, the default backend, compiles C++ kernels (two minutes on 2 cores).
BACKENDS = [
    "aot_eager",
    pytest.param(
        "inductor",
        marks=[
            pytest.mark.slow,
            pytest.mark.skipif(not _has_compiler(), reason="inductor on CPU needs a C++ compiler"),
        ],
    ),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_compile_true_trains_a_tiny_model(backend: str, tmp_path: Path, monkeypatch) -> None:
    from dlkit.commands.pretrain import pretrain

    compiled: list[object] = []
    real = torch.compile

    def recording(fn, *args, **kwargs):
        compiled.append(fn)
        return real(fn, *args, **{"backend": backend, **kwargs})

    monkeypatch.setattr(torch, "compile", recording)
    corpus = write_corpus(tmp_path / "corpus", lines=200)
    run = tmp_path / "runs" / "bert_mlm" / "compiled"
    overrides = lm_overrides("bert_mlm", "bert_tiny", corpus, tmp_path)
    cfg = compose_root(
        [
            *overrides,
            "compile=true",
            "model.config.num_hidden_layers=1",
            "model.config.intermediate_size=64",
            "trainer.max_steps=2",
            "trainer.val_check_interval=2",
            "callbacks.cpu_linear=null",
            f"paths.output_dir={run}",
        ]
    )
    results = pretrain(cfg)
    assert len(compiled) == 1 and getattr(compiled[0], "__name__", "") == "forward"
    assert results["global_step"] == 2 and results["samples_per_second"] > 0
    # Saved as a plain transformers model: no `_orig_mod.` in the weights' names.
    weights = (run / "model" / "model.safetensors").read_bytes()[:20000]
    assert b"_orig_mod" not in weights and b"bert.encoder.layer.0" in weights
    assert "compile: true" in (run / "config.yaml").read_text()


def test_the_forward_is_compiled_only_while_fitting() -> None:
    """Fit's end gives the model its eager forward back (a hook's own forward included), so
    the final evaluation, model/ and exports run the plain model."""
    from dlkit.training.task import Task

    model = torch.nn.Linear(2, 2)
    task = Task(model, optimizer=torch.optim.SGD)
    task.on_fit_start()  # compile off: nothing changes
    assert "forward" not in vars(model)
    task.compile_forward = True
    task.on_fit_start()
    assert "forward" in vars(model)
    task.on_fit_end()
    assert "forward" not in vars(model)

    def hook(x: torch.Tensor) -> torch.Tensor:
        return x

    model.forward = hook
    task.on_fit_start()
    assert model.forward is not hook
    task.on_fit_end()
    assert model.forward is hook

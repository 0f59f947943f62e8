"""Hardware profiles: FSDP builds its strategy with the transformer blocks as wrap units,
multi_node takes the node count from SLURM, and a GPU profile on a CPU machine is a clear
usage error."""

from __future__ import annotations

from hydra.utils import instantiate
from lightning.pytorch.strategies import FSDPStrategy
from transformers.models.bert.modeling_bert import BertLayer
from transformers.models.gpt2.modeling_gpt2 import GPT2Block

from tests.conftest import compose_root, tiny_overrides
from tests.test_cli import dlkit


def test_fsdp_profile_builds_its_strategy() -> None:
    cfg = compose_root(["hardware=fsdp"])
    strategy = instantiate(cfg.hardware.strategy)
    assert isinstance(strategy, FSDPStrategy)
    assert set(strategy.kwargs["auto_wrap_policy"]._module_classes) == {BertLayer, GPT2Block}
    assert strategy.sharding_strategy.name == "FULL_SHARD"
    assert strategy._state_dict_type == "full"  # a file checkpoint: resume and model/ work


def test_multi_node_reads_the_node_count_from_slurm(monkeypatch) -> None:
    monkeypatch.setenv("SLURM_NNODES", "4")
    assert compose_root(["hardware=multi_node"]).hardware.num_nodes == 4
    monkeypatch.delenv("SLURM_NNODES")
    assert compose_root(["hardware=multi_node"]).hardware.num_nodes == 1


def test_gpu_profiles_on_a_cpu_machine_are_usage_errors(tiny_data, tmp_path) -> None:
    for profile in ("fsdp", "gpu"):
        result = dlkit(
            "train", *tiny_overrides(tiny_data, tmp_path), f"hardware={profile}", cwd=tmp_path
        )
        assert result.returncode == 2, result.stderr[-2000:]
        assert "hardware=cpu or hardware=ddp_cpu" in result.stderr
        assert "Traceback" not in result.stderr


def test_bf16_on_a_cpu_without_bf16_kernels_trains_in_fp32(monkeypatch, tmp_path, caplog) -> None:
    """torch's reference bf16 loop made a bert_mini step 35x slower than fp32 on AVX2."""
    from dlkit.training import precision
    from dlkit.training.trainer import build_trainer

    cfg = compose_root(["trainer.precision=bf16-mixed", f"paths.output_dir={tmp_path}"])
    monkeypatch.setattr(precision, "native_bf16", lambda: False)
    assert build_trainer(cfg, tmp_path).precision == "32-true"
    assert "no bf16 matrix instructions" in caplog.text
    monkeypatch.setattr(precision, "native_bf16", lambda: True)
    assert build_trainer(cfg, tmp_path).precision == "bf16-mixed"
    assert precision.cpu_precision("16-mixed") == "bf16-mixed"  # Lightning's rule on CPUs
    assert precision.cpu_precision("32-true") == "32-true"
    monkeypatch.setattr(precision, "native_bf16", lambda: False)
    assert precision.cpu_precision("16-mixed") == "32-true"

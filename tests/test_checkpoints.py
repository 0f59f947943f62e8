"""Checkpoints: written atomically, read without executing pickled code, and refused with a
clear message when they are corrupt or belong to another model or task."""

from __future__ import annotations

import pickle
from pathlib import Path

import lightning as L
import pytest
import torch
from fsspec.implementations.local import LocalFileOpener
from transformers import AutoModelForMaskedLM, BertConfig

from dlkit.errors import RunFolderError
from dlkit.runs import checkpoint


class _Tiny(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_a_crash_while_writing_leaves_the_previous_checkpoint(tmp_path: Path, monkeypatch) -> None:
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(8, 4)))
    trainer = L.Trainer(
        max_steps=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(_Tiny(), data)
    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    before = path.read_bytes()

    def half_then_fail(self, data):  # the disk fills up half-way through the file
        self.f.write(bytes(data)[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(LocalFileOpener, "write", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        trainer.save_checkpoint(path)
    assert path.read_bytes() == before
    assert checkpoint.load(path)["global_step"] == 2


def test_truncated_checkpoint_is_named(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"w": torch.ones(3)}, "global_step": 1}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RunFolderError, match=r"Cannot read the checkpoint .*last.ckpt"):
        checkpoint.load(path)


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(__file__).parent / "PWNED",))


def test_pickled_code_in_a_checkpoint_is_never_run(tmp_path: Path) -> None:
    marker = Path(__file__).parent / "PWNED"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _Payload()}, path, pickle_module=pickle)
    with pytest.raises(RunFolderError, match="never pickled code"):
        checkpoint.load(path)
    assert not marker.exists()


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load(run / "checkpoints" / "best.ckpt")["state_dict"]


def test_checkpoint_of_another_task_is_refused(trained) -> None:
    run, _ = trained
    config = BertConfig(
        vocab_size=120,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    other = torch.nn.Module()
    other.model = AutoModelForMaskedLM.from_config(config)  # same encoder, masked-LM head
    with pytest.raises(RunFolderError, match="belong to another model or task head"):
        checkpoint.check_matches(_weights(run), other, run / "checkpoints" / "best.ckpt")
    bigger = torch.nn.Module()
    bigger.model = AutoModelForMaskedLM.from_config(
        BertConfig(**{**config.to_dict(), "hidden_size": 64})
    )
    with pytest.raises(RunFolderError, match="other shapes"):
        checkpoint.check_matches(_weights(run), bigger, run / "checkpoints" / "best.ckpt")

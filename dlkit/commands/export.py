"""`dlkit export`: ONNX, TorchScript and int8 exports (their own issue; not landed yet)."""

from __future__ import annotations

from collections.abc import Sequence

from dlkit.commands.app import not_available


def main(argv: Sequence[str]) -> int:
    return not_available(
        "dlkit export is not available yet: verified ONNX/TorchScript exports have not "
        "landed. Every run already holds a Hugging Face model folder in <run>/model."
    )

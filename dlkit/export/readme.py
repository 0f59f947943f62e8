"""The short README written into every export folder: what is there and how to run it."""

from __future__ import annotations

_LOAD = {
    "hf": """```python
from transformers import AutoModelFor{auto}, AutoTokenizer

model = AutoModelFor{auto}.from_pretrained("{folder}")
tokenizer = AutoTokenizer.from_pretrained("{folder}")
```""",
    "onnx": """Needs only `onnxruntime`, `tokenizers` and `numpy` (no torch, no dlkit):

```python
import json
import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

folder = "{folder}"
tokenizer = Tokenizer.from_file(f"{{folder}}/tokenizer.json")
tokenizer.enable_truncation({max_length})
tokenizer.enable_padding(pad_id=tokenizer.token_to_id("{pad}"), pad_token="{pad}")
session = ort.InferenceSession(f"{{folder}}/model.onnx", providers=["CPUExecutionProvider"])
labels = json.load(open(f"{{folder}}/config.json"))["id2label"]

encodings = tokenizer.encode_batch(["a gripping, funny film", "dull and far too long"])
feed = {{
    "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
    "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
}}
feed = {{i.name: feed[i.name] for i in session.get_inputs()}}
logits = session.run(None, feed)[0]
print([labels[str(i)] for i in logits.argmax(-1)])
```
`scripts/onnx_accuracy.py` does this over a whole labelled file.""",
    "torchscript": """Needs only `torch`:

```python
import torch
from transformers import AutoTokenizer

module = torch.jit.load("{folder}/model.pt")
tokenizer = AutoTokenizer.from_pretrained("{folder}")
batch = tokenizer(["a gripping, funny film"], return_tensors="pt")
logits = module({inputs})
```""",
}

_AUTO = {
    "sequence_classification": "SequenceClassification",
    "masked_lm": "MaskedLM",
    "causal_lm": "CausalLM",
}


def render(name: str, manifest: dict, parity: dict) -> str:
    fmt = manifest["format"]
    files = {
        "hf": "config.json, model.safetensors, tokenizer files",
        "onnx": "model.onnx (dynamic batch and sequence axes), config.json, tokenizer files",
        "torchscript": "model.pt (traced), config.json, tokenizer files",
    }[fmt]
    load = _LOAD[fmt].format(
        auto=_AUTO[manifest["head"]],
        folder=f"exports/{name}",
        max_length=manifest["max_length"],
        pad=manifest["pad_token"],
        inputs=", ".join(f'batch["{n}"]' for n in manifest["input_names"]),
    )
    checked = (
        f"{parity['examples']} validation examples: largest |logit difference| "
        f"{parity['max_abs_logit_diff']:.2e}, label agreement {parity['label_agreement']:.2%}"
    )
    if "size_bytes" in parity:
        checked += (
            f"; accuracy {parity['accuracy']['reference']:.2%} -> "
            f"{parity['accuracy']['export']:.2%}; size {parity['size_bytes']['fp32'] / 2**20:.1f}"
            f" MiB -> {parity['size_bytes']['int8'] / 2**20:.1f} MiB"
        )
    return (
        f"# {name} export of {manifest['run']}\n\n"
        f"Task head: {manifest['head']}. Inputs: {', '.join(manifest['input_names'])}; output: "
        f"logits.\nFiles: {files}; parity.json (the check below); export.json (what dlkit "
        f"predict reads).\n\nVerified against the PyTorch model on {checked}.\n\n{load}\n\n"
        f"Or: `dlkit predict run=<this folder> input=<file>`.\n"
    )

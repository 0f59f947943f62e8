"""The short README written into every export folder: what is there and how to run it."""

from __future__ import annotations

from dlkit.families.family import Family

_LOAD = {
    "hf": """```python
from transformers import {auto}, AutoTokenizer

model = {auto}.from_pretrained("{folder}")
tokenizer = AutoTokenizer.from_pretrained("{folder}")
# or: transformers.pipeline("{pipeline_task}", model="{folder}")
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
labels = json.load(open(f"{{folder}}/config.json")).get("id2label", {{}})

{encodings}
feed = {{
    "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
    "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
    "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
}}
feed = {{i.name: feed[i.name] for i in session.get_inputs()}}
outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))
{usage}
```""",
    "torchscript": """Needs only `torch`:

```python
import torch
from transformers import AutoTokenizer

module = torch.jit.load("{folder}/model.pt")
tokenizer = AutoTokenizer.from_pretrained("{folder}")
batch = tokenizer(["a gripping, funny film"], return_tensors="pt")
outputs = dict(zip({outputs}, (t.numpy() for t in module({inputs}))))
```""",
}


def render(name: str, manifest: dict, parity: dict, family: Family) -> str:
    fmt = manifest["format"]
    files = {
        "hf": "config.json, model.safetensors, tokenizer files",
        "onnx": "model.onnx (dynamic batch and sequence axes), config.json, tokenizer files",
        "torchscript": "model.pt (traced), config.json, tokenizer files",
    }[fmt]
    template = _LOAD[fmt]
    if not family.pipeline_task:  # no transformers pipeline serves it
        template = "\n".join(line for line in template.splitlines() if "pipeline(" not in line)
    load = template.format(
        auto=family.auto_class,
        pipeline_task=family.pipeline_task,
        usage=family.usage(),
        encodings=family.readme_encodings(manifest),
        outputs=manifest["output_names"],
        folder=f"exports/{name}",
        max_length=manifest["max_length"],
        pad=manifest["pad_token"],
        inputs=", ".join(f'batch["{n}"]' for n in manifest["input_names"]),
    )
    checked = (
        f"{parity['examples']} validation examples: largest |output difference| "
        f"{parity['max_abs_logit_diff']:.2e}, label agreement {parity['label_agreement']:.2%}"
    )
    quality = parity.get(family.quality or "")
    if quality:
        checked += (
            f"; {family.quality} {quality['reference']:.2%} (PyTorch) -> "
            f"{quality['export']:.2%} (this export)"
        )
    if "size_bytes" in parity:
        checked += (
            f"; size {parity['size_bytes']['fp32'] / 2**20:.1f}"
            f" MiB -> {parity['size_bytes']['int8'] / 2**20:.1f} MiB"
        )
    return (
        f"# {name} export of {manifest['run']}\n\n"
        f"Task family: {family.name}. Inputs: {', '.join(manifest['input_names'])}; outputs: "
        f"{', '.join(manifest['output_names'])}.\nFiles: {files}; parity.json (the check "
        f"below); export.json (what dlkit predict reads).\n\nVerified against the PyTorch "
        f"model on {checked}.\n\n{load}\n\n"
        f"Or: `dlkit predict run=<this folder> input=<file>`.\n"
    )

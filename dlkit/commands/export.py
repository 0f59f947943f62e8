"""`dlkit export run=<run folder> format=hf|onnx|torchscript [quantize=dynamic_int8]
[benchmark=true]`: write exports/<format>[-int8]/ and verify it against the PyTorch model."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from dlkit import families
from dlkit.commands import app, collector, trained
from dlkit.errors import ConfigError, ExportError
from dlkit.runs.folder import RunFolder, open_run, read_json, write_json

FORMATS = ("hf", "onnx", "torchscript")


def export_name(cfg: DictConfig) -> str:
    if cfg.format not in FORMATS:
        raise ConfigError(f"format={cfg.format} is not one of {', '.join(FORMATS)}.")
    if cfg.quantize not in (None, "dynamic_int8"):
        raise ConfigError(f"quantize={cfg.quantize}: the only quantization is dynamic_int8.")
    return f"{cfg.format}-int8" if cfg.quantize else cfg.format


def export(cfg: DictConfig) -> dict:
    if not cfg.get("run"):
        raise ConfigError("export needs run=<run folder>, e.g. run=runs/bert_cls/latest.")
    name = export_name(cfg)
    run = open_run(cfg.run)
    saved = trained.run_config(run, cfg)
    family = families.of_task(saved.task)
    if name not in family.exports():
        raise ConfigError(
            f"{name} export is not available for a {family.name} run ({run.path}); it supports "
            f"{', '.join(family.exports())}. int8 is verified by the family's quality metric "
            "on labelled validation data, which this family does not have."
        )

    from dlkit import console
    from dlkit.export.hf import label_names
    from dlkit.export.parity import compare
    from dlkit.export.readme import render
    from dlkit.export.runtime import Eager, load

    trained.quiet_libraries()
    model = family.load_model(run.model_dir)
    tokenizer = trained.load_tokenizer(run.model_dir)
    inputs = family.model_inputs(model, tokenizer)
    outputs = list(family.outputs)
    rows, collate = _validation(saved, run, tokenizer)
    collector.resume()  # export and parity runs allocate graphs with cycles: collect them
    limit = cfg.export.int8_examples if cfg.quantize else cfg.export.examples
    size = cfg.export.batch_size
    batches = _batches(rows, collate, inputs, limit or len(rows), size, keep=family.score_keys)

    # Built in a staging folder; it replaces an earlier export only once verified.
    target = run.path / "exports" / name
    staging = target.with_name(f".{name}.{os.getpid()}.partial")  # one per export process
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        details = _write(cfg, model, tokenizer, (inputs, outputs), batches, staging)
        manifest = _manifest(run, saved, name, (inputs, outputs), tokenizer, staging)
        candidate = load(staging, family.load_model)
        report = {**details, **compare(Eager(model, inputs, outputs), candidate, batches)}
        report.update(_verdict(cfg, family, batches, report, label_names(run.model_dir)))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_json(staging / "parity.json", {"export": name, **report})
    (staging / "README.md").write_text(render(name, manifest, report, family))

    if not report["passed"]:
        rejected = target.with_name(f"{name}.rejected")
        _replace(staging, rejected)
        raise ExportError(
            f"The {name} export failed verification: {report['reason']} "
            f"It is kept for inspection in {rejected}; {target} is unchanged."
        )
    _replace(staging, target)
    console.metrics_table(f"{name} parity", _summary(report, family.quality))
    console.console.print(f"Export: [bold]{target}[/bold]")
    if cfg.benchmark:
        _benchmark(cfg, run, family, Eager(model, inputs, outputs), rows, collate)
    return report


def _replace(staging: Path, target: Path) -> None:
    """Put a finished folder in target's place; when two exports of one run finish together,
    the later one wins and neither fails."""
    for _ in range(5):
        old = target.with_name(f".{target.name}.{os.getpid()}.old")
        try:
            if target.exists():
                target.rename(old)
            staging.rename(target)
            break
        except FileNotFoundError:
            continue  # the other export moved target away first: try again
        except OSError:
            continue  # target re-appeared between the two renames: try again
        finally:
            shutil.rmtree(old, ignore_errors=True)
    else:
        shutil.rmtree(staging, ignore_errors=True)
        raise ExportError(f"Cannot replace {target}: other exports keep writing it. Retry.")


def _validation(saved: DictConfig, run: RunFolder, tokenizer) -> tuple:
    """The run's validation rows, tokenized as in training, and the collator that pads them."""
    from dlkit.commands.components import load_data
    from dlkit.export.hf import label_names

    data = load_data(saved, ("validation",), label_names(run.model_dir) or None)
    data.tokenize(tokenizer)
    if not data.has("validation"):
        raise ConfigError(f"{run.path} was trained without a validation split to verify with.")
    return data.ready["validation"], data.collator("validation")


def _batches(
    rows,
    collate,
    inputs: list[str],
    limit: int,
    size: int,
    first: tuple[int, ...] = (1, 3),
    keep: tuple[str, ...] = (),
) -> list[dict]:
    """Batches of `first` sizes, then of `size` rows, each padded to its own longest row, so
    parity covers the dynamic batch and sequence axes; the model inputs as arrays, and the
    entries `keep` names (what the family's quality metric reads) as the collator gave them
    (tensors as arrays)."""
    sizes, start, out = list(first), 0, []
    limit = min(limit, len(rows))
    while start < limit:
        n = min(sizes.pop(0) if sizes else size, limit - start)
        batch = collate([rows[i] for i in range(start, start + n)])
        ids = np.asarray(batch["input_ids"])
        arrays = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        arrays.update({k: np.asarray(v) for k, v in batch.items() if k in inputs})
        arrays = {k: v for k, v in arrays.items() if k in inputs}
        for key in (k for k in keep if k in batch):
            value = batch[key]
            arrays[key] = np.asarray(value) if hasattr(value, "shape") else value
        out.append(arrays)
        start += n
    return out


def _write(cfg, model, tokenizer, names: tuple[list, list], batches, folder: Path) -> dict:
    """The export's files; for int8, also the fp32 size it started from. `names`: the graph's
    input and output names."""
    import torch

    from dlkit.export import graph
    from dlkit.export.hf import save_model_dir

    if cfg.format == "hf":
        save_model_dir(model, tokenizer, folder)
        return {}
    tokenizer.save_pretrained(folder)
    model.config.save_pretrained(folder)
    widest = max(batches, key=lambda b: b["input_ids"].size)  # >1 row: no size-1 specialising
    example = tuple(torch.from_numpy(widest[n]) for n in names[0])
    details: dict = {}
    if cfg.format == "onnx":
        fp32 = folder / ("fp32.onnx" if cfg.quantize else "model.onnx")
        details["exporter"] = graph.export_onnx(model, *names, example, fp32, cfg.export.opset)
        details["opset"] = graph.onnx_opset(fp32)  # what was written, not only what was asked
        if details["opset"] != cfg.export.opset:
            from dlkit import console

            console.console.print(
                f"[yellow]export.opset={cfg.export.opset}: the exporter wrote opset "
                f"{details['opset']}; parity.json records {details['opset']}.[/yellow]"
            )
        if cfg.quantize:
            graph.quantize_onnx(fp32, folder / "model.onnx")
            details["size_bytes"] = _sizes(fp32, folder / "model.onnx")
    else:
        fp32 = folder / ("fp32.pt" if cfg.quantize else "model.pt")
        graph.export_torchscript(model, *names, example, fp32, int8=False)
        if cfg.quantize:
            graph.export_torchscript(model, *names, example, folder / "model.pt", int8=True)
            details["size_bytes"] = _sizes(fp32, folder / "model.pt")
    return details


def _sizes(fp32: Path, int8: Path) -> dict[str, int]:
    """Sizes of both files (with ONNX's external weights), then the fp32 one is removed."""
    side = list(fp32.parent.glob(fp32.name + "*"))
    before = sum(p.stat().st_size for p in side)
    for p in side:
        p.unlink()
    return {"fp32": before, "int8": int8.stat().st_size}


def _verdict(cfg: DictConfig, family, batches: list[dict], report: dict, labels: list) -> dict:
    """fp32 exports must match the model's outputs; int8 ones may lose at most
    export.max_quality_drop points of the family's quality metric."""
    if "error" in report:
        return {"passed": False, "reason": report["error"] + "."}
    outputs = report.pop("outputs")
    labelled = all(key in batch for batch in batches for key in family.score_keys)
    metric = family.quality
    if metric and labelled:
        report[metric] = {side: family.score(batches, out, labels) for side, out in outputs.items()}
    if cfg.quantize:
        if metric not in report:
            return {"passed": False, "reason": "the validation rows carry no labels."}
        drop = 100 * (report[metric]["reference"] - report[metric]["export"])
        bound = cfg.export.max_quality_drop
        ok = drop <= bound
        reason = (
            f"validation {metric} drops by {drop:.2f} points (bound {bound}, set by "
            "export.max_quality_drop)."
        )
        return {
            "quality_drop_points": round(drop, 3),
            "max_quality_drop": bound,
            "passed": ok,
            **({} if ok else {"reason": reason}),
        }
    diff, tolerance = report["max_abs_logit_diff"], cfg.export.tolerance
    ok = diff <= tolerance  # NaN fails
    reason = f"largest |output difference| {diff:.3g} exceeds export.tolerance={tolerance}."
    return {"tolerance": tolerance, "passed": ok, **({} if ok else {"reason": reason})}


def _manifest(run, saved, name, names: tuple[list, list], tokenizer, folder: Path) -> dict:
    """export.json: what `dlkit predict` needs to run an export without the run folder."""
    manifest = {
        "format": name.split("-")[0],
        "quantize": "dynamic_int8" if name.endswith("int8") else None,
        **trained.serving_info(saved),
        "input_names": names[0],
        "output_names": names[1],
        "pad_token": tokenizer.pad_token,
        "run": str(run.path),
    }
    write_json(folder / "export.json", manifest)
    return manifest


def _summary(report: dict, metric: str | None) -> dict:
    out = {
        "examples": report["examples"],
        "max |output diff|": f"{report['max_abs_logit_diff']:.2e}",
        "label agreement": report["label_agreement"],
    }
    out |= {f"{metric} ({k})": v for k, v in report.get(metric or "", {}).items()}
    if "size_bytes" in report:
        out |= {f"size MiB ({k})": round(v / 2**20, 2) for k, v in report["size_bytes"].items()}
    return out


def _benchmark(cfg, run, family, reference, rows, collate) -> None:
    """Every verified export of the run against the PyTorch model, on the same inputs."""
    from dlkit import console
    from dlkit.export.benchmark import measure
    from dlkit.export.runtime import load

    timing = cfg.export.timing
    inputs = reference.input_names
    singles = _batches(rows, collate, inputs, timing.latency_calls, 1, first=())
    size = timing.throughput_batch_size
    batches = _batches(rows, collate, inputs, timing.throughput_batches * size, size, first=())
    runtimes = {"pytorch": reference}
    fix = "delete that export folder or export it again."
    for folder in sorted(p.parent for p in (run.path / "exports").glob("*/parity.json")):
        if folder.name.startswith(".") or not read_json(folder / "parity.json", fix).get("passed"):
            continue  # staging or rejected exports
        if folder.name.startswith("torchscript") and not cfg.trust_remote_code:
            console.console.print(
                f"Not timed: {folder.name} (a TorchScript program; add trust_remote_code=true "
                "to load it)."
            )
            continue
        runtimes[folder.name] = load(folder, family.load_model)
    results = {
        name: measure(runtime, singles, batches, timing.warmup)
        for name, runtime in runtimes.items()
    }
    base = results["pytorch"]
    for row in results.values():
        row["latency_vs_pytorch"] = round(row["latency_ms_p50"] / base["latency_ms_p50"], 3)
        row["throughput_vs_pytorch"] = round(
            row["throughput_samples_per_s"] / base["throughput_samples_per_s"], 3
        )
    out = run.path / "exports" / "benchmark.json"
    write_json(
        out,
        {
            "batch_1_calls": len(singles),
            "batch_size": timing.throughput_batch_size,
            "batches": len(batches),
            "formats": results,
        },
    )
    console.benchmark_table(results)
    console.console.print(f"Written: {out}")


def main(argv: Sequence[str]) -> int:
    return app.run(export, [*app.in_place(), *argv])

"""The BiLSTM + char-CNN tagger: loss masking, padding independence, save/load with its
spelling buffer, learning, ONNX/TorchScript parity on unseen shapes, and the HF pipeline."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import (
    AutoConfig,
    AutoModelForTokenClassification,
    PreTrainedTokenizerFast,
    pipeline,
)

from dlkit.families.token_classification.tagger import (
    CHAR_CONTINUATION,
    BiLSTMForTokenClassification,
    BiLSTMTaggerConfig,
    spell,
)

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["John", "Mary", "lives", "in", "Paris", "London", "and", "works", "at", "Acme", "."]
PIECES = ["##s", "##ton", "##ing", "Bos", "Berl"]
VOCAB = SPECIALS + WORDS + PIECES
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def tiny_config(**overrides: object) -> BiLSTMTaggerConfig:
    sizes = dict(
        vocab_size=len(VOCAB),
        embedding_dim=8,
        char_dim=4,
        char_channels=6,
        max_chars=8,
        hidden_size=8,
        dropout=0.1,
    )
    sizes.update(overrides)
    return AutoConfig.for_model(
        "dlkit-bilstm-tagger",
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        pad_token_id=0,
        **sizes,
    )


def tiny_model(**overrides: object) -> BiLSTMForTokenClassification:
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_config(tiny_config(**overrides))
    model.set_spellings(VOCAB)
    return model.eval()


def batch(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded random ids (never the pad id inside a row) and their attention mask."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, len(VOCAB), (len(lengths), max(lengths)), generator=generator)
    mask = (torch.arange(max(lengths)) < torch.tensor(lengths)[:, None]).long()
    return ids * mask, mask


def test_config_and_model_through_auto_classes() -> None:
    model = tiny_model()
    assert isinstance(model, BiLSTMForTokenClassification)
    assert model.config.model_type == "dlkit-bilstm-tagger"
    assert model.config.id2label[1] == "B-PER" and model.config.num_labels == len(LABELS)


def test_forward_shapes_and_loss_ignores_unscored_positions() -> None:
    model = tiny_model()
    ids, mask = batch([6, 4, 2])
    labels = torch.randint(0, len(LABELS), ids.shape)
    labels[mask == 0] = -100
    labels[:, 0] = -100
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    assert out.logits.shape == (3, 6, len(LABELS))
    scored = labels != -100
    expected = torch.nn.functional.cross_entropy(out.logits[scored], labels[scored])
    torch.testing.assert_close(out.loss, expected)
    assert out.loss.dtype == torch.float32

    nothing = torch.full_like(labels, -100)
    assert model(input_ids=ids, attention_mask=mask, labels=nothing).loss.item() == 0.0
    assert model(input_ids=ids).logits.shape == (3, 6, len(LABELS))  # mask defaults to all ones


def test_row_logits_do_not_depend_on_padding() -> None:
    model = tiny_model(num_layers=2)
    ids, mask = batch([9, 4, 1])
    with torch.no_grad():
        together = model(input_ids=ids, attention_mask=mask).logits
        for row, length in enumerate([9, 4, 1]):
            alone = model(input_ids=ids[row : row + 1, :length]).logits[0]
            torch.testing.assert_close(together[row, :length], alone, atol=1e-5, rtol=1e-5)


def test_spellings() -> None:
    assert spell("Paris", 8) == [ord(c) + 2 for c in "Paris"] + [0, 0, 0]
    assert spell("##ton", 5) == [CHAR_CONTINUATION] + [ord(c) + 2 for c in "ton"] + [0]
    assert spell("Straßenbahn", 3) == [ord("S") + 2, ord("t") + 2, ord("r") + 2]
    assert spell("東", 2) == [261, 0]  # one shared bucket above the Latin range

    model = tiny_model()
    for token in SPECIALS:
        assert model.spellings[VOCAB.index(token)].eq(0).all()
    assert model.spellings[VOCAB.index("##s")].tolist()[:2] == [CHAR_CONTINUATION, ord("s") + 2]
    with pytest.raises(ValueError):
        model.set_spellings([*VOCAB, "extra"])


def test_save_and_load_keep_spellings_and_logits(tmp_path: Path) -> None:
    model = tiny_model()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    reloaded = AutoModelForTokenClassification.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded, BiLSTMForTokenClassification)
    assert torch.equal(reloaded.spellings, model.spellings)
    assert reloaded.spellings.any()
    ids, mask = batch([5, 3])
    with torch.no_grad():
        torch.testing.assert_close(
            reloaded(input_ids=ids, attention_mask=mask).logits,
            model(input_ids=ids, attention_mask=mask).logits,
        )


def test_a_few_steps_learn_a_toy_tagging_problem() -> None:
    """Tag = whether the token id is even: the loss must fall clearly within 40 steps."""
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_config(tiny_config(dropout=0.0)).train()
    model.set_spellings(VOCAB)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    losses = []
    for step in range(40):
        ids, mask = batch([8, 6, 5, 3, 8, 2, 7, 4], seed=step)
        labels = torch.where(mask.bool(), ids % 2, torch.full_like(ids, -100))
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.3 * np.mean(losses[:5]), losses


def _unseen_shapes() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Batch sizes and lengths other than the (2, 5) example the graphs are traced with;
    some batches have no full-length row."""
    shapes = [[7], [3, 9, 1], [4, 4, 2, 6], [3, 2]]
    out = [batch(lengths, seed=i) for i, lengths in enumerate(shapes)]
    ids, mask = batch([5, 2], seed=9)
    out.append(
        (
            torch.cat([ids, torch.zeros(2, 3, dtype=ids.dtype)], 1),
            torch.cat([mask, torch.zeros(2, 3, dtype=mask.dtype)], 1),
        )
    )
    return out


def test_onnx_export_matches_eager_on_other_shapes(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    model = tiny_model()
    example = batch([5, 3])
    path = tmp_path / "tagger.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            example,
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "logits": {0: "batch", 1: "sequence"},
            },
            opset_version=17,
            dynamo=False,
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for ids, mask in _unseen_shapes():
        (logits,) = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        with torch.no_grad():
            expected = model(input_ids=ids, attention_mask=mask).logits.numpy()
        assert logits.shape == expected.shape
        np.testing.assert_allclose(logits, expected, atol=1e-4)


def test_torchscript_trace_matches_eager_on_other_shapes() -> None:
    # A traced function keeps the weights it closes over as constants, which must not need grad.
    model = tiny_model().requires_grad_(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(
            lambda ids, mask: model(input_ids=ids, attention_mask=mask).logits,
            batch([5, 3]),
            check_trace=False,
        )
    for ids, mask in _unseen_shapes():
        with torch.no_grad():
            torch.testing.assert_close(
                traced(ids, mask),
                model(input_ids=ids, attention_mask=mask).logits,
                atol=1e-4,
                rtol=0,
            )


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A cased WordPiece tokenizer over VOCAB, BERT-style: [CLS] sentence [SEP]."""
    backend = Tokenizer(models.WordPiece({t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", VOCAB.index("[CLS]")), ("[SEP]", VOCAB.index("[SEP]"))],
    )
    backend.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def test_token_classification_pipeline_runs(tmp_path: Path) -> None:
    tokenizer = tiny_tokenizer()
    tokenizer.save_pretrained(tmp_path)
    model = tiny_model()
    model.set_spellings(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer)))))
    assert torch.equal(model.spellings, tiny_model().spellings)
    model.save_pretrained(tmp_path)

    tagger = pipeline(
        "token-classification",
        model=str(tmp_path),
        tokenizer=str(tmp_path),
        aggregation_strategy="simple",
        device="cpu",
    )
    entities = tagger("John lives in Boston and works at Acme .")
    assert isinstance(entities, list)
    for entity in entities:
        assert {"entity_group", "score", "word", "start", "end"} <= set(entity)
        assert entity["entity_group"] in {"PER", "LOC"}
    batch_out = tagger(["Mary works in Berlin .", "Paris"])
    assert len(batch_out) == 2

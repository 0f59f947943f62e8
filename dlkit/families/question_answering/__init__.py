"""Extractive question answering (SQuAD v1.1): a span of the context as the answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dlkit.data.layout import Expected
from dlkit.families.family import Family, Outputs, Predictor
from dlkit.families.question_answering.layout import squad_layout

# The columns `dlkit predict` reads from a jsonl (or csv) file: one question and its context.
INPUT_COLUMNS = ["question", "context"]
WINDOWS = "windows"  # the evaluation records of a validation batch (batches.WINDOWS)


class QuestionAnswering(Family):
    def layout(self, data: Mapping[str, Any]) -> list[Expected]:
        """As every family's, less the split that comes from another's articles."""
        files, hub = data.get("files"), data.get("hub")
        return squad_layout(files, hub, data.get("validation_articles"))[0]

    def write_local(
        self, data: Mapping[str, Any], item: Expected, dataset: Any, path: Path
    ) -> None:
        from dlkit.families.question_answering.writer import write

        write(data, dataset, path, item.setting)

    def input_columns(self, data: Mapping[str, Any]) -> list[str]:
        return list(INPUT_COLUMNS)

    def serving(self, data: Mapping[str, Any], task: Mapping[str, Any]) -> dict[str, Any]:
        """The windows and spans of the run: predict splits and answers as evaluation does."""
        from dlkit.families.question_answering.features import DOC_STRIDE
        from dlkit.families.question_answering.postprocess import MAX_ANSWER_LENGTH, N_BEST_SIZE

        module = task.get("module") or {}
        return {
            "doc_stride": int(data.get("doc_stride") or DOC_STRIDE),
            "max_answer_length": int(module.get("max_answer_length") or MAX_ANSWER_LENGTH),
            "n_best_size": int(module.get("n_best_size") or N_BEST_SIZE),
        }

    def predictor(self, folder: Path, info: dict, tokenizer: Any, settings: Any) -> Predictor:
        from dlkit.families.question_answering.predictor import answerer

        return answerer(self.runtime(folder, tokenizer), tokenizer, info, settings)

    def score(
        self, batches: Sequence[Mapping[str, Any]], outputs: Sequence[Outputs], labels: list[str]
    ) -> float:
        """SQuAD F1 (0 to 1) over the questions of these windows, post-processed as in
        validation (every window of a question, n best starts and ends)."""
        from dlkit.families.question_answering.postprocess import window_scores

        windows, starts, ends = [], [], []
        for batch, out in zip(batches, outputs, strict=True):
            for i, record in enumerate(batch[WINDOWS]):
                length = len(record["offset_mapping"])
                windows.append(record)
                starts.append(out["start_logits"][i, :length])
                ends.append(out["end_logits"][i, :length])
        return window_scores(windows, starts, ends)["f1"] / 100

    def readme_encodings(self, manifest: Mapping[str, Any]) -> str:
        max_length = manifest["max_length"]
        stride = manifest.get("doc_stride", max_length // 4)
        n_best = manifest.get("n_best_size", 20)
        longest = manifest.get("max_answer_length", 30)
        return f"""n_best, max_answer_length = {n_best}, {longest}  # the run's task settings
question = "Where does Alice live?"
context = "It was a quiet year. Alice lives in Paris, near the river."
# Question first; only the context is cut, into windows of {max_length} tokens that share
# {stride} (data.max_length, data.doc_stride): one model row per window.
tokenizer.no_padding()
tokenizer.enable_truncation({max_length}, stride={stride}, strategy="only_second")
first = tokenizer.encode(question, context)
encodings = [first, *first.overflowing]
width = max(len(e.ids) for e in encodings)
for e in encodings:
    e.pad(width, pad_id=tokenizer.token_to_id("{manifest["pad_token"]}"))"""

    def usage(self) -> str:
        return """# The answer: over all windows, each window's n best start and end tokens, paired
# where both are context tokens, the end not before the start and at most
# max_answer_length tokens on; the pair with the highest start + end logit, whose offsets
# (characters of the context) give its text. dlkit predict and evaluate answer so too.
best = (-np.inf, 0, 0)
for e, starts, ends in zip(encodings, outputs["start_logits"], outputs["end_logits"]):
    n = sum(e.attention_mask)  # padding never counts
    top_starts = np.argsort(-starts[:n], kind="stable")[:n_best]
    top_ends = np.argsort(-ends[:n], kind="stable")[:n_best]
    for s in top_starts:
        for t in top_ends:
            inside = e.sequence_ids[s] == 1 == e.sequence_ids[t]  # both in the context
            if inside and 0 <= t - s < max_answer_length and starts[s] + ends[t] > best[0]:
                best = (starts[s] + ends[t], e.offsets[s][0], e.offsets[t][1])
_, start, end = best
print({"answer": context[start:end], "start": start, "end": end})"""


FAMILY = QuestionAnswering(
    name="question_answering",
    auto_class="AutoModelForQuestionAnswering",
    # None: transformers 5 removed its question-answering pipeline; dlkit predict serves it.
    pipeline_task=None,
    data_targets=("dlkit.families.question_answering.data.QuestionAnsweringData",),
    outputs=("start_logits", "end_logits"),
    quality="squad_f1",
    score_keys=(WINDOWS,),
)

# dlkit developer and user entry points. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel by default; with a GPU: make install TORCH="torch==2.13.0 --index-url <your CUDA index>"
TORCH ?= torch==2.13.0
# Datasets live outside the project: ../shared/data when it exists, else ./data.
DLKIT_DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),$(abspath data))
export DLKIT_DATA_DIR
ARGS ?=
# The run export and predict use: a run folder, or <experiment>/latest.
RUN ?= runs/bert_cls/latest

.DEFAULT_GOAL := help
.PHONY: help install train train-lstm pretrain finetune-pretrained pretrain-gpt export predict bench bench-data test test-all readme-commands lint format clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed ## Create .venv with torch (pinned CPU wheel by default) and dlkit

train: install ## The main job: BERT on SST-2 (ARGS="trainer.max_steps=30" to shorten)
	$(BIN)/dlkit train +experiment=bert_cls $(ARGS)

train-lstm: install ## The BiLSTM baseline on SST-2
	$(BIN)/dlkit train +experiment=lstm_cls $(ARGS)

pretrain: install ## BERT masked-LM pretraining on the local corpus (about 20 minutes on CPU)
	$(BIN)/dlkit pretrain +experiment=bert_mlm $(ARGS)

finetune-pretrained: install ## bert_cls fine-tuned from the newest completed bert_mlm run
	$(BIN)/dlkit finetune +experiment=bert_cls model.init_from=runs/bert_mlm/latest $(ARGS)

pretrain-gpt: install ## GPT-2-style causal-LM pretraining on the local corpus
	$(BIN)/dlkit pretrain +experiment=gpt_clm $(ARGS)

export: install ## Verified hf, torchscript(-int8) and onnx(-int8) exports of RUN, a benchmark, and the ONNX-only SST-2 check
	$(BIN)/dlkit export run=$(RUN) format=hf $(ARGS)
	$(BIN)/dlkit export run=$(RUN) format=torchscript $(ARGS)
	$(BIN)/dlkit export run=$(RUN) format=torchscript quantize=dynamic_int8 $(ARGS)
	$(BIN)/dlkit export run=$(RUN) format=onnx $(ARGS)
	$(BIN)/dlkit export run=$(RUN) format=onnx quantize=dynamic_int8 benchmark=true $(ARGS)
	$(BIN)/python scripts/onnx_accuracy.py \
		$$($(BIN)/python -c "from dlkit.runs.folder import open_run; print(open_run('$(RUN)').path)")/exports/onnx \
		$(DLKIT_DATA_DIR)/sst2/dev.tsv

predict: install ## Predictions of RUN for SST-2's test.tsv, into predictions.jsonl
	$(BIN)/dlkit predict run=$(RUN) input=$(DLKIT_DATA_DIR)/sst2/test.tsv output=predictions.jsonl $(ARGS)

bench: install ## dlkit vs a plain loop vs Trainer, then threads on a shared CPU: bench/*.json and .md (about 18 minutes)
	$(BIN)/python scripts/bench/run.py --data-dir $(DLKIT_DATA_DIR) $(ARGS)
	env -u OMP_NUM_THREADS $(BIN)/python scripts/bench/threads.py --out bench

bench-data: install ## Pretraining data preparation vs the tokenizers library at 100 MB and 1 GB of text: bench/data_prep.json and .md (ARGS="--sizes 5" for a quick look)
	$(BIN)/python scripts/bench/data_prep.py --data-dir $(DLKIT_DATA_DIR) $(ARGS)

test: install ## The default test suite (no slow tests), two workers
	$(BIN)/pytest -q -n 2 --dist loadfile

test-all: install ## Every test, slow ones included
	$(BIN)/pytest -q -n 2 --dist loadfile -m ""

readme-commands: install ## Every dlkit line of the README, as printed, on a small copy of the data root (about 15 minutes)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python scripts/readme_commands.py --data-dir $(DLKIT_DATA_DIR)

lint: install ## ruff lint and format check
	$(BIN)/ruff check dlkit tests scripts
	$(BIN)/ruff format --check dlkit tests scripts

format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix dlkit tests scripts
	$(BIN)/ruff format dlkit tests scripts

clean: ## Remove caches and build outputs (keeps runs/ and .venv)
	rm -rf .cache build dist *.egg-info .pytest_cache .ruff_cache

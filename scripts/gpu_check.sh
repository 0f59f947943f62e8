#!/usr/bin/env bash
# GPU check (issue 20): on a machine with a GPU, in at most 8 minutes, install dlkit into the
# current Python and report for bert_base masked-LM pretraining (sequence length 512, bf16,
# one GPU) tokens per second and model FLOPs utilisation (MFU), eager, with torch.compile
# (compile=true) and with FSDP on one device; then run `make test` with the time left.
#
#   scripts/gpu_check.sh                  # on the GPU machine, from anywhere
#   DRY_RUN=1 scripts/gpu_check.sh        # or --cpu-dry-run: the same steps on CPU, bert_tiny,
#                                         # block size 64, a few fp32 steps, no make test
#
# Output: $OUT if set, else ./gpu_check/: gpu_check.json, gpu_check.md (the table printed at
# the end), env.json, logs/ (each step's full log) and runs/<name>/ (results.json, run.json,
# steady.json, config.yaml, dlkit.log, metrics.csv of each measurement). Runs (less their
# checkpoints), caches and the corpus go to $GPU_CHECK_WORK (kept), else to a temporary folder
# removed at the end.
#
# Tokens per second: samples x block size, over the training steps after the first SKIP ones
# (start-up, compilation), timed by a callback (scripts/gpu_check_tools.py SteadyClock); the
# whole fit's figure from results.json (samples_per_second, dlkit/training/throughput.py) is
# reported beside it. MFU = tokens/s x FLOPs per token / the GPU's dense bf16 peak, with
# FLOPs per token = 6 x non-embedding parameters + 12 x layers x hidden x sequence length
# (PaLM's formula; the tied LM head's 6 x vocab x hidden per token is in a second MFU column).
# The peak comes from a table by torch.cuda.get_device_name() (H100/H200 SXM 989 TFLOPS, A100
# 312, L4 121, ...) or from PEAK_TFLOPS=<TFLOPS>; unknown (and on CPU without PEAK_TFLOPS) the
# MFU is null.
#
# Settings (environment): GPU_CHECK_SECONDS (total budget, default 465), GPU_CHECK_RUNS (default
# "eager compile fsdp"), GPU_CHECK_STEPS / GPU_CHECK_SKIP / GPU_CHECK_BATCH, DLKIT_DATA_DIR (a
# data root with the corpus files; default ../shared/data beside the repository when present,
# else a synthetic corpus made here), PYTHON (default: python, else python3); in the dry run,
# GPU_CHECK_DRY_RUNS (default "eager": compile and fsdp are reported as skipped).
# Every step runs under `timeout` and may fail: the failure is reported and the next step runs.

set -uo pipefail

DRY_RUN=${DRY_RUN:-0}
for arg in "$@"; do
  case "$arg" in
    --cpu-dry-run) DRY_RUN=1 ;;
    -h | --help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
BUDGET=${GPU_CHECK_SECONDS:-465}
RESERVE=25 # for the report, and timeout's grace period
START=$SECONDS
OUT_DIR=${OUT:-$ROOT/gpu_check}
mkdir -p "$OUT_DIR/logs" "$OUT_DIR/status" "$OUT_DIR/runs"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
if [ -n "${GPU_CHECK_WORK:-}" ]; then
  WORK=$GPU_CHECK_WORK
  mkdir -p "$WORK"
else # a folder of our own, removed at the end: what the report needs is copied to the output
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/dlkit_gpu_check.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
fi
PY=${PYTHON:-$(command -v python || command -v python3)}
if [ -z "$PY" ]; then
  echo "gpu_check: no python or python3 on PATH (or set PYTHON=/path/to/python)" >&2
  exit 1
fi
WITH_SCRIPTS="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}" # gpu_check_tools importable
TOOLS=(env PYTHONPATH="$WITH_SCRIPTS" "$PY" "$ROOT/scripts/gpu_check_tools.py")
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1

if [ "$DRY_RUN" = 1 ]; then
  MODE=cpu-dry-run MODEL=bert_tiny BLOCK=64 PRECISION=32-true HARDWARE=cpu
  STEPS=${GPU_CHECK_STEPS:-12} SKIP=${GPU_CHECK_SKIP:-4} BATCH=${GPU_CHECK_BATCH:-8}
  RUNS=${GPU_CHECK_RUNS:-eager compile fsdp}
  MODEL_ARGS=(model.tokenizer.vocab_size=2000)
else
  MODE=gpu MODEL=bert_base BLOCK=512 PRECISION=bf16-mixed HARDWARE=gpu
  STEPS=${GPU_CHECK_STEPS:-150} SKIP=${GPU_CHECK_SKIP:-30} BATCH=${GPU_CHECK_BATCH:-32}
  RUNS=${GPU_CHECK_RUNS:-eager compile fsdp}
  MODEL_ARGS=(model.init_from=null) # the BERT-base architecture from scratch: no hub
fi

log() { printf '[gpu_check %3ds] %s\n' "$((SECONDS - START))" "$*"; }
left() { echo $((BUDGET - (SECONDS - START) - RESERVE)); }
# status NAME STATUS SECONDS [KEY=VALUE ...]: the shell's record of a step, for the report.
status() {
  local name=$1 state=$2 seconds=$3
  shift 3
  "$PY" - "$OUT_DIR/status/$name.json" "$state" "$seconds" "$@" <<'EOF'
import json, sys
path, state, seconds, *pairs = sys.argv[1:]
record = {"status": state, "seconds": int(seconds)}
record.update(pair.split("=", 1) for pair in pairs)
open(path, "w").write(json.dumps(record, indent=2))
EOF
}
# timed CAP LOGFILE CMD...: CMD under `timeout` for CAP seconds or the time left, if less.
# Sets RC (124: timed out) and TOOK; returns 1 without running when too little time is left.
timed() {
  local cap=$1 logfile=$2 limit
  shift 2
  limit=$(left)
  [ "$cap" -lt "$limit" ] && limit=$cap
  if [ "$limit" -lt 20 ]; then
    RC=125 TOOK=0
    return 1
  fi
  local began=$SECONDS
  timeout --kill-after=10 "$limit" "$@" >"$logfile" 2>&1
  RC=$?
  TOOK=$((SECONDS - began))
  return 0
}
outcome() { # the status word of an exit code
  case "$1" in
    0) echo ok ;;
    124 | 137) echo "timed out" ;;
    *) echo "failed (exit $1)" ;;
  esac
}

log "mode $MODE, budget ${BUDGET}s, output $OUT_DIR, work $WORK, python $PY"

# 1. Install: dlkit (with its dev extras, for make test) into this Python, torch kept as it is
#    when an importable CUDA build is there (pinned by a constraint, so pip cannot swap it).
install_dlkit() {
  local constraint="$WORK/constraints.txt" isolation=()
  : >"$constraint"
  if "$PY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
    "$PY" -c 'import torch; print(f"torch=={torch.__version__}")' >"$constraint"
  fi
  "$PY" -c 'import hatchling' 2>/dev/null && isolation=(--no-build-isolation)
  export PIP_BREAK_SYSTEM_PACKAGES=1 # "the current Python" may be a distribution's own
  echo "constraints: $(cat "$constraint")"
  "$PY" -m pip install --disable-pip-version-check --no-input --retries 1 --timeout 15 \
    "${isolation[@]}" -c "$constraint" -e ".[dev]" && return 0
  echo "pip install -e .[dev] failed; trying without the dev extras"
  "$PY" -m pip install --disable-pip-version-check --no-input --retries 1 --timeout 15 \
    "${isolation[@]}" -c "$constraint" -e .
}
export PY WORK
export -f install_dlkit
installed() { # dlkit and its main dependencies, found outside the source tree (no imports)
  (cd / && "$PY" -c 'import importlib.util as u, sys
sys.exit(not all(u.find_spec(m) for m in ("dlkit", "lightning", "transformers", "hydra")))') \
    2>/dev/null
}
if [ "$DRY_RUN" = 1 ] && installed; then
  status install "skipped (dry run: dlkit is importable)" 0
else
  log "installing dlkit: pip install -e .[dev]"
  if timed 150 "$OUT_DIR/logs/install.log" bash -c install_dlkit; then
    log "install: $(outcome "$RC") in ${TOOK}s"
    status install "$(outcome "$RC")" "$TOOK" log=logs/install.log
  else
    status install "skipped: out of time" 0
  fi
fi
# dlkit as a module of this Python, whether or not pip could install its entry point.
DLKIT=("$PY" -m dlkit)
if ! installed; then
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  log "dlkit is not installed: running it from the source tree (PYTHONPATH)"
fi

# 2. The device and its peak.
if ! "${TOOLS[@]}" env >"$OUT_DIR/env.json" 2>"$OUT_DIR/logs/env.log"; then
  echo '{"device": "unknown: torch did not import (logs/env.log)"}' >"$OUT_DIR/env.json"
fi
log "environment: $(tr -d '\n' <"$OUT_DIR/env.json" | tr -s ' ')"
CUDA=0
grep -q '"cuda_available": true' "$OUT_DIR/env.json" && CUDA=1

# 3. The corpus: the data root's corpus files (GPU mode), else synthetic text; never the hub.
CORPUS_FILES=(wikitext-2-raw/wiki.valid.raw wikitext-2-raw/wiki.test.raw tiny_shakespeare/input.txt
  sst2/train.tsv multi30k/train.en dialogsum/dialogsum.train.jsonl) # configs/data/corpus.yaml
SHARED=""
for candidate in "${DLKIT_DATA_DIR:-}" "$ROOT/../shared/data" "$ROOT/shared/data"; do
  [ -n "$candidate" ] || continue
  complete=1
  for file in "${CORPUS_FILES[@]}"; do [ -f "$candidate/$file" ] || complete=0; done
  if [ "$complete" = 1 ]; then
    SHARED=$(cd "$candidate" && pwd)
    break
  fi
done
if [ -n "$SHARED" ] && [ "$DRY_RUN" != 1 ]; then
  export DLKIT_DATA_DIR=$SHARED
  DATA_ARGS=()
  DATA="the corpus data config's files under $SHARED"
else
  WORDS=$([ "$DRY_RUN" = 1 ] && echo 20000 || echo 2500000)
  log "writing a synthetic corpus of $WORDS words"
  "${TOOLS[@]}" corpus "$WORK/corpus/synthetic.txt" --words "$WORDS" 2>"$OUT_DIR/logs/corpus.log"
  DATA_ARGS=("data.sources=[$WORK/corpus/synthetic.txt]")
  DATA="synthetic text of $WORDS words (scripts/gpu_check_tools.py corpus)"
fi

"$PY" - "$OUT_DIR/settings.json" "$MODE" "$MODEL" "$BLOCK" "$BATCH" "$PRECISION" "$STEPS" \
  "$SKIP" "$DATA" "$BUDGET" "$RUNS" <<'EOF'
import json, sys
path, mode, model, block, batch, precision, steps, skip, data, budget, runs = sys.argv[1:]
settings = {
    "mode": mode, "model": model, "block_size": int(block), "batch_size": int(batch),
    "precision": precision, "steps": int(steps), "skip": int(skip), "data": data,
    "budget_seconds": int(budget), "runs": runs.split(),
}
open(path, "w").write(json.dumps(settings, indent=2))
EOF

# 4. The measurements: one `dlkit pretrain` each, its log kept.
COMMON=(
  +experiment=bert_mlm "model=$MODEL" "${MODEL_ARGS[@]}" "${DATA_ARGS[@]}"
  "data.block_size=$BLOCK" "data.batch_size=$BATCH" "trainer.precision=$PRECISION"
  "trainer.max_steps=$STEPS" "trainer.val_check_interval=$STEPS" trainer.limit_val_batches=4
  trainer.limit_test_batches=4 trainer.log_every_n_steps=10 callbacks.progress.rich=false
  callbacks.checkpoint=null "paths.run_root=$WORK/runs" "paths.cache_dir=$WORK/cache"
  +callbacks.steady._target_=gpu_check_tools.SteadyClock "+callbacks.steady.skip=$SKIP"
)
measure() { # measure NAME CAP ARGS...
  local name=$1 cap=$2 run="$WORK/runs/$1" path="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}"
  shift 2
  rm -rf "$run"
  log "$name: dlkit pretrain ... $*"
  if timed "$cap" "$OUT_DIR/logs/$name.log" env PYTHONPATH="$path" \
    "${DLKIT[@]}" pretrain "${COMMON[@]}" "experiment_name=gpu_check_$name" \
    "hydra.run.dir=$run" "+callbacks.steady.path=$run/steady.json" "$@"; then
    log "$name: $(outcome "$RC") in ${TOOK}s"
    status "$name" "$(outcome "$RC")" "$TOOK" "log=logs/$name.log" "run_dir=$run"
  else
    log "$name: skipped, out of time"
    status "$name" "skipped: out of time" 0
  fi
  mkdir -p "$OUT_DIR/runs/$name"
  for file in results.json run.json steady.json config.yaml dlkit.log metrics.csv; do
    if [ -f "$run/$file" ]; then cp "$run/$file" "$OUT_DIR/runs/$name/"; fi
  done
  rm -rf "$run/checkpoints" # BERT-base's last.ckpt is 1.3 GB
}
DRY_RUNS=${GPU_CHECK_DRY_RUNS:-eager}
for name in $RUNS; do
  case "$name" in
    eager) args=("hardware=$HARDWARE") cap=200 ;;
    compile) args=("hardware=$HARDWARE" compile=true) cap=240 ;;
    fsdp) args=(hardware=fsdp hardware.devices=1) cap=150 ;;
    *) log "unknown run $name (eager, compile, fsdp)"; continue ;;
  esac
  if [ "$DRY_RUN" = 1 ]; then
    if [ "$name" = fsdp ]; then
      status "$name" "skipped (dry run: Lightning's FSDP needs a GPU)" 0
      continue
    elif [[ " $DRY_RUNS " != *" $name "* ]]; then
      status "$name" "skipped (dry run; GPU_CHECK_DRY_RUNS=$name runs it)" 0
      continue
    fi
  elif [ "$CUDA" != 1 ]; then
    status "$name" "skipped: torch sees no CUDA GPU" 0
    continue
  fi
  measure "$name" "$cap" "${args[@]}"
done

# 5. make test with the time left (not in the dry run).
if [ "$DRY_RUN" = 1 ]; then
  status make_test "skipped (dry run)" 0
else
  BIN=$(dirname "$("$PY" -c 'import sys; print(sys.executable)')")
  log "make test (BIN=$BIN), $(left)s left"
  # -o install: this Python as it is (the install target would build .venv from the network).
  if timed 100000 "$OUT_DIR/logs/make_test.log" make -o install test "BIN=$BIN"; then
    log "make test: $(outcome "$RC") in ${TOOK}s"
    status make_test "$(outcome "$RC")" "$TOOK" log=logs/make_test.log
  else
    status make_test "skipped: out of time" 0
  fi
fi

# 6. The report: gpu_check.json and gpu_check.md, and the table on stdout.
if ! "${TOOLS[@]}" report "$OUT_DIR" 2>"$OUT_DIR/logs/report.log"; then
  log "the report failed: see $OUT_DIR/logs/report.log"
  exit 1
fi
log "done in $((SECONDS - START))s: $OUT_DIR/gpu_check.json and gpu_check.md"

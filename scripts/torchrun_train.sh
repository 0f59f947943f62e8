#!/bin/bash
# dlkit on several GPUs of one machine without SLURM: torchrun starts one process per device
# and Lightning's DDP joins them. Overrides pass through.
#
#   scripts/torchrun_train.sh +experiment=bert_cls hardware=multi_gpu        # every GPU
#   NPROC=2 scripts/torchrun_train.sh hardware=ddp_cpu +experiment=bert_cls  # 2 CPU processes
#   DRY_RUN=1 scripts/torchrun_train.sh +experiment=bert_cls                 # print the command
set -euo pipefail
NPROC=${NPROC:-$(nvidia-smi -L 2>/dev/null | wc -l)}
if [[ "$NPROC" -lt 1 ]]; then NPROC=1; fi
TORCHRUN=${TORCHRUN:-torchrun}
# Every process must pick the same run folder: give them one timestamp.
# One folder for all processes of this launch, and no other launch: the job id (or PID) in it.
export DLKIT_RUN_STAMP=${DLKIT_RUN_STAMP:-$(date +%Y-%m-%d_%H-%M-%S)_${SLURM_JOB_ID:-$$}}
cmd=("$TORCHRUN" --standalone --nproc_per_node="$NPROC" -m dlkit train "hardware.devices=$NPROC" "$@")
if [[ -n "${DRY_RUN:-}" ]]; then
  printf '%q ' "${cmd[@]}"
  echo
  exit 0
fi
exec "${cmd[@]}"

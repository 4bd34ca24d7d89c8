# Sourced by scripts/seeds.sh and scripts/levers.sh: the seed-spread budget and one locked, resumable run.
#
# DATA (required), RUNS (default runs), SUBSET (5000 training faces), EPOCHS (16), SEEDS ("0 1 2").
set -euo pipefail
DATA=${DATA:?set DATA to the folder holding fer2013/}
RUNS=${RUNS:-runs}
SUBSET=${SUBSET:-5000}
EPOCHS=${EPOCHS:-16}
SEEDS=${SEEDS:-"0 1 2"}
FER=$DATA/fer2013/fer2013_trainval.npz

# locked_run RUN REPORT "EVALUATE FLAGS" TRAIN FLAGS...
# Train RUN on FER2013 Training (recipe strong, 1 warm-up epoch, the fixed SUBSET-face sample, resuming a
# killed run) with TRAIN FLAGS, then evaluate its best epoch on PublicTest into REPORT. Nothing happens when
# REPORT exists; a run that another copy of the calling script holds (flock on RUN.lock) is skipped.
# With AVERAGE_FROM=K set (the run must keep its epochs from K on), the report is of the mean of epochs
# K..last instead (ferviz average, BatchNorm recomputed on the run's training faces): weight averaging.
locked_run() {
  local run=$1 report=$2 eval_flags=$3
  shift 3
  [ -f "$report" ] && return 0
  mkdir -p "$(dirname "$run")" "$(dirname "$report")"
  local rc=0
  (
    flock -n 9 || exit 75
    ferviz train --dataset npz --data "$FER" --recipe strong --warmup-epochs 1 --subset "$SUBSET" \
      --out "$run" --resume --quiet "$@"
    local model=$run/best.pt
    if [ -n "${AVERAGE_FROM:-}" ]; then
      model=$run/swa.pt
      ferviz average --run "$run" --from-epoch "$AVERAGE_FROM" --dataset npz --data "$FER" --out "$model" \
        --quiet
    fi
    # shellcheck disable=SC2086  # the evaluate flags are a list
    ferviz evaluate --model "$model" --dataset npz --data "$FER" --split PublicTest $eval_flags \
      --json "$report"
  ) 9>"$run.lock" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 75 ]; then exit "$rc"; fi
}

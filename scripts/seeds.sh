#!/usr/bin/env bash
# Seed spread at one equal budget: every variant in VARIANTS trained with every seed in SEEDS on the same
# fixed class-stratified sample of SUBSET FER2013 Training faces for EPOCHS epochs (cosine schedule),
# selected on PublicTest, and evaluated there into models/reports/seeds/. Resumable: a finished run is
# skipped, a killed one continues from its last epoch. Runs are interleaved seed by seed, so a partial
# sitting still gives pairs of variants with the same seeds. Several copies of the script may run at
# once (one per free core): each run is locked (flock) while it trains, and the others skip it.
#
#   DATA=/path/to/shared/data bash scripts/seeds.sh
#   DATA=... VARIANTS="dcnn_bilstm_dam cnn_bilstm" SEEDS="0 1 2" bash scripts/seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:?set DATA to the folder holding fer2013/}
RUNS=${RUNS:-runs}
SUBSET=${SUBSET:-5000}
EPOCHS=${EPOCHS:-16}
SEEDS=${SEEDS:-"0 1 2"}
VARIANTS=${VARIANTS:-"dcnn_bilstm_dam cnn_bilstm spatial_only channel_only no_cross_fusion no_distill relu_gate gelu_gate input_hog input_gray_hog"}
FER=$DATA/fer2013/fer2013_trainval.npz
OUT=models/reports/seeds
mkdir -p "$OUT"
for seed in $SEEDS; do
  for v in $VARIANTS; do
    run="$RUNS/seeds/${v}_s${seed}"
    report="$OUT/fer2013_ablation_${v}_n${SUBSET}_e${EPOCHS}_s${seed}.json"
    [ -f "$report" ] && continue
    mkdir -p "$RUNS/seeds"
    rc=0
    (
      flock -n 9 || exit 75  # another copy of this script is training this run
      ferviz train --dataset npz --data "$FER" --model "$v" --recipe strong --epochs "$EPOCHS" --warmup-epochs 1 \
        --subset "$SUBSET" --seed "$seed" --out "$run" --resume --quiet
      ferviz evaluate --model "$run/best.pt" --dataset npz --data "$FER" --split PublicTest --kind ablation \
        --json "$report"
    ) 9>"$RUNS/seeds/${v}_s${seed}.lock" || rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 75 ]; then exit "$rc"; fi
  done
done

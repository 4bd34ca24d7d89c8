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
cd "$(dirname "$0")/.."
source scripts/_budget.sh
VARIANTS=${VARIANTS:-"dcnn_bilstm_dam cnn_bilstm spatial_only channel_only no_cross_fusion no_distill relu_gate gelu_gate input_hog input_gray_hog"}
for seed in $SEEDS; do
  for v in $VARIANTS; do
    locked_run "$RUNS/seeds/${v}_s${seed}" "models/reports/seeds/fer2013_ablation_${v}_n${SUBSET}_e${EPOCHS}_s${seed}.json" \
      "--kind ablation" --model "$v" --epochs "$EPOCHS" --seed "$seed"
  done
done

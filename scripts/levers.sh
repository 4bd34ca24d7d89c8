#!/usr/bin/env bash
# Training levers, one change each, at the seed-spread budget: the full model (dcnn_bilstm_dam, recipe
# strong) trained with each lever in LEVERS and each seed in SEEDS on the same fixed class-stratified
# sample of SUBSET FER2013 Training faces for EPOCHS epochs, selected on PublicTest, and evaluated there
# into models/reports/levers/ (ferviz evaluate --lever records the lever and the run's recipe). The
# baseline is the full model's own runs of scripts/seeds.sh at the same budget and seeds; the Compare page
# and models/README.md pair every lever with it. Resumable and lockable like scripts/seeds.sh: a finished
# run is skipped, a killed one continues; run one copy per free core.
#
#   DATA=/path/to/shared/data bash scripts/levers.sh
#   DATA=... LEVERS="ema erase" SEEDS="0 1 2" bash scripts/levers.sh
#   DATA=... DAM_TEACHER=old/fer2013_dcnn_bilstm_dam.pt bash scripts/levers.sh
cd "$(dirname "$0")/.."
source scripts/_budget.sh
LEVERS=${LEVERS:-"ema erase mixup smoothing_0 smoothing_0.2 long kd_ensemble swa"}
# kd_ensemble's teachers: the four shipped models. DAM_TEACHER pins the default's file when the shipped
# default changes between seeds (every seed of a lever must distil from the same teachers).
DAM_TEACHER=${DAM_TEACHER:-models/fer2013_dcnn_bilstm_dam.pt}
TEACHERS="--teacher $DAM_TEACHER --teacher models/fer2013_cnn_bilstm.pt \
--teacher models/fer2013_cnn_lstm.pt --teacher models/fer2013_ngo_bilstm.pt --kd-cache"

flags() {  # the one change each lever makes (its key in ferviz/train/levers.py LEVERS)
  case "$1" in
    ema) echo "--ema-decay 0.998" ;;
    erase) echo "--erase 0.25" ;;
    mixup) echo "--mixup 0.2" ;;
    smoothing_0) echo "--label-smoothing 0" ;;
    smoothing_0.2) echo "--label-smoothing 0.2" ;;
    long) echo "" ;;  # the change is the number of epochs: 2 x EPOCHS, set below
    kd_ensemble) echo "$TEACHERS" ;;
    swa) echo "--keep-epochs-from $((EPOCHS / 2 + 1))" ;;  # and the report is of their mean, below
    *) echo "unknown lever $1 (see ferviz/train/levers.py)" >&2; return 2 ;;
  esac
}

for seed in $SEEDS; do
  for lever in $LEVERS; do
    extra=$(flags "$lever")
    epochs=$EPOCHS
    [ "$lever" = long ] && epochs=$((2 * EPOCHS))
    average=""
    [ "$lever" = swa ] && average=$((EPOCHS / 2 + 1))
    # shellcheck disable=SC2086  # $extra is a list of flags
    AVERAGE_FROM=$average locked_run "$RUNS/levers/${lever}_s${seed}" \
      "models/reports/levers/fer2013_lever_${lever}_n${SUBSET}_e${epochs}_s${seed}.json" "--lever $lever" \
      --model dcnn_bilstm_dam --epochs "$epochs" --seed "$seed" $extra
  done
done

#!/usr/bin/env bash
# The real-faces levers: one change each to a short fine-tune of the shipped FER2013 model, at one equal
# budget (LEVER_EPOCHS epochs, lr 5e-4, one warm-up epoch, seed 0), each run scored by `ferviz domains` on
# FER2013 PublicTest (its labels and FER+'s majority) and on the held-out 20 % of the UTKFace photos
# (agreement with face-api.js). Runs resume; finished runs are skipped.
#
#   DATA=/path/to/shared/data bash scripts/real_levers.sh              # every lever
#   DATA=... LEVERS="fer2013 ferplus_soft" bash scripts/real_levers.sh # some
#   DATA=... LEVERS=class_weights SEEDS="1 2" bash scripts/real_levers.sh  # more seeds (NAME_seedS.json)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:?set DATA to the folder holding fer2013/ and utkface/}
RUNS=${RUNS:-runs}
LEVER_EPOCHS=${LEVER_EPOCHS:-2}
SEEDS=${SEEDS:-0}
LEVERS=${LEVERS:-"fer2013 ferplus_soft camera camera_gamma camera_blur camera_low_resolution camera_jpeg
  no_rotation erase class_weights teacher teacher_box teacher_luma"}
FER=$DATA/fer2013/fer2013_trainval.npz
PHOTOS=$DATA/utkface/faces
OUT=models/reports/real_levers
lever() {  # name, options... (seed 0 keeps the plain name; seed S adds _seedS)
  local name=$1
  [ "$seed" = 0 ] || name=$1_seed$seed
  local run=$RUNS/real_lever_$name
  ferviz train --dataset npz --data "$FER" --model dcnn_bilstm_dam --recipe strong --epochs "$LEVER_EPOCHS" \
    --lr 5e-4 --warmup-epochs 1 --init models/fer2013_dcnn_bilstm_dam.pt --seed "$seed" --out "$run" --resume \
    --quiet "${@:2}"
  mkdir -p "$OUT"
  ferviz domains --models "$run/best.pt" --fer2013 "$FER" --photos "$PHOTOS" \
    --photo-cache "$RUNS/photo_faces_aligned.npz" --out "$OUT/$name.json"
}
photos() {  # crop [gray]: the photo options of a run that trains on the UTKFace photos
  local gray=${2:-mixed} cache=$RUNS/photo_faces_$1.npz
  [ "$gray" = mixed ] || cache=$RUNS/photo_faces_$1_$gray.npz
  echo --photos "$PHOTOS" --photo-crop "$1" --photo-gray "$gray" --photo-cache "$cache" --fer-teacher 0.3
}
for seed in $SEEDS; do
for name in $LEVERS; do
  case $name in
    fer2013) lever fer2013 ;;  # the baseline: FER2013's own labels
    ferplus_soft) lever ferplus_soft --labels ferplus-soft ;;
    camera) lever camera --labels ferplus-soft --camera 0.3 ;;  # all four camera degradations
    camera_gamma|camera_blur|camera_low_resolution|camera_jpeg)  # one camera degradation alone
      lever "$name" --labels ferplus-soft --camera 0.3 --camera-kinds "${name#camera_}" ;;
    no_rotation) lever no_rotation --labels ferplus-soft --rotate 0 ;;  # the affine rotation (10 degrees) off
    erase) lever erase --labels ferplus-soft --erase 0.25 ;;  # occlusion: one noise rectangle per face
    class_weights) lever class_weights --labels ferplus-soft --class-weights 0.5 ;;
    teacher) lever teacher --labels ferplus-soft $(photos aligned) ;;  # face-api.js on photos + FER2013
    teacher_box) lever teacher_box --labels ferplus-soft $(photos box) ;;  # the same, photos not aligned
    teacher_luma) lever teacher_luma --labels ferplus-soft $(photos aligned luma) ;;  # one gray conversion
    *) echo "unknown lever $name" >&2; exit 2 ;;
  esac
done
done

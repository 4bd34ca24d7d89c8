#!/usr/bin/env bash
# Reproduce every shipped model and committed report, in order of importance. Every step resumes:
# re-running the script after a kill continues where it stopped (finished runs and folds are kept).
#
#   DATA=/path/to/shared/data bash scripts/reproduce.sh            # all steps
#   DATA=... STEPS="default ship cross" bash scripts/reproduce.sh   # some steps
#
# FER2013 is read from $DATA/fer2013/fer2013_trainval.npz (Training + PublicTest), CK+ from
# $DATA/ckplus/ckplus.npz, JAFFE from $DATA/jaffe/jaffe.npz (NumPy archives: images, labels, usage, subject).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:?set DATA to the folder holding fer2013/, ckplus/ and jaffe/}
RUNS=${RUNS:-runs}
EPOCHS=${EPOCHS:-30}          # the budget of the default and comparison models
FINETUNE_EPOCHS=${FINETUNE_EPOCHS:-8}  # stage 2 of the default model
ABLATION_EPOCHS=${ABLATION_EPOCHS:-4}
ENSEMBLE_EPOCHS=${ENSEMBLE_EPOCHS:-24}  # stage 3 of the default model
LONG_EPOCHS=${LONG_EPOCHS:-30}  # stage 4 of the default model
SWA_FROM=${SWA_FROM:-27}  # stage 4 ships the mean of its epochs SWA_FROM..LONG_EPOCHS
STAGE5_EPOCHS=${STAGE5_EPOCHS:-20}  # stage 5 of the default model
STAGE5_SWA_FROM=${STAGE5_SWA_FROM:-16}  # stage 5 ships the mean of its epochs STAGE5_SWA_FROM..STAGE5_EPOCHS
STAGE6_EPOCHS=${STAGE6_EPOCHS:-30}  # stage 6 of the default model (seed 0)
STAGE6_SWA_FROM=${STAGE6_SWA_FROM:-28}  # stage 6 ships the mean of its epochs STAGE6_SWA_FROM..STAGE6_EPOCHS
REAL1_EPOCHS=${REAL1_EPOCHS:-8}  # the real-faces model, stage 1 (FER+ votes)
REAL2_EPOCHS=${REAL2_EPOCHS:-8}  # stage 2 (face-api.js teacher on photos and FER2013)
REAL3_EPOCHS=${REAL3_EPOCHS:-6}  # stages 3 and 4 (lighter teacher, FER2013 label and class weights)
REAL_TAU=${REAL_TAU:-0.25}  # the shipped decision rule (logit adjustment), chosen on step adjust_sweep
STEPS=${STEPS:-"default comparisons finetune ship ngo ensemble ship3 long average ship4 stage5 average5 ship5 stage6 average6 ship6 tta cross audit cv \
hog_svm ablations seeds levers real1 real2 average_real real3 real4 adjust_sweep views_real domains ship_real cross_real real_levers \
ferplus_only recipe_parts self_distil label_noise"}
FER=$DATA/fer2013/fer2013_trainval.npz
train() {  # variant, epochs, out, extra options...
  ferviz train --dataset npz --data "$FER" --model "$1" --recipe strong --epochs "$2" --seed 0 --out "$3" --resume "${@:4}"
}
ship() {  # run dir, name, extra options...
  ferviz ship --run "$1" --name "$2" --dataset npz --data "$FER" "${@:3}"
}
distil() {  # epochs, out, default model to start from, extra options... (stages 3-5 of the default model)
  # a new cosine cycle from that model, distilled from the mean of it and the three comparison models
  # (soft targets computed once on the un-augmented training faces and cached)
  train dcnn_bilstm_dam "$1" "$2" --lr 5e-4 --warmup-epochs 1 --init "$3" --teacher "$3" \
    --teacher models/fer2013_cnn_bilstm.pt --teacher models/fer2013_cnn_lstm.pt \
    --teacher models/fer2013_ngo_bilstm.pt --kd-cache "${@:4}"
}
keep_copy() {  # stage number: the shipped default copied once to $RUNS/stage<N>_dcnn_bilstm_dam.pt with its
  # card (the earlier stages), so that shipping the next stage cannot change a file its run reads; a rerun
  # after the next ship keeps the copy
  mkdir -p "$RUNS"
  if [ ! -f "$RUNS/stage$1_dcnn_bilstm_dam.pt" ]; then
    cp models/fer2013_dcnn_bilstm_dam.pt "$RUNS/stage$1_dcnn_bilstm_dam.pt"
    cp models/fer2013_dcnn_bilstm_dam.json "$RUNS/stage$1_dcnn_bilstm_dam.json"
  fi
}
average() {  # run dir, first epoch: the mean of its kept epochs from there on, BatchNorm recomputed on all
  # Training faces, as the run's swa.pt
  ferviz average --run "$1" --from-epoch "$2" --dataset npz --data "$FER" --out "$1/swa.pt"
}
by_domain() {  # report, models...: each model on FER2013 PublicTest (its labels and FER+'s majority), CK+, JAFFE
  # and the held-out UTKFace photos (agreement with face-api.js)
  ferviz domains --models "${@:2}" --fer2013 "$FER" --ckplus "$DATA/ckplus/ckplus.npz" --jaffe "$DATA/jaffe/jaffe.npz" \
    --photos "$DATA/utkface/faces" --photo-cache "$RUNS/photo_faces_aligned.npz" --out "$1"
}
last_stage() {  # run dir, options...: the default's last stage again from the default (4 epochs at lr 2e-4) with
  # these options added or overriding, and the mean of its epochs 2-4 (steps recipe_parts and self_distil)
  train dcnn_bilstm_dam 4 "$1" --lr 2e-4 --warmup-epochs 1 --init models/real_dcnn_bilstm_dam.pt --labels ferplus-soft \
    --photos "$DATA/utkface/faces" --photo-cache "$RUNS/photo_faces_aligned.npz" --camera 0.3 --class-weights 0.15 \
    --select accuracy --keep-epochs-from 2 --quiet "${@:2}"
  average "$1" 2
}
for step in $STEPS; do
  case $step in
    default) train dcnn_bilstm_dam "$EPOCHS" "$RUNS/dcnn_bilstm_dam" ;;  # stage 1, from scratch
    finetune)  # stage 2: from stage 1's best epoch, a short second cosine cycle, distilled from cnn_bilstm
      train dcnn_bilstm_dam "$FINETUNE_EPOCHS" "$RUNS/dcnn_bilstm_dam_ft" --lr 3e-4 --warmup-epochs 1 \
        --init "$RUNS/dcnn_bilstm_dam/best.pt" --teacher models/fer2013_cnn_bilstm.pt ;;
    ship) ship "$RUNS/dcnn_bilstm_dam_ft" fer2013_dcnn_bilstm_dam ;;
    ensemble)  # stage 3: from the shipped stage-2 model, with an EMA of the weights and random erasing
      distil "$ENSEMBLE_EPOCHS" "$RUNS/dam_ens" models/fer2013_dcnn_bilstm_dam.pt --ema-decay 0.999 --erase 0.25 ;;
    ship3) ship "$RUNS/dam_ens" fer2013_dcnn_bilstm_dam ;;
    long)  # stage 4: from the shipped stage-3 model, a longer cycle without the EMA and random erasing (the
      # levers that hurt at the lever budget); the later epochs kept for averaging
      distil "$LONG_EPOCHS" "$RUNS/dam_long" models/fer2013_dcnn_bilstm_dam.pt --keep-epochs-from "$SWA_FROM" ;;
    average) average "$RUNS/dam_long" "$SWA_FROM" ;;  # weight averaging of stage 4's later epochs
    ship4) ship "$RUNS/dam_long" fer2013_dcnn_bilstm_dam --checkpoint swa.pt ;;
    stage5)  # stage 5: the stage-4 recipe again, 20 epochs, epochs from 12 kept, from the shipped stage-4
      # model (a copy)
      keep_copy 4
      distil "$STAGE5_EPOCHS" "$RUNS/dam_s5" "$RUNS/stage4_dcnn_bilstm_dam.pt" --keep-epochs-from 12 ;;
    average5) average "$RUNS/dam_s5" "$STAGE5_SWA_FROM" ;;
    ship5) ship "$RUNS/dam_s5" fer2013_dcnn_bilstm_dam --checkpoint swa.pt ;;
    stage6)  # stage 6: the same recipe for 30 epochs from the shipped stage-5 model (a copy), epochs from 18 kept
      keep_copy 5
      distil "$STAGE6_EPOCHS" "$RUNS/dam_s6" "$RUNS/stage5_dcnn_bilstm_dam.pt" --keep-epochs-from 18 ;;
    average6) average "$RUNS/dam_s6" "$STAGE6_SWA_FROM" ;;
    ship6) ship "$RUNS/dam_s6" fer2013_dcnn_bilstm_dam --checkpoint swa.pt ;;
    audit)  # training-set copies in PublicTest, and the shipped models compared on the same items
      ferviz audit --dataset npz --data "$FER" --split PublicTest --out models/reports \
        --models models/fer2013_dcnn_bilstm_dam.pt models/fer2013_cnn_bilstm.pt models/fer2013_cnn_lstm.pt \
        models/fer2013_ngo_bilstm.pt ;;
    tta)  # test-time augmentation of the default, reported apart from its plain score
      for mode in flip ten_crop; do
        ferviz evaluate --model models/fer2013_dcnn_bilstm_dam.pt --dataset npz --data "$FER" --split PublicTest \
          --tta "$mode" --json "models/reports/tta/fer2013_dcnn_bilstm_dam_publictest_tta_$mode.json"
      done ;;
    cross)
      for ds in ckplus jaffe; do
        ferviz evaluate --model models/fer2013_dcnn_bilstm_dam.pt --dataset npz --data "$DATA/$ds/$ds.npz" \
          --kind cross-dataset --json "models/reports/fer2013_dcnn_bilstm_dam_on_$ds.json"
      done ;;
    cv)
      for ds in ckplus jaffe; do
        ferviz cv --dataset npz --data "$DATA/$ds/$ds.npz" --model dcnn_bilstm_dam --recipe strong \
          --epochs "$EPOCHS" --folds 10 --quiet --out "$RUNS/${ds}_cv"
        cp "$RUNS/${ds}_cv/summary.json" "models/reports/${ds}_cv_dcnn_bilstm_dam.json"
      done ;;
    comparisons)
      for v in cnn_bilstm cnn_lstm; do train "$v" "$EPOCHS" "$RUNS/$v"; ship "$RUNS/$v" "fer2013_$v"; done ;;
    hog_svm) ferviz hog-svm --dataset npz --data "$FER" --out models/reports/fer2013_hog_svm.json ;;
    ngo)
      [ -f "$RUNS/ngo_search/search.json" ] || ferviz ngo --dataset npz --data "$FER" --population 4 --iterations 2 \
        --search-epochs 2 --subset 6000 --recipe strong --out "$RUNS/ngo_search"
      cp "$RUNS/ngo_search/search.json" models/reports/ngo/fer2013_ngo_search.json
      read -r LR FC DROP < <(python -c "import json, sys; b = json.load(open(sys.argv[1]))['best']; \
print(f\"{b['lr']:.2e} {b['fc_hidden']} {b['dropout']}\")" "$RUNS/ngo_search/search.json")
      train ngo_bilstm "$EPOCHS" "$RUNS/ngo_bilstm" --lr "$LR" --fc-hidden "$FC" --dropout "$DROP"
      ship "$RUNS/ngo_bilstm" fer2013_ngo_bilstm ;;
    ablations)  # the full model (= gray input) and every ablation, from scratch with one short equal budget
      for v in dcnn_bilstm_dam cnn_bilstm spatial_only channel_only no_cross_fusion no_distill relu_gate gelu_gate \
               input_hog input_gray_hog; do
        train "$v" "$ABLATION_EPOCHS" "$RUNS/ablation_$v" --warmup-epochs 1
        ferviz evaluate --model "$RUNS/ablation_$v/best.pt" --dataset npz --data "$FER" --split PublicTest \
          --kind ablation --json "models/reports/fer2013_ablation_$v.json"
      done ;;
    seeds)  # seed spread: every ablation variant x seeds 0-2, 16 epochs on a fixed 5,000-face sample
      DATA="$DATA" RUNS="$RUNS" bash scripts/seeds.sh ;;
    levers)  # training levers, one change each, at the seed budget and seeds 0-2 (after seeds: its baseline)
      DATA="$DATA" RUNS="$RUNS" bash scripts/levers.sh ;;
    real1)  # the real-faces model, stage 1: the shipped FER2013 model fine-tuned on FER+'s vote distributions,
      # with camera-photo degradations; selected on FER+'s majority of PublicTest
      train dcnn_bilstm_dam "$REAL1_EPOCHS" "$RUNS/real1" --lr 5e-4 --warmup-epochs 1 \
        --init models/fer2013_dcnn_bilstm_dam.pt --labels ferplus-soft --camera 0.3 --keep-epochs-from 5 --quiet ;;
    real2)  # stage 2: + face-api.js as teacher on the aligned UTKFace photos and on FER2013 (0.3), FER2013's own
      # labels kept at 0.2 beside the votes, square-root-ish class weights; selected on FER+ macro-F1
      train dcnn_bilstm_dam "$REAL2_EPOCHS" "$RUNS/real2" --lr 3e-4 --warmup-epochs 1 --init "$RUNS/real1/best.pt" \
        --labels ferplus-soft --fer2013-weight 0.2 --fer-teacher 0.3 --photos "$DATA/utkface/faces" \
        --photo-cache "$RUNS/photo_faces_aligned.npz" --camera 0.3 --class-weights 0.3 --select macro_f1 \
        --keep-epochs-from 6 --quiet ;;
    average_real) average "$RUNS/real2" 6 ;;  # the mean of stage 2's epochs 6-8, BatchNorm recomputed
    real3|real4)  # stages 3 and 4: from stage 2's mean (then stage 3's best), FER2013's labels at 0.15, the
      # teacher at 0.2 on FER2013, milder class weights; selected on FER+'s majority of PublicTest
      if [ "$step" = real3 ]; then from=$RUNS/real2/swa.pt lr=3e-4; else from=$RUNS/real3/best.pt lr=2e-4; fi
      train dcnn_bilstm_dam "$REAL3_EPOCHS" "$RUNS/$step" --lr "$lr" --warmup-epochs 1 --init "$from" \
        --labels ferplus-soft --fer2013-weight 0.15 --fer-teacher 0.2 --photos "$DATA/utkface/faces" \
        --photo-cache "$RUNS/photo_faces_aligned.npz" --camera 0.3 --class-weights 0.15 --select accuracy \
        --keep-epochs-from 3 --quiet ;;
    adjust_sweep)  # stage 4 at five logit-adjustment strengths, by domain (models/reports/domains/logit_adjustment.json)
      sweep=()
      for tau in 0 0.25 0.5 0.75 1; do
        ferviz adjust --checkpoint "$RUNS/real4/best.pt" --tau "$tau" --dataset npz --data "$FER" \
          --out "$RUNS/real4/tau_$tau.pt"
        sweep+=("tau_$tau=$RUNS/real4/tau_$tau.pt")
      done
      by_domain models/reports/domains/logit_adjustment.json "${sweep[@]}" ;;
    views_real)  # the chosen decision rule's checkpoint with its own test-time views: every prediction averages
      # each face with its mirror image (measured by domain in step `domains`; the rule was checked with it too)
      ferviz adjust --checkpoint "$RUNS/real4/tau_$REAL_TAU.pt" --tta flip --out "$RUNS/real4/tau_${REAL_TAU}_flip.pt" ;;
    ship_real) ship "$RUNS/real4" real_dcnn_bilstm_dam --checkpoint "tau_${REAL_TAU}_flip.pt" ;;  # after `domains`
    cross_real)  # the shipped default and face-api.js on CK+ and JAFFE, as reports Evaluate and Compare open
      for model in models/real_dcnn_bilstm_dam.pt faceapi; do
        for ds in ckplus jaffe; do
          ferviz evaluate --model "$model" --data "$DATA/$ds/$ds.npz" --kind cross-dataset \
            --json "models/reports/$(basename "$model" .pt)_on_$ds.json"
        done
      done ;;
    domains)  # every shipped model and face-api.js by domain (models/reports/domains/domains.json)
      # (the real-faces run's checkpoint under the name it ships as, so that its card carries the table)
      by_domain models/reports/domains/domains.json "real_dcnn_bilstm_dam=$RUNS/real4/tau_${REAL_TAU}_flip.pt" \
        models/fer2013_dcnn_bilstm_dam.pt models/fer2013_cnn_bilstm.pt models/fer2013_cnn_lstm.pt \
        models/fer2013_ngo_bilstm.pt faceapi ;;
    real_levers) DATA="$DATA" RUNS="$RUNS" bash scripts/real_levers.sh ;;
    ferplus_only)  # what the FER+-majority target costs (models/reports/domains/ferplus_only.json, Compare ->
      # By domain): the shipped default fine-tuned on FER+'s vote distributions alone (no FER2013 label, no
      # teacher on FER2013's faces, no class weights; the photos and camera degradations kept), seeds 0 and 1,
      # each the mean of its epochs 3-6; the weight average of the two, as trained and at tau 0.5
      for seed in 0 1; do
        train dcnn_bilstm_dam 6 "$RUNS/ferplus_only_s$seed" --seed "$seed" --lr 3e-4 --warmup-epochs 1 \
          --init models/real_dcnn_bilstm_dam.pt --labels ferplus-soft --photos "$DATA/utkface/faces" \
          --photo-cache "$RUNS/photo_faces_aligned.npz" --camera 0.3 --select accuracy --keep-epochs-from 3 --quiet
        average "$RUNS/ferplus_only_s$seed" 3
      done
      ferviz average --checkpoint "$RUNS/ferplus_only_s0/swa.pt" --checkpoint "$RUNS/ferplus_only_s1/swa.pt" \
        --dataset npz --data "$FER" --out "$RUNS/ferplus_only_soup.pt"
      ferviz adjust --checkpoint "$RUNS/ferplus_only_soup.pt" --tau 0.5 --dataset npz --data "$FER" \
        --out "$RUNS/ferplus_only_soup_tau_0.5.pt"
      by_domain models/reports/domains/ferplus_only.json real_dcnn_bilstm_dam=models/real_dcnn_bilstm_dam.pt \
        "ferplus_only_soup=$RUNS/ferplus_only_soup.pt" "ferplus_only_soup_tau_0.5=$RUNS/ferplus_only_soup_tau_0.5.pt" \
        "ferplus_only_seed0=$RUNS/ferplus_only_s0/swa.pt" "ferplus_only_seed1=$RUNS/ferplus_only_s1/swa.pt" ;;
    recipe_parts)  # does one part of the default's recipe move the trade-off? (models/reports/domains/
      # recipe_parts.json, Compare -> By domain): the default's last stage again from the default for 4 epochs,
      # as it is (control) and with one part changed (face-api.js's weight on FER2013's faces 0.5 instead of
      # 0.2; no FER2013 label), each the mean of its epochs 2-4; control and teacher_0.5 with seeds 0 and 1
      for run in control teacher_0.5 no_fer2013 control_s1 teacher_0.5_s1; do
        case ${run%_s1} in
          control) change=(--fer2013-weight 0.15 --fer-teacher 0.2) ;;
          teacher_0.5) change=(--fer2013-weight 0.15 --fer-teacher 0.5) ;;
          no_fer2013) change=(--fer-teacher 0.2) ;;
        esac
        seed=0; [ "$run" = "${run%_s1}" ] || seed=1
        last_stage "$RUNS/recipe_$run" --seed "$seed" "${change[@]}"
      done
      by_domain models/reports/domains/recipe_parts.json real_dcnn_bilstm_dam=models/real_dcnn_bilstm_dam.pt \
        "recipe_control=$RUNS/recipe_control/swa.pt" "recipe_teacher_0.5=$RUNS/recipe_teacher_0.5/swa.pt" \
        "recipe_no_fer2013=$RUNS/recipe_no_fer2013/swa.pt" "recipe_control_seed1=$RUNS/recipe_control_s1/swa.pt" \
        "recipe_teacher_0.5_seed1=$RUNS/recipe_teacher_0.5_s1/swa.pt" ;;
    self_distil)  # step recipe_parts's control and heavier face-api.js teacher again (seed 0), with the default as
      # a distillation teacher as well (its soft targets cached; weight 0.5, temperature 4): does anchoring the
      # fine-tune on the default's own adjusted outputs keep it off the common-class prior?
      # (models/reports/domains/self_distil.json, Compare -> By domain)
      for run in self_kd self_kd_teacher_0.5; do
        weight=0.2; [ "$run" = self_kd ] || weight=0.5
        last_stage "$RUNS/$run" --fer2013-weight 0.15 --fer-teacher "$weight" \
          --teacher models/real_dcnn_bilstm_dam.pt --kd-cache
      done
      by_domain models/reports/domains/self_distil.json real_dcnn_bilstm_dam=models/real_dcnn_bilstm_dam.pt \
        "self_kd=$RUNS/self_kd/swa.pt" "self_kd_teacher_0.5=$RUNS/self_kd_teacher_0.5/swa.pt" ;;
    label_noise)  # the probably wrong labels (the four FER2013 models' probabilities); every shipped model scored
      ferviz audit --label-noise --dataset npz --data "$FER" --split PublicTest --out models/reports/label_noise \
        --flip-fractions 0.02 0.05 0.1 \
        --flip-rules both prune_by_noise_rate prune_by_class confident_learning predicted_neq_given \
        --models models/fer2013_dcnn_bilstm_dam.pt models/fer2013_cnn_bilstm.pt models/fer2013_cnn_lstm.pt \
        models/fer2013_ngo_bilstm.pt --also-score models/real_dcnn_bilstm_dam.pt ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done

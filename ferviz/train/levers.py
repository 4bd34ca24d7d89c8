"""Training levers: single changes to the full model's recipe, measured at one equal budget over seeds.

``scripts/levers.sh`` trains the full model (``dcnn_bilstm_dam``, recipe ``strong``) once per lever and
seed on the seed-spread budget (16 epochs on a fixed stratified sample of 5,000 FER2013 Training faces)
with exactly one change, and ``ferviz evaluate --lever NAME`` writes each run's report into
``models/reports/levers/``. :func:`ferviz.results.studies.lever_table` pairs every lever with the full model's
own seed runs at that budget (``models/reports/seeds/``). Kept free of heavy imports: the CLI's parser
reads :data:`LEVERS`.
"""

LEVER_REPORTS = "levers"  # models/reports/levers/: one report per training lever and seed
#: The levers, each one change to the full model's recipe (``strong``) at the seed budget. The keys
#: are what ``ferviz evaluate --lever`` records and ``scripts/levers.sh`` trains.
LEVERS: dict[str, str] = {
    "ema": "EMA of the weights (--ema-decay 0.998), the average evaluated",
    "erase": "random erasing (--erase 0.25)",
    "mixup": "mixup (--mixup 0.2)",
    "smoothing_0": "label smoothing 0 instead of 0.1",
    "smoothing_0.2": "label smoothing 0.2 instead of 0.1",
    "long": "a cosine schedule twice as long (32 epochs instead of 16)",
    "kd_ensemble": "distillation from the four shipped models' mean (--teacher x4 --kd-cache); the teachers "
                   "learnt from all 28,709 Training faces, so more than the budget's data reaches the "
                   "student",
    "swa": "weight averaging (SWA): the mean of epochs 9-16's weights, BatchNorm recomputed (ferviz "
           "average); evaluated as it is, without the best-epoch choice the baseline gets",
}

REAL_LEVER_REPORTS = "real_levers"  # models/reports/real_levers/: one domain table per real-faces lever
#: The real-faces levers of ``scripts/real_levers.sh``: each a 2-epoch fine-tune of the FER2013 benchmark
#: model with one change; from ``camera`` on, the change is made to ``ferplus_soft``. Keys are the script's
#: lever names and the report files' stems.
REAL_LEVERS: dict[str, str] = {
    "fer2013": "baseline: FER2013's own labels",
    "ferplus_soft": "FER+'s vote distributions (--labels ferplus-soft)",
    "camera": "+ all four camera degradations, each with probability 0.3 (--camera 0.3)",
    "camera_gamma": "+ lighting (gamma) alone (--camera 0.3 --camera-kinds gamma)",
    "camera_blur": "+ blur alone (--camera-kinds blur)",
    "camera_low_resolution": "+ low resolution alone (--camera-kinds low_resolution)",
    "camera_jpeg": "+ JPEG compression alone (--camera-kinds jpeg)",
    "no_rotation": "- the affine rotation of ±10° (--rotate 0)",
    "erase": "+ occlusion: one noise rectangle per face with probability 0.25 (--erase 0.25)",
    "class_weights": "+ class weights (1 / share) ** 0.5 (--class-weights 0.5)",
    "teacher": "+ face-api.js on aligned UTKFace photos and FER2013 (--photos, --fer-teacher 0.3)",
    "teacher_box": "teacher, the photos cut by the detector's box instead of aligned (--photo-crop box)",
    "teacher_luma": "teacher, every photo made gray one way (BT.601 luma) instead of a random one of three "
                    "(--photo-gray luma)",
}

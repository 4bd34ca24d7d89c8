"""What several commands share: the training recipes, the dataset options and how they are read."""

from __future__ import annotations

RECIPES = {
    # The paper's recipe (docs/DESIGN.md §6): Adam 1e-3, batch 32, constant lr, best checkpoint.
    "paper": dict(optimizer="adam", lr=1e-3, batch_size=32, schedule="none"),
    # A stronger recipe, always reported separately: AdamW + warmup + cosine + label smoothing.
    "strong": dict(optimizer="adamw", lr=1e-3, batch_size=64, weight_decay=0.05, schedule="cosine",
                   warmup_epochs=2, label_smoothing=0.1, grad_clip=1.0),
}
#: The usual (training, selection) usage values of a dataset kind.
SPLITS = {"fer2013": ("Training", "PublicTest"), "rafdb": ("train", "test")}


def load_data(args):
    """``--data`` (and ``--dataset``, ``--size``, ``--faces``) read: ``(kind, FaceDataset)``."""
    from ferviz import load_dataset

    ds = load_dataset(args.data, args.dataset or "auto",  # the reader reports skipped items
                      size=getattr(args, "size", None))
    faces = getattr(args, "faces", "auto")
    if faces != "auto":
        ds = ds.with_whole_frames(faces == "detect")
    return ds.name, ds  # an .npz archive is named after its file: fer2013_trainval.npz -> 'fer2013'


def split_names(kind: str, args) -> tuple[str, str]:
    """The (training, selection) usage values: ``--train-split`` / ``--val-split`` or the kind's usual."""
    default = SPLITS.get(kind, ("Training", "PublicTest"))
    return args.train_split or default[0], args.val_split or default[1]


def train_config(args):
    """The recipe named by ``--recipe`` with every training option given on the command line applied."""
    from ferviz.train.engine import TrainConfig

    values = dict(RECIPES[args.recipe])
    for key in ("epochs", "batch_size", "lr", "seed", "max_steps", "warmup_epochs", "ema_decay", "erase",
                "mixup", "label_smoothing", "kd_alpha", "kd_temperature", "keep_epochs_from"):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    values["bf16"] = not args.fp32
    values["labels"] = getattr(args, "labels", "fer2013")
    values["camera"] = getattr(args, "camera", 0.0)
    values["camera_kinds"] = getattr(args, "camera_kinds", "") or ""
    if getattr(args, "rotate", None) is not None:
        values["rotate_deg"] = args.rotate
    values["augment"] = not args.no_augment
    if getattr(args, "class_weights", 0.0):
        values["class_weighting"], values["class_power"] = True, args.class_weights
    values["select_metric"] = args.select
    if args.teacher:
        values["teacher"] = ",".join(args.teacher)
        values["kd_cache"] = args.kd_cache
    if getattr(args, "init", None):
        values["init"] = args.init
    return TrainConfig(**values)


def add_data(p, required=True) -> None:
    from ferviz.data.datasets import DATASET_READERS

    p.add_argument("--dataset", choices=sorted(DATASET_READERS), help="format of --data (guessed if omitted)")
    p.add_argument("--data", required=required, help="dataset file or folder (your own copy)")
    p.add_argument("--size", type=int,
                   help="resize every image to N x N pixels while reading (default: as they are; images of "
                        "mixed sizes are resized to their median side, and the reader says so)")
    p.add_argument("--faces", choices=["auto", "crops", "detect"], default="auto",
                   help="crops: the images are face crops, used as they are; detect: they are photos, "
                        "find the largest face in each first; auto (default): as the format says (JAFFE: "
                        "detect, the others: crops)")


def add_tta(p, recorded: str) -> None:
    from ferviz.pipeline.tta import TTA_MODES, TTA_TEXT

    modes = "; ".join(TTA_TEXT[m] for m in TTA_MODES[1:]).replace("%", "%%")
    p.add_argument("--tta", choices=TTA_MODES, default="none",
                   help=f"test-time augmentation, probabilities averaged over ({modes}); {recorded} "
                        "(default none: the model's own views, one per face or, for a model adjusted with "
                        "`ferviz adjust --tta flip`, the face and its mirror image)")


def add_training(p) -> None:
    from ferviz.data.ferplus import LABEL_SOURCES
    from ferviz.model.network import DEFAULT_VARIANT, VARIANTS

    p.add_argument("--model", default=DEFAULT_VARIANT, choices=list(VARIANTS), help="model variant")
    p.add_argument("--recipe", default="paper", choices=list(RECIPES), help="training recipe (see README)")
    p.add_argument("--epochs", type=int, help="default 100 (the paper's)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup-epochs", type=int, help="override the recipe's linear warm-up length")
    p.add_argument("--seed", type=int)
    p.add_argument("--select", default="accuracy", choices=["accuracy", "macro_f1"])
    p.add_argument("--input", choices=["gray", "hog", "gray+hog"], help="override the variant's input mode")
    p.add_argument("--fc-hidden", type=int, help="override the FC width (300 in the paper)")
    p.add_argument("--dropout", type=float, help="override the classifier dropout")
    p.add_argument("--teacher", action="append",
                   help="teacher checkpoint for knowledge distillation; repeat for an ensemble "
                        "(mean soft targets)")
    p.add_argument("--kd-cache", action="store_true",
                   help="compute the teachers' soft targets once on the un-augmented training faces "
                        "and reuse them")
    p.add_argument("--kd-alpha", type=float, help="weight of the distillation term (default 0.5)")
    p.add_argument("--kd-temperature", type=float, help="distillation temperature (default 4)")
    p.add_argument("--label-smoothing", type=float, help="override the recipe's label smoothing")
    p.add_argument("--ema-decay", type=float,
                   help="keep an EMA of the weights (e.g. 0.999); it is evaluated and saved")
    p.add_argument("--erase", type=float, help="random-erasing probability per image (e.g. 0.25)")
    p.add_argument("--mixup", type=float, help="mixup Beta(alpha, alpha) parameter (e.g. 0.2); 0 = off")
    p.add_argument("--keep-epochs-from", type=int, metavar="N",
                   help="also keep every epoch's weights from epoch N on (OUT/epochs/), for `ferviz average`")
    p.add_argument("--max-steps", type=int, help="limit steps per epoch (smoke tests)")
    p.add_argument("--fp32", action="store_true", help="disable bfloat16 autocast")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--labels", default="fer2013", choices=list(LABEL_SOURCES),
                   help="FER2013's labels, or FER+'s 10 annotators: their majority or their vote distribution "
                        "(votes from ferplus_votes.npz beside --data; selection then on the FER+ majority)")
    p.add_argument("--class-weights", type=float, default=0.0, metavar="POWER",
                   help="weigh each class's loss by (1 / its share) ** POWER: 0 off, 0.5 square root, 1 inverse "
                        "frequency (rare classes such as disgust count more)")
    p.add_argument("--fer2013-weight", type=float, default=0.0, metavar="W",
                   help="with --labels ferplus-soft: targets (1 - W) x the votes + W x FER2013's own label")
    p.add_argument("--fer-teacher", type=float, default=0.0, metavar="W",
                   help="blend face-api.js's probabilities into the FER2013 faces' targets with weight W (0-1)")
    p.add_argument("--photos", metavar="FOLDER",
                   help="also train on these unlabelled face photos (e.g. UTKFace's crops): aligned like every "
                        "inference path, labelled by face-api.js's expression network (cached in OUT)")
    p.add_argument("--photo-crop", choices=["aligned", "box"], default="aligned",
                   help="how --photos faces are cut for the student: aligned on the landmarks (the app's policy) "
                        "or the detector's box")
    p.add_argument("--photo-gray", choices=["mixed", "luma", "mean", "green"], default="mixed",
                   help="how --photos faces become gray for training: a random conversion per photo (mixed, "
                        "default: cameras and libraries differ) or always one")
    p.add_argument("--photo-cache", metavar="NPZ",
                   help="where the prepared --photos faces are kept (default OUT/photo_faces.npz; share one "
                        "between runs: it is remade when the photos, crop or holdout differ)")
    p.add_argument("--photo-holdout", type=float, default=0.2, metavar="F",
                   help="share of --photos held out of training for the domain table (fixed by file name)")
    p.add_argument("--camera", type=float, default=0.0, metavar="P",
                   help="probability per face of each camera-photo degradation (gamma, blur, low resolution, "
                        "JPEG); e.g. 0.3")
    p.add_argument("--camera-kinds", type=_camera_kinds, metavar="NAMES",
                   help="with --camera: only these degradations, comma-separated (gamma, blur, low_resolution, "
                        "jpeg; default all)")
    p.add_argument("--rotate", type=float, metavar="DEG",
                   help="rotation range of the affine augmentation in degrees (default 10; 0 = no rotation)")
    p.add_argument("--out", default="runs/latest", help="output folder (checkpoints, log.csv, run.json)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _camera_kinds(text: str) -> str:
    """``--camera-kinds``: checked against the degradations, so a typo is an argparse error, not a traceback."""
    import argparse

    from ferviz.data.camera import parse_kinds

    try:
        return ",".join(parse_kinds(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_align(p) -> None:
    """``--align`` / ``--no-align``: the crop policy of every command that finds faces."""
    import argparse

    p.add_argument("--align", action=argparse.BooleanOptionalAction, default=True,
                   help="align each face on YuNet's landmarks: eyes level and where FER2013's faces have them "
                        "(default); --no-align cuts the square box crop (Haar faces always get the box crop)")

"""Command line: ``ferviz train | evaluate | predict | cv | variants`` (also ``python -m ferviz``).

argparse lives here only; every command is a thin call into the core. Expected failures (bad files,
bad datasets, bad checkpoints) print one line naming the file and exit non-zero — no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ferviz.errors import FervizError

log = logging.getLogger("ferviz")

RECIPES = {
    # The paper's recipe (docs/DESIGN.md §6): Adam 1e-3, batch 32, constant lr, best checkpoint.
    "paper": dict(optimizer="adam", lr=1e-3, batch_size=32, schedule="none"),
    # A stronger recipe, always reported separately: AdamW + warmup + cosine + label smoothing.
    "strong": dict(optimizer="adamw", lr=1e-3, batch_size=64, weight_decay=0.05, schedule="cosine",
                   warmup_epochs=2, label_smoothing=0.1, grad_clip=1.0),
}
SPLITS = {"fer2013": ("Training", "PublicTest"), "rafdb": ("train", "test")}


def _train_config(args):
    from ferviz.train.engine import TrainConfig

    values = dict(RECIPES[args.recipe])
    for key in ("epochs", "batch_size", "lr", "seed", "max_steps", "warmup_epochs", "ema_decay", "erase",
                "mixup", "label_smoothing", "kd_alpha", "kd_temperature", "keep_epochs_from"):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    values["bf16"] = not args.fp32
    values["augment"] = not args.no_augment
    values["select_metric"] = args.select
    if args.teacher:
        values["teacher"] = ",".join(args.teacher)
        values["kd_cache"] = args.kd_cache
    if getattr(args, "init", None):
        values["init"] = args.init
    return TrainConfig(**values)


def _load(args):
    from ferviz.data.datasets import detect_kind, load_dataset

    ds = load_dataset(args.dataset or detect_kind(args.data), args.data,  # the reader reports skipped items
                      size=getattr(args, "size", None))
    faces = getattr(args, "faces", "auto")
    if faces != "auto":
        ds = ds.with_whole_frames(faces == "detect")
    return ds.name, ds  # an .npz archive is named after its file: fer2013_trainval.npz -> 'fer2013'



def _split_names(kind: str, ds, args) -> tuple[str, str]:
    default = SPLITS.get(kind, ("Training", "PublicTest"))
    return args.train_split or default[0], args.val_split or default[1]


def cmd_train(args) -> int:
    from ferviz.train.runner import run_training

    kind, ds = _load(args)
    train_name, val_name = _split_names(kind, ds, args)
    train, val = ds.split(train_name), ds.split(val_name)
    meta = {"dataset": kind, "data": Path(args.data).name, "train_split": train_name,
            "select_split": val_name, "recipe": args.recipe}
    if args.subset:
        train = train.stratified_sample(args.subset, seed=0)  # the same faces whatever --seed is
        meta["train_subset"] = len(train)
    overrides = {k: v for k, v in (("input_mode", args.input), ("fc_hidden", args.fc_hidden),
                                   ("dropout", args.dropout)) if v is not None}
    result = run_training(train.images, train.labels, val.images, val.labels, variant=args.model,
                          train_cfg=_train_config(args), out_dir=args.out, model_overrides=overrides,
                          resume=args.resume, progress=not args.quiet, argv=args.argv, meta=meta)
    print(f"best {args.select} {result.best_score:.4f} at epoch {result.best_epoch}; "
          f"checkpoint {Path(args.out) / 'best.pt'}")
    return 0


def cmd_evaluate(args) -> int:
    from dataclasses import replace

    from ferviz.model.checkpoint import load_checkpoint
    from ferviz.paths import DEFAULT_MODEL
    from ferviz.results.evaluation import DATASET_FACE_OPTIONS, evaluate

    loaded = load_checkpoint(args.model or DEFAULT_MODEL)
    if args.detect:
        return _evaluate_photos(args, loaded)
    kind, ds = _load(args)
    if args.split:
        ds = ds.split(args.split)
    face_options = replace(DATASET_FACE_OPTIONS, detector=args.detector, min_confidence=args.min_confidence,
                           align=args.align)
    result = evaluate(loaded, ds, split=args.split or "all", batch_size=args.batch_size, tta=args.tta,
                      face_options=face_options)
    if result is None:  # a torchrun rank other than 0: its shard went to rank 0
        return 0
    train = loaded.meta.get("train") or {}
    result.report.meta.update({"kind": args.kind, "command": " ".join(args.argv),
                               "epochs": train.get("epochs"), "best_epoch": loaded.meta.get("epoch"),
                               "seed": train.get("seed"), "train_subset": loaded.meta.get("train_subset")})
    if args.lever:  # a training lever's run (scripts/levers.sh): its name, and the whole recipe it had
        result.report.meta.update({"kind": "lever", "lever": args.lever, "train": train})
    print(result.report.format_table())
    if args.json:
        result.report.to_json(args.json)
        print(f"report written to {args.json}")
    return 0


def _evaluate_photos(args, loaded) -> int:
    """``evaluate --detect``: whole photos in class folders, each face detected, aligned and classified."""
    from ferviz.pipeline.faces import FaceOptions
    from ferviz.results.evaluation import evaluate_photos

    options = FaceOptions(detector=args.detector, min_confidence=args.min_confidence, align=args.align)
    result = evaluate_photos(loaded, args.data, split=args.split or "", options=options, tta=args.tta)
    result.report.meta.update({"kind": args.kind, "command": " ".join(args.argv)})
    print(result.report.format_table())
    meta = result.report.meta
    print(f"accuracy over all {meta['n_photos']} photos, a photo without a face counted wrong: "
          f"{result.report.scores['accuracy_all_photos'] * 100:.2f}%")
    if result.no_face:
        print(f"{len(result.no_face)} photo(s) without a face (counted wrong):")
        print("\n".join(f"  {line}" for line in result.no_face))
    for line in result.skipped:
        print(f"skipped: {line}", file=sys.stderr)
    if args.json:
        result.report.to_json(args.json)
        print(f"report written to {args.json}")
    return 0


def _face_options(args):
    from ferviz.pipeline.faces import FaceOptions

    return FaceOptions(detector=args.detector, min_confidence=args.min_confidence, fallback=args.fallback,
                       align=args.align, max_faces=args.max_faces)


def cmd_predict(args) -> int:
    from tqdm import tqdm

    from ferviz.model.checkpoint import load_checkpoint
    from ferviz.paths import DEFAULT_MODEL
    from ferviz.pipeline.batch import collect_inputs, csv_bytes, predict_path
    from ferviz.pipeline.inference import predict_image
    from ferviz.pipeline.video import is_video
    from ferviz.train.engine import dist_info
    from ferviz.train.sharding import gather_to_rank0, shard_bounds

    loaded = load_checkpoint(args.model or DEFAULT_MODEL)
    options = _face_options(args)
    files, problems = collect_inputs(args.images)
    rank, world = dist_info()
    start, stop = shard_bounds(len(files), rank, world)  # under torchrun: this rank's files
    quiet = args.quiet or world > 1
    results = []  # per file: (rows, text lines, error or None)
    many = tqdm(files[start:stop], unit="file", desc="files", disable=stop - start < 2 or quiet,
                file=sys.stderr)
    for path in many:
        try:
            if is_video(path):
                bar = tqdm(unit="frame", desc=path.name[:30], leave=False, file=sys.stderr, disable=quiet)

                def progress(done, total, bar=bar):
                    bar.total = total
                    bar.update(done - bar.n)

                found, messages = predict_path(loaded, path, options=options, every=args.every,
                                               smoothing=args.smoothing, annotate_dir=args.annotate,
                                               detect_side=args.detect_side or None, progress=progress,
                                               tta=args.tta)
                bar.close()
                results.append((found, _video_lines(found, messages), None))
            else:
                pred = predict_image(loaded, path, name=str(path), options=options, tta=args.tta)
                results.append((pred.rows(), _prediction_lines(pred), None))
        except FervizError as exc:
            results.append(([], [], str(exc)))
    parts = gather_to_rank0(results)
    if parts is None:  # a torchrun rank other than 0: rank 0 prints and writes everything, in order
        return 0
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    failures, rows = len(problems), []
    for found, lines, error in (item for part in parts for item in part):
        if error is not None:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        rows.extend(found)
        if not (args.json or args.quiet):
            print("\n".join(lines))
    if args.csv:
        Path(args.csv).write_bytes(csv_bytes(_frame(rows)))
        print(f"{len(rows)} row(s) written to {args.csv}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 1 if failures else 0


def _frame(rows):
    import pandas as pd

    return pd.DataFrame(rows)


def _video_lines(rows: list[dict], messages: list[str]) -> list[str]:
    """What ``ferviz predict`` prints for a video: the summary, notes, and each face's usual label."""
    lines = [messages[0], *(f"  note: {m}" for m in messages[1:])]
    tracks: dict[int, list[str]] = {}
    for row in rows:
        if row["track"] is not None:
            tracks.setdefault(row["track"], []).append(row["label"])
    if not tracks:
        lines.append("  no face found in the processed frames; no expression label")
    for track, labels in tracks.items():
        top = max(set(labels), key=labels.count)
        lines.append(f"  face #{track}: in {len(labels)} processed frame(s), "
                     f"mostly {top} ({labels.count(top)})")
    return lines


def _prediction_lines(pred) -> list[str]:
    """What ``ferviz predict`` prints for a photo: one line, then one per face."""
    if not pred.faces:
        return [f"{pred.name}: no face found ({pred.message}); no expression label"]
    faces = sum(not f.fallback for f in pred.faces)
    note = f" ({pred.message})" if pred.message else ""
    tta = "" if pred.tta == "none" else f", probabilities averaged over {pred.tta} test-time augmentation"
    ms = pred.seconds * 1000
    lines = [f"{pred.name}: {faces} face(s) found by {pred.detector} in {ms:.0f} ms{tta}{note}"]
    for f in pred.faces:
        top = sorted(f.probs.items(), key=lambda kv: -kv[1])[:3]
        others = ", ".join(f"{k} {v:.2f}" for k, v in top[1:])
        what = "centre crop (not a detected face)" if f.fallback else f"face {f.index}"
        detected = f", detector {f.box.confidence_text}" if f.box.confidence_text else ""
        lines.append(f"  {what} at x={f.box.x} y={f.box.y} w={f.box.w} h={f.box.h}{detected}: "
                     f"{f.label} {f.confidence:.2f} ({others})")
    return lines


def cmd_cv(args) -> int:
    from ferviz.train.crossval import cross_validate

    kind, ds = _load(args)
    summary = cross_validate(ds, variant=args.model, train_cfg=_train_config(args), out_dir=Path(args.out),
                             folds=args.folds, seed=args.seed or 0, progress=not args.quiet)
    print(summary.format_table())
    return 0


def cmd_ship(args) -> int:
    from ferviz.model.network import DEFAULT_VARIANT
    from ferviz.paths import MODELS_DIR
    from ferviz.results.evaluation import evaluate
    from ferviz.results.modelcard import run_summary, ship
    from ferviz.results.reports import discover, lever_records, lever_table

    run = run_summary(Path(args.run))
    split = args.split or run["meta"].get("select_split", "")
    kind, ds = _load(args)
    part = ds.split(split) if split else ds
    models_dir = Path(args.models_dir or MODELS_DIR)
    levers = []
    if run["variant"] == DEFAULT_VARIANT:  # the levers are one change each to this model's recipe
        levers = lever_records(lever_table(discover(models_dir)))
    card = ship(Path(args.run), args.name, lambda lm: evaluate(lm, part, split=split), models_dir,
                notes=args.notes or "", checkpoint=args.checkpoint, levers=levers)
    print(f"shipped {card.file}: accuracy {card.report['accuracy']:.4f}, "
          f"macro-F1 {card.report['macro']['f1']:.4f} on {split or 'all'}")
    return 0


def cmd_average(args) -> int:
    from tqdm import tqdm

    from ferviz.data.preprocess import prepare_images
    from ferviz.model.checkpoint import load_checkpoint
    from ferviz.train.swa import average_checkpoints, kept_epochs, save_averaged

    paths = list(args.checkpoint or [])
    if args.run:
        paths += kept_epochs(args.run, args.from_epoch, args.to_epoch)
    if not paths:
        raise FervizError("nothing to average: give --run DIR (its kept epochs) or --checkpoint files")
    planes = None
    first = load_checkpoint(paths[0], verify=False)
    if not args.no_bn_update:
        if not args.data:
            raise FervizError("--data is needed to recompute the BatchNorm statistics on the training faces "
                              "(or pass --no-bn-update to average them instead)")
        kind, ds = _load(args)
        split = args.train_split or first.meta.get("train_split") or SPLITS.get(kind, ("Training",))[0]
        train = ds.split(split)
        if first.meta.get("train_subset"):  # the run trained on a fixed sample: the same faces
            train = train.stratified_sample(int(first.meta["train_subset"]), seed=0)
        if args.bn_faces:
            train = train.stratified_sample(args.bn_faces, seed=0)
        planes = prepare_images(train.images, first.preprocessing)
    total = len(paths) + (len(planes) if planes is not None else 0)
    with tqdm(total=total, unit="item", desc="averaging", disable=args.quiet, mininterval=1.0) as bar:
        avg = average_checkpoints(paths, planes, progress=bar.update, first=first)
    out = save_averaged(avg, args.out, command=" ".join(args.argv))
    bn = f"BatchNorm recomputed on {avg.bn_faces} training faces" if avg.bn_faces else "BatchNorm averaged"
    print(f"averaged {len(paths)} checkpoints ({bn}) -> {out}")
    return 0


def cmd_hog_svm(args) -> int:
    import numpy as np

    from ferviz.model.baselines import train_hog_svm

    kind, ds = _load(args)
    train_name, val_name = _split_names(kind, ds, args)
    train, val = ds.split(train_name), ds.split(val_name)
    meta = {"dataset": kind, "split": val_name, "train_split": train_name, "kind": "comparison",
            "model": "hog_svm", "command": " ".join(args.argv)}
    params, report = train_hog_svm(train.images, train.labels, val.images, val.labels, meta=meta)
    print(report.format_table())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report.to_json(out)
    np.savez_compressed(out.with_suffix(".params.npz"), **{k: np.asarray(v) for k, v in params.items()})
    print(f"report written to {out}")
    return 0


def cmd_ngo(args) -> int:
    from ferviz.model.baselines import ngo_search

    kind, ds = _load(args)
    train_name, val_name = _split_names(kind, ds, args)
    train, val = ds.split(train_name), ds.split(val_name)
    summary = ngo_search(train.images, train.labels, val.images, val.labels, out_dir=Path(args.out),
                         population=args.population, iterations=args.iterations,
                         search_epochs=args.search_epochs, subset=args.subset, base=_train_config(args),
                         seed=args.seed or 0)
    best = summary["best"]
    print(f"NGO best: lr={best['lr']:.2e} fc_hidden={best['fc_hidden']} dropout={best['dropout']} "
          f"(selection accuracy {summary['best_selection_accuracy']:.4f} "
          f"after {summary['budget']['evaluations']} runs)")
    print(f"train it: ferviz train --model ngo_bilstm --lr {best['lr']:.2e} --fc-hidden {best['fc_hidden']} "
          f"--dropout {best['dropout']} ...")
    return 0


def cmd_variants(args) -> int:
    from ferviz.model.network import VARIANTS

    for name, cfg in VARIANTS.items():
        print(f"{name:18s} attention={cfg.attention:8s} recurrent={cfg.recurrent:7s} input={cfg.input_mode}")
    return 0


def _add_data(p, required=True) -> None:
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


def _tta_argument(p, recorded: str) -> None:
    from ferviz.pipeline.tta import TTA_MODES, TTA_TEXT

    modes = "; ".join(TTA_TEXT[m] for m in TTA_MODES[1:]).replace("%", "%%")
    p.add_argument("--tta", choices=TTA_MODES, default="none",
                   help=f"test-time augmentation, probabilities averaged over ({modes}); {recorded} "
                        "(default none)")


def _add_faces(p) -> None:
    from ferviz.pipeline.faces import DETECTORS, FALLBACKS, MIN_CONFIDENCE

    p.add_argument("--detector", choices=list(DETECTORS),
                   help="face detector (default yunet; haar where the yuface package is missing)")
    p.add_argument("--min-confidence", type=float, default=MIN_CONFIDENCE,
                   help=f"YuNet detections scoring below this are not faces (default {MIN_CONFIDENCE})")
    p.add_argument("--fallback", choices=FALLBACKS, default="none",
                   help="no face found: no label (none, default) or classify the centre square, "
                        "marked as such")
    _add_align(p)
    p.add_argument("--max-faces", type=int, default=20, help="keep the largest N faces per image")


def _add_align(p) -> None:
    p.add_argument("--align", action=argparse.BooleanOptionalAction, default=True,
                   help="align each face on YuNet's landmarks: eyes level and where FER2013's faces have them "
                        "(default); --no-align cuts the square box crop (Haar faces always get the box crop)")


def _add_training(p) -> None:
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
    p.add_argument("--out", default="runs/latest", help="output folder (checkpoints, log.csv, run.json)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_serve(args) -> int:
    import signal
    import time

    from ferviz.serve.deploy import nginx_config, start

    if args.print_config:
        upstreams = [f"127.0.0.1:{8501 + k}" for k in range(args.replicas)] + list(args.upstream)
        print(nginx_config(upstreams, f"{args.host}:{args.port}", prefix=args.run_dir or "/tmp/ferviz-serve",
                           certfile=args.ssl_cert, keyfile=args.ssl_key), end="")
        return 0
    env = {"FERVIZ_DATA_ROOTS": args.data_roots} if args.data_roots else {}

    def stop(signum, frame):  # `kill` or a service manager: stop the replicas and nginx like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with start(args.replicas, args.port, host=args.host, upstreams=args.upstream, shared=not args.local,
               run_dir=args.run_dir, env=env, certfile=args.ssl_cert, keyfile=args.ssl_key) as dep:
        mode = "local mode (server paths allowed)" if args.local else "shared mode"
        print(f"serving {dep.url} ({mode}): nginx -> {', '.join(dep.replicas)}; logs in {dep.run_dir}\n"
              "Ctrl-C stops every replica and nginx", flush=True)
        try:
            while all(p.poll() is None for p in dep.procs):
                time.sleep(1)
        except KeyboardInterrupt:
            return 0
        dead = next(p for p in dep.procs if p.poll() is not None)
        print(f"error: {' '.join(map(str, dead.args[:4]))} … stopped (code {dead.returncode}); "
              f"see the logs in {dep.run_dir}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ferviz", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a model (resumable; torchrun for data-parallel)")
    _add_data(p)
    _add_training(p)
    p.add_argument("--train-split", help="usage value to train on (default Training / train)")
    p.add_argument("--val-split", help="usage value to select on (default PublicTest / test)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--init",
                   help="start from this checkpoint's weights (fine-tuning; same variant and classes)")
    p.add_argument("--subset", type=int,
                   help="train on a fixed class-stratified sample of N training faces (the same N faces for "
                        "every --seed): for seed-spread and ablation runs at a budget the CPU allows")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("evaluate", help="full metric report of a checkpoint on a dataset")
    p.add_argument("--model", help="checkpoint (.pt; default: the shipped model)")
    _add_data(p)
    p.add_argument("--split", help="usage value to evaluate (e.g. PublicTest, PrivateTest); default all")
    p.add_argument("--json", help="write the report as JSON here")
    p.add_argument("--kind", default="evaluation",
                   choices=["evaluation", "selection", "cross-dataset", "ablation", "comparison", "lever"],
                   help="what the report is, for the Compare page")
    from ferviz.train.levers import LEVERS

    p.add_argument("--lever", choices=list(LEVERS),
                   help="the report is of a training-lever run (scripts/levers.sh): record the lever's name "
                        "and the run's recipe (kind lever)")
    p.add_argument("--batch-size", type=int, default=256,
                   help="faces per forward pass (under torchrun, also the unit the items are sharded in)")
    _tta_argument(p, "recorded in the report's meta, reported separately")
    p.add_argument("--detect", action="store_true",
                   help="--data is a folder of whole photos in class folders: detect, align and classify the "
                        "largest face of each; a photo without a face counts as wrong and is listed")
    from ferviz.pipeline.faces import DETECTORS, MIN_CONFIDENCE

    p.add_argument("--detector", choices=list(DETECTORS),
                   help="face detector for photos (default yunet; haar where the yuface package is missing)")
    p.add_argument("--min-confidence", type=float, default=MIN_CONFIDENCE,
                   help=f"YuNet detections scoring below this are not faces (default {MIN_CONFIDENCE})")
    _add_align(p)
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("predict", help="every face in photos, videos and folders: box, label, probabilities")
    p.add_argument("images", nargs="+", metavar="PATH",
                   help="photos, videos (mp4, webm, avi, mov, mkv) or folders of them (searched recursively)")
    p.add_argument("--model", help="checkpoint (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of text")
    p.add_argument("--csv", help="also write every row (all files) to this CSV file")
    p.add_argument("--every", type=int, default=1, help="videos: process every Nth frame (default 1)")
    p.add_argument("--detect-side", type=int, default=480,
                   help="videos: search faces on a copy of each frame at most this many pixels on its longer "
                        "side (default 480; 0 = full size: slower, finds smaller faces)")
    p.add_argument("--smoothing", type=float, default=0.6,
                   help="videos: EMA strength of each face's probabilities over time, 0 = off (default 0.6)")
    p.add_argument("--annotate", type=Path, help="videos: write NAME.annotated.mp4 copies into this folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars and no text output")
    _tta_argument(p, "every row then has a tta column")
    _add_faces(p)
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("cv", help="subject-grouped k-fold cross-validation (CK+, JAFFE)")
    _add_data(p)
    _add_training(p)
    p.add_argument("--folds", type=int, default=10)
    p.set_defaults(func=cmd_cv)
    p = sub.add_parser("ship", help="copy a run's best.pt into models/ with a measured model card")
    p.add_argument("--run", required=True, help="training output folder (has best.pt, run.json, log.csv)")
    p.add_argument("--name", required=True, help="model name, e.g. fer2013_dcnn_bilstm_dam")
    _add_data(p)
    p.add_argument("--split", help="split to report on (default: the one the run selected on)")
    p.add_argument("--models-dir", help="default: the repository's models/")
    p.add_argument("--notes", help="free text added to the card")
    p.add_argument("--checkpoint", default="best.pt",
                   help="the run's file to ship (default best.pt; e.g. swa.pt from `ferviz average`)")
    p.set_defaults(func=cmd_ship)
    p = sub.add_parser("average", help="weight averaging (SWA): the mean of a run's kept epochs, BatchNorm "
                                       "recomputed")
    p.add_argument("--run", help="training folder trained with --keep-epochs-from (its epochs/ files)")
    p.add_argument("--from-epoch", type=int, default=1, help="first kept epoch to average (default 1)")
    p.add_argument("--to-epoch", type=int, help="last kept epoch to average (default: the last kept)")
    p.add_argument("--checkpoint", action="append", help="a checkpoint to average (repeatable; with or "
                                                         "instead of --run)")
    _add_data(p, required=False)
    p.add_argument("--train-split", help="usage value of the training faces (default: the run's)")
    p.add_argument("--bn-faces", type=int, metavar="N",
                   help="recompute BatchNorm on a fixed class-stratified sample of N training faces "
                        "(default: all of them)")
    p.add_argument("--no-bn-update", action="store_true",
                   help="average the BatchNorm statistics instead of recomputing them (no --data needed)")
    p.add_argument("--out", required=True, help="the averaged checkpoint to write (.pt)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_average)
    p = sub.add_parser("hog-svm", help="the HOG + linear SVM baseline: fit, select C, write its report")
    _add_data(p)
    p.add_argument("--train-split")
    p.add_argument("--val-split")
    p.add_argument("--out", default="models/reports/fer2013_hog_svm.json")
    p.set_defaults(func=cmd_hog_svm)
    p = sub.add_parser("ngo", help="NGO search of cnn_bilstm's lr / FC width / dropout (ngo_bilstm)")
    _add_data(p)
    _add_training(p)
    p.add_argument("--train-split")
    p.add_argument("--val-split")
    p.add_argument("--population", type=int, default=4)
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--search-epochs", type=int, default=2)
    p.add_argument("--subset", type=int, default=6000, help="training images per candidate run")
    p.set_defaults(func=cmd_ngo)
    p = sub.add_parser("serve", help="a classroom server: N Streamlit replicas behind nginx (docs: README)")
    p.add_argument("--replicas", type=int, default=2, help="Streamlit replicas on this machine (default 2)")
    p.add_argument("--port", type=int, default=8080, help="where nginx listens (default 8080)")
    p.add_argument("--host", default="127.0.0.1",
                   help="nginx's address (default 127.0.0.1; 0.0.0.0 for a room's network, where cameras "
                        "need HTTPS)")
    p.add_argument("--upstream", action="append", default=[], metavar="HOST:PORT",
                   help="a replica on another machine (repeatable)")
    p.add_argument("--local", action="store_true",
                   help="local mode: fields may take server paths (default: shared mode, FERVIZ_SHARED=1)")
    p.add_argument("--data-roots", help="FERVIZ_DATA_ROOTS for the replicas: folders of datasets to offer")
    p.add_argument("--run-dir",
                   help="keep the nginx configuration and the logs here (default: a temporary folder)")
    p.add_argument("--ssl-cert",
                   help="serve HTTPS with this certificate (PEM); cameras need HTTPS on a network")
    p.add_argument("--ssl-key", help="the certificate's private key (PEM)")
    p.add_argument("--print-config", action="store_true",
                   help="print the nginx configuration (replicas on ports 8501, 8502, …) and exit")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("audit", add_help=False,
                       help="training-set copies in a split and paired tests of models (--help for options)")
    p.add_argument("rest", nargs=argparse.REMAINDER)  # handled before parsing, by ferviz.results.audits
    p = sub.add_parser("variants", help="list the registered model variants")
    p.set_defaults(func=cmd_variants)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["audit"]:  # its own parser (ferviz.results.audits), options and --help included
        from ferviz.results.audits import main as audit_main

        return audit_main(argv[1:])
    args = build_parser().parse_args(argv)
    args.argv = ["ferviz", *argv]  # recorded next to every training run's outputs
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    distributed = False
    if args.command in ("train", "evaluate", "predict"):  # data-parallel under torchrun, else one process
        from ferviz.train.engine import init_distributed

        distributed = init_distributed()
    try:
        code = args.func(args)
        if distributed:  # every rank waits for the others before its gloo threads go (no abort at exit)
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()
        return code
    except (FervizError, KeyError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        resume = "; `--resume` continues from the last completed epoch" if args.command == "train" else ""
        print(f"interrupted{resume}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

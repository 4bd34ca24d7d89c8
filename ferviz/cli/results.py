"""``ferviz evaluate | ship``: measuring a checkpoint, and shipping one with its model card."""

from __future__ import annotations

import sys
from pathlib import Path

from ferviz.cli.common import add_align, add_data, add_tta, load_data
from ferviz.errors import FervizError


def cmd_evaluate(args) -> int:
    from dataclasses import replace

    from ferviz import evaluate, load_model
    from ferviz.results.evaluation import DATASET_FACE_OPTIONS

    loaded = load_model(args.model)
    if args.detect:
        return _evaluate_photos(args, loaded)
    kind, ds = load_data(args)
    face_options = replace(DATASET_FACE_OPTIONS, detector=args.detector, min_confidence=args.min_confidence,
                           align=args.align)
    result = evaluate(loaded, ds, split=args.split, batch_size=args.batch_size, tta=args.tta,
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


def cmd_ship(args) -> int:
    from ferviz import evaluate
    from ferviz.model.network import DEFAULT_VARIANT
    from ferviz.paths import MODELS_DIR
    from ferviz.results.domains import domain_records
    from ferviz.results.records import discover
    from ferviz.results.shipping import run_summary, ship
    from ferviz.results.studies import lever_records, lever_table

    if args.replace:
        return _reship(args)
    if not args.run or not args.name:
        raise FervizError("name the training run to ship and its model (--run RUN_DIR --name NAME), or "
                          "--replace NAME --checkpoint FILE to re-ship a shipped model adjusted with ferviz adjust")
    run = run_summary(Path(args.run))
    split = args.split or run["meta"].get("select_split", "")
    kind, ds = load_data(args)
    models_dir = Path(args.models_dir or MODELS_DIR)
    levers = []
    if run["variant"] == DEFAULT_VARIANT:  # the levers are one change each to this model's recipe
        levers = lever_records(lever_table(discover(models_dir)))
    card = ship(Path(args.run), args.name, lambda lm: evaluate(lm, ds, split=split or None), models_dir,
                notes=args.notes or "", checkpoint=args.checkpoint, levers=levers,
                domains=domain_records(models_dir))
    print(f"shipped {card.file}: accuracy {card.report['accuracy']:.4f}, "
          f"macro-F1 {card.report['macro']['f1']:.4f} on {split or 'all'}")
    _say_stale(models_dir, args.name)
    return 0


def _say_stale(models_dir: Path, name: str) -> None:
    """After a ship: name the committed reports that scored an earlier file of the model, and how to remake them."""
    from ferviz.results.shipping import stale_reports

    stale = stale_reports(models_dir, name)
    if stale:
        print(f"{len(stale)} committed report(s) scored an earlier {name}.pt; the app no longer shows them for it. "
              "Make them again:")
        for path, _, command in stale:
            print(f"  {path}: " + (command or "(no command recorded; see the report)"))


def _reship(args) -> int:
    """``ferviz ship --replace NAME --checkpoint FILE``: a shipped model's adjusted checkpoint under its name."""
    from ferviz import evaluate
    from ferviz.paths import MODELS_DIR, portable
    from ferviz.results.domains import domain_records
    from ferviz.results.modelcard import read_card
    from ferviz.results.records import discover
    from ferviz.results.shipping import reship
    from ferviz.results.studies import lever_records, lever_table

    models_dir = Path(args.models_dir or MODELS_DIR)
    old = read_card(models_dir / f"{args.replace}.json") if (models_dir / f"{args.replace}.json").is_file() else None
    split = args.split or (old.selected_on if old else "")
    kind, ds = load_data(args)
    card = reship(Path(args.checkpoint), args.replace, lambda lm: evaluate(lm, ds, split=split or None), models_dir,
                  command=portable(" ".join(args.argv)), levers=lever_records(lever_table(discover(models_dir))),
                  domains=domain_records(models_dir))
    print(f"re-shipped {card.file}: accuracy {card.report['accuracy']:.4f}, "
          f"macro-F1 {card.report['macro']['f1']:.4f} on {split or 'all'}")
    _say_stale(models_dir, args.replace)
    return 0


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="full metric report of a checkpoint on a dataset")
    p.add_argument("--model", help="checkpoint (.pt) or a registered model name (faceapi); default: the shipped "
                                   "model")
    add_data(p)
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
    add_tta(p, "recorded in the report's meta, reported separately")
    p.add_argument("--detect", action="store_true",
                   help="--data is a folder of whole photos in class folders: detect, align and classify the "
                        "largest face of each; a photo without a face counts as wrong and is listed")
    from ferviz.pipeline.faces import DETECTORS, MIN_CONFIDENCE

    p.add_argument("--detector", choices=list(DETECTORS),
                   help="face detector for photos (default yunet; haar where the yuface package is missing)")
    p.add_argument("--min-confidence", type=float, default=MIN_CONFIDENCE,
                   help=f"YuNet detections scoring below this are not faces (default {MIN_CONFIDENCE})")
    add_align(p)
    p.set_defaults(func=cmd_evaluate)


def add_ship(sub) -> None:
    p = sub.add_parser("ship", help="copy a run's best.pt into models/ with a measured model card")
    p.add_argument("--run", help="training output folder (has best.pt, run.json, log.csv)")
    p.add_argument("--replace", metavar="NAME",
                   help="instead of a run: re-ship the shipped model NAME from --checkpoint, a checkpoint made from "
                        "it by `ferviz adjust` (the card keeps its training record; the numbers are measured anew)")
    p.add_argument("--name", help="model name, e.g. fer2013_dcnn_bilstm_dam (with --run)")
    add_data(p)
    p.add_argument("--split", help="split to report on (default: the one the run selected on)")
    p.add_argument("--models-dir", help="default: the repository's models/")
    p.add_argument("--notes", help="free text added to the card")
    p.add_argument("--checkpoint", default="best.pt",
                   help="the run's file to ship (default best.pt; e.g. swa.pt from `ferviz average`); with "
                        "--replace, the adjusted checkpoint's path")
    p.set_defaults(func=cmd_ship)


def cmd_domains(args) -> int:
    from ferviz import load_model
    from ferviz.results.domains import domain_table, ferplus_class_counts, table_frame, write_domains
    from ferviz.train.photos import prepare_photo_faces

    models = {}
    for spec in args.models:  # PATH, a registry name, or NAME=PATH (a run's checkpoint under its future name)
        name, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        models[name or (Path(path).stem if path != "faceapi" else "faceapi")] = load_model(path)
    photos = None
    if args.photos:
        faces = prepare_photo_faces(args.photos, cache=args.photo_cache, holdout=args.photo_holdout)
        rows = faces.holdout_rows()
        print(f"photos: {faces.describe()}; scoring the {len(rows)} held out")
        photos = (faces.student[rows], faces.teacher[rows])
    scores = domain_table(models, fer2013=args.fer2013, ckplus=args.ckplus, jaffe=args.jaffe, photos=photos,
                          progress=lambda what: print(f"... {what}", flush=True))
    print(table_frame(scores, "accuracy").round(2).to_string())
    print(table_frame(scores, "macro_f1").round(2).to_string())
    if args.out:
        from ferviz.paths import portable

        command = portable(" ".join(args.argv))  # no machine's absolute paths in what is committed
        counts = ferplus_class_counts(args.fer2013) if args.fer2013 else None
        print(f"wrote {write_domains(scores, args.out, command, ferplus_counts=counts)}")
    return 0


def add_domains(sub) -> None:
    p = sub.add_parser("domains", help="every model by domain: FER2013 (its labels, FER+'s majority), CK+, JAFFE, "
                                       "held-out web photos")
    p.add_argument("--models", nargs="+", required=True,
                   help="checkpoints, registry names (faceapi) or NAME=PATH (a run's checkpoint named as it will "
                        "ship)")
    p.add_argument("--fer2013", help="fer2013_trainval.npz (PublicTest; ferplus_votes.npz beside it)")
    p.add_argument("--ckplus", help="ckplus.npz")
    p.add_argument("--jaffe", help="jaffe.npz")
    p.add_argument("--photos", help="a folder of face photos (e.g. UTKFace's); its held-out share is scored")
    p.add_argument("--photo-holdout", type=float, default=0.2)
    p.add_argument("--photo-cache", help="the .npz of prepared photo faces to reuse (ferviz train --photos makes one)")
    p.add_argument("--out", help="write the table as JSON here (e.g. models/reports/domains/domains.json)")
    p.set_defaults(func=cmd_domains)

"""``ferviz train | cv | average | adjust | hog-svm | ngo | variants``: building models."""

from __future__ import annotations

from pathlib import Path

from ferviz.cli.common import SPLITS, add_data, add_training, load_data, split_names, train_config
from ferviz.errors import FervizError


def _relabel(args, train, val, meta: dict):
    """``--labels``: FER+ majority or vote targets for FER2013 faces; selection on the FER+ majority too."""
    import numpy as np

    from ferviz.data.ferplus import relabel

    if args.labels == "fer2013":
        return train, val, None
    tr = relabel(args.labels, train.labels, train.source, args.data)
    va = relabel("ferplus-majority", val.labels, val.source, args.data)
    print(tr.describe())
    print(f"selection split: {int(va.keep.sum())} faces with a FER+ majority, scored against it")
    soft = tr.soft[tr.keep] if tr.soft is not None else None
    if args.fer2013_weight:  # FER2013's own label kept beside the crowd's votes
        if soft is None or not 0 < args.fer2013_weight < 1:
            raise FervizError("--fer2013-weight W (0 < W < 1) mixes FER2013's labels into --labels ferplus-soft")
        own = np.eye(7, dtype=np.float32)[train.labels[tr.keep]]
        soft = ((1 - args.fer2013_weight) * soft + args.fer2013_weight * own).astype(np.float32)
        meta["fer2013_weight"] = args.fer2013_weight
    train = train.subset(tr.keep)
    train.labels[:] = tr.labels[tr.keep]
    val = val.subset(va.keep)
    val.labels[:] = va.labels[va.keep]
    meta.update({"labels": args.labels, "labels_dropped": tr.dropped, "select_labels": "ferplus-majority"})
    return train, val, soft


def _add_photos(args, images, labels, targets, meta: dict):
    """``--photos``: unlabelled face photos, aligned, with the photo teacher's probabilities as targets."""
    import numpy as np

    from ferviz.train.photos import prepare_photo_faces

    if not args.photos:
        return images, labels, targets
    cache = Path(args.photo_cache) if args.photo_cache else Path(args.out) / "photo_faces.npz"
    faces = prepare_photo_faces(args.photos, cache=cache, holdout=args.photo_holdout,
                                align=args.photo_crop == "aligned", gray=args.photo_gray)
    print(faces.describe())
    rows = faces.training_rows()
    if targets is None:  # FER2013's hard labels as one-hot distributions beside the teacher's
        targets = np.eye(7, dtype=np.float32)[labels]
    meta.update({"photos": Path(args.photos).name, "photo_teacher": "faceapi", "photo_faces": len(rows),
                 "photo_crop": args.photo_crop, "photo_gray": args.photo_gray,
                 "photo_holdout": args.photo_holdout, "photos_without_face": int((~faces.found).sum())})
    return (np.concatenate([images, faces.student[rows]]),
            np.concatenate([labels, faces.teacher[rows].argmax(1)]),
            np.concatenate([targets, faces.teacher[rows]]).astype(np.float32))


def _blend_fer_teacher(args, images, labels, targets, meta: dict):
    """``--fer-teacher W``: FER2013 faces' targets become (1 - W) x their labels + W x face-api.js's probabilities."""
    import numpy as np

    if not args.fer_teacher:
        return targets
    if not 0 < args.fer_teacher <= 1:
        raise FervizError(f"--fer-teacher must be in (0, 1], got {args.fer_teacher}")
    from ferviz.model.faceapi import faceapi_probs

    cache = Path(args.out) / "fer_teacher.npz"
    probs = None
    if cache.is_file():
        with np.load(cache) as data:
            if data["probs"].shape[0] == len(images) and int(data["pixels_sum"]) == int(images.sum()):
                probs = data["probs"]
    if probs is None:
        print(f"face-api.js on {len(images)} FER2013 faces (once; cached in {cache})")
        probs = faceapi_probs(images)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, probs=probs, pixels_sum=int(images.sum()))
    own = np.eye(7, dtype=np.float32)[labels] if targets is None else targets
    meta.update({"fer_teacher": "faceapi", "fer_teacher_weight": args.fer_teacher})
    return ((1 - args.fer_teacher) * own + args.fer_teacher * probs).astype(np.float32)


def _train_and_select(args):
    """The training and selection splits of ``--data``: ``(kind, train, val, train_name, val_name)``."""
    kind, ds = load_data(args)
    train_name, val_name = split_names(kind, args)
    return kind, ds.split(train_name), ds.split(val_name), train_name, val_name


def cmd_train(args) -> int:
    from ferviz.train.runner import run_training

    kind, train, val, train_name, val_name = _train_and_select(args)
    meta = {"dataset": kind, "data": Path(args.data).name, "train_split": train_name,
            "select_split": val_name, "recipe": args.recipe}
    if args.subset:
        train = train.stratified_sample(args.subset, seed=0)  # the same faces whatever --seed is
        meta["train_subset"] = len(train)
    overrides = {k: v for k, v in (("input_mode", args.input), ("fc_hidden", args.fc_hidden),
                                   ("dropout", args.dropout)) if v is not None}
    train, val, train_targets = _relabel(args, train, val, meta)
    train_targets = _blend_fer_teacher(args, train.images, train.labels, train_targets, meta)
    images, labels, train_targets = _add_photos(args, train.images, train.labels, train_targets, meta)
    result = run_training(images, labels, val.images, val.labels, variant=args.model,
                          train_cfg=train_config(args), out_dir=args.out, model_overrides=overrides,
                          resume=args.resume, progress=not args.quiet, argv=args.argv, meta=meta,
                          train_targets=train_targets)
    print(f"best {args.select} {result.best_score:.4f} at epoch {result.best_epoch}; "
          f"checkpoint {Path(args.out) / 'best.pt'}")
    return 0


def cmd_cv(args) -> int:
    from ferviz.train.crossval import cross_validate

    kind, ds = load_data(args)
    summary = cross_validate(ds, variant=args.model, train_cfg=train_config(args), out_dir=Path(args.out),
                             folds=args.folds, seed=args.seed or 0, progress=not args.quiet)
    print(summary.format_table())
    return 0


def cmd_average(args) -> int:
    from tqdm import tqdm

    from ferviz import load_model
    from ferviz.data.preprocess import prepare_images
    from ferviz.train.swa import average_checkpoints, kept_epochs, save_averaged

    paths = list(args.checkpoint or [])
    if args.run:
        paths += kept_epochs(args.run, args.from_epoch, args.to_epoch)
    if not paths:
        raise FervizError("nothing to average: give --run DIR (its kept epochs) or --checkpoint files")
    planes = None
    first = load_model(paths[0], verify=False)
    if not args.no_bn_update:
        if not args.data:
            raise FervizError("--data is needed to recompute the BatchNorm statistics on the training faces "
                              "(or pass --no-bn-update to average them instead)")
        kind, ds = load_data(args)
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

    kind, train, val, train_name, val_name = _train_and_select(args)
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

    kind, train, val, _, _ = _train_and_select(args)
    summary = ngo_search(train.images, train.labels, val.images, val.labels, out_dir=Path(args.out),
                         population=args.population, iterations=args.iterations,
                         search_epochs=args.search_epochs, subset=args.subset, base=train_config(args),
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


def add_train(sub) -> None:
    p = sub.add_parser("train", help="train a model (resumable; torchrun for data-parallel)")
    add_data(p)
    add_training(p)
    p.add_argument("--train-split", help="usage value to train on (default Training / train)")
    p.add_argument("--val-split", help="usage value to select on (default PublicTest / test)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--init",
                   help="start from this checkpoint's weights (fine-tuning; same variant and classes)")
    p.add_argument("--subset", type=int,
                   help="train on a fixed class-stratified sample of N training faces (the same N faces for "
                        "every --seed): for seed-spread and ablation runs at a budget the CPU allows")
    p.set_defaults(func=cmd_train)


def cmd_adjust(args) -> int:
    from ferviz import load_model
    from ferviz.train.adjust import save_adjusted, set_views

    loaded = load_model(args.checkpoint, verify=False)
    if args.tau is None and args.tta is None:
        raise FervizError("say what to adjust: --tau T (the decision rule), --tta flip (the test-time views) or both")
    what = ""
    if args.tau is not None:
        what = _adjust_tau(args, loaded)
    if args.tta is not None:
        set_views(loaded, args.tta)
        print(f"test-time views: {args.tta}")
    out = save_adjusted(loaded, args.out, prior_source=what, command=" ".join(args.argv))
    print(f"-> {out}")
    return 0


def _adjust_tau(args, loaded) -> str:
    """Fold ``args.tau`` x log(prior of the training labels) into ``loaded``'s bias; returns the prior's source."""
    from ferviz.data.ferplus import relabel
    from ferviz.train.adjust import adjust_logits, label_prior

    if not args.data:
        raise FervizError("--tau needs the training faces the class prior is counted on: give --data")
    source = args.labels or loaded.meta.get("labels") or "fer2013"
    kind, ds = load_data(args)
    split = args.train_split or loaded.meta.get("train_split") or SPLITS.get(kind, ("Training",))[0]
    train = ds.split(split)
    if not len(train):
        raise FervizError(f"{args.data} has no {split!r} faces to take the class prior from "
                          "(name the training split with --train-split)")
    targets = relabel(source, train.labels, train.source, args.data)
    prior = label_prior(targets, loaded.labels)
    adjust_logits(loaded, args.tau, prior)
    what = f"--labels {source} on {int(targets.keep.sum())} {split} faces"
    shares = ", ".join(f"{n} {p * 100:.1f} %" for n, p in zip(loaded.labels, prior, strict=True))
    print(f"adjusted by tau = {args.tau:g} with the prior of {what} ({shares})")
    return what


def add_cv(sub) -> None:
    p = sub.add_parser("cv", help="subject-grouped k-fold cross-validation (CK+, JAFFE)")
    add_data(p)
    add_training(p)
    p.add_argument("--folds", type=int, default=10)
    p.set_defaults(func=cmd_cv)


def add_average(sub) -> None:
    p = sub.add_parser("average", help="weight averaging (SWA): the mean of a run's kept epochs, BatchNorm "
                                       "recomputed")
    p.add_argument("--run", help="training folder trained with --keep-epochs-from (its epochs/ files)")
    p.add_argument("--from-epoch", type=int, default=1, help="first kept epoch to average (default 1)")
    p.add_argument("--to-epoch", type=int, help="last kept epoch to average (default: the last kept)")
    p.add_argument("--checkpoint", action="append", help="a checkpoint to average (repeatable; with or "
                                                         "instead of --run)")
    add_data(p, required=False)
    p.add_argument("--train-split", help="usage value of the training faces (default: the run's)")
    p.add_argument("--bn-faces", type=int, metavar="N",
                   help="recompute BatchNorm on a fixed class-stratified sample of N training faces "
                        "(default: all of them)")
    p.add_argument("--no-bn-update", action="store_true",
                   help="average the BatchNorm statistics instead of recomputing them (no --data needed)")
    p.add_argument("--out", required=True, help="the averaged checkpoint to write (.pt)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_average)


def add_adjust(sub) -> None:
    p = sub.add_parser("adjust", help="after training: logit adjustment (subtract tau x log(class prior) from a "
                                      "model's logits, folded into its bias, for sets where every class is as "
                                      "common) and/or the model's own test-time views")
    p.add_argument("--checkpoint", required=True,
                   help="the checkpoint to adjust (.pt; for --tau, one not adjusted by a tau before)")
    p.add_argument("--tau", type=float,
                   help="strength: 0 = the model as trained, 1 = every class equally likely a priori")
    p.add_argument("--tta", choices=("none", "flip"),
                   help="the test-time views every prediction of the adjusted model averages over: flip = each "
                        "face and its mirror image (on every path of the app; the maps explain the face as shown)")
    p.add_argument("--labels", choices=("fer2013", "ferplus-majority", "ferplus-soft"),
                   help="whose class shares are the prior (default: the labels the checkpoint was trained on)")
    add_data(p, required=False)  # --tau only: the class prior is counted on the training faces
    p.add_argument("--train-split", help="usage value of the training faces (default: the checkpoint's)")
    p.add_argument("--out", required=True, help="the adjusted checkpoint to write (.pt)")
    p.set_defaults(func=cmd_adjust)


def add_hog_svm(sub) -> None:
    p = sub.add_parser("hog-svm", help="the HOG + linear SVM baseline: fit, select C, write its report")
    add_data(p)
    p.add_argument("--train-split")
    p.add_argument("--val-split")
    p.add_argument("--out", default="models/reports/fer2013_hog_svm.json")
    p.set_defaults(func=cmd_hog_svm)


def add_ngo(sub) -> None:
    p = sub.add_parser("ngo", help="NGO search of cnn_bilstm's lr / FC width / dropout (ngo_bilstm)")
    add_data(p)
    add_training(p)
    p.add_argument("--train-split")
    p.add_argument("--val-split")
    p.add_argument("--population", type=int, default=4)
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--search-epochs", type=int, default=2)
    p.add_argument("--subset", type=int, default=6000, help="training images per candidate run")
    p.set_defaults(func=cmd_ngo)


def add_variants(sub) -> None:
    p = sub.add_parser("variants", help="list the registered model variants")
    p.set_defaults(func=cmd_variants)

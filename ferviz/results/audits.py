"""Committed reports a reviewer can check: train/test leakage and paired model comparisons.

Two JSON report kinds live in ``models/reports/`` beside the metric reports (read back by
:func:`ferviz.results.records.discover`):

* ``{"kind": "leakage", ...}`` (:func:`leakage_report`): how many items of a split have an exact or near
  copy in the training split (:mod:`ferviz.results.leakage`), which ones (their source names, never pixels), the
  similarity histogram that justifies the near-duplicate threshold, and for each model its accuracy on
  all, duplicated and clean items with bootstrap intervals;
* ``{"kind": "paired", ...}`` (:func:`paired_report`): two models on the same items, McNemar's test and
  the paired bootstrap interval of their difference (:mod:`ferviz.results.significance`), on all items and on
  the clean ones.

``ferviz audit --data PATH --split PublicTest --models A.pt B.pt ... --out models/reports``
evaluates each model once and writes the leakage report of all of them and the paired reports of the
first model against each other one.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ferviz.data.datasets import FaceDataset
from ferviz.errors import FervizError
from ferviz.paths import portable
from ferviz.results.evaluation import Evaluation
from ferviz.results.labelnoise import DEFAULT_FILTER, FILTERS
from ferviz.results.leakage import CANDIDATES, MIN_STD, SHIFT, Duplicates, deduplicated, find_duplicates
from ferviz.results.significance import PairedComparison, bootstrap_ci, compare_predictions

log = logging.getLogger(__name__)

LEAKAGE_KIND, PAIRED_KIND = "leakage", "paired"


@dataclass(frozen=True)
class Scored:
    """One model's predictions on the evaluated items, with what identifies the model."""

    model: str  # file name
    variant: str
    sha256: str
    y_true: np.ndarray
    y_pred: np.ndarray
    class_names: tuple[str, ...]

    @classmethod
    def from_evaluation(cls, evaluation: Evaluation) -> Scored:
        meta = evaluation.report.meta
        return cls(str(meta.get("model", "")), str(meta.get("variant", "")), str(meta.get("sha256", "")),
                   np.asarray(evaluation.y_true), np.asarray(evaluation.y_pred),
                   tuple(evaluation.report.class_names))


def duplicates_of(ds: FaceDataset, split: str, reference_split: str = "Training", *,
                  near: bool = True) -> tuple[FaceDataset, Duplicates]:
    """The items of ``split`` in ``ds`` and which of them have a copy in ``reference_split``.

    Raises
    ------
    ferviz.errors.DatasetError
        When either split is absent (the message lists the usages present).
    """
    part, reference = ds.split(split), ds.split(reference_split)
    return part, find_duplicates(part.images, reference.images, query_labels=part.labels,
                                 reference_labels=reference.labels, near=near)


def _model_entry(scored: Scored, dups: Duplicates, n_boot: int) -> dict[str, Any]:
    k = len(scored.class_names)
    t, p = scored.y_true, scored.y_pred
    return {"model": scored.model, "variant": scored.variant, "sha256": scored.sha256,
            **deduplicated(t, p, dups, k, n_boot=n_boot).to_dict(),
            "macro_f1": bootstrap_ci(t, p, "macro_f1", n_classes=k, n_boot=n_boot).to_dict()}


def leakage_report(part: FaceDataset, reference: FaceDataset, dups: Duplicates, scored: Sequence[Scored], *,
                   split: str, reference_split: str, data_file: str = "", command: str = "",
                   n_boot: int = 2000) -> dict[str, Any]:
    """The JSON-able leakage report of one split (see the module notes).

    Parameters
    ----------
    part, reference : FaceDataset
        The evaluated split and the training split, as searched by :func:`duplicates_of`.
    dups : Duplicates
        Their duplicates.
    scored : sequence of Scored
        Models evaluated on every item of ``part``, in order (none is fine: the data facts alone).
    split, reference_split, data_file, command : str
        Recorded as they are.
    n_boot : int
        Bootstrap resamples per interval.
    """
    for s in scored:
        if len(s.y_true) != len(part):
            raise FervizError(f"{s.model} was scored on {len(s.y_true)} items, the split has {len(part)}: "
                              "evaluate every item (a model that leaves classes out cannot be used here)")
    exact_pairs = [[str(part.source[i]), str(reference.source[dups.exact_match[i]])]
                   for i in np.flatnonzero(dups.exact)]
    near_pairs = [[str(part.source[i]), str(reference.source[dups.near_match[i]]),
                   round(float(dups.similarity[i]), 4)] for i in np.flatnonzero(dups.near)]
    return {
        "kind": LEAKAGE_KIND, "dataset": part.name, "data_file": data_file, "split": split,
        "reference_split": reference_split, "n_reference": len(reference),
        "method": {"exact": "pixel-identical (BLAKE2b-128 of shape and pixels)",
                   "near": "best Pearson correlation of the central 40x40 of the 48x48 image with a training "
                           f"image shifted by up to {SHIFT} px, among the {CANDIDATES} best 16x16-thumbnail "
                           f"matches; images with pixel std < {MIN_STD} are not near-matched",
                   "near_threshold": dups.threshold, "candidates": CANDIDATES, "shift": SHIFT,
                   "min_std": MIN_STD},
        "counts": dups.counts(),
        "similarity_histogram": dups.histogram() if dups.searched_near else None,
        "items": {"exact": exact_pairs, "near": near_pairs},
        "models": [_model_entry(s, dups, n_boot) for s in scored],
        "command": command,
    }


def paired_report(a: Scored, b: Scored, *, dataset: str, split: str, clean: np.ndarray | None = None,
                  clean_definition: str = "", command: str = "", n_boot: int = 2000) -> dict[str, Any]:
    """The JSON-able paired comparison of two models on the same items (and on the clean ones).

    Parameters
    ----------
    a, b : Scored
        The two models, scored on the same items in the same order with the same classes.
    dataset, split, command : str
        Recorded as they are.
    clean : (N,) bool array, optional
        Items without a training copy; adds the comparison restricted to them under ``"clean"``.
    clean_definition : str
        What ``clean`` means, recorded with it.
    n_boot : int
        Bootstrap resamples per interval.
    """
    if a.class_names != b.class_names or not np.array_equal(a.y_true, b.y_true):
        raise FervizError(f"{a.model} and {b.model} were not scored on the same items with the same classes")
    names = (a.model, b.model)
    k = len(a.class_names)
    out: dict[str, Any] = {
        "kind": PAIRED_KIND, "dataset": dataset, "split": split,
        "model_a": a.model, "variant_a": a.variant, "sha256_a": a.sha256,
        "model_b": b.model, "variant_b": b.variant, "sha256_b": b.sha256,
        "all": compare_predictions(a.y_true, a.y_pred, b.y_pred, names=names, n_classes=k,
                                   n_boot=n_boot).to_dict(),
        "command": command}
    if clean is not None:
        mask = np.asarray(clean, dtype=bool)
        out["clean"] = compare_predictions(a.y_true[mask], a.y_pred[mask], b.y_pred[mask], names=names,
                                           n_classes=k, n_boot=n_boot).to_dict()
        out["clean_definition"] = clean_definition
    return out


def _stem(model: str, dataset: str) -> str:
    stem = Path(model).stem
    return stem[len(dataset) + 1:] if stem.startswith(f"{dataset}_") else stem


def leakage_name(dataset: str, split: str) -> str:
    """File name of a leakage report: ``fer2013_publictest_leakage.json``."""
    return f"{dataset}_{split.lower()}_{LEAKAGE_KIND}.json"


def paired_name(dataset: str, split: str, model_a: str, model_b: str) -> str:
    """File name of a paired report: ``fer2013_publictest_paired_dcnn_bilstm_dam_vs_cnn_bilstm.json``."""
    pair = f"{_stem(model_a, dataset)}_vs_{_stem(model_b, dataset)}"
    return f"{dataset}_{split.lower()}_{PAIRED_KIND}_{pair}.json"


def _write(data: dict, path: Path) -> None:
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def build_parser() -> argparse.ArgumentParser:
    """The options of ``ferviz audit`` (also ``python -m ferviz.results.audits``)."""
    parser = argparse.ArgumentParser(prog="ferviz audit", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="dataset file or folder (your own copy)")
    parser.add_argument("--dataset", default="auto", help="reader (fer2013, npz, ...); default auto")
    parser.add_argument("--split", default="PublicTest", help="the evaluated split")
    parser.add_argument("--reference", default="Training", help="the training split searched for copies")
    parser.add_argument("--models", nargs="+", default=[], help="checkpoints; the first is compared with each "
                        "other one (with --label-noise: their mean probabilities; none: out-of-fold HOG models)")
    parser.add_argument("--out", default="models/reports", help="folder the JSON reports are written to")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples per interval")
    noise = parser.add_argument_group("label noise (--label-noise)")
    noise.add_argument("--label-noise", action="store_true",
                       help="write DIR/<dataset>_<split>_label_noise.json: the labels that are probably wrong "
                            "(confident learning) instead of the leakage and paired reports")
    noise.add_argument("--also-score", nargs="+", default=[], metavar="CKPT",
                       help="checkpoints scored by human agreement in the report without adding to the "
                            "probabilities the finder uses (e.g. a model trained on FER+'s votes)")
    noise.add_argument("--filter-by", default=DEFAULT_FILTER, choices=list(FILTERS),
                       help=f"confident-learning rule (default {DEFAULT_FILTER})")
    noise.add_argument("--votes", help="FER+ votes (default: ferplus_votes.npz beside a FER2013 --data)")
    noise.add_argument("--folds", type=int, default=5, help="folds of the out-of-fold probabilities "
                                                             "(no --models)")
    noise.add_argument("--seed", type=int, default=0, help="seed of the folds")
    noise.add_argument("--flip-fractions", type=float, nargs="+", default=[],
                       help="with FER+ votes: also measure the finder on these shares of flipped clean labels")
    noise.add_argument("--flip-rules", nargs="+", default=[], choices=list(FILTERS),
                       help="with FER+ votes: ... and with these rules (one run per fraction, rule and seed)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m ferviz.results.audits``: evaluate models once, write the leakage and paired reports."""
    from ferviz.data.datasets import load_dataset
    from ferviz.model.checkpoint import load_checkpoint
    from ferviz.results.evaluation import evaluate

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    command = portable(shlex.join(["ferviz", "audit", *argv]))
    try:
        if args.label_noise:
            from ferviz.results.noise_report import run
            return run(args, command)
        if not args.models:
            raise FervizError("--models is required (the checkpoints to audit), except with --label-noise")
        ds = load_dataset(args.dataset, args.data)
        part, dups = duplicates_of(ds, args.split, args.reference)
        print(f"{args.split}: {dups.counts()}")
        scored = []
        for path in args.models:
            evaluation = evaluate(load_checkpoint(path), part, split=args.split)
            scored.append(Scored.from_evaluation(evaluation))
            print(f"{Path(path).name}: accuracy {evaluation.report.accuracy:.4f}")
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        _write(leakage_report(part, ds.split(args.reference), dups, scored, split=args.split,
                              reference_split=args.reference, data_file=Path(args.data).name, command=command,
                              n_boot=args.n_boot), out / leakage_name(part.name, args.split))
        definition = (f"items without an exact or near (similarity >= {dups.threshold}) copy in "
                      f"{args.reference}")
        for other in scored[1:]:
            report = paired_report(scored[0], other, dataset=part.name, split=args.split, clean=~dups.leaked,
                                   clean_definition=definition, command=command, n_boot=args.n_boot)
            _write(report, out / paired_name(part.name, args.split, scored[0].model, other.model))
    except (FervizError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


def compare_evaluations(a: Evaluation, b: Evaluation, *, clean: np.ndarray | None = None,
                        n_boot: int = 2000) -> PairedComparison:
    """Two evaluations of the same items compared (:func:`ferviz.results.significance.compare_predictions`).

    Parameters
    ----------
    a, b : Evaluation
        The two models on the same dataset split.
    clean : (N,) bool array, optional
        Restrict the comparison to these items (e.g. those without a training copy).
    n_boot : int
        Bootstrap resamples per interval.

    Raises
    ------
    FervizError
        When the two evaluations do not cover the same items with the same classes (models that predict
        different classes keep different items).
    """
    same = (list(a.report.class_names) == list(b.report.class_names) and len(a.y_true) == len(b.y_true)
            and np.array_equal(a.y_true, b.y_true) and np.array_equal(a.dataset.source, b.dataset.source))
    if not same:
        raise FervizError("the two models were not scored on the same items with the same classes "
                          f"({len(a.y_true)} items, {list(a.report.class_names)} vs {len(b.y_true)} items, "
                          f"{list(b.report.class_names)}): compare models that predict the same classes")
    mask = np.ones(len(a.y_true), dtype=bool) if clean is None else np.asarray(clean, dtype=bool)
    if len(mask) != len(a.y_true) or not mask.any():
        raise FervizError(f"the item mask must be {len(a.y_true)} booleans with at least one True")
    names = (str(a.report.meta.get("model", "A")), str(b.report.meta.get("model", "B")))
    return compare_predictions(a.y_true[mask], a.y_pred[mask], b.y_pred[mask], names=names,
                               n_classes=len(a.report.class_names), n_boot=n_boot)

"""``ferviz audit --label-noise``: the JSON report of the labels that are probably wrong.

``{"kind": "label_noise", ...}`` (:func:`label_noise_report`) holds the flagged items (source name, given
label, suggested label, score and, for FER2013, FER+'s votes), the method and its settings, where the
probabilities came from, and, when FER+ votes are available, the checks against human re-labelling
(:func:`validation`) and each model's scores by human agreement
(:func:`ferviz.results.agreement.agreement_metrics`). The reports live in ``models/reports/label_noise/``
(a folder of their own: :func:`ferviz.results.reports.discover` reads metric reports one level up).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ferviz.data.ferplus import FerPlusVotes, votes_beside
from ferviz.data.labels import ALL_LABELS
from ferviz.errors import FervizError
from ferviz.paths import file_name
from ferviz.results.agreement import agreement_metrics, disputed_errors, model_order, votes_for_sources
from ferviz.results.labelnoise import (
    DEFAULT_FILTER,
    OOF_MODEL,
    LabelIssues,
    ensemble_probs,
    find_label_issues,
    flip_check,
    out_of_fold_probs,
)

log = logging.getLogger(__name__)

LABEL_NOISE_KIND = "label_noise"
#: Sub-folder of models/reports holding the label-noise reports.
LABEL_NOISE_DIR = "label_noise"
#: Annotators of 10 who must agree for a face to count as clean in the flip check.
CLEAN_AGREEMENT = 8


@dataclass(frozen=True)
class ModelScores:
    """One model's probabilities on the audited items."""

    model: str
    variant: str
    sha256: str
    probs: np.ndarray  # (N, K)


def label_noise_name(dataset: str, split: str) -> str:
    """File name of a label-noise report: ``fer2013_publictest_label_noise.json``."""
    return f"{dataset}_{(split or 'all').lower()}_{LABEL_NOISE_KIND}.json"


def find_votes(data_path: str | Path, votes: str | Path | None = None) -> Path | None:
    """The FER+ votes to use: ``votes`` if given, else ``ferplus_votes.npz`` beside the data, else None."""
    if votes:
        path = Path(votes)
        if not path.is_file():
            raise FervizError(f"{path}: no such FER+ votes file")
        return path
    beside = votes_beside(data_path)
    return beside if beside.is_file() else None


def validation(issues: LabelIssues, labels: np.ndarray, probs: np.ndarray, votes: FerPlusVotes,
               class_names: Sequence[str], *, fraction: float = 0.05, seeds: Sequence[int] = (0, 1, 2, 3, 4),
               filter_by: str = DEFAULT_FILTER, study_fractions: Sequence[float] = (),
               study_rules: Sequence[str] = ()) -> dict[str, Any]:
    """The finder checked against FER+'s re-labelling and on labels flipped on purpose.

    Returns
    -------
    dict
        ``precision_vs_ferplus``: of the flagged faces with a FER+ majority, the share whose majority differs
        from the given label (and the same share over all faces with a majority, the base rate);
        ``suggested_is_majority``: the share whose suggested label is the majority; ``flip``: recall and
        precision on ``fraction`` of the clean faces (FER+ majority = given label, >= 8 of 10 agree) flipped
        to a random other class, one run per seed (:func:`ferviz.results.labelnoise.flip_check`);
        ``flip_study``: the same for every fraction of ``study_fractions`` and rule of ``study_rules``
        (with ``filter_by`` and ``fraction`` when either is empty).
    """
    majority, _ = model_order(votes, class_names)
    has = majority >= 0
    flagged = issues.index[has[issues.index]]
    differs = majority[flagged] != labels[flagged]
    clean = has & (majority == labels) & (votes.agreement >= CLEAN_AGREEMENT)
    out: dict[str, Any] = {
        "precision_vs_ferplus": {
            "flagged_with_majority": int(len(flagged)), "majority_differs": int(differs.sum()),
            "precision": float(differs.mean()) if len(flagged) else None,
            "base_rate": float((majority[has] != labels[has]).mean()) if has.any() else None,
            "definition": "share of flagged faces whose FER+ majority label differs from the given label; "
                          "base_rate: the same share over every face with a FER+ majority"},
        "suggested_is_majority": float((majority[flagged] == suggested_for(issues, flagged)).mean())
        if len(flagged) else None,
        "clean_definition": f"FER+ majority equals the given label and at least {CLEAN_AGREEMENT} of 10 "
                            "annotators chose it",
    }
    if clean.sum() >= 10:
        out["flip"] = flip_check(labels, probs, clean, fraction=fraction, seeds=seeds, filter_by=filter_by)
        if study_fractions or study_rules:
            out["flip_study"] = [flip_check(labels, probs, clean, fraction=f, seeds=seeds, filter_by=rule)
                                 for f in (study_fractions or [fraction]) for rule in (study_rules or [filter_by])]
    return out


def suggested_for(issues: LabelIssues, items: np.ndarray) -> np.ndarray:
    """The suggested labels of ``items`` (positions among the scored items, all flagged)."""
    where = {int(i): int(s) for i, s in zip(issues.index, issues.suggested, strict=True)}
    return np.array([where[int(i)] for i in items], np.int64)


def label_noise_report(issues: LabelIssues, labels: np.ndarray, probs: np.ndarray, sources: Sequence[str],
                       class_names: Sequence[str], *, dataset: str, split: str, probabilities: dict[str, Any],
                       models: Sequence[ModelScores] = (), votes: FerPlusVotes | None = None,
                       data_file: str = "", command: str = "", n_boot: int = 2000,
                       flip_seeds: Sequence[int] = (0, 1, 2, 3, 4), study_fractions: Sequence[float] = (),
                       study_rules: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON-able label-noise report (see the module notes).

    Parameters
    ----------
    issues : LabelIssues
        The finder's result on ``labels`` and ``probs``.
    labels : (N,) int
        Given labels, indices into ``class_names``.
    probs : (N, K) float
        The probabilities the finder used.
    sources : sequence of N str
        The items' source names.
    probabilities : dict
        Where ``probs`` came from (recorded as it is).
    models : sequence of ModelScores
        Each model's own probabilities, scored by human agreement when ``votes`` is given: the models behind
        ``probs`` and any scored alongside (``--also-score``), marked by ``in_probabilities``.
    votes : FerPlusVotes, optional
        FER+ votes of the items, row-aligned: adds the validation, the votes of each flagged item and the
        models' agreement metrics.
    """
    names = [str(c) for c in class_names]
    counts = model_order(votes, names)[1] if votes is not None else None
    majority = model_order(votes, names)[0] if votes is not None else None
    items = []
    for i, given, suggested, score in zip(issues.index, issues.given, issues.suggested, issues.score,
                                          strict=True):
        item: dict[str, Any] = {"source": str(sources[i]), "given": names[given], "suggested": names[suggested],
                                "score": round(float(score), 4)}
        if votes is not None:
            item["votes"] = [int(v) for v in counts[i]] + [int(votes.other[i])]
            item["ferplus_majority"] = names[majority[i]] if majority[i] >= 0 else None
            item["agreement"] = int(votes.agreement[i])
        items.append(item)
    out: dict[str, Any] = {
        "kind": LABEL_NOISE_KIND, "dataset": dataset, "split": split, "data_file": data_file,
        "class_names": names, "n": int(issues.n), "n_flagged": len(issues),
        "given_counts": np.bincount(labels, minlength=len(names)).tolist(),
        "method": issues.method, "probabilities": probabilities,
        "models": [{"model": m.model, "variant": m.variant, "sha256": m.sha256,  # the finder's models first
                    "in_probabilities": i < len(probabilities.get("models", ()))} for i, m in enumerate(models)],
        "items": items, "command": command}
    if votes is not None:
        out["votes_columns"] = [*names, "contempt/unknown/not a face"]
        out["validation"] = validation(issues, labels, probs, votes, names, seeds=flip_seeds,
                                       filter_by=issues.method.get("filter_by", DEFAULT_FILTER),
                                       study_fractions=study_fractions, study_rules=study_rules)
        for entry, m in zip(out["models"], models, strict=True):
            entry["agreement"] = agreement_metrics(labels, m.probs.argmax(1), votes, names, n_boot=n_boot)
    return out


def run(args, command: str) -> int:
    """``ferviz audit --label-noise``: probabilities (models or out-of-fold), the finder, the report."""
    from ferviz.data.datasets import load_dataset
    from ferviz.model.checkpoint import load_checkpoint
    from ferviz.results.evaluation import evaluate, model_view

    ds = load_dataset(args.dataset, args.data)
    part = ds if args.split == "all" else ds.split(args.split)
    models: list[ModelScores] = []
    names: list[str] | None = None
    paths = [*args.models, *args.also_score]  # the finder's models first
    for path in paths:
        loaded = load_checkpoint(path)
        ev = evaluate(loaded, part, split=args.split)
        if names is not None and list(ev.report.class_names) != names:
            raise FervizError(f"{Path(path).name} predicts other classes than {paths[0]}: "
                              "score models of the same classes")
        names = list(ev.report.class_names)
        models.append(ModelScores(Path(path).name, loaded.variant, loaded.sha256, ev.probs))
        scored, labels = ev.dataset, ev.y_true
        print(f"{Path(path).name}: accuracy {ev.report.accuracy:.4f}")
    if args.models:
        finders = models[:len(args.models)]
        where = {"source": "models", "models": [m.model for m in finders],
                 "combined": "mean of the models' softmax probabilities" if len(finders) > 1 else "the model's"}
        probs = ensemble_probs([m.probs for m in finders])
    else:
        if names is not None and names != [ALL_LABELS[k] for k in np.unique(part.labels)]:
            raise FervizError("--also-score without --models needs models of the dataset's own classes")
        names = [ALL_LABELS[k] for k in np.unique(part.labels)]
        scored, labels, _ = model_view(part, names)
        probs = out_of_fold_probs(scored.images, labels, len(names), folds=args.folds, seed=args.seed)
        where = {"source": "out-of-fold", "folds": args.folds, "seed": args.seed,
                 "model": OOF_MODEL}
    issues = find_label_issues(labels, probs, filter_by=args.filter_by)
    print(f"{len(issues)} of {issues.n} labels flagged as probably wrong ({args.filter_by})")
    votes_path = find_votes(args.data, args.votes) if ds.name == "fer2013" or args.votes else None
    votes = votes_for_sources(scored.source, votes_path) if votes_path is not None else None
    report = label_noise_report(issues, labels, probs, scored.source, names, dataset=scored.name,
                                split=args.split, probabilities=where, models=models, votes=votes,
                                data_file=Path(args.data).name, command=command, n_boot=args.n_boot,
                                study_fractions=args.flip_fractions, study_rules=args.flip_rules)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / label_noise_name(scored.name, args.split)
    path.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    check = report.get("validation", {})
    if check.get("precision_vs_ferplus", {}).get("precision") is not None:
        p = check["precision_vs_ferplus"]
        print(f"flagged faces whose FER+ majority differs from the label: {p['precision']:.1%} "
              f"(all faces: {p['base_rate']:.1%})")
    if "flip" in check:
        print(f"flipped {check['flip']['fraction']:.0%} of {check['flip']['n_candidates']} clean faces: "
              f"recall {check['flip']['recall_mean']:.1%}, precision {check['flip']['precision_mean']:.1%}")
    for study in check.get("flip_study", []):
        print(f"  {study['fraction']:.0%} flipped, {study['filter_by']}: recall {study['recall_mean']:.1%}, "
              f"precision {study['precision_mean']:.1%}")
    return 0


@dataclass(frozen=True)
class NoiseRecord:
    """A committed label-noise report as read from its JSON file."""

    path: Path
    data: dict

    @property
    def dataset(self) -> str:
        return str(self.data["dataset"])

    @property
    def split(self) -> str:
        return str(self.data["split"])

    def entry(self, sha256: str) -> dict | None:
        """The model with this sha256 (its ``agreement`` scores, when votes were available), or None."""
        return next((m for m in self.data.get("models", []) if sha256 and m.get("sha256") == sha256), None)

    def earlier_entry(self, model: str, sha256: str) -> dict | None:
        """The entry of a model file of this name (``models/x.pt`` or ``x.pt``) scored under another sha256:
        the report scored an earlier version of the file (it was re-shipped since), or None."""
        return next((m for m in self.data.get("models", [])
                     if file_name(m.get("model", "")) == file_name(model) and m.get("sha256") != sha256), None)

    def items_frame(self):
        """The flagged items as a DataFrame: source, given, suggested, score (and votes, FER+ majority)."""
        import pandas as pd

        return pd.DataFrame(self.data.get("items", []))


def read_label_noise(reports_dir: str | Path) -> tuple[list[NoiseRecord], list[str]]:
    """Every ``*label_noise*.json`` in ``reports_dir/label_noise``; unreadable ones named in the warnings."""
    records, warnings = [], []
    for path in sorted((Path(reports_dir) / LABEL_NOISE_DIR).glob(f"*{LABEL_NOISE_KIND}*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("kind") != LABEL_NOISE_KIND or "items" not in data:
                raise ValueError("not a label-noise report (kind label_noise with items)")
            records.append(NoiseRecord(path, data))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            warnings.append(f"{path.name}: skipped — {exc}")
    return records, warnings


def agreement_markdown(record: NoiseRecord) -> str:
    """The README's "accuracy without the noise" table of a label-noise report: one row per scored model
    (its file name; a model scored with ``--also-score``, outside the probabilities, is marked so), accuracy
    with its bootstrap interval on the FER2013 labels, where the label is the FER+ majority and against the
    FER+ majority, accuracy in each agreement band, and the errors where people disagree (7 or fewer of 10
    agree, or no majority)."""
    models = [m for m in record.data.get("models", []) if "agreement" in m]
    if not models:
        return ""
    first = models[0]["agreement"]

    def interval(score: dict) -> str:
        acc = score["accuracy"]
        return f"{100 * acc['estimate']:.2f} % [{100 * acc['low']:.1f}, {100 * acc['high']:.1f}]"

    head = ["model", f"FER2013 labels ({first['all']['n']:,})",
            f"where the FER2013 label is the FER+ majority ({first['agreed']['n']:,})",
            f"against the FER+ majority ({first['ferplus_majority']['n']:,})",
            *(f"{band['band']} ({band['n']:,})" for band in first["bands"]),
            "errors where people disagree"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in models:
        scores = model["agreement"]
        errors = scores["errors"]
        name = f"`{Path(model['model']).stem}`" + ("" if model.get("in_probabilities", True) else " (also scored)")
        cells = [name, interval(scores["all"]), interval(scores["agreed"]), interval(scores["ferplus_majority"]),
                 *(f"{100 * band['accuracy']['estimate']:.1f} %" for band in scores["bands"]),
                 f"{disputed_errors(errors):,} of {errors['total']:,}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)

"""Subject-independent k-fold cross-validation (docs/DESIGN.md §10) for CK+ and JAFFE.

Folds are built with scikit-learn's ``GroupKFold`` on the subject id, so no subject appears in two
folds (CK+'s three frames of a sequence are near-duplicates). For fold k: test on fold k, select the
best epoch on fold k+1 (mod K) — never on the test fold — and train on the rest. Each fold writes
``fold_k/`` (a normal training run) and ``fold_k/report.json``; finished folds are skipped on a re-run,
and an interrupted fold resumes from its ``last.pt``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from ferviz.data.datasets import FaceDataset
from ferviz.model.checkpoint import load_checkpoint
from ferviz.results.evaluation import dataset_faces, evaluate
from ferviz.results.metrics import MetricReport
from ferviz.train.engine import TrainConfig
from ferviz.train.runner import class_names_for, run_training

log = logging.getLogger(__name__)


@dataclass
class CVSummary:
    dataset: str
    variant: str
    folds: list[dict] = field(default_factory=list)  # per fold: accuracy, macro_f1, n_test, subjects

    def stats(self, key: str) -> tuple[float, float]:
        values = np.array([f[key] for f in self.folds], dtype=float)
        return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0

    def to_dict(self) -> dict:
        acc, f1 = self.stats("accuracy"), self.stats("macro_f1")
        return {"kind": "cv", "dataset": self.dataset, "variant": self.variant, "folds": self.folds,
                "accuracy_mean": acc[0], "accuracy_std": acc[1],
                "macro_f1_mean": f1[0], "macro_f1_std": f1[1]}

    def format_table(self) -> str:
        lines = [f"{'fold':>4}  {'n':>5}  {'accuracy':>8}  {'macro-F1':>8}  subjects"]
        for f in self.folds:
            lines.append(f"{f['fold']:>4}  {f['n_test']:>5}  {f['accuracy']:8.4f}  {f['macro_f1']:8.4f}  "
                         f"{','.join(f['subjects'][:6])}{'…' if len(f['subjects']) > 6 else ''}")
        (am, asd), (fm, fsd) = self.stats("accuracy"), self.stats("macro_f1")
        lines.append(f"mean ± std: accuracy {am:.4f} ± {asd:.4f}, macro-F1 {fm:.4f} ± {fsd:.4f}")
        return "\n".join(lines)


def subject_folds(subjects: np.ndarray, folds: int) -> list[np.ndarray]:
    """Test indices of each fold; subjects never straddle folds."""
    n_subjects = len(np.unique(subjects))
    if n_subjects < folds:
        raise ValueError(f"{folds} folds need at least {folds} subjects; the data has {n_subjects}")
    splitter = GroupKFold(n_splits=folds)
    return [test for _, test in splitter.split(np.zeros(len(subjects)), groups=subjects)]


def cross_validate(ds: FaceDataset, *, variant: str, train_cfg: TrainConfig, out_dir: Path, folds: int = 10,
                   seed: int = 0, size: int = 64, progress: bool = True) -> CVSummary:
    """Run (or resume) every fold and write ``summary.json``; returns per-fold and mean ± std scores."""
    if (ds.subject == "").any():
        missing = int((ds.subject == "").sum())
        raise ValueError(f"{ds.name}: cross-validation needs a subject id for every item (e.g. S010, KA), "
                         f"and {missing} of {len(ds)} items have none; subject-grouped CV is for CK+ "
                         "(S###_ file names) and JAFFE (KA.AN1.39.tiff); score other data with "
                         "ferviz evaluate")
    faces = dataset_faces(ds, size)
    names = class_names_for(ds.labels)
    tests = subject_folds(ds.subject, folds)
    summary = CVSummary(ds.name, variant)
    for k, test in enumerate(tests):
        fold_dir = out_dir / f"fold_{k}"
        report_path = fold_dir / "report.json"
        if not report_path.is_file():
            _run_fold(ds, faces, names, tests, k, variant, train_cfg, fold_dir, progress)
        report = MetricReport.from_json(report_path)
        summary.folds.append({"fold": k, "n_test": report.n, "accuracy": report.accuracy,
                              "macro_f1": report.macro["f1"], "subjects": sorted(set(ds.subject[test]))})
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2))
    return summary


def _run_fold(ds, faces, names, tests, k, variant, train_cfg, fold_dir: Path, progress: bool) -> None:
    test, select = tests[k], tests[(k + 1) % len(tests)]
    train = np.setdiff1d(np.arange(len(ds)), np.concatenate([test, select]))
    log.info("fold %d: %d train, %d select, %d test items", k, len(train), len(select), len(test))
    meta = {"dataset": ds.name, "fold": k, "protocol": "subject-grouped k-fold; select on fold k+1"}
    run_training(faces[train], ds.labels[train], faces[select], ds.labels[select], variant=variant,
                 train_cfg=train_cfg, out_dir=fold_dir, class_names=names, resume=True, progress=progress,
                 meta=meta)
    loaded = load_checkpoint(fold_dir / "best.pt", verify=False)
    result = evaluate(loaded, ds.subset(test), split=f"fold {k}", faces=faces[test])
    result.report.to_json(fold_dir / "report.json")

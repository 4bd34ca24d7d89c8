"""Non-deep and searched baselines of docs/DESIGN.md §9: ``hog_svm`` and the NGO search behind ``ngo_bilstm``.

``hog_svm``: the 1764-long HOG descriptor of each 64x64 face (eqs. 1-8) and a linear SVM
(scikit-learn's ``LinearSVC``), its C chosen on the selection split from a small grid.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ferviz.data.hog import hog_descriptor
from ferviz.data.preprocess import resize_faces
from ferviz.model.ngo import decode_bilstm_params, ngo_minimize
from ferviz.results.metrics import MetricReport, compute_report
from ferviz.train.engine import TrainConfig
from ferviz.train.runner import class_names_for, remap_labels, run_training

log = logging.getLogger(__name__)


def hog_features(faces: np.ndarray, size: int = 64) -> np.ndarray:
    """(N, H, W) uint8 faces -> (N, 1764) float32 HOG descriptors of the 64x64 resized faces."""
    faces = resize_faces(np.asarray(faces, np.uint8), size)
    return np.stack([hog_descriptor(face) for face in faces]).astype(np.float32)


def train_hog_svm(train_x, train_y, val_x, val_y, *, grid=(0.01, 0.1, 1.0), seed: int = 0,
                  meta: dict | None = None) -> tuple[dict, MetricReport]:
    """Fit HOG + linear SVM for each C in ``grid``; return the chosen model's parameters and its report."""
    names = class_names_for(train_y)
    ytr, yva = remap_labels(train_y, names), remap_labels(val_y, names)
    scaler = StandardScaler().fit(hog_features(train_x))
    ftr, fva = scaler.transform(hog_features(train_x)), scaler.transform(hog_features(val_x))
    best = None
    for c in grid:
        # the primal problem when there are more faces than features (FER2013: 28,709 x 1,764), the dual when
        # there are fewer (a small folder), where the primal solver can take seconds per C without converging
        svm = LinearSVC(C=c, dual="auto", max_iter=2000, random_state=seed).fit(ftr, ytr)
        acc = float((svm.predict(fva) == yva).mean())
        log.info("hog_svm C=%g: selection accuracy %.4f", c, acc)
        if best is None or acc > best[0]:
            best = (acc, c, svm)
    _, c, svm = best
    report = compute_report(yva, svm.predict(fva), names,
                            meta={**(meta or {}), "variant": "hog_svm", "C": c, "grid": list(grid)})
    params = {"C": c, "coef": svm.coef_.tolist(), "intercept": svm.intercept_.tolist(),
              "scaler_mean": scaler.mean_.tolist(), "scaler_scale": scaler.scale_.tolist(), "labels": names}
    return params, report


def ngo_search(train_x, train_y, val_x, val_y, *, out_dir: Path, population: int = 4, iterations: int = 2,
               search_epochs: int = 2, subset: int = 6000, base: TrainConfig, seed: int = 0) -> dict:
    """NGO over cnn_bilstm's lr / FC width / dropout; each candidate trains ``search_epochs`` on a subset.

    The budget is ``population * (1 + 2 * iterations)`` short runs.

    Returns
    -------
    dict
        What is also written to ``out_dir/search.json``: ``best`` (the best hyper-parameters),
        ``best_selection_accuracy``, ``budget`` and ``candidates`` (every candidate and its selection
        accuracy).
    """
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(train_y))[:subset]
    counter = {"n": 0}

    def objective(u: np.ndarray) -> float:
        params = decode_bilstm_params(u)
        counter["n"] += 1
        cfg = replace(base, epochs=search_epochs, lr=params["lr"], schedule="none", warmup_epochs=0)
        result = run_training(train_x[pick], train_y[pick], val_x, val_y, variant="ngo_bilstm", train_cfg=cfg,
                              out_dir=out_dir / f"candidate_{counter['n']:02d}", progress=False,
                              model_overrides={"fc_hidden": params["fc_hidden"],
                                               "dropout": params["dropout"]})
        return -result.best_score

    result = ngo_minimize(objective, 3, population=population, iterations=iterations, seed=seed)
    summary = {"best": decode_bilstm_params(result.best_x), "best_selection_accuracy": -result.best_f,
               "budget": {"population": population, "iterations": iterations,
                          "evaluations": result.evaluations, "search_epochs": search_epochs,
                          "subset": int(len(pick))},
               "candidates": [{**h, "params": decode_bilstm_params(np.array(h["x"])), "accuracy": -h["f"]}
                              for h in result.history]}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "search.json").write_text(json.dumps(summary, indent=1))
    return summary

"""Evaluate a checkpoint on a labelled dataset: predictions kept for error analysis, plus the metric report.

Classes are matched by name, so a FER2013 model can be scored unchanged on CK+ or JAFFE (METHOD.md
§10, cross-dataset): items whose class the model does not predict (CK+ contempt for a FER2013 model)
are left out and counted in the report's ``meta``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ferviz.checkpoint import LoadedModel
from ferviz.datasets import FaceDataset
from ferviz.engine import predict_probs
from ferviz.faces import find_faces
from ferviz.labels import ALL_LABELS
from ferviz.metrics import MetricReport, compute_report
from ferviz.preprocess import prepare_images, resize_faces

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """Per-item predictions (aligned with ``dataset``) and the report computed from them."""

    dataset: FaceDataset  # the evaluated items only (classes the model knows)
    faces: np.ndarray  # (N, S, S) uint8: what the model saw
    y_true: np.ndarray  # (N,) index into the model's labels
    probs: np.ndarray  # (N, K)
    report: MetricReport

    @property
    def y_pred(self) -> np.ndarray:
        return self.probs.argmax(1)

    def mistakes(self) -> np.ndarray:
        """Indices of misclassified items, most confident mistakes first."""
        wrong = np.flatnonzero(self.y_pred != self.y_true)
        return wrong[np.argsort(-self.probs[wrong].max(1), kind="stable")]


def dataset_faces(ds: FaceDataset, size: int, margin: float = 0.15) -> np.ndarray:
    """(N, size, size) uint8 faces: resized crops, or detected faces for whole-frame datasets."""
    if not ds.whole_frames:
        return resize_faces(ds.images, size)
    out = np.empty((len(ds), size, size), np.uint8)
    for i, image in enumerate(ds.images):
        search = find_faces(np.repeat(image[..., None], 3, axis=2), size=size, margin=margin, max_faces=1)
        out[i] = search.faces[0].crop64
    return out


def model_view(ds: FaceDataset, labels: list[str]) -> tuple[FaceDataset, np.ndarray, np.ndarray]:
    """Keep the items whose class the model predicts: (kept items, their model-space labels, keep mask)."""
    lut = np.full(len(ALL_LABELS), -1, np.int64)
    for pos, name in enumerate(labels):
        lut[ALL_LABELS.index(name)] = pos
    mapped = lut[ds.labels]
    keep = mapped >= 0
    return ds.subset(keep), mapped[keep], keep


def evaluate(loaded: LoadedModel, ds: FaceDataset, *, split: str = "", batch_size: int = 256,
             faces: np.ndarray | None = None, progress=None) -> Evaluation:
    """Run ``loaded`` over ``ds`` and compute the full report (per class, macro, weighted, calibration).

    ``faces``: optional (N, S, S) uint8 crops aligned with ``ds`` (skips face detection/resizing).
    """
    kept, y_true, keep = model_view(ds, loaded.labels)
    dropped = int((~keep).sum())
    if len(kept) == 0:
        raise ValueError(f"none of the {len(ds)} items belongs to the model's classes {loaded.labels}")
    if dropped:
        log.warning("left out %d items whose class the model does not predict", dropped)
    prep = loaded.preprocessing
    if faces is None:
        faces = dataset_faces(kept, prep.size, prep.face_margin)
    else:
        faces = np.asarray(faces)[keep]
    probs = predict_probs(loaded.model, prepare_images(faces, prep), prep, batch_size=batch_size, progress=progress)
    meta = {"dataset": ds.name, "split": split, "n_items": len(kept), "n_left_out": dropped,
            "model": loaded.path.name, "variant": loaded.variant, "sha256": loaded.sha256}
    report = compute_report(y_true, None, loaded.labels, probs=probs, meta=meta)
    return Evaluation(kept, faces, y_true, probs, report)

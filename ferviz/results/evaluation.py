"""Evaluate a checkpoint on a labelled dataset: predictions kept for error analysis, and the metric report.

Classes are matched by name, so a FER2013 model can be scored unchanged on CK+ or JAFFE (docs/DESIGN.md
§10, cross-dataset): items whose class the model does not predict (CK+ contempt for a FER2013 model)
are left out and counted in the report's ``meta``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ferviz.data.datasets import FaceDataset
from ferviz.data.labels import ALL_LABELS
from ferviz.data.preprocess import prepare_images, resize_faces
from ferviz.model.checkpoint import LoadedModel
from ferviz.pipeline.faces import FaceOptions, find_faces, resolve_detector
from ferviz.pipeline.fastpath import predict_planes
from ferviz.pipeline.folders import PhotoResult, classify_photos
from ferviz.pipeline.inference import no_face_row
from ferviz.pipeline.tta import check_mode, model_views, tta_views
from ferviz.results.metrics import MetricReport, compute_report
from ferviz.train.engine import dist_info
from ferviz.train.sharding import gather_to_rank0, shard_bounds

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



#: Whole frames: the largest face of each; a frame where none is found is scored on its centre square
#: (every item counts), and the number of such frames is reported.
DATASET_FACE_OPTIONS = FaceOptions(fallback="centre", max_faces=1)


def dataset_faces(ds: FaceDataset, size: int, margin: float = 0.15,
                  options: FaceOptions = DATASET_FACE_OPTIONS) -> np.ndarray:
    """(N, size, size) uint8 faces: resized crops, or detected faces for whole-frame datasets."""
    faces, _ = _dataset_faces(ds, size, margin, options)
    return faces


def _dataset_faces(ds: FaceDataset, size: int, margin: float,
                   options: FaceOptions) -> tuple[np.ndarray, int]:
    """The faces and how many whole frames had no detected face (their centre square was used)."""
    if not ds.whole_frames:
        return resize_faces(ds.images, size), 0
    options = replace(options, fallback="centre", max_faces=1)
    out = np.empty((len(ds), size, size), np.uint8)
    missed = 0
    for i, image in enumerate(ds.images):
        search = find_faces(np.repeat(image[..., None], 3, axis=2), size=size, margin=margin,
                            **options.kwargs())
        out[i] = search.faces[0].crop64
        missed += search.fallback
    return out, missed


def model_view(ds: FaceDataset, labels: list[str]) -> tuple[FaceDataset, np.ndarray, np.ndarray]:
    """Keep the items whose class the model predicts.

    Parameters
    ----------
    ds : FaceDataset
        Labelled items (labels index :data:`ferviz.data.labels.ALL_LABELS`).
    labels : list of str
        The model's class names, in its output order.

    Returns
    -------
    kept : FaceDataset
        The items whose class is in ``labels``.
    y : (M,) int64 ndarray
        Their labels as indices into ``labels``.
    keep : (N,) bool ndarray
        Which items of ``ds`` were kept.
    """
    lut = np.full(len(ALL_LABELS), -1, np.int64)
    for pos, name in enumerate(labels):
        lut[ALL_LABELS.index(name)] = pos
    mapped = lut[ds.labels]
    keep = mapped >= 0
    return ds.subset(keep), mapped[keep], keep


def evaluate(loaded: LoadedModel, ds: FaceDataset, *, split: str = "", batch_size: int = 256,
             faces: np.ndarray | None = None, progress=None,
             face_options: FaceOptions = DATASET_FACE_OPTIONS, tta: str = "none") -> Evaluation | None:
    """Run ``loaded`` over ``ds`` and compute the full report (per class, macro, weighted, calibration).

    Parameters
    ----------
    loaded : LoadedModel
        The model; items whose class it does not predict are left out (counted in the report's meta).
    ds : FaceDataset
        The items to score.
    split : str
        Recorded in the report.
    batch_size : int
        Faces per forward pass.
    faces : (N, S, S) uint8 ndarray, optional
        Crops aligned with ``ds`` (skips face detection and resizing).
    progress : callable, optional
        ``progress(done, total)`` after every batch.
    face_options : FaceOptions
        Detector and alignment for whole-frame datasets (the largest face; centre square if none).
    tta : str
        Test-time augmentation, a key of :data:`ferviz.pipeline.tta.TTA_VIEWS`: ``flip`` averages the
        probabilities of each face and its mirror image, ``ten_crop`` those of ten views (five crops
        and their mirrors). Recorded in the report's meta (``tta``), so a TTA number is never mistaken
        for a plain one.

    Returns
    -------
    Evaluation or None
        None on every torchrun rank but 0: under ``torchrun`` each rank detects and classifies its own
        contiguous shard (:mod:`ferviz.train.sharding`) and rank 0 gathers them, in order, into the result a
        single process would give.
    """
    mode = model_views(loaded, tta)  # the model's own views (none or flip) unless another mode is asked for
    kept, y_true, keep = model_view(ds, loaded.labels)
    dropped = int((~keep).sum())
    if len(kept) == 0:
        raise ValueError(f"none of the {len(ds)} items belongs to the model's classes {loaded.labels}")
    if dropped:
        log.warning("left out %d items whose class the model does not predict", dropped)
    prep = loaded.preprocessing
    rank, world = dist_info()
    start, stop = shard_bounds(len(kept), rank, world, batch_size)
    if faces is None:
        part = kept.subset(np.arange(start, stop))
        part_faces, part_missed = _dataset_faces(part, prep.size, prep.face_margin, face_options)
    else:
        part_faces, part_missed = np.asarray(faces)[keep][start:stop], 0
    # [(N, S, S) uint8]: one view for tta none, 2 for flip, 10 for ten_crop
    views = tta_views(resize_faces(np.asarray(part_faces, np.uint8), prep.size), mode)
    part_probs = np.zeros((len(part_faces), len(loaded.labels)), np.float64)
    for v, view in enumerate(views):
        step = None if progress is None else (
            lambda done, total, v=v: progress(v * total + done, len(views) * total))
        part_probs += predict_planes(loaded, prepare_images(view, prep), batch_size=batch_size, progress=step)
    part_probs = (part_probs / len(views)).astype(np.float32)
    parts = gather_to_rank0((part_faces, part_probs, part_missed))
    if parts is None:
        return None
    faces = np.concatenate([p[0] for p in parts])
    probs = np.concatenate([p[1] for p in parts])
    missed = sum(p[2] for p in parts)
    meta = {"dataset": ds.name, "split": split, "n_items": len(kept), "n_left_out": dropped,
            "model": loaded.path.name, "variant": loaded.variant, "sha256": loaded.sha256, "tta": tta, "views": mode}
    if kept.whole_frames:
        meta.update(detector=resolve_detector(face_options.detector), aligned=face_options.align,
                    n_no_face_detected=missed)
    report = compute_report(y_true, None, loaded.labels, probs=probs, meta=meta)
    return Evaluation(kept, faces, y_true, probs, report)


@dataclass
class PhotoEvaluation:
    """``evaluate --detect``: a labelled folder of whole photos, each through detect -> align -> classify.

    Attributes
    ----------
    results : list of PhotoResult
        One per photo whose class the model predicts (its largest face, or None: no face found).
    report : MetricReport
        Over the photos with a face; ``scores["accuracy_all_photos"]`` counts every photo without a face
        as wrong, and ``meta`` has ``n_photos``, ``n_no_face`` and the ``no_face`` list.
    skipped : list of str
        Folders that are not classes, and photos of classes the model does not predict.
    """

    results: list[PhotoResult]
    report: MetricReport
    skipped: list[str] = field(default_factory=list)

    @property
    def no_face(self) -> list[str]:
        """The photos (paths relative to the folder) where no face was found, with the reason."""
        return _no_face_lines(self.results)

    def rows(self) -> list[dict]:
        """One row per photo (:meth:`ferviz.pipeline.inference.FacePrediction.row` plus ``true``, ``correct``)."""
        out = []
        for r in self.results:
            row = r.face.row(r.source) if r.face is not None else no_face_row(r.source)
            out.append({**row, "true": ALL_LABELS[r.label],
                        "correct": r.face is not None and r.face.label == ALL_LABELS[r.label]})
        return out


def evaluate_photos(loaded: LoadedModel, folder: str | Path, *, split: str = "",
                    options: FaceOptions = FaceOptions(), tta: str = "none", progress=None) -> PhotoEvaluation:
    """Score ``loaded`` on a labelled folder of whole photos (``ferviz evaluate --data FOLDER --detect``).

    Every photo goes through the one face step (:func:`ferviz.pipeline.inference.classify_faces`: detect,
    align on the landmarks, classify); its largest face is the labelled one. A photo without a face
    counts as wrong in ``scores["accuracy_all_photos"]`` and is listed in ``meta["no_face"]``.

    Parameters
    ----------
    loaded : LoadedModel
        The model; photos of classes it does not predict are left out (listed in ``skipped``).
    folder : str or Path
        Class folders (``happy/``, ``Sad/``, ``3/``), optionally inside split folders.
    split : str
        Only the photos of this split folder (``test``); all when empty.
    options : FaceOptions
        Detector, minimum confidence, alignment (one face per photo, no centre-square fallback).
    tta : str
        Test-time augmentation, recorded in the report's meta.
    progress : callable, optional
        ``progress(done, total)`` after every photo.

    Raises
    ------
    ValueError
        When no photo belongs to the model's classes, or no face is found in any photo.
    """
    check_mode(tta)
    results, skipped = classify_photos(loaded, folder, options=options, tta=tta, progress=progress)
    if split:
        results = [r for r in results if r.usage == split]
    known = [r for r in results if ALL_LABELS[r.label] in loaded.labels]
    skipped += [f"{r.source}: class {ALL_LABELS[r.label]} is not one the model predicts"
                for r in results if ALL_LABELS[r.label] not in loaded.labels]
    if not known:
        raise ValueError(f"{folder}: none of the {len(results)} photos belongs to the model's classes "
                         f"{loaded.labels}")
    found = [r for r in known if r.face is not None]
    no_face = _no_face_lines(known)
    if not found:
        raise ValueError(f"{folder}: no face found in any of the {len(known)} photos (first: {no_face[0]})")
    y_true = np.array([loaded.labels.index(ALL_LABELS[r.label]) for r in found])
    probs = np.array([[r.face.probs[name] for name in loaded.labels] for r in found], np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    correct = int((probs.argmax(1) == y_true).sum())
    meta = {"dataset": Path(folder).name, "split": split or "all", "n_photos": len(known),
            "n_no_face": len(no_face), "no_face": no_face, "model": loaded.path.name,
            "variant": loaded.variant, "sha256": loaded.sha256, "tta": tta,
            "detector": resolve_detector(options.detector), "aligned": options.align, "faces": "detect"}
    report = compute_report(y_true, None, loaded.labels, probs=probs, meta=meta)
    report.scores["accuracy_all_photos"] = correct / len(known)
    return PhotoEvaluation(known, report, skipped)


def _no_face_lines(results: list[PhotoResult]) -> list[str]:
    """One line per photo without a face: its source and why (a reader's message already names the source)."""
    lines = []
    for r in (r for r in results if r.face is None):
        why = r.message or "no face found"
        lines.append(why if why.startswith(f"{r.source}:") else f"{r.source}: {why}")
    return lines

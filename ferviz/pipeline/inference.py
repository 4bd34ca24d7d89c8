"""Photo in, every face's expression out: decode -> detect -> crop -> preprocess -> model -> softmax.

Used by ``ferviz predict`` and the app's Predict page. The model is shared (cached) and only read:
inference runs under ``torch.no_grad`` in eval mode, so concurrent calls are safe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ferviz.data.imageio import DecodedImage, decode_image
from ferviz.data.preprocess import faces_to_tensor, resize_faces, resize_square
from ferviz.errors import ImageError
from ferviz.model.checkpoint import LoadedModel
from ferviz.pipeline.faces import FaceBox, FaceOptions, find_faces
from ferviz.pipeline.fastpath import fast_logits
from ferviz.pipeline.tta import average_views, check_mode


@dataclass
class FacePrediction:
    """One face: where it is (in the decoded image's pixels), its crop, and the class probabilities."""

    index: int
    box: FaceBox
    crop: np.ndarray  # (64, 64) uint8 grayscale, what the model saw (before input-mode planes)
    fallback: bool  # True: no face was found and this is the centre square of the image (asked for)
    label: str
    confidence: float
    probs: dict[str, float]

    @property
    def status(self) -> str:
        """``face`` for a detected face, ``centre crop`` for the fallback square (never called a face)."""
        return "centre crop" if self.fallback else "face"


NO_FACE = "no face found"  # the status of a picture without a face: it gets no expression label


@dataclass
class ImagePrediction:
    name: str
    image: DecodedImage
    faces: list[FacePrediction]  # empty when no face was found (and no centre crop was asked for)
    message: str | None  # for the user: no face found, centre-crop fallback, faces capped, ...
    seconds: float  # decode + detect + preprocess + model
    notes: tuple[str, ...] = field(default_factory=tuple)
    detector: str = ""  # the detector that searched ('' for a dataset crop: no detection)
    tta: str = "none"  # test-time augmentation the probabilities were averaged over (ferviz.pipeline.tta)

    def rows(self) -> list[dict]:
        """One flat dict per face, for CSV, JSON and DataFrames.

        Returns
        -------
        list of dict
            One row per face (box, detector confidence, label, confidence, one probability per class);
            a picture without a face gives one ``no face found`` row without a label. With test-time
            augmentation every row also says which (``tta``), so it is never mistaken for a plain one.
        """
        extra = {} if self.tta == "none" else {"tta": self.tta}
        if not self.faces:
            return [{"image": self.name, "face": None, "status": NO_FACE, "x": None, "y": None, "w": None,
                     "h": None, "detector_confidence": None, "label": "", "confidence": None, **extra}]
        out = []
        for f in self.faces:
            detected = f.box.score if f.box.score is not None else f.box.neighbours
            out.append({"image": self.name, "face": f.index, "status": f.status, "x": f.box.x, "y": f.box.y,
                        "w": f.box.w, "h": f.box.h, "detector_confidence": detected, "label": f.label,
                        "confidence": round(f.confidence, 6), **{k: round(v, 6) for k, v in f.probs.items()},
                        **extra})
        return out


@torch.no_grad()
def classify_crops(loaded: LoadedModel, crops: np.ndarray, tta: str = "none") -> np.ndarray:
    """(N, H, W) uint8 face crops -> (N, classes) float probabilities.

    ``tta`` (a key of :data:`ferviz.pipeline.tta.TTA_VIEWS`) averages the probabilities over views of each face.
    """
    check_mode(tta)
    if len(crops) == 0:
        return np.zeros((0, len(loaded.labels)), np.float32)
    if tta != "none":
        faces = resize_faces(np.asarray(crops, dtype=np.uint8), loaded.preprocessing.size)
        return average_views(lambda view: classify_crops(loaded, view), faces, tta)
    x = faces_to_tensor(np.asarray(crops), loaded.preprocessing)
    logits = fast_logits(loaded, x)  # ONNX Runtime where available (same answers, faster)
    logits = torch.from_numpy(logits) if logits is not None else loaded.model(x)
    return torch.softmax(logits, dim=1).numpy()


def _labelled(index: int, box: FaceBox, crop: np.ndarray, fallback: bool, labels: list[str],
              p: np.ndarray) -> FacePrediction:
    """A face with its label: the most probable class, and every class's probability by name."""
    k = int(p.argmax())
    return FacePrediction(index, box, crop, fallback, labels[k], float(p[k]),
                          {name: float(v) for name, v in zip(labels, p, strict=True)})


def predict_decoded(loaded: LoadedModel, image: DecodedImage, *, options: FaceOptions = FaceOptions(),
                    t0: float | None = None, tta: str = "none") -> ImagePrediction:
    """Detect every face of an already decoded image and classify each one (none found: no label)."""
    check_mode(tta)
    t0 = time.perf_counter() if t0 is None else t0
    prep = loaded.preprocessing
    search = find_faces(image.rgb, size=prep.size, margin=prep.face_margin, **options.kwargs())
    crops = (np.stack([f.crop64 for f in search.faces]) if search.faces
             else np.zeros((0, prep.size, prep.size)))
    probs = classify_crops(loaded, crops, tta)
    faces = [_labelled(face.index, face.box, face.crop64, face.fallback, loaded.labels, p)
             for face, p in zip(search.faces, probs, strict=True)]
    return ImagePrediction(image.name, image, faces, search.message, time.perf_counter() - t0, image.notes,
                           search.detector, tta)


def predict_crop(loaded: LoadedModel, crop: np.ndarray, *, name: str = "face crop",
                 tta: str = "none") -> ImagePrediction:
    """Classify an image that is already a face crop (e.g. a dataset item): no detection, one face."""
    t0 = time.perf_counter()
    crop = np.asarray(crop, dtype=np.uint8)
    if crop.ndim != 2 or min(crop.shape) < 1:
        raise ImageError(f"{name}: expected a 2-D grayscale face crop, got shape {crop.shape}")
    gray = resize_square(crop, loaded.preprocessing.size)  # the resize training and Evaluate use
    p = classify_crops(loaded, gray[None], tta)[0]
    face = _labelled(0, FaceBox(0, 0, crop.shape[1], crop.shape[0]), gray, False, loaded.labels, p)
    image = DecodedImage(rgb=np.repeat(crop[..., None], 3, axis=2), name=name,
                         original_size=(crop.shape[1], crop.shape[0]), scale=1.0)
    return ImagePrediction(name, image, [face], None, time.perf_counter() - t0, tta=tta)


def reclassify(loaded: LoadedModel, pred: ImagePrediction) -> ImagePrediction:
    """The same faces (boxes and crops) classified by another model, for a side-by-side comparison.

    Both models must take the same crop size; the other model's own preprocessing (input mode,
    normalisation) is applied to the crops.
    """
    t0 = time.perf_counter()
    if pred.faces and pred.faces[0].crop.shape[0] != loaded.preprocessing.size:
        raise ImageError(f"{pred.name}: the models take faces of different sizes "
                         f"({pred.faces[0].crop.shape[0]} and {loaded.preprocessing.size} pixels)")
    crops = np.stack([f.crop for f in pred.faces]) if pred.faces else np.zeros((0, 1, 1), np.uint8)
    probs = classify_crops(loaded, crops)
    faces = [_labelled(face.index, face.box, face.crop, face.fallback, loaded.labels, p)
             for face, p in zip(pred.faces, probs, strict=True)]
    return ImagePrediction(pred.name, pred.image, faces, pred.message, time.perf_counter() - t0, pred.notes,
                           pred.detector)


def side_by_side(a: ImagePrediction, b: ImagePrediction, name_a: str, name_b: str) -> list[dict]:
    """One row per face of two models' predictions on the same faces (:func:`reclassify`).

    Columns: ``face``, each model's label and confidence, its probability for the other model's
    label, and ``agree``.
    """
    rows = []
    for fa, fb in zip(a.faces, b.faces, strict=True):
        rows.append({"face": "centre crop" if fa.fallback else fa.index,
                     f"{name_a} label": fa.label, f"{name_a} confidence": round(fa.confidence, 4),
                     f"{name_b} label": fb.label, f"{name_b} confidence": round(fb.confidence, 4),
                     f"{name_b} p({fa.label})": round(fb.probs.get(fa.label, 0.0), 4),
                     "agree": fa.label == fb.label})
    return rows


def predict_image(loaded: LoadedModel, data: bytes | str | Path, *, name: str | None = None,
                  options: FaceOptions = FaceOptions(), tta: str = "none") -> ImagePrediction:
    """Decode untrusted bytes or a path and predict every face.

    Parameters
    ----------
    loaded : LoadedModel
        The (shared, read-only) model.
    data : bytes, str or Path
        The file's bytes or its path, decoded by :func:`ferviz.data.imageio.decode_image`.
    name : str, optional
        Shown in messages and results (defaults to the path, or "uploaded image").
    options : FaceOptions
        Detector, minimum confidence, no-face fallback, alignment, face cap.
    tta : str
        Test-time augmentation (a key of :data:`ferviz.pipeline.tta.TTA_VIEWS`; default none).

    Returns
    -------
    ImagePrediction

    Raises
    ------
    ImageError
        For a file that cannot be decoded safely.
    """
    t0 = time.perf_counter()
    check_mode(tta)
    image = decode_image(data, name=name)
    return predict_decoded(loaded, image, options=options, t0=t0, tta=tta)


def predict(loaded: LoadedModel, content: bytes | str | Path | np.ndarray, *, name: str | None = None,
            options: FaceOptions = FaceOptions(), tta: str = "none") -> ImagePrediction:
    """The one prediction entry point: a file's bytes, a path, or an array, to every face's expression.

    Parameters
    ----------
    loaded : LoadedModel
        The (shared, read-only) model.
    content : bytes, str, Path or ndarray
        Bytes or a path are decoded as an untrusted image file. A 2-D uint8 array is a face crop
        (a dataset item): classified as it is, no detection. An (H, W, 3) uint8 RGB array is a
        whole picture (a webcam frame, a whole-frame dataset item): faces are detected first.
    name : str, optional
        Shown in messages and results (defaults to the file name, or "image").
    options : FaceOptions
        Detector, minimum confidence, no-face fallback, alignment, face cap.
    tta : str
        Test-time augmentation (a key of :data:`ferviz.pipeline.tta.TTA_VIEWS`; default none).

    Returns
    -------
    ImagePrediction
        No faces (and a message saying so) when none was found, unless a centre-crop fallback was asked
        for in ``options``.

    Raises
    ------
    ImageError
        An undecodable file or an array of another shape or dtype, with a message naming ``name``.
    """
    if not isinstance(content, np.ndarray):
        return predict_image(loaded, content, name=name, options=options, tta=tta)
    shown = name or "image"
    if content.ndim == 2:
        return predict_crop(loaded, content, name=shown, tta=tta)
    if content.ndim != 3 or content.shape[2] != 3 or content.dtype != np.uint8 or min(content.shape[:2]) < 1:
        raise ImageError(f"{shown}: expected an (H, W) gray face crop or an (H, W, 3) uint8 RGB picture, "
                         f"got {content.dtype} {content.shape}")
    rgb = np.ascontiguousarray(content)
    image = DecodedImage(rgb=rgb, name=shown, original_size=(rgb.shape[1], rgb.shape[0]), scale=1.0)
    return predict_decoded(loaded, image, options=options, tta=tta)

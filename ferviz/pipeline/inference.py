"""Photo in, every face's expression out: decode -> detect -> align/crop -> preprocess -> model -> softmax.

:func:`classify_faces` is the one detect -> crop -> classify step of every path (photos, video frames,
Live, folder evaluation) and :class:`FacePrediction` the one per-face row they all produce. Used by
``ferviz predict`` and the app's Predict page. The model is shared (cached) and only read:
inference runs under ``torch.no_grad`` in eval mode, so concurrent calls are safe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ferviz.data.imageio import DecodedImage, decode_image
from ferviz.data.preprocess import faces_to_tensor, resize_square
from ferviz.errors import ImageError
from ferviz.model.checkpoint import LoadedModel
from ferviz.pipeline.crop import model_crops
from ferviz.pipeline.faces import FaceBox, FaceOptions, FaceSearch, find_faces
from ferviz.pipeline.fastpath import fast_logits
from ferviz.pipeline.tracking import Tracker
from ferviz.pipeline.tta import average_views, check_mode, model_views, resize_crops


@dataclass
class FacePrediction:
    """One face's row: the one per-face type every path produces (photos, video frames, Live, folders).

    Tables, CSV and JSON are made from :meth:`row`; a picture or frame without a face gives
    :func:`no_face_row` instead.

    Attributes
    ----------
    index : int
        Position of the face in its image's reading order (:func:`ferviz.pipeline.faces.find_faces`).
    box : FaceBox
        Where it is, in the pixels of the decoded image or frame.
    crop : (S, S) uint8 ndarray, or (S, S, 3) for a colour model
        What the model saw, before the input-mode planes (:func:`ferviz.pipeline.crop.model_crops`).
    fallback : bool
        True: no face was found and this is the centre square of the image (asked for).
    label : str
        The most probable class (smoothed over time for a tracked face).
    confidence : float
        Its probability.
    probs : dict of str to float
        Every class's probability, in the model's label order.
    colour : (S, S, 3) uint8 ndarray or None
        The crop in colour when the image had colour (for a comparison with a colour model).
    aligned : bool
        True when the crop was aligned on the landmarks (False: the box crop).
    track, frame, time : int, int, float or None
        Video and Live: the track id, the frame number and its time in seconds (None for a photo).
    overlay : (S, S) float ndarray or None
        Live: the attention or fused map of the crop in [0, 1], when asked for.
    """

    index: int
    box: FaceBox
    crop: np.ndarray
    fallback: bool
    label: str
    confidence: float
    probs: dict[str, float]
    colour: np.ndarray | None = None
    aligned: bool = False
    track: int | None = None
    frame: int | None = None
    time: float | None = None
    overlay: np.ndarray | None = None

    @property
    def status(self) -> str:
        """``face`` for a detected face, ``centre crop`` for the fallback square (never called a face)."""
        return "centre crop" if self.fallback else "face"

    @property
    def track_id(self) -> int | None:
        """The track id (:attr:`track`), under the name the Live drawing code uses."""
        return self.track

    def row(self, image: str, tta: str = "none") -> dict:
        """The face as one flat dict for CSV, JSON and DataFrames.

        Columns: ``image``, then ``frame``, ``time``, ``track`` for a video frame, then ``face``,
        ``status``, the box (``x``, ``y``, ``w``, ``h``), ``detector_confidence``, ``aligned``, ``label``,
        ``confidence``, one probability per class and, with test-time augmentation, ``tta``.
        """
        box = self.box
        detected = box.score if box.score is not None else box.neighbours
        return {"image": image, **_when(self.frame, self.time, self.track), "face": self.index,
                "status": self.status, "x": box.x, "y": box.y, "w": box.w, "h": box.h,
                "detector_confidence": detected, "aligned": self.aligned, "label": self.label,
                "confidence": round(self.confidence, 6), **{k: round(v, 6) for k, v in self.probs.items()},
                **({} if tta == "none" else {"tta": tta})}


NO_FACE = "no face found"  # the status of a picture without a face: it gets no expression label


def _when(frame: int | None, time_s: float | None, track: int | None) -> dict:
    return {} if frame is None else {"frame": frame, "time": round(time_s or 0.0, 4), "track": track}


def no_face_row(image: str, tta: str = "none", frame: int | None = None, time_s: float | None = None) -> dict:
    """The row of a picture (or a video frame, with ``frame``) without a face: no label."""
    return {"image": image, **_when(frame, time_s, None), "face": None, "status": NO_FACE, "x": None, "y": None,
            "w": None, "h": None, "detector_confidence": None, "aligned": None, "label": "", "confidence": None,
            **({} if tta == "none" else {"tta": tta})}


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
        """One flat dict per face (:meth:`FacePrediction.row`), for CSV, JSON and DataFrames.

        A picture without a face gives one ``no face found`` row without a label (:func:`no_face_row`).
        With test-time augmentation every row also says which (``tta``), so it is never mistaken for a
        plain one.
        """
        if not self.faces:
            return [no_face_row(self.name, self.tta)]
        return [f.row(self.name, self.tta) for f in self.faces]


@torch.no_grad()
def classify_crops(loaded: LoadedModel, crops: np.ndarray, tta: str = "none") -> np.ndarray:
    """(N, H, W) gray or (N, H, W, 3) colour uint8 face crops -> (N, classes) float probabilities.

    Crops are converted for the model by :func:`ferviz.pipeline.crop.model_crops` (colour to gray for a
    gray model). ``tta`` (a key of :data:`ferviz.pipeline.tta.TTA_VIEWS`) averages the probabilities over
    views of each face; ``"none"`` uses the model's own views (:func:`ferviz.pipeline.tta.model_views`: none,
    or the mirror image for a checkpoint adjusted with ``--tta flip``).
    """
    mode = model_views(loaded, tta)
    if len(crops) == 0:
        return np.zeros((0, len(loaded.labels)), np.float32)
    prep = loaded.preprocessing
    crops = model_crops(np.asarray(crops, dtype=np.uint8), prep.input_mode)
    if mode != "none":
        return average_views(lambda view: _probabilities(loaded, view), resize_crops(crops, prep.size), mode)
    return _probabilities(loaded, crops)


#: Faces per forward pass of :func:`classify_crops`: a folder's photos, times ten views, stay in bounded memory.
CLASSIFY_BATCH = 512


def _probabilities(loaded: LoadedModel, crops: np.ndarray) -> np.ndarray:
    """Model-ready crops, no views -> (N, classes) probabilities, :data:`CLASSIFY_BATCH` faces per forward pass."""
    prep = loaded.preprocessing
    out = []
    for start in range(0, len(crops), CLASSIFY_BATCH):
        x = faces_to_tensor(crops[start:start + CLASSIFY_BATCH], prep)
        logits = fast_logits(loaded, x)  # ONNX Runtime where available (same answers, faster)
        logits = torch.from_numpy(logits) if logits is not None else loaded.model(x)
        out.append(torch.softmax(logits, dim=1).numpy())
    return np.concatenate(out)


def labelled(index: int, box: FaceBox, crop: np.ndarray, fallback: bool, labels: list[str], p: np.ndarray,
             **extra) -> FacePrediction:
    """A face with its label: the most probable class, and every class's probability by name."""
    k = int(np.argmax(p))
    return FacePrediction(index, box, crop, fallback, labels[k], float(p[k]),
                          {name: float(v) for name, v in zip(labels, p, strict=True)}, **extra)


def classify_faces(loaded: LoadedModel, rgb: np.ndarray, *, options: FaceOptions = FaceOptions(),
                   detect_side: int | None = None, tta: str = "none",
                   overlay: str = "none") -> tuple[list[FacePrediction], FaceSearch]:
    """The one face step: decoded image -> detect -> align/crop -> classify -> one row per face.

    Used by photos (:func:`predict_decoded`), video frames (:func:`ferviz.pipeline.video.predict_video`),
    Live (:func:`ferviz.pipeline.live.analyse_frame`) and folder evaluation
    (:func:`ferviz.results.evaluation.evaluate_photos`).

    Parameters
    ----------
    loaded : LoadedModel
        The (shared, read-only) model; its preprocessing gives the crop size and margin.
    rgb : (H, W, 3) or (H, W) uint8 ndarray
        The decoded image or frame, RGB order.
    options : FaceOptions
        Detector, minimum confidence, no-face fallback, alignment (default on), face cap.
    detect_side : int, optional
        Detect on a copy at most this large (video, Live); crops come from ``rgb`` itself.
    tta : str
        Test-time augmentation (a key of :data:`ferviz.pipeline.tta.TTA_VIEWS`).
    overlay : {"none", "attention", "fused"}
        Also compute each face's attention or fused map with the torch model (Live); slower.

    Returns
    -------
    faces : list of FacePrediction
        In reading order; empty when no face was found (unless the centre-square fallback was asked for).
    search : FaceSearch
        What the detector found (message, detector name, fallback).
    """
    check_mode(tta)
    prep = loaded.preprocessing
    search = find_faces(rgb, size=prep.size, margin=prep.face_margin, detect_side=detect_side,
                        **options.kwargs())
    if not search.faces:
        return [], search
    raw = np.stack([face.crop for face in search.faces])
    crops = model_crops(raw, prep.input_mode)
    maps: list = [None] * len(crops)
    if overlay == "none":
        probs = classify_crops(loaded, crops, tta)
    else:
        from ferviz.pipeline.overlay import face_map  # the explain code (Captum) loads only when asked

        pairs = [face_map(loaded, crop, overlay) for crop in crops]  # the map of the face as shown
        probs, maps = np.stack([p for p, _ in pairs]), [m for _, m in pairs]
        if model_views(loaded, tta) != "none":  # the label as on every other path: over the same views
            probs = classify_crops(loaded, crops, tta)
    faces = [labelled(face.index, face.box, crop, face.fallback, loaded.labels, p,
                      colour=face.crop if face.crop.ndim == 3 else None, aligned=face.aligned, overlay=heat)
             for face, crop, p, heat in zip(search.faces, crops, probs, maps, strict=True)]
    return faces, search


def follow(tracker: Tracker, faces: list[FacePrediction], labels: list[str], *, frame: int,
           time_s: float) -> list[FacePrediction]:
    """The faces of one frame matched to ``tracker``'s tracks: track ids and smoothed probabilities.

    Parameters
    ----------
    tracker : Tracker
        Updated in place.
    faces : list of FacePrediction
        This frame's faces (:func:`classify_faces`).
    labels : list of str
        The model's classes.
    frame, time_s : int, float
        The frame's number and time in seconds, recorded in each row.

    Returns
    -------
    list of FacePrediction
        The same faces, each with its track id, frame, time and smoothed probabilities and label.
    """
    tracked = tracker.update([f.box for f in faces], [np.array(list(f.probs.values())) for f in faces])
    out = []
    for t in tracked:
        face = faces[t.index]
        k = int(np.argmax(t.probs))
        out.append(replace(face, label=labels[k], confidence=float(t.probs[k]),
                           probs={name: float(v) for name, v in zip(labels, t.probs, strict=True)},
                           track=t.track_id, frame=frame, time=time_s))
    return out


def predict_decoded(loaded: LoadedModel, image: DecodedImage, *, options: FaceOptions = FaceOptions(),
                    t0: float | None = None, tta: str = "none") -> ImagePrediction:
    """Detect every face of an already decoded image and classify each one (none found: no label)."""
    t0 = time.perf_counter() if t0 is None else t0
    faces, search = classify_faces(loaded, image.rgb, options=options, tta=tta)
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
    face = labelled(0, FaceBox(0, 0, crop.shape[1], crop.shape[0]), gray, False, loaded.labels, p)
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
    seen = [f.colour if f.colour is not None else f.crop for f in pred.faces]
    crops = model_crops(np.stack(seen), loaded.preprocessing.input_mode) if seen else np.zeros((0, 1, 1), np.uint8)
    probs = classify_crops(loaded, crops)
    faces = [labelled(face.index, face.box, crop, face.fallback, loaded.labels, p, colour=face.colour,
                      aligned=face.aligned)
             for face, crop, p in zip(pred.faces, crops, probs, strict=True)]
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

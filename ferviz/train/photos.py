"""Unlabelled web photos as training data: faces aligned like FER2013's, labelled by a photo teacher.

FER2013's faces are small gray web crops; people in front of a camera are not. A folder of colour face
photos without expression labels (UTKFace's crops: all ages and ethnicities) closes part of that gap when
a teacher that learnt from web photos labels them: face-api.js's expression network
(:mod:`ferviz.model.faceapi`) gives each photo a probability distribution over the 7 emotions, and the
student (the paper's 48x48 gray network) is trained to match it (:attr:`ferviz.train.engine.ArrayData.target`).

Each photo goes through the app's own crop policy (:func:`ferviz.pipeline.crop.face_crop`, one detection): the
student's crop is *aligned* (eyes levelled and placed where they sit in FER2013's faces) and gray, as every
inference path cuts it; the teacher's crop is the detector's box with a small margin, in colour, as
face-api.js cuts faces. Photos without a detected face are left out (counted).

A fixed share of the photos (:func:`is_holdout`, by a hash of the file name, so it never changes) is held
out of training: the domain table (:mod:`ferviz.results.domains`) scores every model's agreement with the
teacher there. The prepared faces are cached (``.npz``) because detection, alignment and the teacher take
a few minutes; the cache records what it was made from and is remade when that changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ferviz.data.camera import GRAY_VARIANTS, to_gray
from ferviz.data.imageio import decode_image
from ferviz.errors import DatasetError, FervizError

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
STUDENT_SIZE = 48  # FER2013's side: the student's input is resized from it exactly as FER2013's faces are
TEACHER_SIZE = 112  # face-api.js's input side
TEACHER_MARGIN = 0.1  # context around the detector's box for the teacher's crop
HOLDOUT = 0.2


@dataclass(frozen=True)
class PhotoFaces:
    """Prepared photo faces, row-aligned.

    Attributes
    ----------
    names : (N,) str
        File names (relative to the folder).
    student : (N, 48, 48) uint8
        Aligned gray faces (held-out rows with BT.601 luma, training rows with a random gray variant of
        :data:`ferviz.data.camera.GRAY_VARIANTS`, as cameras and libraries differ).
    teacher : (N, 7) float32
        The teacher's probabilities, FER2013 class order.
    holdout : (N,) bool
    found : (N,) bool
        A face was detected (rows without one are never used).
    """

    names: np.ndarray
    student: np.ndarray
    teacher: np.ndarray
    holdout: np.ndarray
    found: np.ndarray

    def training_rows(self) -> np.ndarray:
        return np.flatnonzero(self.found & ~self.holdout)

    def holdout_rows(self) -> np.ndarray:
        return np.flatnonzero(self.found & self.holdout)

    def describe(self) -> str:
        return (f"{len(self.names)} photos: {int((~self.found).sum())} without a face; "
                f"{len(self.training_rows())} for training, {len(self.holdout_rows())} held out")


def photo_files(folder: str | Path) -> list[Path]:
    """The image files of ``folder`` (recursive), sorted by relative path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder of photos")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file())
    if not files:
        raise DatasetError(f"{folder}: no photos ({', '.join(PHOTO_SUFFIXES)}) found")
    return files


def is_holdout(name: str, fraction: float = HOLDOUT) -> bool:
    """Whether the photo called ``name`` is held out: the first 8 bytes of its SHA-1 below ``fraction``."""
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


def prepare_photo_faces(folder: str | Path, *, teacher: Callable[[np.ndarray], np.ndarray] | None = None,
                        cache: str | Path | None = None, holdout: float = HOLDOUT, seed: int = 0,
                        limit: int = 0, align: bool = True, gray: str = "mixed",
                        progress: Callable[[int, int], None] | None = None) -> PhotoFaces:
    """Detect, align and label every photo of ``folder`` (see the module docstring).

    Parameters
    ----------
    folder : path
        Photos (any size; colour or gray).
    teacher : callable, optional
        (N, 112, 112, 3) uint8 RGB crops -> (N, 7) probabilities; default face-api.js's network.
    cache : path, optional
        An ``.npz`` to reuse (when made from the same files, teacher, holdout and seed) or write.
    holdout : float
        Share of photos held out (:func:`is_holdout`).
    seed : int
        Seeds the gray variant of each training row.
    limit : int
        > 0: only the first ``limit`` photos (smoke tests).
    align : bool
        Align the student's crops on the landmarks (the app's policy); False cuts the detector's box
        (to measure what alignment is worth).
    gray : str
        How the training rows become gray: ``"mixed"`` (a random one of
        :data:`~ferviz.data.camera.GRAY_VARIANTS` per photo, as cameras and libraries differ) or one variant's
        name for all (``"luma"``: to measure what the mix is worth). Held-out rows are always luma.
    """
    if gray != "mixed" and gray not in GRAY_VARIANTS:
        raise ValueError(f"unknown gray policy {gray!r}; choose mixed or one of {', '.join(GRAY_VARIANTS)}")
    folder = Path(folder)
    files = photo_files(folder)[: limit or None]
    names = np.array([str(f.relative_to(folder)) for f in files])
    key = {"names_sha1": hashlib.sha1("\n".join(names).encode()).hexdigest(), "holdout": holdout, "seed": seed,
           "teacher": getattr(teacher, "__name__", "faceapi"), "student_size": STUDENT_SIZE, "align": align}
    if gray != "mixed":  # the key of a mixed cache stays what it was before there was a choice
        key["gray"] = gray
    if cache is not None and Path(cache).is_file():
        with np.load(cache, allow_pickle=False) as data:
            if json.loads(str(data["key"])) == key:
                log.info("using the prepared photo faces in %s", cache)
                return PhotoFaces(data["names"], data["student"], data["teacher"], data["holdout"], data["found"])
    if teacher is None:
        from ferviz.model.faceapi import faceapi_probs as teacher
    held = np.array([is_holdout(n, holdout) for n in names])
    rng = np.random.default_rng(seed)
    variants = list(GRAY_VARIANTS) if gray == "mixed" else [gray]
    student = np.zeros((len(files), STUDENT_SIZE, STUDENT_SIZE), np.uint8)
    teacher_probs = np.zeros((len(files), 7), np.float32)
    found = np.zeros(len(files), bool)
    step = 256
    for start in range(0, len(files), step):
        chunk = files[start:start + step]
        boxes = np.zeros((len(chunk), TEACHER_SIZE, TEACHER_SIZE, 3), np.uint8)
        for j, path in enumerate(chunk):
            row = start + j
            crops = _crops(_read(path), align)  # one detection, both crops
            if crops is None:
                continue
            own, boxes[j] = crops
            variant = "luma" if held[row] else variants[rng.integers(len(variants))]
            student[row], found[row] = to_gray(own, variant), True
        got = found[start:start + len(chunk)]
        if got.any():
            teacher_probs[start:start + len(chunk)][got] = np.asarray(teacher(boxes[got]), np.float32)
        if progress:
            progress(min(start + step, len(files)), len(files))
    faces = PhotoFaces(names, student, teacher_probs, held, found)
    log.info("photo faces: %s", faces.describe())
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(cache).with_suffix(".tmp.npz")
        np.savez(tmp, names=names, student=student, teacher=teacher_probs, holdout=held, found=found,
                 key=json.dumps(key))
        tmp.replace(cache)
    return faces


def _crops(image: np.ndarray | None, align: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """The largest face's student crop (48 px, aligned unless ``align`` is False) and teacher crop (the box,
    112 px, colour), from one YuNet detection; None without an image or a face."""
    from ferviz.pipeline.crop import face_crop
    from ferviz.pipeline.faces import find_faces

    if image is None:
        return None
    search = find_faces(image, size=STUDENT_SIZE, max_faces=1, detector="yunet", align=align)
    if not search.faces:
        return None
    face = search.faces[0]
    box = face_crop(image, face.box, TEACHER_SIZE, TEACHER_MARGIN, align=False)
    return face.crop, (box if box.ndim == 3 else np.repeat(box[..., None], 3, axis=2))


def _read(path: Path) -> np.ndarray | None:
    """An RGB (or gray) uint8 array, or None for a file that does not decode (logged, skipped)."""
    try:
        return decode_image(path, name=path.name).rgb
    except FervizError as exc:  # one bad photo must not stop a folder of thousands
        log.warning("%s: skipped (%s)", path, exc)
        return None

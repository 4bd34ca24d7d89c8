"""Labelled folders of whole photos: every photo through the one face step, for ``evaluate --detect``.

A folder laid out like the ``folder`` dataset (:func:`ferviz.data.datasets.read_folder`: class folders
named after an expression, ``happy/``, ``Sad/``, ``3/``, optionally inside split folders) is read photo by
photo, in colour and at full size (up to the decoder's 2048-pixel cap), and each photo goes through
:func:`ferviz.pipeline.inference.classify_faces` (detect -> align/crop -> classify). The labelled face of a
photo is its largest one. A photo where no face is found gets no prediction: :mod:`ferviz.results.evaluation`
counts it as wrong and lists it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ferviz.data import _readers as rd
from ferviz.data.datasets import _FOLDER_CLASSES, _folder_label, _folder_roots
from ferviz.data.imageio import decode_image
from ferviz.errors import DatasetError, ImageError
from ferviz.model.checkpoint import LoadedModel
from ferviz.pipeline.faces import FaceOptions
from ferviz.pipeline.inference import FacePrediction, classify_faces

log = logging.getLogger(__name__)


@dataclass
class PhotoResult:
    """One labelled photo and what the face step made of it.

    Attributes
    ----------
    source : str
        Path relative to the folder (``happy/IMG_1.jpg``).
    label : int
        True class, an index into :data:`ferviz.data.labels.ALL_LABELS`.
    usage : str
        Split folder (``train``, ``test``) or ``''``.
    face : FacePrediction or None
        The photo's largest face; None when no face was found (or the file could not be decoded).
    message : str or None
        Why there is no face (the detector's message, or the decoding error).
    """

    source: str
    label: int
    usage: str
    face: FacePrediction | None
    message: str | None = None


def labelled_photos(folder: str | Path) -> tuple[Path, list[tuple[Path, int, str]], list[str]]:
    """The photos of a labelled folder: its root, ``(file, label, usage)`` per photo, and skipped folders.

    Raises
    ------
    DatasetError
        When the folder has no class folder with images.
    """
    path = Path(folder)
    if not path.is_dir():
        raise DatasetError(f"{path}: not a folder; --detect reads a folder of class folders of photos")
    base, roots = rd.search(path, _folder_roots)
    if not roots:
        raise DatasetError(f"{path}: no class folders with images (sub-folders named after an expression, "
                           "e.g. happy/, Sad/, anger/, or numbered 0-7 in FER2013 order)")
    skips = rd.SkipLog(str(path), False)
    files = rd.class_files(base, roots, _folder_label, _FOLDER_CLASSES, skips)
    items = [(file, label, "" if file.parent.parent == base else file.parent.parent.name) for file, label in files]
    return base, items, list(skips.lines)


def classify_photos(loaded: LoadedModel, folder: str | Path, *, options: FaceOptions = FaceOptions(),
                    tta: str = "none",
                    progress: Callable[[int, int], None] | None = None) -> tuple[list[PhotoResult], list[str]]:
    """Every photo of a labelled folder through detect -> align/crop -> classify (its largest face).

    Parameters
    ----------
    loaded : LoadedModel
        The model.
    folder : str or Path
        Class folders of photos (see the module docstring).
    options : FaceOptions
        Detector, minimum confidence, alignment; one face per photo (the largest) and never the
        centre-square fallback, whatever ``options`` says.
    tta : str
        Test-time augmentation (a key of :data:`ferviz.pipeline.tta.TTA_VIEWS`).
    progress : callable, optional
        ``progress(done, total)`` after every photo.

    Returns
    -------
    results : list of PhotoResult
        One per photo, in the folder's sorted order.
    skipped : list of str
        Folders that are not classes.
    """
    base, items, skipped = labelled_photos(folder)
    options = replace(options, max_faces=1, fallback="none")
    results = []
    for done, (file, label, usage) in enumerate(items, 1):
        source = file.relative_to(base).as_posix()
        try:
            image = decode_image(file, name=source)
        except ImageError as exc:
            results.append(PhotoResult(source, label, usage, None, str(exc)))
        else:
            faces, search = classify_faces(loaded, image.rgb, options=options, tta=tta)
            results.append(PhotoResult(source, label, usage, faces[0] if faces else None,
                                       None if faces else search.message))
        if progress is not None:
            progress(done, len(items))
    log.info("%s: a face in %d of %d photos", folder, sum(r.face is not None for r in results), len(results))
    return results, skipped

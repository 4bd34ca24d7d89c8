"""Batch jobs: photos, videos and folders of both, to one table of rows (``ferviz predict`` on many files).

:func:`collect_inputs` expands folders recursively (images and videos by suffix, sorted, hidden files
skipped); :func:`predict_path` turns one file into its rows, photo or video alike, with the same
columns (videos add ``frame``, ``time`` and ``track``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from ferviz.model.checkpoint import LoadedModel
from ferviz.pipeline.faces import FaceOptions
from ferviz.pipeline.inference import predict_image
from ferviz.pipeline.video import DETECT_SIDE, VIDEO_SUFFIXES, is_video, predict_video
from ferviz.text import printable

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp")


def collect_inputs(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Files to process, and one problem line per path that gives none.

    Parameters
    ----------
    paths : iterable of str or Path
        Files (taken as they are, whatever their suffix: the decoder says what is wrong) and folders
        (searched recursively for image and video suffixes, in sorted order, hidden entries skipped).

    Returns
    -------
    files : list of Path
    problems : list of str
        E.g. ``nope.jpg: no such file or folder``, ``empty/: no image or video inside``.
    """
    files: list[Path] = []
    problems: list[str] = []
    wanted = IMAGE_SUFFIXES + VIDEO_SUFFIXES
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in wanted
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                problems.append(f"{printable(path, 200)}/: no image or video inside "
                                f"({', '.join(s.lstrip('.') for s in wanted)})")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{printable(path, 200)}: no such file or folder")
    return files, problems


def predict_path(loaded: LoadedModel, path: Path, *, options: FaceOptions = FaceOptions(), every: int = 1,
                 smoothing: float = 0.6, detect_side: int | None = DETECT_SIDE,
                 annotate_dir: Path | None = None, progress: Callable[[int, int], None] | None = None,
                 tta: str = "none") -> tuple[list[dict], list[str]]:
    """One photo or video to its rows and messages.

    Parameters
    ----------
    loaded : LoadedModel
        The model.
    path : Path
        A photo or a video (told apart by suffix).
    options : FaceOptions
        Detector settings (videos never use the centre-square fallback).
    every, smoothing : int, float
        Videos only: process every Nth frame; EMA strength per track.
    detect_side : int, optional
        Videos only: faces are searched on a copy of each frame this large (None: full size).
    annotate_dir : Path, optional
        Videos only: write ``<stem>.annotated.mp4`` here.
    progress : callable, optional
        Videos only: ``progress(frames_read, frames_expected)``.
    tta : str
        Test-time augmentation (a key of :data:`ferviz.pipeline.tta.TTA_VIEWS`); rows then carry a ``tta`` column.

    Returns
    -------
    rows : list of dict
    messages : list of str

    Raises
    ------
    FervizError
        For a file that cannot be read as an image or a video.
    """
    if is_video(path):
        out = None
        if annotate_dir is not None:
            annotate_dir.mkdir(parents=True, exist_ok=True)
            out = annotate_dir / f"{path.stem}.annotated.mp4"
        result = predict_video(loaded, path, every=every, smoothing=smoothing, options=options, annotated=out,
                               detect_side=detect_side, progress=progress, tta=tta)
        for row in result.rows:
            row["image"] = str(path)
        summary = (f"{path}: video, {result.frames_processed} of {result.frames_read} frames processed, "
                   f"{len(result.tracks)} face(s) followed, {result.seconds:.1f} s")
        return result.rows, [summary, *result.messages]
    pred = predict_image(loaded, path, name=str(path), options=options, tta=tta)
    return pred.rows(), [pred.message] if pred.message else []


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of ``frame``, with text cells that a spreadsheet would run as a formula made inert.

    A cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return (e.g. a file named
    ``=cmd.jpg``) gets a leading apostrophe (OWASP's advice against CSV injection); numbers are untouched.
    """
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(_inert)
    return safe.to_csv(index=False).encode("utf-8")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value

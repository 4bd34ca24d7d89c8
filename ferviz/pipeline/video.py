"""Video files in, one row per face per processed frame out, with a track id per face.

Frames are read one at a time with OpenCV (mp4, webm, avi, mov, mkv: whatever its FFmpeg build reads)
and never kept: memory stays flat whatever the length. Every ``every``-th frame is processed (detect,
crop, classify, track, smooth); with ``annotated`` set, every frame is written to an mp4
(H.264, :mod:`ferviz.pipeline.encode`) with the latest boxes, track ids and labels drawn on it.

Limits, each stated in the result's ``messages`` when it applies (never an out-of-memory):

- at most ``max_seconds`` of video are processed (default :data:`MAX_SECONDS`);
- frames whose longer side exceeds :data:`MAX_SIDE` are downscaled before processing; boxes are
  reported in the video's own pixels.

A file that is not a readable video (empty, a text file named ``.mp4``, audio only, truncated before
the first frame) raises :class:`~ferviz.errors.VideoError` with one line naming the file.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import av
import cv2
import numpy as np

from ferviz.errors import VideoError
from ferviz.model.checkpoint import LoadedModel
from ferviz.pipeline.draw import draw_faces  # noqa: F401 - re-exported (callers import it from here)
from ferviz.pipeline.encode import VideoEncoder
from ferviz.pipeline.faces import FaceOptions
from ferviz.pipeline.inference import FacePrediction, classify_faces, follow, no_face_row
from ferviz.pipeline.tracking import Tracker
from ferviz.pipeline.tta import check_mode
from ferviz.text import printable

VIDEO_SUFFIXES = (".mp4", ".m4v", ".webm", ".avi", ".mov", ".mkv")
MAX_SECONDS = 600.0  # longer videos are processed up to this point
DETECT_SIDE = 480  # faces are searched on a copy of each frame this large (bench/video_clip.py)
MAX_SIDE = 1920  # larger frames are downscaled before processing


@dataclass(frozen=True)
class VideoInfo:
    """What the container says: frames per second, frame count (may be an estimate), size."""

    fps: float
    n_frames: int
    width: int
    height: int

    @property
    def duration(self) -> float:
        """Seconds, from the frame count and rate."""
        return self.n_frames / self.fps if self.fps > 0 else 0.0


@dataclass
class VideoPrediction:
    """Per-frame rows (the photo columns plus ``frame``, ``time``, ``track``) and what happened.

    Attributes
    ----------
    name : str
        The file name used in messages.
    info : VideoInfo
    rows : list of dict
        One per face per processed frame; a processed frame without a face gives one
        ``no face found`` row without a label.
    frames_read : int
        Frames decoded.
    frames_processed : int
        Frames that went through detection and the model.
    seconds : float
        Wall time of the whole job.
    messages : list of str
        Caps applied, early end of a truncated file, ...
    labels : list of str
        The model's classes (the probability columns).
    """

    name: str
    info: VideoInfo
    rows: list[dict]
    frames_read: int
    frames_processed: int
    seconds: float
    messages: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    @property
    def tracks(self) -> list[int]:
        """The track ids that appear, in order of first appearance."""
        seen: dict[int, None] = {}
        for row in self.rows:
            if row["track"] is not None:
                seen.setdefault(row["track"], None)
        return list(seen)


def is_video(path: str | Path) -> bool:
    """True when the file name ends with a video suffix (:data:`VIDEO_SUFFIXES`)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _open(path: str | Path) -> tuple[cv2.VideoCapture, VideoInfo, str]:
    path = Path(path)
    name = printable(path.name, 120)
    if not path.is_file():
        raise VideoError(f"{name}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{name}: the file is empty (0 bytes)")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{name}: cannot be read as a video; give an mp4, webm, avi, mov or mkv file")
    fps = cap.get(cv2.CAP_PROP_FPS)
    info = VideoInfo(fps=float(fps) if fps and math.isfinite(fps) and fps > 0 else 25.0,
                     n_frames=max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0),
                     width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
                     height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0))
    return cap, info, name


def probe_video(path: str | Path) -> VideoInfo:
    """The video's rate, frame count and size; :class:`VideoError` when it is not a readable video."""
    cap, info, name = _open(path)
    ok, _ = cap.read()
    cap.release()
    if not ok:
        raise VideoError(f"{name}: has no readable video frame (audio only, or cut short)")
    return info


def predict_video(loaded: LoadedModel, path: str | Path, *, every: int = 1,
                  options: FaceOptions = FaceOptions(), smoothing: float = 0.6, max_age: int | None = None,
                  max_seconds: float = MAX_SECONDS, detect_side: int | None = DETECT_SIDE,
                  annotated: str | Path | None = None,
                  progress: Callable[[int, int], None] | None = None, tta: str = "none") -> VideoPrediction:
    """Every face of every ``every``-th frame: box, track id, detector confidence, label, probabilities.

    Parameters
    ----------
    loaded : LoadedModel
        The (shared, read-only) model.
    path : str or Path
        The video file.
    every : int
        Process one frame in ``every`` (the others are only decoded, and annotated with the latest labels).
    options : FaceOptions
        Detector, minimum confidence, alignment, face cap. A centre-square fallback is never used on
        video: a frame without a face gets no label.
    smoothing : float
        EMA strength of each track's probabilities in [0, 1); 0 is off.
    max_age : int, optional
        Processed frames a track survives unseen; default about one second.
    max_seconds : float
        Stop after this much video, with a message.
    detect_side : int, optional
        Detect faces on a copy of each frame at most this many pixels on its longer side (default
        :data:`DETECT_SIDE`; None: the detector's own limit); crops come from the full frame.
    annotated : str or Path, optional
        Write an annotated copy (H.264 mp4) here.
    progress : callable, optional
        ``progress(frames_read, frames_expected)`` after every frame.
    tta : str
        Test-time augmentation of every face (a key of :data:`ferviz.pipeline.tta.TTA_VIEWS`); with one, every
        row has a ``tta`` column.

    Returns
    -------
    VideoPrediction

    Raises
    ------
    VideoError
        When the file is not a readable video.
    """
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    check_mode(tta)
    t0 = time.perf_counter()
    cap, info, name = _open(path)
    options = FaceOptions(**{**options.kwargs(), "fallback": "none"})
    age = max_age if max_age is not None else max(2, round(info.fps / every))
    tracker = Tracker(max_age=age, smoothing=smoothing)
    limit = int(max_seconds * info.fps)
    expected = min(info.n_frames, limit) if info.n_frames else limit
    messages: list[str] = []
    rows: list[dict] = []
    writer = None
    latest: list[tuple] = []  # what is drawn on frames that are not processed
    read = processed = 0
    try:
        while read < limit:
            ok, bgr = cap.read()
            if not ok:
                break
            if read == 0:
                scale = min(1.0, MAX_SIDE / max(bgr.shape[:2]))
                if scale < 1.0:
                    messages.append(f"frames of {bgr.shape[1]}x{bgr.shape[0]} pixels are processed at "
                                    f"{round(bgr.shape[1] * scale)}x{round(bgr.shape[0] * scale)} "
                                    f"(limit {MAX_SIDE} pixels on the longer side)")
                if annotated is not None:
                    writer = _writer(annotated, info.fps, bgr.shape[1], bgr.shape[0], name)
            if read % every == 0:
                small = bgr if scale == 1.0 else cv2.resize(bgr, None, fx=scale, fy=scale,
                                                            interpolation=cv2.INTER_AREA)
                faces = classify_frame(loaded, np.ascontiguousarray(small[:, :, ::-1]), tracker, read,
                                       read / info.fps, options=options, detect_side=detect_side, tta=tta,
                                       scale=scale)
                latest = [(f.box, f.track, f.label, f.confidence) for f in faces]
                rows.extend([f.row(name, tta) for f in faces] if faces
                            else [no_face_row(name, tta, frame=read, time_s=read / info.fps)])
                processed += 1
            if writer is not None:
                writer.write(draw_faces(bgr, latest))
            read += 1
            if progress is not None:
                progress(read, max(expected, read))
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if read == 0:
        raise VideoError(f"{name}: has no readable video frame (audio only, or cut short)")
    if read >= limit and (info.n_frames == 0 or info.n_frames > limit):
        messages.append(f"only the first {max_seconds:.0f} s were processed (limit {max_seconds:.0f} s); "
                        "cut the video to see the rest")
    elif info.n_frames and read < info.n_frames - 1:
        messages.append(f"the video ended after {read} of {info.n_frames} frames (the file may be cut short)")
    return VideoPrediction(name, info, rows, read, processed, time.perf_counter() - t0, messages,
                           list(loaded.labels))


def classify_frame(loaded: LoadedModel, rgb: np.ndarray, tracker: Tracker, frame: int, time_s: float, *,
                   options: FaceOptions = FaceOptions(), detect_side: int | None = DETECT_SIDE, tta: str = "none",
                   scale: float = 1.0) -> list[FacePrediction]:
    """One video frame: :func:`~ferviz.pipeline.inference.classify_faces`, then the tracker.

    Parameters
    ----------
    loaded : LoadedModel
        The model.
    rgb : (H, W, 3) uint8 ndarray
        The (possibly downscaled) frame, RGB order.
    tracker : Tracker
        The video's tracker (updated in place).
    frame, time_s : int, float
        The frame's number and time, recorded in each row.
    options, detect_side, tta
        As for :func:`predict_video`.
    scale : float
        ``rgb``'s size over the video's own; boxes are reported in the video's pixels.

    Returns
    -------
    list of FacePrediction
        One per face, with its track id and smoothed probabilities; empty when no face was found.
    """
    faces, _ = classify_faces(loaded, rgb, options=options, detect_side=detect_side, tta=tta)
    faces = follow(tracker, faces, list(loaded.labels), frame=frame, time_s=time_s)
    if scale < 1.0:
        faces = [replace(f, box=f.box.scaled(1.0 / scale)) for f in faces]
    return faces


def _writer(path: str | Path, fps: float, width: int, height: int, name: str) -> VideoEncoder:
    try:  # H.264: a format browsers play (ferviz.pipeline.encode)
        return VideoEncoder(path, fps, width, height)
    except (OSError, ValueError, av.error.FFmpegError) as exc:
        raise VideoError(f"{name}: cannot write the annotated video to {printable(path, 200)}") from exc

"""The Predict page's video mode: upload a clip, process it with a progress bar, show and export the result.

The processing itself is :func:`ferviz.pipeline.video.predict_video`; this module only handles the upload (OpenCV
reads from a path, so the bytes go to a private temporary file that is removed afterwards), the
settings widgets, the session cache and the rendering.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from ferviz.errors import FervizError
from ferviz.figures.video import timeline_figure
from ferviz.model.checkpoint import LoadedModel
from ferviz.pipeline.batch import csv_bytes
from ferviz.pipeline.encode import MIME
from ferviz.pipeline.faces import FaceOptions
from ferviz.pipeline.video import (
    MAX_SECONDS,
    MAX_SIDE,
    VIDEO_SUFFIXES,
    VideoPrediction,
    predict_video,
)
from ferviz.text import md_escape
from ferviz.ui.queue import heavy_work
from ferviz.ui.widgets import admit_uploads

MAX_UPLOAD_MB = 200  # this uploader's own limit (photos keep the server's 20 MB)
_RESULT_KEY = "ferviz_video_result"


def video_settings(key: str) -> tuple[int, float]:
    """Frames to skip and smoothing strength, side by side."""
    left, right = st.columns(2)
    every = left.slider("Process every Nth frame", 1, 10, 2, key=f"{key}_every",
                        help="the frames in between are only decoded; "
                             "the annotated copy keeps the latest labels")
    smoothing = right.slider("Smoothing of each face's probabilities", 0.0, 0.95, 0.6, 0.05,
                             key=f"{key}_smooth",
                             help="exponential moving average per tracked face; 0 is off")
    return every, smoothing


def run_video(loaded: LoadedModel, name: str, content: bytes, every: int, smoothing: float,
              options: FaceOptions) -> tuple[VideoPrediction, bytes] | str:
    """Process an uploaded clip with a progress bar.

    Returns ``(result, annotated mp4 bytes)``, or a one-line error message naming the file. The result
    is kept in the session under the clip's sha256, the model and the settings, so that moving a
    widget elsewhere on the page does not process the clip again.
    """
    digest = hashlib.sha256(content).hexdigest()
    key = (digest, loaded.sha256, every, smoothing, options)
    cached = st.session_state.get(_RESULT_KEY)
    if cached is not None and cached[0] == key:
        return cached[1]
    with heavy_work("the video"):
        outcome = _process(loaded, name, content, every, smoothing, options)
    st.session_state[_RESULT_KEY] = (key, outcome)
    return outcome


def _process(loaded: LoadedModel, name: str, content: bytes, every: int, smoothing: float,
             options: FaceOptions) -> tuple[VideoPrediction, bytes] | str:
    """Process the clip with a progress bar: ``(result, annotated mp4 bytes)`` or a one-line error."""
    bar = st.progress(0.0, text="Reading the video…")

    def progress(done: int, total: int) -> None:
        if done % 5 == 0 or done == total:
            bar.progress(min(done / max(total, 1), 1.0), text=f"Frame {done} of about {total}")

    suffix = Path(name).suffix.lower() if Path(name).suffix.lower() in VIDEO_SUFFIXES else ".mp4"
    with tempfile.TemporaryDirectory(prefix="ferviz_video_") as tmp:
        source, annotated = Path(tmp) / f"upload{suffix}", Path(tmp) / "annotated.mp4"
        source.write_bytes(content)
        try:
            result = predict_video(loaded, source, every=every, smoothing=smoothing, options=options,
                                   annotated=annotated, progress=progress)
        except FervizError as exc:
            outcome: tuple[VideoPrediction, bytes] | str = str(exc).replace("upload" + suffix, name)
        else:
            result.name = name
            for row in result.rows:
                row["image"] = name
            outcome = (result, annotated.read_bytes())
    bar.empty()
    return outcome


def show_video_result(result: VideoPrediction, annotated: bytes, labels: list[str], key: str) -> None:
    """Summary line, messages, the annotated video (playable), the timeline per face, and the two downloads."""
    frame = pd.DataFrame(result.rows)
    speed = result.frames_read / max(result.info.fps, 1e-9) / max(result.seconds, 1e-9)
    n_faces = int((frame["status"] == "face").sum()) if len(frame) else 0
    st.caption(f"{result.frames_processed} of {result.frames_read} frames processed · "
               f"{len(result.tracks)} face(s) followed · {n_faces} face detections · "
               f"{result.info.width}x{result.info.height} at {result.info.fps:.1f} fps · "
               f"{result.seconds:.1f} s ({speed:.1f}x real time)")
    for message in result.messages:
        st.warning(md_escape(message))
    if not n_faces:
        st.info("**No face found** in the processed frames — no expression label.")
    left, right = st.columns([2, 3])
    left.video(annotated, format=MIME)  # H.264: plays in every current browser (ferviz.pipeline.encode)
    left.caption("The annotated copy: each face's box, track number (#), label and probability, "
                 "smoothed as set above.")
    right.plotly_chart(timeline_figure(frame, labels), key=f"{key}_timeline", config={"displaylogo": False})
    a, b = st.columns(2)
    a.download_button("Download per-frame results (CSV)", csv_bytes(frame), file_name="ferviz_video.csv",
                      mime="text/csv", on_click="ignore", key=f"{key}_csv")
    b.download_button("Download the annotated video (mp4)", annotated, file_name="ferviz_annotated.mp4",
                      mime="video/mp4", on_click="ignore", key=f"{key}_mp4")


LIMITS_TEXT = (f"mp4, webm, avi, mov or mkv, up to {MAX_UPLOAD_MB} MB; the first {MAX_SECONDS / 60:.0f} "
               f"minutes are processed; frames over {MAX_SIDE} pixels are downscaled")


def video_upload(key: str) -> tuple[str, bytes] | None:
    """One video file (its name and bytes), or None until the user gives one."""
    up = st.file_uploader("Video", type=[s.lstrip(".") for s in VIDEO_SUFFIXES], key=f"{key}_video",
                          max_upload_size=MAX_UPLOAD_MB, help=LIMITS_TEXT)
    return (up.name, up.getvalue()) if up is not None and admit_uploads(f"{key}_video", up) else None

"""The Predict page's plumbing: pick pictures, predict each one on its own, and export the results.

:func:`choose_sources` is the only function here that draws widgets; the others are plain Python, so
that the per-file processing can be tested without a browser: :func:`predict_many` turns every picture
into an :class:`~ferviz.pipeline.inference.ImagePrediction` or a one-line error naming the file, and one bad file
never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd
import streamlit as st

from ferviz.data.datasets import FaceDataset
from ferviz.data.labels import ALL_LABELS
from ferviz.data.samples import SAMPLES, load_sample
from ferviz.errors import FervizError
from ferviz.model.checkpoint import LoadedModel
from ferviz.pipeline.faces import FaceOptions
from ferviz.pipeline.inference import FacePrediction, ImagePrediction, predict
from ferviz.text import md_escape, printable
from ferviz.ui.widgets import admit_uploads, choose_face, dataset_picker, open_page

log = logging.getLogger(__name__)

#: A picture to predict: its display name and either the file's bytes or an (H, W, 3) uint8 RGB array.
Source = tuple[str, bytes | np.ndarray]
#: What :func:`predict_many` returns per picture: the prediction, or an error message naming the file.
Outcome = tuple[str, ImagePrediction | str]

MAX_FILES = 20  # pictures processed per run; more are listed in a warning and skipped
MODES = ("samples", "upload", "webcam", "video", "dataset")
MODE_TEXT = {"samples": "built-in samples", "upload": "upload photos", "webcam": "webcam snapshot",
             "video": "video file", "dataset": "faces from your dataset"}


def choose_mode(key: str) -> str:
    """The kind of input: one of :data:`MODES`."""
    return st.radio("Pictures", MODES, horizontal=True, key=f"{key}_mode", format_func=MODE_TEXT.get)


def choose_sources(key: str, mode: str) -> list[Source]:
    """Widgets for the pictures of one photo mode: samples, several uploads at once, a snapshot, a dataset.

    Parameters
    ----------
    key : str
        Prefix of the widgets' keys (one per page).
    mode : str
        A key of :data:`MODES` other than ``video``.

    Returns
    -------
    list of (name, bytes or ndarray)
        At most :data:`MAX_FILES` pictures; empty until the user has given one.
    """
    if mode == "samples":
        names = st.multiselect("Samples", list(SAMPLES), default=[next(iter(SAMPLES))], key=f"{key}_samples",
                               help="public-domain pictures shipped with ferviz "
                                    "(scikit-image's astronaut and coffee)")
        return [(name, load_sample(name)) for name in names]
    if mode == "upload":
        files = st.file_uploader("Photos", accept_multiple_files=True, key=f"{key}_files",
                                 help="JPEG, PNG, GIF, BMP, TIFF or WEBP; several at once; up to 20 MB each")
        if not admit_uploads(f"{key}_files", files):
            return []
        return cap_sources([(f.name, f.getvalue()) for f in files or []])
    if mode == "dataset":
        return dataset_sources(key)
    shot = st.camera_input("Snapshot", key=f"{key}_camera")
    return [("webcam snapshot", shot.getvalue())] if shot is not None else []


def dataset_sources(key: str) -> list[Source]:
    """A few random items of a dataset the user points to (their own copy; nothing is shipped)."""
    try:
        picked = dataset_picker(key)
    except FervizError as exc:
        st.error(md_escape(str(exc)))
        return []
    ds = picked[0] if picked is not None else None
    count = st.slider("How many faces", 1, MAX_FILES, 4, key=f"{key}_count")
    seed = st.number_input("Random seed", 0, 10_000, 0, key=f"{key}_seed")
    return sample_items(ds, count, int(seed)) if ds is not None else []


def sample_items(ds: FaceDataset, count: int, seed: int) -> list[Source]:
    """``count`` random items as sources: 2-D face crops, or RGB frames where faces must be detected."""
    pick = np.random.default_rng(seed).choice(len(ds), size=min(count, len(ds)), replace=False)
    out: list[Source] = []
    for i in sorted(pick):
        image = ds.images[i]
        if ds.whole_frames:
            image = np.repeat(image[..., None], 3, axis=2)
        out.append((f"{ds.source[i]} (labelled {ALL_LABELS[ds.labels[i]]})", image))
    return out


def cap_sources(sources: list[Source], limit: int = MAX_FILES) -> list[Source]:
    """The first ``limit`` pictures; warns (in the page) about the ones skipped."""
    if len(sources) > limit:
        st.warning(f"{len(sources)} pictures given; processing the first {limit}. "
                   "Remove some to see the others.")
    return sources[:limit]


def predict_many(loaded: LoadedModel, sources: Iterable[Source], options: FaceOptions = FaceOptions()
                 ) -> list[Outcome]:
    """Predict each picture independently; a failure becomes that picture's error message.

    Parameters
    ----------
    loaded : LoadedModel
        The (shared, read-only) model.
    sources : iterable of (name, bytes or ndarray)
        The pictures, as :func:`choose_sources` gives them.
    options : FaceOptions
        Detector, minimum confidence, alignment and the no-face fallback.

    Returns
    -------
    list of (name, ImagePrediction or str)
        In input order. The message names the file and says what is wrong; no exception escapes.
    """
    outcomes: list[Outcome] = []
    for name, content in sources:
        try:
            outcomes.append((name, predict(loaded, content, name=name, options=options)))
        except FervizError as exc:
            outcomes.append((name, _naming(name, str(exc))))
        except Exception as exc:  # noqa: BLE001 - one broken picture must not take the page down
            log.exception("unexpected failure predicting %r", name)
            outcomes.append((name, _naming(name, f"could not be processed ({type(exc).__name__}); "
                                                 "the other pictures are not affected")))
    return outcomes


def results_frame(outcomes: Iterable[Outcome]) -> pd.DataFrame:
    """One row per face of every successful prediction (:meth:`ImagePrediction.rows`), plus ``seconds``."""
    rows = [{**row, "seconds": round(result.seconds, 4)}
            for _, result in outcomes if isinstance(result, ImagePrediction) for row in result.rows()]
    return pd.DataFrame(rows)


def _naming(name: str, message: str) -> str:
    """``message``, prefixed with the file's name unless it already starts with it (as decoding errors do)."""
    shown = printable(name, 100)
    return message if message.startswith(shown) else f"{name}: {message}"


def explain_button(faces: list[FacePrediction], name: str, key: str) -> None:
    """Open one of a picture's faces on the Attention page (a picker first when there are several)."""
    if not faces:
        return
    names = {("centre crop" if f.fallback else f"face #{f.index}"): f for f in faces}
    # one above the other: beside a picture the column can be narrow (a projector at 1024 pixels)
    what = next(iter(names)) if len(names) == 1 else st.selectbox("Face to explain", list(names), key=f"{key}_pick")
    if st.button("Explain this face" if len(names) == 1 else f"Explain {what}", key=key,
                 help="open this face on the Attention page (and every explain page)"):
        choose_face(names[what].crop, f"{name}, {what}")
        open_page("pages/3_Attention.py", "Attention")

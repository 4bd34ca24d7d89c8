"""Widgets that return plain values. Every page gets the model and a face the same way."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitAPIException

from ferviz.data.datasets import FaceDataset
from ferviz.data.samples import SAMPLES, load_sample
from ferviz.errors import FervizError
from ferviz.model.checkpoint import LoadedModel
from ferviz.paths import resolve_user_path
from ferviz.pipeline.faces import DETECTORS, MIN_CONFIDENCE, FaceOptions, default_detector, resolve_detector
from ferviz.pipeline.inference import ImagePrediction, predict
from ferviz.serve.access import (
    MAX_UPLOAD_MB,
    UploadBudget,
    listed_datasets,
    resolve_dataset_path,
    session_upload_limit_mb,
    shared_mode,
)
from ferviz.text import md_escape
from ferviz.ui.cache import load_dataset_cached, load_model, load_uploaded_dataset, shipped_models

MODEL_KEY = "ferviz_model_path"  # session key shared by every page
FACE_CROP_KEY = "ferviz_face_crop"  # (64, 64) uint8 face sent from the Evaluate page to the explain pages
FACE_SOURCE_KEY = "ferviz_face_source"



_BUDGET_KEY = "_ferviz_upload_budget"


def admit_uploads(widget: str, files) -> bool:
    """Whether the files now in upload widget ``widget`` fit this session's upload limit (shared mode);
    shows why not. ``files`` is one UploadedFile, a list of them, or None."""
    files = [] if files is None else files if isinstance(files, list) else [files]
    budget = st.session_state.get(_BUDGET_KEY)
    if budget is None:
        budget = st.session_state[_BUDGET_KEY] = UploadBudget(session_upload_limit_mb())
    problem = budget.admit(widget, [f.size for f in files])
    if problem:
        st.error(problem)
    return problem is None

def model_picker() -> LoadedModel | None:
    """Sidebar: pick a shipped checkpoint (or give a path).

    Returns
    -------
    LoadedModel or None
        The cached model; None while no path is given, or with an error shown when it cannot be loaded.
    """
    models = shipped_models()
    with st.sidebar:
        if not models:
            st.error("No model in models/. Train one with `ferviz train` (see README) or give a path below.")
        names = list(models) + ([] if shared_mode() else ["other file…"])  # shared: no server paths
        current = st.session_state.get(MODEL_KEY)
        index = next((i for i, n in enumerate(names) if str(models.get(n)) == current), 0)
        choice = st.selectbox("Model", names, index=index, help="checkpoints shipped in models/")
        if choice == "other file…":
            text = st.text_input("Checkpoint path (.pt)")
            if not text:
                return None
            try:
                path = resolve_user_path(text, suffixes=(".pt",))
            except FervizError as exc:
                st.error(md_escape(exc))
                return None
        else:
            path = models[choice]
    try:
        loaded = load_model(path)
    except FervizError as exc:
        st.error(md_escape(exc))
        return None
    st.session_state[MODEL_KEY] = str(path)
    return loaded


def dataset_picker(key: str, text_label: str = "Dataset file or folder") -> tuple[FaceDataset, str] | None:
    """A dataset: a typed path (local mode), or one of the operator's datasets or an upload (shared mode).

    Returns
    -------
    tuple of (FaceDataset, str) or None
        The dataset and a string that identifies it (its path, or the upload's name and sha256), for
        keys of session caches; None while nothing is chosen.

    Raises
    ------
    FervizError
        For a path that is not available, a refused upload or a malformed dataset.
    """
    if not shared_mode():
        text = st.text_input(text_label, key=f"{key}_data",
                             help="fer2013.csv, an image-folder release, CK+48/, a JAFFE folder, RAF-DB, "
                                  "an .npz archive, or your own class folders (happy/, sad/, … or 0/-6/)")
        if not text.strip():
            return None
        ds, ident = load_dataset_cached(text), str(resolve_dataset_path(text))
    else:
        listed = listed_datasets()
        choice = st.selectbox("Dataset", ["(upload one)", *listed], key=f"{key}_listed",
                              help="the datasets the operator of this server offers")
        if choice in listed:
            ds, ident = load_dataset_cached(str(listed[choice])), str(listed[choice])
        else:
            up = st.file_uploader("Dataset (.npz, or a .zip of the class folders)", type=["npz", "zip"],
                                  key=f"{key}_dataset_upload", max_upload_size=MAX_UPLOAD_MB)
            if up is None or not admit_uploads(f"{key}_dataset_upload", up):
                return None
            data = up.getvalue()
            ds = load_uploaded_dataset(up.name, data)
            ident = f"upload:{up.name}:{hashlib.sha256(data).hexdigest()[:16]}"
    return images_are(ds, key), ident


IMAGE_KINDS = {False: "face crops: use each image as it is",
               True: "photos: find the largest face in each first"}


def images_are(ds: FaceDataset, key: str) -> FaceDataset:
    """What the reader noticed (mixed sizes, numbered folders), and whether the images are crops or photos.

    The choice defaults to what the format declares (JAFFE: photos; the others: face crops) and is
    the app's ``--faces`` option.
    """
    for note in ds.notes:
        st.info(f"While reading: {md_escape(note)}")
    photos = st.radio("The images are", list(IMAGE_KINDS), index=int(ds.whole_frames), key=f"{key}_photos",
                      format_func=IMAGE_KINDS.get, horizontal=True,
                      help="photos go through the face detector (Face detection in the sidebar on Predict); "
                           "a photo without a detected face is scored on its centre square")
    return ds if photos == ds.whole_frames else ds.with_whole_frames(photos)


def second_model_picker(loaded: LoadedModel) -> LoadedModel | None:
    """Sidebar: optionally a second shipped model, to label the same faces side by side; None when off."""
    mine = loaded.path.resolve()
    models = {name: path for name, path in shipped_models().items() if path.resolve() != mine}
    with st.sidebar:
        choice = st.selectbox("Compare with", ["(no second model)", *models], key="second_model",
                              help="label the same faces with a second shipped model "
                                   "and show where they differ")
    if choice not in models:
        return None
    try:
        other = load_model(models[choice])
    except FervizError as exc:
        st.sidebar.error(md_escape(exc))
        return None
    if other.preprocessing.size != loaded.preprocessing.size:
        st.sidebar.warning("That model takes faces of another size; it cannot label the same crops.")
        return None
    return other


DETECTOR_TEXT = {"yunet": "YuNet (CNN, 5 landmarks)", "haar": "Haar cascade (OpenCV)"}


def face_options(key: str = "faces") -> FaceOptions:
    """Sidebar: detector, minimum confidence, alignment and the explicit centre-crop fallback."""
    with st.sidebar.expander("Face detection", expanded=False):
        names = list(DETECTORS)
        default = names.index(default_detector())
        detector = st.selectbox("Detector", names, index=default, key=f"{key}_detector",
                                format_func=lambda n: DETECTOR_TEXT.get(n, n),
                                help="YuNet is the default; the Haar cascade is the classic alternative")
        used = resolve_detector(detector)
        if used != detector:
            st.caption("yuface is not installed here: the Haar cascade is used instead.")
        confidence = st.slider("Minimum detector confidence", 0.1, 0.99, MIN_CONFIDENCE, 0.01,
                               key=f"{key}_confidence", disabled=used != "yunet",
                               help="YuNet detections scoring below this are not treated as faces")
        align = st.checkbox("Align the face (eyes level, FER2013 framing)", value=True, key=f"{key}_align",
                            disabled=used != "yunet", help="uses YuNet's five landmarks; off: the square box crop")
        centre = st.checkbox("No face found: classify the centre square anyway", value=False,
                             key=f"{key}_centre", help="the result is labelled as a centre crop, not a face")
    return FaceOptions(detector=used, min_confidence=confidence, align=align and used == "yunet",
                       fallback="centre" if centre else "none")


def image_source(key: str, *, allow_camera: bool = True) -> tuple[str, object] | None:
    """Pick one picture: a built-in sample, an upload or a webcam snapshot.

    Parameters
    ----------
    key : str
        Prefix of the widgets' keys (one per page).
    allow_camera : bool
        Offer the webcam snapshot.

    Returns
    -------
    tuple of (str, bytes or ndarray) or None
        The picture's name and its file's bytes or (H, W, 3) uint8 RGB array; None until one is given.
    """
    options = ["sample", "upload"] + (["webcam"] if allow_camera else [])
    source = st.radio("Picture", options, horizontal=True, key=f"{key}_source")
    if source == "sample":
        name = st.selectbox("Sample", list(SAMPLES), key=f"{key}_sample")
        return name, load_sample(name)
    if source == "upload":
        up = st.file_uploader("Image", type=None, key=f"{key}_upload")
        return (up.name, up.getvalue()) if up is not None and admit_uploads(f"{key}_upload", up) else None
    shot = st.camera_input("Snapshot", key=f"{key}_camera")
    return ("webcam snapshot", shot.getvalue()) if shot is not None else None


def predict_source(loaded: LoadedModel, name: str, content, options: FaceOptions = FaceOptions()
                   ) -> ImagePrediction | None:
    """Predict every face of a picture (bytes or array); shows a clear error instead of raising."""
    try:
        return predict(loaded, content, name=name, options=options)
    except FervizError as exc:
        st.error(md_escape(exc))
        return None


def choose_face(crop: np.ndarray, source: str) -> None:
    """Remember ``crop`` (64x64 uint8) as the face every explain page opens on, described by ``source``."""
    st.session_state[FACE_CROP_KEY] = np.asarray(crop, dtype=np.uint8).tolist()
    st.session_state[FACE_SOURCE_KEY] = source


def open_page(page: str, label: str) -> None:
    """Go to ``page``; where it is not part of the running app (a lone AppTest), say where to find it."""
    try:
        st.switch_page(page)
    except StreamlitAPIException:
        st.caption(f"Open **{label}** from the sidebar.")


def page_link(page: str, label: str) -> None:
    """``st.page_link``, or a plain hint where the page is not part of the running app."""
    try:
        st.page_link(page, label=label)
    except StreamlitAPIException:
        st.caption(f"Open **{label}** from the sidebar.")


def face_picker(key: str, loaded: LoadedModel) -> tuple[ImagePrediction, int] | None:
    """A picture and one of its faces, for the teaching pages.

    Parameters
    ----------
    key : str
        Prefix of the widgets' keys (one per page).
    loaded : LoadedModel
        The model that predicts the picture's faces.

    Returns
    -------
    tuple of (ImagePrediction, int) or None
        The prediction and the index of the chosen face in ``prediction.faces``; None, with a message
        shown, when there is no picture yet, it cannot be read, or it has no face.
    """
    crop = st.session_state.get(FACE_CROP_KEY)
    if crop is not None:
        name = str(st.session_state.get(FACE_SOURCE_KEY, "the face you chose"))
        if st.toggle(f"Use the face you chose last: {md_escape(name)}", value=True, key=f"{key}_from_eval",
                     help="set by “Explain this face” on Predict or Evaluate, or by the last face picked "
                          "on any explain page; switch off to pick another picture"):
            return predict(loaded, np.asarray(crop, dtype=np.uint8), name=name), 0
    picked = image_source(key)
    if picked is None:
        st.info("Choose a sample, upload a photo, or take a snapshot.")
        return None
    pred = predict_source(loaded, *picked, options=face_options(key))
    if pred is None:
        return None
    if not pred.faces:
        st.warning(f"{md_escape(pred.message or 'No face found')}: nothing to explain. "
                   "Choose a picture with a face, or tick “classify the centre square anyway” "
                   "under Face detection in the sidebar.")
        return None
    if pred.message:
        st.warning(md_escape(pred.message))
    index = 0
    if len(pred.faces) > 1:
        index = st.selectbox("Face", range(len(pred.faces)), key=f"{key}_face",
                             format_func=lambda i: f"face #{i}: {pred.faces[i].label}")
    face = pred.faces[index]
    choose_face(face.crop, f"{pred.name}, {'centre crop' if face.fallback else f'face {face.index}'}")
    return pred, index

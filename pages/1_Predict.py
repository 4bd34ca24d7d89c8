"""Predict: every face's expression in photos (several at once), a webcam snapshot, samples or a video."""

import streamlit as st

from ferviz.figures.predict import faces_figure, faces_probs_figure, probs_figure
from ferviz.pipeline.batch import csv_bytes
from ferviz.pipeline.inference import reclassify, side_by_side
from ferviz.pipeline.tta import model_views
from ferviz.text import md_escape
from ferviz.ui.navigation import TAB_ICON, ensure_navigation
from ferviz.ui.predict import choose_mode, choose_sources, explain_button, predict_many, results_frame
from ferviz.ui.video import LIMITS_TEXT, run_video, show_video_result, video_settings, video_upload
from ferviz.ui.widgets import face_options, model_picker, second_model_picker

ensure_navigation()
st.set_page_config(page_title="ferviz · Predict", page_icon=TAB_ICON, layout="wide")
st.title("Predict")
st.caption("Each face is found by the detector chosen in the sidebar (YuNet by default), aligned on its landmarks "
           "(eyes level and placed where FER2013's faces have them), cropped to the model's input and classified by "
           "the model picked there. A picture with no face gets no expression label; a dashed box marks a centre "
           "crop you asked for instead.")

loaded = model_picker()
if loaded is None:
    st.info("Pick a model in the sidebar to start.")
    st.stop()

options = face_options("predict")
mode = choose_mode("predict")
if mode == "video":
    picked = video_upload("predict")
    every, smoothing = video_settings("predict")
    if picked is None:
        st.info(f"Upload a video ({LIMITS_TEXT}). Each face gets an id that follows it from frame to frame, "
                "its probabilities over time, and you can download the annotated video and a CSV.")
        st.stop()
    outcome = run_video(loaded, *picked, every, smoothing, options)
    if isinstance(outcome, str):
        st.error(md_escape(outcome))
        st.stop()
    st.subheader(md_escape(picked[0]), divider="gray")
    show_video_result(*outcome, loaded.labels, "predict")
    st.stop()

# In webcam mode the camera sits on the left and the result on the right, so the result is visible
# without scrolling past the camera preview.
camera_col, results = st.columns([2, 3]) if mode == "webcam" else (st.container(), st.container())
with camera_col:
    sources = choose_sources("predict", mode)
if not sources:
    st.info("Pick a sample, upload photos, take a webcam snapshot or upload a video.")
    st.stop()

other = second_model_picker(loaded)
outcomes = predict_many(loaded, sources, options)
with results:
    for i, (name, result) in enumerate(outcomes):
        st.subheader(md_escape(name), divider="gray")
        if isinstance(result, str):
            st.error(md_escape(result))
            continue
        height, width = result.image.rgb.shape[:2]
        faces = len(result.faces) - sum(f.fallback for f in result.faces)
        if not result.faces:
            st.info(f"**{md_escape(result.message or 'No face found')}** — no expression label. "
                    "(Sidebar › Face detection: lower the minimum confidence, "
                    "or classify the centre square.)")
        elif result.message:
            st.warning(md_escape(result.message))
        st.caption(f"{faces} face(s) found by {result.detector} · {width}x{height} pixels · "
                   f"processed in {result.seconds * 1000:.0f} ms"
                   + (" · each face averaged with its mirror image (the model's own view)"
                      if result.faces and model_views(loaded) == "flip" else ""))
        if result.notes:
            st.caption("Decoding: " + "; ".join(result.notes))
        left, right = st.columns([3, 2]) if mode != "webcam" else (st.container(), st.container())
        left.plotly_chart(faces_figure(result), key=f"faces_{i}", config={"displaylogo": False})
        with right:
            if len(result.faces) == 1:
                face = result.faces[0]  # bars, then the model's input below them (as for a group photo)
                st.plotly_chart(probs_figure(face, loaded.labels), key=f"probs_{i}_{face.index}",
                                config={"displayModeBar": False})
                st.image(face.crop, caption="model input", width=64, clamp=True)
            elif result.faces:  # a group photo: one compact grid beside the picture, not a chart per face
                st.plotly_chart(faces_probs_figure(result.faces, loaded.labels), key=f"probs_{i}",
                                config={"displayModeBar": False})
                st.caption("Probability of each class (%), one row per face; faces are numbered (#) left "
                           "to right, top to bottom, and the predicted class is outlined. The model's "
                           "64x64 inputs:")
                st.image([f.crop for f in result.faces], caption=[str(f.index) for f in result.faces],
                         width=48, clamp=True)
            explain_button(result.faces, name, f"explain_{i}")
        if other is not None and result.faces:
            rows = side_by_side(result, reclassify(other, result), loaded.path.stem, other.path.stem)
            disagree = sum(not r["agree"] for r in rows)
            st.caption(f"Side by side with **{md_escape(other.path.stem)}** on the same faces: "
                       f"{disagree} of {len(rows)} face(s) labelled differently.")
            st.dataframe(rows, hide_index=True, key=f"compare_{i}")

    frame = results_frame(outcomes)
    done = sum(not isinstance(result, str) for _, result in outcomes)
    st.divider()
    n_faces = int((frame["status"] != "no face found").sum()) if len(frame) else 0
    st.caption(f"{done} of {len(outcomes)} picture(s) processed, {n_faces} face(s) in all.")
    if len(frame):
        st.download_button("Download results (CSV)", csv_bytes(frame), file_name="ferviz_predictions.csv",
                           mime="text/csv", on_click="ignore")

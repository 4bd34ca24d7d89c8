"""The Predict page (AppTest) and its per-file helpers (direct calls with a tiny seeded model)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data
from streamlit.testing.v1 import AppTest

from ferviz.model.checkpoint import load_checkpoint
from ferviz.pipeline.batch import csv_bytes
from ferviz.pipeline.faces import FaceOptions
from ferviz.pipeline.inference import ImagePrediction
from ferviz.text import md_escape
from ferviz.ui import predict as ui_predict
from ferviz.ui.predict import predict_many, results_frame

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "1_Predict.py")


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def astronaut_png() -> bytes:
    return png_bytes(data.astronaut()[::2, ::2].copy())  # public domain, 256x256


@pytest.fixture
def tiny(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


def charts(at: AppTest) -> list:
    return list(at.get("plotly_chart"))


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


# ---- the page -------------------------------------------------------------------------------------

def test_sample_source_shows_boxes_probabilities_time_and_csv():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert at.radio(key="predict_mode").value == "samples"
    assert at.multiselect(key="predict_samples").value  # a sample is preselected: results at once
    n_faces = len(at.get("image"))  # one model-input crop per face
    assert n_faces >= 1
    assert len(charts(at)) == 1 + n_faces  # the boxed picture, then one probability chart per face
    assert len(at.columns) == 2  # picture | results, nothing nested: a narrow column (a projector) clips nothing
    assert [b.label for b in at.button] == ["Explain this face"]
    assert [img.caption for img in at.get("image")[0].proto.imgs] == ["model input"]
    assert "processed in" in captions(at) and " ms" in captions(at)
    assert len(at.download_button) == 1 and "CSV" in at.download_button[0].label
    assert not at.error


def test_no_face_sample_says_so():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.multiselect(key="predict_samples").set_value(["no face (coffee cup)"]).run()
    assert not at.exception
    assert any("No face found" in i.value and "no expression label" in i.value for i in at.info)
    assert "0 face(s) found" in captions(at)
    assert len(charts(at)) == 1  # the picture only: no probability bars for something that is not a face
    at.checkbox(key="predict_centre").check().run()  # the explicit choice: classify the centre square
    assert any("centre square" in w.value for w in at.warning)
    assert len(charts(at)) == 2


def test_bad_upload_gets_its_own_error_and_the_good_one_still_works(astronaut_png):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="predict_mode").set_value("upload").run()
    uploader = at.file_uploader(key="predict_files")
    assert uploader.accept_multiple_files
    uploader.set_value([("x.jpg", b"not an image", "image/jpeg"),
                        ("face.png", astronaut_png, "image/png")]).run()
    assert not at.exception
    assert len(at.error) == 1 and md_escape("x.jpg") in at.error[0].value
    assert [s.value for s in at.subheader] == [md_escape("x.jpg"), md_escape("face.png")]
    assert len(charts(at)) >= 2 and len(at.download_button) == 1
    assert "1 of 2 picture(s) processed" in captions(at)


def test_video_mode_shows_tracks_over_time_and_offers_both_downloads(tmp_path):
    from tests.pipeline.test_video import write_clip

    clip = write_clip(tmp_path / "clip.mp4", frames=8).read_bytes()
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.radio(key="predict_mode").set_value("video").run()
    assert any("Upload a video" in i.value for i in at.info)
    at.file_uploader(key="predict_video").set_value([("clip.mp4", clip, "video/mp4")]).run()
    assert not at.exception and not at.error
    text = captions(at)
    assert "4 of 8 frames processed" in text and "1 face(s) followed" in text  # every 2nd frame by default
    assert len(charts(at)) == 1 and len(at.get("video")) == 1  # timeline + the annotated video
    labels = [b.label for b in at.download_button]
    assert any("CSV" in x for x in labels) and any("mp4" in x for x in labels)
    at.file_uploader(key="predict_video").set_value([("broken.mp4", b"not a video", "video/mp4")]).run()
    assert not at.exception and len(at.error) == 1 and "broken" in at.error[0].value


def test_nothing_chosen_shows_a_hint_not_an_error():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.multiselect(key="predict_samples").set_value([]).run()
    assert not at.exception and not at.error
    assert at.info and not charts(at)


# ---- the helpers ----------------------------------------------------------------------------------

def test_bad_bytes_name_the_file_while_a_good_file_is_predicted(tiny, astronaut_png):
    outcomes = predict_many(tiny, [("x.jpg", b"not an image"), ("good.png", astronaut_png)])
    assert [name for name, _ in outcomes] == ["x.jpg", "good.png"]
    error, good = outcomes[0][1], outcomes[1][1]
    assert isinstance(error, str) and error.startswith("x.jpg") and "not an image" in error
    assert isinstance(good, ImagePrediction) and good.faces
    assert set(good.faces[0].probs) == set(tiny.labels)


def test_arrays_are_predicted_without_decoding(tiny):
    ((name, pred),) = predict_many(tiny, [("coffee", data.coffee())])
    assert name == "coffee" and isinstance(pred, ImagePrediction)
    assert pred.faces == [] and pred.message == "No face found"
    ((_, centre),) = predict_many(tiny, [("coffee", data.coffee())], FaceOptions(fallback="centre"))
    assert centre.faces[0].fallback and "centre square" in centre.message


def test_an_unexpected_failure_is_contained_to_its_file(tiny, astronaut_png, monkeypatch):
    real = ui_predict.predict

    def flaky(loaded, content, name, options):
        if name == "boom.png":
            raise RuntimeError("internal detail")
        return real(loaded, content, name=name, options=options)

    monkeypatch.setattr(ui_predict, "predict", flaky)
    outcomes = predict_many(tiny, [("boom.png", astronaut_png), ("ok.png", astronaut_png)])
    assert outcomes[0][1].startswith("boom.png: could not be processed (RuntimeError)")
    assert "internal detail" not in outcomes[0][1]
    assert isinstance(outcomes[1][1], ImagePrediction)


def test_results_frame_has_one_row_per_face_and_skips_errors(tiny, astronaut_png):
    outcomes = predict_many(tiny, [("a.png", astronaut_png), ("bad.jpg", b""), ("b.png", astronaut_png)])
    frame = results_frame(outcomes)
    n_faces = sum(len(r.faces) for _, r in outcomes if isinstance(r, ImagePrediction))
    assert len(frame) == n_faces and set(frame["image"]) == {"a.png", "b.png"}
    columns = {"face", "status", "x", "y", "w", "h", "detector_confidence", "label", "confidence", "seconds",
               *tiny.labels}
    assert columns <= set(frame)
    assert results_frame([("bad.jpg", "bad.jpg: not an image")]).empty
    cup = predict_many(tiny, [("cup.png", data.coffee())])
    (row,) = results_frame(cup).to_dict("records")
    assert row["status"] == "no face found" and row["label"] == "" and row["image"] == "cup.png"


def test_csv_makes_formula_like_names_inert_and_keeps_numbers():
    frame = pd.DataFrame({"image": ["=cmd|' /C calc'!A0.jpg", "plain.jpg", "-1.png"], "x": [-3, 4, 5]})
    back = pd.read_csv(io.BytesIO(csv_bytes(frame)))
    assert list(back["image"]) == ["'=cmd|' /C calc'!A0.jpg", "plain.jpg", "'-1.png"]
    assert list(back["x"]) == [-3, 4, 5]


def test_too_many_uploads_are_capped():
    sources = [(f"{i}.png", b"") for i in range(ui_predict.MAX_FILES + 3)]
    assert len(ui_predict.cap_sources(sources)) == ui_predict.MAX_FILES


def test_faces_from_a_dataset_the_user_points_to(tiny_npz, tmp_path):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="predict_mode").set_value("dataset").run()
    assert not at.exception and not charts(at)
    at.text_input(key="predict_data").input(str(tmp_path / "missing.npz")).run()
    assert len(at.error) == 1 and md_escape("not found, or not available here") in at.error[0].value
    at.text_input(key="predict_data").input(str(tiny_npz)).run()
    at.slider(key="predict_count").set_value(3).run()
    assert not at.exception and not at.error
    assert len(at.subheader) == 3 and all("labelled" in s.value for s in at.subheader)
    assert len(charts(at)) == 3 * 2  # each crop: its picture and its probabilities, no detection fallback
    assert not any("No face" in w.value for w in at.warning)


def test_a_second_model_labels_the_same_faces_side_by_side():
    at = AppTest.from_file(PAGE, default_timeout=90).run()
    choices = at.selectbox(key="second_model").options
    other = next(c for c in choices if c != "(no second model)")
    at.selectbox(key="second_model").set_value(other).run()
    assert not at.exception
    assert any("Side by side with" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert len(table) == 1 and {"agree"} <= set(table.columns)


def test_webcam_mode_puts_the_camera_beside_the_result():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="predict_mode").set_value("webcam").run()
    assert not at.exception
    assert at.get("camera_input") and len(at.columns) >= 2  # camera on the left, results on the right


def test_shared_mode_takes_no_server_path(tiny_npz, monkeypatch):
    monkeypatch.setenv("FERVIZ_SHARED", "1")
    monkeypatch.setenv("FERVIZ_DATA_ROOTS", str(tiny_npz.parent))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert "other file…" not in at.sidebar.selectbox[0].options  # no checkpoint path either
    at.radio(key="predict_mode").set_value("dataset").run()
    assert not at.exception and not at.text_input  # no field takes a path
    listed = at.selectbox(key="predict_listed")
    assert listed.options == ["(upload one)", f"{tiny_npz.parent.name}/tiny.npz"]
    listed.set_value(listed.options[1]).run()
    assert not at.exception and charts(at)  # faces from the operator's dataset
    listed.set_value("(upload one)").run()
    upload = at.file_uploader(key="predict_dataset_upload")
    upload.set_value([("evil.zip", b"PK not a zip", "application/zip")]).run()
    assert not at.exception and "not a readable zip" in at.error[0].value


def test_shared_mode_caps_what_one_session_holds_in_uploads(astronaut_png, monkeypatch):
    monkeypatch.setenv("FERVIZ_SHARED", "1")
    monkeypatch.setenv("FERVIZ_SESSION_UPLOAD_MB", str(1.5 * len(astronaut_png) / 2**20))  # room for one
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="predict_mode").set_value("upload").run()
    at.file_uploader(key="predict_files").set_value([("a.png", astronaut_png, "image/png")]).run()
    assert not at.error and [s.value for s in at.subheader] == [md_escape("a.png")]
    at.file_uploader(key="predict_files").set_value([("a.png", astronaut_png, "image/png"),
                                                     ("b.png", astronaut_png, "image/png")]).run()
    assert not at.exception and len(at.error) == 1
    assert "a session may hold" in at.error[0].value and not at.subheader  # nothing processed
    at.file_uploader(key="predict_files").set_value([("b.png", astronaut_png, "image/png")]).run()
    assert not at.error and [s.value for s in at.subheader] == [md_escape("b.png")]  # removing freed it

"""Tests for the one face step (classify_faces) and the one row type: photo, video frame, Live, folders."""

import json

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from ferviz.data.imageio import DecodedImage
from ferviz.model.checkpoint import load_checkpoint
from ferviz.pipeline.faces import FaceOptions
from ferviz.pipeline.inference import FacePrediction, classify_faces, no_face_row, predict_decoded
from ferviz.pipeline.live import LiveProcessor, LiveSettings, analyse_frame
from ferviz.pipeline.tracking import Tracker
from ferviz.pipeline.video import classify_frame

ASTRONAUT = skdata.astronaut()
SHARED = ("face", "status", "x", "y", "w", "h", "detector_confidence", "aligned", "label", "confidence")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch

    from ferviz.data.labels import EMOTIONS
    from ferviz.data.preprocess import Preprocessing
    from ferviz.model.checkpoint import save_checkpoint
    from ferviz.model.network import build_model
    from tests.helpers import TINY

    torch.manual_seed(0)
    model = build_model("dcnn_bilstm_dam", **TINY).eval()
    path = save_checkpoint(tmp_path_factory.mktemp("step") / "tiny.pt", model, labels=list(EMOTIONS),
                           preprocessing=Preprocessing(), variant="dcnn_bilstm_dam", metrics={"accuracy": 0.0},
                           meta={"dataset": "synthetic"})
    return load_checkpoint(path)


def without_where(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("image", "frame", "time", "track")}


def test_the_same_face_gives_the_same_row_through_photo_video_and_live(tiny):
    image = DecodedImage(rgb=ASTRONAUT, name="astronaut", original_size=(512, 512), scale=1.0)
    photo = predict_decoded(tiny, image).rows()
    video = [f.row("astronaut") for f in classify_frame(tiny, ASTRONAUT, Tracker(smoothing=0.0), 0, 0.0,
                                                         detect_side=None)]
    settings = LiveSettings(smoothing=0.0, detect_side=4096)  # detection at full size, as the photo path
    live_rows = [f.row("astronaut") for f in analyse_frame(np.ascontiguousarray(ASTRONAUT[:, :, ::-1]), tiny,
                                                           settings)]
    with LiveProcessor(tiny, settings) as live:
        live.submit(np.ascontiguousarray(ASTRONAUT[:, :, ::-1]))
        assert live.wait_processed(1, timeout=60)
        tracked = [f.row("astronaut") for f in live.status().faces]
    assert len(photo) == 1 and photo[0]["status"] == "face" and photo[0]["aligned"] is True
    assert set(SHARED) <= set(photo[0])
    for other in (video, live_rows, tracked):
        assert [without_where(r) for r in other] == [without_where(r) for r in photo]
    assert video[0]["frame"] == 0 and video[0]["track"] == 0 and tracked[0]["track"] == 0


def test_rows_of_a_photo_without_a_face_and_of_a_frame_without_one_match():
    photo, frame = no_face_row("cup.png"), no_face_row("clip.mp4", frame=3, time_s=0.12)
    assert photo["status"] == frame["status"] == "no face found" and photo["label"] == frame["label"] == ""
    assert without_where(photo) == without_where(frame) and frame["frame"] == 3 and frame["track"] is None
    assert no_face_row("x", tta="flip")["tta"] == "flip"


def test_classify_faces_keeps_colour_for_comparison_and_gives_the_gray_model_gray(tiny):
    faces, search = classify_faces(tiny, ASTRONAUT)
    (face,) = faces
    assert isinstance(face, FacePrediction) and search.detector in ("yunet", "haar")
    assert face.crop.shape == (64, 64) and face.colour.shape == (64, 64, 3)
    assert sum(face.probs.values()) == pytest.approx(1.0, abs=1e-5)
    plain, _ = classify_faces(tiny, ASTRONAUT, options=FaceOptions(align=False))
    assert not plain[0].aligned and not np.array_equal(plain[0].crop, face.crop)


def save_folder(root, photos: dict[str, list[np.ndarray]]) -> None:
    for cls, images in photos.items():
        (root / cls).mkdir(parents=True)
        for i, rgb in enumerate(images):
            Image.fromarray(rgb).save(root / cls / f"photo{i}.png")


def test_evaluate_detect_counts_a_photo_without_a_face_as_wrong_and_lists_it(tiny, tmp_path):
    from ferviz.results.evaluation import evaluate_photos

    small = cv2.resize(ASTRONAUT, (300, 300), interpolation=cv2.INTER_AREA)
    save_folder(tmp_path / "photos", {"happy": [ASTRONAUT, np.full((200, 300, 3), 90, np.uint8)],
                                      "sad": [cv2.flip(ASTRONAUT, 1)], "neutral": [small]})
    result = evaluate_photos(tiny, tmp_path / "photos", options=FaceOptions(detector="yunet"))
    meta = result.report.meta
    assert meta["n_photos"] == 4 and meta["n_no_face"] == 1 and result.report.n == 3
    assert result.no_face == ["happy/photo1.png: No face found"] == meta["no_face"]
    rows = result.rows()
    assert [r["status"] for r in rows] == ["face", "no face found", "face", "face"]
    assert [r["true"] for r in rows] == ["happy", "happy", "neutral", "sad"]
    correct = sum(r["correct"] for r in rows)
    assert result.report.scores["accuracy_all_photos"] == pytest.approx(correct / 4)
    assert result.report.accuracy == pytest.approx(correct / 3)  # the faces found
    assert all(r["aligned"] for r in rows if r["status"] == "face")


def test_a_folder_without_a_face_says_why_once_per_photo(tiny, tmp_path):
    from ferviz.results.evaluation import evaluate_photos

    (tmp_path / "photos" / "happy").mkdir(parents=True)
    (tmp_path / "photos" / "happy" / "notes.jpg").write_text("not an image")
    with pytest.raises(ValueError) as error:
        evaluate_photos(tiny, tmp_path / "photos", options=FaceOptions(detector="yunet"))
    message = str(error.value)
    assert "no face found in any of the 1 photos (first: happy/notes.jpg: not an image" in message
    assert message.count("happy/notes.jpg") == 1  # the reader's message names the photo; not twice


def test_the_cli_evaluate_detect_prints_and_saves_the_report(tiny, tmp_path, capsys):
    from ferviz.cli import main

    save_folder(tmp_path / "photos", {"happy": [ASTRONAUT], "sad": [np.full((120, 120, 3), 30, np.uint8)]})
    out = tmp_path / "report.json"
    code = main(["evaluate", "--model", str(tiny.path), "--data", str(tmp_path / "photos"), "--detect",
                 "--no-align", "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "accuracy over all 2 photos" in text and "sad/photo0.png" in text
    saved = json.loads(out.read_text())
    assert saved["meta"]["n_no_face"] == 1 and saved["meta"]["aligned"] is False

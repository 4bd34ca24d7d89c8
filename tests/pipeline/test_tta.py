"""Test-time augmentation: the views each mode makes, their average, and every path that offers it."""

import json

import numpy as np
import pytest

from ferviz.model.checkpoint import load_checkpoint
from ferviz.pipeline.inference import classify_crops, predict
from ferviz.pipeline.tta import TTA_MODES, TTA_VIEWS, average_views, check_mode, crop_windows, tta_views


def _faces(n=3, size=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def test_the_registry_is_what_the_cli_offers():
    from ferviz.cli import build_parser

    assert TTA_MODES == tuple(TTA_VIEWS) == ("none", "flip", "ten_crop")
    parser = build_parser()
    for command in ("evaluate", "predict"):
        sub = parser._subparsers._group_actions[0].choices[command]
        assert tuple(sub._option_string_actions["--tta"].choices) == TTA_MODES


def test_crop_windows_by_hand():
    # 64 * 0.9 = 57.6 -> 58 px squares; 6 px left over: corners at 0 and 6, centre at 3
    assert crop_windows(64) == [(3, 3, 58), (0, 0, 58), (0, 6, 58), (6, 0, 58), (6, 6, 58)]
    assert crop_windows(48) == [(2, 2, 43), (0, 0, 43), (0, 5, 43), (5, 0, 43), (5, 5, 43)]


def test_none_and_flip_views():
    faces = _faces()
    (plain,) = tta_views(faces, "none")
    assert np.array_equal(plain, faces)
    same, mirrored = tta_views(faces, "flip")
    assert np.array_equal(same, faces) and np.array_equal(mirrored[:, :, ::-1], faces)


def test_ten_crop_makes_five_squares_and_their_mirrors_at_full_size():
    faces = np.zeros((2, 64, 64), np.uint8)
    faces[:, :32, :] = 200  # top half bright, bottom half dark
    faces[:, :, :32] += 50  # left half brighter still
    views = tta_views(faces, "ten_crop")
    assert len(views) == 10 and all(v.shape == faces.shape and v.dtype == np.uint8 for v in views)
    for even, odd in zip(views[::2], views[1::2], strict=True):
        assert np.array_equal(odd, even[:, :, ::-1])  # each crop, then its mirror
    centre, top_left, top_right, bottom_left, bottom_right = (v.mean() for v in views[::2])
    assert top_left > top_right > bottom_left > bottom_right  # each crop sees more of its own corner
    assert bottom_right < centre < top_left
    constant = np.full((1, 64, 64), 77, np.uint8)
    assert all((v == 77).all() for v in tta_views(constant, "ten_crop"))


def test_average_views_is_the_mean_of_the_classifier_over_the_views():
    faces = _faces(4)

    def classify(view):  # a stand-in "classifier": mean brightness of the left and right halves
        left, right = view[:, :, :32].mean(axis=(1, 2)), view[:, :, 32:].mean(axis=(1, 2))
        return np.stack([left, right], axis=1) / 255

    flip = average_views(classify, faces, "flip")
    np.testing.assert_allclose(flip[:, 0], flip[:, 1], atol=1e-6)  # a face and its mirror: halves swap
    np.testing.assert_allclose(average_views(classify, faces, "none"), classify(faces), atol=1e-6)


def test_unknown_modes_and_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match="tencrop.*none, flip, ten_crop"):
        check_mode("tencrop")
    with pytest.raises(ValueError, match="square face crops"):
        tta_views(np.zeros((2, 64, 48), np.uint8), "flip")


@pytest.fixture
def loaded(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


def test_classify_crops_averages_the_model_over_the_views(loaded):
    crops = _faces(5)
    plain = classify_crops(loaded, crops)
    flip = classify_crops(loaded, crops, "flip")
    mirrored = classify_crops(loaded, crops[:, :, ::-1].copy())
    np.testing.assert_allclose(flip, (plain + mirrored) / 2, atol=1e-5)
    ten = classify_crops(loaded, crops, "ten_crop")
    by_hand = np.mean([classify_crops(loaded, v) for v in tta_views(crops, "ten_crop")], axis=0)
    np.testing.assert_allclose(ten, by_hand, atol=1e-5)
    np.testing.assert_allclose(ten.sum(axis=1), 1, atol=1e-5)
    assert classify_crops(loaded, np.zeros((0, 64, 64), np.uint8), "ten_crop").shape == (0, 7)


def test_predict_rows_say_which_tta_was_used(loaded):
    from skimage import data

    plain = predict(loaded, data.astronaut(), name="astronaut")
    ten = predict(loaded, data.astronaut(), name="astronaut", tta="ten_crop")
    assert "tta" not in plain.rows()[0] and ten.rows()[0]["tta"] == "ten_crop" and ten.tta == "ten_crop"
    assert ten.faces[0].box == plain.faces[0].box  # same face, other probabilities
    crop = predict(loaded, plain.faces[0].crop, tta="flip")
    assert crop.rows()[0]["tta"] == "flip"
    with pytest.raises(ValueError, match="test-time augmentation"):
        predict(loaded, data.astronaut(), tta="hflip")


def test_video_rows_carry_the_tta_column(loaded, tmp_path):
    from ferviz.pipeline.video import predict_video
    from tests.pipeline.test_video import write_clip

    clip = write_clip(tmp_path / "clip.mp4", frames=4)
    rows = predict_video(loaded, clip, tta="flip").rows
    assert rows and all(r["tta"] == "flip" for r in rows)
    assert all("tta" not in r for r in predict_video(loaded, clip).rows)


def test_cli_predict_with_tta_says_so_in_text_and_json(tmp_path, tiny_checkpoint, capsys):
    from PIL import Image
    from skimage import data

    from ferviz.cli import main

    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    assert main(["predict", str(photo), "--model", str(tiny_checkpoint), "--tta", "ten_crop"]) == 0
    assert "averaged over ten_crop test-time augmentation" in capsys.readouterr().out
    assert main(["predict", str(photo), "--model", str(tiny_checkpoint), "--tta", "flip", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["tta"] == "flip"


# --------------------------------------------------------------------------- a model's own views (adjust --tta)

@pytest.fixture
def flip_model(tiny_checkpoint, tmp_path):
    from ferviz.train.adjust import save_adjusted, set_views

    out = save_adjusted(set_views(load_checkpoint(tiny_checkpoint), "flip"), tmp_path / "flip.pt",
                        command="ferviz adjust --tta flip")
    return load_checkpoint(out, verify=False)


def test_a_model_with_its_own_flip_averages_every_prediction_with_the_mirror(loaded, flip_model):
    from ferviz.pipeline.tta import model_views

    assert flip_model.preprocessing.tta == "flip" and loaded.preprocessing.tta == "none"
    assert model_views(flip_model) == "flip" and model_views(loaded) == "none"
    assert model_views(flip_model, "ten_crop") == "ten_crop"  # asked for: replaces its own
    crops = _faces(4)
    np.testing.assert_allclose(classify_crops(flip_model, crops), classify_crops(loaded, crops, "flip"), atol=1e-6)
    mirrored = crops[:, :, ::-1].copy()
    # the model's answer no longer depends on which way the face looks
    np.testing.assert_allclose(classify_crops(flip_model, crops), classify_crops(flip_model, mirrored), atol=1e-5)
    assert not np.allclose(classify_crops(loaded, crops), classify_crops(loaded, mirrored), atol=1e-5)


def test_its_own_views_reach_the_photo_video_and_evaluation_paths(loaded, flip_model, tmp_path):
    from skimage import data

    from ferviz.data.datasets import FaceDataset
    from ferviz.pipeline.video import predict_video
    from ferviz.results.evaluation import evaluate
    from tests.pipeline.test_video import write_clip

    photo = predict(flip_model, data.astronaut(), name="astronaut")
    asked = predict(loaded, data.astronaut(), name="astronaut", tta="flip")
    assert "tta" not in photo.rows()[0]  # its own way of predicting, not an extra augmentation
    np.testing.assert_allclose(list(photo.faces[0].probs.values()), list(asked.faces[0].probs.values()), atol=1e-5)
    clip = write_clip(tmp_path / "clip.mp4", frames=3)
    own, by_hand = predict_video(flip_model, clip).rows, predict_video(loaded, clip, tta="flip").rows
    assert [r["label"] for r in own] == [r["label"] for r in by_hand]
    faces = _faces(14, size=48)
    ds = FaceDataset(images=faces, labels=np.arange(14) % 7, usage=np.array(["PublicTest"] * 14),
                     subject=np.array([""] * 14), source=np.array([f"t:{i}" for i in range(14)]), name="t")
    ev = evaluate(flip_model, ds)
    assert ev.report.meta["tta"] == "none" and ev.report.meta["views"] == "flip"
    np.testing.assert_allclose(ev.probs, evaluate(loaded, ds, tta="flip").probs, atol=1e-5)


def test_a_model_can_only_carry_views_that_keep_the_whole_face(loaded):
    from ferviz.errors import CheckpointError
    from ferviz.train.adjust import set_views

    with pytest.raises(CheckpointError, match="'none' or 'flip'"):
        set_views(loaded, "ten_crop")


def test_average_views_classifies_all_views_in_one_batch():
    faces, calls = _faces(3), []

    def classify(view):
        calls.append(len(view))
        return np.tile(view.reshape(len(view), -1)[:, :2].astype(np.float64), 1)

    average_views(classify, faces, "ten_crop")
    assert calls == [30]  # 10 views of 3 faces, one forward pass
    first_pixels = average_views(classify, faces, "flip")
    np.testing.assert_allclose(first_pixels[:, 0], (faces[:, 0, 0].astype(float) + faces[:, 0, -1]) / 2)


def test_live_overlays_keep_the_models_own_label(flip_model):
    from skimage import data

    from ferviz.pipeline.inference import classify_faces

    plain, _ = classify_faces(flip_model, data.astronaut())
    drawn, _ = classify_faces(flip_model, data.astronaut(), overlay="attention")
    assert drawn[0].overlay is not None
    np.testing.assert_allclose(list(drawn[0].probs.values()), list(plain[0].probs.values()), atol=1e-5)


def test_many_views_of_many_faces_go_through_in_bounded_batches(loaded, monkeypatch):
    from ferviz.pipeline import inference

    crops = _faces(7)
    whole = classify_crops(loaded, crops, "ten_crop")
    seen = []
    original = inference.faces_to_tensor
    monkeypatch.setattr(inference, "CLASSIFY_BATCH", 16)
    monkeypatch.setattr(inference, "faces_to_tensor", lambda c, p: seen.append(len(c)) or original(c, p))
    np.testing.assert_allclose(classify_crops(loaded, crops, "ten_crop"), whole, atol=1e-5)
    assert seen == [16, 16, 16, 16, 6]  # 70 views, at most 16 per forward pass

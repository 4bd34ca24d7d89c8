"""Photo in, faces out: the whole pipeline on legal sample pictures and on random bytes."""

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ferviz.data.samples import SAMPLES, load_sample
from ferviz.errors import ImageError
from ferviz.model.checkpoint import load_checkpoint
from ferviz.pipeline.faces import DETECTORS, FaceOptions
from ferviz.pipeline.inference import predict, predict_crop, predict_image


def png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    import torch

    from ferviz.data.labels import EMOTIONS
    from ferviz.data.preprocess import Preprocessing
    from ferviz.model.checkpoint import save_checkpoint
    from ferviz.model.network import build_model
    from tests.helpers import TINY

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "tiny.pt"
    save_checkpoint(path, build_model("dcnn_bilstm_dam", **TINY), labels=list(EMOTIONS),
                    preprocessing=Preprocessing())
    return load_checkpoint(path)


def test_one_face_gives_one_prediction_with_probabilities(loaded):
    pred = predict_image(loaded, png_bytes(load_sample("astronaut (NASA, public domain)")), name="a.png")
    assert len(pred.faces) == 1 and not pred.faces[0].fallback and pred.message is None
    face = pred.faces[0]
    assert sum(face.probs.values()) == pytest.approx(1, abs=1e-5)
    assert face.label == max(face.probs, key=face.probs.get) and face.crop.shape == (64, 64)
    assert pred.seconds > 0 and len(pred.rows()) == 1


def test_group_and_cap(loaded):
    group = png_bytes(load_sample("group of four (tiled astronaut)"))
    assert len(predict_image(loaded, group).faces) == 4
    capped = predict_image(loaded, group, options=FaceOptions(max_faces=2))
    assert len(capped.faces) == 2 and capped.message


def test_no_face_gets_no_label_unless_the_centre_crop_is_asked_for(loaded):
    coffee = png_bytes(load_sample("no face (coffee cup)"))
    for detector in DETECTORS:
        pred = predict_image(loaded, coffee, name="cup.png", options=FaceOptions(detector=detector))
        assert pred.faces == [] and pred.message == "No face found"
        (row,) = pred.rows()
        assert row["status"] == "no face found" and row["label"] == "" and row["image"] == "cup.png"
        assert not set(loaded.labels) & set(row)  # no probabilities either
    centre = predict_image(loaded, coffee, options=FaceOptions(fallback="centre"))
    (face,) = centre.faces
    assert face.fallback and face.status == "centre crop" and "centre square" in centre.message
    assert centre.rows()[0]["status"] == "centre crop"


def test_samples_registry_is_complete():
    for name in SAMPLES:
        assert load_sample(name).dtype == np.uint8
    with pytest.raises(KeyError, match="unknown sample"):
        load_sample("nope")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2048))
def test_random_bytes_give_a_result_or_an_image_error(loaded, blob):
    try:
        predict_image(loaded, blob, name="fuzz.bin")
    except ImageError:
        pass


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 80), st.integers(1, 80), st.sampled_from(["L", "RGB", "RGBA"]),
       st.integers(0, 2**31 - 1))
def test_random_images_of_any_shape_are_classified(loaded, w, h, mode, seed):
    rng = np.random.default_rng(seed)
    shape = (h, w) if mode == "L" else (h, w, len(mode))
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(buf, format="PNG")
    pred = predict_image(loaded, buf.getvalue(), options=FaceOptions(fallback="centre"))
    assert len(pred.faces) >= 1 and all(np.isfinite(list(f.probs.values())).all() for f in pred.faces)
    plain = predict_image(loaded, buf.getvalue())
    assert all(not f.fallback for f in plain.faces) and len(plain.rows()) >= 1  # never a label on no face


def test_a_face_crop_is_classified_without_detection(loaded):
    crop = load_sample("astronaut (NASA, public domain)")[40:240, 160:360].mean(2).astype(np.uint8)
    pred = predict_crop(loaded, crop, name="dataset item 3")
    assert len(pred.faces) == 1 and pred.faces[0].crop.shape == (64, 64) and pred.message is None
    with pytest.raises(ImageError, match="2-D grayscale"):
        predict_crop(loaded, np.zeros((4, 4, 3), np.uint8))


def test_predict_is_the_one_entry_point_for_bytes_paths_and_arrays(loaded, tmp_path):
    rgb = load_sample("astronaut (NASA, public domain)")
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(rgb))
    from_bytes = predict(loaded, png_bytes(rgb), name="a.png")
    from_path = predict(loaded, path)
    from_array = predict(loaded, rgb, name="a.png")
    assert from_bytes.faces[0].probs == from_path.faces[0].probs == from_array.faces[0].probs
    crop = predict(loaded, from_array.faces[0].crop, name="crop")
    assert len(crop.faces) == 1 and not crop.faces[0].fallback and crop.message is None
    with pytest.raises(ImageError, match="bad: expected an"):
        predict(loaded, np.zeros((4, 4, 2), np.uint8), name="bad")
    with pytest.raises(ImageError, match="bad"):
        predict(loaded, np.zeros((4, 4, 3), np.float32), name="bad")


def test_reclassify_keeps_the_faces_and_side_by_side_marks_disagreement(loaded, tmp_path):
    import torch

    from ferviz.data.labels import EMOTIONS
    from ferviz.data.preprocess import Preprocessing
    from ferviz.model.checkpoint import save_checkpoint
    from ferviz.model.network import build_model
    from ferviz.pipeline.inference import reclassify, side_by_side
    from tests.helpers import TINY

    torch.manual_seed(7)
    other_path = save_checkpoint(tmp_path / "other.pt", build_model("cnn_bilstm", **TINY).eval(),
                                 labels=list(EMOTIONS), preprocessing=Preprocessing(), variant="cnn_bilstm")
    other = load_checkpoint(other_path)
    a = predict_image(loaded, png_bytes(load_sample("group of four (tiled astronaut)")))
    b = reclassify(other, a)
    assert [f.box for f in b.faces] == [f.box for f in a.faces] and b.detector == a.detector
    assert all(np.array_equal(fa.crop, fb.crop) for fa, fb in zip(a.faces, b.faces, strict=True))
    rows = side_by_side(a, b, "A", "B")
    assert len(rows) == 4 and all(r["agree"] == (r["A label"] == r["B label"]) for r in rows)
    same = side_by_side(a, reclassify(loaded, a), "A", "A again")
    assert all(r["agree"] for r in same)
    cup = predict_image(loaded, png_bytes(load_sample("no face (coffee cup)")))
    assert reclassify(other, cup).faces == []

"""Evaluation: classes matched by name, faces detected only for whole-frame datasets.

The same face gets the same probabilities as on the Predict page.
"""

import numpy as np
import pytest

from ferviz.data.datasets import FaceDataset, load_dataset
from ferviz.model.checkpoint import load_checkpoint
from ferviz.pipeline.inference import predict, predict_crop
from ferviz.results.evaluation import dataset_faces, evaluate, model_view
from tests.helpers import synthetic_faces


def _dataset(n=14, seed=0, name="fer2013", whole_frames=False, labels=None):
    x, y = synthetic_faces(n, seed)
    y = y if labels is None else np.asarray(labels)
    blank = np.full(n, "")
    return FaceDataset(x, y, np.full(n, "PublicTest"), blank, blank, name, whole_frames=whole_frames)


def test_predict_crop_and_evaluate_agree_on_the_same_48px_face(tiny_checkpoint):
    loaded = load_checkpoint(tiny_checkpoint)
    ds = _dataset()
    ev = evaluate(loaded, ds)
    for i in range(len(ds)):
        via_predict = predict_crop(loaded, ds.images[i])
        probs = np.array([via_predict.faces[0].probs[name] for name in loaded.labels])
        np.testing.assert_allclose(probs, ev.probs[i], atol=1e-6)
        np.testing.assert_array_equal(via_predict.faces[0].crop, ev.faces[i])  # the very same model input
        assert predict(loaded, ds.images[i]).faces[0].probs == via_predict.faces[0].probs


def test_model_view_leaves_out_unknown_classes(tiny_checkpoint):
    loaded = load_checkpoint(tiny_checkpoint)
    ds = _dataset(4, labels=[0, 7, 3, 7])  # 7 = contempt, not a FER2013 class
    kept, y, keep = model_view(ds, loaded.labels)
    assert len(kept) == 2 and keep.tolist() == [True, False, True, False]
    assert [loaded.labels[i] for i in y] == ["angry", "happy"]
    ev = evaluate(loaded, ds)
    assert ev.report.meta["n_left_out"] == 2 and ev.report.meta["n_items"] == 2


def test_every_item_outside_the_model_classes_is_a_clear_error(tiny_checkpoint):
    loaded = load_checkpoint(tiny_checkpoint)
    with pytest.raises(ValueError, match="none of the 2 items"):
        evaluate(loaded, _dataset(2, labels=[7, 7]))


def test_mistakes_are_sorted_by_confidence(tiny_checkpoint):
    ev = evaluate(load_checkpoint(tiny_checkpoint), _dataset(21, 2))
    wrong = ev.mistakes()
    assert (ev.y_pred[wrong] != ev.y_true[wrong]).all()
    conf = ev.probs[wrong].max(1)
    assert (np.diff(conf) <= 0).all()


def test_whole_frames_are_declared_by_the_reader_and_detected(tmp_path):
    from skimage import data

    gray = (data.astronaut() @ [0.299, 0.587, 0.114]).astype(np.uint8)[:256, 128:384]
    frames = np.stack([gray, gray])
    np.savez(tmp_path / "jaffe.npz", images=frames, labels=np.array([3, 3]))
    np.savez(tmp_path / "other.npz", images=frames, labels=np.array([3, 3]))
    jaffe, other = load_dataset("npz", tmp_path / "jaffe.npz"), load_dataset("npz", tmp_path / "other.npz")
    assert jaffe.whole_frames and not other.whole_frames
    assert jaffe.subset([0]).whole_frames  # carried by every view of the dataset
    detected, stretched = dataset_faces(jaffe, 64), dataset_faces(other, 64)
    assert detected.shape == stretched.shape == (2, 64, 64)
    assert not np.array_equal(detected[0], stretched[0])  # a detected face crop, not the resized frame


def test_flip_tta_averages_a_face_and_its_mirror_and_is_recorded(tiny_checkpoint):
    loaded = load_checkpoint(tiny_checkpoint)
    ds = _dataset(7)
    plain, tta = evaluate(loaded, ds), evaluate(loaded, ds, tta="flip")
    mirrored = FaceDataset(np.ascontiguousarray(ds.images[:, :, ::-1]), ds.labels, ds.usage, ds.subject,
                           ds.source, ds.name)
    np.testing.assert_allclose(tta.probs, (plain.probs + evaluate(loaded, mirrored).probs) / 2, atol=1e-5)
    assert plain.report.meta["tta"] == "none" and tta.report.meta["tta"] == "flip"
    with pytest.raises(ValueError, match="test-time augmentation"):
        evaluate(loaded, ds, tta="tencrop")


def test_ten_crop_tta_is_the_mean_over_ten_views_with_one_progress_bar(tiny_checkpoint):
    from ferviz.data.preprocess import resize_faces
    from ferviz.pipeline.tta import tta_views

    loaded = load_checkpoint(tiny_checkpoint)
    ds = _dataset(7)
    seen = []
    ten = evaluate(loaded, ds, tta="ten_crop", batch_size=4, progress=lambda d, t: seen.append((d, t)))
    views = tta_views(resize_faces(ds.images, 64), "ten_crop")
    by_hand = np.mean([evaluate(loaded, ds, faces=v).probs for v in views], axis=0)
    np.testing.assert_allclose(ten.probs, by_hand, atol=1e-5)
    assert ten.report.meta["tta"] == "ten_crop"
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1] == (10 * len(ds), 10 * len(ds))  # 10 views, one bar

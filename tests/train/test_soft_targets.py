"""Training against target distributions (FER+ votes, a photo teacher) and the camera degradations."""

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing, prepare_images
from ferviz.model.network import VARIANTS
from ferviz.train.engine import ArrayData, TrainConfig, Trainer
from ferviz.train.runner import targets_in_order
from tests.helpers import TINY, synthetic_faces


def test_loss_against_a_distribution_is_the_cross_entropy_by_hand(tmp_path):
    cfg = replace(VARIANTS["cnn_bilstm"], **TINY)
    trainer = Trainer(cfg, TrainConfig(label_smoothing=0.0, bf16=False), Preprocessing(), list(EMOTIONS), tmp_path)
    logits = torch.tensor([[2.0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1.0, 0, 0, 0]])
    target = torch.tensor([[0.5, 0, 0, 0, 0, 0, 0.5], [0, 0, 0, 1.0, 0, 0, 0]])
    logp = F.log_softmax(logits, 1)
    by_hand = -(0.5 * logp[0, 0] + 0.5 * logp[0, 6] + logp[1, 3]) / 2
    got = trainer.loss(logits, target, torch.zeros(2, 1, 8, 8), None)
    assert float(got) == pytest.approx(float(by_hand), rel=1e-6)
    # a one-hot distribution gives the same loss as the class index
    onehot = trainer.loss(logits, F.one_hot(torch.tensor([0, 3]), 7).float(), torch.zeros(2, 1, 8, 8), None)
    index = trainer.loss(logits, torch.tensor([0, 3]), torch.zeros(2, 1, 8, 8), None)
    assert float(onehot) == pytest.approx(float(index), rel=1e-6)


@pytest.mark.slow
def test_a_run_learns_from_targets_alone_and_the_camera_stream_is_seeded(tmp_path):
    x, y = synthetic_faces(112, 0)
    planes = prepare_images(x, Preprocessing())
    wrong = (y + 1) % 7  # the hard labels are all wrong: only the targets carry the truth
    train = ArrayData(planes, wrong, target=np.eye(7, dtype=np.float32)[y])
    xv, yv = synthetic_faces(56, 1)
    val = ArrayData(prepare_images(xv, Preprocessing()), yv)
    cfg = replace(VARIANTS["cnn_bilstm"], **TINY)
    tcfg = TrainConfig(epochs=20, batch_size=16, lr=3e-3, bf16=False, augment=False, seed=0)
    result = Trainer(cfg, tcfg, Preprocessing(), list(EMOTIONS), tmp_path / "a").fit(train, val)
    assert result.best_score > 0.6  # chance is 1/7; with the wrong hard labels it would be ~0
    t = Trainer(cfg, replace(tcfg, camera=0.5), Preprocessing(), list(EMOTIONS), tmp_path / "b")
    assert t._camera_rng(2, 5).random() == t._camera_rng(2, 5).random() != t._camera_rng(2, 6).random()


def test_targets_in_order_maps_and_renormalises():
    t = np.array([[0.2, 0, 0, 0.4, 0, 0, 0.4]], np.float32)
    np.testing.assert_allclose(targets_in_order(t, list(EMOTIONS)), t)
    six = [n for n in EMOTIONS if n != "neutral"]
    np.testing.assert_allclose(targets_in_order(t, six), [[1 / 3, 0, 0, 2 / 3, 0, 0]], rtol=1e-6)
    with pytest.raises(ValueError, match="no mass"):
        targets_in_order(np.array([[0, 0, 0, 0, 0, 0, 1.0]], np.float32), six)
    with pytest.raises(ValueError, match="FER2013 order"):
        targets_in_order(np.ones((2, 8), np.float32), list(EMOTIONS))


def test_class_weights_by_hand(tmp_path):
    cfg = replace(VARIANTS["cnn_bilstm"], **TINY, num_classes=2)
    data = ArrayData(np.zeros((4, 1, 8, 8), np.uint8), np.array([0, 0, 0, 1]))
    inverse = Trainer(cfg, TrainConfig(class_weighting=True), Preprocessing(), ["angry", "happy"], tmp_path / "a")
    np.testing.assert_allclose(inverse._class_weights(data).numpy(), [2 / 3, 2], rtol=1e-6)  # (4/3, 4) / 2
    sqrt = Trainer(cfg, TrainConfig(class_weighting=True, class_power=0.5), Preprocessing(), ["angry", "happy"],
                   tmp_path / "b")
    w = sqrt._class_weights(data).numpy()
    assert w[1] / w[0] == pytest.approx(3 ** 0.5, rel=1e-6) and (w * [3, 1]).sum() == pytest.approx(4, rel=1e-6)


def test_the_config_sets_the_rotation_and_the_parser_the_camera_kinds(tmp_path):
    from ferviz.cli import build_parser
    from ferviz.cli.common import train_config

    cfg = replace(VARIANTS["cnn_bilstm"], **TINY)
    still = Trainer(cfg, TrainConfig(rotate_deg=0.0, erase=0.25), Preprocessing(), list(EMOTIONS), tmp_path)
    assert still.augment_config().rotate_deg == 0.0 and still.augment_config().erase == 0.25
    parser = build_parser()
    args = parser.parse_args(["train", "--data", "x.npz", "--camera", "0.3", "--camera-kinds", "jpeg,blur",
                              "--rotate", "0"])
    tc = train_config(args)
    assert (tc.camera, tc.camera_kinds, tc.rotate_deg) == (0.3, "blur,jpeg", 0.0)
    assert train_config(parser.parse_args(["train", "--data", "x.npz"])).camera_kinds == ""
    with pytest.raises(SystemExit):  # argparse's own message names the typo and the choices
        parser.parse_args(["train", "--data", "x.npz", "--camera-kinds", "rain"])

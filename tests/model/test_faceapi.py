"""face-api.js's expression network: weight format, layouts, padding, dense sums, class order, shipped weights."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing, faces_to_tensor, rgb_planes, to_tensor
from ferviz.errors import CheckpointError
from ferviz.model import faceapi as fa
from ferviz.model.checkpoint import load_checkpoint, resolve_model
from ferviz.paths import MODELS_DIR

SHIPPED = MODELS_DIR / "faceapi"


def write_tfjs(folder, entries, name="tiny.bin", truncate=0):
    """A TF.js manifest + .bin from ``[(name, values, quant)]``; quant is (scale, min) for uint8 bytes or None."""
    weights, blob = [], b""
    for tensor, values, quant in entries:
        values = np.asarray(values)
        entry = {"name": tensor, "shape": list(values.shape), "dtype": "float32"}
        if quant is not None:
            entry["quantization"] = {"dtype": "uint8", "scale": quant[0], "min": quant[1]}
            blob += values.astype(np.uint8).tobytes()
        else:
            blob += values.astype("<f4").tobytes()
        weights.append(entry)
    (folder / name).write_bytes(blob[:len(blob) - truncate])
    manifest = folder / fa.MANIFEST_NAME
    manifest.write_text(json.dumps([{"paths": [name], "weights": weights}]))
    return manifest


def test_dequantisation_gives_byte_times_scale_plus_min(tmp_path):
    manifest = write_tfjs(tmp_path, [("a/filters", [[0, 1], [2, 255]], (0.5, -1.0)),
                                     ("a/bias", [1.5, -2.0, 3.25], None)])
    w = fa.read_tfjs_weights(manifest)
    np.testing.assert_array_equal(w["a/filters"], np.array([[-1.0, -0.5], [0.0, 126.5]], np.float32))
    np.testing.assert_array_equal(w["a/bias"], np.array([1.5, -2.0, 3.25], np.float32))
    assert w["a/filters"].dtype == np.float32


@pytest.mark.parametrize("truncate", [1, 7])
def test_truncated_bin_is_refused_with_the_byte_counts(tmp_path, truncate):
    manifest = write_tfjs(tmp_path, [("a/filters", np.zeros((3, 3)), (1.0, 0.0)), ("a/bias", np.zeros(4), None)],
                          truncate=truncate)
    with pytest.raises(CheckpointError, match=rf"{25 - truncate} bytes, but the manifest describes 25.*truncated"):
        fa.read_tfjs_weights(manifest)


def test_missing_bin_is_named(tmp_path):
    manifest = write_tfjs(tmp_path, [("a/bias", np.zeros(2), None)])
    (tmp_path / "tiny.bin").unlink()
    with pytest.raises(CheckpointError, match="tiny.bin missing"):
        fa.read_tfjs_weights(manifest)


def test_depthwise_and_pointwise_layouts_match_a_hand_computation():
    rng = np.random.default_rng(0)
    dw = rng.normal(size=(3, 3, 2, 1)).astype(np.float32)  # TF [kh, kw, C, 1]
    pw = rng.normal(size=(1, 1, 2, 3)).astype(np.float32)  # TF [1, 1, in, out]
    bias = np.array([0.5, -1.0, 2.0], np.float32)
    conv = fa.SeparableConv(2, 3, stride=1)
    state = dict(fa.tf_to_torch(n, v) for n, v in (("b/conv1/depthwise_filter", dw),
                                                   ("b/conv1/pointwise_filter", pw), ("b/conv1/bias", bias)))
    assert state["b.conv1.depthwise.weight"].shape == (2, 1, 3, 3)
    assert state["b.conv1.pointwise.weight"].shape == (3, 2, 1, 1)
    conv.load_state_dict({k.removeprefix("b.conv1."): v for k, v in state.items()})
    x = rng.normal(size=(4, 5, 2)).astype(np.float32)  # (H, W, C), TF's NHWC without N
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))  # stride 1 "same": one pixel each side
    depth = np.zeros((4, 5, 2))
    for y in range(4):
        for xx in range(5):
            for c in range(2):
                depth[y, xx, c] = sum(padded[y + i, xx + j, c] * dw[i, j, c, 0] for i in range(3) for j in range(3))
    want = np.einsum("yxi,io->yxo", depth, pw[0, 0]) + bias  # (4, 5, 3)
    got = conv(torch.from_numpy(x.transpose(2, 0, 1))[None])[0].detach().numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_plain_filters_and_fc_layouts():
    filters = np.arange(3 * 3 * 2 * 4, dtype=np.float32).reshape(3, 3, 2, 4)  # [kh, kw, in, out]
    key, t = fa.tf_to_torch("dense0/conv0/filters", filters)
    assert key == "dense0.conv0.conv.weight" and t.shape == (4, 2, 3, 3)
    assert t[3, 1, 2, 0] == filters[2, 0, 1, 3]
    fc = np.arange(14, dtype=np.float32).reshape(2, 7)  # [in, out]
    key, t = fa.tf_to_torch("fc/weights", fc)
    assert key == "fc.weight" and t.shape == (7, 2) and t[5, 1] == fc[1, 5]
    assert fa.tf_to_torch("dense0/conv0/bias", np.zeros(4))[0] == "dense0.conv0.conv.bias"
    assert fa.tf_to_torch("dense2/conv3/bias", np.zeros(4))[0] == "dense2.conv3.pointwise.bias"
    with pytest.raises(CheckpointError, match="not a tensor"):
        fa.tf_to_torch("dense0/conv0/gamma", np.zeros(4))


def test_tf_same_padding_puts_the_odd_pixel_after():
    assert fa.tf_same_padding(4, 3, 2) == (0, 1)  # even side, stride 2
    assert fa.tf_same_padding(112, 3, 2) == (0, 1)
    assert fa.tf_same_padding(5, 3, 2) == (1, 1)
    assert fa.tf_same_padding(7, 3, 1) == (1, 1)


def test_stride2_same_conv_on_an_even_input_matches_a_hand_sum():
    conv = fa.SameConv(1, 1, stride=2)
    with torch.no_grad():
        conv.conv.weight.fill_(1.0)
        conv.conv.bias.zero_()
    x = torch.arange(16.0).view(1, 1, 4, 4)
    # output (i, j) sums input rows 2i..2i+2, columns 2j..2j+2; row/column 4 is the zero padding after
    want = torch.tensor([[0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10, 2 + 3 + 6 + 7 + 10 + 11],
                         [8 + 9 + 10 + 12 + 13 + 14, 10 + 11 + 14 + 15]], dtype=torch.float32)
    torch.testing.assert_close(conv(x)[0, 0], want)


def test_dense_block_sums_with_relu_as_described():
    block = fa.DenseBlock(1, 1, first=False)
    # every depthwise kernel is the identity (centre tap); pointwise k is z -> a_k z + b_k
    a, b = [1.0, -1.5, 7.0, 0.5], [0.0, 0.0, 4.0, 0.5]
    with torch.no_grad():
        for k, conv in enumerate((block.conv0, block.conv1, block.conv2, block.conv3)):
            conv.depthwise.weight.zero_()
            conv.depthwise.weight[0, 0, 1, 1] = 1.0
            conv.pointwise.weight.fill_(a[k])
            conv.pointwise.bias.fill_(b[k])
    x = torch.zeros(1, 1, 2, 2)
    x[0, 0, 1, 1] = 2.0  # stride 2, pad (0, 1): the one output's centre tap reads input (1, 1)
    # o1 = relu(2) = 2; o2 = -3; o3 = 7 * relu(-1) + 4 = 4; o4 = 0.5 * relu(3) + 0.5 = 2; relu(2 - 3 + 4 + 2) = 5
    assert block(x).item() == pytest.approx(5.0)


def test_logits_are_permuted_to_fer2013_order():
    net = fa.FaceApiNet().eval()
    with torch.no_grad():
        net.fc.weight.zero_()
        net.fc.bias.copy_(torch.arange(7.0))  # face-api order: neutral 0, happy 1, sad 2, angry 3, ...
    x = torch.zeros(1, 3, 112, 112)
    torch.testing.assert_close(net.forward_faceapi(x)[0], torch.arange(7.0))
    out = net(x)[0]
    torch.testing.assert_close(out, torch.tensor([3.0, 5.0, 4.0, 1.0, 2.0, 6.0, 0.0]))
    names = {"neutral": "neutral", "happy": "happy", "sad": "sad", "angry": "angry", "fearful": "fear",
             "disgusted": "disgust", "surprised": "surprise"}
    for k, name in enumerate(fa.FACEAPI_LABELS):
        assert EMOTIONS[fa.TO_FER2013[k]] == names[name]
        assert out[fa.TO_FER2013[k]] == k


def test_rgb_planes_pad_to_square_and_replicate_gray():
    face = np.full((1, 1, 4), 200, np.uint8)  # (N, H, W): diff 3 -> 1 row before, 2 after
    planes = rgb_planes(face, 4)
    assert planes.shape == (1, 3, 4, 4)
    np.testing.assert_array_equal(planes[0, :, :, 0], [[0, 200, 0, 0]] * 3)
    tall = np.zeros((1, 4, 2, 3), np.uint8)
    tall[..., 0] = 10  # red only
    planes = rgb_planes(tall, 4)
    np.testing.assert_array_equal(planes[0, 0, 0], [0, 10, 10, 0])
    assert planes[0, 1:].max() == 0


def test_preprocess_normalises_with_face_api_mean():
    x = fa.preprocess_faces(np.full((1, 112, 112, 3), 255, np.uint8))
    assert x.shape == (1, 3, 112, 112)
    want = [(255 - m) / 255 for m in fa.MEAN_RGB]
    torch.testing.assert_close(x[0, :, 5, 5], torch.tensor(want))
    assert Preprocessing.from_dict(json.loads(json.dumps(fa.PREPROCESSING.to_dict()))) == fa.PREPROCESSING


def test_registry_name_resolves_to_the_shipped_folder(tmp_path):
    assert resolve_model("faceapi") == SHIPPED
    assert resolve_model(tmp_path / "x.pt") == tmp_path / "x.pt"
    with pytest.raises(CheckpointError, match="a folder, not a checkpoint"):
        load_checkpoint(tmp_path)


def test_shipped_weights_give_a_distribution_in_fer2013_order():
    loaded = load_checkpoint("faceapi")  # verified against models/faceapi.json
    assert loaded.labels == list(EMOTIONS) and loaded.preprocessing.input_mode == "rgb"
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (2, 48, 48), dtype=np.uint8)
    p = fa.faceapi_probs(gray, batch_size=1)
    assert p.shape == (2, 7) and p.dtype == np.float32 and not np.isnan(p).any()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert not np.allclose(p[0], p[1])
    rgb = np.repeat(gray[..., None], 3, axis=3)  # a replicated gray crop is the same face
    np.testing.assert_allclose(fa.faceapi_probs(rgb), p, atol=1e-5)
    mixed = fa.faceapi_probs([gray[0], rng.integers(0, 256, (60, 40, 3), dtype=np.uint8)])
    np.testing.assert_allclose(mixed[0], p[0], atol=1e-5)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-5)


def test_changed_weights_fail_the_card_check(tmp_path):
    folder = tmp_path / "faceapi"
    shutil.copytree(SHIPPED, folder)
    assert load_checkpoint(folder).sha256 == fa.weights_sha256(SHIPPED)  # no card beside it: not checked
    (tmp_path / "faceapi.json").write_text(json.dumps({"name": "faceapi", "file": "faceapi", "sha256": "0" * 64}))
    with pytest.raises(CheckpointError, match="do not match the model card"):
        load_checkpoint(folder)
    assert load_checkpoint(folder, verify=False).variant == "faceapi"


def test_gray_models_take_colour_crops_as_their_gray():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (2, 48, 48, 3), dtype=np.uint8)
    gray = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb])
    prep = Preprocessing()  # FERNet's gray 64x64
    torch.testing.assert_close(faces_to_tensor(rgb, prep), faces_to_tensor(gray, prep))
    assert faces_to_tensor(rgb[0], prep).shape == (1, 1, 64, 64)  # one (H, W, 3) crop
    assert faces_to_tensor(rgb, fa.PREPROCESSING).shape == (2, 3, 112, 112)


def test_per_plane_mean_is_subtracted_per_plane():
    planes = np.full((1, 3, 2, 2), 51, np.uint8)  # 0.2 of 255
    prep = Preprocessing(input_mode="rgb", size=2, mean=(0.1, 0.2, 0.3), std=0.5)
    x = to_tensor(planes, prep)
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([0.2, 0.0, -0.2]))

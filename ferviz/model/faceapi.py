"""face-api.js's expression network (FaceExpressionNet) as a torch module, its weight loader and input.

Written from the description in ``models/faceapi/README.md`` (no face-api.js code is used)::

    RGB crop (H, W, 3) uint8 -> zero-pad to square -> resize 112x112 -> (rgb - mean) / 255
      -> dense0: conv 3x3/2 3->32 (TF "same")  + 3 separable 3x3/1      (N, 32, 56, 56)
      -> dense1: separable 3x3/2 32->64        + 3 separable 3x3/1      (N, 64, 28, 28)
      -> dense2: separable 3x3/2 64->128       + 3 separable 3x3/1      (N, 128, 14, 14)
      -> dense3: separable 3x3/2 128->256      + 3 separable 3x3/1      (N, 256, 7, 7)
      -> avg pool 7x7, stride 2, "valid"                                 (N, 256, 1, 1)
      -> fc 256 -> 7 (face-api order) -> permuted to FER2013 order        (N, 7)

Inside a dense block, with ``c_k`` the k-th convolution: ``o1 = relu(c0(x))``, ``o2 = c1(o1)``,
``o3 = c2(relu(o1 + o2))``, ``o4 = c3(relu(o1 + o2 + o3))``, output ``relu(o1 + o2 + o3 + o4)``.

The weights are a TensorFlow.js manifest (JSON) plus a raw ``.bin``: uint8-quantised tensors
(``byte * scale + min``, one scale/min per tensor) and float32 biases, in TF layouts that
:func:`tf_to_torch` converts. :func:`faceapi_probs` is the teacher API used for distillation.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ferviz.data.preprocess import RGB_MODE, Preprocessing, rgb_planes, to_tensor
from ferviz.errors import CheckpointError

log = logging.getLogger(__name__)

INPUT_SIZE = 112
MEAN_RGB = (122.782, 117.001, 104.298)  # subtracted per channel (R, G, B) before dividing by 255
SCALE = 255.0
#: The network's own output order.
FACEAPI_LABELS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
#: Output k of the network is FER2013 class TO_FER2013[k] (0 angry, 1 disgust, ..., 6 neutral).
TO_FER2013 = (6, 3, 4, 0, 2, 1, 5)
#: FER2013 class j is network output FROM_FER2013[j] (the inverse permutation).
FROM_FER2013 = tuple(int(k) for k in np.argsort(TO_FER2013))
BLOCK_CHANNELS = (32, 64, 128, 256)
MANIFEST_NAME = "face_expression_model-weights_manifest.json"
BYTES_PER_ELEMENT = {"uint8": 1, "float32": 4}


# --------------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------------

def tf_same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "same" padding (before, after) of one spatial axis.

    The output has ``ceil(size / stride)`` positions; the padding needed for that is split with the
    extra pixel *after*: a 3x3 stride-2 convolution on an even side pads (0, 1), stride 1 pads (1, 1).
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H + pad, W + pad) zero-padded as TF "same" would for this conv."""
    top, bottom = tf_same_padding(x.shape[-2], kernel, stride)
    left, right = tf_same_padding(x.shape[-1], kernel, stride)
    return F.pad(x, (left, right, top, bottom))


class SameConv(nn.Module):
    """A plain 3x3 convolution with bias and TF "same" padding (dense0's first layer)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(pad_same(x, 3, self.stride))


class SeparableConv(nn.Module):
    """3x3 depthwise (no bias, TF "same") -> 1x1 pointwise -> bias; (N, C_in, H, W) -> (N, C_out, H/s, W/s)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        # stride 1: TF "same" is the symmetric (1, 1), which the convolution pads itself (no copy)
        self.depthwise = nn.Conv2d(c_in, c_in, 3, stride=stride, groups=c_in, bias=False,
                                   padding=1 if stride == 1 else 0)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x if self.stride == 1 else pad_same(x, 3, 2)))


class DenseBlock(nn.Module):
    """Four convolutions, the first with stride 2, joined by ReLU'd running sums (see the module docstring)."""

    def __init__(self, c_in: int, c_out: int, first: bool) -> None:
        super().__init__()
        self.conv0 = SameConv(c_in, c_out, 2) if first else SeparableConv(c_in, c_out, 2)
        self.conv1 = SeparableConv(c_out, c_out, 1)
        self.conv2 = SeparableConv(c_out, c_out, 1)
        self.conv3 = SeparableConv(c_out, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = F.relu(self.conv0(x))  # o1 (N, C_out, H/2, W/2); relu(o1) == o1, so conv1 sees o1
        for conv in (self.conv1, self.conv2, self.conv3):
            total = total + conv(F.relu(total))  # o1 + o2, then o1 + o2 + o3, then o1 + ... + o4
        return F.relu(total)


@dataclass(frozen=True)
class FaceApiConfig:
    """What code written for FERNet's ``cfg`` asks of a model (input channels and size, classes); fixed."""

    input_mode: str = "rgb"
    image_size: int = INPUT_SIZE
    in_channels: int = 3
    num_classes: int = 7
    attention: str = "none"  # no attention maps to explain
    recurrent: str = "none"

    def to_dict(self) -> dict:
        return asdict(self)


class FaceApiNet(nn.Module):
    """face-api.js FaceExpressionNet: (N, 3, 112, 112) normalised RGB -> (N, 7) logits in FER2013 order.

    ``forward_faceapi`` gives the logits in the network's own order (:data:`FACEAPI_LABELS`).
    """

    def __init__(self) -> None:
        super().__init__()
        self.cfg = FaceApiConfig()
        chans = (3, *BLOCK_CHANNELS)
        self.dense0 = DenseBlock(chans[0], chans[1], first=True)
        self.dense1 = DenseBlock(chans[1], chans[2], first=False)
        self.dense2 = DenseBlock(chans[2], chans[3], first=False)
        self.dense3 = DenseBlock(chans[3], chans[4], first=False)
        self.fc = nn.Linear(BLOCK_CHANNELS[-1], len(FACEAPI_LABELS))
        self.register_buffer("order", torch.tensor(FROM_FER2013), persistent=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 112, 112) -> (N, 256) pooled features."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (N, 3, H, W) normalised RGB, got shape {tuple(x.shape)}")
        x = x.contiguous(memory_format=torch.channels_last)  # same values; oneDNN's depthwise convs ~2x faster
        x = self.dense3(self.dense2(self.dense1(self.dense0(x))))  # (N, 256, 7, 7) for 112x112 input
        x = F.avg_pool2d(x, kernel_size=7, stride=2)  # "valid": (N, 256, 1, 1)
        return x.flatten(1)  # (N, 256)

    def forward_faceapi(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 112, 112) -> (N, 7) logits in face-api order (neutral, happy, sad, angry, ...)."""
        return self.fc(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 112, 112) -> (N, 7) logits in FER2013 order (angry, disgust, fear, happy, sad, surprise,
        neutral): column j is face-api output ``FROM_FER2013[j]``."""
        return self.forward_faceapi(x).index_select(1, self.order)


# --------------------------------------------------------------------------------------------------
# Weights: TensorFlow.js manifest + .bin
# --------------------------------------------------------------------------------------------------

def read_tfjs_weights(manifest: str | Path) -> dict[str, np.ndarray]:
    """Read a TF.js weights manifest and its binary file(s) into float32 arrays in TF layout.

    Parameters
    ----------
    manifest : path
        The ``*-weights_manifest.json``; the ``paths`` it lists are read from the same folder.

    Returns
    -------
    dict
        name -> float32 array of the manifest's ``shape``; quantised tensors de-quantised as
        ``byte * scale + min`` (computed in float64, stored as float32).

    Raises
    ------
    CheckpointError
        When a file is missing or malformed, or the bytes do not add up to exactly what the
        manifest describes (a truncated or foreign ``.bin``).
    """
    manifest = Path(manifest)
    try:
        groups = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{manifest}: not a readable TF.js weights manifest ({exc})") from None
    tensors: dict[str, np.ndarray] = {}
    for group in groups:
        paths = [manifest.parent / p for p in group["paths"]]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise CheckpointError(f"{manifest}: weight file(s) {', '.join(missing)} missing beside the manifest")
        blob = b"".join(p.read_bytes() for p in paths)
        expected = sum(_entry_bytes(w) for w in group["weights"])
        if len(blob) != expected:
            raise CheckpointError(f"{', '.join(p.name for p in paths)}: {len(blob):,} bytes, but the manifest "
                                  f"describes {expected:,}; the file is truncated or belongs to another model — "
                                  "restore it from models/faceapi/ (git)")
        offset = 0
        for w in group["weights"]:
            size = _entry_bytes(w)
            tensors[w["name"]] = _decode(w, blob[offset:offset + size])
            offset += size
    return tensors


def _entry_bytes(entry: dict) -> int:
    count = int(np.prod(entry["shape"], dtype=np.int64))
    dtype = entry.get("quantization", {}).get("dtype", entry["dtype"])
    if dtype not in BYTES_PER_ELEMENT:
        raise CheckpointError(f"{entry['name']}: unsupported stored dtype {dtype!r} (uint8 or float32 only)")
    return count * BYTES_PER_ELEMENT[dtype]


def _decode(entry: dict, raw: bytes) -> np.ndarray:
    shape = tuple(entry["shape"])
    quant = entry.get("quantization")
    if quant:  # one byte per element: value = byte * scale + min, one (scale, min) per tensor
        q = np.frombuffer(raw, dtype=np.uint8).astype(np.float64)
        values = q * float(quant["scale"]) + float(quant["min"])
    else:
        values = np.frombuffer(raw, dtype="<f4")
    return values.astype(np.float32).reshape(shape)  # TF layout, row-major


def tf_to_torch(name: str, value: np.ndarray) -> tuple[str, torch.Tensor]:
    """One TF.js tensor -> (FaceApiNet state-dict key, tensor in torch layout).

    ``dense0/conv0/filters`` [3, 3, in, out] -> ``dense0.conv0.conv.weight`` [out, in, 3, 3];
    ``*/depthwise_filter`` [3, 3, C, 1] -> ``*.depthwise.weight`` [C, 1, 3, 3];
    ``*/pointwise_filter`` [1, 1, in, out] -> ``*.pointwise.weight`` [out, in, 1, 1];
    ``fc/weights`` [in, out] -> ``fc.weight`` [out, in]; biases keep their shape.
    """
    parts = name.split("/")
    kind, prefix = parts[-1], ".".join(parts[:-1])
    if kind == "filters":  # [kh, kw, in, out] -> [out, in, kh, kw]
        return f"{prefix}.conv.weight", torch.from_numpy(value.transpose(3, 2, 0, 1).copy())
    if kind == "depthwise_filter":  # [kh, kw, C, 1] -> [C, 1, kh, kw]
        return f"{prefix}.depthwise.weight", torch.from_numpy(value.transpose(2, 3, 0, 1).copy())
    if kind == "pointwise_filter":  # [1, 1, in, out] -> [out, in, 1, 1]
        return f"{prefix}.pointwise.weight", torch.from_numpy(value.transpose(3, 2, 0, 1).copy())
    if kind == "weights":  # fc [in, out] -> [out, in]
        return f"{prefix}.weight", torch.from_numpy(value.T.copy())
    if kind == "bias":
        layer = "conv" if name.startswith("dense0/conv0/") else "pointwise"
        key = f"{prefix}.bias" if prefix == "fc" else f"{prefix}.{layer}.bias"
        return key, torch.from_numpy(value.copy())
    raise CheckpointError(f"{name}: not a tensor of face-api's expression network")


def load_faceapi(folder: str | Path) -> FaceApiNet:
    """An eval-mode :class:`FaceApiNet` with the weights of ``folder`` (manifest + .bin)."""
    manifest = Path(folder) / MANIFEST_NAME
    if not manifest.is_file():
        raise CheckpointError(f"{folder}: no {MANIFEST_NAME}; models/faceapi/ holds the shipped copy")
    state = dict(tf_to_torch(name, value) for name, value in read_tfjs_weights(manifest).items())
    model = FaceApiNet()
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{manifest}: weights do not fit FaceApiNet: {str(exc).splitlines()[0]}") from None
    return model.to(memory_format=torch.channels_last).eval()


# --------------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------------

#: face-api's input as a ferviz :class:`Preprocessing`: 3 colour planes of 112x112, (rgb - MEAN_RGB) / 255.
PREPROCESSING = Preprocessing(input_mode=RGB_MODE, size=INPUT_SIZE, mean=tuple(m / SCALE for m in MEAN_RGB),
                              std=1.0)


def preprocess_faces(faces, prep: Preprocessing = PREPROCESSING) -> torch.Tensor:
    """Face crops -> (N, 3, 112, 112) float32 input of :class:`FaceApiNet`.

    Parameters
    ----------
    faces : array or sequence
        (N, H, W) gray or (N, H, W, 3) RGB uint8 crops, or a sequence of (H, W) / (H, W, 3) crops of
        any sizes. Gray is replicated to three channels.
    prep : Preprocessing
        Default :data:`PREPROCESSING`.

    Returns
    -------
    torch.Tensor
        Each crop zero-padded to a square (padding split between both sides), resized to 112x112 with
        ferviz's one resize policy (:func:`ferviz.data.preprocess.resize_square`: bilinear when
        enlarging, area when shrinking), normalised as ``(rgb - MEAN_RGB) / 255``.
    """
    if isinstance(faces, np.ndarray) and faces.ndim in (3, 4):  # one batch of equal sizes
        return to_tensor(rgb_planes(faces, prep.size), prep)
    crops = [np.asarray(f, dtype=np.uint8) for f in faces]
    if not crops:
        return torch.zeros((0, 3, prep.size, prep.size))
    bad = next((c.shape for c in crops if c.ndim not in (2, 3) or 0 in c.shape), None)
    if bad is not None:
        raise ValueError(f"a face crop must be (H, W) gray or (H, W, 3) RGB, got shape {bad}")
    planes = np.concatenate([rgb_planes(c[None], prep.size) for c in crops])  # (N, 3, 112, 112) uint8
    return to_tensor(planes, prep)


# --------------------------------------------------------------------------------------------------
# Identity: the weights' digest, the folder they are in
# --------------------------------------------------------------------------------------------------

def weights_sha256(folder: str | Path) -> str:
    """sha256 of the folder's ``.bin`` (the file(s) the manifest lists, concatenated in order)."""
    manifest = Path(folder) / MANIFEST_NAME
    digest = hashlib.sha256()
    try:
        for group in json.loads(manifest.read_text()):
            for name in group["paths"]:
                digest.update((manifest.parent / name).read_bytes())
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{manifest}: cannot read the weights it lists ({exc})") from None
    return digest.hexdigest()


#: What a loaded face-api.js model says about itself (``LoadedModel.meta``; its card has the rest).
META = {"source": "face-api.js FaceExpressionNet (npm @vladmandic/face-api 1.7.15)",
        "dataset": "undisclosed (face-api.js: public datasets and images scraped from the web)",
        "license": "MIT (see LICENSE and LICENSE.face-api.js in the folder)"}


def is_faceapi_folder(path: str | Path) -> bool:
    """True for a folder holding face-api's expression weights manifest."""
    return (Path(path) / MANIFEST_NAME).is_file()


# --------------------------------------------------------------------------------------------------
# Teacher API
# --------------------------------------------------------------------------------------------------

def default_folder() -> Path:
    from ferviz.paths import MODELS_DIR

    return MODELS_DIR / "faceapi"


@lru_cache(maxsize=2)
def shipped_model(folder: str | None = None) -> FaceApiNet:
    """The shipped weights (``models/faceapi/``), loaded once per process."""
    return load_faceapi(folder or default_folder())


def faceapi_probs(images, batch_size: int = 256) -> np.ndarray:
    """Softmax probabilities of face-api's expression network, in FER2013 class order.

    Parameters
    ----------
    images : array or sequence
        (N, H, W) gray or (N, H, W, 3) RGB uint8 face crops, or a sequence of crops of any sizes.
    batch_size : int
        Faces per forward pass (memory only; results do not depend on it).

    Returns
    -------
    np.ndarray
        (N, 7) float32, rows sum to 1, columns angry, disgust, fear, happy, sad, surprise, neutral.
        Runs under ``torch.inference_mode``; torch's thread settings are left as they are.
    """
    model = shipped_model()
    n = len(images)
    out = np.empty((n, len(TO_FER2013)), np.float32)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            x = preprocess_faces(images[start:start + batch_size])
            out[start:start + len(x)] = torch.softmax(model(x), dim=1).numpy()
    return out

"""From 64x64 grayscale faces to the model's input tensor, as recorded in every checkpoint.

Two stages, so that the expensive part runs once per image and the cheap part per batch:

1. :func:`prepare_images` — (N, H, W) uint8 faces -> (N, C, S, S) uint8 model planes: resize to S x S
   and, per the input mode, the grayscale plane, the rendered HOG image (eqs. 1-8, scaled to 0-255),
   or both (docs/DESIGN.md §1); mode ``rgb`` (face-api's network, :mod:`ferviz.model.faceapi`) gives
   three colour planes, from (N, H, W, 3) RGB crops or gray crops replicated.
2. :func:`to_tensor` — uint8 planes -> float tensor normalised with the checkpoint's mean/std
   (one mean per plane where ``mean`` is a tuple).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np
import torch

from ferviz.model.network import INPUT_MODES

RGB_MODE = "rgb"  # three colour planes: models that are not FERNet (ferviz.model.faceapi)

@dataclass(frozen=True)
class Preprocessing:
    """Everything needed to turn a face crop into model input; stored in the checkpoint.

    ``input_mode`` and ``size`` have one source, the network's ``ModelConfig`` (``input_mode``,
    ``image_size``): :meth:`matching` copies them from it, and checkpoints are written and loaded through it
    (:mod:`ferviz.model.checkpoint`), so the two can never disagree. Older checkpoints store both; they agree.
    """

    input_mode: str = "gray"  # 'gray' | 'hog' | 'gray+hog' | 'rgb'
    size: int = 64  # faces are reconstructed to 64x64 (paper)
    mean: float | tuple[float, ...] = 0.5  # of pixel/255: every plane, or one per plane (a tuple)
    std: float = 0.25
    face_margin: float = 0.15  # crop margin around a detected face box (fraction of its side)
    # the test-time views every prediction averages over (ferviz.pipeline.tta): "none", or "flip" (each face and
    # its mirror image) for a checkpoint made by `ferviz adjust --tta flip`
    tta: str = "none"

    def to_dict(self) -> dict:
        return asdict(self)

    def input_part(self) -> Preprocessing:
        """The record without its test-time views: what the network itself is fed (a teacher, or a checkpoint
        averaged with this one, must match this part; each view is fed the same way)."""
        return replace(self, tta="none")

    @classmethod
    def matching(cls, config, base: Preprocessing | None = None) -> Preprocessing:
        """``base`` (default: the defaults) with the input mode and side of a model ``config``.

        Parameters
        ----------
        config : ModelConfig
            Any object with ``input_mode`` and ``image_size`` (the network's config: the source of both).
        base : Preprocessing, optional
            Normalisation and crop margin to keep.
        """
        return replace(base or cls(), input_mode=config.input_mode, size=int(config.image_size))

    @classmethod
    def from_dict(cls, data: dict) -> Preprocessing:
        data = dict(data)
        if isinstance(data.get("mean"), list):  # a per-plane mean comes back from JSON/torch as a list
            data["mean"] = tuple(data["mean"])
        return cls(**data)


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """The one resize policy of ferviz: (H, W) uint8 -> (size, size) uint8 (also (H, W, 3) -> (size, size, 3)).

    ``cv2.INTER_AREA`` when shrinking (it averages, so no aliasing), ``cv2.INTER_LINEAR`` when
    enlarging (a 48x48 FER2013 face to the model's 64x64). A non-square image is stretched; callers
    that must keep the aspect ratio cut a square first (:func:`ferviz.pipeline.faces.crop_face`). Training,
    evaluation, dataset reading and every prediction path resize through this function, so the same
    face gives the same model input whichever way it arrives.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    if image.ndim != 2 and not (image.ndim == 3 and image.shape[2] == 3):
        raise ValueError(f"expected an (H, W) grayscale or (H, W, 3) colour image, got shape {image.shape}")
    if image.shape[:2] == (size, size):
        return np.ascontiguousarray(image)
    interp = cv2.INTER_AREA if image.shape[0] * image.shape[1] > size * size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image), (size, size), interpolation=interp)


def resize_faces(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W) uint8 -> (N, size, size) uint8, each through :func:`resize_square` ((N, H, W, 3) too)."""
    if images.ndim != 3 and not (images.ndim == 4 and images.shape[3] == 3):
        raise ValueError(f"expected (N, H, W) grayscale or (N, H, W, 3) colour faces, got shape {images.shape}")
    if images.shape[1:3] == (size, size):
        return images
    if len(images) == 0:
        return np.zeros((0, size, size, *images.shape[3:]), np.uint8)
    return np.stack([resize_square(im, size) for im in images])


def hog_planes(faces: np.ndarray) -> np.ndarray:
    """(N, S, S) uint8 -> (N, S, S) uint8 rendered HOG images (the paper's network input)."""
    from ferviz.data.hog import render_hog  # local import: HOG is only needed for the 'hog' input modes

    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        out[i] = np.clip(render_hog(face) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out


def rgb_planes(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W) gray or (N, H, W, 3) RGB uint8 faces -> (N, 3, size, size) uint8 colour planes.

    A non-square face is zero-padded to a square first (the padding split between both sides, the
    odd pixel after), then resized with :func:`resize_square`'s policy; gray is replicated.
    """
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim == 3:
        images = images[..., None]  # (N, H, W) -> (N, H, W, 1): replicated after resizing
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"expected (N, H, W) gray or (N, H, W, 3) RGB faces, got shape {images.shape}")
    n, h, w, c = images.shape
    diff = abs(h - w)
    pad = [(0, 0), (diff // 2, diff - diff // 2), (0, 0), (0, 0)]  # pad the shorter side
    if h > w:
        pad[1], pad[2] = pad[2], pad[1]
    squares = np.pad(images, pad) if diff else images  # (N, S0, S0, c)
    out = np.empty((n, size, size, c), np.uint8)
    for i, square in enumerate(squares):
        for k in range(c):  # cv2 keeps a 3-channel image's layout, but not a 1-channel one's
            out[i, :, :, k] = resize_square(square[:, :, k], size)
    if c == 1:
        out = np.repeat(out, 3, axis=3)  # (N, size, size, 1) -> (N, size, size, 3)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))  # (N, 3, size, size)


def to_gray(faces: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) RGB uint8 -> (N, H, W) gray (OpenCV's RGB2GRAY, as the face finder uses); gray as it is."""
    if faces.ndim != 4 or faces.shape[3] != 3:
        return faces
    out = np.empty(faces.shape[:3], np.uint8)
    for i, face in enumerate(faces):
        out[i] = cv2.cvtColor(np.ascontiguousarray(face), cv2.COLOR_RGB2GRAY)
    return out


def prepare_images(images: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """(N, H, W) uint8 grayscale faces -> (N, C, S, S) uint8 planes for ``prep.input_mode``.

    (N, H, W, 3) RGB faces are accepted too: mode ``rgb`` keeps the colour (:func:`rgb_planes`), the
    gray modes convert them to gray first (:func:`to_gray`).
    """
    if prep.input_mode == RGB_MODE:
        return rgb_planes(images, prep.size)
    if prep.input_mode not in INPUT_MODES:
        raise ValueError(f"unknown input mode {prep.input_mode!r}; choose one of "
                         f"{sorted([*INPUT_MODES, RGB_MODE])}")
    faces = to_gray(np.asarray(images, dtype=np.uint8))
    faces = resize_faces(faces, prep.size)
    planes = {"gray": [faces], "hog": [hog_planes(faces)], "gray+hog": [faces, hog_planes(faces)]}
    return np.stack(planes[prep.input_mode], axis=1)  # (N, C, S, S)


def to_tensor(planes: np.ndarray | torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """(N, C, S, S) uint8 planes -> normalised float32 tensor ((x / 255 - mean) / std).

    A tuple ``mean`` has one value per plane (C of them).
    """
    x = torch.as_tensor(planes).float().div_(255.0)
    mean = torch.tensor(prep.mean).view(1, -1, 1, 1) if isinstance(prep.mean, tuple) else prep.mean
    return x.sub_(mean).div_(prep.std)


def faces_to_tensor(faces: np.ndarray, prep: Preprocessing) -> torch.Tensor:
    """(N, H, W) or (H, W) uint8 face crops -> model input (N, C, S, S) float32.

    (N, H, W, 3) RGB crops, or one (H, W, 3) crop, are accepted too (see :func:`prepare_images`). A
    3-D array whose last axis is 3 is one colour crop.
    """
    faces = np.asarray(faces, dtype=np.uint8)
    if faces.ndim == 2 or (faces.ndim == 3 and faces.shape[-1] == 3):
        faces = faces[None]  # one crop: (H, W) gray or (H, W, 3) colour
    return to_tensor(prepare_images(faces, prep), prep)

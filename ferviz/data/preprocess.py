"""From 64x64 grayscale faces to the model's input tensor, as recorded in every checkpoint.

Two stages, so that the expensive part runs once per image and the cheap part per batch:

1. :func:`prepare_images` — (N, H, W) uint8 faces -> (N, C, S, S) uint8 model planes: resize to S x S
   and, per the input mode, the grayscale plane, the rendered HOG image (eqs. 1-8, scaled to 0-255),
   or both (docs/DESIGN.md §1).
2. :func:`to_tensor` — uint8 planes -> float tensor normalised with the checkpoint's mean/std.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch

from ferviz.model.network import INPUT_MODES


@dataclass(frozen=True)
class Preprocessing:
    """Everything needed to turn a face crop into model input; stored in the checkpoint."""

    input_mode: str = "gray"  # 'gray' | 'hog' | 'gray+hog'
    size: int = 64  # faces are reconstructed to 64x64 (paper)
    mean: float = 0.5  # of pixel/255, every plane
    std: float = 0.25
    face_margin: float = 0.15  # crop margin around a detected face box (fraction of its side)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Preprocessing:
        return cls(**data)


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """The one resize policy of ferviz: (H, W) uint8 -> (size, size) uint8.

    ``cv2.INTER_AREA`` when shrinking (it averages, so no aliasing), ``cv2.INTER_LINEAR`` when
    enlarging (a 48x48 FER2013 face to the model's 64x64). A non-square image is stretched; callers
    that must keep the aspect ratio cut a square first (:func:`ferviz.pipeline.faces.crop_face`). Training,
    evaluation, dataset reading and every prediction path resize through this function, so the same
    face gives the same model input whichever way it arrives.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    if image.ndim != 2:
        raise ValueError(f"expected an (H, W) grayscale image, got shape {image.shape}")
    if image.shape == (size, size):
        return np.ascontiguousarray(image)
    interp = cv2.INTER_AREA if image.shape[0] * image.shape[1] > size * size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image), (size, size), interpolation=interp)


def resize_faces(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W) uint8 -> (N, size, size) uint8, each through :func:`resize_square`."""
    if images.ndim != 3:
        raise ValueError(f"expected (N, H, W) grayscale faces, got shape {images.shape}")
    if images.shape[1:] == (size, size):
        return images
    if len(images) == 0:
        return np.zeros((0, size, size), np.uint8)
    return np.stack([resize_square(im, size) for im in images])


def hog_planes(faces: np.ndarray) -> np.ndarray:
    """(N, S, S) uint8 -> (N, S, S) uint8 rendered HOG images (the paper's network input)."""
    from ferviz.data.hog import render_hog  # local import: HOG is only needed for the 'hog' input modes

    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        out[i] = np.clip(render_hog(face) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out


def prepare_images(images: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """(N, H, W) uint8 grayscale faces -> (N, C, S, S) uint8 planes for ``prep.input_mode``."""
    if prep.input_mode not in INPUT_MODES:
        raise ValueError(f"unknown input mode {prep.input_mode!r}; choose one of {sorted(INPUT_MODES)}")
    faces = resize_faces(np.asarray(images, dtype=np.uint8), prep.size)
    planes = {"gray": [faces], "hog": [hog_planes(faces)], "gray+hog": [faces, hog_planes(faces)]}
    return np.stack(planes[prep.input_mode], axis=1)  # (N, C, S, S)


def to_tensor(planes: np.ndarray | torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """(N, C, S, S) uint8 planes -> normalised float32 tensor ((x / 255 - mean) / std)."""
    x = torch.as_tensor(planes).float().div_(255.0)
    return x.sub_(prep.mean).div_(prep.std)


def faces_to_tensor(faces: np.ndarray, prep: Preprocessing) -> torch.Tensor:
    """(N, H, W) or (H, W) uint8 face crops -> model input (N, C, S, S) float32."""
    faces = np.asarray(faces, dtype=np.uint8)
    if faces.ndim == 2:
        faces = faces[None]
    return to_tensor(prepare_images(faces, prep), prep)

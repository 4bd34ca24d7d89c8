"""Preprocessing: the one resize policy, model planes per input mode, and the normalisation."""

import cv2
import numpy as np
import pytest
import torch

from ferviz.data.preprocess import (
    Preprocessing,
    faces_to_tensor,
    prepare_images,
    resize_faces,
    resize_square,
    to_tensor,
)

RNG = np.random.default_rng(0)


def test_resize_enlarges_bilinearly_and_shrinks_by_area():
    small = RNG.integers(0, 256, (48, 48), np.uint8)
    big = RNG.integers(0, 256, (256, 256), np.uint8)
    np.testing.assert_array_equal(resize_square(small, 64),
                                  cv2.resize(small, (64, 64), interpolation=cv2.INTER_LINEAR))
    np.testing.assert_array_equal(resize_square(big, 64),
                                  cv2.resize(big, (64, 64), interpolation=cv2.INTER_AREA))
    same = RNG.integers(0, 256, (64, 64), np.uint8)
    np.testing.assert_array_equal(resize_square(same, 64), same)


def test_resize_hand_values_and_constant_images():
    # 2x2 -> 1x1 by area is the mean of the four pixels
    assert resize_square(np.array([[0, 100], [100, 200]], np.uint8), 1)[0, 0] == 100
    flat = np.full((37, 53), 77, np.uint8)
    assert (resize_square(flat, 64) == 77).all() and (resize_square(flat, 16) == 77).all()


def test_resize_refuses_bad_input():
    with pytest.raises(ValueError, match="size"):
        resize_square(np.zeros((4, 4), np.uint8), 0)
    with pytest.raises(ValueError, match="grayscale"):
        resize_square(np.zeros((4, 4, 2), np.uint8), 8)
    assert resize_square(np.zeros((4, 4, 3), np.uint8), 8).shape == (8, 8, 3)  # colour crops keep their channels


def test_resize_faces_is_resize_square_per_image():
    faces = RNG.integers(0, 256, (3, 48, 48), np.uint8)
    out = resize_faces(faces, 64)
    assert out.shape == (3, 64, 64)
    for face, got in zip(faces, out, strict=True):
        np.testing.assert_array_equal(got, resize_square(face, 64))
    assert resize_faces(np.zeros((0, 48, 48), np.uint8), 64).shape == (0, 64, 64)


@pytest.mark.parametrize(("mode", "planes"), [("gray", 1), ("hog", 1), ("gray+hog", 2)])
def test_prepare_images_gives_one_plane_per_input(mode, planes):
    faces = RNG.integers(0, 256, (2, 48, 48), np.uint8)
    out = prepare_images(faces, Preprocessing(input_mode=mode))
    assert out.shape == (2, planes, 64, 64) and out.dtype == np.uint8
    if mode == "gray+hog":
        np.testing.assert_array_equal(out[:, 0], resize_faces(faces, 64))


def test_to_tensor_normalises_with_the_checkpoint_values():
    planes = np.array([[[[0, 255], [128, 64]]]], np.uint8)
    x = to_tensor(planes, Preprocessing(mean=0.5, std=0.25))
    expect = (torch.tensor([[0, 255], [128, 64]]) / 255.0 - 0.5) / 0.25
    torch.testing.assert_close(x[0, 0], expect)
    assert faces_to_tensor(np.zeros((48, 48), np.uint8), Preprocessing()).shape == (1, 1, 64, 64)

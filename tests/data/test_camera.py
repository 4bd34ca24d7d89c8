"""Tests for ferviz.data.camera: each camera-photo degradation, hand values, and the seeded batch."""

import numpy as np
import pytest

from ferviz.data.camera import DEGRADATIONS, blur, camera_batch, gamma, jpeg, low_resolution, parse_kinds, to_gray


def _face(seed=0, size=64):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    base = 128 + 60 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    return np.clip(base + rng.normal(0, 10, (size, size)), 0, 255).astype(np.uint8)


def test_gray_variants_hand_values():
    rgb = np.full((2, 2, 3), (10, 20, 30), np.uint8)
    assert to_gray(rgb, "luma")[0, 0] == 18  # 0.299*10 + 0.587*20 + 0.114*30 = 18.15
    assert to_gray(rgb, "mean")[0, 0] == 20 and to_gray(rgb, "green")[0, 0] == 20
    assert to_gray(rgb[..., 0]).shape == (2, 2)
    with pytest.raises(ValueError, match="choose one of"):
        to_gray(rgb, "sepia")


def test_each_degradation_hand_values_and_properties():
    assert gamma(np.array([[0, 128, 255]], np.uint8), 2.0).tolist() == [[0, 64, 255]]  # 255*(128/255)^2 = 64.25
    face = _face()
    flat = np.full((32, 32), 77, np.uint8)
    assert (blur(flat, 1.2) == 77).all() and (low_resolution(flat, 0.4) == 77).all()
    assert blur(face, 1.5).std() < face.std()  # blurring removes the pixel noise
    assert low_resolution(face, 0.3).std() < face.std()
    hard, soft = jpeg(face, 15), jpeg(face, 95)
    assert hard.shape == face.shape and hard.dtype == np.uint8
    assert np.abs(hard.astype(int) - face).mean() > np.abs(soft.astype(int) - face).mean()


def test_camera_batch_is_seeded_leaves_input_and_other_modes_alone():
    planes = np.stack([_face(i) for i in range(6)])[:, None]
    copy = planes.copy()
    a = camera_batch(planes, 0.5, np.random.default_rng(3))
    b = camera_batch(planes, 0.5, np.random.default_rng(3))
    assert np.array_equal(a, b) and np.array_equal(planes, copy) and a.shape == planes.shape
    assert np.array_equal(camera_batch(planes, 0.0, np.random.default_rng(0)), planes)
    every = camera_batch(planes, 1.0, np.random.default_rng(0))
    assert all(not np.array_equal(every[i], planes[i]) for i in range(6))
    two = np.concatenate([planes, planes], axis=1)  # gray+hog planes: untouched
    assert camera_batch(two, 1.0, np.random.default_rng(0)) is two
    with pytest.raises(ValueError, match="choose from"):
        camera_batch(planes, 0.5, np.random.default_rng(0), kinds=("rain",))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        camera_batch(planes, 1.5, np.random.default_rng(0))
    assert set(DEGRADATIONS) == {"gamma", "blur", "low_resolution", "jpeg"}


def test_parse_kinds_keeps_the_camera_order_and_names_a_typo():
    assert parse_kinds("") == ("gamma", "blur", "low_resolution", "jpeg")
    assert parse_kinds("jpeg, gamma") == ("gamma", "jpeg")  # the order a camera applies them, not the typed one
    with pytest.raises(ValueError, match="unknown camera degradation.*rain.*choose from gamma"):
        parse_kinds("blur,rain")


def test_camera_batch_applies_only_the_chosen_kinds():
    planes = np.stack([_face(i) for i in range(3)])[:, None]
    only_gamma = camera_batch(planes, 1.0, np.random.default_rng(0), kinds=parse_kinds("gamma"))
    rng = np.random.default_rng(0)
    rng.random((3, 1))  # the hit draw: at p = 1 every face is hit once, by gamma alone
    first = gamma(planes[0, 0], DEGRADATIONS["gamma"][1](rng))
    assert np.array_equal(only_gamma[0, 0], first)

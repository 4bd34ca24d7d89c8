"""Tests for ferviz.pipeline.crop: the FER2013 alignment template, the one crop policy, colour crops."""

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from ferviz.pipeline.crop import (
    FER_TEMPLATE,
    align_face,
    alignment_matrix,
    can_align,
    crop_face,
    face_crop,
    model_crops,
    to_gray,
)
from ferviz.pipeline.detect import FaceBox
from ferviz.pipeline.faces import aligned_crops, find_faces

ASTRONAUT = skdata.astronaut()  # (512, 512, 3) uint8, public-domain NASA photo with one frontal face


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """``image`` turned by ``degrees`` (counter-clockwise) about its centre, edges replicated."""
    h, w = image.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, turn, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def test_the_matrix_maps_level_eyes_and_mouth_as_computed_by_hand():
    # eyes 20 px apart at y=20, mouth 20 px below: scale 64 * (0.38 + 0.3725) / 40 (template values)
    points = ((10.0, 20.0), (30.0, 20.0), (20.0, 30.0), (14.0, 40.0), (26.0, 40.0))
    m = alignment_matrix(points, 64)
    scale = 64 * (FER_TEMPLATE["inter_ocular"] + FER_TEMPLATE["eye_mouth"]) / 40
    np.testing.assert_allclose(m[:, :2], scale * np.eye(2))
    mid = m @ np.array([20.0, 20.0, 1.0])
    np.testing.assert_allclose(mid, 64 * np.array(FER_TEMPLATE["eye_mid"]))
    left, right = m @ np.array([10.0, 20.0, 1.0]), m @ np.array([30.0, 20.0, 1.0])
    assert left[1] == pytest.approx(right[1]) and right[0] - left[0] == pytest.approx(20 * scale)


def test_the_matrix_turns_the_eye_line_level_whatever_the_eye_order():
    a = np.radians(30)
    eyes = ((100.0, 100.0), (100.0 + 40 * np.cos(a), 100.0 + 40 * np.sin(a)))
    for order in (eyes, eyes[::-1]):
        m = alignment_matrix(order, 64)
        (x1, y1), (x2, y2) = (m @ np.array([*p, 1.0]) for p in eyes)
        assert y1 == pytest.approx(y2, abs=1e-9) and x2 > x1  # level, and the image-left eye stays left
        assert x2 - x1 == pytest.approx(64 * FER_TEMPLATE["inter_ocular"])  # eyes only: their distance sets it


def synthetic_face(degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """A drawn face (dark discs: two eyes 60 px apart, two mouth corners 60 px below) turned by ``degrees``
    about the image centre, and its five landmarks turned with it (exact, unlike a detector's)."""
    image = np.full((300, 300, 3), 200, np.uint8)
    points = np.array([[120.0, 130.0], [180.0, 130.0], [150.0, 160.0], [128.0, 190.0], [172.0, 190.0]])
    for k, (x, y) in enumerate(points):
        if k != 2:  # no nose blob
            cv2.circle(image, (int(x), int(y)), 6, (20, 20, 20), -1, lineType=cv2.LINE_AA)
    turn = cv2.getRotationMatrix2D((150, 150), degrees, 1.0)
    image = cv2.warpAffine(image, turn, (300, 300), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return image, points @ turn[:, :2].T + turn[:, 2]


def blob_centres(crop: np.ndarray) -> np.ndarray:
    """Centroids (x, y) of the dark blobs of a crop, top to bottom."""
    n, _, stats, centres = cv2.connectedComponentsWithStats((to_gray(crop) < 110).astype(np.uint8))
    kept = [c for c, st in zip(centres[1:], stats[1:], strict=True) if st[cv2.CC_STAT_AREA] > 5]
    return np.array(sorted(kept, key=lambda c: c[1]))


@pytest.mark.parametrize("degrees", [0, 17, -33, 90])
def test_a_turned_face_comes_out_with_its_eyes_level_and_at_the_template(degrees):
    image, landmarks = synthetic_face(degrees)
    crop = align_face(image, landmarks, size=128)
    blobs = blob_centres(crop)
    assert len(blobs) == 4  # two eyes, two mouth corners: nothing cut off
    (lx, ly), (rx, ry) = sorted(blobs[:2].tolist())
    assert abs(np.degrees(np.arctan2(ry - ly, rx - lx))) < 1.0  # level within a degree
    cx, cy = 128 * np.array(FER_TEMPLATE["eye_mid"])
    assert abs((lx + rx) / 2 - cx) < 1.0 and abs((ly + ry) / 2 - cy) < 1.0  # the template's eye midpoint
    # eye distance and eye-to-mouth height are equal here (60 px), so both come out as their template mean
    half = 128 * (FER_TEMPLATE["inter_ocular"] + FER_TEMPLATE["eye_mouth"]) / 2
    assert rx - lx == pytest.approx(half, abs=1.0) and blobs[2:, 1].mean() - cy == pytest.approx(half, abs=1.0)


#: The astronaut's head filling a 400x400 photo (eyes about 70 px apart, searched at full size).
HEAD = cv2.resize(ASTRONAUT[0:260, 95:355], (400, 400), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("degrees", [0, 12, -20])
def test_a_turned_photo_is_turned_back_as_far_as_yunet_sees_the_turn(degrees):
    """The eyes found in the upright photo, turned with the photo (so their true place is known), are
    mapped by the alignment of the turned photo. YuNet's landmarks under-read a turn (measured here: 0,
    2.8 and 7.2 degrees left of 0, 12 and -20), so the crop is level within that error, not within 1 degree:
    the exact warp is tested on the drawn face above."""
    upright = find_faces(HEAD, detector="yunet").faces[0].box.landmarks[:2]
    turn = cv2.getRotationMatrix2D((200, 200), degrees, 1.0)
    photo = cv2.warpAffine(HEAD, turn, (400, 400), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    (face,) = find_faces(photo, detector="yunet", size=64).faces
    assert face.aligned and face.crop.shape == (64, 64, 3)
    to_crop = alignment_matrix(face.box.landmarks, 64)
    true_eyes = [turn @ np.array([x, y, 1.0]) for x, y in upright]
    (lx, ly), (rx, ry) = sorted((to_crop @ np.array([x, y, 1.0]) / 64).tolist() for x, y in true_eyes)
    assert abs(np.degrees(np.arctan2(ry - ly, rx - lx))) < 1.0 + 0.4 * abs(degrees)
    cx, cy = FER_TEMPLATE["eye_mid"]
    assert abs((lx + rx) / 2 - cx) < 0.03 and abs((ly + ry) / 2 - cy) < 0.03  # at the template's eyes
    assert (rx - lx) == pytest.approx(FER_TEMPLATE["inter_ocular"], rel=0.15)


def test_turned_and_upright_photos_give_nearly_the_same_aligned_crop():
    upright = find_faces(ASTRONAUT, detector="yunet").faces[0].crop.astype(float)
    turned = find_faces(rotated(ASTRONAUT, 20), detector="yunet").faces[0]
    plain = find_faces(rotated(ASTRONAUT, 20), detector="yunet", align=False).faces[0]
    aligned_gap = np.abs(turned.crop - upright).mean()
    assert not plain.aligned and aligned_gap < 0.8 * np.abs(plain.crop - upright).mean()  # YuNet under-reads the turn


def test_without_landmarks_the_box_crop_is_used():
    box = FaceBox(170, 60, 100, 110)  # no landmarks: what the Haar detector gives
    assert not can_align(box)
    np.testing.assert_array_equal(face_crop(ASTRONAUT, box, 64, 0.15), crop_face(ASTRONAUT, box, 64, 0.15))
    (face,) = find_faces(ASTRONAUT, detector="haar").faces
    assert not face.aligned and face.box.landmarks is None
    np.testing.assert_array_equal(face.crop, crop_face(ASTRONAUT, face.box, 64, 0.15))


def test_eyes_too_close_are_not_aligned_on():
    box = FaceBox(10, 10, 40, 40, landmarks=((20.0, 20.0), (21.0, 20.0), (20, 25), (18, 30), (22, 30)))
    assert not can_align(box)
    with pytest.raises(ValueError, match="too close"):
        align_face(ASTRONAUT, box.landmarks)


def test_crops_keep_colour_and_gray_stays_gray():
    (face,) = find_faces(ASTRONAUT).faces
    assert face.crop.shape == (64, 64, 3) and face.crop64.shape == (64, 64)
    np.testing.assert_array_equal(face.crop64, to_gray(face.crop))
    gray = to_gray(ASTRONAUT)
    assert align_face(gray, face.box.landmarks).shape == (64, 64)
    assert align_face(ASTRONAUT, face.box.landmarks, size=48).shape == (48, 48, 3)


def test_model_crops_is_the_one_colour_to_gray_conversion():
    colour = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), np.uint8)
    gray = model_crops(colour, "gray")
    assert gray.shape == (2, 8, 8)
    np.testing.assert_array_equal(gray[1], to_gray(colour[1]))
    np.testing.assert_array_equal(model_crops(colour, "rgb"), colour)
    assert model_crops(gray, "rgb").shape == (2, 8, 8, 3) and model_crops(gray, "hog") is not None


def test_a_large_face_is_shrunk_without_aliasing():
    """A face far larger than the crop is warped at its own scale, then area-averaged: a fine
    checkerboard comes out mid-grey, not as a moire of black and white."""
    board = ((np.indices((800, 800)).sum(0) % 2) * 255).astype(np.uint8)
    crop = align_face(board, ((250.0, 300.0), (550.0, 300.0), (400, 420), (300, 560), (500, 560)), size=32)
    assert abs(float(crop.mean()) - 127.5) < 10 and crop.std() < 20


def test_aligned_crops_detects_and_aligns_a_batch():
    images = np.stack([cv2.resize(ASTRONAUT[0:260, 100:360], (200, 200), interpolation=cv2.INTER_AREA),
                       np.zeros((200, 200, 3), np.uint8)])
    crops, found = aligned_crops(images, size=64)
    assert crops.shape == (2, 64, 64, 3) and crops.dtype == np.uint8
    assert found.tolist() == [True, False]
    face = find_faces(images[0], detector="yunet", max_faces=1).faces[0]
    np.testing.assert_array_equal(crops[0], align_face(images[0], face.box.landmarks, 64))
    gray, found = aligned_crops([to_gray(images[0])], size=48)
    assert gray.shape == (1, 48, 48) and found.tolist() == [True]

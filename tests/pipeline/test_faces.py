"""Tests for ferviz.pipeline.faces (.detect, .crop): detection, fallback, ordering, cap, crops, robustness."""

import io
import threading

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from skimage import data as skdata

from ferviz.data.imageio import decode_image
from ferviz.errors import ImageError
from ferviz.pipeline.faces import (
    DETECTORS,
    NO_FACE_MESSAGE,
    FaceBox,
    FaceSearch,
    center_square,
    crop_face,
    find_faces,
    to_gray,
)

ASTRONAUT = skdata.astronaut()  # (512, 512, 3) uint8, public-domain NASA photo with one frontal face
FACE_TILE = ASTRONAUT[13:213, 123:323]  # 200x200 around the face, without the rest of the suit


def face_grid(rows: int, cols: int, sides: list[int], seed: int = 0) -> np.ndarray:
    """Copies of the astronaut's face on a grey canvas, each cell 160 px, rows jittered by up to 12 px."""
    rng = np.random.default_rng(seed)
    canvas = np.full((rows * 160, cols * 160, 3), 90, np.uint8)
    for k in range(rows * cols):
        i, j, side = k // cols, k % cols, sides[k % len(sides)]
        y, x = i * 160 + 18 + int(rng.integers(-12, 13)), j * 160 + 10
        canvas[y: y + side, x: x + side] = cv2.resize(FACE_TILE, (side, side), interpolation=cv2.INTER_AREA)
    return canvas


@pytest.mark.parametrize("detector", list(DETECTORS))
def test_astronaut_has_exactly_one_face(detector):
    found = find_faces(ASTRONAUT, detector=detector)
    assert found.detector == detector
    assert not found.fallback and found.message is None and not found.capped
    assert found.n_found == 1 and len(found.faces) == 1 and found.image_size == (512, 512)
    face = found.faces[0]
    box = face.box
    assert 0 <= box.x and 0 <= box.y and box.x + box.w <= 512 and box.y + box.h <= 512
    assert abs(box.center[0] - 223) < 20 and abs(box.center[1] - 113) < 20 and 70 < box.w < 130
    if detector == "yunet":
        assert 0.6 < box.score <= 1 and len(box.landmarks) == 5 and box.confidence_text == f"{box.score:.2f}"
        (lx, ly), (rx, ry) = sorted(box.landmarks[:2])
        assert box.x < lx < rx < box.x + box.w and abs(ly - ry) < 10  # two eyes, nearly level
    else:
        assert box.neighbours >= 5 and box.landmarks is None and box.confidence_text.endswith("hits")
    assert face.crop64.shape == (64, 64) and face.crop64.dtype == np.uint8 and face.index == 0
    assert not face.fallback


def test_face_is_found_after_decoding_a_jpeg_upload():
    buf = io.BytesIO()
    Image.fromarray(ASTRONAUT).save(buf, "JPEG", quality=90)
    assert find_faces(decode_image(buf.getvalue()).rgb).n_found == 1


@pytest.mark.parametrize("img", [
    np.zeros((300, 400, 3), np.uint8),
    np.random.default_rng(0).integers(0, 256, (300, 400, 3), np.uint8),
], ids=["blank", "noise"])
@pytest.mark.parametrize("detector", list(DETECTORS))
def test_no_face_gives_no_face_unless_the_centre_is_asked_for(img, detector):
    found = find_faces(img, detector=detector)
    assert found.faces == () and not found.fallback and found.n_found == 0
    assert found.message == NO_FACE_MESSAGE
    found = find_faces(img, detector=detector, fallback="centre")
    assert found.fallback and found.message.startswith(NO_FACE_MESSAGE) and "centre square" in found.message
    (face,) = found.faces
    assert face.fallback and face.box == FaceBox(50, 0, 300, 300)
    assert np.array_equal(face.crop64, to_gray(center_square(img))) and face.crop.shape == (64, 64, 3)


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 5, 3), (5, 7), (1, 500, 3), (3000, 1)])
@pytest.mark.parametrize("detector", list(DETECTORS))
def test_tiny_and_thin_images_are_not_searched(shape, detector):
    found = find_faces(np.full(shape, 100, np.uint8), detector=detector)
    assert found.faces == () and "too small to search for faces" in found.message
    found = find_faces(np.full(shape, 100, np.uint8), detector=detector, fallback="centre")
    assert found.fallback and found.faces[0].crop64.shape == (64, 64)


def test_many_faces_come_in_reading_order():
    found = find_faces(face_grid(3, 4, [110]))
    assert found.n_found == 12 and not found.capped
    cells = [(round(f.box.center[1] // 160), round(f.box.center[0] // 160)) for f in found.faces]
    assert cells == [(i, j) for i in range(3) for j in range(4)]  # rows top to bottom, each left to right
    assert [f.index for f in found.faces] == list(range(12))


def test_cap_keeps_the_largest_faces_and_says_so():
    grid = face_grid(2, 4, [80, 135, 95, 120])
    everything = find_faces(grid)
    assert everything.n_found == 8
    found = find_faces(grid, max_faces=3)
    assert found.capped and found.n_found == 8 and len(found.faces) == 3
    assert found.message == "Found 8 faces; showing the 3 largest"
    largest = sorted((f.box.area for f in everything.faces), reverse=True)[:3]
    assert sorted((f.box.area for f in found.faces), reverse=True) == largest
    order = [f.box for f in everything.faces]
    positions = [order.index(f.box) for f in found.faces]
    assert positions == sorted(positions)  # still in reading order


def test_crop_pads_with_replicated_edges_at_the_border():
    gray = (np.arange(60)[:, None] * 3 + np.arange(80)[None, :]).astype(np.uint8)  # (60, 80)
    crop = crop_face(gray, FaceBox(0, 0, 20, 20), size=40, margin=0.5)  # square -10..30, no resize
    assert np.array_equal(crop[10:, 10:], gray[:30, :30])
    assert np.array_equal(crop[:10, 10:], np.broadcast_to(gray[0, :30], (10, 30)))
    assert np.array_equal(crop[10:, :10], np.broadcast_to(gray[:30, :1], (30, 10)))
    assert (crop[:10, :10] == gray[0, 0]).all()


def test_crop_inside_the_image_uses_the_margin():
    gray = np.random.default_rng(0).integers(0, 256, (100, 100), np.uint8)
    assert np.array_equal(crop_face(gray, FaceBox(30, 30, 20, 20), size=30, margin=0.25), gray[25:55, 25:55])
    enlarged = crop_face(gray, FaceBox(30, 30, 20, 20), size=64, margin=0.0)
    assert np.array_equal(enlarged, cv2.resize(gray[30:50, 30:50], (64, 64), interpolation=cv2.INTER_LINEAR))
    shrunk = crop_face(gray, FaceBox(10, 10, 80, 80), size=64, margin=0.0)
    assert np.array_equal(shrunk, cv2.resize(gray[10:90, 10:90], (64, 64), interpolation=cv2.INTER_AREA))


def test_crop_refuses_boxes_off_the_image():
    with pytest.raises(ValueError, match="outside"):
        crop_face(np.zeros((10, 10), np.uint8), FaceBox(50, 50, 5, 5), margin=0.0)
    with pytest.raises(ValueError, match="non-empty box"):
        crop_face(np.zeros((10, 10), np.uint8), FaceBox(0, 0, 0, 5))


def test_to_gray_uses_bt601_weights():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    assert to_gray(rgb).tolist() == [[76, 150, 29, 255]]
    assert to_gray(rgb[..., :1]).tolist() == [[255, 0, 0, 255]]
    assert to_gray(np.dstack([rgb, np.zeros((1, 4), np.uint8)])).tolist() == [[76, 150, 29, 255]]


@pytest.mark.parametrize("bad", [
    np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 2), np.uint8), np.zeros((0, 5), np.uint8),
    np.zeros((2, 2, 2, 3), np.uint8), [[1, 2], [3, 4]],
])
def test_bad_arrays_raise_image_error(bad):
    with pytest.raises(ImageError, match="expected"):
        find_faces(bad)


def test_center_square_keeps_the_aspect_ratio():
    fer = np.random.default_rng(0).integers(0, 256, (48, 48), np.uint8)
    assert np.array_equal(center_square(fer), cv2.resize(fer, (64, 64), interpolation=cv2.INTER_LINEAR))
    wide = np.zeros((64, 96), np.uint8)
    wide[:, 16:80] = 200
    assert (center_square(wide) == 200).all()  # the centre square, not a squashed frame


def test_box_scaling_maps_back_to_the_upload():
    assert FaceBox(10, 20, 30, 40, neighbours=5).scaled(2.5) == FaceBox(25, 50, 75, 100, neighbours=5)


def test_threads_share_the_detector_safely():
    results: list[FaceSearch] = []
    threads = [threading.Thread(target=lambda: results.append(find_faces(ASTRONAUT))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.faces[0].box for r in results] == [results[0].faces[0].box] * 4


SHAPES = st.one_of(
    st.tuples(st.integers(1, 200), st.integers(1, 200)),
    st.tuples(st.just(1), st.integers(1, 3000)),
    st.tuples(st.integers(1, 3000), st.just(1)),
    st.tuples(st.integers(24, 40), st.integers(500, 2500)),
)


@settings(max_examples=150, deadline=None)
@given(SHAPES, st.sampled_from([None, 1, 2, 3, 4, 5]), st.sampled_from(["uint8", "uint8", "float32", "bool"]),
       st.integers(0, 2**32 - 1), st.integers(1, 3))
def test_random_arrays_give_a_result_or_image_error(hw, channels, dtype, seed, max_faces):
    shape = hw if channels is None else (*hw, channels)
    img = np.random.default_rng(seed).integers(0, 256, shape).astype(dtype)
    try:
        found = find_faces(img, max_faces=max_faces, size=32, fallback="centre")
    except ImageError:
        assert dtype != "uint8" or channels in (2, 5)
        return
    assert 1 <= len(found.faces) <= max_faces and found.image_size == (hw[1], hw[0])
    for face in found.faces:
        assert face.crop64.shape == (32, 32) and face.crop64.dtype == np.uint8
        assert 0 <= face.box.x and 0 <= face.box.y and face.box.x + face.box.w <= hw[1]
        assert face.box.y + face.box.h <= hw[0]


def test_min_confidence_drops_weak_yunet_detections():
    assert find_faces(ASTRONAUT, detector="yunet", min_confidence=0.99).faces == ()
    assert len(find_faces(ASTRONAUT, detector="yunet", min_confidence=0.5).faces) == 1


def astronaut_grid(side: int, tile: int) -> tuple[np.ndarray, int]:
    """A grey ``side`` x ``side`` canvas tiled with shrunken astronauts (face about 18 % of a tile)."""
    canvas = np.full((side, side, 3), 128, np.uint8)
    small = cv2.resize(ASTRONAUT, (tile, tile), interpolation=cv2.INTER_AREA)
    starts = range(0, side - tile + 1, tile + 10)
    for y in starts:
        for x in starts:
            canvas[y:y + tile, x:x + tile] = small
    return canvas, len(starts) ** 2


@pytest.mark.parametrize("shape, searched", [((512, 512), (400, 400)), ((1200, 1200), (400, 400)),
                                             ((480, 640), (400, 534)), ((256, 256), (256, 256)),
                                             ((100, 100), (200, 200)), ((48, 64), (200, 267)),
                                             ((150, 2000), (72, 960))])
def test_yunet_searches_a_copy_just_large_enough_for_the_smallest_kept_face(monkeypatch, shape, searched):
    """Faces under min_size_frac (3 %) of the shorter side are dropped anyway: a shorter side of 12 / 0.03
    = 400 px still shows the smallest kept face at 12 px, so larger images are searched at that size.
    Images with a shorter side under 200 px are searched enlarged to 200 (the longer side capped at 960)."""
    import ferviz.pipeline.detect as faces

    seen = []
    real = faces._yunet_rows
    monkeypatch.setattr(faces, "_yunet_rows", lambda bgr: seen.append(bgr.shape[:2]) or real(bgr))
    find_faces(np.zeros((*shape, 3), np.uint8), detector="yunet")
    assert seen == [searched]
    find_faces(np.zeros((*shape, 3), np.uint8), detector="yunet", min_size_frac=0.01)  # smaller faces wanted
    assert min(seen[1]) == max(min(searched), min(min(shape), 960 * min(shape) // max(shape)))


@pytest.mark.parametrize("side, angle", [(36, 0), (48, -10)])
def test_a_small_tight_gray_face_crop_is_found_and_mapped_back(side, angle):
    """The astronaut's face box alone, in gray, shrunk to ``side`` px: YuNet misses both at native size
    (measured), so the search copy is enlarged; the box and landmarks come back in the small image's pixels."""
    box = find_faces(ASTRONAUT, detector="yunet").faces[0].box
    face = cv2.cvtColor(ASTRONAUT[box.y:box.y + box.h, box.x:box.x + box.w], cv2.COLOR_RGB2GRAY)
    turn = cv2.getRotationMatrix2D((face.shape[1] / 2, face.shape[0] / 2), angle, 1.0)
    face = cv2.warpAffine(face, turn, face.shape[::-1], borderMode=cv2.BORDER_REPLICATE)
    small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    found = find_faces(np.repeat(small[..., None], 3, axis=2), detector="yunet")
    assert len(found.faces) == 1 and found.image_size == (side, side)
    hit = found.faces[0].box
    assert 0 <= hit.x and 0 <= hit.y and hit.x + hit.w <= side and hit.y + hit.h <= side and hit.w > side / 2
    (lx, ly), (rx, ry) = sorted(hit.landmarks[:2])
    assert 0.15 * side < lx < 0.5 * side < rx < 0.85 * side and 0.2 * side < ly < 0.6 * side
    assert found.faces[0].crop64.shape == (64, 64)


def test_every_face_at_the_reporting_threshold_is_still_found():
    grid, n = astronaut_grid(1200, 240)  # 16 faces of about 43 px: 3.6 % of the side, searched at 400 px
    found = find_faces(grid, detector="yunet", max_faces=50)
    assert len(found.faces) == n == 16


def test_missing_yuface_falls_back_to_haar_with_one_notice(monkeypatch, caplog):
    import ferviz.pipeline.detect as faces

    monkeypatch.setattr(faces, "_yunet_available", lambda: False)
    monkeypatch.setattr(faces, "_warned", set())
    assert faces.default_detector() == "haar"
    with caplog.at_level("WARNING", logger="ferviz.pipeline.detect"):
        assert find_faces(ASTRONAUT, detector="yunet").detector == "haar"
        find_faces(ASTRONAUT, detector="yunet")
    assert sum("yuface" in r.message for r in caplog.records) == 1
    with pytest.raises(ValueError, match="unknown face detector"):
        find_faces(ASTRONAUT, detector="dlib")
    with pytest.raises(ValueError, match="unknown fallback"):
        find_faces(ASTRONAUT, fallback="middle")


def test_scaled_box_scales_its_landmarks_and_keeps_its_angle():
    box = FaceBox(10, 10, 40, 40, score=0.9,
                  landmarks=((20.0, 20.0), (40.0, 30.0), (30, 30), (22, 40), (38, 40)))
    big = box.scaled(2.0)
    assert big.landmarks[0] == (40.0, 40.0) and big.score == 0.9
    assert box.eye_angle() == pytest.approx(np.degrees(np.arctan2(10, 20)))
    assert big.eye_angle() == pytest.approx(box.eye_angle())
    assert FaceBox(0, 0, 5, 5).eye_angle() == 0.0


def test_align_turns_a_tilted_face_upright():
    gray = to_gray(ASTRONAUT)
    box = FaceBox(175, 60, 95, 105)
    cx, cy = box.center
    turn = cv2.getRotationMatrix2D((cx, cy), 20, 1.0)  # tilt the photo by 20 degrees about the face
    tilted = cv2.warpAffine(gray, turn, (512, 512), borderMode=cv2.BORDER_REPLICATE)
    eyes = np.array([[200.0, 101.0, 1.0], [247.0, 102.0, 1.0]]) @ turn.T  # where the eyes went
    tilted_box = FaceBox(175, 60, 95, 105, score=0.9, landmarks=tuple(map(tuple, eyes)))
    assert tilted_box.eye_angle() == pytest.approx(-20 + np.degrees(np.arctan2(1, 47)), abs=0.01)
    upright = crop_face(gray, box).astype(float)
    aligned = crop_face(tilted, tilted_box, angle=tilted_box.eye_angle()).astype(float)
    plain = crop_face(tilted, tilted_box).astype(float)
    assert np.abs(aligned - upright).mean() < 0.5 * np.abs(plain - upright).mean()


def test_crop_with_zero_angle_is_the_plain_crop():
    gray = to_gray(ASTRONAUT)
    box = FaceBox(170, 60, 100, 110)
    np.testing.assert_array_equal(crop_face(gray, box, angle=0.0), crop_face(gray, box))
    assert crop_face(gray, box, angle=15.0).shape == (64, 64)

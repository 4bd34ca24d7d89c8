"""Tracking: stable ids through occlusion and crossings, new ids after max-age, smoothing by hand."""

import numpy as np
import pytest

from ferviz.pipeline.faces import FaceBox
from ferviz.pipeline.tracking import Tracker, iou_xywh


def box_at(cx: float, cy: float, side: int = 40) -> FaceBox:
    return FaceBox(round(cx - side / 2), round(cy - side / 2), side, side)


def test_iou_hand_values():
    assert iou_xywh((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou_xywh((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou_xywh((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


def test_a_moving_face_keeps_its_id_through_a_short_occlusion():
    tracker = Tracker(max_age=5)
    ids = []
    for frame in range(30):
        visible = not 10 <= frame < 14  # hidden for 4 frames
        boxes = [box_at(50 + 6 * frame, 100)] if visible else []
        ids += [f.track_id for f in tracker.update(boxes)]
    assert set(ids) == {0} and len(ids) == 26


def test_two_crossing_faces_keep_their_ids():
    tracker = Tracker(max_age=5)
    history: dict[int, list[float]] = {}
    for frame in range(40):
        a, b = box_at(40 + 8 * frame, 100), box_at(360 - 8 * frame, 110)  # they pass through each other
        for face in tracker.update([a, b]):
            history.setdefault(face.track_id, []).append(face.box.center[0])
    assert sorted(history) == [0, 1]
    assert all(np.diff(history[0]) > 0) and all(np.diff(history[1]) < 0)  # 0 keeps going right, 1 left


def test_a_face_that_comes_back_after_max_age_gets_a_new_id():
    tracker = Tracker(max_age=3)
    first = tracker.update([box_at(100, 100)])[0].track_id
    for _ in range(4):
        tracker.update([])
    again = tracker.update([box_at(100, 100)])[0].track_id
    assert again != first
    tracker.update([])
    assert tracker.update([box_at(102, 100)])[0].track_id == again  # within max-age: same id


def test_far_apart_detections_are_not_paired():
    tracker = Tracker()
    tracker.update([box_at(50, 50)])
    faces = tracker.update([box_at(400, 400)])
    assert faces[0].track_id == 1


def test_probabilities_are_smoothed_per_track_by_hand():
    tracker = Tracker(smoothing=0.5)
    p1, p2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert tracker.update([box_at(50, 50)], [p1])[0].probs.tolist() == [1.0, 0.0]
    assert tracker.update([box_at(52, 50)], [p2])[0].probs.tolist() == [0.5, 0.5]
    assert tracker.update([box_at(54, 50)], [p2])[0].probs.tolist() == [0.25, 0.75]
    off = Tracker(smoothing=0.0)
    off.update([box_at(50, 50)], [p1])
    assert off.update([box_at(52, 50)], [p2])[0].probs.tolist() == [0.0, 1.0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="smoothing"):
        Tracker(smoothing=1.0)
    with pytest.raises(ValueError, match="probability rows"):
        Tracker().update([box_at(1, 1)], [])

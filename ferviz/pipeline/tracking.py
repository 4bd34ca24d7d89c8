"""Follow faces from frame to frame: a stable id per face, and its probabilities smoothed over time.

A small tracker in the SORT family (detections are matched to tracks every frame, no appearance model):

1. every track predicts where its face is now, from its last box plus its velocity (an exponential
   average of its recent moves), scaled by the frames since it was last seen;
2. detections are matched to tracks by an optimal one-to-one assignment (SciPy's
   ``linear_sum_assignment``) on the cost ``1 - IoU(predicted box, detection)``, with the distance
   between the centres (in face widths) as a tie-breaker; a pair is only allowed when the IoU is at
   least ``min_iou`` or the centres are within ``max_center_shift`` face widths;
3. matched tracks take the new box; unmatched detections start new tracks with fresh ids;
   tracks unseen for more than ``max_age`` frames are dropped, so a face that comes back after that
   gets a new id.

Each track's class probabilities are smoothed with an exponential moving average,
``s <- strength * s + (1 - strength) * p`` (``strength = 0`` switches smoothing off).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from ferviz.pipeline.faces import FaceBox

_NOT_ALLOWED = 1e6  # cost of a pairing that is too far apart to be the same face


@dataclass
class Track:
    """One face followed over frames.

    Attributes
    ----------
    id : int
        Unique within a :class:`Tracker`, never reused.
    box : FaceBox
        The last matched detection.
    probs : ndarray or None
        Smoothed class probabilities (None until the first update with probabilities).
    velocity : (2,) ndarray
        Exponential average of the centre's move per frame, in pixels.
    missed : int
        Frames since the face was last matched (0: seen in the latest frame).
    hits : int
        Frames in which the face was matched.
    """

    id: int
    box: FaceBox
    probs: np.ndarray | None = None
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    missed: int = 0
    hits: int = 1

    def predicted(self) -> tuple[float, float, float, float]:
        """``(x, y, w, h)`` where the face is expected now (the last box moved by its velocity)."""
        steps = self.missed + 1
        dx, dy = self.velocity * steps
        return self.box.x + dx, self.box.y + dy, float(self.box.w), float(self.box.h)


@dataclass(frozen=True)
class TrackedFace:
    """A face of the current frame with its track id and smoothed probabilities (None without any)."""

    track_id: int
    box: FaceBox
    probs: np.ndarray | None
    index: int  # position of the detection in the list given to :meth:`Tracker.update`


def iou_xywh(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` rectangles (0 when they do not overlap)."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    """Keeps face ids stable across frames and smooths each face's probabilities.

    Parameters
    ----------
    max_age : int
        A track unseen for more than this many frames is dropped (its face then gets a new id).
    smoothing : float
        EMA strength in [0, 1): 0 is off (the latest probabilities), 0.8 is strong.
    min_iou : float
        Smallest overlap of a predicted box and a detection for them to be paired ...
    max_center_shift : float
        ... unless their centres are within this many face widths of each other.
    """

    def __init__(self, max_age: int = 10, smoothing: float = 0.6, min_iou: float = 0.1,
                 max_center_shift: float = 0.8) -> None:
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        if max_age < 0:
            raise ValueError(f"max_age must be >= 0, got {max_age}")
        self.max_age, self.smoothing = max_age, smoothing
        self.min_iou, self.max_center_shift = min_iou, max_center_shift
        self.tracks: list[Track] = []
        self._next_id = 0

    def reset(self) -> None:
        """Forget every track (ids start again from 0)."""
        self.tracks, self._next_id = [], 0

    def _cost(self, track: Track, box: FaceBox) -> float:
        pred = track.predicted()
        overlap = iou_xywh(pred, (box.x, box.y, box.w, box.h))
        px, py = pred[0] + pred[2] / 2, pred[1] + pred[3] / 2
        shift = np.hypot(box.center[0] - px, box.center[1] - py) / max(pred[2], box.w, 1.0)
        if overlap < self.min_iou and shift > self.max_center_shift:
            return _NOT_ALLOWED
        return (1.0 - overlap) + 0.1 * shift

    def update(self, boxes: list[FaceBox], probs: list[np.ndarray] | np.ndarray | None = None
               ) -> list[TrackedFace]:
        """Match this frame's detections to the tracks; returns them in the order given.

        Parameters
        ----------
        boxes : list of FaceBox
            This frame's faces (may be empty: every track then counts a missed frame).
        probs : list of (K,) arrays, optional
            Each face's class probabilities, smoothed per track.

        Returns
        -------
        list of TrackedFace
            One per box, in the order of ``boxes``.
        """
        probs = [None] * len(boxes) if probs is None else [np.asarray(p, dtype=np.float64) for p in probs]
        if len(probs) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes but {len(probs)} probability rows")
        assigned: dict[int, Track] = {}
        if self.tracks and boxes:
            cost = np.array([[self._cost(t, b) for b in boxes] for t in self.tracks])  # (tracks, boxes)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] < _NOT_ALLOWED:
                    assigned[int(c)] = self.tracks[int(r)]
        matched_ids = {t.id for t in assigned.values()}
        for track in self.tracks:
            if track.id not in matched_ids:
                track.missed += 1
        out = []
        for i, (box, p) in enumerate(zip(boxes, probs, strict=True)):
            track = assigned.get(i)
            if track is None:
                track = Track(self._next_id, box, None if p is None else p.copy())
                self._next_id += 1
                self.tracks.append(track)
            else:
                self._follow(track, box, p)
            out.append(TrackedFace(track.id, box, None if track.probs is None else track.probs.copy(), i))
        self.tracks = [t for t in self.tracks if t.missed <= self.max_age]
        return out

    def _follow(self, track: Track, box: FaceBox, p: np.ndarray | None) -> None:
        steps = track.missed + 1
        move = (np.array(box.center) - np.array(track.box.center)) / steps
        track.velocity = move if track.hits == 1 else 0.5 * track.velocity + 0.5 * move
        track.box, track.missed, track.hits = box, 0, track.hits + 1
        if p is not None:
            track.probs = p.copy() if track.probs is None else (
                self.smoothing * track.probs + (1 - self.smoothing) * p)

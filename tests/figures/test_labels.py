"""Captions stay inside the picture: above the box, below it at the top edge, pulled in at the sides."""

import cv2
import numpy as np
import pytest

from ferviz.figures.labels import fit_scale, label_origin
from ferviz.pipeline.faces import FaceBox
from ferviz.pipeline.video import draw_faces


def test_hand_placed_captions():
    assert label_origin((100, 50, 40, 40), (60, 20), (400, 300)) == (100, 30)  # above, left-aligned
    assert label_origin((100, 5, 40, 40), (60, 20), (400, 300)) == (100, 45)  # no room above: below
    assert label_origin((100, 5, 40, 290), (60, 20), (400, 300)) == (100, 5)  # nor below: inside the top
    assert label_origin((370, 50, 30, 30), (60, 20), (400, 300)) == (340, 30)  # right-aligned at the edge
    assert label_origin((-30, -10, 50, 50), (60, 20), (400, 300)) == (0, 40)  # box past the corner


def test_every_caption_that_fits_lies_inside_the_picture():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        fw, fh = rng.integers(40, 2000, 2)
        bw, bh = rng.integers(1, 400, 2)
        bx, by = rng.integers(-bw, fw, 1)[0], rng.integers(-bh, fh, 1)[0]
        tw, th = rng.integers(1, fw + 1), rng.integers(1, fh + 1)
        x, y = label_origin((bx, by, bw, bh), (tw, th), (fw, fh))
        assert 0 <= x and x + tw <= fw and 0 <= y and y + th <= fh


def test_fit_scale_shrinks_only_what_is_too_wide():
    assert fit_scale(100, 200, 1.5) == 1.5
    assert fit_scale(300, 200, 1.0) == pytest.approx(0.9 ** 4)  # 300 * 0.9**4 = 196.8 <= 200
    assert fit_scale(10_000, 200, 1.0) >= 0.25


@pytest.mark.parametrize("box", [FaceBox(560, 0, 80, 80), FaceBox(600, 440, 40, 40)])
def test_drawn_video_captions_near_an_edge_are_not_cut_off(box):
    """The caption's filled background shows at full width on some row (a cut-off one is narrower)."""
    out = draw_faces(np.zeros((480, 640, 3), np.uint8), [(box, 12, "surprise", 0.87)])
    widest_row = (out != 0).any(axis=2).sum(axis=1).max()
    text_w = cv2.getTextSize("#12 surprise 87%", cv2.FONT_HERSHEY_SIMPLEX, max(0.4, box.w / 220), 1)[0][0]
    assert widest_row >= text_w


def _overlap(a, b):
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(w, 0) * max(h, 0)


def test_a_lone_face_keeps_the_one_face_rule():
    from ferviz.figures.labels import label_origins

    for box in [(100, 50, 40, 40), (100, 5, 40, 40), (100, 5, 40, 290), (370, 50, 30, 30), (-30, -10, 50, 50)]:
        assert label_origins([box], [(60, 20)], (400, 300)) == [label_origin(box, (60, 20), (400, 300))]


def test_two_rows_of_faces_get_captions_that_cover_neither_each_other_nor_a_face():
    """Faces in two touching rows (a group photo): alone, the bottom face's caption would sit above its box,
    over the top face's caption below its box (no room above at the top edge)."""
    from ferviz.figures.labels import label_origins

    top, bottom, text, frame = (10, 0, 100, 100), (10, 130, 100, 100), (80, 20), (400, 300)
    assert label_origin(top, text, frame) == (10, 100) and label_origin(bottom, text, frame) == (10, 110)
    corners = label_origins([top, bottom], [text, text], frame)
    assert corners[0] == (10, 100)  # the first face keeps its place: below its box
    assert corners[1] == (10, 230)  # the second: below its own box, clear of the first caption
    rects = [(*c, *text) for c in corners]
    assert _overlap(rects[0], rects[1]) == 0
    assert _overlap(rects[1], top) == 0 and _overlap(rects[0], bottom) == 0


def test_captions_placed_together_overlap_less_than_placed_alone_and_stay_inside():
    from ferviz.figures.labels import label_origins

    rng = np.random.default_rng(1)
    together_total = alone_total = 0
    for _ in range(300):
        fw, fh = 800, 600
        n = int(rng.integers(2, 9))
        boxes = [(int(rng.integers(0, fw - 60)), int(rng.integers(0, fh - 60)), 60, 60) for _ in range(n)]
        texts = [(int(rng.integers(40, 120)), 18) for _ in range(n)]
        together = [(*c, *t) for c, t in zip(label_origins(boxes, texts, (fw, fh)), texts, strict=True)]
        alone = [(*label_origin(b, t, (fw, fh)), *t) for b, t in zip(boxes, texts, strict=True)]
        for x, y, w, h in together:
            assert 0 <= x and x + w <= fw and 0 <= y and y + h <= fh
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        together_total += sum(_overlap(together[i], together[j]) for i, j in pairs)
        alone_total += sum(_overlap(alone[i], alone[j]) for i, j in pairs)
    assert together_total < 0.2 * alone_total


def test_drawn_captions_of_stacked_faces_do_not_overlap():
    """In a drawn video frame the second caption lands clear of the first (each caption's colour shows)."""
    a, b = FaceBox(20, 0, 120, 120), FaceBox(20, 150, 120, 120)
    out = draw_faces(np.zeros((300, 400, 3), np.uint8), [(a, 1, "happy", 0.9), (b, 2, "sad", 0.8)])
    from ferviz.pipeline.draw import _colour

    shown = [(out == np.array(_colour(track), np.uint8)).all(axis=2).sum() for track in (1, 2)]
    # box outline + caption background, text excepted: 2084 px for track 1 here; 1356 when the second
    # caption, placed on its own above its box, covered half of the first
    assert shown[0] > 1900 and shown[1] > 1500

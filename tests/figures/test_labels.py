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

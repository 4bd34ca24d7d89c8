"""Figures of the Predict page, on hand-made predictions (no model, no dataset image)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from ferviz.data.imageio import DecodedImage
from ferviz.data.labels import EMOTIONS
from ferviz.figures.predict import (
    DISPLAY_SIDE,
    FALLBACK_TEXT,
    OTHER_BAR,
    PALETTE,
    box_text,
    faces_figure,
    faces_probs_figure,
    image_uri,
    label_colour,
    probs_figure,
)
from ferviz.pipeline.faces import FaceBox
from ferviz.pipeline.inference import FacePrediction, ImagePrediction


def face(index: int, box: FaceBox, label: str = "happy", fallback: bool = False,
         labels: tuple[str, ...] = EMOTIONS) -> FacePrediction:
    """A face whose probabilities put 0.6 on ``label`` and share the rest evenly."""
    rest = 0.4 / (len(labels) - 1)
    probs = {name: 0.6 if name == label else rest for name in labels}
    return FacePrediction(index, box, np.zeros((64, 64), np.uint8), fallback, label, 0.6, probs)


def prediction(faces: list[FacePrediction], shape: tuple[int, int] = (120, 160)) -> ImagePrediction:
    rgb = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    image = DecodedImage(rgb=rgb, name="test.png", original_size=(shape[1], shape[0]), scale=1.0)
    return ImagePrediction("test.png", image, faces, None, 0.01)


def rects(fig) -> list:
    return [s for s in fig.layout.shapes if s.type == "rect"]


@pytest.mark.parametrize("n", [1, 3])
def test_one_solid_rectangle_and_caption_per_detected_face(n):
    faces = [face(i, FaceBox(10 + 40 * i, 30, 30, 30)) for i in range(n)]
    fig = faces_figure(prediction(faces))
    assert len(rects(fig)) == n
    assert len(fig.layout.annotations) == n
    assert all(s.line.dash == "solid" for s in rects(fig))
    assert [(s.x0, s.y0, s.x1, s.y1) for s in rects(fig)] == [(10 + 40 * i, 30, 40 + 40 * i, 60)
                                                              for i in range(n)]
    assert [a.text for a in fig.layout.annotations] == [f"#{i} happy 60%" for i in range(n)]
    assert [t.type for t in fig.data] == ["image"]


def test_fallback_box_is_dashed_and_says_no_face_was_found():
    fig = faces_figure(prediction([face(0, FaceBox(20, 0, 120, 120), "neutral", fallback=True)]))
    (shape,) = rects(fig)
    assert shape.line.dash == "dash"
    assert FALLBACK_TEXT == "centre crop (no face found)"
    assert fig.layout.annotations[0].text.startswith(FALLBACK_TEXT)
    assert fig.layout.annotations[0].yanchor == "top"  # box at the top edge: caption inside it


def test_a_picture_in_a_narrow_column_sits_at_the_top_left_keeping_its_shape():
    fig = faces_figure(prediction([face(0, FaceBox(10, 30, 30, 30))]))
    assert (fig.layout.yaxis.scaleanchor, fig.layout.yaxis.constrain, fig.layout.xaxis.constrain) == \
        ("x", "domain", "domain")
    assert (fig.layout.xaxis.constraintoward, fig.layout.yaxis.constraintoward) == ("left", "top")


def test_no_faces_gives_the_bare_picture():
    fig = faces_figure(prediction([]))
    assert not rects(fig) and not fig.layout.annotations


def test_large_picture_is_shrunk_for_display_but_boxes_keep_full_size_coordinates():
    side = 2 * DISPLAY_SIDE
    fig = faces_figure(prediction([face(0, FaceBox(1500, 1500, 200, 200))], shape=(side, side)))
    trace = fig.data[0]
    assert trace.dx == pytest.approx(2.0) and trace.dy == pytest.approx(2.0)
    assert tuple(fig.layout.xaxis.range) == (0, side) and tuple(fig.layout.yaxis.range) == (side, 0)
    assert rects(fig)[0].x1 == 1700


def test_image_uri_is_a_decodable_jpeg_of_the_shrunk_size():
    rgb = np.full((300, 100, 3), 200, np.uint8)
    uri, scale = image_uri(rgb, max_side=150)
    assert uri.startswith("data:image/jpeg;base64,") and scale == pytest.approx(0.5)
    decoded = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert decoded.size == (50, 150)


def test_probability_chart_has_one_bar_per_class_in_model_order():
    f = face(0, FaceBox(0, 0, 10, 10), "sad")
    fig = probs_figure(f, EMOTIONS)
    (bar,) = fig.data
    assert bar.type == "bar" and list(bar.y) == list(EMOTIONS)
    assert len(bar.x) == len(EMOTIONS) and sum(bar.x) == pytest.approx(100.0)
    colours = list(bar.marker.color)
    assert colours[EMOTIONS.index("sad")] == label_colour("sad")
    assert colours.count(OTHER_BAR) == len(EMOTIONS) - 1
    assert "sad" in fig.layout.title.text


def test_probability_chart_follows_a_custom_label_set_and_escapes_html():
    labels = ("<b>x</b>", "calm", "other")
    f = face(1, FaceBox(0, 0, 10, 10), "calm", labels=labels)
    fig = probs_figure(f, list(labels) + ["missing"])
    assert list(fig.data[0].y) == ["&lt;b&gt;x&lt;/b&gt;", "calm", "other", "missing"]
    assert fig.data[0].x[-1] == 0.0
    assert "<b>" not in box_text(face(0, FaceBox(0, 0, 1, 1), "<b>x</b>", labels=labels))


def test_label_colours_are_fixed_per_class():
    assert label_colour("angry") == PALETTE[0]
    assert len({label_colour(name) for name in EMOTIONS}) == len(EMOTIONS)
    assert label_colour("something else") == label_colour("something else") in PALETTE


def test_group_probabilities_are_one_grid_a_row_per_face_with_the_prediction_outlined():
    faces = [face(i, FaceBox(10 + 40 * i, 30, 30, 30), label) for i, label in enumerate(["happy", "sad", "fear"])]
    fig = faces_probs_figure(faces, EMOTIONS)
    (grid,) = fig.data
    assert grid.type == "heatmap" and np.asarray(grid.z).shape == (3, len(EMOTIONS))
    assert list(grid.y) == ["#0 happy", "#1 sad", "#2 fear"]
    assert np.asarray(grid.z)[1, EMOTIONS.index("sad")] == pytest.approx(60.0)
    outlined = [(round(s.x0 + 0.5), round(s.y0 + 0.5)) for s in rects(fig)]
    assert outlined == [(EMOTIONS.index(lab), row) for row, lab in enumerate(["happy", "sad", "fear"])]
    assert fig.layout.height < 300  # compact: not a chart per face
    assert fig.layout.xaxis.tickangle == -90  # upright class names: slanted ones overlap in a narrow column


def test_captions_of_faces_at_the_top_and_right_edges_stay_inside_the_picture():
    faces = [face(0, FaceBox(2, 0, 20, 20)), face(1, FaceBox(140, 0, 20, 20)), face(2, FaceBox(140, 100, 20, 20))]
    fig = faces_figure(prediction(faces))
    for note in fig.layout.annotations:
        assert note.xanchor == "left" and note.yanchor == "top"
        assert 0 <= note.x < 160 and 0 <= note.y < 120
    assert fig.layout.annotations[0].y >= 20  # below the box at the top edge, not over the face
    assert fig.layout.annotations[1].x < 140  # pulled left from the right edge

"""Where a face's caption goes: one rule for photos (Plotly), annotated videos and the Live overlay (OpenCV).

The caption sits just above the face's box, left-aligned with it (right-aligned when it would pass the
right edge); when there is no room above (a face at the top edge) it goes just below the box, and only
when there is room neither above nor below, just inside the box's top edge (over the face); then it is
shifted left, right, up or down as far as needed to lie wholly inside the picture. A caption wider or
taller than the picture starts at its left or top edge (callers shrink the text first, see
:func:`fit_scale`).
"""

from __future__ import annotations


def label_origin(box: tuple[float, float, float, float], text: tuple[float, float],
                 frame: tuple[float, float]) -> tuple[float, float]:
    """Top-left corner of a caption of ``text = (width, height)`` for ``box = (x, y, w, h)`` in ``frame``.

    Parameters
    ----------
    box : (x, y, w, h)
        The face's box in pixels of the picture (may reach past its edges).
    text : (width, height)
        The caption's size in the same pixels, padding included.
    frame : (width, height)
        The picture's size.

    Returns
    -------
    (x, y) : floats
        With ``0 <= x``, ``x + text width <= frame width`` and the same for y whenever the caption fits
        in the picture at all.
    """
    bx, by, bw, bh = box
    tw, th = text
    fw, fh = frame
    x = bx if bx + tw <= fw else bx + bw - tw  # left-aligned with the box, or right-aligned near the edge
    if by - th >= 0:
        y = by - th  # above the box
    elif by + bh + th <= fh:
        y = by + bh  # below it, not over the face
    else:
        y = by  # just inside its top edge
    return _clamp(x, tw, fw), _clamp(y, th, fh)


def fit_scale(width: float, frame_width: float, scale: float, shrink: float = 0.9) -> float:
    """The largest of ``scale * shrink**k`` (k = 0, 1, ...) at which a caption ``width`` wide (at ``scale``) fits.

    Text size is proportional to its scale, so this needs no second measurement. Returns ``scale``
    unchanged when it fits; never less than a quarter of it.
    """
    floor = 0.25 * scale
    while width > frame_width and scale * shrink >= floor:
        width, scale = width * shrink, scale * shrink
    return scale


def _clamp(start: float, size: float, limit: float) -> float:
    return max(0.0, min(float(start), float(limit) - float(size)))

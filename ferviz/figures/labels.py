"""Where a face's caption goes: one rule for photos (Plotly), annotated videos and the Live overlay (OpenCV).

The caption sits just above the face's box, left-aligned with it (right-aligned when it would pass the
right edge); when there is no room above (a face at the top edge) it goes just below the box, and only
when there is room neither above nor below, just inside the box's top edge (over the face); then it is
shifted left, right, up or down as far as needed to lie wholly inside the picture. A caption wider or
taller than the picture starts at its left or top edge (callers shrink the text first, see
:func:`fit_scale`).

With several faces (a group photo, a classroom on camera) :func:`label_origins` places all captions
together: each face in turn takes the first of its places (the rule above, then the same places
right-aligned, then inside the box's bottom edge) that covers no caption placed before it and no other
face, else the first that covers no caption, else the one that covers the least.
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
    return _places(box, text, frame)[0]


def label_origins(boxes: list[tuple[float, float, float, float]], texts: list[tuple[float, float]],
                  frame: tuple[float, float]) -> list[tuple[float, float]]:
    """Top-left corners of every face's caption, placed together so that captions do not cover each other.

    Parameters
    ----------
    boxes : list of (x, y, w, h)
        The faces' boxes, in the order their captions are placed (reading order: the first keeps its
        :func:`label_origin` place whenever it covers no other face).
    texts : list of (width, height)
        Each caption's size, as for :func:`label_origin`.
    frame : (width, height)

    Returns
    -------
    list of (x, y)
        One corner per box, each inside the picture as :func:`label_origin`'s is.
    """
    if len(boxes) != len(texts):
        raise ValueError(f"{len(boxes)} boxes but {len(texts)} captions")
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for k, (box, text) in enumerate(zip(boxes, texts, strict=True)):
        others = [b for j, b in enumerate(boxes) if j != k]
        places = _places(box, text, frame)
        costs = [(sum(_overlap((*c, *text), p) for p in placed), sum(_overlap((*c, *text), b) for b in others))
                 for c in places]
        clear = [c for c, (on_captions, on_faces) in zip(places, costs, strict=True) if on_captions == on_faces == 0]
        free = [c for c, (on_captions, _) in zip(places, costs, strict=True) if on_captions == 0]
        corner = (clear or free or [places[min(range(len(places)), key=costs.__getitem__)]])[0]
        placed.append((*corner, *text))
        out.append(corner)
    return out


def _places(box: tuple[float, float, float, float], text: tuple[float, float],
            frame: tuple[float, float]) -> list[tuple[float, float]]:
    """A caption's candidate corners in order of preference, each pulled inside the picture; the first is
    :func:`label_origin`'s rule."""
    bx, by, bw, bh = box
    tw, th = text
    fw, fh = frame
    left, right = bx, bx + bw - tw
    first_x = left if bx + tw <= fw else right  # left-aligned with the box, or right-aligned near the edge
    rows = []
    if by - th >= 0:
        rows.append(by - th)  # above the box
    if by + bh + th <= fh:
        rows.append(by + bh)  # below it, not over the face
    rows += [by, by + bh - th]  # just inside its top edge, then its bottom edge
    corners = [(x, y) for y in rows for x in dict.fromkeys((first_x, right, left))]
    seen: dict[tuple[float, float], None] = {}
    for x, y in corners:
        seen.setdefault((_clamp(x, tw, fw), _clamp(y, th, fh)), None)
    return list(seen)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """The area two ``(x, y, w, h)`` rectangles share."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


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

"""An explanation card for one face, to download and share: a PNG and a self-contained HTML page.

The card holds the face crop the model saw, the predicted label with every class probability, the
fused attention map (the ILM output's token norms, eq. 19) over the face, one attribution map with its
faithfulness verdict (deletion / insertion against a random pixel order) and, when run, its sanity
check, and the model's file name and sha256, so that anyone can tell which weights made it.

Both forms are drawn here with NumPy and Pillow (no plotly export, no browser): the PNG is one image;
the HTML embeds its pictures as ``data:`` URIs and its style inline, and links to nothing, so it opens
offline and shows the same thing wherever it is sent.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from ferviz.figures.attention import Scale, map_scale

PANEL = 256  # side of each picture on the card, in pixels
# (position in [0, 1], (r, g, b), opacity): the same ramps as the plotly maps (ferviz.figures.attention)
HEAT_RAMP = ((0.0, (0, 0, 4), 0.0), (0.2, (87, 16, 110), 0.35), (0.5, (188, 55, 84), 0.65),
             (0.75, (249, 142, 9), 0.8), (1.0, (252, 255, 164), 0.9))
DIVERGING_RAMP = ((0.0, (33, 102, 172), 0.9), (0.5, (247, 247, 247), 0.0), (1.0, (178, 24, 43), 0.9))
VERDICT_COLOURS = {"pass": (26, 127, 55), "mixed": (176, 112, 0), "fail": (200, 30, 30), "": (90, 90, 90)}


@dataclass
class ExplanationCard:
    """Everything one card shows.

    Attributes
    ----------
    face : (S, S) uint8 ndarray
        The face crop the model saw.
    label : str
        The predicted class.
    probs : dict of str to float
        Every class's probability.
    fused : (H, W) ndarray
        The fused tokens' L2 norms on the token grid.
    attribution : (S, S) ndarray
        One attribution map.
    method : str
        Its method's display name.
    signed : bool
        Whether the map's negative values mean evidence against the class.
    unit : str
        What a value of the map is.
    faithfulness : str
        'pass', 'mixed' or 'fail' (see :attr:`ferviz.explain.faithfulness.Faithfulness.verdict`).
    faithfulness_text : str
        The AUCs behind the verdict, one line.
    model_name : str
        The checkpoint's file name (and variant).
    sha256 : str
        The checkpoint's sha256.
    sanity : str
        'pass', 'fail' or '' when the sanity check was not run.
    sanity_text : str
        The correlation behind it.
    source : str
        Where the face comes from (picture name).
    explained : str
        The class the attribution map explains (the label, unless another class was chosen).
    """

    face: np.ndarray
    label: str
    probs: dict[str, float]
    fused: np.ndarray
    attribution: np.ndarray
    method: str
    signed: bool
    unit: str
    faithfulness: str
    faithfulness_text: str
    model_name: str
    sha256: str
    sanity: str = ""
    sanity_text: str = ""
    source: str = ""
    explained: str = ""

    def __post_init__(self) -> None:
        face = np.asarray(self.face)
        if face.ndim != 2 or face.shape[0] != face.shape[1] or face.dtype != np.uint8:
            raise ValueError(f"the card needs a square uint8 face crop, got {face.dtype} {face.shape}")
        if np.shape(self.attribution) != face.shape:
            raise ValueError(f"the attribution map {np.shape(self.attribution)} does not match the face "
                             f"{face.shape}")
        if np.ndim(self.fused) != 2:
            raise ValueError(f"the fused map must be a 2-D token grid, got shape {np.shape(self.fused)}")
        if self.faithfulness not in ("pass", "mixed", "fail"):
            raise ValueError("the faithfulness verdict must be 'pass', 'mixed' or 'fail', "
                             f"got {self.faithfulness!r}")
        if self.sanity not in ("pass", "fail", ""):
            raise ValueError(f"the sanity verdict must be 'pass', 'fail' or '' (not run), "
                             f"got {self.sanity!r}")
        if not self.probs:
            raise ValueError("the card needs the class probabilities")

    @property
    def confidence(self) -> float:
        """The predicted class's probability."""
        return float(self.probs.get(self.label, max(self.probs.values())))


# --------------------------------------------------------------------------------------------------
# Pixels: maps over the face, colour bars, text
# --------------------------------------------------------------------------------------------------


def _ramp(t: np.ndarray, ramp) -> tuple[np.ndarray, np.ndarray]:
    """Values in [0, 1] -> (..., 3) float RGB and (...) opacity, by linear interpolation along ``ramp``."""
    pos = [p for p, _, _ in ramp]
    rgb = np.stack([np.interp(t, pos, [c[k] for _, c, _ in ramp]) for k in range(3)], axis=-1)
    return rgb, np.interp(t, pos, [a for _, _, a in ramp])


def _cells(values: np.ndarray, side: int) -> np.ndarray:
    """(h, w) -> (side, side): output pixel (y, x) takes the value of the cell it lies in (nearest)."""
    values = np.asarray(values, dtype=np.float64)
    rows = np.minimum((np.arange(side) + 0.5) * values.shape[0] / side, values.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(side) + 0.5) * values.shape[1] / side, values.shape[1] - 1).astype(int)
    return values[rows][:, cols]


def map_over_face(face: np.ndarray, heat: np.ndarray | None, scale: Scale | None = None,
                  side: int = PANEL, grid_lines: bool | None = None) -> np.ndarray:
    """(side, side, 3) uint8: the grey face, enlarged, with ``heat`` blended over it.

    Parameters
    ----------
    face : (S, S) uint8 ndarray
        The face crop.
    heat : (h, w) ndarray or None
        A pixel map (h = w = S) or a token-grid map (drawn cell by cell); None draws the face alone.
    scale : Scale, optional
        Colour range (default: :func:`map_scale` of ``heat``); diverging colours when signed.
    side : int
        Output size in pixels.
    grid_lines : bool, optional
        Draw the cell borders; by default only for token-grid maps.
    """
    grey = _cells(face, side)[..., None].repeat(3, axis=2)
    if heat is None:
        return np.clip(grey, 0, 255).astype(np.uint8)
    heat = np.asarray(heat, dtype=np.float64)
    scale = scale or map_scale(heat)
    t = np.clip((_cells(np.nan_to_num(heat), side) - scale.zmin) / (scale.zmax - scale.zmin), 0.0, 1.0)
    rgb, alpha = _ramp(t, DIVERGING_RAMP if scale.signed else HEAT_RAMP)
    out = grey * (1 - alpha[..., None]) + rgb * alpha[..., None]
    if grid_lines if grid_lines is not None else heat.shape != np.shape(face):
        for k in range(1, heat.shape[0]):
            out[int(round(k * side / heat.shape[0])), :] = (120, 220, 255)
        for k in range(1, heat.shape[1]):
            out[:, int(round(k * side / heat.shape[1]))] = (120, 220, 255)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def colorbar_strip(scale: Scale, height: int = PANEL, width: int = 14) -> np.ndarray:
    """(height, width, 3) uint8: the colour ramp of ``scale``, top = zmax, over white (as on the card)."""
    t = np.linspace(1.0, 0.0, height)[:, None].repeat(width, axis=1)
    rgb, alpha = _ramp(t, DIVERGING_RAMP if scale.signed else HEAT_RAMP)
    white = np.full_like(rgb, 255.0)
    return np.round(white * (1 - alpha[..., None]) + rgb * alpha[..., None]).astype(np.uint8)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ImportError, TypeError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """Greedy word wrap of ``text`` to lines at most ``width`` pixels wide."""
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and draw.textlength(trial, font=font) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + ([line] if line else [])


def _panels(card: ExplanationCard) -> list[tuple[str, np.ndarray, Scale | None]]:
    """(caption, picture, colour scale or None) for the face, the fused map and the attribution map."""
    fused_scale = map_scale(card.fused, unit="L2 norm of the fused token")
    attr_scale = map_scale(card.attribution, signed=card.signed, unit=card.unit, percentile=99.0)
    explained = card.explained or card.label
    return [
        (f"Face crop ({card.face.shape[0]}x{card.face.shape[1]}, what the model saw)",
         map_over_face(card.face, None), None),
        ("Fused attention (ILM output, eq. 19): token norms",
         map_over_face(card.face, card.fused, fused_scale), fused_scale),
        (f"{card.method} for '{explained}' (colours clipped at the 99th percentile)",
         map_over_face(card.face, card.attribution, attr_scale), attr_scale),
    ]


def _verdict_lines(card: ExplanationCard) -> list[tuple[str, str, str]]:
    """(heading, verdict, details) for the faithfulness and (if run) the sanity check."""
    lines = [(f"Faithfulness of {card.method}", card.faithfulness, card.faithfulness_text)]
    if card.sanity:
        lines.append(("Sanity check (randomised weights)", card.sanity, card.sanity_text))
    return lines


def card_image(card: ExplanationCard) -> Image.Image:
    """The card as one RGB picture (1300 x 660 pixels)."""
    width, height, pad = 1300, 660, 24
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    big, mid, small = _font(30), _font(16), _font(13)
    draw.rectangle([0, 0, width, 64], fill=(32, 42, 68))
    draw.text((pad, 14), f"Predicted: {card.label} ({card.confidence:.0%})", font=big, fill="white")
    draw.text((width - pad, 24), "ferviz explanation card", font=mid, fill=(200, 210, 230), anchor="ra")
    top = 112
    for k, (caption, picture, scale) in enumerate(_panels(card)):
        x = pad + k * (PANEL + 62)
        for i, line in enumerate(_wrap(draw, caption, small, PANEL + 40)[:2]):
            draw.text((x, top - 36 + 16 * i), line, font=small, fill=(30, 30, 30))
        img.paste(Image.fromarray(picture), (x, top))
        if scale is not None:
            img.paste(Image.fromarray(colorbar_strip(scale)), (x + PANEL + 4, top))
            draw.text((x + PANEL + 20, top), f"{scale.zmax:.3g}", font=small, fill=(30, 30, 30))
            draw.text((x + PANEL + 20, top + PANEL - 14), f"{scale.zmin:.3g}", font=small, fill=(30, 30, 30))
    # probabilities, largest first
    px = pad + 3 * (PANEL + 62)
    bar_w = width - pad - px - 150
    draw.text((px, top - 36), "Class probabilities", font=mid, fill=(30, 30, 30))
    for i, (name, p) in enumerate(sorted(card.probs.items(), key=lambda kv: -kv[1])):
        y = top + 4 + 34 * i
        draw.text((px, y), name, font=mid, fill=(30, 30, 30))
        draw.rectangle([px + 90, y + 2, px + 90 + bar_w, y + 16], fill=(235, 235, 235))
        colour = (214, 39, 40) if name == card.label else (31, 119, 180)
        draw.rectangle([px + 90, y + 2, px + 90 + round(bar_w * float(p)), y + 16], fill=colour)
        draw.text((px + 96 + bar_w, y), f"{float(p):.1%}", font=mid, fill=(30, 30, 30))
    y = top + PANEL + 26
    for heading, verdict, details in _verdict_lines(card):
        draw.text((pad, y), f"{heading}:", font=mid, fill=(30, 30, 30))
        offset = pad + draw.textlength(f"{heading}: ", font=mid)
        draw.text((offset, y), verdict.upper(), font=mid, fill=VERDICT_COLOURS[verdict])
        for line in _wrap(draw, details, small, width - 2 * pad)[:3]:
            y += 20
            draw.text((pad, y), line, font=small, fill=(70, 70, 70))
        y += 32
    draw.line([pad, height - 74, width - pad, height - 74], fill=(210, 210, 210))
    draw.text((pad, height - 64), f"Model: {card.model_name}", font=small, fill=(30, 30, 30))
    draw.text((pad, height - 44), f"sha256: {card.sha256}", font=small, fill=(30, 30, 30))
    note = "A map is evidence about the model only where it beats a random pixel order."
    if card.source:
        note = f"Face: {card.source}. {note}"
    draw.text((pad, height - 24), note[:170], font=small, fill=(110, 110, 110))
    return img


def _png(picture: Image.Image | np.ndarray, nonce: int = 0) -> bytes:
    """PNG bytes; a non-zero ``nonce`` adds a small text chunk: other bytes, the same picture."""
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(picture)
    info = PngInfo()
    if nonce:
        info.add_text("n", str(nonce))
    buf = io.BytesIO()
    picture.save(buf, format="PNG", optimize=True, pnginfo=info)
    return buf.getvalue()


def card_png(card: ExplanationCard) -> bytes:
    """The card as PNG file bytes."""
    return _png(card_image(card))


def clean_base64(encode: Callable[[int], bytes], tries: int = 64) -> str:
    """Base64 of ``encode(nonce)`` for the first nonce whose text holds no 'http' in any case.

    Base64 text is letters and digits, so by chance it can spell 'http' (about once in 1,000,000 places);
    the page promises no such text, so the bytes are re-made with another nonce until it is absent.
    """
    for nonce in range(tries):
        text = base64.b64encode(encode(nonce)).decode("ascii")
        if "http" not in text.lower():
            return text
    raise ValueError(f"no encoding without 'http' in {tries} tries")


def _data_uri(picture: Image.Image | np.ndarray) -> str:
    return "data:image/png;base64," + clean_base64(lambda nonce: _png(picture, nonce))


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #1e1e1e; max-width: 1100px; }
header { background: #202a44; color: white; padding: 12px 20px; border-radius: 6px; }
header h1 { margin: 0; font-size: 26px; }
.panels { display: flex; flex-wrap: wrap; gap: 20px; margin: 20px 0; }
figure { margin: 0; width: 300px; }
figure img { image-rendering: pixelated; }
figcaption { font-size: 13px; margin-top: 4px; }
table { border-collapse: collapse; font-size: 14px; }
td { padding: 2px 8px; }
.bar { background: #1f77b4; height: 12px; }
.bar.top { background: #d62728; }
.pass { color: #1a7f37; } .mixed { color: #b07000; } .fail { color: #c81e1e; }
.verdict b { text-transform: uppercase; }
footer { margin-top: 20px; font-size: 13px; color: #444; }
code { word-break: break-all; }
"""


def card_html(card: ExplanationCard) -> str:
    """The card as one self-contained HTML page: pictures as ``data:`` URIs, inline style, no links."""
    esc = html.escape
    figures = []
    for caption, picture, scale in _panels(card):
        if scale is not None:  # the colour bar, drawn beside the picture in the same image
            strip = colorbar_strip(scale)
            gap = np.full((PANEL, 4, 3), 255, np.uint8)
            picture = np.concatenate([picture, gap, strip], axis=1)
            caption += f" — colour bar from {scale.zmin:.3g} to {scale.zmax:.3g} ({scale.unit})"
        figures.append(f'<figure><img alt="{esc(caption)}" src="{_data_uri(picture)}">'
                       f"<figcaption>{esc(caption)}</figcaption></figure>")
    rows = []
    for name, p in sorted(card.probs.items(), key=lambda kv: -kv[1]):
        top = " top" if name == card.label else ""
        rows.append(f'<tr><td>{esc(name)}</td><td style="width:220px"><div class="bar{top}" '
                    f'style="width:{100 * float(p):.1f}%"></div></td><td>{float(p):.1%}</td></tr>')
    verdicts = "".join(f'<p class="verdict">{esc(heading)}: <b class="{verdict}">{esc(verdict)}</b>'
                       f"<br><small>{esc(details)}</small></p>"
                       for heading, verdict, details in _verdict_lines(card))
    source = f"<p>Face: {esc(card.source)}</p>" if card.source else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Explanation card: {esc(card.label)}</title><style>{_STYLE}</style></head><body>"
            f"<header><h1>Predicted: {esc(card.label)} ({card.confidence:.0%})</h1>"
            "<div>ferviz explanation card</div></header>"
            f'<div class="panels">{"".join(figures)}</div>'
            f"<h2>Class probabilities</h2><table>{''.join(rows)}</table>{verdicts}{source}"
            f"<footer><p>Model: {esc(card.model_name)}<br>sha256: <code>{esc(card.sha256)}</code></p>"
            "<p>A map is evidence about the model only where it beats a random pixel order.</p></footer>"
            "</body></html>\n")

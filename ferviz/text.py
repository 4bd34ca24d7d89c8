"""Text that came from outside (file names, class names, error messages) made safe to show.

One set of rules for every message: control characters become ``?``, long names are shortened, and
text shown as Streamlit Markdown has every ASCII punctuation mark backslash-escaped.
"""

from __future__ import annotations

import re
from pathlib import Path

_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation mark (CommonMark escapes them all)


def printable(text: object, limit: int | None = None) -> str:
    """``text`` on one line of printable characters (others become ``?``), cut to ``limit`` with ``...``."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    if limit is not None and len(clean) > limit:
        return clean[: max(limit - 3, 0)] + "..."
    return clean


def md_escape(text: object) -> str:
    """``text`` safe to show in Streamlit Markdown: control characters replaced, punctuation escaped."""
    return _MD_SPECIAL.sub(r"\\\1", printable(text))


_ABS_PATH = re.compile(r"(?<![\w.~/])/(?:[\w.+@-]+/)+[\w.+@-]*")  # /a/b, /a/b/c.npz (two or more parts)


def repo_paths(text: object, root: str | Path | None = None) -> str:
    """``text`` with every absolute file path made relative to the repository, for showing on a page.

    A path inside ``root`` (default: the repository, :data:`ferviz.paths.ROOT`) becomes relative to it
    (``/x/ferviz/models/a.pt`` -> ``models/a.pt``); any other absolute path keeps only its last two parts
    (``/work/data/fer2013/train.npz`` -> ``…/fer2013/train.npz``): a page never shows where the machine
    that trained a model kept its files. Text without absolute paths is returned unchanged.
    """
    if root is None:
        from ferviz.paths import ROOT as root
    base = Path(root).resolve()

    def shown(match: re.Match) -> str:
        path = Path(match.group(0))
        try:
            return path.relative_to(base).as_posix() or "."
        except ValueError:
            return "…/" + "/".join(path.parts[-2:])

    return _ABS_PATH.sub(shown, str(text))

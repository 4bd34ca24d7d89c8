"""Text that came from outside (file names, class names, error messages) made safe to show.

One set of rules for every message: control characters become ``?``, long names are shortened, and
text shown as Streamlit Markdown has every ASCII punctuation mark backslash-escaped.
"""

from __future__ import annotations

import re

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





"""Shared by the Evaluate and Compare pages: where the committed reports live, how to make missing ones,
and number formats of their tables."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from ferviz.paths import MODELS_DIR, MODELS_DIR_ENV
from ferviz.results.records import Discovery, discover


def models_dir() -> Path:
    """Where the committed model cards live: ``$FERVIZ_MODELS_DIR`` if set, else the repository's models/."""
    return Path(os.environ.get(MODELS_DIR_ENV) or MODELS_DIR)


def discover_reports() -> Discovery:
    """Read every committed card and report; skipped files are shown as warnings."""
    found = discover(models_dir())
    for message in found.warnings:
        st.warning(message)
    return found


def show_how_to_create(found: Discovery) -> None:
    """An info box with the commands that make the missing model cards and reports."""
    commands = "\n".join(found.how_to_create())
    st.info(f"No committed report in `{found.models_dir.name}/` or `{found.models_dir.name}/reports/` yet. "
            f"Create them with your own copy of the data (PATH), then reload:\n\n```bash\n{commands}\n```")


def two_decimals(frame: pd.DataFrame, **formats: str) -> dict:
    """``column_config`` showing every float column of ``frame`` with 2 decimals (``formats`` override)."""
    config = {c: st.column_config.NumberColumn(format="%.2f") for c in frame.columns
              if pd.api.types.is_float_dtype(frame[c])}
    config.update({c: st.column_config.NumberColumn(format=f) for c, f in formats.items()})
    return config



#: Columns that count things: shown as integers ("5000", not "5000.00") even when NaN makes them floats.
COUNT_COLUMNS = frozenset({"n", "runs", "epochs", "train_faces", "paired_seeds", "a_only", "b_only", "items",
                           "faces", "errors", "support", "n_items"})


def table_view(frame: pd.DataFrame, digits: int = 2, **formats: str):
    """A Styler of ``frame`` for ``st.dataframe``: floats with ``digits`` decimals, counts as integers,
    empty cells as "—"; ``formats`` maps a column to a format string (``"{:.3g}"``)."""
    def number(fmt: str):
        return lambda v: v if isinstance(v, str) else fmt.format(v)  # a gap is already the dash (below)

    spec = {}
    for c in frame.columns:
        if c in formats:
            spec[c] = number(formats[c])
        elif pd.api.types.is_bool_dtype(frame[c]):
            continue
        elif c in COUNT_COLUMNS and pd.api.types.is_numeric_dtype(frame[c]):
            spec[c] = number("{:.0f}")
        elif pd.api.types.is_float_dtype(frame[c]):
            spec[c] = number(f"{{:.{digits}f}}")
    # The browser draws an empty cell as "None" whatever the Styler says: a column with empty cells carries
    # the dash itself, and its other cells as their formatted text (a column of numbers and dashes cannot be
    # sent as one Arrow column; Streamlit logged an error for each such table and turned it to text itself).
    shown = frame.copy()
    for c in frame.columns:
        if not pd.api.types.is_bool_dtype(frame[c]) and frame[c].isna().any():
            fmt = spec.get(c, lambda v: v if isinstance(v, str) else str(v))
            shown[c] = pd.Series(["—" if pd.isna(v) else fmt(v) for v in frame[c]], index=frame.index, dtype=object)
    return shown.style.format(spec)


#: A text column whose longest cell is longer than this many characters is shown at Streamlit's "medium" width
#: (the whole text on hover): long commands, recipes and file lists once made Compare's tables 2-3 page widths.
LONG_TEXT = 40


def narrow_text(frame: pd.DataFrame) -> dict:
    """``column_config`` giving every long text column of ``frame`` the "medium" width."""
    return {c: st.column_config.TextColumn(width="medium") for c in frame.columns
            if _is_text(frame[c]) and frame[c].dropna().astype(str).str.len().max() > LONG_TEXT}


def reading_order(frame: pd.DataFrame) -> list[str]:
    """The columns of ``frame`` in the order a table shows them: the first (what a row is) stays first, the long
    text columns (:func:`narrow_text`) go last, so a row's numbers sit beside its name instead of past the
    frame's right edge behind a recipe or a command."""
    long = set(narrow_text(frame))
    first, rest = list(frame.columns[:1]), list(frame.columns[1:])
    return first + [c for c in rest if c not in long] + [c for c in rest if c in long]


def _is_text(column: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(column) or pd.api.types.is_object_dtype(column)


def show_table(frame: pd.DataFrame, digits: int = 2, column_config: dict | None = None, hide_index: bool = True,
               **formats: str) -> None:
    """``st.dataframe`` of :func:`table_view`: long text columns narrowed (:func:`narrow_text`) and shown last
    (:func:`reading_order`), the first column pinned while the table scrolls sideways."""
    config = narrow_text(frame)
    if hide_index and len(frame.columns):
        name = frame.columns[0]
        config[name] = st.column_config.Column(width="medium" if name in config else None, pinned=True)
    st.dataframe(table_view(frame, digits, **formats), hide_index=hide_index, column_order=reading_order(frame),
                 column_config={**config, **(column_config or {})})


def pct(value: float | None) -> str:
    return "—" if value is None or np.isnan(value) else f"{100 * value:.2f} %"

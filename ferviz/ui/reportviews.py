"""Shared by the Evaluate and Compare pages: where the committed reports live, how to make missing ones,
and number formats of their tables."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from ferviz.paths import MODELS_DIR, MODELS_DIR_ENV
from ferviz.results.reports import (
    Discovery,
    discover,
)


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



def pct(value: float | None) -> str:
    return "—" if value is None or np.isnan(value) else f"{100 * value:.2f} %"

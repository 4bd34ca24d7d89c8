"""Sidebar controls of the HOG page."""

from __future__ import annotations

import streamlit as st

# ------------------------------------------------------------------------------------------------- HOG

def hog_controls() -> tuple[int, int, int]:
    """Sidebar sliders for the HOG parameters.

    Returns
    -------
    cell : int
        Cell size in pixels (default 8, the paper's).
    bins : int
        Orientation bins (default 9).
    block : int
        Block size in cells (default 2).
    """
    with st.sidebar:
        st.subheader("HOG parameters")
        cell = st.slider("Cell size (px)", 4, 16, 8, key="hog_cell")
        bins = st.slider("Orientation bins", 6, 18, 9, key="hog_bins")
        block = st.slider("Block size (cells)", 1, 4, 2, key="hog_block")
    return cell, bins, block


def cell_picker(n_rows: int, n_cols: int) -> tuple[int, int]:
    """Row and column of one cell, kept inside the grid when the cell size changes."""
    for key, n in (("hog_row", n_rows), ("hog_col", n_cols)):  # re-set: a slider whose range changed restarts
        st.session_state[key] = min(st.session_state.get(key, 0), n - 1)
    left, right = st.columns(2)
    row = left.slider("Cell row", 0, n_rows - 1, key="hog_row")
    col = right.slider("Cell column", 0, n_cols - 1, key="hog_col")
    return row, col

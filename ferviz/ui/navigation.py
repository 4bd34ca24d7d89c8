"""The app's pages: one registry for the navigation (``app.py``) and the home page's "Where next" links.

Keys are the page files, relative to the repository root, as ``st.switch_page`` and ``st.page_link`` take
them.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import NamedTuple

import streamlit as st

from ferviz.serve.access import shared_mode
from ferviz.serve.jobs import apply_threads

TAB_ICON = "🙂"  # every page's browser-tab icon
#: The app's entry script (``streamlit run app.py``), at the repository root beside ``pages/``.
ENTRY_SCRIPT = "app.py"


class PageEntry(NamedTuple):
    """One page: its file, its title in the navigation and a line on what it shows."""

    path: str
    title: str
    what: str


HOME = PageEntry("pages/0_Home.py", "Home", "what ferviz is and the selected model's card")
PAGES: dict[str, PageEntry] = {p.path: p for p in (
    HOME,
    PageEntry("pages/1_Predict.py", "Predict",
              "every face's expression in your photos, a webcam snapshot, samples or a video"),
    PageEntry("pages/2_HOG.py", "HOG", "the paper's hand-made features (eqs. 1-8), step by step on one face"),
    PageEntry("pages/3_Attention.py", "Attention",
              "where the spatial and channel attention of the model look"),
    PageEntry("pages/4_Attributions.py", "Attributions", "which pixels drove a prediction (Captum methods)"),
    PageEntry("pages/5_Walkthrough.py", "Walkthrough",
              "one face through every layer: DCNN, BiLSTM, attention, PCP"),
    PageEntry("pages/6_Evaluate.py", "Evaluate",
              "metrics, confusion matrix and calibration on a labelled dataset"),
    PageEntry("pages/7_Compare.py", "Compare",
              "the paper's reported numbers beside what this project measured"),
    PageEntry("pages/8_Live.py", "Live",
              "your camera, live: every face followed, labelled and explained as you move"),
)}


def navigation() -> st.navigation:
    """The app's navigation with every page of :data:`PAGES`, Home first and default.

    The tab icon is set here, before the navigation, to one emoji for every page (drawn by the browser from a
    data URI). Pages and messages carry no other icon: Streamlit's Material icon names would make the browser
    fetch a font from the internet (the app must not make any request beyond its own server), and emoji
    need a font many machines lack (they show as empty boxes).
    """
    st.set_page_config(page_icon=TAB_ICON)
    return st.navigation([st.Page(p.path, title=p.title, default=p is HOME)
                          for p in PAGES.values()])


_run = threading.local()  # ``inside``: this script run is app.py's navigation running a page

#: One style sheet, inline (no request leaves the server): a metric's label and number wrap onto a second
#: line, and the number shrinks with the window, instead of being cut to "802 of…" when four metrics share a
#: row in a 1024-pixel window (a classroom projector).
FIT_CSS = """<style>
[data-testid="stMetric"] .stMarkdownEllipsis, [data-testid="stMetric"] .stMarkdownEllipsis p {
  white-space: normal; overflow: visible; text-overflow: clip; overflow-wrap: anywhere; }
[data-testid="stMetric"] [data-testid="stMetricValue"], [data-testid="stMetric"] [data-testid="stMetricValue"] p {
  font-size: clamp(1.4rem, 2.8vw, 2.25rem); line-height: 1.2; }
</style>"""


def run_app() -> None:
    """``app.py``: run the page the URL names inside the app's navigation."""
    _run.inside = True
    try:
        pages = navigation()
        st.html(FIT_CSS)  # style only: Streamlit adds it to the page without taking up room
        pages.run()
    finally:
        _run.inside = False


def _entry_script() -> str:
    """The script Streamlit was started with (``app.py``, or a lone page under AppTest)."""
    return str(getattr(sys.modules.get("__main__"), "__file__", "") or "")


def ensure_navigation() -> None:
    """Make sure this page runs inside ``app.py``'s navigation; call it first on every page.

    A Streamlit server whose entry script has a ``pages/`` folder beside it starts in the older multipage
    mode, where a deep link (``/Predict``) runs the page on its own, under a navigation that names the
    home page after its file ("app"), until ``st.navigation`` is first called. When a server's first
    visitor opens a deep link, the page therefore runs outside :func:`run_app`: it calls
    ``st.navigation`` itself (hidden; from then on Streamlit ignores the ``pages/`` folder, as its
    documentation says) and reruns, so the same URL opens the same page in ``app.py``'s navigation.
    Inside the navigation, or as a lone page (the entry script itself, as AppTest runs it), it does
    nothing. It also sets the process's thread budget first (:func:`ferviz.serve.jobs.apply_threads`).
    """
    apply_threads(shared_mode())  # one thread per request on a shared server (FERVIZ_TORCH_THREADS)
    if getattr(_run, "inside", False) or Path(_entry_script()).name != ENTRY_SCRIPT:
        return
    st.navigation([st.Page(p.path, title=p.title, default=p is HOME) for p in PAGES.values()],
                  position="hidden")
    st.rerun()

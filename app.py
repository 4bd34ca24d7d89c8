"""ferviz: the app's entry point (``streamlit run app.py``). It only sets up the navigation; each page is
a script under ``pages/`` (the home page is ``pages/0_Home.py``), listed in :mod:`ferviz.ui.navigation`.
"""

from ferviz.ui.failover import note_if_moved
from ferviz.ui.navigation import run_app

note_if_moved()  # behind `ferviz serve`: this browser's replica stopped and its session is new
run_app()

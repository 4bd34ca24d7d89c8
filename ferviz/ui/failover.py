"""A note for a browser whose replica stopped: ``ferviz serve``'s proxy moved it to another replica (it sets
the short-lived ``ferviz_moved`` cookie, see :func:`ferviz.serve.deploy.nginx_config`), where its session
starts anew: say so for a minute, rather than leave the user wondering where the photo went."""

from __future__ import annotations

import time

import streamlit as st

MOVED_COOKIE = "ferviz_moved"  # the same name as ferviz.serve.deploy.MOVED_COOKIE
NOTE = ("The server that held your session stopped, so you are on another one with a new session: "
        "upload your photos again (or reload the page).")


def note_if_moved(seconds: float = 60.0) -> None:
    """Show :data:`NOTE` on the runs of the first ``seconds`` of a session that a moved browser opened."""
    if "_ferviz_moved_at" not in st.session_state:
        try:
            moved = bool(st.context.cookies.get(MOVED_COOKIE))
        except Exception:  # noqa: BLE001 - no request context (bare mode, tests): nothing to say
            moved = False
        st.session_state["_ferviz_moved_at"] = time.monotonic() if moved else None
    since = st.session_state["_ferviz_moved_at"]
    if since is not None and time.monotonic() - since < seconds:
        st.info(NOTE)

"""A note for a browser whose replica stopped: ``ferviz serve``'s proxy moved it to another replica (it sets
the short-lived ``ferviz_moved`` cookie, see :func:`ferviz.serve.deploy.nginx_config`), where its session
starts anew: say so once, rather than leave the user wondering where the photo went."""

from __future__ import annotations

import streamlit as st

MOVED_COOKIE = "ferviz_moved"  # the same name as ferviz.serve.deploy.MOVED_COOKIE
NOTE = ("The server that held your session stopped, so you are on another one with a new session: "
        "upload your photos again (or reload the page).")


def note_if_moved() -> None:
    """Show :data:`NOTE` on the first run of a session that a moved browser opened."""
    if st.session_state.get("_ferviz_moved_seen"):
        return
    st.session_state["_ferviz_moved_seen"] = True
    try:
        moved = st.context.cookies.get(MOVED_COOKIE)
    except Exception:  # noqa: BLE001 - no request context (bare mode, tests): nothing to say
        return
    if moved:
        st.info(NOTE, icon=":material/sync_problem:")

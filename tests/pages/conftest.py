"""The app server the browser tests share: started once, at the first browser test that asks for it."""

import pytest

from tests.browser import app_server


@pytest.fixture(scope="session")
def server():
    """``streamlit run app.py`` on a free port, warmed up on Home (:func:`tests.browser.app_server`)."""
    with app_server() as running:
        yield running

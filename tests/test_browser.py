"""End to end in a real browser: upload a face photo to the Predict page and wait for the prediction."""


import pytest
from PIL import Image
from skimage import data

from ferviz.paths import DEFAULT_MODEL
from tests.browser import ROOT, browser_page, chromium_path, streamlit_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="no system Chromium (apt-get install chromium)"),
    pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped default model in models/"),
]
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="module")
def server():
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server() as running:
        yield running


def test_upload_a_photo_and_see_the_prediction(server, tmp_path):
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    with browser_page() as page:
        page.goto(f"{server.url}/Predict", wait_until="domcontentloaded")
        page.get_by_text("upload photos").first.click(timeout=60_000)
        page.locator("input[type=file]").first.set_input_files(str(photo), timeout=60_000)
        page.get_by_text("astronaut.jpg").first.wait_for(timeout=60_000)
        page.get_by_text("face(s) found", exact=False).first.wait_for(timeout=90_000)
        page.wait_for_selector(".js-plotly-plot", timeout=90_000)
        page.wait_for_timeout(1500)
        body = page.inner_text("body")
        assert "Traceback" not in body
        assert any(label in body
                   for label in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"))
        page.screenshot(path=str(ARTIFACTS / "browser_predict.png"), full_page=True)
    assert (ARTIFACTS / "browser_predict.png").stat().st_size > 10_000


def test_home_page_renders_the_model_card(server):
    with browser_page() as page:
        page.goto(server.url, wait_until="domcontentloaded")
        page.get_by_text("ferviz", exact=False).first.wait_for(timeout=60_000)
        page.wait_for_timeout(2000)
        assert "Traceback" not in page.inner_text("body")
        nav = page.locator("[data-testid=stSidebarNav]").inner_text()
        assert nav.split("\n")[0].strip() == "Home" and "app" not in nav.split("\n")  # not the file's name
        assert {"Predict", "Live", "Compare"} <= {line.strip() for line in nav.split("\n")}
        page.screenshot(path=str(ARTIFACTS / "browser_home.png"), full_page=True)


@pytest.mark.parametrize("page_name,marker", [
    ("Attention", "Attention explorer"), ("HOG", "HOG"), ("Attributions", "Attributions"),
    ("Walkthrough", "walk-through"), ("Evaluate", "Evaluate"), ("Compare", "Compare")])
def test_every_page_renders_without_a_traceback(server, page_name, marker):
    with browser_page() as page:
        page.goto(f"{server.url}/{page_name}", wait_until="domcontentloaded")
        page.get_by_text(marker, exact=False).first.wait_for(timeout=60_000)
        if page_name in ("Attention", "HOG", "Compare", "Attributions", "Walkthrough"):
            page.wait_for_selector(".js-plotly-plot", timeout=90_000)
        if page_name == "Evaluate":  # its metric boxes fill in after the page text
            page.wait_for_selector("[data-testid=stMetricValue]", timeout=60_000)
        page.wait_for_timeout(2000)
        body = page.inner_text("body")
        assert "Traceback" not in body and "Error" not in body.split("\n")[0]
        page.screenshot(path=str(ARTIFACTS / f"browser_{page_name.lower()}.png"), full_page=False)

"""End to end in a real browser: upload a face photo to the Predict page and wait for the prediction."""

import importlib

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from tests.browser import ARTIFACTS, browser_marks, browser_page, streamlit_server

pytestmark = browser_marks()


def upload(page, url: str, mode: str, path, done: str, selector: str) -> None:
    """On Predict, choose ``mode``, upload ``path``, and wait for the text ``done`` and the chart ``selector``."""
    page.goto(f"{url}/Predict", wait_until="domcontentloaded")
    page.get_by_text(mode).first.click(timeout=60_000)
    page.locator("input[type=file]").first.set_input_files(str(path), timeout=60_000)
    page.get_by_text(done, exact=False).first.wait_for(timeout=120_000)
    page.wait_for_selector(selector, timeout=90_000)
    page.wait_for_timeout(2000)


def test_upload_a_photo_and_see_the_prediction(server, tmp_path):
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    with browser_page() as page:
        upload(page, server.url, "upload photos", photo, "face(s) found", ".js-plotly-plot")
        page.get_by_text("astronaut.jpg").first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "Traceback" not in body
        assert any(label in body
                   for label in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"))
        page.screenshot(path=str(ARTIFACTS / "browser_predict.png"), full_page=True)
    assert (ARTIFACTS / "browser_predict.png").stat().st_size > 10_000


def group_photo() -> np.ndarray:
    """A 1000x520 RGB "group photo": six copies of the astronaut's face, three touching the top edge and
    two the right edge (where captions used to be cut off)."""
    face = cv2.resize(data.astronaut()[35:250, 100:340], (160, 143), interpolation=cv2.INTER_AREA)
    canvas = np.full((520, 1000, 3), 120, np.uint8)
    for k, (y, x) in enumerate([(0, 40), (0, 420), (0, 838), (300, 150), (300, 560), (340, 838)]):
        canvas[y:y + 143, x:x + 160] = face if k % 2 == 0 else face[:, ::-1]
    return canvas


def test_a_group_photo_keeps_every_caption_inside_the_picture(server, tmp_path):
    photo = tmp_path / "group.jpg"
    Image.fromarray(group_photo()).save(photo, quality=92)
    with browser_page() as page:
        upload(page, server.url, "upload photos", photo, "6 face(s) found", ".js-plotly-plot .annotation")
        picture = page.locator(".js-plotly-plot").first
        area = picture.locator(".imagelayer image").first.bounding_box()
        captions = picture.locator(".annotation")
        assert captions.count() == 6
        texts = [captions.nth(k).text_content() for k in range(6)]
        assert [t.split()[0] for t in texts] == [f"#{k}" for k in range(6)]  # reading order
        for k in range(6):
            box = captions.nth(k).locator(".annotation-text-g").bounding_box()
            assert area["x"] - 1 <= box["x"] and box["x"] + box["width"] <= area["x"] + area["width"] + 1, texts[k]
            assert area["y"] - 1 <= box["y"] and box["y"] + box["height"] <= area["y"] + area["height"] + 1, texts[k]
        assert page.locator(".js-plotly-plot").count() == 2  # the picture and one grid, not a chart per face
        page.screenshot(path=str(ARTIFACTS / "browser_predict_group.png"))


def write_two_face_clip(path, seconds: float = 4.0, fps: int = 10):
    """A 640x480 clip: the astronaut's face and its mirror image drifting towards each other."""
    face = cv2.resize(data.astronaut()[10:230, 110:330], (150, 150), interpolation=cv2.INTER_AREA)[:, :, ::-1]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    for i in range(int(seconds * fps)):
        frame = np.full((480, 640, 3), 110, np.uint8)
        shift = 4 * i
        frame[160:310, 20 + shift:170 + shift] = face
        frame[160:310, 470 - shift:620 - shift] = face[:, ::-1]
        writer.write(frame)
    writer.release()
    return path


def test_upload_a_video_and_see_each_faces_timeline(server, tmp_path):
    clip = write_two_face_clip(tmp_path / "two_faces.mp4")
    with browser_page(height=1250) as page:
        upload(page, server.url, "video file", clip, "face(s) followed", ".js-plotly-plot")
        body = page.inner_text("body")
        assert "Traceback" not in body and "2 face(s) followed" in body
        assert "Download the annotated video" in body
        video = page.locator("[data-testid=stVideo]").first  # the browser decodes it: not one still frame
        video.wait_for(timeout=30_000)
        page.wait_for_function("() => { const v = document.querySelector('[data-testid=stVideo]');"
                               " return v && v.readyState >= 1 && v.duration > 0 && !v.error; }", timeout=30_000)
        assert video.evaluate("v => v.videoWidth") == 640
        page.screenshot(path=str(ARTIFACTS / "browser_video.png"))
    assert (ARTIFACTS / "browser_video.png").stat().st_size > 10_000


def nav_titles(page) -> list[str]:
    """The page titles in the sidebar navigation, in order."""
    links = page.locator("[data-testid=stSidebarNavLink]")
    return [links.nth(i).inner_text().split("\n")[-1].strip() for i in range(links.count())]


def test_a_deep_link_as_the_servers_first_request_gets_the_home_navigation():
    with streamlit_server() as fresh, browser_page() as page:  # a new server: /Predict is its first page
        page.goto(f"{fresh.url}/Predict", wait_until="domcontentloaded")
        page.get_by_text("Pictures").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        titles = nav_titles(page)
        assert titles[0] == "Home" and "app" not in titles
        assert page.get_by_role("heading", name="Predict").count() == 1


def test_home_page_renders_the_model_card(server):
    with browser_page() as page:
        page.goto(server.url, wait_until="domcontentloaded")
        page.get_by_text("ferviz", exact=False).first.wait_for(timeout=60_000)
        page.wait_for_timeout(2000)
        assert "Traceback" not in page.inner_text("body")
        titles = nav_titles(page)
        assert titles[0] == "Home" and "app" not in titles  # not the entry script's file name
        assert {"Predict", "Live", "Compare"} <= set(titles)
        page.screenshot(path=str(ARTIFACTS / "browser_home.png"), full_page=True)
        # four metrics to a row on a projector (1024 px): the numbers wrap and shrink instead of being cut off
        page.set_viewport_size({"width": 1024, "height": 900})
        value = page.locator('[data-testid="stMetricValue"] p').first
        value.wait_for(timeout=30_000)
        style = value.evaluate("e => [getComputedStyle(e).whiteSpace, getComputedStyle(e).textOverflow, "
                               "parseFloat(getComputedStyle(e).fontSize)]")
        assert style[:2] == ["normal", "clip"] and 22 <= style[2] < 36, style  # 2.8 % of 1024 px: about 29 px


#: The pages opened by ``test_every_page_renders_without_a_traceback``: (title, a text it shows once rendered).
EVERY_PAGE = [("Attention", "Attention explorer"), ("HOG", "HOG"), ("Attributions", "Attributions"),
              ("Walkthrough", "walk-through"), ("Evaluate", "Evaluate"), ("Compare", "Compare")]


@pytest.mark.parametrize("page_name,marker", EVERY_PAGE)
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
        if page_name == "Attributions":  # the verdicts sit below the maps: scroll Streamlit's own container
            page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollBy(0, 850)")
            page.wait_for_timeout(1000)
            assert "Faithfulness" in page.inner_text("[data-testid=stMain]")
            page.screenshot(path=str(ARTIFACTS / "browser_attributions_verdicts.png"))


#: The pages the tests above open, each in a fresh browser under the offline guard of ``browser_page`` (first
#: paint included), besides those of ``test_every_page_renders_without_a_traceback``.
#: Pages opened by a browser test of their own: page title -> (test module, test function).
OPENED_ELSEWHERE = {"Home": ("tests.pages.test_browser", "test_home_page_renders_the_model_card"),
                    "Predict": ("tests.pages.test_browser", "test_upload_a_photo_and_see_the_prediction"),
                    "Live": ("tests.pages.test_browser_live",
                             "test_live_stream_labels_the_face_and_leaves_no_thread_behind")}


def test_no_page_makes_a_request_beyond_the_apps_server():
    """Offline means offline: no tab icon, font or script from a CDN, on any page, first paint included.

    Every browser test's page records what it asks beyond this machine and fails if it asked anything
    (``tests.browser.browser_page``); here, that every page is opened by one of them, and that the guard
    does catch a request elsewhere (a documentation address, so nothing leaves the machine either way)."""
    from ferviz.ui.navigation import PAGES
    from tests.browser import offline_guard

    opened = {name for name, _ in EVERY_PAGE} | set(OPENED_ELSEWHERE)
    assert opened == {entry.title for entry in PAGES.values()}
    for module, test in OPENED_ELSEWHERE.values():  # the tests named there exist
        assert callable(getattr(importlib.import_module(module), test, None)), f"{module}.{test} is gone"
    with pytest.raises(AssertionError, match="offline means offline"), browser_page() as page:
        seen = offline_guard(page)
        page.set_content('<img src="http://192.0.2.1/icon.png"><link rel="stylesheet" href="https://192.0.2.1/f.css">')
        page.wait_for_timeout(300)
        assert len(seen) == 2 and all("192.0.2.1" in url for url in seen), seen

"""The Attention page as a teacher uses it: the chosen tab stays chosen when a control in it changes."""

import pytest

from tests.browser import ARTIFACTS, browser_marks, browser_page

pytestmark = browser_marks()


def selected_tab(page) -> str:
    return page.locator("[role=tab][aria-selected=true]").first.inner_text().strip()


@pytest.mark.parametrize("tab,control", [("PCP activation", "knot a"), ("Ablations", "Colour scale")])
def test_changing_a_control_keeps_its_tab(server, tab, control):
    with browser_page(height=1100) as page:
        page.goto(f"{server.url}/Attention", wait_until="domcontentloaded")
        page.wait_for_selector(".js-plotly-plot", timeout=90_000)
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(1500)
        assert selected_tab(page) == tab
        panel = page.locator("[role=tabpanel]:visible").first
        if control == "knot a":
            thumb = panel.get_by_role("slider").first
            thumb.focus()
            thumb.press("ArrowRight")
        else:
            panel.get_by_text("relative (stretched", exact=False).first.click()
        page.wait_for_timeout(4000)  # the rerun
        assert selected_tab(page) == tab
        page.screenshot(path=str(ARTIFACTS / f"browser_attention_{tab.split()[0].lower()}.png"))

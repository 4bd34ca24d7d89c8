"""The home page (AppTest); the model card logic behind it is tested in test_modelcard.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ferviz.model.checkpoint import load_checkpoint
from ferviz.paths import BENCHMARK_MODEL, DEFAULT_MODEL
from ferviz.results.modelcard import card_beside
from ferviz.ui.navigation import HOME, PAGES
from ferviz.ui.predict import md_escape
from tests.results.test_modelcard import write_card

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def test_home_shows_the_shipped_models_card_and_the_reported_not_reproduced_note():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and not at.error
    loaded = load_checkpoint(DEFAULT_MODEL)
    card = card_beside(loaded.path)
    name = (card.name if card else "") or loaded.path.stem
    assert at.header[0].value == f"Model: {md_escape(name)}"
    assert any(md_escape(loaded.variant) in c.value and loaded.sha256[:12] in c.value for c in at.caption)
    assert at.metric or any("no measured metrics" in i.value for i in at.info)
    assert any("reported, not reproduced" in i.value for i in at.info)
    assert len(at.sidebar.selectbox) == 1  # the model picker
    assert any("Where next" in h.value for h in at.header)
    if card is not None and any(r.get("model") == name and r.get("domain") == "ferplus" for r in card.domains):
        shown = {m.label: m.value for m in at.metric}
        row = next(r for r in card.domains if r["model"] == name and r["domain"] == "ferplus")
        assert shown["FER+ majority"] == f"{100 * row['accuracy']:.1f} %"  # beyond FER2013, from the card
        assert any("Beyond FER2013" in s.value for s in at.subheader)


def test_home_with_a_card_shows_its_metrics_and_per_class_table(tiny_checkpoint):
    write_card(tiny_checkpoint)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.sidebar.selectbox[0].set_value("other file…").run()
    at.sidebar.text_input[0].input(str(tiny_checkpoint)).run()
    assert not at.exception and not at.error
    assert any("tiny test model" in h.value for h in at.header)
    assert [m.label for m in at.metric][:2] == ["Accuracy", "Macro F1"]
    assert any("82.89" in i.value for i in at.info)  # the card names FER2013: the paper's claim beside
    assert len(at.dataframe) >= 2  # per-class table and the data/recipe table


def test_home_shows_a_malformed_card_as_an_error_and_falls_back_on_the_checkpoint(tiny_checkpoint):
    write_card(tiny_checkpoint, epochs="two")
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.sidebar.selectbox[0].set_value("other file…").run()
    at.sidebar.text_input[0].input(str(tiny_checkpoint)).run()
    assert not at.exception
    assert [e.value for e in at.error] == [md_escape("tiny.json: 'epochs' must be an integer, got str")]
    assert any("from the checkpoint" in c.value for c in at.caption)


def test_every_page_file_is_in_the_navigation_with_home_first():
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))
    assert sorted(PAGES) == files
    assert next(iter(PAGES.values())) is HOME and HOME.title == "Home"
    assert len({p.title for p in PAGES.values()}) == len(PAGES)


def test_the_app_opens_on_home_with_a_link_to_every_other_page():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value.startswith("ferviz")
    links = {el.proto.page for el in at.get("page_link")}  # the pages' URL paths
    assert links == {p.title for p in PAGES.values() if p is not HOME}


def test_home_shows_no_absolute_path_of_the_training_machine_and_explains_its_columns():
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    shown = [df.value.to_string() for df in at.dataframe] + [m.value for m in at.markdown]
    assert not any("/work/" in text or "/root/" in text or "/home/" in text for text in shown)
    (per_class,) = [df for df in at.dataframe if "recall" in df.value.columns]
    helps = {name: spec.get("help", "") for name, spec in json.loads(per_class.proto.columns).items()}
    assert all(helps.get(c) for c in per_class.value.columns), helps  # every column says what it is
    assert "GAR" in helps["recall"] and "FAR" in helps["specificity"] and "accuracy" not in per_class.value.columns


@pytest.mark.skipif(DEFAULT_MODEL == BENCHMARK_MODEL, reason="no real-faces model shipped")
def test_home_says_which_model_is_the_default_and_which_the_benchmark():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    note = [i.value for i in at.info if "The default model is" in i.value]
    assert note and DEFAULT_MODEL.stem in note[0] and BENCHMARK_MODEL.stem in note[0]
    assert "FER+" in note[0] and "face-api.js" in note[0]

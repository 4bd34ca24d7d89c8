"""Evaluate's per-class columns explain themselves: the paper's GAR/FAR and one-vs-rest accuracy in plain words."""

from ferviz.ui.evaluate import RATE_HELP, _percent_columns


def test_every_rate_column_has_a_plain_words_tooltip():
    cols = _percent_columns()
    assert set(cols) == {"accuracy", "precision", "recall", "specificity", "f1", "gar", "far"}
    assert all(cols[k]["help"] == RATE_HELP[k] for k in cols)
    assert "recall" in RATE_HELP["gar"] and "specificity" in RATE_HELP["far"]
    assert "one-vs-rest" in RATE_HELP["accuracy"]

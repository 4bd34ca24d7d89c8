"""Tests for ferviz.ui.reportviews.table_view: how Compare's tables print numbers."""

import numpy as np
import pandas as pd

from ferviz.ui.reportviews import table_view


def test_counts_are_integers_floats_have_two_decimals_and_gaps_are_dashes():
    frame = pd.DataFrame({"train_faces": [5000.0, np.nan], "accuracy": [68.126, np.nan], "seeds": ["one", None],
                          "paired_p": [0.0504, np.nan], "significant": [True, False]})
    html = table_view(frame, paired_p="{:.3f}").to_html()
    for text in (">5000<", ">68.13<", ">0.050<", ">—<", ">one<"):
        assert text in html
    assert "5000.00" not in html and "nan" not in html.lower().replace("nan;", "")

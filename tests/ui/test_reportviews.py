"""Tests for ferviz.ui.reportviews.table_view: how Compare's tables print numbers."""

import numpy as np
import pandas as pd
import pytest

from ferviz.ui.reportviews import table_view


def test_counts_are_integers_floats_have_two_decimals_and_gaps_are_dashes():
    frame = pd.DataFrame({"train_faces": [5000.0, np.nan], "accuracy": [68.126, np.nan], "seeds": ["one", None],
                          "paired_p": [0.0504, np.nan], "significant": [True, False]})
    html = table_view(frame, paired_p="{:.3f}").to_html()
    for text in (">5000<", ">68.13<", ">0.050<", ">—<", ">one<"):
        assert text in html
    assert "5000.00" not in html and "nan" not in html.lower().replace("nan;", "")


def test_an_empty_number_cell_carries_the_dash_itself():
    """The browser draws a NaN cell as "None" whatever the Styler's display value: the data holds the dash."""
    frame = pd.DataFrame({"acc": [0.5, np.nan], "n": [5000.0, np.nan], "full": [1.0, 2.0], "note": ["a", None]})
    styled = table_view(frame)
    # all text, formatted: a column of numbers and dashes is not one Arrow type (Streamlit logged an error)
    assert styled.data["acc"].tolist() == ["0.50", "—"] and styled.data["n"].tolist() == ["5000", "—"]
    pa = pytest.importorskip("pyarrow")
    pa.Table.from_pandas(styled.data)  # converts without the fallback
    assert styled.data["note"].tolist() == ["a", "—"]
    assert styled.data["full"].dtype == float  # a column without gaps stays numeric (and sorts as numbers)
    html = styled.to_html()
    assert "0.50" in html and "5000<" in html and "None" not in html and "nan" not in html
    assert frame["acc"].isna().tolist() == [False, True]  # the caller's frame is untouched


def test_attention_note_says_the_interval_and_what_it_means():
    from ferviz.results.significance import paired_seeds
    from ferviz.ui.compare import attention_note, real_command

    # cnn_bilstm minus the full model, per seed: -1, -2, -3 pp -> the attention is 2 pp ahead
    pairs = paired_seeds({0: 60.0, 1: 60.0, 2: 60.0}, {0: 61.0, 1: 62.0, 2: 63.0})
    note = attention_note(pairs)
    assert "2.00 pp higher" in note and "ahead in 3 of 3" in note
    assert "[-0.48, +4.48]" in note and "includes 0" in note  # 2 ± 4.303 * 1 / sqrt(3)
    assert "seed noise" not in note and "not" not in note.split("includes 0")[0]
    clear = attention_note(paired_seeds({0: 60.0, 1: 60.0, 2: 60.0}, {0: 62.0, 1: 62.1, 2: 61.9}))
    assert "leaves out 0" in clear and "attention ahead" in clear
    assert real_command("python -m ferviz.results.audits --data x") == "ferviz audit --data x"


def test_reading_order_keeps_the_name_first_and_moves_long_text_last():
    from ferviz.ui.reportviews import LONG_TEXT, reading_order

    long = "x" * (LONG_TEXT + 1)
    frame = pd.DataFrame({"lever": ["a"], "change": [long], "split": ["PublicTest"], "budget": [long],
                          "accuracy": [50.0], "command": [long]})
    assert reading_order(frame) == ["lever", "split", "accuracy", "change", "budget", "command"]
    short = pd.DataFrame({"model": ["m"], "n": [3], "acc": [0.5]})
    assert reading_order(short) == ["model", "n", "acc"]  # nothing long: the frame's own order
    first_long = pd.DataFrame({"name": [long], "acc": [0.5], "note": [long]})
    assert reading_order(first_long) == ["name", "acc", "note"]  # what a row is stays first even when long

"""Tests for ferviz.ui.explain's text helpers."""

import numpy as np

from ferviz.explain.walkthrough import Stage
from ferviz.ui.explain import stage_index


def test_stage_index_links_every_stage_and_keeps_each_shape_on_one_line():
    stages = [Stage(name="input", shape=(1, 1, 64, 64), kind="image", array=np.zeros((1, 4, 4)), caption="c",
                    summary="The face becomes the input.", part="Input and convolutions"),
              Stage(name="logits", shape=(1, 7), kind="vector", array=np.zeros(7), caption="c",
                    summary="One score per expression.", part="Fusion and classifier")]
    lines = stage_index(stages).splitlines()
    assert lines[0] == "| stage | part | shape | what it does |" and len(lines) == 2 + len(stages)
    assert lines[2] == "| [1. input](#stage-1) | Input and convolutions | `(1,1,64,64)` | The face becomes the input. |"
    assert "`(1,7)`" in lines[3] and "](#stage-2)" in lines[3]

"""Evaluate's committed-report view with and without the human-agreement and label-noise sections.

Runs the Evaluate page script (Streamlit's AppTest, in this process: no browser) on the committed reports
of the shipped default model: once with models/reports/label_noise/ present (the agreement scores, the
confusion matrices by agreement band and the likely-mislabelled table) and once on a copy of models/
without it (the baseline: the view as it was before). Warm runs, interleaved; the ratio says what the new
sections cost. The browser adds its own drawing time on top.

    python bench/evaluate_views.py --repeats 5 --json docs/bench/evaluate_views.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def page_run(models_dir: Path):
    from streamlit.testing.v1 import AppTest

    def run() -> None:
        os.environ["FERVIZ_MODELS_DIR"] = str(models_dir)
        at = AppTest.from_file(str(ROOT / "pages" / "6_Evaluate.py"), default_timeout=600).run()
        if at.exception:
            raise RuntimeError(at.exception[0].message)
    return run


def main() -> None:
    parser = common.add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    machine = common.start(args, "Evaluate, committed reports: with vs without the agreement sections")
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "models"
        shutil.copytree(ROOT / "models", bare, ignore=shutil.ignore_patterns("label_noise", "*_run"))
        timings = common.time_interleaved({"without (baseline)": page_run(bare),
                                           "with agreement + mislabelled": page_run(ROOT / "models")},
                                          repeats=args.repeats, warmup=1)
    base = timings["without (baseline)"].median
    rows = [{"view": name, "median_s": t.median, "q1_s": t.q1, "q3_s": t.q3, "ratio": t.median / base}
            for name, t in timings.items()]
    common.print_table(rows, [("view", "view", "s"), ("median_s", "median s", ".2f"), ("q1_s", "q1", ".2f"),
                              ("q3_s", "q3", ".2f"), ("ratio", "× baseline", ".2f")])
    common.finish(args, "evaluate_views", machine, rows)


if __name__ == "__main__":
    main()

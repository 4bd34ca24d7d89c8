"""Paths shown on pages: repository-relative, never the training machine's folders (ferviz.paths.shown_path)."""

from ferviz.paths import shown_path


def test_paths_inside_the_repository_become_relative_and_others_lose_the_machine(tmp_path):
    from ferviz.paths import ROOT

    text = (f"ferviz train --data /srv/data/fer2013/train.npz --init {ROOT}/models/a.pt "
            f"--out /work/runs/dam/best.pt --teacher /home/u/x/t.pt")
    assert shown_path(text) == ("ferviz train --data $DATA/fer2013/train.npz --init models/a.pt "
                                "--out runs/dam/best.pt --teacher x/t.pt")


def test_text_without_absolute_paths_and_other_values_are_unchanged():
    for text in ("acc/F1 1/N 64x64", "models/fer2013.pt", "see ./bench/app_load.py", "", "~/x/y"):
        assert shown_path(text) == text
    assert shown_path(3.5) == 3.5 and shown_path(None) is None

"""Paths shown on pages: repository-relative, never the training machine's folders."""

from ferviz.text import repo_paths


def test_paths_inside_the_repository_become_relative_and_others_keep_two_parts(tmp_path):
    root = tmp_path / "repo"
    text = (f"ferviz train --data /srv/data/fer2013/train.npz --init {root}/models/a.pt "
            f"--out /work/runs/dam/best.pt")
    assert repo_paths(text, root) == ("ferviz train --data …/fer2013/train.npz --init models/a.pt "
                                      "--out …/dam/best.pt")


def test_text_without_absolute_paths_is_unchanged():
    for text in ("acc/F1 1/N 64x64", "models/fer2013.pt", "see ./bench/app_load.py", "", "~/x/y"):
        assert repo_paths(text, "/repo") == text

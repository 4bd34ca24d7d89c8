"""Repository paths and the resolution of paths users type."""

from pathlib import Path

import pytest

from ferviz.errors import FervizError
from ferviz.paths import DEFAULT_MODEL, MODELS_DIR, REPORTS_DIR, portable, portable_tree, resolve_user_path


def test_repository_paths():
    assert DEFAULT_MODEL.parent == MODELS_DIR and REPORTS_DIR.parent == MODELS_DIR
    assert DEFAULT_MODEL.suffix == ".pt"


def test_resolve_user_path(tmp_path, monkeypatch):
    (tmp_path / "m.pt").write_bytes(b"x")
    (tmp_path / "d").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_user_path("  ~/m.pt ", suffixes=(".pt",)) == tmp_path / "m.pt"
    assert resolve_user_path(str(tmp_path / "d"), folders=True) == tmp_path / "d"
    with pytest.raises(FervizError, match="not available here$"):
        resolve_user_path(str(tmp_path / "d"))
    with pytest.raises(FervizError, match=r"expected a \.npz file"):
        resolve_user_path(str(tmp_path / "m.pt"), suffixes=(".npz",))
    with pytest.raises(FervizError, match="not found, or not available here"):
        resolve_user_path(str(tmp_path / "missing"), folders=True)


def test_portable_makes_absolute_paths_repository_relative(tmp_path):
    root = tmp_path / "repo"
    command = (f"ferviz train --data /srv/shared/data/fer2013/fer2013_trainval.npz --init {root}/models/a.pt "
               "--out /home/me/runs/dam_s6 --teacher /opt/x/y/best.pt,models/b.pt")
    assert portable(command, root) == ("ferviz train --data $DATA/fer2013/fer2013_trainval.npz --init models/a.pt "
                                       "--out runs/dam_s6 --teacher y/best.pt,models/b.pt")
    kept = "train/test 68.93 % / 66.07 %, https://example.org/a/b, DATA=/path/to/data, runs/x"
    assert portable(kept, root) == kept
    tree = {"command": ["--out=/work/runs/a"], "n": 3, "notes": ("at /work/runs/s5.pt",)}
    assert portable_tree(tree, root) == {"command": ["--out=runs/a"], "n": 3, "notes": ("at runs/s5.pt",)}


def test_committed_cards_and_reports_record_no_absolute_path():
    """Model cards and reports are read on other machines: their commands and paths are repository-relative."""
    bench = Path(__file__).resolve().parent.parent / "docs" / "bench"  # benchmark records are committed too
    texts = [p for p in [*MODELS_DIR.rglob("*"), *bench.glob("*.json")] if p.suffix in (".json", ".md", ".csv")]
    assert texts
    for path in texts:
        text = path.read_text(encoding="utf-8")
        assert portable(text) == text, f"{path.name} names an absolute path"


def test_file_name_is_the_last_part_of_a_path_from_any_system():
    from ferviz.paths import file_name

    assert [file_name(p) for p in ("models/m.pt", "runs\\x\\m.pt", "m.pt", "/abs/dir/")] == ["m.pt", "m.pt", "m.pt", ""]

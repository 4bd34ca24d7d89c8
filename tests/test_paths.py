"""Repository paths and the resolution of paths users type."""

import pytest

from ferviz.errors import FervizError
from ferviz.paths import DEFAULT_MODEL, MODELS_DIR, REPORTS_DIR, resolve_user_path


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

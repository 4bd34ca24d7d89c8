"""Shared mode: no server path reachable, one message for missing/outside/link, safe dataset uploads."""

import io
import os
import stat
import zipfile

import numpy as np
import pytest

from ferviz.errors import DatasetError
from ferviz.serve.access import (
    NOT_AVAILABLE,
    AccessError,
    dataset_from_upload,
    extract_zip,
    listed_datasets,
    resolve_dataset_path,
    shared_mode,
)
from tests.helpers import write_npz


def zip_bytes(entries: dict[str, bytes], *, link: str | None = None, method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in entries.items():
            z.writestr(name, data)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.fixture
def shared(monkeypatch, tmp_path):
    root = tmp_path / "roots" / "data"
    root.mkdir(parents=True)
    write_npz(root / "fer2013_small.npz")
    (root / "folder").mkdir()
    (root / ".hidden.npz").write_bytes(b"x")
    (root / "notes.txt").write_text("not a dataset")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "private.npz").write_bytes(b"x")
    os.symlink(secret, root / "escape")
    monkeypatch.setenv("FERVIZ_SHARED", "1")
    monkeypatch.setenv("FERVIZ_DATA_ROOTS", f"{root}:{tmp_path / 'missing-root'}")
    return root, secret


def test_shared_mode_lists_only_what_is_inside_the_roots(shared):
    root, _ = shared
    assert shared_mode()
    assert sorted(listed_datasets()) == ["data/fer2013_small.npz", "data/folder"]  # no link out, no hidden


def test_missing_outside_and_escaping_paths_get_the_same_message(shared, tmp_path):
    root, secret = shared
    assert resolve_dataset_path(str(root / "fer2013_small.npz")) == root / "fer2013_small.npz"
    messages = []
    for text in (str(root / "nope.npz"), str(secret / "private.npz"), str(root / "escape" / "private.npz"),
                 "relative/path.npz", "../../etc/passwd"):
        with pytest.raises(AccessError) as err:
            resolve_dataset_path(text)
        messages.append(str(err.value).split(": ", 1)[1])
    assert len(set(messages)) == 1 and NOT_AVAILABLE in messages[0]


def test_local_mode_reaches_any_existing_path_and_hides_nothing_else(monkeypatch, tmp_path):
    monkeypatch.delenv("FERVIZ_SHARED", raising=False)
    data = write_npz(tmp_path / "d.npz")
    assert not shared_mode() and resolve_dataset_path(str(data)) == data
    with pytest.raises(AccessError, match=NOT_AVAILABLE):
        resolve_dataset_path(str(tmp_path / "nope.npz"))


@pytest.mark.parametrize(("entries", "link", "message"), [
    ({"../evil.txt": b"x"}, None, "'..'"),
    ({"/abs/evil.txt": b"x"}, None, "absolute"),
    ({}, "link.png", "links"),
    ({f"f{i}.png": b"" for i in range(101)}, None, "at most 100"),
    ({"bomb.bin": b"\0" * 5_000_000}, None, "zip bomb"),
])
def test_unsafe_zips_are_refused_and_nothing_is_written_outside(tmp_path, entries, link, message):
    dest = tmp_path / "inner" / "out"
    with pytest.raises(AccessError, match=message):
        extract_zip(zip_bytes(entries, link=link), dest, max_files=100)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "inner" / "evil.txt").exists()
    assert not list(tmp_path.rglob("evil.txt"))


def test_a_zip_whose_headers_lie_is_stopped_while_writing(tmp_path):
    data = zip_bytes({"a.bin": os.urandom(300_000), "b.bin": os.urandom(300_000)}, method=zipfile.ZIP_STORED)
    with pytest.raises(AccessError, match="more than 0 MB"):
        extract_zip(data, tmp_path / "out", max_unpacked_mb=0.5)
    with pytest.raises(AccessError, match="not a readable zip"):
        extract_zip(b"PK\x03\x04 not really", tmp_path / "out2")


def test_dataset_uploads_npz_and_zip_of_class_folders(tmp_path):
    from PIL import Image

    npz = write_npz(tmp_path / "jaffe.npz").read_bytes()
    ds = dataset_from_upload("jaffe.npz", npz)
    assert len(ds) == 84 and ds.whole_frames  # the file name names the kind
    folders = {}
    for i, label in enumerate(["angry", "happy"] * 3):
        buf = io.BytesIO()
        Image.fromarray(np.full((48, 48), 40 * i, np.uint8)).save(buf, "PNG")
        folders[f"train/{label}/Training_{i}.png"] = buf.getvalue()
    ds = dataset_from_upload("faces.zip", zip_bytes(folders))
    assert len(ds) == 6 and set(ds.usage) == {"Training"}
    own = {}
    for i, (label, side) in enumerate([("Happy", 48), ("3", 60), ("sadness", 48)]):
        buf = io.BytesIO()
        Image.fromarray(np.full((side, side), 30 * i, np.uint8)).save(buf, "PNG")
        own[f"mine/{label}/{i}.png"] = buf.getvalue()
    ds = dataset_from_upload("mine.zip", zip_bytes(own))
    assert ds.name == "folder" and sorted(ds.labels) == [3, 3, 4] and ds.images.shape[1:] == (48, 48)
    assert ds.notes and not any("ferviz_upload_" in note for note in ds.notes + ds.skipped)
    with pytest.raises(AccessError, match="upload an .npz"):
        dataset_from_upload("x.exe", b"MZ")
    with pytest.raises(AccessError, match="limited to"):
        dataset_from_upload("big.npz", b"0" * 2048, max_mb=0.001)
    with pytest.raises(DatasetError) as err:
        dataset_from_upload("junk.zip", zip_bytes({"readme.txt": b"hello"}))
    assert "ferviz_upload_" not in str(err.value)  # the server's temporary folder is not shown


def test_the_upload_budget_counts_what_each_widget_holds_now(monkeypatch, caplog):
    from ferviz.serve.access import SESSION_UPLOAD_MB, UploadBudget, session_upload_limit_mb

    mb = 2**20
    budget = UploadBudget(limit_mb=10)
    assert budget.admit("photos", [3 * mb, 3 * mb]) is None
    assert budget.admit("video", [5 * mb]) is not None  # 6 + 5 > 10: refused, not recorded
    assert budget.held == {"photos": 6 * mb}
    assert budget.admit("photos", [1 * mb]) is None  # the widget now holds less
    assert budget.admit("video", [5 * mb]) is None and budget.held_mb == 6
    message = budget.admit("dataset", [5 * mb])
    assert "11.0 MB" in message and "10 MB" in message
    assert UploadBudget(limit_mb=None).admit("x", [10**12]) is None
    monkeypatch.delenv("FERVIZ_SESSION_UPLOAD_MB", raising=False)
    monkeypatch.delenv("FERVIZ_SHARED", raising=False)
    assert session_upload_limit_mb() is None  # local mode: no cap
    monkeypatch.setenv("FERVIZ_SHARED", "1")
    assert session_upload_limit_mb() == SESSION_UPLOAD_MB
    monkeypatch.setenv("FERVIZ_SESSION_UPLOAD_MB", "50")
    assert session_upload_limit_mb() == 50
    monkeypatch.setenv("FERVIZ_SESSION_UPLOAD_MB", "lots")
    assert session_upload_limit_mb() == SESSION_UPLOAD_MB and "FERVIZ_SESSION_UPLOAD_MB" in caplog.text

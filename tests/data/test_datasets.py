"""Dataset readers on tiny fixtures written into ``tmp_path`` (no real dataset image is read or stored).

Each public format gets a hand-made miniature; label mappings are checked against values worked out
by hand from each release's documentation; every bad-input case must raise :class:`DatasetError`
naming the file (and line), or be skipped with a record and a counted warning.
"""

import logging
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ferviz.data import _readers as rd
from ferviz.data._readers import parse_pixels
from ferviz.data.datasets import (
    CKPLUS_CSV_CODES,
    DATASET_READERS,
    JAFFE_CODES,
    RAFDB_CODES,
    FaceDataset,
    detect_kind,
    load_dataset,
)
from ferviz.data.labels import ALL_LABELS
from ferviz.data.preprocess import resize_square
from ferviz.errors import DatasetError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


# ----------------------------------------------------------------------------------------- fixtures

def face(seed: int, side: int = 48) -> np.ndarray:
    """A reproducible (side, side) uint8 image."""
    return np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8)


def save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)
    return path


def pixels(array: np.ndarray) -> str:
    return " ".join(map(str, array.ravel()))


def write_csv(path: Path, rows: list[str], header: str = "emotion,pixels,Usage") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def fer_csv(tmp_path: Path, *bad_rows: str) -> Path:
    """fer2013.csv: lines 2-4 good (happy, angry, neutral; one per Usage), then ``bad_rows``."""
    good = [f"3,{pixels(face(0))},Training", f"0,{pixels(face(1))},PublicTest",
            f"6,{pixels(face(2))},PrivateTest"]
    return write_csv(tmp_path / "fer2013.csv", [*good, *bad_rows])


@pytest.fixture
def fer_folder(tmp_path: Path) -> Path:
    root = tmp_path / "fer_images"
    save(root / "train" / "angry" / "Training_10.png", face(10))
    save(root / "train" / "happy" / "Training_11.jpg", face(11))
    save(root / "test" / "sad" / "PublicTest_12.png", face(12))
    save(root / "test" / "sad" / "PrivateTest_13.png", face(13))
    save(root / "test" / "surprise" / "Training_14.png", face(14))  # misplaced: usage is still Training
    return root


@pytest.fixture
def ck_folder(tmp_path: Path) -> Path:
    root = tmp_path / "ck" / "CK+48"
    save(root / "anger" / "S010_004_00000017.png", face(20))
    save(root / "contempt" / "S011_002_00000020.png", face(21))
    save(root / "sadness" / "S010_006_00000015.png", face(22))
    return root


@pytest.fixture
def jaffe_folder(tmp_path: Path) -> Path:
    root = tmp_path / "jaffe"
    save(root / "KA.AN1.39.tiff", face(30, 256))
    save(root / "KL.SU2.40.tiff", face(31, 256))
    save(root / "MK.NE1.113.tiff", face(32, 256))
    return root


def raf_official(tmp_path: Path, *extra_lines: str) -> Path:
    root = tmp_path / "RAF-DB" / "basic"
    rgb = np.random.default_rng(40).integers(0, 256, (100, 100, 3), dtype=np.uint8)
    save(root / "Image" / "aligned" / "train_00001_aligned.jpg", rgb)
    save(root / "Image" / "aligned" / "test_0001_aligned.png", rgb)
    save(root / "Image" / "aligned" / "test_0002_aligned.jpg", rgb)
    (root / "EmoLabel").mkdir()
    lines = ["train_00001.jpg 1", "test_0002.jpg 6", *extra_lines]
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def raf_kaggle(tmp_path: Path) -> Path:
    root = tmp_path / "kaggle" / "DATASET"
    rgb = np.random.default_rng(41).integers(0, 256, (100, 100, 3), dtype=np.uint8)
    save(root / "train" / "1" / "train_00001_aligned.jpg", rgb)
    save(root / "train" / "3" / "test_0002_aligned.jpg", rgb)  # misplaced: usage from the prefix
    save(root / "test" / "7" / "test_0001_aligned.jpg", rgb)
    return root


def write_npz(path: Path, **arrays) -> Path:
    base = {"images": np.stack([face(50), face(51), face(52)]), "labels": np.array([0, 7, 3])}
    np.savez_compressed(path, **(base | arrays))
    return path


# ----------------------------------------------------------------------------------- label mappings

def test_registry_keys_are_the_shared_strings():
    assert list(DATASET_READERS) == ["fer2013", "ckplus", "jaffe", "rafdb", "npz", "folder"]


def test_label_maps_hand_checked():
    assert ALL_LABELS[RAFDB_CODES[1]] == "surprise" and RAFDB_CODES[1] == 5
    assert [RAFDB_CODES[c] for c in range(1, 8)] == [5, 2, 1, 3, 4, 0, 6]
    assert CKPLUS_CSV_CODES[4] == 4 and CKPLUS_CSV_CODES[7] == 7 and CKPLUS_CSV_CODES[6] == 6
    assert JAFFE_CODES["SU"] == 5 and JAFFE_CODES["AN"] == 0 and JAFFE_CODES["NE"] == 6


# --------------------------------------------------------------------------------------- CSV formats

def test_fer_csv_reads_pixels_labels_usage_and_lines(tmp_path):
    data = load_dataset("fer2013", fer_csv(tmp_path))
    assert data.images.shape == (3, 48, 48) and data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.images[1], face(1))
    assert data.labels.tolist() == [3, 0, 6] and data.labels.dtype == np.int64
    assert data.usage.tolist() == ["Training", "PublicTest", "PrivateTest"]
    assert data.source.tolist() == ["fer2013.csv:line 2", "fer2013.csv:line 3", "fer2013.csv:line 4"]
    assert data.name == "fer2013" and data.skipped == [] and data.subject.tolist() == ["", "", ""]


def test_fer_csv_from_its_folder_with_kaggle_column_spelling(tmp_path):
    rows = [f"5,Training,{pixels(face(3))}"]
    write_csv(tmp_path / "fer2013" / "fer2013.csv", rows, header="emotion, Usage, pixels")
    data = load_dataset("fer2013", tmp_path)
    assert data.labels.tolist() == [5] and data.usage.tolist() == ["Training"]


def test_csv_resized_with_size(tmp_path):
    data = load_dataset("fer2013", fer_csv(tmp_path), size=64)
    assert data.images.shape == (3, 64, 64) and data.images.dtype == np.uint8


def test_ckextended_csv_maps_its_own_order(tmp_path):
    rows = [f"{code},{pixels(face(code))},Training" for code in range(8)]
    data = load_dataset("ckplus", write_csv(tmp_path / "ckextended.csv", rows))
    names = [ALL_LABELS[i] for i in data.labels]
    assert names == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt"]


BAD_ROWS = {
    "short": ("0,1 2 3,Training", r"expected 2304 pixel values, found 3"),
    "long": (f"0,{pixels(face(4))} 7,Training", r"found 2305"),
    "non-numeric": (f"0,{pixels(face(4))[:-3]} x9,Training", r"non-numeric pixel value 'x9'"),
    "out of range": (f"0,{pixels(face(4))[:-3]} 300,Training", r"300 out of range"),
    "unknown label": (f"9,{pixels(face(4))},Training", r"unknown emotion code 9"),
    "label not a number": (f"happy,{pixels(face(4))},Training", r"not an integer code"),
    "empty pixels": ("0,,Training", r"found 0"),
    "fields": ("0,1 2", r"2 fields, expected 3"),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_bad_csv_row_is_skipped_with_line_or_raised_when_strict(tmp_path, caplog, case):
    row, reason = BAD_ROWS[case]
    path = fer_csv(tmp_path, row)
    with pytest.raises(DatasetError, match=rf"fer2013\.csv line 5: .*{reason}"):
        load_dataset("fer2013", path, strict=True)
    with caplog.at_level(logging.WARNING, logger="ferviz.data.datasets"):
        data = load_dataset("fer2013", path)
    assert len(data) == 3 and len(data.skipped) == 1 and data.skipped[0].startswith("fer2013.csv line 5: ")
    assert "skipped 1 item(s), kept 3" in caplog.text


def test_csv_missing_column_names_file_line_and_columns(tmp_path):
    path = write_csv(tmp_path / "fer2013.csv", ["0,Training"], "emotion,Usage")
    with pytest.raises(DatasetError, match=r"fer2013\.csv line 1: missing column\(s\) pixels"):
        load_dataset("fer2013", path)


@pytest.mark.parametrize("content, message", [
    ("", r"fer2013\.csv: empty file"),
    ("emotion,pixels,Usage\n", r"fer2013\.csv: no usable items"),
    ("emotion,pixels,Usage\n9,1 2,Training\n", r"no usable items .* fer2013\.csv line 2"),
])
def test_empty_or_unusable_csv_is_always_an_error(tmp_path, content, message):
    (tmp_path / "fer2013.csv").write_text(content)
    with pytest.raises(DatasetError, match=message):
        load_dataset("fer2013", tmp_path / "fer2013.csv")


def test_binary_file_as_csv_is_an_error(tmp_path):
    (tmp_path / "fer2013.csv").write_bytes(b"\xff\xfe\x00\x81" * 100)
    with pytest.raises(DatasetError, match=r"fer2013\.csv"):
        load_dataset("fer2013", tmp_path / "fer2013.csv")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=1, max_size=40), st.sampled_from([" ", "  ", "\t"]))
def test_parse_pixels_round_trips(values, separator):
    text = separator.join(map(str, values)) + separator
    assert parse_pixels(text, len(values)).tolist() == values


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_parse_pixels_fails_only_with_value_error(text):
    try:
        values = parse_pixels(text, 3)
    except ValueError:
        return
    assert values.shape == (3,) and values.dtype == np.uint8


# ------------------------------------------------------------------------------------ image folders

def test_fer_folder_usage_from_prefix_class_from_folder(fer_folder):
    data = load_dataset("fer2013", fer_folder)
    by_source = dict(zip(data.source, zip(data.usage, data.labels, strict=True), strict=True))
    assert by_source["test/surprise/Training_14.png"] == ("Training", 5)
    assert by_source["test/sad/PrivateTest_13.png"] == ("PrivateTest", 4)
    assert by_source["train/happy/Training_11.jpg"] == ("Training", 3)
    first = data.source.tolist().index("train/angry/Training_10.png")
    np.testing.assert_array_equal(data.images[first], face(10))


def test_fer_folder_without_prefix_has_empty_usage_and_warns(tmp_path, caplog):
    save(tmp_path / "train" / "fear" / "img1.png", face(1))
    with caplog.at_level(logging.WARNING, logger="ferviz.data.datasets"):
        data = load_dataset("fer2013", tmp_path)
    assert data.usage.tolist() == [""] and data.labels.tolist() == [2] and "1 of 1 files" in caplog.text


def test_ck_folder_labels_subjects_and_parent_path(ck_folder):
    data = load_dataset("ckplus", ck_folder.parent)
    assert data.source.tolist() == ["anger/S010_004_00000017.png", "contempt/S011_002_00000020.png",
                                    "sadness/S010_006_00000015.png"]
    assert data.labels.tolist() == [0, 7, 4]
    assert data.subject.tolist() == ["S010", "S011", "S010"]
    assert data.class_counts() == {"angry": 1, "disgust": 0, "fear": 0, "happy": 0, "sad": 1, "surprise": 0,
                                   "neutral": 0, "contempt": 1}


def test_jaffe_codes_subjects_and_palette_tiff(jaffe_folder):
    palette = np.arange(256, dtype=np.uint8)[::-1].repeat(3).tolist()  # inverted grey palette
    image = Image.fromarray(face(33, 256), "P")
    image.putpalette(palette)
    image.save(jaffe_folder / "YM.HA3.200.tiff")
    data = load_dataset("jaffe", jaffe_folder)
    assert data.subject.tolist() == ["KA", "KL", "MK", "YM"]
    assert data.labels.tolist() == [0, 5, 6, 3]
    np.testing.assert_array_equal(data.images[3], 255 - face(33, 256))  # palette applied, not indices


def test_jaffe_badly_named_file_is_skipped(jaffe_folder):
    save(jaffe_folder / "KA.XX1.41.tiff", face(34, 256))
    data = load_dataset("jaffe", jaffe_folder)
    assert len(data) == 3 and "KA.XX1.41.tiff" in data.skipped[0]
    with pytest.raises(DatasetError, match=r"KA\.XX1\.41\.tiff: file name .* AN, DI"):
        load_dataset("jaffe", jaffe_folder, strict=True)


def test_rafdb_official_layout_codes_usage_and_luma(tmp_path):
    root = raf_official(tmp_path)
    data = load_dataset("rafdb", root.parent)
    assert data.labels.tolist() == [5, 0] and data.usage.tolist() == ["train", "test"]
    assert data.images.shape == (2, 100, 100)
    with Image.open(root / "Image" / "aligned" / "train_00001_aligned.jpg") as image:
        rgb = np.asarray(image.convert("RGB"), np.int64)
    luma = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16
    np.testing.assert_array_equal(data.images[0], luma)


def test_rafdb_official_bad_lines_are_skipped_with_line_numbers(tmp_path):
    root = raf_official(tmp_path, "train_00009.jpg 2", "test_0003.jpg 8", "garbage")
    data = load_dataset("rafdb", root)
    assert len(data) == 2 and [line.split(":")[0] for line in data.skipped] == [
        "list_patition_label.txt line 3", "list_patition_label.txt line 4", "list_patition_label.txt line 5"]
    message = r"list_patition_label\.txt line 3: image .*train_00009_aligned\.jpg not found"
    with pytest.raises(DatasetError, match=message):
        load_dataset("rafdb", root, strict=True)


def test_rafdb_kaggle_layout(raf_kaggle):
    data = load_dataset("rafdb", raf_kaggle.parent)
    found = dict(zip(data.source, zip(data.usage, data.labels, strict=True), strict=True))
    assert found == {"train/1/train_00001_aligned.jpg": ("train", 5),
                     "train/3/test_0002_aligned.jpg": ("test", 1),
                     "test/7/test_0001_aligned.jpg": ("test", 6)}


def test_corrupt_image_is_skipped_with_count_or_raised_when_strict(ck_folder, caplog):
    good = (ck_folder / "anger" / "S010_004_00000017.png").read_bytes()
    (ck_folder / "anger" / "S010_004_00000018.png").write_bytes(good[: len(good) // 2])  # truncated
    (ck_folder / "fear" / "S099_001_00000001.png").parent.mkdir()
    (ck_folder / "fear" / "S099_001_00000001.png").write_bytes(b"not an image at all")
    with caplog.at_level(logging.WARNING, logger="ferviz.data.datasets"):
        data = load_dataset("ckplus", ck_folder)
    assert len(data) == 3 and "skipped 2 item(s), kept 3" in caplog.text
    assert data.skipped[0].startswith("anger/S010_004_00000018.png: cannot decode image")
    with pytest.raises(DatasetError, match=r"anger/S010_004_00000018\.png: cannot decode"):
        load_dataset("ckplus", ck_folder, strict=True)


def test_unknown_class_folder_is_skipped_or_raised(ck_folder):
    save(ck_folder / "bored" / "S001_001_00000001.png", face(1))
    assert "bored/: folder name is not a class" in load_dataset("ckplus", ck_folder).skipped[0]
    with pytest.raises(DatasetError, match=r"bored/: folder name is not a class"):
        load_dataset("ckplus", ck_folder, strict=True)


def test_mixed_sizes_are_resized_to_the_median_side_with_a_note_or_to_size(ck_folder, caplog):
    save(ck_folder / "sadness" / "S012_001_00000002.png", face(5, 64))
    save(ck_folder / "sadness" / "S012_001_00000003.png", face(6, 52))
    data = load_dataset("ckplus", ck_folder)  # sides 48, 48, 48, 64, 52 -> median 48
    assert data.images.shape == (5, 48, 48) and data.images.dtype == np.uint8
    assert len(data.notes) == 1 and "from 48x48 to 64x64" in data.notes[0]
    assert "resized to 48x48" in data.notes[0]
    assert "--size N" in data.notes[0] and data.notes[0] in caplog.text
    by_source = dict(zip(data.source, data.images, strict=True))
    assert np.array_equal(by_source["sadness/S012_001_00000002.png"], resize_square(face(5, 64), 48))
    assert np.array_equal(by_source["anger/S010_004_00000017.png"], face(20))  # the right size: untouched
    assert data.subset([0, 1]).notes == data.notes  # the note travels with the items
    data = load_dataset("ckplus", ck_folder, size=32)
    assert data.images.shape == (5, 32, 32) and not data.notes


def test_mixed_side_is_capped_for_large_photos():
    stack = rd.ImageStack(None)
    for side in (300, 400, 500):
        stack.add(face(side, side), f"{side}.png")
    assert stack.array().shape == (3, rd.MIXED_SIDE_MAX, rd.MIXED_SIDE_MAX)
    assert f"at most {rd.MIXED_SIDE_MAX}" in stack.note
    same = rd.ImageStack(None)
    same.add(np.zeros((30, 40), np.uint8), "a")
    same.add(np.ones((30, 40), np.uint8), "b")
    assert same.array().shape == (2, 30, 40) and same.note == ""  # one shape, even non-square: kept


@pytest.mark.parametrize("kind", ["fer2013", "ckplus", "jaffe", "rafdb", "npz"])
def test_empty_folder_is_an_error(tmp_path, kind):
    with pytest.raises(DatasetError, match=re.escape(str(tmp_path))):
        load_dataset(kind, tmp_path)


def test_class_folders_without_images_are_an_error(tmp_path):
    (tmp_path / "CK+48" / "anger").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"no usable items"):
        load_dataset("ckplus", tmp_path)


# -------------------------------------------------------------------------------------- NumPy archives

def test_npz_with_optional_columns_and_rgb(tmp_path):
    rgb = np.random.default_rng(60).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    path = write_npz(tmp_path / "ckplus_small.npz", images=rgb, labels=np.array([7, 4]),
                     subject=np.array(["S010", "S011"]), source_name=np.array(["a.png", "b.png"]))
    data = load_dataset("npz", path)
    expected = np.asarray(Image.fromarray(rgb[1]).convert("L"))
    np.testing.assert_array_equal(data.images[1], expected)
    assert data.name == "ckplus" and data.subject.tolist() == ["S010", "S011"]
    assert data.usage.tolist() == ["", ""]
    assert data.source.tolist() == ["a.png", "b.png"] and data.labels.dtype == np.int64


def test_npz_defaults_and_resize(tmp_path):
    path = write_npz(tmp_path / "mine.npz", usage=np.array(["Training", "PublicTest", "x"]))
    data = load_dataset("npz", path, size=24)
    assert data.name == "npz" and data.images.shape == (3, 24, 24)
    assert data.source.tolist() == ["mine.npz[0]", "mine.npz[1]", "mine.npz[2]"]


@pytest.mark.parametrize("arrays, message", [
    ({"labels": np.array([0, 1])}, r"'labels' has shape \(2,\) .* expected \(3,\)"),
    ({"usage": np.array(["a"])}, r"'usage' has shape \(1,\)"),
    ({"images": np.zeros((3, 4), np.uint8)}, r"'images' has shape \(3, 4\)"),
    ({"images": np.zeros((0, 4, 4), np.uint8), "labels": np.zeros(0, np.int64)}, r"with N > 0"),
    ({"images": np.full((3, 4, 4), 0.5)}, r"dtype float64 .* expected uint8"),
    ({"labels": np.array([0.5, 1, 2])}, r"non-integer"),
    ({"labels": np.array([9, 9, 9])}, r"no usable items .* item 0 \(0-based\): unknown label 9"),
])
def test_bad_npz_is_an_error_naming_the_file(tmp_path, arrays, message):
    path = write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=rf"bad\.npz.*{message}"):
        load_dataset("npz", path)


def test_npz_missing_array_or_pickle_or_not_zip(tmp_path):
    np.savez(tmp_path / "a.npz", images=np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(DatasetError, match=r"a\.npz: missing array\(s\) labels"):
        load_dataset("npz", tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", images=np.zeros((1, 4, 4), np.uint8), labels=np.array([{}], dtype=object))
    with pytest.raises(DatasetError, match=r"b\.npz: cannot read"):
        load_dataset("npz", tmp_path / "b.npz")
    (tmp_path / "c.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DatasetError, match=r"c\.npz: not an \.npz archive .*or one cut short"):
        load_dataset("npz", tmp_path / "c.npz")
    (tmp_path / "e.npz").write_bytes(b"garbage")  # numpy would call this pickled data
    with pytest.raises(DatasetError, match=r"e\.npz: not an \.npz archive \(np\.savez writes a zip file"):
        load_dataset("npz", tmp_path / "e.npz")
    with open(tmp_path / "d.npz", "wb") as handle:
        np.save(handle, np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(DatasetError, match=r"d\.npz: not an \.npz archive \(a single array\?\)"):
        load_dataset("npz", tmp_path / "d.npz")
    with pytest.raises(DatasetError, match=r"exactly one \(found a\.npz, b\.npz"):
        load_dataset("npz", tmp_path)


def test_npz_unknown_label_is_skipped(tmp_path):
    data = load_dataset("npz", write_npz(tmp_path / "x.npz", labels=np.array([0, 8, 6])))
    assert data.labels.tolist() == [0, 6] and data.skipped == [
        "x.npz item 1 (0-based): unknown label 8; expected 0-7 (angry, disgust, fear, happy, sad, surprise, "
        "neutral, contempt)"]
    with pytest.raises(DatasetError, match=r"x\.npz item 1"):
        load_dataset("npz", tmp_path / "x.npz", strict=True)


# -------------------------------------------------------------------------- FaceDataset and entry points

@pytest.fixture
def small() -> FaceDataset:
    return FaceDataset(images=np.zeros((4, 2, 2), np.uint8), labels=np.array([0, 3, 3, 7]),
                       usage=np.array(["Training", "Training", "PublicTest", ""]),
                       subject=np.array(["a", "b", "c", "d"]), source=np.array(["s0", "s1", "s2", "s3"]),
                       name="t")


def test_split_subset_and_class_counts(small):
    assert small.split("PublicTest").source.tolist() == ["s2"]
    assert len(small.split("Training", "PrivateTest")) == 2
    with pytest.raises(DatasetError, match=r"no items with usage 'PrivateTest'; available: \(none\) \(1\), "
                                           r"PublicTest \(1\), Training \(2\)"):
        small.split("PrivateTest")
    assert small.subset([3, 0]).labels.tolist() == [7, 0]
    assert small.subset(small.labels == 3).source.tolist() == ["s1", "s2"]
    assert len(small.subset([])) == 0
    assert small.class_counts() == {"angry": 1, "disgust": 0, "fear": 0, "happy": 2, "sad": 0, "surprise": 0,
                                    "neutral": 0, "contempt": 1}
    assert "contempt" not in small.subset([0, 1]).class_counts()


@pytest.mark.parametrize("images, labels, message", [
    (np.zeros((3, 2, 2), np.uint8), np.zeros(2, np.int64), "2 labels for 3 images"),
    (np.zeros((3, 2, 2), np.float32), np.zeros(3, np.int64), r"\(N, H, W\) uint8"),
    (np.zeros((3, 2, 2), np.uint8), np.array([0, 8, 1]), "indices 0-7"),
])
def test_dataset_rejects_inconsistent_columns(images, labels, message):
    with pytest.raises(DatasetError, match=message):
        FaceDataset(images, labels, np.full(3, ""), np.full(3, ""), np.full(3, ""), "t")


def test_detect_kind_for_every_layout(tmp_path, fer_folder, ck_folder, jaffe_folder, raf_kaggle):
    assert detect_kind(fer_csv(tmp_path / "f")) == "fer2013"
    assert detect_kind(tmp_path / "f") == "fer2013"
    assert detect_kind(write_csv(tmp_path / "c" / "ckextended.csv", [])) == "ckplus"
    assert detect_kind(fer_folder) == detect_kind(fer_folder / "test") == "fer2013"
    assert detect_kind(ck_folder) == detect_kind(ck_folder.parent) == "ckplus"
    assert detect_kind(jaffe_folder) == "jaffe"
    assert detect_kind(raf_official(tmp_path / "r")) == detect_kind(tmp_path / "r" / "RAF-DB") == "rafdb"
    assert detect_kind(raf_kaggle) == detect_kind(raf_kaggle.parent) == "rafdb"
    assert detect_kind(write_npz(tmp_path / "n.npz")) == "npz"
    assert load_dataset("auto", ck_folder).name == "ckplus"


def test_detect_kind_ignores_unrelated_csv_names(tmp_path):
    for name in ("reference.csv", "stock.csv"):
        write_csv(tmp_path / "other" / name, [])
    with pytest.raises(DatasetError, match="not a known dataset layout"):
        detect_kind(tmp_path / "other")
    assert detect_kind(write_csv(tmp_path / "CK+.csv", [])) == "ckplus"
    assert detect_kind(write_csv(tmp_path / "icml_face_data.csv", [])) == "fer2013"


def test_detect_kind_unknown_or_ambiguous(tmp_path, fer_folder):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"empty: not a known dataset layout"):
        detect_kind(tmp_path / "empty")
    write_csv(tmp_path / "ckextended.csv", [])
    with pytest.raises(DatasetError, match=r"several datasets \(fer2013, ckplus\)"):
        detect_kind(tmp_path)


def test_load_dataset_bad_kind_path_or_size(tmp_path):
    with pytest.raises(DatasetError, match=r"unknown dataset kind 'mnist'; expected one of fer2013, ckplus"):
        load_dataset("mnist", tmp_path)
    with pytest.raises(DatasetError, match=r"nowhere: no such file or folder"):
        load_dataset("fer2013", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="size must be"):
        load_dataset("fer2013", fer_csv(tmp_path), size=0)


# ------------------------------------------------------------------ the reviewer's own class folders

def colour(seed: int, h: int, w: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def own_folder(tmp_path: Path) -> Path:
    """Class folders as people make them: any case, release spellings, a number, split folders, mixed
    sizes, colour JPEG beside grey PNG, and one folder that is not a class."""
    root = tmp_path / "my_faces"
    save(root / "train" / "happy" / "a.png", face(60, 48))
    save(root / "train" / "Sad" / "b.jpg", colour(61, 100, 100))
    save(root / "train" / "ANGER" / "c.png", face(62, 64))
    save(root / "test" / "3" / "d.png", face(63, 48))  # FER2013 code 3: happy
    save(root / "test" / "Surprised" / "e.bmp", face(64, 48))
    save(root / "test" / "misc" / "f.png", face(65, 48))
    return root


def test_folder_reads_any_case_spelling_or_code_with_split_usage(own_folder):
    ds = load_dataset("folder", own_folder)
    by_source = dict(zip(ds.source, zip(ds.labels, ds.usage, strict=True), strict=True))
    assert by_source == {"train/happy/a.png": (3, "train"), "train/Sad/b.jpg": (4, "train"),
                         "train/ANGER/c.png": (0, "train"), "test/3/d.png": (3, "test"),
                         "test/Surprised/e.bmp": (5, "test")}
    assert ds.name == "folder" and not ds.whole_frames
    assert ds.images.shape == (5, 48, 48)  # sides 48, 100, 64, 48, 48: median 48
    assert any("resized to 48x48" in note for note in ds.notes)
    assert "numbered class folders were read in FER2013 order (3 happy)" in ds.notes
    assert len(ds.skipped) == 1 and ds.skipped[0].startswith("test/misc/: folder name is not a class")
    assert "FER2013 code 0-7" in ds.skipped[0] and "any case" in ds.skipped[0]


def test_folder_without_split_folders_and_detection(tmp_path, own_folder):
    assert detect_kind(own_folder) == detect_kind(own_folder / "test") == "folder"
    assert detect_kind(own_folder.parent) == "folder"  # the folder above the dataset
    ds = load_dataset("auto", own_folder / "train")
    assert ds.name == "folder" and set(ds.usage) == {""} and len(ds) == 3


def test_numbered_folders_1_to_7_hint_at_rafdb_but_stay_fer_order(tmp_path, raf_kaggle):
    root = tmp_path / "numbers"
    for code in (1, 4, 7):
        save(root / str(code) / f"img{code}.png", face(code))
    assert detect_kind(root) == "folder"  # not RAF-DB: its files are named train_00001_aligned.jpg
    assert detect_kind(raf_kaggle) == "rafdb"
    ds = load_dataset("auto", root)
    assert sorted(ds.labels) == [1, 4, 7]  # disgust, sad, contempt in FER2013 order
    assert any("--dataset rafdb" in note for note in ds.notes)
    assert sorted(load_dataset("rafdb", root).labels) == sorted(RAFDB_CODES[c] for c in (1, 4, 7))


def test_folder_without_class_folders_is_an_error_naming_the_layout(tmp_path):
    save(tmp_path / "photos" / "holiday" / "x.png", face(1))
    with pytest.raises(DatasetError, match=r"photos: no class folders with images .*happy/, Sad/"):
        load_dataset("folder", tmp_path / "photos")
    with pytest.raises(DatasetError, match="not a known dataset layout .*class folders such as happy/"):
        detect_kind(tmp_path / "photos")


def test_jaffe_copy_sorted_into_class_folders_with_mixed_sizes(tmp_path):
    """The JAFFE copy that circulates as face crops of 147-150 px in class folders."""
    root = tmp_path / "jaffe_crops"
    save(root / "anger" / "KA.AN1.39.tiff", face(70, 147))
    save(root / "happy" / "KL.HA2.41.tiff", face(71, 150))
    save(root / "surprise" / "MK.SU1.99.tiff", face(72, 149))
    assert detect_kind(root) == "jaffe"
    ds = load_dataset("auto", root)
    assert len(ds) == 3 and sorted(ds.labels) == [0, 3, 5]  # every class folder, labels from the codes
    assert sorted(ds.subject) == ["KA", "KL", "MK"] and ds.images.shape == (3, 149, 149)
    assert any("from 147x147 to 150x150" in note for note in ds.notes)
    assert load_dataset("auto", root, size=48).images.shape == (3, 48, 48)


def test_with_whole_frames_switches_face_finding_and_keeps_the_rest(own_folder):
    ds = load_dataset("folder", own_folder)
    photos = ds.with_whole_frames(True)
    assert photos.whole_frames and not ds.whole_frames
    assert photos.notes == ds.notes and photos.skipped == ds.skipped and photos.images is ds.images
    assert not photos.with_whole_frames(False).whole_frames


def test_every_option_a_dataset_message_names_exists():
    """Messages tell users to pass --size, --dataset ...: each must be an option of the data commands."""
    from ferviz.cli import build_parser

    sources = "".join(Path(m.__file__).read_text() for m in (rd, __import__("ferviz.data.datasets").data.datasets))
    named = set(re.findall(r"(--[a-z][a-z-]+)", sources))
    assert {"--size", "--dataset", "--faces"} <= named
    parser = build_parser()
    for command in ("evaluate", "train", "cv"):
        sub = parser._subparsers._group_actions[0].choices[command]
        options = {o for action in sub._actions for o in action.option_strings}
        assert named <= options, (command, named - options)


# ------------------------------------------------------------------------- shared archives (optional)

@pytest.mark.skipif(not (SHARED / "ckplus" / "ckplus.npz").exists(), reason="shared/data not available")
def test_shared_ckplus_archive_counts():
    data = load_dataset("auto", SHARED / "ckplus")
    assert len(data) == 981 and data.name == "ckplus" and len(set(data.subject)) == 118
    assert data.class_counts() == {"angry": 135, "disgust": 177, "fear": 75, "happy": 207, "sad": 84,
                                   "surprise": 249, "neutral": 0, "contempt": 54}


def test_stratified_sample_keeps_class_shares_and_ignores_the_training_seed():
    from ferviz.data.datasets import FaceDataset

    labels = np.array([0] * 60 + [3] * 30 + [6] * 10)
    n = len(labels)
    ds = FaceDataset(np.arange(n, dtype=np.uint8).repeat(4).reshape(n, 2, 2), labels,
                     np.array(["Training"] * n), np.array([""] * n), np.array([""] * n), "toy")
    part = ds.stratified_sample(11)
    assert len(part) == 11
    # shares 6.6, 3.3, 1.1 -> floors 6, 3, 1 and the one left goes to the largest remainder (class 0)
    assert np.bincount(part.labels, minlength=7)[[0, 3, 6]].tolist() == [7, 3, 1]
    again = ds.stratified_sample(11)
    assert np.array_equal(part.images, again.images)  # same faces every call: seeds share the data
    assert not np.array_equal(part.images, ds.stratified_sample(11, seed=1).images)
    assert len(ds.stratified_sample(500)) == n
    with pytest.raises(ValueError):
        ds.stratified_sample(0)

"""Readers for the public facial-expression datasets and NumPy archives, all giving one :class:`FaceDataset`.

Formats (``DATASET_READERS`` keys, shared by the CLI, the UI and the tests):

- ``fer2013``: ``fer2013.csv`` (columns emotion, pixels, Usage; 48x48 = 2304 integers) or the Kaggle
  image release ``train|test/<class>/<Usage>_<id>.jpg`` (Usage from the file-name prefix, never the folder).
- ``ckplus``: ``ckextended.csv`` (its own order 0 anger ... 6 neutral, 7 contempt) or
  ``CK+48/<class>/S###_###_########.png`` (subject ``S###`` from the file name).
- ``jaffe``: a folder of ``KA.AN1.39.tiff`` (subject KA, code AN), 256x256 grayscale.
- ``rafdb``: official ``EmoLabel/list_patition_label.txt`` + ``Image/aligned/*_aligned.jpg``, or the
  Kaggle ``DATASET/{train,test}/<1-7>/*.jpg``; codes 1 surprise, 2 fear, 3 disgust, 4 happiness,
  5 sadness, 6 anger, 7 neutral; usage ``train``/``test`` from the name prefix.
- ``npz``: NumPy archives with ``images`` (N, H, W) uint8 and ``labels`` in the order of
  :data:`ferviz.data.labels.ALL_LABELS` (optional ``usage``, ``subject``, ``source_name``).
- ``folder``: any other labelled folder of face images, ``<class>/*.jpg`` or ``<split>/<class>/*.jpg``;
  class folders named after an expression in any case or release spelling (``happy/``, ``Sad/``,
  ``anger/``) or numbered in FER2013 order (``0/`` angry ... ``6/`` neutral, ``7/`` contempt). Auto-detection
  picks it only when no release layout above matches.

Images of mixed sizes are resized to one size (see :class:`ferviz.data._readers.ImageStack`) and
``FaceDataset.notes`` says so; ``size`` chooses the size instead.

Every label is mapped explicitly into :data:`ferviz.data.labels.ALL_LABELS` (0-6 FER2013 order, 7 contempt).
Bad input raises :class:`~ferviz.errors.DatasetError` naming the file (and 1-based line) and what was
expected; a single bad item (corrupt image, malformed row, unknown label) is skipped, recorded in
``FaceDataset.skipped`` and counted in one warning, unless ``strict=True``. An input with nothing
usable is always an error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ferviz.data import _readers as rd
from ferviz.data.labels import ALL_LABELS, CONTEMPT, EMOTIONS, index_of
from ferviz.data.preprocess import resize_square
from ferviz.errors import DatasetError, ImageError

logger = logging.getLogger(__name__)

# Source codes -> our label index, spelled out per release (hand-checked against each release's docs).
FER2013_CODES = {code: index_of(name) for code, name in enumerate(EMOTIONS)}
CKPLUS_CSV_CODES = {code: index_of(name) for code, name in enumerate(
    ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral", "contempt"))}
RAFDB_CODES = {code: index_of(name) for code, name in enumerate(
    ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"), start=1)}
JAFFE_CODES = {code: index_of(name) for code, name in (
    ("AN", "angry"), ("DI", "disgust"), ("FE", "fear"), ("HA", "happy"), ("NE", "neutral"), ("SA", "sad"),
    ("SU", "surprise"))}

_FER_NAME = re.compile(r"^(Training|PublicTest|PrivateTest)_")
_CK_NAME = re.compile(r"^(S\d+)_\d+_\d+")
_JAFFE_NAME = re.compile(r"^([A-Za-z]{2})\.([A-Za-z]{2})\d*\.\d+\.\w+$")
_RAF_NAME = re.compile(r"^(train|test)_\d+")
_FER_CSV = re.compile(r"(^|[^a-z])fer|icml_face_data")  # fer2013.csv, my_fer.csv; not reference.csv
_CK_CSV = re.compile(r"(^|[^a-z])ck")  # ckextended.csv, CK+.csv; not stock.csv
_RAF_LISTS = ("list_patition_label.txt", "list_partition_label.txt")
_CSV_SIDE = 48
_CLASS_NAMES = "a class name (" + ", ".join(ALL_LABELS) + " or a release spelling such as anger, sadness)"
_FOLDER_CLASSES = (f"{_CLASS_NAMES[:-1]}, any case) or a FER2013 code 0-{len(ALL_LABELS) - 1} "
                   f"({', '.join(f'{i} {name}' for i, name in enumerate(ALL_LABELS))})")


@dataclass(eq=False)
class FaceDataset:
    """Labelled grayscale face images from one source, with per-item split, subject and origin.

    Attributes
    ----------
    images : (N, H, W) ndarray of uint8
        Grayscale (RGB sources converted with ITU-R 601 luma).
    labels : (N,) ndarray of int64
        Index into :data:`ferviz.data.labels.ALL_LABELS` (0-6 FER2013 order, 7 contempt).
    usage : (N,) ndarray of str
        Split name as in the source (``Training``, ``PublicTest``, ``PrivateTest``, ``train``, ``test``)
        or ``''``.
    subject : (N,) ndarray of str
        Subject id (``S010``, ``KA``) or ``''``.
    source : (N,) ndarray of str
        Where each item came from (``fer2013.csv:line 17`` or a path relative to the dataset root).
    name : str
        Dataset kind, e.g. ``'fer2013'``.
    skipped : list of str
        One human-readable line per item skipped while reading.
    whole_frames : bool
        True when the images are whole camera frames rather than face crops (JAFFE): faces must be
        detected before classification. Declared by the reader (see :func:`_register`); a user who
        knows better changes it with :meth:`with_whole_frames` (``--faces``).
    notes : list of str
        What the reader did that a user should know, one sentence each (mixed sizes resized, how
        numbered class folders were read).
    """

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    subject: np.ndarray
    source: np.ndarray
    name: str
    skipped: list[str] = field(default_factory=list)
    whole_frames: bool = False
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.dtype != np.uint8:
            raise DatasetError(f"{self.name}: images must be (N, H, W) uint8, got {self.images.shape} "
                               f"{self.images.dtype}")
        if len(self.labels) and not 0 <= self.labels.min() <= self.labels.max() < len(ALL_LABELS):
            raise DatasetError(f"{self.name}: labels must be indices 0-{len(ALL_LABELS) - 1} into ALL_LABELS")
        for column in ("labels", "usage", "subject", "source"):
            count = len(getattr(self, column))
            if count != len(self.images):
                raise DatasetError(f"{self.name}: {count} {column} for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.images.shape[1:]))
        return (f"FaceDataset(name={self.name!r}, n={len(self)}, image={shape}, "
                f"usages={self._usage_summary()}, skipped={len(self.skipped)})")

    def subset(self, mask_or_indices: np.ndarray | Iterable) -> FaceDataset:
        """A new dataset with the rows selected by a boolean mask of length N or by integer indices."""
        index = np.atleast_1d(np.asarray(mask_or_indices))
        if index.size == 0:
            index = index.astype(np.int64)
        return FaceDataset(self.images[index], self.labels[index], self.usage[index], self.subject[index],
                           self.source[index], self.name, list(self.skipped), self.whole_frames,
                           list(self.notes))

    def with_whole_frames(self, whole_frames: bool) -> FaceDataset:
        """The same items, declared whole photos (find the face first) or face crops (use as they are)."""
        return replace(self, whole_frames=bool(whole_frames), skipped=list(self.skipped),
                       notes=list(self.notes))

    def stratified_sample(self, n: int, seed: int = 0) -> FaceDataset:
        """``n`` rows drawn without replacement, each class in proportion to its share (largest remainders).

        The draw depends only on ``n``, ``seed`` and the labels, so runs with different training seeds
        that pass the same ``n`` train on the same faces. ``n >= len(self)`` returns every row.
        """
        if n <= 0:
            raise ValueError(f"a sample needs at least one item, got n={n}")
        if n >= len(self):
            return self.subset(np.arange(len(self)))
        classes, counts = np.unique(self.labels, return_counts=True)
        exact = counts * n / len(self)
        quota = np.floor(exact).astype(int)
        for i in np.argsort(-(exact - quota), kind="stable")[: n - quota.sum()]:
            quota[i] += 1
        rng = np.random.default_rng(seed)
        picked = [rng.permutation(np.flatnonzero(self.labels == c))[:q]
                  for c, q in zip(classes, quota, strict=True)]
        return self.subset(np.sort(np.concatenate(picked)))

    def split(self, *usages: str) -> FaceDataset:
        """Rows whose usage is one of ``usages``; :class:`DatasetError` naming the usages present if none."""
        if not usages:
            raise ValueError("split() needs at least one usage name, e.g. split('Training')")
        mask = np.isin(self.usage, usages)
        if not mask.any():
            raise DatasetError(f"{self.name}: no items with usage {', '.join(map(repr, usages))}; "
                               f"available: {self._usage_summary()}")
        return self.subset(mask)

    def class_counts(self) -> dict[str, int]:
        """Items per class name, in label order: the 7 emotions always, ``contempt`` only when present."""
        counts = np.bincount(self.labels, minlength=len(ALL_LABELS))
        names = EMOTIONS + ((CONTEMPT,) if counts[ALL_LABELS.index(CONTEMPT)] else ())
        return {name: int(counts[ALL_LABELS.index(name)]) for name in names}

    def _usage_summary(self) -> str:
        values, counts = np.unique(self.usage, return_counts=True)
        return ", ".join(f"{v or '(none)'!s} ({c})" for v, c in zip(values, counts, strict=True)) or "(empty)"


@dataclass(frozen=True)
class _Item:
    """One image file to read, with what its path says about it."""

    path: Path
    label: int
    usage: str = ""
    subject: str = ""


DATASET_READERS: dict[str, Callable[..., FaceDataset]] = {}
#: Kinds whose images are whole frames (faces must be detected first); an .npz archive named after one
#: of them (``jaffe.npz``) holds the same frames.
WHOLE_FRAME_KINDS: set[str] = set()


def _register(kind: str, *, whole_frames: bool = False) -> Callable:
    """Register a reader under ``kind``; ``whole_frames`` declares that its images are not face crops."""
    def decorate(reader: Callable[..., FaceDataset]) -> Callable[..., FaceDataset]:
        if kind in DATASET_READERS:
            raise ValueError(f"dataset reader {kind!r} is registered twice")
        DATASET_READERS[kind] = reader
        if whole_frames:
            WHOLE_FRAME_KINDS.add(kind)
        return reader
    return decorate


# ---------------------------------------------------------------------------------------------- readers

@_register("fer2013")
def read_fer2013(path: str | Path, *, size: int | None = None, strict: bool = False) -> FaceDataset:
    """FER2013 from ``fer2013.csv`` (preferred when present) or the Kaggle ``train|test/<class>/`` images.

    Folder usage comes from the file-name prefix (``Training_``, ``PublicTest_``, ``PrivateTest_``),
    never from the folder; ``''`` without one.

    Parameters
    ----------
    path : str or Path
        The CSV, a folder holding it (or a folder above), the release root holding ``train/`` and
        ``test/``, or one split folder.
    size, strict
        As in :func:`load_dataset`.
    """
    path = _existing(path)
    csv_file = rd.find_csv(path, _FER_CSV)
    if csv_file is not None:
        return _read_label_csv(csv_file, FER2013_CODES, "fer2013", size, strict)
    base, roots = rd.search(path, _fer_roots)
    if not roots:
        raise DatasetError(f"{path}: no fer2013.csv and no train|test/<class>/<Usage>_<id>.jpg folders "
                           f"(class folders named {', '.join(EMOTIONS)})")
    skips = rd.SkipLog(str(path), strict)
    files = rd.class_files(base, roots, _name_label, _CLASS_NAMES, skips)
    items = [_Item(file, label, usage=_prefix(_FER_NAME, file.name)) for file, label in files]
    _warn_missing(items, "usage", "no Training_/PublicTest_/PrivateTest_ file-name prefix")
    return _read_items(items, base, "fer2013", size, skips)


@_register("ckplus")
def read_ckplus(path: str | Path, *, size: int | None = None, strict: bool = False) -> FaceDataset:
    """CK+ from ``ckextended.csv`` or the ``CK+48/<class>/S###_###_########.png`` folders.

    The CSV's own order (0 anger, 1 disgust, 2 fear, 3 happiness, 4 sadness, 5 surprise, 6 neutral,
    7 contempt) is mapped by name; contempt is label 7. Folder subject ids (``S010``) come from the
    file name, ``''`` when it does not follow the pattern.
    """
    path = _existing(path)
    csv_file = rd.find_csv(path, _CK_CSV)
    if csv_file is not None:
        return _read_label_csv(csv_file, CKPLUS_CSV_CODES, "ckplus", size, strict)
    base, roots = rd.search(path, _ck_roots)
    if not roots:
        raise DatasetError(f"{path}: no ckextended.csv and no CK+48/<class>/S###_###_########.png folders")
    skips = rd.SkipLog(str(path), strict)
    files = rd.class_files(base, roots, _name_label, _CLASS_NAMES, skips)
    items = [_Item(file, label, subject=_prefix(_CK_NAME, file.name)) for file, label in files]
    _warn_missing(items, "subject", "no S###_ subject prefix in the file name")
    return _read_items(items, base, "ckplus", size, skips)


@_register("jaffe", whole_frames=True)
def read_jaffe(path: str | Path, *, size: int | None = None, strict: bool = False) -> FaceDataset:
    """JAFFE from a folder of ``KA.AN1.39.tiff`` files (subject KA, expression code AN).

    The files may lie in the folder itself (the release) or in its sub-folders (copies sorted into
    class folders, often re-cropped to mixed sizes); the label always comes from the code in the file
    name. Codes: AN angry, DI disgust, FE fear, HA happy, NE neutral, SA sad, SU surprise. A file whose
    name does not follow the pattern, or has another code, is skipped.
    """
    path = _existing(path)
    base, files = rd.search(path, _jaffe_files)
    if not files:
        raise DatasetError(f"{path}: no JAFFE images named like KA.AN1.39.tiff (SUBJECT.CODEn.NUMBER.tiff)")
    skips = rd.SkipLog(str(base), strict)
    items = []
    for file in files:
        match = _JAFFE_NAME.match(file.name)
        code = match.group(2).upper() if match else ""
        if code not in JAFFE_CODES:
            skips.skip(f"{file.relative_to(base).as_posix()}: file name is not SUBJECT.CODEn.NUMBER.tiff "
                       "with a code among "
                       f"{', '.join(JAFFE_CODES)} (e.g. KA.AN1.39.tiff)")
            continue
        items.append(_Item(file, JAFFE_CODES[code], "", match.group(1).upper()))
    return _read_items(items, base, "jaffe", size, skips)


@_register("rafdb")
def read_rafdb(path: str | Path, *, size: int | None = None, strict: bool = False) -> FaceDataset:
    """RAF-DB basic: ``EmoLabel/list_patition_label.txt`` + ``Image/aligned/``, or Kaggle's ``DATASET/``.

    Label codes 1 surprise, 2 fear, 3 disgust, 4 happiness, 5 sadness, 6 anger, 7 neutral. Usage is
    ``train``/``test`` from the file-name prefix (Kaggle layout: the split folder when a name has none).
    Official layout without ``Image/aligned/`` falls back to ``Image/original/`` (mixed sizes, resized).
    """
    path = _existing(path)
    label_list = _find_raf_list(path)
    if label_list is not None:
        return _read_raf_official(label_list, size, strict)
    base, roots = rd.search(path, _raf_roots)
    if not roots:
        raise DatasetError(f"{path}: neither EmoLabel/list_patition_label.txt with Image/aligned/ nor "
                           "DATASET/{train,test}/<1-7>/*.jpg")
    skips = rd.SkipLog(str(path), strict)
    files = rd.class_files(base, roots, _raf_label, "a code 1-7", skips)
    items = [_Item(file, label, usage=_prefix(_RAF_NAME, file.name) or _raf_split(file.parent.parent.name))
             for file, label in files]
    return _read_items(items, base, "rafdb", size, skips)


@_register("npz")
def read_npz(path: str | Path, *, size: int | None = None, strict: bool = False) -> FaceDataset:
    """A NumPy archive with ``images`` (N, H, W) or (N, H, W, 3) uint8 and ``labels`` (N,) in our order.

    Optional (N,) string arrays ``usage``, ``subject``, ``source_name`` (``source`` defaults to
    ``file.npz[i]``). Loaded with ``allow_pickle=False``. ``name`` is the kind the file name starts
    with (``fer2013_trainval.npz`` -> ``'fer2013'``), else ``'npz'``.
    """
    rd.check_size(size)
    file = rd.find_npz(_existing(path))
    arrays = rd.load_npz(file, ("images", "labels", "usage", "subject", "source_name"))
    images = rd.npz_images(arrays["images"], file.name)
    n = len(images)
    labels = rd.npz_labels(arrays["labels"], n, file.name)
    texts = {key: rd.npz_strings(arrays[key], key, n, file.name) if key in arrays else np.full(n, "")
             for key in ("usage", "subject", "source_name")}
    if "source_name" not in arrays:
        texts["source_name"] = np.array([f"{file.name}[{i}]" for i in range(n)])
    skips = rd.SkipLog(file.name, strict)
    keep = (labels >= 0) & (labels < len(ALL_LABELS))
    for i in np.flatnonzero(~keep):
        skips.skip(f"{file.name} item {i} (0-based): unknown label {labels[i]}; "
                   f"expected 0-{len(ALL_LABELS) - 1} ({', '.join(ALL_LABELS)})")
    skips.fail_if_empty(int(keep.sum()), "images with labels 0-7")
    skips.report(int(keep.sum()))
    columns = [images, labels, texts["usage"], texts["subject"], texts["source_name"]]
    if not keep.all():
        columns = [column[keep] for column in columns]
    if size is not None:
        columns[0] = np.stack([resize_square(image, size) for image in columns[0]])
    name = _npz_name(file)
    return FaceDataset(*columns, name=name, skipped=skips.lines, whole_frames=name in WHOLE_FRAME_KINDS)


@_register("folder")
def read_folder(path: str | Path, *, size: int | None = None, strict: bool = False) -> FaceDataset:
    """Any labelled folder of face images: ``<class>/*.jpg`` or ``<split>/<class>/*.jpg``.

    Class folders are named after an expression in any case or release spelling (``happy/``,
    ``Happy/``, ``happiness/``, ``Sad/``) or numbered in FER2013 order (``0/`` angry, 1 disgust, 2 fear,
    3 happy, 4 sad, 5 surprise, 6 neutral, ``7/`` contempt); other folders are skipped (and listed).
    Split folders (``train/``, ``test/``, ``val/``) become the usage; ``''`` without them. Any image
    format, colour or gray, any size (mixed sizes are resized: see ``notes``). The images are taken as
    face crops; for whole photos use :meth:`FaceDataset.with_whole_frames` (``--faces detect``).
    """
    path = _existing(path)
    base, roots = rd.search(path, _folder_roots)
    if not roots:
        raise DatasetError(f"{path}: no class folders with images (sub-folders named after an expression, "
                           "e.g. happy/, Sad/, anger/, or numbered 0-7 in FER2013 order, "
                           "optionally inside split folders such as train/ and test/)")
    skips = rd.SkipLog(str(path), strict)
    files = rd.class_files(base, roots, _folder_label, _FOLDER_CLASSES, skips)
    items = [_Item(file, label, usage="" if file.parent.parent == base else file.parent.parent.name)
             for file, label in files]
    numbered = sorted({int(f.parent.name) for f, _ in files if f.parent.name.isdecimal()})
    notes = []
    if numbered:
        notes.append("numbered class folders were read in FER2013 order (" +
                     ", ".join(f"{i} {ALL_LABELS[i]}" for i in numbered) + ")")
        if 0 not in numbered and max(numbered) == 7:
            notes.append("the numbers run 1-7 with no 0, as RAF-DB's codes do (1 surprise ... 7 neutral); "
                         "if these are RAF-DB folders, read them with --dataset rafdb (app: Format rafdb)")
    return _read_items(items, base, "folder", size, skips, notes)


# ------------------------------------------------------------------------------------- entry points

def load_dataset(kind: str, path: str | Path, *, size: int | None = None,
                 strict: bool = False) -> FaceDataset:
    """Read a dataset with the reader registered as ``kind`` (``'auto'``: :func:`detect_kind`).

    Parameters
    ----------
    kind : str
        A key of :data:`DATASET_READERS` (``fer2013``, ``ckplus``, ``jaffe``, ``rafdb``, ``npz``,
        ``folder``) or ``auto``.
    path : str or Path
        The release's file or root folder (or the folder holding it).
    size : int, optional
        Resize every image to ``size x size`` (``cv2.INTER_AREA``). Without it, images of one size are
        kept as they are and mixed sizes are resized to their median shorter side (noted in ``notes``).
    strict : bool
        Raise on the first bad item instead of skipping it.

    Returns
    -------
    FaceDataset
    """
    path = _existing(path)
    if kind == "auto":
        kind = detect_kind(path)
    if kind not in DATASET_READERS:
        raise DatasetError(f"unknown dataset kind {kind!r}; expected one of "
                           f"{', '.join(DATASET_READERS)} or auto")
    dataset = DATASET_READERS[kind](path, size=size, strict=strict)
    logger.info("loaded %r from %s", dataset, path)
    return dataset


def detect_kind(path: str | Path) -> str:
    """Guess the dataset kind of a file or folder from names and layout only (reads no image).

    ``.npz`` -> ``npz``; a CSV -> ``ckplus`` if a word in its name starts with "ck", else ``fer2013``;
    a folder by what it (or a sub-folder) holds: ``fer2013.csv`` / ``ckextended.csv``, ``EmoLabel/`` or
    ``train/<1-7>/train_00001_aligned.jpg`` (``rafdb``), ``KA.AN1.39.tiff`` files (``jaffe``), class
    folders of ``S010_004_00000017.png`` (``ckplus``) or of ``Training_1.jpg`` (``fer2013``). When none
    of these matches, any class folders (``happy/``, ``Sad/``, ``3/``) are ``folder``.

    Raises
    ------
    DatasetError
        When no layout, or more than one, matches.
    """
    path = _existing(path)
    found = [kind for kind, matches in _DETECTORS.items() if matches(path)]
    if not found and path.is_dir() and rd.search(path, _folder_roots)[1]:
        found = ["folder"]
    if len(found) == 1:
        return found[0]
    if found:
        raise DatasetError(f"{path}: holds several datasets ({', '.join(found)}); choose one with --dataset "
                           "KIND (app: Format) or give the path of one of them")
    raise DatasetError(f"{path}: not a known dataset layout (expected one of {', '.join(DATASET_READERS)}: "
                       "fer2013.csv, ckextended.csv, CK+48/, KA.AN1.39.tiff files, EmoLabel/, DATASET/, "
                       "*.npz, or class folders such as happy/ and sad/ holding images)")


def _looks_like(kind: str, csv_name: re.Pattern, finder: Callable,
                pattern: re.Pattern) -> Callable[[Path], bool]:
    """Detector for a CSV-or-class-folders release: a CSV so named, or a peeked image name matching."""
    def matches(path: Path) -> bool:
        if path.is_file():
            csv_kind = "ckplus" if _CK_CSV.search(path.name.lower()) else "fer2013"
            return path.suffix.lower() == ".csv" and csv_kind == kind
        if rd.find_csv(path, csv_name) is not None:
            return True
        return bool(pattern.match(rd.peek_name(rd.search(path, finder)[1], _name_label)))
    return matches


def _ck_roots(folder: Path) -> list[Path]:
    return [folder] if rd.has_class_dirs(folder, _name_label) else []


def _fer_roots(folder: Path) -> list[Path]:
    return rd.class_roots(folder, _name_label)


def _raf_roots(folder: Path) -> list[Path]:
    return rd.class_roots(folder, _raf_label)


def _folder_roots(folder: Path) -> list[Path]:
    return rd.class_roots(folder, _folder_label)


def _raf_folders(path: Path) -> bool:
    """Kaggle's RAF-DB layout: numbered class folders of ``train_00001_aligned.jpg`` (not any ``3/``)."""
    return bool(_RAF_NAME.match(rd.peek_name(rd.search(path, _raf_roots)[1], _raf_label)))


_DETECTORS: dict[str, Callable[[Path], bool]] = {
    "fer2013": _looks_like("fer2013", _FER_CSV, _fer_roots, _FER_NAME),
    "ckplus": _looks_like("ckplus", _CK_CSV, _ck_roots, _CK_NAME),
    "jaffe": lambda p: bool(rd.search(p, _jaffe_files)[1]),
    "rafdb": lambda p: _find_raf_list(p) is not None or _raf_folders(p),
    "npz": lambda p: p.suffix.lower() == ".npz" if p.is_file() else bool(rd.npz_files(p)),
}


# ------------------------------------------------------------------------------------------ helpers

def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    return path


def _name_label(folder: str) -> int | None:
    try:
        return index_of(folder)
    except KeyError:
        return None


def _raf_label(folder: str) -> int | None:
    return RAFDB_CODES.get(int(folder)) if folder.isdecimal() else None


def _folder_label(folder: str) -> int | None:
    if folder.isdecimal():
        return int(folder) if int(folder) < len(ALL_LABELS) else None
    return _name_label(folder)


def _prefix(pattern: re.Pattern, name: str) -> str:
    match = pattern.match(name)
    return match.group(1) if match else ""


def _raf_split(folder: str) -> str:
    return folder if folder in ("train", "test") else ""


def _jaffe_files(folder: Path) -> list[Path]:
    """The images of ``folder`` and of its class sub-folders (sorted copies), if one is named like JAFFE's."""
    files = rd.image_files(folder)
    for sub in rd.child_dirs(folder):
        first = rd.first_image(sub) if _name_label(sub.name) is not None else None
        if first is not None and _JAFFE_NAME.match(first.name):
            files += rd.image_files(sub)
    return files if any(_JAFFE_NAME.match(f.name) for f in files) else []


def _warn_missing(items: list[_Item], attribute: str, reason: str) -> None:
    missing = sum(not getattr(item, attribute) for item in items)
    if missing:
        logger.warning("%d of %d files have %s; their %s is ''", missing, len(items), reason, attribute)


def _find_raf_list(path: Path) -> Path | None:
    """RAF-DB's label list: ``path`` itself, or ``[<sub>/]EmoLabel/list_patition_label.txt`` under it."""
    if path.is_file():
        return path if path.name in _RAF_LISTS else None
    for folder in [path, *rd.child_dirs(path)]:
        for name in _RAF_LISTS:
            for candidate in (folder / "EmoLabel" / name, folder / name):
                if candidate.is_file():
                    return candidate
    return None


def _npz_name(file: Path) -> str:
    stem = file.stem.lower()
    return next((kind for kind in ("fer2013", "ckplus", "jaffe", "rafdb") if stem.startswith(kind)), "npz")


def _read_label_csv(file: Path, codes: dict[int, int], name: str, size: int | None,
                    strict: bool) -> FaceDataset:
    """Rows ``emotion,pixels[,Usage]`` of 48x48 images; bad rows are skipped with their line number."""
    skips = rd.SkipLog(file.name, strict)
    stack = rd.ImageStack(size)
    rows = []
    for line, row in rd.csv_rows(file, ("emotion", "pixels"), skips):
        where = f"{file.name} line {line}"
        try:
            label = rd.code_label(row["emotion"], codes)
            pixels = rd.parse_pixels(row["pixels"], _CSV_SIDE * _CSV_SIDE)
        except ValueError as exc:
            skips.skip(f"{where}: {exc}")
            continue
        stack.add(pixels.reshape(_CSV_SIDE, _CSV_SIDE), where)
        rows.append((label, row.get("usage", "").strip(), "", f"{file.name}:line {line}"))
    expected = f"rows of an emotion code and {_CSV_SIDE * _CSV_SIDE} pixel values"
    return _finish(name, stack, rows, skips, expected)


def _read_raf_official(label_list: Path, size: int | None, strict: bool) -> FaceDataset:
    """``<name>.jpg <code>`` lines; images ``Image/aligned/<stem>_aligned.jpg`` (else ``Image/original/``)."""
    base = label_list.parent.parent if label_list.parent.name == "EmoLabel" else label_list.parent
    aligned = (base / "Image" / "aligned").is_dir()
    image_dir = base / "Image" / ("aligned" if aligned else "original")
    if not image_dir.is_dir():
        raise DatasetError(f"{label_list}: no Image/aligned/ (or Image/original/) folder beside EmoLabel/")
    skips = rd.SkipLog(str(base), strict)
    items = []
    for number, line in enumerate(rd.read_text(label_list).splitlines(), start=1):
        parts, where = line.split(), f"{label_list.name} line {number}"
        if not parts:
            continue
        if len(parts) != 2 or _raf_label(parts[1]) is None:
            skips.skip(f"{where}: expected '<name>.jpg <code 1-7>', got {line.strip()[:60]!r}")
            continue
        name = Path(parts[0]).name
        file = image_dir / (f"{Path(name).stem}_aligned.jpg" if aligned else name)
        if not file.is_file():
            skips.skip(f"{where}: image {file.relative_to(base).as_posix()} not found")
            continue
        items.append(_Item(file, _raf_label(parts[1]), _prefix(_RAF_NAME, name)))
    return _read_items(items, base, "rafdb", size, skips)


def _read_items(items: list[_Item], base: Path, name: str, size: int | None,
                skips: rd.SkipLog, notes: Iterable[str] = ()) -> FaceDataset:
    """Decode every item's image; an undecodable file is a skip, a size mismatch an error."""
    stack = rd.ImageStack(size)
    rows = []
    for item in items:
        relative = item.path.relative_to(base).as_posix()
        try:
            stack.add(rd.decode_image(item.path), relative)
        except ImageError as exc:
            skips.skip(f"{relative}: {exc}")
            continue
        rows.append((item.label, item.usage, item.subject, relative))
    return _finish(name, stack, rows, skips, "readable image files", notes)


def _finish(name: str, stack: rd.ImageStack, rows: list[tuple], skips: rd.SkipLog,
            expected: str, notes: Iterable[str] = ()) -> FaceDataset:
    """Check that something was read, report the skips and notes, and assemble the dataset."""
    skips.fail_if_empty(len(rows), expected)
    skips.report(len(rows))
    labels, usage, subject, source = zip(*rows, strict=True)
    images = stack.array()
    notes = [*notes, stack.note] if stack.note else list(notes)
    for note in notes:
        logger.warning("%s: %s", skips.what, note)
    return FaceDataset(images, np.array(labels, dtype=np.int64), np.array(usage, dtype=str),
                       np.array(subject, dtype=str), np.array(source, dtype=str), name, skips.lines,
                       whole_frames=name in WHOLE_FRAME_KINDS, notes=notes)

"""What a visitor may reach on the server: local mode (your own machine) and shared mode (a classroom).

Local mode (the default) lets the user type any path on the machine, as a desktop tool would. Shared
mode, switched on by the operator with ``FERVIZ_SHARED=1``, offers no field that takes a server path:

- models: the checkpoints in the models folder only;
- datasets: the files and folders directly inside the operator's ``FERVIZ_DATA_ROOTS`` (a
  ``:``-separated list of folders), offered as a list, plus **uploads** of a dataset: an ``.npz``
  archive, or a ``.zip`` of class folders, extracted by :func:`extract_zip` into a private temporary
  folder with limits on size, file count and compression ratio, refusing absolute names, ``..``
  and links.

In both modes a path that is missing, outside the roots or a link leaving them gets the same message
(:data:`NOT_AVAILABLE`), which never reveals whether it exists.
"""

from __future__ import annotations

import logging
import os
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ferviz.errors import FervizError
from ferviz.text import printable

log = logging.getLogger(__name__)

SHARED_ENV = "FERVIZ_SHARED"
ROOTS_ENV = "FERVIZ_DATA_ROOTS"
NOT_AVAILABLE = "not found, or not available here"
DATASET_SUFFIXES = (".npz", ".csv", ".zip")
MAX_UPLOAD_MB = 200  # a dataset upload (npz or zip), compressed
MAX_ZIP_FILES = 20_000  # members of an uploaded zip
MAX_ZIP_UNPACKED_MB = 1_000  # total size once extracted
MAX_ZIP_RATIO = 200  # uncompressed / compressed size of any member: beyond this it is a zip bomb


class AccessError(FervizError):
    """A path or an upload that shared mode (or the upload limits) refuses; the message says what to do."""


def shared_mode() -> bool:
    """True when the operator set ``FERVIZ_SHARED`` to 1 / true / yes."""
    return os.environ.get(SHARED_ENV, "").strip().lower() in ("1", "true", "yes", "on")


SESSION_UPLOAD_ENV = "FERVIZ_SESSION_UPLOAD_MB"
SESSION_UPLOAD_MB = 300  # shared mode's default: what one browser session may hold in uploads at once


def session_upload_limit_mb() -> float | None:
    """MB of uploads one browser session may hold at once: ``FERVIZ_SESSION_UPLOAD_MB`` if set (a positive
    number; anything else is logged and ignored), else :data:`SESSION_UPLOAD_MB` in shared mode and no
    limit in local mode (None)."""
    raw = os.environ.get(SESSION_UPLOAD_ENV, "").strip()
    if raw:
        try:
            value = float(raw)
            if value > 0:
                return value
        except ValueError:
            pass
        log.warning("%s must be a positive number of MB, got %r; using the default", SESSION_UPLOAD_ENV, raw)
    return SESSION_UPLOAD_MB if shared_mode() else None


@dataclass
class UploadBudget:
    """The uploads one session holds, per upload widget, against a limit in MB (None: no limit).

    A widget's files replace what it held before; removing them from the widget frees their share.
    """

    limit_mb: float | None
    held: dict[str, int] = field(default_factory=dict)

    def admit(self, widget: str, sizes: Sequence[int]) -> str | None:
        """Record the files now in ``widget`` (their sizes in bytes); a message instead, and nothing
        recorded for the widget, when they would take the session over its limit."""
        others = sum(v for k, v in self.held.items() if k != widget)
        total = int(sum(sizes))
        if self.limit_mb is not None and others + total > self.limit_mb * 2**20:
            self.held.pop(widget, None)
            return (f"These files ({total / 2**20:.1f} MB) would take this session's uploads to "
                    f"{(others + total) / 2**20:.1f} MB; a session may hold {self.limit_mb:.0f} MB on this "
                    "shared server. Remove files you no longer need (the × beside each), then try again.")
        self.held[widget] = total
        return None

    @property
    def held_mb(self) -> float:
        return sum(self.held.values()) / 2**20


def data_roots() -> list[Path]:
    """The existing folders named in ``FERVIZ_DATA_ROOTS``, resolved (missing ones are left out)."""
    roots = []
    for part in os.environ.get(ROOTS_ENV, "").split(":"):
        if part.strip():
            path = Path(part.strip()).expanduser().resolve()
            if path.is_dir():
                roots.append(path)
    return roots


def listed_datasets(roots: list[Path] | None = None) -> dict[str, Path]:
    """Display name (``root-name/entry``) -> path of every dataset file or folder directly inside a root.

    Hidden entries and links that leave their root are not listed.
    """
    out: dict[str, Path] = {}
    for root in data_roots() if roots is None else roots:
        for entry in sorted(root.iterdir()):
            if entry.name.startswith("."):
                continue
            real = entry.resolve()
            if not _inside(real, root):
                continue
            if real.is_dir() or real.suffix.lower() in DATASET_SUFFIXES[:2]:
                out[f"{root.name}/{entry.name}"] = real
    return out


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def resolve_dataset_path(text: str, roots: list[Path] | None = None) -> Path:
    """A dataset path given by name: anywhere in local mode, only inside the roots in shared mode.

    Raises
    ------
    AccessError
        The same message for a missing path, one outside the roots and a link leaving them.
    """
    shown = printable(text.strip(), 200)
    path = Path(text.strip()).expanduser()
    if shared_mode():
        roots = data_roots() if roots is None else roots
        real = path.resolve() if path.is_absolute() else None
        if real is None or not any(_inside(real, r) for r in roots) or not real.exists():
            raise AccessError(f"{shown}: {NOT_AVAILABLE}; choose one of the listed datasets or upload one")
        return real
    real = path.resolve()
    if not real.exists():
        raise AccessError(f"{shown}: {NOT_AVAILABLE}")
    return real


def extract_zip(data: bytes, dest: Path, *, max_files: int = MAX_ZIP_FILES,
                max_unpacked_mb: float = MAX_ZIP_UNPACKED_MB, max_ratio: float = MAX_ZIP_RATIO) -> Path:
    """Unpack an uploaded zip into ``dest`` (a fresh private folder), refusing anything unsafe.

    Refused, with nothing written outside ``dest``: absolute names, names with ``..``, links, more
    than ``max_files`` members, more than ``max_unpacked_mb`` in all (counted while writing, not only
    from the headers), a member whose compression ratio exceeds ``max_ratio`` (a zip bomb), and bytes
    that are not a zip.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    AccessError
        Naming the first problem found.
    """
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise AccessError("the upload is not a readable zip archive") from exc
    members = archive.infolist()
    if len(members) > max_files:
        raise AccessError(f"the zip holds {len(members)} entries; at most {max_files} are accepted")
    budget = int(max_unpacked_mb * 1024 * 1024)
    for info in members:
        name = PurePosixPath(info.filename.replace("\\", "/"))
        if name.is_absolute() or info.filename.startswith(("/", "\\")) or ":" in name.parts[0]:
            raise AccessError(f"{printable(info.filename, 120)}: absolute names are not accepted in a zip")
        if ".." in name.parts:
            raise AccessError(f"{printable(info.filename, 120)}: names with '..' are not accepted in a zip")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise AccessError(f"{printable(info.filename, 120)}: links are not accepted in a zip")
        if info.compress_size and info.file_size / info.compress_size > max_ratio:
            ratio = info.file_size // info.compress_size
            raise AccessError(f"{printable(info.filename, 120)}: compressed {ratio}:1, more than "
                              f"{max_ratio}:1 (a zip bomb?); not extracted")
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written = 0
    for info in members:
        target = (root / info.filename).resolve()
        if not _inside(target, root):
            raise AccessError(f"{printable(info.filename, 120)}: leaves the extraction folder; not extracted")
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > budget:
                    raise AccessError(f"the zip unpacks to more than {max_unpacked_mb:.0f} MB; not extracted")
                out.write(chunk)
    return dest


def dataset_from_upload(name: str, data: bytes, *, max_mb: float = MAX_UPLOAD_MB):
    """A dataset uploaded by the visitor: an ``.npz`` archive or a ``.zip`` of a release's folders.

    The bytes go to a private temporary folder that is removed before returning (the dataset is read
    into memory). An ``.npz`` keeps its file name, which names the dataset kind (``jaffe.npz``: whole
    frames); a ``.zip`` is extracted with :func:`extract_zip` and read with the format detected.

    Raises
    ------
    AccessError
        Too large, another kind of file, or an unsafe zip.
    DatasetError
        The content is not a dataset ferviz reads.
    """
    import tempfile

    from ferviz.data.datasets import load_dataset
    from ferviz.errors import DatasetError

    shown = printable(Path(name).name, 120)
    if len(data) > max_mb * 1024 * 1024:
        raise AccessError(f"{shown}: {len(data) / 2**20:.0f} MB; "
                          f"dataset uploads are limited to {max_mb:.0f} MB")
    suffix = Path(name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="ferviz_upload_") as tmp:
        try:
            if suffix == ".npz":
                safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in Path(name).name)
                path = Path(tmp) / safe
                path.write_bytes(data)
                return load_dataset("npz", path)
            if suffix == ".zip":
                folder = extract_zip(data, Path(tmp) / "dataset")
                return load_dataset("auto", folder)
        except DatasetError as exc:  # name the upload, not the server's temporary folder
            message = str(exc).replace(str(Path(tmp) / "dataset"), shown).replace(tmp, shown)
            raise DatasetError(message) from exc
    raise AccessError(f"{shown}: upload an .npz archive or a .zip of the dataset's folders")

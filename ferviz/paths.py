"""Where the repository keeps its shipped files: the models folder, its reports, the default checkpoint.

One small module so that code needing a path does not import the inference (or any heavy) module.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Environment variable naming another models folder, e.g. for a wheel install (the wheel holds no weights).
MODELS_DIR_ENV = "FERVIZ_MODELS_DIR"
#: Shipped checkpoints (*.pt) with their cards (*.json, *.md): the repository's models/ unless overridden.
MODELS_DIR = Path(os.environ.get(MODELS_DIR_ENV) or ROOT / "models")
REPORTS_DIR = MODELS_DIR / "reports"  # committed evaluation, cross-validation and ablation reports
#: What the app and the CLI load by default: the model that does best beyond FER2013 (real faces; the domain
#: table, models/reports/domains/domains.json). Falls back to the FER2013 benchmark model where it is not shipped.
DEFAULT_MODEL = MODELS_DIR / "real_dcnn_bilstm_dam.pt"
#: The paper's network trained on FER2013's own labels: what the paper's reported numbers are compared with.
BENCHMARK_MODEL = MODELS_DIR / "fer2013_dcnn_bilstm_dam.pt"
if not DEFAULT_MODEL.is_file():
    DEFAULT_MODEL = BENCHMARK_MODEL
#: What a dataset path outside the repository is written as in recorded commands (scripts/reproduce.sh's
#: variable: the folder holding fer2013/, ckplus/, jaffe/).
DATA_VARIABLE = "$DATA"
# An absolute POSIX path in free text: not inside a word, a URL or a relative path (``train/test``, ``1/2``).
_ABSOLUTE = re.compile(r"(?<![\w.$~:/-])/(?:[\w.+@-]+/)*[\w.+@-]+/?")


def resolve_user_path(text: str, *, suffixes: tuple[str, ...] = (), folders: bool = False) -> Path:
    """A path a user typed, resolved (``~`` expanded) and checked.

    Parameters
    ----------
    text : str
        What the user typed; surrounding blanks are ignored.
    suffixes : tuple of str
        Accepted file suffixes (lower case, with the dot); empty accepts any file.
    folders : bool
        Also accept an existing folder (dataset image-folder releases).

    Returns
    -------
    Path
        The absolute path of an existing file (or folder, with ``folders``).

    Raises
    ------
    FervizError
        When the path does not exist, or names a file with another suffix.
    """
    from ferviz.errors import FervizError
    from ferviz.serve.access import NOT_AVAILABLE
    from ferviz.text import printable

    path = Path(text.strip()).expanduser().resolve()
    if folders and path.is_dir():
        return path
    if not path.is_file():
        raise FervizError(f"{printable(path, 200)}: {NOT_AVAILABLE}")  # one message, whatever the reason
    if suffixes and path.suffix.lower() not in suffixes:
        raise FervizError(f"{printable(path.name, 120)}: expected a {' or '.join(suffixes)} file")
    return path


def portable(text: str, root: Path = ROOT) -> str:
    """``text`` with every absolute path made repository-relative, for what is committed (cards, reports).

    A path inside the repository becomes relative to it (``models/x.pt``); a path with a ``runs`` folder
    becomes ``runs/...`` (the training outputs, ``RUNS=runs`` in scripts/reproduce.sh); a path with a
    ``data`` folder becomes ``$DATA/...`` (the dataset folder scripts/reproduce.sh is given); any other
    absolute path keeps its last two parts (``folder/file``). Relative paths, URLs and numbers such as
    ``68.9 / 66.1`` are left alone, and so is the placeholder ``/path/to/...``.

    Examples
    --------
    ``--data /srv/shared/data/fer2013/a.npz --out /home/u/runs/x`` -> ``--data $DATA/fer2013/a.npz --out runs/x``
    """
    root = Path(root).resolve()

    def relative(match: re.Match) -> str:
        found = match.group(0)
        path = Path(found)
        if found.startswith("/path/to/"):  # a placeholder in documentation
            return found
        if path == root or root in path.parents:
            return path.relative_to(root).as_posix() or "."
        parts = path.parts[1:]
        for folder, prefix in (("runs", "runs"), ("data", DATA_VARIABLE)):
            if folder in parts:
                last = len(parts) - 1 - parts[::-1].index(folder)
                return "/".join([prefix, *parts[last + 1:]])
        return "/".join(parts[-2:])

    return _ABSOLUTE.sub(relative, text)


def shown_path(value: Any) -> Any:
    """A value as a page shows it: :func:`portable` for text (no machine's folders on screen), else unchanged."""
    return portable(value) if isinstance(value, str) else value


def portable_tree(value: Any, root: Path = ROOT) -> Any:
    """:func:`portable` applied to every string in nested dicts, lists and tuples (a card's JSON)."""
    if isinstance(value, str):
        return portable(value, root)
    if isinstance(value, dict):
        return {k: portable_tree(v, root) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(portable_tree(v, root) for v in value)
    return value


def file_name(path_text: str) -> str:
    """The last part of a path as a report or card records it, written on any system (``runs\\x\\m.pt`` and
    ``models/m.pt`` both give ``m.pt``)."""
    return str(path_text).replace("\\", "/").rsplit("/", 1)[-1]

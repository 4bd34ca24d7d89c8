"""Where the repository keeps its shipped files: the models folder, its reports, the default checkpoint.

One small module so that code needing a path does not import the inference (or any heavy) module.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Environment variable naming another models folder, e.g. for a wheel install (the wheel holds no weights).
MODELS_DIR_ENV = "FERVIZ_MODELS_DIR"
#: Shipped checkpoints (*.pt) with their cards (*.json, *.md): the repository's models/ unless overridden.
MODELS_DIR = Path(os.environ.get(MODELS_DIR_ENV) or ROOT / "models")
REPORTS_DIR = MODELS_DIR / "reports"  # committed evaluation, cross-validation and ablation reports
DEFAULT_MODEL = MODELS_DIR / "fer2013_dcnn_bilstm_dam.pt"  # what the app and the CLI load by default


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

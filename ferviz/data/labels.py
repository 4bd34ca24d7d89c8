"""Class names: the one source of truth for label order.

Index order is FER2013's (0 angry ... 6 neutral); CK+'s contempt is index 7 in the extended list.
Every dataset reader maps its own names or codes into this index space; a trained model records
the subset (and order) of names it predicts in its checkpoint.
"""

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CONTEMPT = "contempt"
ALL_LABELS: tuple[str, ...] = EMOTIONS + (CONTEMPT,)

# Spellings used by the public releases (CK+ folders, JAFFE codes, RAF-DB names) -> canonical name.
ALIASES: dict[str, str] = {
    "anger": "angry", "an": "angry",
    "disgusted": "disgust", "di": "disgust",
    "fearful": "fear", "fe": "fear",
    "happiness": "happy", "ha": "happy",
    "sadness": "sad", "sa": "sad",
    "surprised": "surprise", "su": "surprise",
    "ne": "neutral", "calm": "neutral",
    "contemptuous": "contempt",
}


def canonical(name: str) -> str:
    """Return the canonical class name for ``name`` (case-insensitive, aliases resolved).

    Raises
    ------
    KeyError
        When ``name`` is unknown; the message names the accepted names.
    """
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in ALL_LABELS:
        raise KeyError(f"unknown expression label {name!r}; expected one of {', '.join(ALL_LABELS)}")
    return key


def index_of(name: str) -> int:
    """Index of ``name`` in :data:`ALL_LABELS` (0-6 the FER2013 order, 7 contempt)."""
    return ALL_LABELS.index(canonical(name))

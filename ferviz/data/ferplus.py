"""FER+'s crowd votes for FER2013 faces: majority labels, vote distributions and agreement.

FER+ (Barsoum et al., ICMI 2016; MIT) asked 10 annotators per FER2013 face to pick one of neutral,
happiness, surprise, sadness, anger, disgust, fear, contempt, unknown or "not a face" (NF). The votes
ship as ``ferplus_votes.npz``, aligned row for row with ``fer2013_trainval.npz`` (``votes`` int16
(N, 10) in that FER+ column order, ``match`` 0 where no FER+ row was found, ``source_name`` a copy of
the FER2013 archive's for checking the alignment).

This module turns them into what ferviz uses, always in the FER2013 class order (angry, disgust, fear,
happy, sad, surprise, neutral):

* ``counts`` (N, 7): the votes for the seven FER2013 classes;
* ``soft`` (N, 7): those votes normalised to sum to 1 (the "vote distribution" training target);
* ``majority`` (N,): the class with the most votes, -1 where there is none (no usable votes, or a tie
  for first place, or more votes for contempt/unknown/NF than for the winning class);
* ``agreement`` (N,): how many of the 10 annotators chose the majority class (0 where none).

A face is *usable* when it was matched, most of its votes are for the seven classes (contempt, unknown
and NF together are fewer than half) and it has a majority. :func:`label_targets` reports how many
faces each labelling leaves out and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ferviz.errors import DatasetError

#: FER+ column order of ``votes``.
VOTE_NAMES: tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                               "contempt", "unknown", "NF")
#: ``votes[:, TO_FER2013]`` is (angry, disgust, fear, happy, sad, surprise, neutral).
TO_FER2013: tuple[int, ...] = (4, 5, 6, 1, 3, 2, 0)
#: The labellings ``ferviz train --labels`` accepts.
LABEL_SOURCES: dict[str, str] = {
    "fer2013": "FER2013's own labels (one annotator per face)",
    "ferplus-majority": "the class most of FER+'s 10 annotators chose (ties and mostly-other votes left out)",
    "ferplus-soft": "FER+'s vote distribution over the 7 classes (mostly-other votes left out)",
}
#: Agreement bands (annotators of 10 who chose the majority class) used by the reports.
AGREEMENT_BANDS: tuple[tuple[str, int, int], ...] = (("8-10 of 10 agree", 8, 10), ("5-7 of 10", 5, 7),
                                                     ("4 or fewer", 0, 4))


@dataclass(frozen=True)
class FerPlusVotes:
    """FER+ votes for the rows of a FER2013 archive, in FER2013 class order.

    Attributes
    ----------
    counts : (N, 7) int ndarray
        Votes per FER2013 class.
    other : (N,) int ndarray
        Votes for contempt, unknown and not-a-face.
    matched : (N,) bool ndarray
        Whether a FER+ row was found for the face.
    source_name : (N,) str ndarray
        The FER2013 archive's name of each row (the alignment key).
    """

    counts: np.ndarray
    other: np.ndarray
    matched: np.ndarray
    source_name: np.ndarray

    def __len__(self) -> int:
        return len(self.counts)

    @property
    def total(self) -> np.ndarray:
        """(N,) votes cast (10 for almost every matched face, 0 unmatched)."""
        return self.counts.sum(1) + self.other

    @property
    def soft(self) -> np.ndarray:
        """(N, 7) float32 vote distribution over the 7 classes; all zero where there is no vote for them."""
        n7 = self.counts.sum(1, keepdims=True)
        return np.divide(self.counts, n7, out=np.zeros(self.counts.shape, np.float32), where=n7 > 0).astype(
            np.float32)

    @property
    def majority(self) -> np.ndarray:
        """(N,) int64 class with the most votes; -1 for no votes, a tie for first, or more 'other' votes."""
        top = self.counts.max(1)
        winners = (self.counts == top[:, None]).sum(1)
        out = self.counts.argmax(1).astype(np.int64)
        out[(top == 0) | (winners > 1) | (self.other >= top) | ~self.matched] = -1
        return out

    @property
    def agreement(self) -> np.ndarray:
        """(N,) int: annotators who chose the majority class (0 where there is no majority)."""
        return np.where(self.majority >= 0, self.counts.max(1), 0)

    @property
    def usable(self) -> np.ndarray:
        """(N,) bool: matched, with a majority, and fewer than half the votes for contempt/unknown/NF."""
        return self.matched & (self.majority >= 0) & (2 * self.other < np.maximum(self.total, 1))

    def subset(self, index: np.ndarray) -> FerPlusVotes:
        return FerPlusVotes(self.counts[index], self.other[index], self.matched[index], self.source_name[index])


def votes_from_array(votes: np.ndarray, matched: np.ndarray | None = None,
                     source_name: np.ndarray | None = None) -> FerPlusVotes:
    """A :class:`FerPlusVotes` from raw (N, 10) votes in FER+ column order."""
    votes = np.asarray(votes)
    if votes.ndim != 2 or votes.shape[1] != len(VOTE_NAMES):
        raise DatasetError(f"FER+ votes must be (N, {len(VOTE_NAMES)}) in the order {', '.join(VOTE_NAMES)}; "
                           f"got shape {votes.shape}")
    if (votes < 0).any():
        raise DatasetError("FER+ votes must be non-negative counts")
    counts = votes[:, list(TO_FER2013)].astype(np.int64)
    other = votes[:, 7:].sum(1).astype(np.int64)
    matched = votes.sum(1) > 0 if matched is None else np.asarray(matched, bool)
    names = np.asarray(source_name if source_name is not None else [""] * len(votes))
    return FerPlusVotes(counts, other, matched, names)


def load_votes(path: str | Path, source_name: np.ndarray | None = None) -> FerPlusVotes:
    """Read ``ferplus_votes.npz``; with ``source_name`` (the FER2013 archive's), check the rows line up."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no FER+ votes file; expected ferplus_votes.npz beside fer2013_trainval.npz")
    with np.load(path, allow_pickle=False) as data:
        missing = {"votes", "match", "source_name"} - set(data.files)
        if missing:
            raise DatasetError(f"{path}: not a FER+ votes archive (lacks {', '.join(sorted(missing))})")
        votes = votes_from_array(data["votes"], data["match"] > 0, data["source_name"])
    if source_name is not None:
        check_alignment(votes, source_name, path)
    return votes


def check_alignment(votes: FerPlusVotes, source_name: np.ndarray, path: str | Path = "votes") -> None:
    """Raise unless ``votes`` belongs row for row to the archive whose names are ``source_name``."""
    source_name = np.asarray(source_name)
    if len(source_name) != len(votes):
        raise DatasetError(f"{path}: {len(votes)} rows of votes for a dataset of {len(source_name)} faces; "
                           "the votes belong to the full fer2013_trainval.npz, rows in its order")
    bad = np.flatnonzero(source_name != votes.source_name)
    if len(bad):
        raise DatasetError(f"{path}: row {bad[0]} is {votes.source_name[bad[0]]!r} in the votes but "
                           f"{source_name[bad[0]]!r} in the dataset ({len(bad)} rows differ)")


def votes_beside(data_path: str | Path) -> Path:
    """Where the votes for a FER2013 archive are expected: ``ferplus_votes.npz`` in the same folder."""
    return Path(data_path).with_name("ferplus_votes.npz")


@dataclass(frozen=True)
class LabelTargets:
    """Training targets of one labelling: which rows to keep and their hard and (optional) soft targets."""

    source: str
    keep: np.ndarray  # (N,) bool
    labels: np.ndarray  # (N,) int64 hard label per row (-1 where dropped)
    soft: np.ndarray | None  # (N, 7) float32 target distribution, or None for hard labels
    dropped: dict[str, int]

    def describe(self) -> str:
        gone = ", ".join(f"{n} {why}" for why, n in self.dropped.items() if n) or "none"
        return f"labels {self.source}: {int(self.keep.sum())} faces kept; left out: {gone}"


def label_targets(source: str, labels: np.ndarray, votes: FerPlusVotes | None) -> LabelTargets:
    """The targets for ``ferviz train --labels SOURCE`` over a FER2013 split.

    Parameters
    ----------
    source : {'fer2013', 'ferplus-majority', 'ferplus-soft'}
    labels : (N,) int
        FER2013's labels of the rows.
    votes : FerPlusVotes or None
        The rows' FER+ votes; required unless ``source`` is ``fer2013``.
    """
    labels = np.asarray(labels, np.int64)
    if source not in LABEL_SOURCES:
        raise ValueError(f"unknown labels {source!r}; choose one of {', '.join(LABEL_SOURCES)}")
    if source == "fer2013":
        return LabelTargets(source, np.ones(len(labels), bool), labels, None, {})
    if votes is None:
        raise DatasetError(f"--labels {source} needs FER+'s votes (ferplus_votes.npz beside the FER2013 archive)")
    if len(votes) != len(labels):
        raise DatasetError(f"{len(votes)} rows of votes for {len(labels)} faces")
    unmatched = ~votes.matched
    mostly_other = votes.matched & (2 * votes.other >= np.maximum(votes.total, 1))
    no_majority = votes.matched & ~mostly_other & (votes.majority < 0)
    if source == "ferplus-soft":
        keep = votes.matched & ~mostly_other & (votes.counts.sum(1) > 0)
        hard = np.where(keep, votes.soft.argmax(1), -1)
        dropped = {"without FER+ votes": int(unmatched.sum()),
                   "mostly contempt / unknown / not a face": int(mostly_other.sum())}
        return LabelTargets(source, keep, hard.astype(np.int64), votes.soft, dropped)
    keep = votes.usable
    dropped = {"without FER+ votes": int(unmatched.sum()),
               "mostly contempt / unknown / not a face": int(mostly_other.sum()),
               "no single majority (a tie)": int(no_majority.sum())}
    return LabelTargets(source, keep, np.where(keep, votes.majority, -1), None, dropped)


def agreement_band(agreement: np.ndarray) -> np.ndarray:
    """(N,) str band name of :data:`AGREEMENT_BANDS` for each agreement count ('' for 0 = no majority)."""
    agreement = np.asarray(agreement)
    out = np.full(len(agreement), "", dtype=object)
    for name, lo, hi in AGREEMENT_BANDS:
        out[(agreement >= max(lo, 1)) & (agreement <= hi)] = name
    return out.astype(str)


def votes_for_sources(votes: FerPlusVotes, sources: np.ndarray, *, missing: str = "raise") -> FerPlusVotes:
    """The votes of the faces named ``sources`` (FER2013 archive names), in that order.

    ``missing="raise"`` (training, scoring): a :class:`~ferviz.errors.DatasetError` names the first face the
    votes do not cover. ``missing="empty"`` (showing faces): such a face gets no votes (``matched`` False).
    """
    index = {name: i for i, name in enumerate(votes.source_name)}
    names = np.asarray([str(s) for s in np.asarray(sources)])
    rows = np.array([index.get(n, -1) for n in names], dtype=np.int64)
    found = rows >= 0
    if missing == "raise" and not found.all():
        first, count = str(names[~found][0]), int((~found).sum())
        raise DatasetError(f"no FER+ votes for {first!r} ({count} faces without): the votes cover the faces of "
                           "fer2013_trainval.npz only, named as in its source_name")
    picked = votes.subset(np.where(found, rows, 0))
    return FerPlusVotes(np.where(found[:, None], picked.counts, 0), np.where(found, picked.other, 0),
                        picked.matched & found, names)


def relabel(source: str, labels: np.ndarray, sources: np.ndarray, data_path: str | Path) -> LabelTargets:
    """:func:`label_targets` for FER2013 faces named ``sources`` of the archive at ``data_path``.

    The votes are read from ``ferplus_votes.npz`` beside the archive (not needed for ``fer2013``).
    """
    if source == "fer2013":
        return label_targets(source, labels, None)
    votes = votes_for_sources(load_votes(votes_beside(data_path)), sources)
    return label_targets(source, labels, votes)

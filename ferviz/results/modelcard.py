"""Model cards: ``models/<name>.json``, the card of a shipped model, read back as a typed :class:`ModelCard`.

:func:`read_card` (a card file) and :func:`card_beside` (the card beside a checkpoint, if any) give a
:class:`ModelCard`; :meth:`ModelCard.to_dict` is exactly the JSON that :func:`ferviz.results.shipping.ship`
writes. Cards written before fine-tuning stages were recorded lack ``stages`` and ``total_train_seconds`` and
still read. A file that is not JSON, not an object, or holds a value of the wrong type raises
:class:`ModelCardError` naming the file. Writing a card is :mod:`ferviz.results.shipping`; the Home page's
view of one is :mod:`ferviz.results.summary`.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferviz.errors import CheckpointError
from ferviz.model.checkpoint import card_path
from ferviz.results.metrics import MetricReport

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)



class ModelCardError(CheckpointError, ValueError):
    """A model card is unreadable or malformed; the message names the file and what is wrong."""


# ------------------------------------------------------------------------------------------ the card

@dataclass(frozen=True)
class Stage:
    """One ``ferviz train`` run in a model's making; a fine-tuned model has one per run, first first."""

    command: str = ""
    epochs: int | None = None
    best_epoch: int | None = None
    train_seconds: float | None = None
    init: str = ""  # the checkpoint this run started from (``--init``); "" for a run from scratch
    teacher: str = ""  # the knowledge-distillation teacher (``--teacher``); "" without one
    average: str = ""  # the ``ferviz average`` command that made this stage's shipped weights; "" for best.pt
    parallel: bool = False  # a run beside the last stage, from its start, that the shipped average also has

    def to_dict(self) -> dict[str, Any]:
        """The stage as written in a card's ``stages`` list (``average`` and ``parallel`` only when set)."""
        data = {"command": self.command, "epochs": self.epochs, "best_epoch": self.best_epoch,
                "train_seconds": self.train_seconds, "init": self.init, "teacher": self.teacher}
        if self.average:
            data["average"] = self.average
        if self.parallel:
            data["parallel"] = True
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Stage:
        """Inverse of :meth:`to_dict`; missing keys take their defaults.

        Parameters
        ----------
        data : dict
            One entry of a card's ``stages`` list.
        where : str
            Names the stage in error messages (file and position).

        Returns
        -------
        Stage

        Raises
        ------
        ModelCardError
            When ``data`` is not a dict or a value has the wrong type.
        """
        get = _Reader(data, where, "a stage")
        return cls(command=get.text("command"), epochs=get.integer("epochs"),
                   best_epoch=get.integer("best_epoch"), train_seconds=get.number("train_seconds"),
                   init=get.text("init"), teacher=get.text("teacher"), average=get.text("average"),
                   parallel=get.flag("parallel"))


@dataclass(frozen=True)
class ModelCard:
    """A shipped model's card (``models/<name>.json``), one attribute per JSON key.

    Attributes
    ----------
    report : dict or None
        A :meth:`ferviz.results.metrics.MetricReport.to_dict` on the ``selected_on`` split; None when the card
        has none. :meth:`metric_report` parses it.
    train_seconds : float or None
        The last stage's wall time.
    stages : tuple of Stage
        Every ``ferviz train`` run in the model's making, first first; ``()`` in cards older than
        stages.
    total_train_seconds : float or None
        The wall time of every stage together; None in cards older than stages.
    history : tuple of dict
        One row of ``log.csv`` (as floats) per epoch of the last stage.
    run_file : str
        The file of the last stage's run that was shipped (``best.pt``; e.g. ``swa.pt`` for averaged
        weights).
    average_command : str
        The ``ferviz average`` command that made ``run_file`` from the run's kept epochs; "" when the
        weights are one epoch's.
    adjust_command : str
        The ``ferviz adjust`` command that made ``run_file`` (logit adjustment, after any averaging); ""
        when the model's decision rule is the one it was trained with.
    levers : tuple of dict
        The training-lever table (:func:`ferviz.results.studies.lever_table` rows) as it stood when the model was
        shipped; ``()`` when none was measured.
    domains : tuple of dict
        The domain table (:class:`ferviz.results.domains.DomainScore` rows of every model measured,
        this one and its peers on the same rows) as it stood when the model was shipped; ``()`` if none.
    path : Path or None
        Where the card was read from or will be written; it is not part of the JSON.
    """

    name: str
    file: str  # the checkpoint's file name, beside the card
    variant: str = ""
    sha256: str = ""
    dataset: str = ""
    data_file: str = ""
    train_split: str = ""
    selected_on: str = ""
    recipe: str = ""
    train_config: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    epochs: int | None = None
    best_epoch: int | None = None
    train_seconds: float | None = None
    images_per_s: float | None = None
    machine: str = ""
    stages: tuple[Stage, ...] = ()
    total_train_seconds: float | None = None
    history: tuple[dict[str, float], ...] = ()
    report: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()
    run_file: str = "best.pt"
    average_command: str = ""
    adjust_command: str = ""
    levers: tuple[dict[str, Any], ...] = ()
    domains: tuple[dict[str, Any], ...] = ()
    # commands run after the model was first shipped, in order: an adjustment of the shipped checkpoint
    # (``ferviz adjust``) and its re-ship under the same name (``ferviz ship --replace``)
    after_ship: tuple[str, ...] = ()
    path: Path | None = field(default=None, compare=False)

    @property
    def checkpoint(self) -> Path:
        """The checkpoint this card describes: ``file`` beside the card (just ``file`` without ``path``)."""
        return self.path.with_name(self.file) if self.path is not None else Path(self.file)

    @property
    def training_seconds(self) -> float | None:
        """Wall time of all training: ``total_train_seconds``, else (older cards) ``train_seconds``."""
        return self.total_train_seconds or self.train_seconds

    def metric_report(self) -> MetricReport | None:
        """The card's report parsed; None without one.

        Raises
        ------
        MetricError
            When ``report`` is not a :meth:`MetricReport.to_dict` (unknown or missing keys).
        """
        return None if self.report is None else MetricReport.from_dict(self.report)

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON values, keys in the order :func:`ship` writes them.

        Returns
        -------
        dict
            A deep copy, sharing nothing with the card. ``stages``, ``total_train_seconds``,
            ``run_file`` (when ``best.pt``), ``average_command``, ``adjust_command`` and ``levers`` are left
            out when empty or default, as older cards have them; one note is written as a string (what
            ``ferviz ship --notes`` gives), several as a list.
        """
        data = {"name": self.name, "file": self.file, "variant": self.variant, "sha256": self.sha256,
                "dataset": self.dataset, "data_file": self.data_file, "train_split": self.train_split,
                "selected_on": self.selected_on, "recipe": self.recipe, "train_config": self.train_config,
                "command": self.command, "epochs": self.epochs, "best_epoch": self.best_epoch,
                "train_seconds": self.train_seconds, "images_per_s": self.images_per_s,
                "machine": self.machine}
        if self.stages:
            data["stages"] = [s.to_dict() for s in self.stages]
        if self.total_train_seconds is not None:
            data["total_train_seconds"] = self.total_train_seconds
        data.update(history=list(self.history), report=self.report,
                    notes=self.notes[0] if len(self.notes) == 1 else (list(self.notes) or ""))
        if self.run_file != "best.pt":
            data["run_file"] = self.run_file
        if self.average_command:
            data["average_command"] = self.average_command
        if self.adjust_command:
            data["adjust_command"] = self.adjust_command
        if self.levers:
            data["levers"] = list(self.levers)
        if self.domains:
            data["domains"] = list(self.domains)
        if self.after_ship:
            data["after_ship"] = list(self.after_ship)
        return copy.deepcopy(data)

    @classmethod
    def from_dict(cls, data: Any, path: str | Path | None = None) -> ModelCard:
        """A card from its JSON object (missing keys take their defaults; JSON ``null`` counts as missing).

        Parameters
        ----------
        data : dict
            The parsed ``<name>.json``.
        path : str or Path, optional
            Where it was read from: names the file in errors, and gives the defaults of ``name``
            (the file's stem) and ``file`` (``<stem>.pt``).

        Returns
        -------
        ModelCard

        Raises
        ------
        ModelCardError
            When ``data`` is not a dict or a value has the wrong type. ``command`` may be a string or
            a list of words (joined with spaces), ``notes`` a string or a list of strings.
        """
        path = Path(path) if path is not None else None
        where = path.name if path is not None else "model card"
        get = _Reader(copy.deepcopy(data), where, "a model card")  # shares no mutable value with ``data``
        name = get.text("name", default=path.stem if path is not None else "")
        stem = path.stem if path is not None else name
        return cls(
            name=name, file=get.text("file") or (f"{stem}.pt" if stem else ""), variant=get.text("variant"),
            sha256=get.text("sha256"), dataset=get.text("dataset"), data_file=get.text("data_file"),
            train_split=get.text("train_split"), selected_on=get.text("selected_on"),
            recipe=get.text("recipe"), train_config=get.mapping("train_config") or {},
            command=get.words("command"), epochs=get.integer("epochs"), best_epoch=get.integer("best_epoch"),
            train_seconds=get.number("train_seconds"), images_per_s=get.number("images_per_s"),
            machine=get.text("machine"),
            stages=tuple(Stage.from_dict(s, f"{where}: stage {k}")
                         for k, s in enumerate(get.rows("stages"), 1)),
            total_train_seconds=get.number("total_train_seconds"), history=tuple(get.rows("history")),
            report=get.mapping("report"), notes=get.sentences("notes"),
            run_file=get.text("run_file", default="best.pt"), average_command=get.text("average_command"),
            adjust_command=get.text("adjust_command"),
            levers=tuple(get.rows("levers")), domains=tuple(get.rows("domains")),
            after_ship=get.sentences("after_ship"), path=path)


def read_card(path: str | Path) -> ModelCard:
    """Read the model card ``path`` (a ``<name>.json``).

    Raises
    ------
    ModelCardError
        When the file cannot be read, is not JSON, or is not a well-formed card (see
        :meth:`ModelCard.from_dict`); the message names the file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, OSError, UnicodeDecodeError) as exc:
        raise ModelCardError(f"{path.name}: unreadable model card ({exc})") from None
    return ModelCard.from_dict(data, path)


def card_beside(checkpoint: str | Path) -> ModelCard | None:
    """The card beside ``checkpoint`` (``<stem>.json``), or None when there is none.

    Raises
    ------
    ModelCardError
        When the card exists but cannot be read (see :func:`read_card`).
    """
    path = card_path(checkpoint)
    return read_card(path) if path.is_file() else None


class _Reader:
    """Typed access to the keys of one JSON object; a value of the wrong type raises ModelCardError."""

    def __init__(self, data: Any, where: str, what: str):
        if not isinstance(data, dict):
            raise ModelCardError(f"{where}: {what} must be a JSON object, got {type(data).__name__}")
        self.data, self.where = data, where

    def _get(self, key: str, kinds: type | tuple[type, ...], what: str) -> Any:
        """``data[key]``, None when missing or null; refused unless one of ``kinds`` (bools never count)."""
        value = self.data.get(key)
        if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
            raise ModelCardError(f"{self.where}: {key!r} must be {what}, got {type(value).__name__}")
        return value

    def text(self, key: str, default: str = "") -> str:
        value = self._get(key, str, "a string")
        return default if value is None else value

    def integer(self, key: str) -> int | None:
        return self._get(key, int, "an integer")

    def flag(self, key: str) -> bool:
        """``data[key]`` as a bool (False when missing or null); any other type is refused."""
        value = self.data.get(key)
        if value is not None and not isinstance(value, bool):
            raise ModelCardError(f"{self.where}: {key!r} must be true or false, got {type(value).__name__}")
        return bool(value)

    def number(self, key: str) -> float | None:
        return self._get(key, (int, float), "a number")

    def mapping(self, key: str) -> dict[str, Any] | None:
        return self._get(key, dict, "an object")

    def rows(self, key: str) -> list[dict[str, Any]]:
        """A list of objects; empty when missing."""
        values = self._get(key, list, "a list of objects") or []
        if not all(isinstance(v, dict) for v in values):
            raise ModelCardError(f"{self.where}: {key!r} must be a list of objects")
        return values

    def _strings(self, key: str) -> str | list[str] | None:
        value = self._get(key, (str, list), "a string or a list of strings")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise ModelCardError(f"{self.where}: {key!r} must be a string or a list of strings")
        return value

    def words(self, key: str) -> str:
        """A string, or a list of words (an ``argv``) joined with spaces; "" when missing."""
        value = self._strings(key)
        return " ".join(value) if isinstance(value, list) else value or ""

    def sentences(self, key: str) -> tuple[str, ...]:
        """A string as one sentence, a list as several; ``()`` when missing or empty."""
        value = self._strings(key)
        return tuple(value) if isinstance(value, list) else (value,) if value else ()

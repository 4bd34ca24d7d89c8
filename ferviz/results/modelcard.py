"""Model cards: the one module that writes and reads ``models/<name>.json``, the card of a shipped model.

Writing. ``ferviz ship --run runs/X --name NAME --data PATH`` copies ``runs/X/best.pt`` to
``models/NAME.pt``, evaluates it on the split it was selected on, and writes ``models/NAME.json``
(machine-readable card, incl. sha256, verified on every load) and ``models/NAME.md`` (human-readable).
Every number in a card is computed here from the files; nothing is typed in by hand.

Reading. :func:`read_card` (a card file) and :func:`card_beside` (the card beside a checkpoint, if any)
give a typed :class:`ModelCard`; :meth:`ModelCard.to_dict` is exactly the JSON that :func:`ship` writes.
Cards written before fine-tuning stages were recorded lack ``stages`` and ``total_train_seconds`` and
still read. A file that is not JSON, not an object, or holds a value of the wrong type raises
:class:`ModelCardError` naming the file.

Home page. :func:`card_summary` merges a card with what the checkpoint itself records (its fallback
when there is no card) into a :class:`CardSummary`; the remaining functions put it in tables and words.
Nothing here imports Streamlit.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import os
import platform
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ferviz.errors import CheckpointError, FervizError
from ferviz.model.checkpoint import LoadedModel, card_path, file_sha256, load_checkpoint
from ferviz.results.metrics import MetricReport
from ferviz.results.reported import DATASETS, PROPOSED, TABLES
from ferviz.train.engine import teacher_paths
from ferviz.train.swa import describe_average, run_folder

if TYPE_CHECKING:
    from ferviz.results.evaluation import Evaluation

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
    levers : tuple of dict
        The training-lever table (:func:`ferviz.results.studies.lever_table` rows) as it stood when the model was
        shipped; ``()`` when none was measured.
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
    levers: tuple[dict[str, Any], ...] = ()
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
            ``run_file`` (when ``best.pt``), ``average_command`` and ``levers`` are left out when empty
            or default, as older cards have them; one note is written as a string (what
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
        if self.levers:
            data["levers"] = list(self.levers)
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
            levers=tuple(get.rows("levers")), path=path)


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


# ---------------------------------------------------------------------------------------- writing

def run_summary(run_dir: Path) -> dict:
    """Recipe, command, epochs and wall time of a training run, from its run.json and log.csv."""
    info = json.loads((run_dir / "run.json").read_text())
    rows = list(csv.DictReader(open(run_dir / "log.csv")))
    best = max(rows, key=lambda r: int(r["best"]) * int(r["epoch"]))
    init = info["train"].get("init") or ""
    init_dir = Path(init).parent
    init_card = card_beside(init) if init and not (init_dir / "run.json").is_file() else None
    return {"variant": info["variant"], "train": info["train"], "argv": info["argv"],
            "meta": info.get("meta", {}),
            "init_run": run_summary(init_dir) if init and (init_dir / "run.json").is_file() else None,
            # fine-tuned from a shipped model: the stages its card lists
            "init_stages": _card_stages(init_card) if init_card is not None else [],
            "epochs_run": len(rows), "best_epoch": int(best["epoch"]),
            "train_seconds": round(sum(float(r["seconds"]) for r in rows)),
            "images_per_s": round(sum(float(r["images_per_s"]) for r in rows) / len(rows)),
            "history": [{k: float(v) for k, v in r.items()} for r in rows]}


def _card_stages(card: ModelCard) -> list[Stage]:
    """A shipped card's stages, its last one carrying the card's ``ferviz average`` command (if any)."""
    steps = list(card.stages)
    if steps and card.average_command and not steps[-1].average:
        steps[-1] = replace(steps[-1], average=card.average_command)
    return steps


def stages(run: dict, parallel: list[dict] | tuple[dict, ...] = ()) -> list[Stage]:
    """The runs that led to ``run``, first stage first: a fine-tuned run (``--init``) lists its start too.

    ``parallel`` (:func:`run_summary` of each) are runs beside ``run`` whose epochs the shipped average
    also has; they come just before it, marked ``parallel``, so a card's commands stay in an order that
    reproduces the weights.
    """
    earlier = stages(run["init_run"]) if run.get("init_run") else list(run.get("init_stages", []))
    beside = [replace(_own_stage(r), parallel=True) for r in parallel]
    return [*earlier, *beside, _own_stage(run)]


def _own_stage(run: dict) -> Stage:
    """The stage of ``run`` itself (what :func:`stages` lists last)."""
    return Stage(command=" ".join(run["argv"]), epochs=run["epochs_run"], best_epoch=run["best_epoch"],
                 train_seconds=run["train_seconds"], init=run["train"].get("init", ""),
                 teacher=run["train"].get("teacher", ""))


def parallel_runs(run_dir: Path, meta: dict) -> list[Path]:
    """The other run folders whose kept epochs an averaged checkpoint (its ``meta``) was made from.

    A checkpoint in ``<run>/epochs/`` or ``<run>/`` counts when ``<run>/run.json`` exists; ``run_dir``
    itself is not listed. In the order of the averaged files.
    """
    found: list[Path] = []
    for source in meta.get("averaged_from") or []:
        folder = run_folder(source)
        if (folder / "run.json").is_file() and folder.resolve() != run_dir.resolve() and folder not in found:
            found.append(folder)
    return found


def build_card(name: str, ckpt: Path, run: dict, evaluation: Evaluation, notes: str = "", *,
               run_file: str = "best.pt", average_command: str = "",
               levers: list[dict] | tuple[dict, ...] = (), parallel: list[dict] | tuple[dict, ...] = ()
               ) -> ModelCard:
    """The card of checkpoint ``ckpt``: trained by ``run`` (:func:`run_summary`), measured by ``evaluation``.

    Parameters
    ----------
    name : str
        The model's name (the card's title).
    ckpt : Path
        The shipped checkpoint; its sha256 is recorded, and the card's ``path`` is beside it.
    run : dict
        :func:`run_summary` of the run that produced ``ckpt``.
    evaluation : Evaluation
        ``ckpt`` evaluated on the split it was selected on.
    notes : str, optional
        Free text for the card's end.
    run_file, average_command, levers
        As the :class:`ModelCard` fields of the same names.
    parallel : list of dict, optional
        :func:`run_summary` of the runs beside ``run`` whose epochs ``ckpt`` averages too (their
        stages, marked ``parallel``, come just before ``run``'s; their time counts in the total).

    Returns
    -------
    ModelCard
    """
    report = evaluation.report
    meta = run["meta"]
    steps = stages(run, parallel)
    return ModelCard(
        name=name, file=ckpt.name, variant=run["variant"], sha256=file_sha256(ckpt),
        dataset=report.meta.get("dataset") or meta.get("dataset", ""), data_file=meta.get("data", ""),
        train_split=meta.get("train_split", ""), selected_on=meta.get("select_split", ""),
        recipe=meta.get("recipe", ""), train_config=run["train"], command=" ".join(run["argv"]),
        epochs=run["epochs_run"], best_epoch=run["best_epoch"], train_seconds=run["train_seconds"],
        images_per_s=run["images_per_s"],
        machine=" ".join(filter(None, [platform.machine(), platform.processor(), f"({_cpu_count()} cores)"])),
        stages=tuple(steps), total_train_seconds=sum(s.train_seconds for s in steps),
        history=tuple(run["history"]), report=report.to_dict(), notes=(notes,) if notes else (),
        run_file=run_file, average_command=average_command, levers=tuple(levers), path=card_path(ckpt))


def _cpu_count() -> int:
    return os.cpu_count() or 0


def card_markdown(card: ModelCard) -> str:
    """The human-readable card (``<name>.md``): headline numbers, recipe, how to reproduce, per-class table.

    Parameters
    ----------
    card : ModelCard
        A card that carries a report (every card :func:`build_card` makes does).

    Returns
    -------
    str
        Markdown text.
    """
    report = card.report
    acc = report["accuracy"] * 100
    f1 = report["macro"]["f1"] * 100
    chosen = "averaging window" if card.average_command else "best epoch"
    weights = (f"the mean of several epochs' weights ({card.run_file}; the single best was epoch "
               f"{card.best_epoch})" if card.average_command else f"best at {card.best_epoch}")
    lines = [f"# {card.name}", "", f"Variant `{card.variant}`, trained on {card.dataset} "
             f"{card.train_split}, {chosen} selected on **{card.selected_on}** "
             f"(so these numbers are selection-split numbers, not a held-out test).", "",
             f"- accuracy **{acc:.2f} %**, macro-F1 **{f1:.2f} %** on {card.selected_on} "
             f"({report['n']} images)",
             f"- recipe `{card.recipe}`; {card.epochs} epochs, {weights}; "
             f"{card.train_seconds / 60:.0f} min on {card.machine} (~{card.images_per_s} img/s)",
             *_stage_lines(card),
             f"- sha256 `{card.sha256}` (verified on load)", "", "Reproduce:", "", "```",
             *[line for s in card.stages[:-1] for line in (s.command, s.average) if line], card.command,
             *([card.average_command] if card.average_command else []),
             f"ferviz ship --run <OUT> --name {card.name} --data <fer2013 copy>"
             + (f" --checkpoint {card.run_file}" if card.run_file != "best.pt" else ""), "```", "",
             "| class | precision | recall | specificity | F1 | support |", "|---|---|---|---|---|---|"]
    for row in report["per_class"]:
        lines.append(f"| {row['class']} | {row['precision'] * 100:.1f} | {row['recall'] * 100:.1f} | "
                     f"{row['specificity'] * 100:.1f} | {row['f1'] * 100:.1f} | {row['support']} |")
    lines += ["", "Confusion matrix (rows true, columns predicted): " + ", ".join(report["class_names"]), "",
              "```"]
    lines += [" ".join(f"{v:5d}" for v in row) for row in report["confusion"]]
    lines += ["```", ""]
    lines += _lever_lines(card.levers)
    if card.notes:
        lines += ["\n".join(card.notes), ""]
    return "\n".join(lines)


def _lever_lines(levers: tuple[dict[str, Any], ...]) -> list[str]:
    """The lever table as markdown (nothing without levers): one change each, at the smaller budget."""
    if not levers:
        return []
    lines = ["## Training levers (one change each, measured when this model was shipped)", "",
             "Each lever is one change to the recipe, trained at a smaller equal budget and paired seed by "
             "seed with the same model trained without it; only the differences mean something.", "",
             "| lever | budget | seeds | accuracy | Δ accuracy | Δ macro-F1 | paired p | verdict |",
             "|---|---|---|---|---:|---:|---:|---|"]

    def number(value, fmt: str) -> str:
        return format(value, fmt) if isinstance(value, (int, float)) else ""

    for row in levers:
        acc, std = row.get("accuracy"), row.get("accuracy_std")
        acc_text = number(acc, ".2f") + (f" ± {std:.2f}" if isinstance(std, (int, float)) else "") + " %"
        name = f"`{row.get('lever', '')}`" + (f": {row['change']}" if row.get("change") else "")
        lines.append(f"| {name} | {row.get('budget', '')} | {row.get('seeds', '')} | "
                     f"{acc_text} | {number(row.get('delta_accuracy'), '+.2f')} | "
                     f"{number(row.get('delta_macro_f1'), '+.2f')} | {number(row.get('paired_p'), '.3f')} | "
                     f"{row.get('verdict', '')} |")
    return [*lines, ""]


def _stage_lines(card: ModelCard) -> list[str]:
    """Where training started from, and any teacher, in words (empty for a single from-scratch run)."""
    steps = card.stages
    lines = []
    last = steps[-1] if steps else Stage()
    beside = [s for s in steps if s.parallel]
    earlier = len(steps) - 1 - len(beside)
    if last.init:
        lines.append(f"- fine-tuned from `{Path(last.init).name}` of an earlier run"
                     + (f" ({earlier} earlier stage(s), commands below; "
                        f"{card.training_seconds / 60:.0f} min of training in all)"
                        if earlier else ""))
    if beside:
        lines.append(f"- the weights also average {len(beside)} parallel run(s) of the last stage, from the "
                     f"same start ({', '.join(f'{s.epochs} epochs' for s in beside)}; commands below)")
    if last.teacher:
        kd = card.train_config
        names = [f"`{Path(t).name}`" for t in teacher_paths(last.teacher)]
        whom = (f"teacher {names[0]}" if len(names) == 1
                else f"the mean of {len(names)} teachers ({', '.join(names)})")
        lines.append(f"- knowledge distillation from {whom} "
                     f"(T = {kd.get('kd_temperature')}, weight {kd.get('kd_alpha')})")
    return lines


def ship(run_dir: Path, name: str, evaluation_fn, models_dir: Path, notes: str = "",
         checkpoint: str = "best.pt", levers: list[dict] | tuple[dict, ...] = ()) -> ModelCard:
    """Copy ``run_dir/<checkpoint>`` to ``models_dir/name.pt``, evaluate it, write the card (.json + .md).

    Parameters
    ----------
    run_dir : Path
        A training output folder (``best.pt``, ``run.json``, ``log.csv``).
    name : str
        The model's name: the files written are ``<name>.pt``, ``<name>.json`` and ``<name>.md``.
    evaluation_fn : callable
        Called with the copied checkpoint's :class:`~ferviz.model.checkpoint.LoadedModel`; returns its
        :class:`~ferviz.results.evaluation.Evaluation` on the split the card is to report.
    models_dir : Path
        Where the files are written (created if missing).
    notes : str, optional
        Free text for the card's end.
    checkpoint : str, optional
        The file of the run to ship (default its ``best.pt``; e.g. an averaged ``swa.pt`` made by
        ``ferviz average``, whose making the card then states).
    levers : list of dict, optional
        The lever table to carry (:func:`ferviz.results.studies.lever_table` rows, as records).

    Returns
    -------
    ModelCard
        The card written, with its ``path``.
    """
    source = run_dir / checkpoint
    if not source.is_file():
        raise CheckpointError(f"{source}: no such checkpoint in the run folder")
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / f"{name}.pt"
    run = run_summary(run_dir)  # before the copy: a run fine-tuned from the model it replaces reads its card
    others = parallel_runs(run_dir, load_checkpoint(source, verify=False).meta)
    beside = [run_summary(folder) for folder in others]
    shutil.copyfile(source, target)
    card_path(target).unlink(missing_ok=True)  # the old card's sha256 no longer applies
    loaded = load_checkpoint(target)
    evaluation = evaluation_fn(loaded)
    made = describe_average(loaded.meta)  # the command: in the reproduce block
    notes = " ".join(filter(None, [made, notes]))
    card = build_card(name, target, run, evaluation, notes, run_file=checkpoint,
                      average_command=str(loaded.meta.get("average_command") or ""), levers=levers,
                      parallel=beside)
    card.path.write_text(json.dumps(card.to_dict(), indent=1))
    target.with_suffix(".md").write_text(card_markdown(card))
    return card


# ---------------------------------------------------------------------------------- the home page

#: Headline metrics in display order, with their display names.
METRIC_NAMES: dict[str, str] = {
    "accuracy": "Accuracy", "macro_f1": "Macro F1", "balanced_accuracy": "Balanced accuracy",
    "top2_accuracy": "Top-2 accuracy", "ece": "Calibration error (ECE)", "nll": "NLL (nats)",
}
_NOT_FRACTIONS = ("nll", "loss")
_PER_CLASS_COLUMNS = ["support", "precision", "recall", "specificity", "f1"]


@dataclass(frozen=True, eq=False)
class CardSummary:
    """Everything the home page shows about one model; rates are fractions in [0, 1].

    Attributes
    ----------
    source : str
        ``"model card"`` when ``<name>.json`` was read, ``"checkpoint"`` otherwise.
    per_class : pandas.DataFrame or None
        One row per class (index: class name) with ``support`` and rates in percent; None without a
        readable report.
    problems : tuple of str
        What could not be read, one sentence each.
    """

    name: str
    variant: str
    sha256: str
    source: str
    labels: tuple[str, ...]
    input_mode: str
    n_params: int
    dataset: str | None = None
    train_split: str | None = None
    selected_on: str | None = None
    recipe: str | None = None
    epochs: int | None = None
    best_epoch: int | None = None
    train_seconds: float | None = None
    command: str | None = None
    stages: tuple[Stage, ...] = ()  # a fine-tuned model's training runs, first first
    notes: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    per_class: pd.DataFrame | None = None
    problems: tuple[str, ...] = ()

    @property
    def sha_short(self) -> str:
        """The first 12 hex digits of the checkpoint's sha256."""
        return self.sha256[:12]


def card_summary(loaded: LoadedModel, card: ModelCard | None) -> CardSummary:
    """Merge a model card (preferred) with what the checkpoint records (fallback).

    Parameters
    ----------
    loaded : LoadedModel
        The model whose card this is.
    card : ModelCard or None
        :func:`card_beside`'s result; None when the model has no card yet.

    Returns
    -------
    CardSummary
    """
    meta = dict(loaded.meta)
    given = card if card is not None else ModelCard(name="", file="")  # every field empty: meta decides
    problems: list[str] = []
    per_class, metrics = None, _numeric(loaded.metrics)
    if given.report is not None:
        try:
            report = given.metric_report()
            per_class, metrics = per_class_table(report), report_metrics(report)
        except (FervizError, KeyError, ValueError, TypeError) as exc:
            problems.append(f"the card's metric report could not be read ({exc})")
            log.warning("model card of %s: unreadable report: %s", loaded.path.name, exc)
    settings = meta.get("train") if isinstance(meta.get("train"), dict) else {}
    seconds = given.training_seconds
    return CardSummary(
        name=given.name or loaded.path.stem, variant=given.variant or loaded.variant,
        sha256=loaded.sha256, source="model card" if card is not None else "checkpoint",
        labels=tuple(loaded.labels), input_mode=loaded.preprocessing.input_mode,
        n_params=sum(p.numel() for p in loaded.model.parameters()),
        dataset=_text(given.dataset or meta.get("data") or meta.get("dataset")),
        train_split=_text(given.train_split or meta.get("train_split")),
        selected_on=_text(given.selected_on or meta.get("select_split")),
        recipe=_text(given.recipe or meta.get("recipe")),
        epochs=_int(given.epochs or settings.get("epochs")), best_epoch=_int(meta.get("epoch")),
        train_seconds=float(seconds) if seconds is not None else None,
        command=_text(given.command or meta.get("command")), stages=given.stages, notes=given.notes,
        metrics=metrics, settings=_flatten(settings), per_class=per_class, problems=tuple(problems))


def report_metrics(report: MetricReport) -> dict[str, float]:
    """Headline numbers of a report: overall accuracy (eq. 26) then its extra scores (macro F1, ...)."""
    return {"accuracy": float(report.accuracy), **_numeric(report.scores)}


def per_class_table(report: MetricReport) -> pd.DataFrame:
    """Support and per-class precision, recall, specificity and F1 in percent (one decimal)."""
    table = report.per_class_frame()[_PER_CLASS_COLUMNS].copy()
    rates = _PER_CLASS_COLUMNS[1:]
    table[rates] = (table[rates].astype(float) * 100).round(1)
    table["support"] = table["support"].astype(int)
    return table


def ordered_metrics(metrics: dict[str, float]) -> list[tuple[str, str, str]]:
    """``(key, display name, formatted value)`` per metric, known ones first in :data:`METRIC_NAMES` order."""
    keys = [k for k in METRIC_NAMES if k in metrics] + sorted(k for k in metrics if k not in METRIC_NAMES)
    return [(k, METRIC_NAMES.get(k, k.replace("_", " ").capitalize()), format_metric(k, metrics[k]))
            for k in keys]


def format_metric(key: str, value: float) -> str:
    """A fraction as percent with one decimal ("43.3 %"); losses and values outside [0, 1] as numbers."""
    if key in _NOT_FRACTIONS or not 0.0 <= value <= 1.0:
        return f"{value:.3f}"
    return f"{value * 100:.1f} %"


def details_frame(summary: CardSummary) -> pd.DataFrame:
    """Two string columns, ``field`` and ``value``: the card's facts in reading order (missing skipped)."""
    rows = [("data", summary.dataset), ("trained on split", summary.train_split),
            ("selected on split", summary.selected_on), ("recipe", summary.recipe),
            ("epochs", summary.epochs), ("selected epoch", summary.best_epoch),
            ("training time", f"{summary.train_seconds / 60:.1f} min" if summary.train_seconds else None),
            ("input", f"{summary.input_mode}, 64x64 face crops"), ("parameters", f"{summary.n_params:,}"),
            ("classes", ", ".join(summary.labels)), ("sha256", summary.sha_short),
            ("command", summary.command)]
    if len(summary.stages) > 1:  # fine-tuned: say so, and give every stage's command in order
        def count(s: Stage) -> str:
            return "?" if s.epochs is None else str(s.epochs)
        beside = [count(s) for s in summary.stages if s.parallel]
        epochs = " + ".join(count(s) for s in summary.stages if not s.parallel) + (
            f" (the last beside {len(beside)} parallel run(s) of {', '.join(beside)})" if beside else "")
        rows = [("epochs", f"{epochs}; each stage starts from the previous one's shipped weights")
                if k == "epochs" else (k, v) for k, v in rows if k != "command"]
        rows += [(f"command, stage {k}" + (" (parallel run)" if s.parallel else ""), s.command)
                 for k, s in enumerate(summary.stages, 1)]
    return pd.DataFrame([(k, str(v)) for k, v in rows if v not in (None, "")], columns=["field", "value"])


def settings_frame(summary: CardSummary) -> pd.DataFrame:
    """The training settings recorded in the checkpoint as ``setting`` / ``value`` strings."""
    return pd.DataFrame([(k, str(v)) for k, v in summary.settings.items()], columns=["setting", "value"])


def reported_accuracy(dataset: str | None) -> tuple[str, float] | None:
    """The paper's reported accuracy for the dataset a card names, if it is one of the paper's four.

    Parameters
    ----------
    dataset : str or None
        A dataset name as a card gives it (case and punctuation ignored, e.g. ``"ck+"``, ``"RAF-DB"``).

    Returns
    -------
    tuple of (str, float) or None
        The paper's dataset name and its accuracy in percent (Table 4); None for another dataset.
    """
    if not dataset:
        return None
    flat = re.sub(r"[^a-z0-9]", "", dataset.lower())
    table = dict(zip(DATASETS, TABLES["accuracy"][1][PROPOSED], strict=True))
    for name in sorted(DATASETS, key=len, reverse=True):
        if re.sub(r"[^a-z0-9]", "", name.lower()) in flat:
            return name, table[name]
    return None


def _numeric(values: dict) -> dict[str, float]:
    """The entries of ``values`` that are real numbers (bools excluded), as floats."""
    return {str(k): float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def _flatten(values: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level with dotted keys; empty strings dropped."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif value != "":
            out[f"{prefix}{key}"] = value
    return out


def _text(value: Any) -> str | None:
    """A card or checkpoint value as one display string: lists joined with spaces, dicts as ``k=v`` pairs."""
    if value in (None, "", [], {}):
        return None
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None

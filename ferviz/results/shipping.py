"""Shipping a model: ``ferviz ship`` writes the checkpoint, its card and the card's Markdown into ``models/``.

``ferviz ship --run runs/X --name NAME --data PATH`` copies ``runs/X/best.pt`` to ``models/NAME.pt``,
evaluates it on the split it was selected on, and writes ``models/NAME.json`` (machine-readable card, incl.
sha256, verified on every load; read by :mod:`ferviz.results.modelcard`) and ``models/NAME.md``
(human-readable). Every number in a card is computed here from the files; nothing is typed in by hand.
Commands and paths in a card are repository-relative (:func:`portable`), so a card reads the same on
every machine.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferviz.errors import CheckpointError
from ferviz.model.checkpoint import card_path, file_sha256, load_checkpoint
from ferviz.paths import file_name, portable_tree
from ferviz.results.modelcard import ModelCard, ModelCardError, Stage, card_beside, read_card
from ferviz.train.adjust import describe_adjustment
from ferviz.train.engine import teacher_paths
from ferviz.train.swa import describe_average, run_folder

if TYPE_CHECKING:
    from ferviz.results.evaluation import Evaluation

log = logging.getLogger(__name__)



def run_summary(run_dir: Path) -> dict:
    """Recipe, command, epochs and wall time of a training run, from its run.json and log.csv.

    Raises
    ------
    CheckpointError
        When ``run_dir`` is not a training run with a completed epoch.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file():
        raise CheckpointError(f"{run_dir}: not a training run (no run.json); name the --out folder of a "
                              "`ferviz train` run")
    try:
        info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        with open(run_dir / "log.csv", newline="", encoding="utf-8") as log:
            rows = list(csv.DictReader(log))
    except FileNotFoundError:
        rows = []
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{run_dir}: cannot read the run's run.json or log.csv ({exc})") from None
    if not rows:
        raise CheckpointError(f"{run_dir}: no completed epoch in log.csv yet; ship the run once it has one "
                              "(`ferviz train ... --resume` continues it)")
    lacking = [key for key in ("variant", "train", "argv") if key not in info]
    if lacking:
        raise CheckpointError(f"{run_dir}: run.json lacks {', '.join(lacking)}; it was not written by `ferviz train`")
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
               run_file: str = "best.pt", average_command: str = "", adjust_command: str = "",
               levers: list[dict] | tuple[dict, ...] = (), parallel: list[dict] | tuple[dict, ...] = (),
               domains: list[dict] | tuple[dict, ...] = ()) -> ModelCard:
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
    run_file, average_command, adjust_command, levers, domains
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
        run_file=run_file, average_command=average_command, adjust_command=adjust_command,
        levers=tuple(levers), domains=tuple(domains),
        path=card_path(ckpt))


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
             *(["- decision rule adjusted after training (`ferviz adjust`, the reproduce block's last step "
                "before shipping; the note at the end says how)"] if card.adjust_command else []),
             *([f"- adjusted again after it was first shipped, and re-shipped under its name (the reproduce block's "
                f"last {len(card.after_ship)} lines; the numbers above are measured on the re-shipped file)"]
               if card.after_ship else []),
             f"- sha256 `{card.sha256}` (verified on load)", "", "Reproduce:", "", "```",
             *[line for s in card.stages[:-1] for line in (s.command, s.average) if line], card.command,
             *([card.average_command] if card.average_command else []),
             *([card.adjust_command] if card.adjust_command else []),
             f"ferviz ship --run <OUT> --name {card.name} --data <fer2013 copy>"
             + (f" --checkpoint {card.run_file}" if card.run_file != "best.pt" else ""), *card.after_ship, "```", "",
             "| class | precision | recall | specificity | F1 | support |", "|---|---|---|---|---|---|"]
    for row in report["per_class"]:
        lines.append(f"| {row['class']} | {row['precision'] * 100:.1f} | {row['recall'] * 100:.1f} | "
                     f"{row['specificity'] * 100:.1f} | {row['f1'] * 100:.1f} | {row['support']} |")
    lines += ["", "Confusion matrix (rows true, columns predicted): " + ", ".join(report["class_names"]), "",
              "```"]
    lines += [" ".join(f"{v:5d}" for v in row) for row in report["confusion"]]
    lines += ["```", ""]
    lines += _lever_lines(card.levers)
    lines += _domain_lines(card.domains)
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


def _domain_lines(domains: tuple[dict[str, Any], ...]) -> list[str]:
    """The domain table as markdown (nothing without one): accuracy / macro-F1 per model and domain."""
    if not domains:
        return []
    from ferviz.results.domains import DOMAINS, domain_markdown

    present = [d for d in DOMAINS if any(row.get("domain") == d for row in domains)]
    return ["## By domain (accuracy / macro-F1, %; measured when this model was shipped)", "",
            *[f"- `{d}`: {DOMAINS[d]}" for d in present], "", domain_markdown(domains), ""]


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
         checkpoint: str = "best.pt", levers: list[dict] | tuple[dict, ...] = (),
         domains: list[dict] | tuple[dict, ...] = ()) -> ModelCard:
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
    domains : list of dict, optional
        The domain table to carry (:class:`ferviz.results.domains.DomainScore` rows, as records).

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
    made = describe_average(loaded.meta)  # the commands: in the reproduce block
    notes = " ".join(filter(None, [made, describe_adjustment(loaded.meta), notes]))
    card = build_card(name, target, run, evaluation, notes, run_file=checkpoint,
                      average_command=str(loaded.meta.get("average_command") or ""),
                      adjust_command=str(loaded.meta.get("adjust_command") or ""), levers=levers,
                      parallel=beside, domains=domains)
    card = ModelCard.from_dict(portable_tree(card.to_dict()), card.path)  # no machine's absolute paths
    card.path.write_text(json.dumps(card.to_dict(), indent=1))
    target.with_suffix(".md").write_text(card_markdown(card))
    return card


def reship(checkpoint: Path, name: str, evaluation_fn, models_dir: Path, *, command: str,
           levers: list[dict] | tuple[dict, ...] = (), domains: list[dict] | tuple[dict, ...] = ()) -> ModelCard:
    """Ship ``checkpoint``, made from the shipped model ``name`` by ``ferviz adjust``, under the same name.

    The weights' training is unchanged, so the card keeps its training record (stages, history, commands);
    it gets the new file's sha256, a report measured on the new checkpoint, the note on its adjustment, and
    the adjustment's and this re-ship's commands (``after_ship``) at the end of its reproduce block.

    Parameters
    ----------
    checkpoint : Path
        The adjusted checkpoint; its meta's ``adjust_command`` must continue the shipped card's (the commands
        the shipped model was adjusted with come first).
    name : str
        The shipped model's name (``models_dir/<name>.pt`` and its card).
    evaluation_fn : callable
        As for :func:`ship`: the new checkpoint's :class:`~ferviz.model.checkpoint.LoadedModel` -> its
        :class:`~ferviz.results.evaluation.Evaluation` on the split the card reports.
    models_dir : Path
    command : str
        This re-ship's command line, recorded in the card.
    levers, domains : list of dict, optional
        As for :func:`ship`.

    Raises
    ------
    CheckpointError
        When ``name`` is not shipped with a card, or ``checkpoint`` was not adjusted from it.
    """
    from ferviz.paths import portable

    target = models_dir / f"{name}.pt"
    if not target.is_file() or not card_path(target).is_file():
        raise CheckpointError(f"{target}: no shipped model with a card to re-ship; ship the run first (ferviz ship "
                              "--run)")
    old = read_card(card_path(target))
    before = load_checkpoint(target)  # verified against its card
    adjusted = load_checkpoint(checkpoint, verify=False)
    commands = [line for line in str(adjusted.meta.get("adjust_command") or "").splitlines() if line.strip()]
    shipped = [line for line in old.adjust_command.splitlines() if line.strip()]
    if len(commands) <= len(shipped) or [portable(c) for c in commands[:len(shipped)]] != \
            [portable(c) for c in shipped]:
        raise CheckpointError(f"{checkpoint} was not made from the shipped {name} by `ferviz adjust` (its adjust "
                              f"commands do not continue the card's); ship a training run with ferviz ship --run")
    evaluation = evaluation_fn(adjusted)  # before anything is replaced: a failure leaves the shipped model as it was
    staged = target.with_name(f".{target.name}.reship")
    shutil.copyfile(checkpoint, staged)
    card_path(target).unlink()  # the old card's sha256 no longer applies
    staged.replace(target)
    was, now = describe_adjustment(before.meta), describe_adjustment(adjusted.meta)
    notes = tuple(note.replace(was, now) for note in old.notes) if was and any(was in n for n in old.notes) \
        else (*old.notes, now)
    card = replace(old, sha256=file_sha256(target), report=evaluation.report.to_dict(), notes=notes,
                   after_ship=(*old.after_ship, *commands[len(shipped):], command),
                   levers=tuple(levers) or old.levers, domains=tuple(domains) or old.domains)
    card = ModelCard.from_dict(portable_tree(card.to_dict()), card.path)
    card.path.write_text(json.dumps(card.to_dict(), indent=1))
    target.with_suffix(".md").write_text(card_markdown(card))
    return card


def _named_shas(tree: Any):
    """Every (model file, sha256) pair a report's JSON records, at any depth."""
    if isinstance(tree, dict):
        if isinstance(tree.get("model"), str) and isinstance(tree.get("sha256"), str):
            yield tree["model"], tree["sha256"]
        for value in tree.values():
            yield from _named_shas(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _named_shas(value)


def stale_reports(models_dir: Path, name: str | None = None) -> list[tuple[Path, str, str | None]]:
    """The committed reports (``models_dir/reports/**.json``) that name a shipped model's file, ``name.pt``
    or any, with a sha256 other than its card's: each as (report path, model file name, the report's
    ``command`` to make it again, if it records one). The Evaluate page finds a report by the checkpoint's
    sha256, so after a model is re-shipped these are no longer shown for it until they are made again."""
    shipped = {}
    for card in sorted(Path(models_dir).glob("*.json")):
        if card.with_suffix(".pt").is_file() and (name is None or card.stem == name):
            try:
                shipped[card.with_suffix(".pt").name] = read_card(card).sha256
            except ModelCardError:
                continue  # not a card, or one being written
    stale = []
    for path in sorted((Path(models_dir) / "reports").rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for model, sha in _named_shas(data):
            file = file_name(model)
            if file in shipped and sha != shipped[file]:
                command = data.get("command") if isinstance(data, dict) else None
                stale.append((path, file, command if isinstance(command, str) else None))
                break
    return stale

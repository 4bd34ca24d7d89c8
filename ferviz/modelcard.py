"""Model cards: ship a trained run's best checkpoint into ``models/`` with its measured report.

``ferviz ship --run runs/X --name NAME --data PATH`` copies ``runs/X/best.pt`` to ``models/NAME.pt``,
evaluates it on the split it was selected on, and writes ``models/NAME.json`` (machine-readable card,
incl. sha256, verified on every load) and ``models/NAME.md`` (human-readable). Every number in a card is
computed here from the files; nothing is typed in by hand.
"""

from __future__ import annotations

import csv
import json
import platform
import shutil
from pathlib import Path

from ferviz.checkpoint import file_sha256, load_checkpoint
from ferviz.evaluation import Evaluation


def run_summary(run_dir: Path) -> dict:
    """Recipe, command, epochs and wall time of a training run, from its run.json and log.csv."""
    info = json.loads((run_dir / "run.json").read_text())
    rows = list(csv.DictReader(open(run_dir / "log.csv")))
    best = max(rows, key=lambda r: int(r["best"]) * int(r["epoch"]))
    init = info["train"].get("init") or ""
    init_dir = Path(init).parent
    return {"variant": info["variant"], "train": info["train"], "argv": info["argv"], "meta": info.get("meta", {}),
            "init_run": run_summary(init_dir) if init and (init_dir / "run.json").is_file() else None,
            "epochs_run": len(rows), "best_epoch": int(best["epoch"]),
            "train_seconds": round(sum(float(r["seconds"]) for r in rows)),
            "images_per_s": round(sum(float(r["images_per_s"]) for r in rows) / len(rows)),
            "history": [{k: float(v) for k, v in r.items()} for r in rows]}


def stages(run: dict) -> list[dict]:
    """The runs that led to ``run``, first stage first: a fine-tuned run (``--init``) lists its start too."""
    earlier = stages(run["init_run"]) if run.get("init_run") else []
    return [*earlier, {"command": " ".join(run["argv"]), "epochs": run["epochs_run"], "best_epoch": run["best_epoch"],
                       "train_seconds": run["train_seconds"], "init": run["train"].get("init", ""),
                       "teacher": run["train"].get("teacher", "")}]


def build_card(name: str, ckpt: Path, run: dict, evaluation: Evaluation, notes: str = "") -> dict:
    report = evaluation.report
    meta = run["meta"]
    steps = stages(run)
    return {"name": name, "file": ckpt.name, "variant": run["variant"], "sha256": file_sha256(ckpt),
            "dataset": report.meta.get("dataset") or meta.get("dataset", ""), "data_file": meta.get("data", ""),
            "train_split": meta.get("train_split", ""), "selected_on": meta.get("select_split", ""),
            "recipe": meta.get("recipe", ""), "train_config": run["train"],
            "command": " ".join(run["argv"]), "epochs": run["epochs_run"], "best_epoch": run["best_epoch"],
            "train_seconds": run["train_seconds"], "images_per_s": run["images_per_s"],
            "machine": " ".join(filter(None, [platform.machine(), platform.processor(), f"({_cpu_count()} cores)"])),
            "stages": steps, "total_train_seconds": sum(s["train_seconds"] for s in steps),
            "history": run["history"], "report": report.to_dict(), "notes": notes}


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 0


def card_markdown(card: dict) -> str:
    report = card["report"]
    acc = report["accuracy"] * 100
    f1 = report["macro"]["f1"] * 100
    lines = [f"# {card['name']}", "", f"Variant `{card['variant']}`, trained on {card['dataset']} "
             f"{card['train_split']}, best epoch selected on **{card['selected_on']}** "
             f"(so these numbers are selection-split numbers, not a held-out test).", "",
             f"- accuracy **{acc:.2f} %**, macro-F1 **{f1:.2f} %** on {card['selected_on']} "
             f"({report['n']} images)",
             f"- recipe `{card['recipe']}`; {card['epochs']} epochs, best at {card['best_epoch']}; "
             f"{card['train_seconds'] / 60:.0f} min on {card['machine']} (~{card['images_per_s']} img/s)",
             *_stage_lines(card),
             f"- sha256 `{card['sha256']}` (verified on load)", "", "Reproduce:", "", "```",
             *[s["command"] for s in card.get("stages", [])[:-1]], card["command"],
             f"ferviz ship --run <OUT> --name {card['name']} --data <fer2013 copy>", "```", "",
             "| class | precision | recall | specificity | F1 | support |", "|---|---|---|---|---|---|"]
    for row in report["per_class"]:
        lines.append(f"| {row['class']} | {row['precision'] * 100:.1f} | {row['recall'] * 100:.1f} | "
                     f"{row['specificity'] * 100:.1f} | {row['f1'] * 100:.1f} | {row['support']} |")
    lines += ["", "Confusion matrix (rows true, columns predicted): " + ", ".join(report["class_names"]), "", "```"]
    lines += [" ".join(f"{v:5d}" for v in row) for row in report["confusion"]]
    lines += ["```", ""]
    if card.get("notes"):
        lines += [card["notes"], ""]
    return "\n".join(lines)


def _stage_lines(card: dict) -> list[str]:
    """Where training started from, and any teacher, in words (empty for a single from-scratch run)."""
    steps = card.get("stages", [])
    lines = []
    last = steps[-1] if steps else {}
    if last.get("init"):
        lines.append(f"- fine-tuned from `{Path(last['init']).name}` of an earlier run"
                     + (f" ({len(steps) - 1} earlier stage(s), commands below; "
                        f"{card['total_train_seconds'] / 60:.0f} min of training in all)" if len(steps) > 1 else ""))
    if last.get("teacher"):
        kd = card.get("train_config", {})
        lines.append(f"- knowledge distillation from teacher `{Path(last['teacher']).name}` "
                     f"(T = {kd.get('kd_temperature')}, weight {kd.get('kd_alpha')})")
    return lines


def ship(run_dir: Path, name: str, evaluation_fn, models_dir: Path, notes: str = "") -> dict:
    """Copy ``run_dir/best.pt`` to ``models_dir/name.pt``, evaluate it, write the card (.json + .md)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / f"{name}.pt"
    shutil.copyfile(run_dir / "best.pt", target)
    target.with_suffix(".json").unlink(missing_ok=True)  # the old card's sha256 no longer applies
    evaluation = evaluation_fn(load_checkpoint(target))
    card = build_card(name, target, run_summary(run_dir), evaluation, notes)
    target.with_suffix(".json").write_text(json.dumps(card, indent=1))
    target.with_suffix(".md").write_text(card_markdown(card))
    return card

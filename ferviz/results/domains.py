"""How each model does by domain: FER2013 (its own labels and FER+'s majority), CK+, JAFFE, web photos.

A FER2013 score alone says little about a demo on real people: FER2013's labels are noisy (one
annotator per face; FER+'s ten annotators' majority disagrees with a third of them) and its faces are
small, centred, gray web crops. The domain table puts, for every model on the same rows:

* ``fer2013`` — FER2013 PublicTest, FER2013's labels;
* ``ferplus`` — the PublicTest faces that have a FER+ majority, scored against that majority;
* ``ckplus``, ``jaffe`` — posed lab faces never trained on (the classes each shares with the model);
* ``photos`` — held-out colour web photos (UTKFace) without expression labels: agreement with the
  photo teacher (face-api.js's expression network), which learnt from web photos.

:func:`domain_table` computes it; :func:`write_domains` / :func:`read_domains` keep it as JSON in
``models/reports/domains/domains.json`` (for the card, README and Compare).
"""

from __future__ import annotations

import functools
import json
import logging
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ferviz.data.ferplus import load_votes, votes_beside, votes_for_sources
from ferviz.data.labels import EMOTIONS
from ferviz.model.checkpoint import LoadedModel
from ferviz.results.metrics import compute_report

log = logging.getLogger(__name__)

DOMAINS_FILE = "domains/domains.json"  # under models/reports/: what cards, the README and Compare show
#: The default model at several logit-adjustment strengths (``ferviz adjust``), one "model" per tau
#: named ``tau_<value>``; under models/reports/ beside the domain table.
ADJUSTMENT_FILE = "domains/logit_adjustment.json"
#: The default beside models fine-tuned from it on FER+'s vote distributions alone (``ferplus_only_*``): what
#: reaching FER+'s majority costs elsewhere; under models/reports/ beside the domain table.
FERPLUS_ONLY_FILE = "domains/ferplus_only.json"
#: The default's last stage run again for a few epochs from the default, as it is (``recipe_control``) and with
#: one part of its recipe changed (``recipe_*``): whether that part moves the trade-off; beside the domain table.
RECIPE_PARTS_FILE = "domains/recipe_parts.json"
#: The same runs with the default as a distillation teacher as well (``self_kd*``): whether anchoring the
#: fine-tune on the default's own (adjusted) outputs keeps it off the common-class prior; beside the domain table.
SELF_DISTIL_FILE = "domains/self_distil.json"
#: The FER+-majority accuracy (percent, held-out FER2013 faces) the real-faces default aims at.
FERPLUS_TARGET = 85.0
#: Domain key -> what the column means (the strings the JSON, the card and Compare share).
DOMAINS: dict[str, str] = {
    "fer2013": "FER2013 PublicTest, FER2013 labels",
    "ferplus": "FER2013 PublicTest, FER+ majority of 10 annotators",
    "ckplus": "CK+48 (posed, lab; shared classes)",
    "jaffe": "JAFFE (posed, lab; shared classes)",
    "photos": "web photos (UTKFace held-out 20 %): agreement with face-api.js",
}


@dataclass(frozen=True)
class DomainScore:
    """One model on one domain: accuracy (or agreement) and macro-F1 over ``n`` items."""

    model: str
    domain: str
    accuracy: float
    macro_f1: float
    n: int
    per_class_recall: dict[str, float] = field(default_factory=dict)


def scores_from(model: str, domain: str, y_true: np.ndarray, probs: np.ndarray, labels: list[str]) -> DomainScore:
    """A :class:`DomainScore` from labels (indices into ``labels``) and (N, K) probabilities.

    Macro-F1 is the mean F1 over the classes present in ``y_true`` (a lab set without neutral faces is
    not scored on neutral), so it is comparable between a 7-class model and a 6-class data set.
    """
    report = compute_report(np.asarray(y_true), None, labels, probs=np.asarray(probs))
    present = [row for row in report.per_class if row["support"] > 0]
    recall = {row["class"]: round(float(row["recall"]), 4) for row in present}
    macro_f1 = float(np.mean([row["f1"] for row in present])) if present else float("nan")
    return DomainScore(model, domain, float(report.accuracy), macro_f1, int(len(y_true)), recall)


def ferplus_scores(model: str, probs: np.ndarray, sources: np.ndarray, labels: list[str],
                   data_path: str | Path) -> DomainScore:
    """Score PublicTest probabilities against FER+'s majority (faces without one are left out)."""
    votes = votes_for_sources(load_votes(votes_beside(data_path)), sources)
    majority = votes.majority
    index = {name: i for i, name in enumerate(labels)}
    y = np.array([index.get(EMOTIONS[m], -1) if m >= 0 else -1 for m in majority])
    keep = y >= 0
    return scores_from(model, "ferplus", y[keep], probs[keep], labels)


def agreement_scores(model: str, probs: np.ndarray, teacher_probs: np.ndarray, labels: list[str]) -> DomainScore:
    """Top-1 agreement (and macro-F1 treating the teacher's top class as the label) with a teacher."""
    index = {name: i for i, name in enumerate(labels)}
    teacher_top = np.array([index.get(EMOTIONS[k], -1) for k in np.asarray(teacher_probs).argmax(1)])
    keep = teacher_top >= 0
    return scores_from(model, "photos", teacher_top[keep], np.asarray(probs)[keep], labels)


def domain_table(models: dict[str, LoadedModel], *, fer2013: str | Path | None = None,
                 ckplus: str | Path | None = None, jaffe: str | Path | None = None,
                 photos: tuple[np.ndarray, np.ndarray] | None = None,
                 progress: Callable[[str], None] | None = None) -> list[DomainScore]:
    """Every model on every domain whose data is given.

    Parameters
    ----------
    models : dict name -> LoadedModel
    fer2013, ckplus, jaffe : paths of the archives (``fer2013_trainval.npz``: PublicTest is used, and
        ``ferplus_votes.npz`` beside it for the ``ferplus`` column)
    photos : (faces, teacher_probs), optional
        Held-out photo face crops ((N, S, S) gray or (N, S, S, 3) colour uint8) and the teacher's
        (N, 7) probabilities in FER2013 order.
    """
    from ferviz.data.datasets import load_dataset
    from ferviz.pipeline.inference import classify_crops
    from ferviz.results.evaluation import evaluate

    out: list[DomainScore] = []
    sets = {}
    if fer2013:
        sets["fer2013"] = load_dataset("npz", fer2013).split("PublicTest")
    if ckplus:
        sets["ckplus"] = load_dataset("npz", ckplus)
    if jaffe:
        sets["jaffe"] = load_dataset("npz", jaffe)
    for name, loaded in models.items():
        for domain, ds in sets.items():
            if progress:
                progress(f"{name} on {domain}")
            ev = evaluate(loaded, ds)
            out.append(scores_from(name, domain, ev.y_true, ev.probs, loaded.labels))
            if domain == "fer2013":
                out.append(ferplus_scores(name, ev.probs, ev.dataset.source, loaded.labels, fer2013))
        if photos is not None:
            if progress:
                progress(f"{name} on photos")
            faces, teacher = photos
            out.append(agreement_scores(name, classify_crops(loaded, faces), teacher, loaded.labels))
    return out


#: The metrics a domain table can show: :class:`DomainScore` field (or ``balanced_accuracy``, the mean of its
#: per-class recalls, :func:`balanced_accuracy`) -> what it is, in words (Compare's choices).
TABLE_METRICS: dict[str, str] = {
    "accuracy": "accuracy (agreement for photos)",
    "macro_f1": "macro-F1",
    "balanced_accuracy": "balanced accuracy (mean recall: every expression weighted alike)",
}


def table_frame(scores: list[DomainScore], metric: str = "accuracy") -> pd.DataFrame:
    """Models as rows, domains as columns (in :data:`DOMAINS` order), values in percent (unrounded: a
    reader rounds once, as the cards do, so a table and a card never differ in the last digit). ``metric`` is
    a key of :data:`TABLE_METRICS`."""
    if metric not in TABLE_METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(TABLE_METRICS)}")
    if not scores:
        return pd.DataFrame()
    frame = pd.DataFrame([{**asdict(s), "balanced_accuracy": balanced_accuracy(s)} for s in scores])
    wide = frame.pivot_table(index="model", columns="domain", values=metric, aggfunc="first", dropna=False) * 100
    return wide[[d for d in DOMAINS if d in wide.columns]]


def recall_frame(scores: list[DomainScore], model: str) -> pd.DataFrame:
    """One model's recall of each expression on each domain it was scored on: domains as rows (in
    :data:`DOMAINS` order), classes as columns (FER2013 order), percent; NaN where a domain has no item of
    that class (CK+ has no neutral). On ``photos`` it is recall against the teacher's label."""
    rows = {s.domain: s.per_class_recall for s in scores if s.model == model}
    domains = [d for d in DOMAINS if d in rows]
    frame = pd.DataFrame([{e: 100 * rows[d].get(e, np.nan) for e in EMOTIONS} for d in domains],
                         index=domains, columns=list(EMOTIONS), dtype=float)
    return frame.dropna(axis=1, how="all")


def write_domains(scores: list[DomainScore], path: str | Path, command: str = "",
                  ferplus_counts: dict[str, int] | None = None) -> Path:
    """Write the table as JSON, merged with the models already in ``path``.

    The rows of the models measured now replace theirs; other models' rows are kept, each with the
    command that measured it (``commands``: model -> command), so one file can grow a model at a time.
    ``ferplus_counts`` (:func:`ferplus_class_counts`: the faces per class the ``ferplus`` column scores) is
    written beside them, for the standard errors of balanced accuracy; the file's earlier counts are kept
    when none are given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    now = {s.model for s in scores}
    old = json.loads(path.read_text()) if path.is_file() else {}
    kept = [row for row in old.get("scores", []) if row.get("model") not in now]
    commands = {m: c for m, c in old.get("commands", {}).items() if m not in now}
    commands.update({m: command for m in sorted(now)})
    data = {"kind": "domains", "domains": DOMAINS, "commands": commands,
            "machine": f"{platform.machine()}, Python {platform.python_version()}",
            **({"ferplus_counts": counts} if (counts := ferplus_counts or old.get("ferplus_counts")) else {}),
            "scores": kept + [asdict(s) for s in scores]}
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def read_domains(path: str | Path) -> list[DomainScore]:
    """The scores of a :func:`write_domains` file; ``[]`` if it does not exist."""
    path = Path(path)
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    return [DomainScore(**row) for row in data.get("scores", [])]


def read_ferplus_counts(path: str | Path) -> dict[str, int]:
    """The ``ferplus_counts`` a :func:`write_domains` file records ({} without them, or without the file)."""
    path = Path(path)
    if not path.is_file():
        return {}
    counts = json.loads(path.read_text()).get("ferplus_counts") or {}
    return {str(name): int(n) for name, n in counts.items()}


def domain_records(models_dir: str | Path) -> list[dict]:
    """The committed domain table of ``models_dir`` as plain rows, for a model card (``[]`` without one)."""
    return [asdict(s) for s in read_domains(Path(models_dir) / "reports" / DOMAINS_FILE)]


def domain_markdown(rows: list[dict] | tuple[dict, ...]) -> str:
    """Domain-table rows (:class:`DomainScore` fields) as Markdown: one row per model, in the order first seen,
    "accuracy / macro-F1" (percent) per domain measured, "—" where a model was not measured."""
    present = [d for d in DOMAINS if any(row.get("domain") == d for row in rows)]
    cell = {(row.get("model"), row.get("domain")): row for row in rows}
    lines = ["| model | " + " | ".join(present) + " |", "|---|" + "---:|" * len(present)]
    for model in dict.fromkeys(row.get("model", "") for row in rows):
        values = [cell.get((model, d)) for d in present]
        lines.append(f"| {model} | " + " | ".join(
            f"{v['accuracy'] * 100:.1f} / {v['macro_f1'] * 100:.1f}" if v else "—" for v in values) + " |")
    return "\n".join(lines)


#: Domain key -> its short heading (lever table, Home's headline).
DOMAIN_SHORT = {"fer2013": "FER2013 labels", "ferplus": "FER+ majority", "ckplus": "CK+ (posed)",
                "jaffe": "JAFFE (posed)", "photos": "photos (face-api.js)"}
#: The columns of the lever table.
LEVER_DOMAINS = {d: DOMAIN_SHORT[d] for d in ("fer2013", "ferplus", "photos")}


def domain_headline(rows: list[dict] | tuple[dict, ...], model: str, baseline: str | None = None) -> pd.DataFrame:
    """One model's domain rows as a headline: one row per domain it was measured on, in :data:`DOMAINS` order.

    Parameters
    ----------
    rows : sequence of dict
        Domain-table rows (:class:`DomainScore` fields), as a model card carries them.
    model : str
        The model whose rows to take (its card name, e.g. ``real_dcnn_bilstm_dam``).
    baseline : str, optional
        A model to put beside it on the same domains (ignored when it is ``model`` or has no rows).

    Returns
    -------
    pandas.DataFrame
        Index: domain key. Columns ``short``, ``what``, ``n``, ``accuracy``, ``macro_f1`` (percent) and
        ``baseline_accuracy``, ``baseline_macro_f1`` (NaN without a baseline). Empty when ``model`` has no rows.
    """
    def scores(name: str) -> dict[str, dict]:
        return {r["domain"]: r for r in rows if r.get("model") == name and r.get("domain") in DOMAINS}

    own = scores(model)
    other = scores(baseline) if baseline and baseline != model else {}
    out = []
    for domain in (d for d in DOMAINS if d in own):
        row, base = own[domain], other.get(domain, {})
        out.append({"domain": domain, "short": DOMAIN_SHORT[domain], "what": DOMAINS[domain], "n": int(row["n"]),
                    "accuracy": 100 * row["accuracy"], "macro_f1": 100 * row["macro_f1"],
                    "baseline_accuracy": 100 * base["accuracy"] if base else np.nan,
                    "baseline_macro_f1": 100 * base["macro_f1"] if base else np.nan})
    columns = ["short", "what", "n", "accuracy", "macro_f1", "baseline_accuracy", "baseline_macro_f1"]
    return pd.DataFrame(out, columns=["domain", *columns]).set_index("domain")


def lever_frame(models_dir: str | Path) -> pd.DataFrame:
    """The real-faces lever table from ``models/reports/real_levers/``, in the script's lever order.

    One row per measured lever (``NAME.json`` is seed 0, ``NAME_seedS.json`` seed S): ``lever``, ``change``,
    ``seeds``, then per domain of :data:`LEVER_DOMAINS` ``<domain> acc`` and ``<domain> F1`` in percent
    (means over the seeds) and ``<domain> acc ±`` (half the seeds' accuracy range; NaN for one seed), and
    the FER+ recall of disgust and fear, the rarest classes (percent, mean); NaN where a domain was not
    measured. Empty when nothing is measured.
    """
    from ferviz.train.levers import REAL_LEVER_REPORTS, REAL_LEVERS

    folder = Path(models_dir) / "reports" / REAL_LEVER_REPORTS
    rows = []
    for name, change in REAL_LEVERS.items():
        files = [folder / f"{name}.json", *sorted(folder.glob(f"{name}_seed*.json"))]
        runs = [scores for f in files if (scores := {s.domain: s for s in read_domains(f)})]
        if not runs:
            continue
        row: dict = {"lever": name, "change": change, "seeds": len(runs)}
        for domain in LEVER_DOMAINS:
            got = [r[domain] for r in runs if domain in r]
            acc = [100 * s.accuracy for s in got]
            row[f"{domain} acc"] = round(float(np.mean(acc)), 1) if got else np.nan
            row[f"{domain} F1"] = round(float(np.mean([100 * s.macro_f1 for s in got])), 1) if got else np.nan
            row[f"{domain} acc ±"] = round((max(acc) - min(acc)) / 2, 1) if len(got) > 1 else np.nan
        for emotion in ("disgust", "fear"):
            recall = [100 * r["ferplus"].per_class_recall[emotion] for r in runs
                      if "ferplus" in r and emotion in r["ferplus"].per_class_recall]
            row[f"ferplus {emotion}"] = round(float(np.mean(recall)), 1) if recall else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def lever_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """The lever table as people read it (the README and Compare): one text cell per domain,
    "accuracy / macro-F1" (and "(±h)", half the seeds' accuracy range, when there are several), "—" where
    a domain was not measured."""
    def pair(a, b, spread=np.nan) -> str:
        if pd.isna(a):
            return "—"
        return f"{a:.1f} / {b:.1f}" + ("" if pd.isna(spread) else f" (±{spread:.1f})")

    rows = [{"lever": row["lever"], "change": row["change"], "seeds": int(row["seeds"]),
             **{title: pair(row[f"{d} acc"], row[f"{d} F1"], row[f"{d} acc ±"]) for d, title in LEVER_DOMAINS.items()},
             "FER+ disgust / fear recall": pair(row["ferplus disgust"], row["ferplus fear"])}
            for row in frame.to_dict("records")]
    return pd.DataFrame(rows)


def lever_markdown(frame: pd.DataFrame) -> str:
    """The lever table (:func:`lever_cells`) as the Markdown the README carries."""
    cells = lever_cells(frame)
    lines = ["| " + " | ".join(cells.columns) + " |", "|---|---|" + "---:|" * (len(cells.columns) - 2)]
    for row in cells.to_dict("records"):
        row["lever"] = f"`{row['lever']}`"
        lines.append("| " + " | ".join(str(v) for v in row.values()) + " |")
    return "\n".join(lines)


def adjustment_frame(models_dir: str | Path) -> pd.DataFrame:
    """The logit-adjustment sweep (:data:`ADJUSTMENT_FILE`): one row per tau, in increasing order.

    Columns: ``tau``, then per domain measured ``<domain> acc`` and ``<domain> F1`` (percent), and the FER+
    recall of disgust and fear (``ferplus disgust``, ``ferplus fear``, percent). Empty without the file.
    Rows whose model name is not ``tau_<number>`` are ignored.
    """
    by_tau: dict[float, dict] = {}
    for score in read_domains(Path(models_dir) / "reports" / ADJUSTMENT_FILE):
        if not score.model.startswith("tau_"):
            continue
        try:
            tau = float(score.model.removeprefix("tau_"))
        except ValueError:
            continue
        row = by_tau.setdefault(tau, {"tau": tau})
        row[f"{score.domain} acc"] = 100 * score.accuracy  # unrounded: the Markdown rounds once, as cards do
        row[f"{score.domain} F1"] = 100 * score.macro_f1
        if score.domain == "ferplus":
            for emotion in ("disgust", "fear"):
                row[f"ferplus {emotion}"] = 100 * score.per_class_recall.get(emotion, np.nan)
    if not by_tau:
        return pd.DataFrame()
    frame = pd.DataFrame([by_tau[t] for t in sorted(by_tau)])
    metrics = [f"{d} {m}" for d in DOMAINS for m in ("acc", "F1") if f"{d} {m}" in frame.columns]
    rest = [c for c in frame.columns if c not in metrics and c != "tau"]
    return frame[["tau", *metrics, *rest]]


def adjustment_choice(frame: pd.DataFrame, *, min_fer2013: float = 60.0, min_ferplus: float = 0.0) -> float | None:
    """The tau the default ships with, by its rule: among the sweep's rows (:func:`adjustment_frame`) whose
    FER2013-label accuracy is at least ``min_fer2013`` and FER+-majority accuracy at least ``min_ferplus``
    (percent), the one with the highest mean macro-F1 on CK+ and JAFFE, the labelled sets where every
    class is about as common. None when no row qualifies or a column is missing."""
    needed = ["fer2013 acc", "ferplus acc", "ckplus F1", "jaffe F1"]
    if frame.empty or any(c not in frame.columns for c in needed):
        return None
    ok = frame[(frame["fer2013 acc"] >= min_fer2013) & (frame["ferplus acc"] >= min_ferplus)]
    ok = ok.dropna(subset=["ckplus F1", "jaffe F1"])
    if ok.empty:
        return None
    return float(ok.loc[(ok["ckplus F1"] + ok["jaffe F1"]).idxmax(), "tau"])


def adjustment_markdown(frame: pd.DataFrame) -> str:
    """The sweep (:func:`adjustment_frame`) as the Markdown the README carries: accuracy / macro-F1 per domain."""
    domains = [d for d in DOMAINS if f"{d} acc" in frame.columns]
    lines = ["| tau | " + " | ".join(domains) + " | FER+ disgust / fear recall |",
             "|---:|" + "---:|" * (len(domains) + 1)]
    for row in frame.to_dict("records"):
        cells = [f"{row[f'{d} acc']:.1f} / {row[f'{d} F1']:.1f}" for d in domains]
        rare = (f"{row['ferplus disgust']:.1f} / {row['ferplus fear']:.1f}" if "ferplus disgust" in row
                and not pd.isna(row["ferplus disgust"]) else "—")
        lines.append(f"| {row['tau']:g} | " + " | ".join(cells) + f" | {rare} |")
    return "\n".join(lines)


def shipped_tau(models_dir: str | Path, name: str | None = None) -> float | None:
    """The tau a shipped model (default: the app's default model's file name) was adjusted by, as its checkpoint
    records it (``meta["logit_adjustment"]``, written by ``ferviz adjust``); None if it was not adjusted, or
    there is no readable checkpoint of that name."""
    done = _shipped(models_dir, name).get("meta", {}).get("logit_adjustment")
    return float(done["tau"]) if isinstance(done, dict) and "tau" in done else None


def shipped_views(models_dir: str | Path, name: str | None = None) -> str:
    """The test-time views a shipped model (default: the app's default) averages every prediction over, as its
    checkpoint records them (``ferviz adjust --tta``): ``"flip"``, or ``"none"`` (also with no readable
    checkpoint of that name)."""
    views = _shipped(models_dir, name).get("preprocessing", {}).get("tta")
    return views if isinstance(views, str) else "none"


def _shipped(models_dir: str | Path, name: str | None) -> dict:
    """The meta and preprocessing of a shipped model's checkpoint; {} when there is no readable one. Read once
    per version of the file (Compare asks on every rerun; a re-shipped file has a new modification time)."""
    from ferviz.paths import DEFAULT_MODEL

    path = Path(models_dir) / f"{name or DEFAULT_MODEL.stem}.pt"
    try:
        stat = path.stat()
    except OSError:
        return {}
    return _checkpoint_record(str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)


@functools.lru_cache(maxsize=8)
def _checkpoint_record(path: str, mtime_ns: int, size: int, inode: int) -> dict:
    """:func:`_shipped`'s read, keyed on the file's version (``mtime_ns``, ``size`` and ``inode`` only key the
    cache: a checkpoint is written to a new file and renamed over the old, so each write is a new inode)."""
    from ferviz.errors import CheckpointError
    from ferviz.model.checkpoint import read_checkpoint

    try:
        data = read_checkpoint(path)
    except CheckpointError:  # not a readable ferviz checkpoint
        return {}
    if not isinstance(data, dict):
        return {}
    return {"meta": data.get("meta") or {}, "preprocessing": data.get("preprocessing") or {}}


#: Where the points of :func:`tradeoff_frame` come from: report file (under models/reports/) -> its legend entry.
TRADEOFF_SOURCES = {DOMAINS_FILE: "shipped models and face-api.js",
                    ADJUSTMENT_FILE: "the default's last run at each tau",
                    FERPLUS_ONLY_FILE: "fine-tuned on FER+'s votes alone",
                    RECIPE_PARTS_FILE: "the default's last stage again, one part changed",
                    SELF_DISTIL_FILE: "the last stage again, also distilled from the default"}


def balanced_accuracy(score: DomainScore) -> float:
    """The mean of a score's per-class recalls: its accuracy on a set where every class present were equally
    common (NaN without per-class recalls). On ``ferplus`` it is the closest this project gets to a balanced set
    of in-the-wild faces judged by people: FER2013's faces, FER+'s majority, each expression weighted alike."""
    recalls = list(score.per_class_recall.values())
    return float(np.mean(recalls)) if recalls else float("nan")


def balanced_error(recall: dict[str, float], counts: dict[str, int]) -> float:
    """The standard error of a balanced accuracy (the mean of K per-class recalls, each a proportion of its
    class's ``counts``): sqrt(sum r (1 - r) / n) / K. ``recall`` and ``counts`` are keyed by class name."""
    if not recall:
        return float("nan")
    missing = [name for name in recall if not counts.get(name)]
    if missing:
        raise ValueError(f"no face count for class(es) {', '.join(missing)}")
    variance = sum(r * (1 - r) / counts[name] for name, r in recall.items())
    return float(np.sqrt(variance) / len(recall))


def ferplus_class_counts(data_path: str | Path) -> dict[str, int]:
    """PublicTest faces per class of FER+'s majority (the rows the ``ferplus`` column scores), by class name."""
    from ferviz.data.datasets import load_dataset

    public = load_dataset("npz", data_path).split("PublicTest")
    majority = votes_for_sources(load_votes(votes_beside(data_path)), public.source).majority
    kept = majority[(majority >= 0) & (majority < len(EMOTIONS))]
    return {name: int(n) for name, n in zip(EMOTIONS, np.bincount(kept, minlength=len(EMOTIONS)), strict=True)}


def tradeoff_frame(models_dir: str | Path, counts: dict[str, int] | None = None) -> pd.DataFrame:
    """Every model and decision rule measured by domain as one point: FER+-majority accuracy against the mean
    macro-F1 on CK+ and JAFFE, the labelled sets where every expression is about as common.

    Rows come from the files of :data:`TRADEOFF_SOURCES`, in that order; a model measured in an earlier file
    is not repeated, and a model without FER+, CK+ and JAFFE scores is left out. Columns (percent): ``family``
    (the legend entry), ``model``, ``ferplus`` (accuracy), ``posed`` (the mean of CK+'s and JAFFE's
    macro-F1), ``balanced`` (:func:`balanced_accuracy` against FER+'s majority), ``fer2013`` (accuracy,
    FER2013 labels) and ``photos`` (macro-F1 of agreement with face-api.js); NaN where not measured. Empty when
    nothing is. ``balanced_se`` is its standard error (:func:`balanced_error`, percent) from ``counts``
    (:func:`ferplus_class_counts`; default: the counts the domain table records), NaN without counts.
    """
    counts = counts or read_ferplus_counts(Path(models_dir) / "reports" / DOMAINS_FILE)
    columns = ["family", "model", "ferplus", "posed", "balanced", "balanced_se", "fer2013", "photos"]
    seen: set[str] = set()
    rows = []
    for file, family in TRADEOFF_SOURCES.items():
        by_model: dict[str, dict[str, DomainScore]] = {}
        for score in read_domains(Path(models_dir) / "reports" / file):
            by_model.setdefault(score.model, {})[score.domain] = score
        for model, got in by_model.items():
            if model in seen or not {"ferplus", "ckplus", "jaffe"} <= got.keys():
                continue
            seen.add(model)
            rows.append({"family": family, "model": model, "ferplus": 100 * got["ferplus"].accuracy,
                         "posed": 100 * (got["ckplus"].macro_f1 + got["jaffe"].macro_f1) / 2,
                         "balanced": 100 * balanced_accuracy(got["ferplus"]),
                         "balanced_se": (100 * balanced_error(got["ferplus"].per_class_recall, counts)
                                         if counts else np.nan),
                         "fer2013": 100 * got["fer2013"].accuracy if "fer2013" in got else np.nan,
                         "photos": 100 * got["photos"].macro_f1 if "photos" in got else np.nan})
    return pd.DataFrame(rows, columns=columns)


def balanced_markdown(frame: pd.DataFrame) -> str:
    """A :func:`tradeoff_frame` (with ``balanced_se``) as Markdown, highest balanced accuracy first: FER+-majority
    accuracy, balanced accuracy against FER+'s majority with its 95 % interval (± 1.96 standard errors), the
    posed sets' mean macro-F1 and FER2013-label accuracy, in percent."""
    lines = ["| model | FER+ majority | balanced, FER+ majority (95 % interval) | CK+/JAFFE macro-F1 "
             "| FER2013 labels |", "|---|---:|---:|---:|---:|"]
    for row in frame.sort_values("balanced", ascending=False, kind="stable").itertuples():
        half = 1.96 * row.balanced_se
        lines.append(f"| {row.model} | {row.ferplus:.1f} | {row.balanced:.1f} ({row.balanced - half:.1f}-"
                     f"{row.balanced + half:.1f}) | {row.posed:.1f} | {row.fer2013:.1f} |")
    return "\n".join(lines)

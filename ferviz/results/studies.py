"""The equal-budget training studies read from the committed reports: ablations, seed spreads, levers.

Each run of a study is one report (``kind`` ablation or lever, :data:`STUDY_KINDS`);
these tables set each run beside the full model (ablations) or the baseline recipe (levers) at the same
budget (epochs x training faces), with the seed spread and, where seeds are shared, a paired test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ferviz.model.network import DEFAULT_VARIANT
from ferviz.results.records import Discovery, discover
from ferviz.results.significance import SeedPairs, paired_seeds, seed_spread
from ferviz.train.levers import LEVERS

#: Report kinds of the equal-budget training studies (ablations, levers): each run is one point of a study,
#: shown in the study's own chart and table, not beside the shipped models.
STUDY_KINDS: tuple[str, ...] = ("ablation", "lever")

#: Ablation variants (docs/DESIGN.md §9) -> what each changes in the full model. Keys are
#: :data:`ferviz.model.network.VARIANTS` names.
ABLATIONS: dict[str, str] = {
    DEFAULT_VARIANT: "none: the full model (gray input, both attentions, cross-fusion, distillation, PCP)",
    "cnn_bilstm": "no attention",
    "spatial_only": "spatial attention only",
    "channel_only": "channel attention only",
    "no_cross_fusion": "no cross-fusion of keys between the two layers",
    "no_distill": "no K/V self-distillation",
    "relu_gate": "ReLU instead of PCP in the ILM gate",
    "gelu_gate": "GELU instead of PCP in the ILM gate",
    "input_hog": "HOG image as input instead of gray",
    "input_gray_hog": "gray + HOG image as input",
}
ABLATION_COLUMNS = ["variant", "change", "dataset", "split", "epochs", "train_faces", "budget", "seed",
                    "accuracy", "macro_f1", "delta_accuracy", "delta_macro_f1", "n", "file"]

def budget_text(epochs: float, train_faces: float) -> str:
    """``'4 epochs, all training faces'`` or ``'16 epochs on 5,000 training faces'`` (NaN: not recorded)."""
    ep = "epochs not recorded" if pd.isna(epochs) else f"{int(epochs)} epochs"
    if pd.isna(train_faces):
        return f"{ep}, all training faces"
    return f"{ep} on {int(train_faces):,} training faces"



def ablation_frame(models_dir: str | Path | None = None, *, found: Discovery | None = None) -> pd.DataFrame:
    """The ablation reports (``kind`` ``ablation``), one row each, in percent, beside the full model.

    Parameters
    ----------
    models_dir : str or Path, optional
        The folder to read (see :func:`discover`); ignored when ``found`` is given.
    found : Discovery, optional
        An earlier :func:`discover` result to use instead of reading ``models_dir``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ABLATION_COLUMNS`. ``delta_*`` is the row minus the full model's
        (:data:`DEFAULT_VARIANT`) ablation run on the same dataset and split with the same number of
        epochs, so every difference is at an equal budget; it is NaN when that reference run is
        missing. The full model comes first, the others by accuracy.
    """
    found = discover(models_dir) if found is None else found
    rows = []
    for rec in found.reports:
        if rec.kind != "ablation":
            continue
        epochs, faces, seed = (rec.report.meta.get(k) for k in ("epochs", "train_subset", "seed"))
        epochs = np.nan if epochs is None else int(epochs)
        faces = np.nan if faces is None else int(faces)
        rows.append({"variant": rec.variant, "change": ABLATIONS.get(rec.variant, rec.variant),
                     "dataset": rec.dataset, "split": rec.split, "epochs": epochs, "train_faces": faces,
                     "budget": budget_text(epochs, faces), "seed": np.nan if seed is None else int(seed),
                     "accuracy": 100 * rec.report.accuracy, "macro_f1": 100 * rec.report.macro["f1"],
                     "n": rec.report.n, "file": rec.path.name})
    frame = pd.DataFrame(rows, columns=[c for c in ABLATION_COLUMNS if not c.startswith("delta")])
    keys = ["dataset", "split", "epochs", "train_faces"]
    ref = frame[frame["variant"] == DEFAULT_VARIANT].groupby(keys, dropna=False, as_index=False)[
        ["accuracy", "macro_f1"]].mean()  # several seeds of the full model: their mean is the reference
    frame = frame.merge(ref, on=keys, how="left", suffixes=("", "_ref"))
    for metric in ("accuracy", "macro_f1"):
        frame[f"delta_{metric}"] = frame[metric] - frame.pop(f"{metric}_ref")
    frame["_full"] = frame["variant"] != DEFAULT_VARIANT
    frame = frame.sort_values(["dataset", "epochs", "train_faces", "_full", "accuracy"],
                              ascending=[True, True, True, True, False])
    return frame.drop(columns="_full").reset_index(drop=True)[ABLATION_COLUMNS]


SPREAD_COLUMNS = ["variant", "change", "dataset", "split", "epochs", "train_faces", "budget", "runs", "seeds",
                  "accuracy", "accuracy_std", "macro_f1", "macro_f1_std", "delta_accuracy", "delta_macro_f1",
                  "paired_seeds", "paired_p", "files"]


def _same_budget(frame: pd.DataFrame, row) -> pd.Series:
    """Rows of ``frame`` on ``row``'s dataset, split, epochs and training faces (NaN equals NaN)."""
    mask = pd.Series(True, index=frame.index)
    for key in ("dataset", "split", "epochs", "train_faces"):
        mask &= (frame[key] == row[key]) | (frame[key].isna() & pd.isna(row[key]))
    return mask


def _pairs_with_full(ablations: pd.DataFrame, row) -> SeedPairs | None:
    """The paired t-test of ``row``'s variant against the full model over their shared seeds, if >= 2."""
    if row["variant"] == DEFAULT_VARIANT:
        return None
    same = ablations[_same_budget(ablations, row) & ablations["seed"].notna()]
    by_seed = {v: dict(zip(g["seed"].astype(int), g["accuracy"], strict=True))
               for v, g in same.groupby("variant")}
    mine, full = by_seed.get(row["variant"], {}), by_seed.get(DEFAULT_VARIANT, {})
    return paired_seeds(mine, full) if len(set(mine) & set(full)) >= 2 else None


def seed_comparison(ablations: pd.DataFrame, variant: str, budget: str) -> SeedPairs | None:
    """``variant`` against the full model at ``budget`` (an :func:`ablation_frame` ``budget`` text), paired
    over the seeds both have; None with fewer than two shared seeds."""
    rows = ablations[(ablations["variant"] == variant) & (ablations["budget"] == budget)]
    return None if rows.empty else _pairs_with_full(ablations, rows.iloc[0])


def ablation_spread(ablations: pd.DataFrame) -> pd.DataFrame:
    """Ablation runs grouped by variant and budget: how many runs (seeds), mean and spread, in percent.

    Parameters
    ----------
    ablations : DataFrame
        An :func:`ablation_frame` (one row per report; several reports of one variant at one budget are
        several seeds).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SPREAD_COLUMNS`. ``accuracy`` and ``macro_f1`` are means over the runs, ``*_std``
        their sample standard deviation (NaN for one run: one seed has no spread), ``seeds`` says
        ``'one seed'`` or ``'N seeds'``, and ``delta_*`` is the mean minus the full model's mean at the same
        dataset, split and budget (epochs and training faces; NaN without a full-model run).
        ``paired_seeds`` counts the seeds the variant shares with the full model at that budget and
        ``paired_p`` is the paired t-test of their accuracies over those seeds (NaN with fewer than
        two). Full model first, then by accuracy.
    """
    if ablations.empty:
        return pd.DataFrame(columns=SPREAD_COLUMNS)
    keys = ["variant", "dataset", "split", "epochs", "train_faces"]
    rows = []
    for (variant, dataset, split, epochs, faces), group in ablations.groupby(keys, dropna=False, sort=False):
        acc, f1 = seed_spread(group["accuracy"]), seed_spread(group["macro_f1"])
        rows.append({"variant": variant, "change": group["change"].iloc[0], "dataset": dataset,
                     "split": split, "epochs": epochs, "train_faces": faces,
                     "budget": group["budget"].iloc[0], "runs": acc.runs,
                     "seeds": "one seed" if acc.one_seed else f"{acc.runs} seeds",
                     "accuracy": acc.mean, "accuracy_std": acc.std, "macro_f1": f1.mean,
                     "macro_f1_std": f1.std, "files": ", ".join(group["file"])})
    frame = pd.DataFrame(rows)
    ref = frame[frame["variant"] == DEFAULT_VARIANT][keys[1:] + ["accuracy", "macro_f1"]]
    frame = frame.merge(ref, on=keys[1:], how="left", suffixes=("", "_ref"))
    for metric in ("accuracy", "macro_f1"):
        frame[f"delta_{metric}"] = frame[metric] - frame.pop(f"{metric}_ref")
    frame["paired_seeds"], frame["paired_p"] = 0, np.nan
    for i, row in frame.iterrows():
        pairs = _pairs_with_full(ablations, row)
        if pairs is not None:
            frame.loc[i, ["paired_seeds", "paired_p"]] = len(pairs.seeds), pairs.p_value
    frame["_full"] = frame["variant"] != DEFAULT_VARIANT
    frame = frame.sort_values(["dataset", "epochs", "train_faces", "_full", "accuracy"],
                              ascending=[True, True, True, True, False])
    return frame.drop(columns="_full").reset_index(drop=True)[SPREAD_COLUMNS]


LEVER_COLUMNS = ["lever", "change", "dataset", "split", "budget", "runs", "seeds", "accuracy", "accuracy_std",
                 "macro_f1", "macro_f1_std", "baseline", "baseline_accuracy", "delta_accuracy",
                 "delta_macro_f1", "paired_seeds", "paired_p", "verdict", "files"]
BASELINE_LEVER = "none (baseline)"


def lever_table(found: Discovery) -> pd.DataFrame:
    """Each training lever against the full model without it, paired over training seeds.

    A lever report is a ``kind`` ``lever`` report whose ``meta["lever"]`` names the lever (a key of
    :data:`LEVERS`); its baseline is the full model's (:data:`DEFAULT_VARIANT`) ablation runs on the same
    dataset, split and training faces, with the same number of epochs when there are such runs, else
    the budget with the most seeds (a longer schedule is compared with the usual one).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`LEVER_COLUMNS`, in percent: the baseline first (``lever`` :data:`BASELINE_LEVER`),
        then one row per lever and budget, best mean accuracy first. ``delta_*`` is the mean paired
        difference from the baseline over the seeds both have (the plain difference of means without
        shared seeds), ``paired_p`` the paired t-test (NaN under two shared seeds), ``verdict`` says in
        words whether the difference is beyond seed noise.
    """
    runs = []
    for rec in found.reports:
        meta = rec.report.meta
        lever = meta.get("lever") if rec.kind == "lever" else (
            BASELINE_LEVER if rec.kind == "ablation" and rec.variant == DEFAULT_VARIANT else None)
        if lever is None:
            continue
        epochs, faces, seed = (meta.get(k) for k in ("epochs", "train_subset", "seed"))
        runs.append({"lever": str(lever), "dataset": rec.dataset, "split": rec.split,
                     "epochs": np.nan if epochs is None else int(epochs),
                     "train_faces": np.nan if faces is None else int(faces),
                     "seed": np.nan if seed is None else int(seed), "accuracy": 100 * rec.report.accuracy,
                     "macro_f1": 100 * rec.report.macro["f1"], "file": rec.path.name})
    runs = pd.DataFrame(runs, columns=["lever", "dataset", "split", "epochs", "train_faces", "seed",
                                       "accuracy", "macro_f1", "file"])
    levers = runs[runs["lever"] != BASELINE_LEVER]
    if levers.empty:
        return pd.DataFrame(columns=LEVER_COLUMNS)
    base = runs[runs["lever"] == BASELINE_LEVER]
    rows, baselines = [], {}
    keys = ["lever", "dataset", "split", "epochs", "train_faces"]
    for (lever, dataset, split, epochs, faces), group in levers.groupby(keys, dropna=False, sort=False):
        ref = _lever_baseline(base, dataset, split, epochs, faces)
        row = _lever_row(lever, LEVERS.get(lever, lever), group, ref)
        rows.append(row)
        if not ref.empty:
            baselines[row["baseline"]] = ref
    for ref in baselines.values():
        rows.append(_lever_row(BASELINE_LEVER, "the full model with recipe strong, nothing added", ref, ref))
    frame = pd.DataFrame(rows, columns=LEVER_COLUMNS)
    frame["_base"] = frame["lever"] != BASELINE_LEVER
    frame = frame.sort_values(["dataset", "_base", "accuracy"], ascending=[True, True, False])
    return frame.drop(columns="_base").reset_index(drop=True)


#: What a model card keeps of each lever-table row (:func:`lever_records`).
LEVER_RECORD_COLUMNS = ["lever", "change", "budget", "seeds", "accuracy", "accuracy_std", "delta_accuracy",
                        "delta_macro_f1", "paired_p", "verdict"]


def lever_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of :func:`lever_table` as JSON values for a model card: numbers rounded, NaN as None."""
    out = []
    for row in table[LEVER_RECORD_COLUMNS].to_dict("records"):
        out.append({k: (None if isinstance(v, float) and np.isnan(v) else
                        round(float(v), 4) if isinstance(v, (float, np.floating)) else v)
                     for k, v in row.items()})
    return out


def _lever_baseline(base: pd.DataFrame, dataset: str, split: str, epochs: float,
                    faces: float) -> pd.DataFrame:
    """The full model's runs a lever at (dataset, split, epochs, training faces) is compared with."""
    same = base[(base["dataset"] == dataset) & (base["split"] == split)
                & ((base["train_faces"] == faces) | (base["train_faces"].isna() & pd.isna(faces)))]
    if same.empty or (same["epochs"] == epochs).any():
        return same[same["epochs"] == epochs]
    counts = same.groupby("epochs").size()
    best = counts[counts == counts.max()].index.min()  # most seeds; the shorter schedule on a tie
    return same[same["epochs"] == best]


def _lever_row(lever: str, change: str, group: pd.DataFrame, ref: pd.DataFrame) -> dict:
    acc, f1 = seed_spread(group["accuracy"]), seed_spread(group["macro_f1"])
    row = {"lever": lever, "change": change, "dataset": group["dataset"].iloc[0],
           "split": group["split"].iloc[0],
           "budget": budget_text(group["epochs"].iloc[0], group["train_faces"].iloc[0]), "runs": acc.runs,
           "seeds": ", ".join(str(int(s)) for s in sorted(group["seed"].dropna())) or "?",
           "accuracy": acc.mean, "accuracy_std": acc.std, "macro_f1": f1.mean, "macro_f1_std": f1.std,
           "baseline": "", "baseline_accuracy": np.nan, "delta_accuracy": np.nan, "delta_macro_f1": np.nan,
           "paired_seeds": 0, "paired_p": np.nan, "verdict": "no baseline run at this budget",
           "files": ", ".join(group["file"])}
    if ref.empty:
        return row
    row["baseline"] = budget_text(ref["epochs"].iloc[0], ref["train_faces"].iloc[0])
    row["baseline_accuracy"] = float(ref["accuracy"].mean())
    if lever == BASELINE_LEVER:
        row.update(delta_accuracy=0.0, delta_macro_f1=0.0, verdict="the reference")
        return row
    mine = {int(s): a for s, a in zip(group["seed"], group["accuracy"], strict=True) if pd.notna(s)}
    theirs = {int(s): a for s, a in zip(ref["seed"], ref["accuracy"], strict=True) if pd.notna(s)}
    shared = sorted(set(mine) & set(theirs))
    if shared:
        f1_mine = dict(zip(group["seed"], group["macro_f1"], strict=True))
        f1_theirs = dict(zip(ref["seed"], ref["macro_f1"], strict=True))
        row["delta_accuracy"] = float(np.mean([mine[s] - theirs[s] for s in shared]))
        row["delta_macro_f1"] = float(np.mean([f1_mine[s] - f1_theirs[s] for s in shared]))
    else:
        row["delta_accuracy"] = acc.mean - row["baseline_accuracy"]
        row["delta_macro_f1"] = f1.mean - float(ref["macro_f1"].mean())
    row["paired_seeds"] = len(shared)
    if len(shared) >= 2:
        pairs = paired_seeds(mine, theirs)
        row["paired_p"] = pairs.p_value
        word = "helps" if pairs.mean > 0 else "hurts"
        row["verdict"] = (f"{word} (p = {pairs.p_value:.3f}, {len(shared)} seeds)" if pairs.significant
                          else f"within seed noise (p = {pairs.p_value:.2f}, {len(shared)} seeds)")
    else:
        plural = "s" if len(shared) != 1 else ""
        row["verdict"] = f"{len(shared) or 'no'} shared seed{plural}: not testable yet"
    return row

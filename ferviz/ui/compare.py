"""Renderers of the Compare page's committed-report sections: leakage, paired tests, ablations, levers, TTA."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from scipy import stats

from ferviz.figures.compare import ablation_spread_figure, leakage_figure, lever_figure, paired_figure
from ferviz.figures.evaluate import (
    similarity_figure,
)
from ferviz.figures.fit import column_px, fit_titles
from ferviz.results.records import Discovery
from ferviz.results.reports import paired_frame, tta_table
from ferviz.results.significance import SeedPairs
from ferviz.results.studies import ablation_frame, ablation_spread, lever_table, seed_comparison
from ferviz.text import md_escape
from ferviz.ui.reportviews import show_table

# ------------------------------------------------------------------------------------------- Compare

def _audit_command(found: Discovery) -> str:
    models = " ".join(f"models/{p.name}" for p in sorted(found.models_dir.glob("*.pt"))) or "models/<name>.pt"
    return (f"ferviz audit --data <PATH> --split PublicTest --models {models} "
            f"--out {found.models_dir.name}/reports")


def show_leakage_reports(found: Discovery) -> None:
    """Every committed leakage report: counts, plain vs deduplicated accuracy per model, the similarity
    histogram behind the near-duplicate threshold, and the duplicated items' file names."""
    if not found.leakage:
        st.info("No leakage report yet: the test items that are also training items are not counted. Make "
                f"one with your own copy of the data:\n\n```bash\n{_audit_command(found)}\n```")
        return
    for leak in found.leakage:
        counts = leak.counts
        st.markdown(f"**{leak.dataset} {leak.split}** against **{leak.reference_split}** "
                    f"(`{leak.path.name}`): {counts['exact']} of {counts['n']} items have a pixel-identical "
                    f"copy in {leak.reference_split} ({counts['label_conflicts']} of them with a different "
                    f"label there) and {counts['near']} more a near copy (the same photo re-encoded or "
                    f"shifted by a pixel or two; similarity ≥ {leak.threshold:.2f}). Every {leak.split} "
                    f"number of a model trained on {leak.reference_split} includes them; the deduplicated "
                    "columns leave them out.")
        frame = leak.frame()
        if not frame.empty:
            st.plotly_chart(fit_titles(leakage_figure(frame), column_px(1)), key=f"leakage_bars_{leak.path.stem}")
            show_table(frame)
        hist = leak.data.get("similarity_histogram")
        if hist:
            st.plotly_chart(fit_titles(similarity_figure(hist, leak.threshold), column_px(1)),
                            key=f"leakage_hist_{leak.path.stem}")
            st.caption("Bimodal: most test images are far from every training image, a second mode is the "
                       "same photo again. The threshold sits above the trough; pairs were inspected by eye "
                       "(ferviz/results/leakage.py says how).")
        with st.expander("Which items (file names; the images are not part of this repository)"):
            items = leak.data.get("items", {})
            rows = [(kind, *pair[:2], pair[2] if len(pair) > 2 else 1.0)
                    for kind in ("exact", "near") for pair in items.get(kind, [])]
            pairs = pd.DataFrame(rows, columns=["kind", leak.split, leak.reference_split, "similarity"])
            show_table(pairs, similarity="{:.3f}")
        st.caption(f"Remake: `{real_command(leak.data.get('command')) or _audit_command(found)}`")




def show_paired_reports(found: Discovery) -> None:
    """Every committed paired comparison: the difference with its interval, McNemar's p, the verdict."""
    paired = paired_frame(found=found)
    if paired.empty:
        st.info("No paired comparison yet. Make them (the first model against each other one) with:"
                f"\n\n```bash\n{_audit_command(found)}\n```\n\nor compare any two models on your own copy "
                "of the data on the Evaluate page (*compare two models*).")
        return
    st.plotly_chart(fit_titles(paired_figure(paired), column_px(1)), key="paired_forest")
    table = paired.drop(columns=["difference_low", "difference_high"])
    show_table(table, mcnemar_p="{:.3g}",
               column_config={"mcnemar_p": st.column_config.Column("McNemar p")})
    for rec in found.paired:
        st.markdown(f"- {md_escape(rec.all.verdict())}")
    st.caption("Each model is one training run (one seed): these tests say whether the *test set* can tell "
               "the two runs apart, not whether another seed would rank them the same. Several comparisons "
               "at α = 0.05 will turn up a 'significant' one by chance now and then.")


def show_ablations(found: Discovery) -> None:
    """The ablation runs grouped by variant: mean, spread over seeds where there are several, one seed
    said plainly where there is one."""
    ablations = ablation_frame(found=found)
    if ablations.empty:
        st.info("No ablation reports in models/reports yet. Make one with `ferviz train --model "
                "<ablation> --epochs 4 --warmup-epochs 1 --recipe strong --out runs/ablation_<ablation> ...` "
                "then `ferviz evaluate --model runs/ablation_<ablation>/best.pt --split PublicTest "
                "--kind ablation --json models/reports/fer2013_ablation_<ablation>.json` (see "
                "scripts/reproduce.sh); run several seeds (`--seed`, one report each) to measure the spread.")
        return
    spread = ablation_spread(ablations)
    st.markdown("Every ablation and the full model were trained from scratch with the same short budget "
                "(one chart per budget), so only their differences mean something: these are not the shipped "
                "model's numbers. Where a variant shares several training seeds with the full model, the "
                "table gives a paired t-test over those seeds (`paired_p`).")
    metric = st.radio("Ablation metric", ["accuracy", "macro_f1"], horizontal=True, key="ablation_metric")
    budgets = spread.groupby("budget", sort=False)["runs"].max().sort_values(ascending=False).index
    for k, budget in enumerate(budgets):
        rows = spread[spread["budget"] == budget]
        st.subheader(f"Budget: {budget}")
        several = rows[rows["runs"] > 1]
        if several.empty:
            st.markdown("**One seed each**: the spread over seeds was not measured here, so these differences "
                        "come with no test; a difference of a point or so can come from the seed alone.")
        else:
            st.markdown(f"{len(several)} of {len(rows)} variants have several runs (mean ± std over seeds); "
                        "the others are **one seed**, with no spread.")
        pairs = seed_comparison(ablations, "cnn_bilstm", budget)
        if pairs is not None:
            st.info(attention_note(pairs))
        st.plotly_chart(fit_titles(ablation_spread_figure(rows, metric), column_px(1)), key=f"ablation_bars_{k}")
        table = rows.drop(columns=["budget"])
        show_table(table, paired_p="{:.3f}")


def show_levers(found: Discovery) -> None:
    """The training levers, one change each, against the full model's seed runs at the same budget."""
    table = lever_table(found)
    if table.empty:
        st.info("No lever reports in models/reports/levers yet. `DATA=<folder holding fer2013/> bash "
                "scripts/levers.sh` trains the full model once per lever and seed at the seed-spread budget "
                "(after `scripts/seeds.sh`, whose full-model runs are the baseline).")
        return
    st.markdown("Each lever is **one change** to the full model's recipe (`strong`), trained at the same "
                "small budget and with the same seeds as the baseline, so the difference is the lever's "
                "alone; the verdict pairs the runs seed by seed. These are not the shipped model's numbers. "
                "At this small budget the model still underfits (its training accuracy, under augmentation, "
                "ends within a few points of its test accuracy), so levers that regularise (erasing, mixup, "
                "more smoothing, a slow EMA) start at a disadvantage they may not have on the full data.")
    metric = st.radio("Lever metric", ["accuracy", "macro_f1"], horizontal=True, key="lever_metric")
    st.plotly_chart(fit_titles(lever_figure(table, metric), column_px(1)), key="lever_bars")
    show_table(table, paired_p="{:.3f}")


def show_tta(found: Discovery) -> None:
    """The test-time-augmented reports, each beside the plain number of the same model on the same items."""
    table = tta_table(found)
    if table.empty:
        st.info("No test-time-augmented report in models/reports/tta yet. `ferviz evaluate --tta flip` (or "
                "`ten_crop`) `--json models/reports/tta/<name>.json` writes one.")
        return
    st.markdown("Test-time augmentation averages each face's probabilities over several views of it (flip: "
                "the face and its mirror image; ten crops: five squares of 90 % of the face and their "
                "mirrors). It is a different measurement from the model's own, so it is shown **only here**, "
                "beside the plain number of the same checkpoint on the same items, never in the table and "
                "chart above.")
    show_table(table)


def real_command(command: str | None) -> str:
    """A recorded audit command as the user types it (``python -m ferviz.results.audits`` is ``ferviz audit``)."""
    return (command or "").replace("python -m ferviz.results.audits", "ferviz audit")


def attention_note(pairs: SeedPairs) -> str:
    """Does the dual attention help? The full model minus ``cnn_bilstm`` over the paired seeds, said directly."""
    n = len(pairs.seeds)
    gain = -pairs.mean  # pairs are cnn_bilstm minus the full model
    half = stats.t.ppf(0.975, n - 1) * pairs.std / np.sqrt(n) if n > 1 else np.nan
    low, high = gain - half, gain + half
    wins = n - pairs.a_wins
    direction = "higher" if gain > 0 else "lower"
    if low > 0 or high < 0:
        meaning = ("the interval leaves out 0: at this budget the seeds tell the two apart at the 5 % level, "
                   f"with the attention {'ahead' if gain > 0 else 'behind'}")
    else:
        just = " (only just)" if min(abs(low), abs(high)) < 0.1 else ""
        meaning = (f"the interval includes 0{just}, so at the 5 % level these seeds do not show that the attention "
                   "changes accuracy at this budget; more seeds would narrow the interval")
    return (f"**Does the dual attention help?** With it, accuracy is {abs(gain):.2f} pp {direction} than the same "
            f"network without it (`cnn_bilstm`), averaged over {n} paired seeds (the full model ahead in {wins} "
            f"of {n}). 95 % interval of that mean difference: [{_signed(low)}, {_signed(high)}] pp (paired t-test p = "
            f"{pairs.p_value:.3f}); {meaning}.")


def _signed(value: float) -> str:
    return "0.00" if round(value, 2) == 0 else f"{value:+.2f}"


def show_domains(found: Discovery) -> None:
    """The domain table (models/reports/domains/domains.json): every model on FER2013, FER+, CK+, JAFFE and photos."""
    from ferviz.results.domains import DOMAINS_FILE, read_domains

    scores = read_domains(found.models_dir / "reports" / DOMAINS_FILE)
    if scores:
        _domain_heatmap(scores)
    else:
        st.info("No domain table yet. Make one with `ferviz domains --models models/*.pt faceapi --fer2013 … "
                "--ckplus … --jaffe … --photos … --out models/reports/domains/domains.json`.")
    show_adjustment(found)
    show_tradeoff(found)
    show_real_levers(found)


def show_tradeoff(found: Discovery) -> None:
    """FER+'s majority against the balanced posed sets: every model and decision rule as one point."""
    from ferviz.figures.domains import TRADEOFF_Y, tradeoff_figure
    from ferviz.paths import DEFAULT_MODEL
    from ferviz.results.domains import FERPLUS_TARGET, shipped_tau, shipped_views, tradeoff_frame

    frame = tradeoff_frame(found.models_dir)
    st.markdown(f"**What {FERPLUS_TARGET:g} % against FER+'s majority costs** (`ferviz domains`)")
    if frame.empty:
        st.info("Nothing measured by domain to plot yet: run steps `domains`, `adjust_sweep` and `ferplus_only` of "
                "`scripts/reproduce.sh`, then reload.")
        return
    y = st.radio("Up is", list(TRADEOFF_Y), horizontal=True, key="compare_tradeoff_y",
                 format_func=lambda key: TRADEOFF_Y[key][0].removesuffix(", %"),
                 help="Both say how a model would do on a set where every expression is about as common, as in a "
                      "balanced set of labelled real photos: the posed lab sets CK+ and JAFFE, or FER2013's own "
                      "in-the-wild faces scored against FER+'s majority with each expression's recall weighted "
                      "alike (balanced accuracy).")
    st.plotly_chart(fit_titles(tradeoff_figure(frame, default=DEFAULT_MODEL.stem, y=y), column_px(1)),
                    key="compare_tradeoff")
    best = frame.loc[frame["ferplus"].idxmax()]
    mine = frame[frame["model"] == DEFAULT_MODEL.stem]
    where = "on the posed sets" if y == "posed" else "balanced"
    versus = (f" The default scores {mine['ferplus'].iloc[0]:.1f} % and {mine[y].iloc[0]:.1f} % {where}."
              if len(mine) and best["model"] != DEFAULT_MODEL.stem else "")
    up = ("up is macro-F1 on the posed lab sets, where every expression is about as common, as in a balanced set "
          "of real photos." if y == "posed" else
          "up is accuracy against the same majority with every expression's recall weighted alike (the mean "
          "recall over the seven), as on a balanced set of in-the-wild faces. The bars are 95 % intervals: the "
          "rarest expressions have few faces in PublicTest, so small differences here are noise.")
    tau = shipped_tau(found.models_dir)
    mirrored = (" The default's point is the model as the app uses it, each face averaged with its mirror image; "
                "every other point is one view per face"
                + (f" (at one view the default is the `tau_{tau:g}` point)." if tau is not None else ".")
                if shipped_views(found.models_dir) == "flip" else "")
    st.caption("Each point is a model or decision rule measured on the same faces. Right is agreement with the "
               "majority of FER+'s ten annotators on FER2013's own mix of expressions (a third of its faces are "
               "neutral); " + up + " The red points are the default fine-tuned on FER+'s votes alone "
               "(step `ferplus_only` of `scripts/reproduce.sh`); the green ones are the default's last stage run again "
               "for 4 epochs, as it is and with one part of its recipe changed (step `recipe_parts`), and the purple "
               "ones the same runs distilled from the default as well (step `self_distil`). Furthest right, "
               f"`{best['model']}` scores {best['ferplus']:.1f} % against FER+'s majority and {best[y]:.1f} % "
               f"{where}.{versus}{mirrored} Runs were selected on PublicTest, so the FER+ numbers are "
               "optimistic.")


def show_adjustment(found: Discovery) -> None:
    """The default model at several logit-adjustment strengths: what the shipped decision rule trades."""
    from ferviz.figures.domains import adjustment_figure
    from ferviz.results.domains import adjustment_frame, shipped_tau

    frame = adjustment_frame(found.models_dir)
    st.markdown("**The decision rule: how much the default discounts FER2013's common classes** "
                "(`ferviz adjust --tau`)")
    if frame.empty:
        st.info("No logit-adjustment sweep yet: run step `adjust_sweep` of `scripts/reproduce.sh`, then reload.")
        return
    chosen = shipped_tau(found.models_dir)
    st.plotly_chart(adjustment_figure(frame, chosen), key="compare_adjustment")
    st.caption("By FER+'s votes, FER2013's training faces are a third neutral, a quarter happy and 1.7 % disgust, "
               "and a model learns those shares with the faces. "
               "Logit adjustment subtracts tau x log(class share in training) from each class's score: tau = 0 is "
               "the model as trained, tau = 1 treats every class as equally common. Raising tau helps sets where "
               "every expression is as frequent as the others (CK+, JAFFE, labelled real photos) and costs "
               "accuracy on FER2013's own mix (its labels and FER+'s majority). "
               + (f"The shipped default uses tau = {chosen:g} (the dotted line)." if chosen is not None
                  else "The shipped default is not adjusted."))


def _domain_heatmap(scores) -> None:
    from ferviz.figures.domains import domain_heatmap
    from ferviz.results.domains import DOMAINS, TABLE_METRICS, table_frame

    st.markdown("A FER2013 score alone says little about faces in front of a camera. Each column is one domain; "
                "each row one model, measured on the same items:\n" +
                "\n".join(f"- **{key}**: {text}" for key, text in DOMAINS.items()))
    metric = st.radio("Metric", list(TABLE_METRICS), horizontal=True, key="compare_domain_metric",
                      format_func=TABLE_METRICS.get)
    st.plotly_chart(domain_heatmap(table_frame(scores, metric), metric), key="compare_domains")
    st.caption("Photos have no expression labels: the column is agreement with face-api.js, a network trained on web "
               "photos, on the 20 % of the UTKFace photos no model trained on; it says which models behave like a "
               "web-photo model, not which are right. `real_dcnn_bilstm_dam` learnt from that teacher on the other "
               "80 %. Macro-F1 and balanced accuracy average the classes present in each data set; balanced "
               "accuracy is what accuracy would be if each expression had as many faces as the others, as in a "
               "balanced set of labelled photos.")
    _recall_by_class(scores)


def _recall_by_class(scores) -> None:
    """One model's recall of each expression by domain, the model picked here (the app's default first)."""
    from ferviz.figures.domains import recall_heatmap
    from ferviz.paths import DEFAULT_MODEL
    from ferviz.results.domains import recall_frame

    models = sorted({s.model for s in scores}, key=lambda m: (m != DEFAULT_MODEL.stem, m))
    model = st.selectbox("Which expressions fail where: recall by class for", models, key="compare_domain_recall")
    frame = recall_frame(scores, model)
    st.plotly_chart(recall_heatmap(frame, model), key="compare_domain_recall_chart")
    labelled = frame.drop(index="photos", errors="ignore").stack()
    if len(labelled):
        (domain, emotion), worst = labelled.idxmin(), labelled.min()
        st.caption(f"The share of each expression's faces that `{model}` names correctly, on each domain (— where "
                   f"a domain has none of that expression; on photos, against face-api.js's label). Its weakest "
                   f"labelled cell: {emotion} on {domain}, {worst:.0f} %.")


def show_real_levers(found: Discovery) -> None:
    """The real-faces lever table (models/reports/real_levers/): one change each, its effect by domain."""
    from ferviz.results.domains import lever_cells, lever_frame

    frame = lever_frame(found.models_dir)
    st.markdown("**What moved the real-faces model: one change at a time** (`scripts/real_levers.sh`)")
    if frame.empty:
        st.info("No lever measured yet: run `DATA=/path/to/data bash scripts/real_levers.sh`, then reload.")
        return
    show_table(lever_cells(frame))
    st.caption("Each row is a 2-epoch fine-tune of `fer2013_dcnn_bilstm_dam` (lr 5e-4) with the one change named; "
               "rows from `camera` on change the `ferplus_soft` row. Percent: accuracy / macro-F1 per domain (± half "
               "the seeds' accuracy range when there are several seeds), and the recall of the two rarest classes on "
               "FER+'s majority (31 disgust and 73 fear faces, so a few faces move them by points). With one seed, "
               "differences of a point or two are noise.")

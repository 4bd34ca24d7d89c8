"""Tests for ferviz.results.domains: scores by hand, FER+ majority scoring, teacher agreement, JSON round trip."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ferviz.data.labels import EMOTIONS
from ferviz.results.domains import (
    DOMAINS,
    agreement_scores,
    ferplus_scores,
    read_domains,
    scores_from,
    table_frame,
    write_domains,
)

ROOT = Path(__file__).resolve().parents[2]

LABELS = list(EMOTIONS)


def test_scores_by_hand_macro_f1_over_present_classes():
    s = scores_from("m", "ckplus", np.array([0, 1, 2, 3]), np.eye(7)[[0, 1, 1, 3]], LABELS)
    assert s.accuracy == 0.75 and s.n == 4
    assert s.macro_f1 == pytest.approx((1 + 2 / 3 + 0 + 1) / 4)  # neutral etc. absent: not averaged in
    assert s.per_class_recall == {"angry": 1.0, "disgust": 1.0, "fear": 0.0, "happy": 1.0}


def test_ferplus_scores_use_the_majority_and_skip_faces_without_one(tmp_path):
    # FER+ columns: neutral happiness surprise sadness anger disgust fear contempt unknown NF
    votes = np.zeros((3, 10), np.int16)
    votes[0, 1] = 10  # happy
    votes[1, [0, 3]] = 5  # a tie: left out
    votes[2, 4] = 8  # angry
    names = np.array(["a.jpg", "b.jpg", "c.jpg"])
    np.savez(tmp_path / "ferplus_votes.npz", votes=votes, match=np.ones(3, np.int8), source_name=names)
    probs = np.eye(7)[[3, 3, 6]]  # right on a, wrong on c
    s = ferplus_scores("m", probs, names[[2, 0, 1]][[1, 2, 0]], LABELS, tmp_path / "fer2013_trainval.npz")
    assert s.n == 2 and s.accuracy == 0.5 and s.per_class_recall == {"angry": 0.0, "happy": 1.0}


def test_agreement_with_a_teacher_and_the_table(tmp_path):
    teacher = np.eye(7)[[3, 3, 6, 0]]
    student = np.eye(7)[[3, 6, 6, 0]]
    s = agreement_scores("m", student, teacher, LABELS)
    assert s.domain == "photos" and s.accuracy == 0.75
    six = [n for n in LABELS if n != "neutral"]  # a model without neutral: the teacher's neutral rows drop out
    s6 = agreement_scores("six", np.eye(6)[[3, 3, 0]], teacher[[0, 1, 3]], six)
    assert s6.n == 3 and s6.accuracy == 1.0
    other = scores_from("m", "fer2013", np.array([0, 1]), np.eye(7)[[0, 0]], LABELS)
    frame = table_frame([other, s])
    assert list(frame.columns) == ["fer2013", "photos"] and frame.loc["m", "photos"] == 75.0
    path = write_domains([other, s], tmp_path / "d.json", "ferviz domains --models m.pt")
    assert read_domains(path) == [other, s] and read_domains(tmp_path / "missing.json") == []
    peer = agreement_scores("peer", student, teacher, LABELS)
    again = replace(s, accuracy=0.5)
    write_domains([peer, again], path, "ferviz domains --models peer m.pt")  # m re-measured, peer added
    assert read_domains(path) == [peer, again] or read_domains(path) == [again, peer]
    import json
    commands = json.loads(path.read_text())["commands"]
    assert commands == {"m": "ferviz domains --models peer m.pt", "peer": "ferviz domains --models peer m.pt"}
    write_domains([other], path, "x")
    assert {r.model for r in read_domains(path)} == {"m", "peer"} and len(read_domains(path)) == 2
    assert set(DOMAINS) == {"fer2013", "ferplus", "ckplus", "jaffe", "photos"}


def test_a_card_carries_the_domain_table_and_shows_it(tmp_path):
    import json
    from dataclasses import asdict

    from ferviz.results.modelcard import ModelCard
    from ferviz.results.shipping import _domain_lines

    rows = [asdict(scores_from("ours", "fer2013", np.array([0, 1]), np.eye(7)[[0, 1]], LABELS)),
            asdict(agreement_scores("faceapi", np.eye(7)[[3, 6]], np.eye(7)[[3, 3]], LABELS))]
    card = ModelCard.from_dict(json.loads(json.dumps({"name": "x", "domains": rows})))
    assert card.domains == tuple(rows) and card.to_dict()["domains"] == rows
    assert "domains" not in ModelCard.from_dict({"name": "y"}).to_dict()  # older cards stay as they were
    text = "\n".join(_domain_lines(card.domains))
    assert "| model | fer2013 | photos |" in text
    assert "| ours | 100.0 / 100.0 | — |" in text and "| faceapi | — | 50.0 / 66.7 |" in text  # happy only: P 1, R 0.5


def test_the_heatmap_shows_every_cell_and_a_dash_where_none():
    from ferviz.figures.domains import domain_heatmap

    a = scores_from("ours", "fer2013", np.array([0, 1]), np.eye(7)[[0, 0]], LABELS)
    b = agreement_scores("peer", np.eye(7)[[3]], np.eye(7)[[3]], LABELS)
    fig = domain_heatmap(table_frame([a, b]))
    heat = fig.data[0]
    assert list(heat.x) == ["fer2013", "photos"] and list(heat.y) == ["ours", "peer"]
    assert heat.text[0] == ["50.0", "—"] and heat.text[1] == ["—", "100.0"]
    assert "no domain table" in domain_heatmap(table_frame([])).layout.title.text


def test_lever_frame_follows_the_script_order_and_the_readme_carries_the_committed_table(tmp_path):
    from ferviz.results.domains import lever_frame, lever_markdown
    from ferviz.train.levers import REAL_LEVERS

    folder = tmp_path / "reports" / "real_levers"
    assert lever_frame(tmp_path).empty
    hit = scores_from("best", "ferplus", np.array([1, 2, 6, 6]), np.eye(7)[[1, 2, 6, 0]], list(EMOTIONS))
    write_domains([hit], folder / "teacher.json", "ferviz domains")
    write_domains([scores_from("best", "fer2013", np.array([0]), np.eye(7)[[0]], list(EMOTIONS))],
                  folder / "fer2013.json", "ferviz domains")
    frame = lever_frame(tmp_path)
    assert frame["lever"].tolist() == ["fer2013", "teacher"]  # REAL_LEVERS' order, not the files'
    teacher = frame.iloc[1]
    assert teacher["ferplus acc"] == 75.0 and teacher["change"] == REAL_LEVERS["teacher"]
    assert teacher["ferplus F1"] == 88.9  # over the classes present: disgust 1, fear 1, neutral 2/3 (recall 1/2)
    assert (teacher["ferplus disgust"], teacher["ferplus fear"]) == (100.0, 100.0)
    markdown = lever_markdown(frame)
    assert "| `teacher` |" in markdown and "| 1 | — | 75.0 / 88.9 | — | 100.0 / 100.0 |" in markdown
    half = scores_from("best", "ferplus", np.array([1, 2, 6, 6]), np.eye(7)[[1, 0, 0, 0]], list(EMOTIONS))
    write_domains([half], folder / "teacher_seed1.json", "ferviz domains")  # accuracy 25 %, F1 1/3
    teacher = lever_frame(tmp_path).iloc[1]
    assert (teacher["seeds"], teacher["ferplus acc"], teacher["ferplus acc ±"]) == (2, 50.0, 25.0)
    assert teacher["ferplus F1"] == 61.1 and teacher["ferplus fear"] == 50.0  # (88.9 + 33.3) / 2; (100 + 0) / 2
    assert "| 2 | — | 50.0 / 61.1 (±25.0) |" in lever_markdown(lever_frame(tmp_path))
    committed = lever_markdown(lever_frame(ROOT / "models"))  # the README's table is the committed reports'
    assert committed in (ROOT / "README.md").read_text()


def _sweep(tmp_path):
    """A two-tau sweep by hand: tau 0 right on 2 of 4 FER2013 faces, tau 0.5 on all 4 (and on FER+'s one)."""
    from ferviz.results.domains import ADJUSTMENT_FILE

    y = np.array([0, 1, 2, 3])
    rows = [scores_from("tau_0.5", "fer2013", y, np.eye(7)[y], LABELS),
            scores_from("tau_0", "fer2013", y, np.eye(7)[[0, 1, 3, 3]], LABELS),
            scores_from("tau_0", "ferplus", np.array([1, 2]), np.eye(7)[[1, 3]], LABELS),
            scores_from("someone_else", "fer2013", y, np.eye(7)[y], LABELS)]
    write_domains(rows, tmp_path / "reports" / ADJUSTMENT_FILE, "ferviz domains --models tau_0=a.pt tau_0.5=b.pt")


def test_adjustment_frame_is_one_row_per_tau_in_order_and_its_markdown(tmp_path):
    from ferviz.results.domains import adjustment_frame, adjustment_markdown

    assert adjustment_frame(tmp_path).empty
    _sweep(tmp_path)
    frame = adjustment_frame(tmp_path)
    assert frame["tau"].tolist() == [0.0, 0.5]  # sorted; a model not named tau_<number> is left out
    assert frame["fer2013 acc"].tolist() == [75.0, 100.0]
    assert frame["fer2013 F1"].tolist()[0] == pytest.approx(100 * (1 + 1 + 0 + 2 / 3) / 4, abs=0.01)
    assert frame["ferplus acc"].iloc[0] == 50.0 and np.isnan(frame["ferplus acc"].iloc[1])
    assert frame["ferplus disgust"].iloc[0] == 100.0 and frame["ferplus fear"].iloc[0] == 0.0
    text = adjustment_markdown(frame.dropna())
    assert text.splitlines()[0] == "| tau | fer2013 | ferplus | FER+ disgust / fear recall |"
    assert "| 0 | 75.0 / 66.7 | 50.0 / 50.0 | 100.0 / 0.0 |" in text  # FER+: disgust F1 1, fear 0


def test_shipped_tau_reads_what_the_checkpoint_records(tmp_path):
    import numpy as np
    import torch

    from ferviz.data.labels import EMOTIONS
    from ferviz.data.preprocess import Preprocessing
    from ferviz.model.checkpoint import load_checkpoint, save_checkpoint
    from ferviz.model.network import build_model
    from ferviz.results.domains import shipped_tau
    from ferviz.train.adjust import adjust_logits, save_adjusted
    from tests.helpers import TINY

    assert shipped_tau(tmp_path) is None  # no checkpoint
    shipped = tmp_path / "real_dcnn_bilstm_dam.pt"
    shipped.write_bytes(b"not a checkpoint")
    assert shipped_tau(tmp_path) is None  # unreadable: no tau, no traceback
    torch.manual_seed(0)
    trained = save_checkpoint(tmp_path / "trained.pt", build_model("dcnn_bilstm_dam", **TINY).eval(),
                              labels=list(EMOTIONS), preprocessing=Preprocessing(), variant="dcnn_bilstm_dam")
    assert shipped_tau(tmp_path, "trained") is None  # not adjusted
    prior = np.array([0.1, 0.02, 0.08, 0.3, 0.15, 0.1, 0.25])
    save_adjusted(adjust_logits(load_checkpoint(trained, verify=False), 0.25, prior), shipped,
                  prior_source="hand-made shares", command="ferviz adjust --tau 0.25")
    assert shipped_tau(tmp_path) == 0.25  # the default model's name
    # one source: the command's text is not read (a card could be reworded; the checkpoint holds the number)
    save_adjusted(adjust_logits(load_checkpoint(trained, verify=False), 0.5, prior), shipped,
                  prior_source="hand-made shares", command="ferviz adjust --tau 0.25")
    assert shipped_tau(tmp_path) == 0.5


def test_shipped_views_reads_the_checkpoints_own_test_time_views(tmp_path):
    import torch

    from ferviz.data.labels import EMOTIONS
    from ferviz.data.preprocess import Preprocessing
    from ferviz.model.checkpoint import load_checkpoint, save_checkpoint
    from ferviz.model.network import build_model
    from ferviz.results.domains import shipped_views
    from ferviz.train.adjust import save_adjusted, set_views
    from tests.helpers import TINY

    assert shipped_views(tmp_path) == "none"  # no checkpoint
    (tmp_path / "real_dcnn_bilstm_dam.pt").write_bytes(b"not a checkpoint")
    assert shipped_views(tmp_path) == "none"  # unreadable: no traceback
    torch.manual_seed(0)
    trained = save_checkpoint(tmp_path / "trained.pt", build_model("dcnn_bilstm_dam", **TINY).eval(),
                              labels=list(EMOTIONS), preprocessing=Preprocessing(), variant="dcnn_bilstm_dam")
    assert shipped_views(tmp_path, "trained") == "none"
    save_adjusted(set_views(load_checkpoint(trained, verify=False), "flip"), tmp_path / "real_dcnn_bilstm_dam.pt")
    assert shipped_views(tmp_path) == "flip"


def test_the_adjustment_figure_draws_each_domain_per_metric_and_the_shipped_tau(tmp_path):
    from ferviz.figures.domains import adjustment_figure
    from ferviz.results.domains import adjustment_frame

    _sweep(tmp_path)
    fig = adjustment_figure(adjustment_frame(tmp_path), chosen=0.5)
    names = [(t.name, t.xaxis) for t in fig.data]
    assert names == [("fer2013", "x"), ("ferplus", "x"), ("shipped: tau = 0.5", "x"),
                     ("fer2013", "x2"), ("ferplus", "x2"), ("shipped: tau = 0.5", "x2")]
    assert list(fig.data[0].y) == [75.0, 100.0]
    assert [t.showlegend for t in fig.data] == [True, True, True, False, False, False]
    assert list(fig.data[2].x) == [0.5, 0.5] and list(fig.data[2].y) == [50.0, 100.0]  # spans the panel's values
    assert len(adjustment_figure(adjustment_frame(tmp_path)).data) == 4  # nothing shipped: no marker
    import pandas as pd
    assert "no logit-adjustment sweep" in adjustment_figure(pd.DataFrame()).layout.title.text


def test_adjustment_choice_follows_its_rule_and_picks_the_shipped_tau_from_the_committed_sweep():
    import pandas as pd

    from ferviz.results.domains import adjustment_choice, adjustment_frame, shipped_tau

    frame = pd.DataFrame({"tau": [0.0, 0.5, 1.0], "fer2013 acc": [65, 62, 55], "ferplus acc": [80, 78, 60],
                          "ckplus F1": [60, 70, 80], "jaffe F1": [40, 50, 60]})
    assert adjustment_choice(frame) == 0.5  # tau 1 has the best lab F1 but FER2013 below 60 %
    assert adjustment_choice(frame, min_ferplus=79) == 0.0
    assert adjustment_choice(frame, min_fer2013=70) is None
    assert adjustment_choice(frame.drop(columns="jaffe F1")) is None
    committed = adjustment_frame(ROOT / "models")
    if committed.empty:
        pytest.skip("no committed logit-adjustment sweep")
    # the rule as the README states it: FER2013 labels >= 60 %, FER+ majority >= the previous default's 78.71 %
    assert adjustment_choice(committed, min_ferplus=78.71) == shipped_tau(ROOT / "models")


def test_the_readme_carries_the_committed_sweep():
    from ferviz.results.domains import adjustment_frame, adjustment_markdown

    committed = adjustment_frame(ROOT / "models")
    if committed.empty:
        pytest.skip("no committed logit-adjustment sweep")
    assert adjustment_markdown(committed) in (ROOT / "README.md").read_text()


def test_the_heatmap_rounds_once_like_the_card():
    from ferviz.figures.domains import domain_heatmap

    # 0.530516 -> 53.0516 % -> "53.1" (rounding to 53.05 first would print "53.0", as the card does not)
    s = replace(scores_from("m", "jaffe", np.array([0]), np.eye(7)[[0]], LABELS), accuracy=0.530516)
    assert domain_heatmap(table_frame([s])).data[0].text[0] == ["53.1"]


def test_domain_headline_takes_one_models_rows_in_domain_order_beside_the_baseline():
    from dataclasses import asdict

    from ferviz.results.domains import domain_headline

    y = np.array([0, 1, 2, 3])
    rows = [asdict(scores_from("ours", "jaffe", y, np.eye(7)[[0, 1, 2, 2]], LABELS)),  # 3 of 4 right
            asdict(scores_from("ours", "ferplus", y, np.eye(7)[[0, 1, 2, 3]], LABELS)),
            asdict(scores_from("base", "jaffe", y, np.eye(7)[[0, 0, 0, 0]], LABELS)),  # 1 of 4
            asdict(scores_from("other", "ckplus", y, np.eye(7)[[0, 1, 2, 3]], LABELS))]
    head = domain_headline(rows, "ours", baseline="base")
    assert list(head.index) == ["ferplus", "jaffe"]  # DOMAINS order, only the model's own domains
    assert head.loc["jaffe", "accuracy"] == pytest.approx(75.0) and head.loc["jaffe", "n"] == 4
    assert head.loc["jaffe", "baseline_accuracy"] == pytest.approx(25.0)
    assert np.isnan(head.loc["ferplus", "baseline_accuracy"])  # the baseline was not measured there
    assert head.loc["ferplus", "short"] == "FER+ majority" and head.loc["jaffe", "what"] == DOMAINS["jaffe"]
    assert domain_headline(rows, "base", baseline="base")["baseline_accuracy"].isna().all()  # not its own baseline
    assert domain_headline(rows, "nobody").empty


def _score(model: str, domain: str, accuracy: float, macro_f1: float):
    from ferviz.results.domains import DomainScore

    return DomainScore(model, domain, accuracy, macro_f1, 10, {})


def test_domain_markdown_is_one_row_per_model_with_a_dash_where_not_measured():
    from dataclasses import asdict

    from ferviz.results.domains import domain_markdown

    rows = [asdict(s) for s in (_score("a", "ferplus", 0.8, 0.7), _score("a", "fer2013", 0.6, 0.55),
                                _score("b", "fer2013", 0.5, 0.25))]
    assert domain_markdown(rows).splitlines() == ["| model | fer2013 | ferplus |", "|---|---:|---:|",
                                                  "| a | 60.0 / 55.0 | 80.0 / 70.0 |", "| b | 50.0 / 25.0 | — |"]


def test_tradeoff_frame_takes_each_model_once_from_the_five_reports(tmp_path):
    from ferviz.results.domains import (
        ADJUSTMENT_FILE,
        DOMAINS_FILE,
        FERPLUS_ONLY_FILE,
        RECIPE_PARTS_FILE,
        SELF_DISTIL_FILE,
        TRADEOFF_SOURCES,
        tradeoff_frame,
    )

    assert tradeoff_frame(tmp_path).empty
    def full(model, ferplus, ck, jaffe):
        return [_score(model, "ferplus", ferplus, 0.5), _score(model, "ckplus", 0.9, ck),
                _score(model, "jaffe", 0.4, jaffe)]

    reports = tmp_path / "reports"
    write_domains([*full("default", 0.78, 0.7, 0.5), _score("default", "fer2013", 0.63, 0.6),
                   _score("half", "ferplus", 0.9, 0.9)], reports / DOMAINS_FILE)  # half: no CK+/JAFFE
    write_domains(full("tau_0", 0.8, 0.6, 0.4), reports / ADJUSTMENT_FILE)
    write_domains([*full("default", 0.1, 0.1, 0.1), *full("ferplus_only", 0.85, 0.5, 0.3),
                   _score("ferplus_only", "photos", 0.9, 0.45)], reports / FERPLUS_ONLY_FILE)
    write_domains([*full("default", 0.2, 0.2, 0.2), *full("recipe_control", 0.81, 0.68, 0.44)],
                  reports / RECIPE_PARTS_FILE)
    write_domains([*full("default", 0.3, 0.3, 0.3), *full("self_kd", 0.805, 0.68, 0.45)], reports / SELF_DISTIL_FILE)
    frame = tradeoff_frame(tmp_path)
    # the default once, from the first file
    assert frame["model"].tolist() == ["default", "tau_0", "ferplus_only", "recipe_control", "self_kd"]
    assert frame["family"].tolist() == list(TRADEOFF_SOURCES.values())
    assert frame["ferplus"].tolist() == pytest.approx([78.0, 80.0, 85.0, 81.0, 80.5])
    assert frame["posed"].tolist() == pytest.approx([60.0, 50.0, 40.0, 56.0, 56.5])  # mean of CK+ and JAFFE macro-F1
    assert frame["fer2013"].iloc[0] == pytest.approx(63.0) and np.isnan(frame["fer2013"].iloc[2])
    assert frame["photos"].iloc[2] == pytest.approx(45.0) and np.isnan(frame["photos"].iloc[0])


def test_the_tradeoff_figure_stars_the_default_names_points_apart_and_marks_the_target():
    import pandas as pd

    from ferviz.figures.domains import _point_names, tradeoff_figure
    from ferviz.results.domains import TRADEOFF_SOURCES

    shipped, sweep, votes, parts, self_kd = TRADEOFF_SOURCES.values()
    frame = pd.DataFrame({"family": [shipped, shipped, sweep, sweep, votes, parts, self_kd],
                          "model": ["peer", "real", "tau_0", "tau_0.25", "ferplus_only_tau_0.5", "recipe_control",
                                    "self_kd"],
                          "ferplus": [68.0, 78.7, 80.8, 78.7, 84.8, 81.0, 76.0],
                          "posed": [79.0, 62.0, 57.4, 62.0, 46.6, 52.0, 70.0],
                          "fer2013": [58.0, 63.5, 62.7, 63.5, 59.8, 63.3, 63.0],
                          "photos": [55.0, 54.0, 56.0, 54.0, 50.0, 55.0, 56.0]})
    # the default first; tau_0.25 sits on it and is not named again; 1.5 across / 2 up is "close"
    def texts(names):
        return [name.text for name in names]

    assert texts(_point_names(frame, "real")) == ["peer", "real (default)", "tau 0", "", "ferplus_only_tau_0.5",
                                                  "recipe_control", "self_kd"]
    assert [name.place for name in _point_names(frame, "real")] == ["right", "right", "above", "", "right", "right",
                                                                    "right"]
    near = frame.assign(ferplus=[68.0, 69.0, 75.0, 80.0, 84.8, 81.0, 76.0],
                        posed=[79.0, 80.9, 79.0, 79.0, 46.6, 52.0, 70.0])
    assert texts(_point_names(near, None)) == ["peer", "", "tau 0", "tau 0.25", "ferplus_only_tau_0.5",
                                               "recipe_control", "self_kd"]
    # names that would overlap: x from 58 to 94 (820 px), y from 59.15 to 81.35 (61-79.5 with 10 % pads, 300 px):
    # "tau 0" above its point, 265-280 px up and 504-536 px across, runs into the default's name (267-282 up,
    # 488-614 across), so it goes below (236.5-251.5 up); a marker there too (a point at 77.0: 235-247 up,
    # 514-526 across) leaves it no place
    crowd = pd.DataFrame({"family": [shipped, sweep, shipped], "model": ["real", "tau_0", "low"],
                          "ferplus": [79.0, 80.8, 60.0], "balanced": [79.5, 78.3, 61.0]})
    assert _point_names(crowd, "real", y="balanced") == [("real (default)", "right"), ("tau 0", "below"),
                                                         ("low", "right")]
    blocked = pd.concat([crowd, pd.DataFrame({"family": [shipped], "model": ["blocker"], "ferplus": [80.8],
                                              "balanced": [77.0]})], ignore_index=True)
    assert texts(_point_names(blocked, "real", y="balanced")) == ["real (default)", "", "low", "blocker"]
    # a name whose right side holds a marker goes left (x from 78 to 94: "model_a_long" would run from 111.5 to
    # 187 px, b's marker is at 178.5-190.5), but not off the plot: with x from 58, at 61 it would start at -16 px
    left = pd.DataFrame({"family": [shipped, shipped], "model": ["model_a_long", "b"], "ferplus": [80.0, 81.6],
                         "balanced": [70.0, 70.0]})
    assert _point_names(left, None, y="balanced") == [("model_a_long", "left"), ("b", "right")]
    edge = pd.concat([left.assign(ferplus=[61.0, 62.6]), left.iloc[:1].assign(model="low", ferplus=60.0)],
                     ignore_index=True)
    assert _point_names(edge, None, y="balanced") == [("", ""), ("b", "right"), ("low", "left")]
    fig = tradeoff_figure(frame, target=85.0, default="real")
    assert [t.name for t in fig.data] == [shipped, sweep, votes, parts, self_kd]
    assert len({t.marker.color for t in fig.data}) == 5  # one colour per family
    assert list(fig.data[0].marker.symbol) == ["circle", "star"] and list(fig.data[0].marker.size) == [10, 18]
    assert fig.data[1].mode == "lines+markers" and fig.data[0].mode == "markers"
    assert fig.layout.shapes[0].x0 == 85.0 and "85 %" in fig.layout.annotations[0].text
    names = {a.text: (a.x, a.y, a.xanchor) for a in fig.layout.annotations[1:]}  # the points' names
    assert names == {"peer": (68.0, 79.0, "left"), "real (default)": (78.7, 62.0, "left"),
                     "tau 0": (80.8, 57.4, "center"), "ferplus_only_tau_0.5": (84.8, 46.6, "left"),
                     "recipe_control": (81.0, 52.0, "left"), "self_kd": (76.0, 70.0, "left")}
    assert all(a.bgcolor and not a.showarrow for a in fig.layout.annotations[1:])
    assert fig.layout.xaxis.range[1] == pytest.approx(85.0 + 9)
    assert "no domain table" in tradeoff_figure(frame.iloc[:0]).layout.title.text


def test_the_readme_domain_table_has_the_committed_numbers_of_every_model():
    from ferviz.results.domains import domain_markdown, domain_records

    committed = {line.split(" | ")[0].strip("| "): line.split(" | ", 1)[1]
                 for line in domain_markdown(domain_records(ROOT / "models")).splitlines()[2:]}
    readme = (ROOT / "README.md").read_text().split("By domain (accuracy / macro-F1")[1].split("\n\n")[1]
    rows = {line.split(" | ")[0].strip("| *`").split("`")[0]: line.split(" | ", 1)[1]
            for line in readme.splitlines()[2:]}
    assert rows == committed


def test_the_readme_mirror_view_table_is_the_sweeps_one_view_row_beside_the_shipped_default():
    from dataclasses import asdict

    from ferviz.results.domains import ADJUSTMENT_FILE, DOMAINS_FILE, domain_markdown, shipped_tau

    reports = ROOT / "models" / "reports"
    tau = shipped_tau(ROOT / "models")
    one_view = [asdict(s) for s in read_domains(reports / ADJUSTMENT_FILE) if s.model == f"tau_{tau:g}"]
    shipped = [asdict(s) for s in read_domains(reports / DOMAINS_FILE) if s.model == "real_dcnn_bilstm_dam"]
    assert one_view and shipped
    assert domain_markdown(one_view + shipped) in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", ["FERPLUS_ONLY_FILE", "RECIPE_PARTS_FILE", "SELF_DISTIL_FILE"])
def test_the_readme_carries_the_committed_trade_off_tables(name):
    from dataclasses import asdict

    from ferviz.results import domains

    committed = read_domains(ROOT / "models" / "reports" / getattr(domains, name))
    if not committed:
        pytest.skip(f"no committed {getattr(domains, name)}")
    assert domains.domain_markdown([asdict(s) for s in committed]) in (ROOT / "README.md").read_text()


def test_recall_frame_is_one_model_by_domain_and_class_with_nan_where_a_class_is_absent():
    from ferviz.results.domains import DomainScore, recall_frame

    scores = [DomainScore("m", "jaffe", 0.5, 0.5, 4, {"angry": 0.0, "happy": 1.0, "neutral": 0.5}),
              DomainScore("m", "ckplus", 0.5, 0.5, 4, {"angry": 0.25, "happy": 0.75}),
              DomainScore("other", "ckplus", 0.9, 0.9, 4, {"angry": 1.0, "sad": 1.0})]
    frame = recall_frame(scores, "m")
    assert frame.index.tolist() == ["ckplus", "jaffe"]  # DOMAINS order, not the scores' order
    assert frame.columns.tolist() == ["angry", "happy", "neutral"]  # FER2013 order; classes nobody had dropped
    assert frame.loc["ckplus", "angry"] == pytest.approx(25.0) and frame.loc["jaffe", "neutral"] == pytest.approx(50.0)
    assert np.isnan(frame.loc["ckplus", "neutral"])  # CK+ has no neutral face
    assert recall_frame(scores, "nobody").empty


def test_recall_heatmap_writes_every_cell_and_a_dash_where_a_domain_lacks_the_class():
    from ferviz.figures.domains import recall_heatmap
    from ferviz.results.domains import DomainScore, recall_frame

    scores = [DomainScore("m", "ckplus", 0.5, 0.5, 4, {"angry": 0.25, "happy": 0.75}),
              DomainScore("m", "jaffe", 0.5, 0.5, 4, {"angry": 0.0, "happy": 1.0, "neutral": 0.5})]
    fig = recall_heatmap(recall_frame(scores, "m"), "m")
    assert list(fig.data[0].y) == ["ckplus", "jaffe"] and list(fig.data[0].x) == ["angry", "happy", "neutral"]
    assert [list(row) for row in fig.data[0].text] == [["25.0", "75.0", "—"], ["0.0", "100.0", "50.0"]]
    assert "CK+48" in fig.data[0].hovertext[0][0] and "recall" in fig.layout.title.text
    assert "no per-class scores" in recall_heatmap(recall_frame(scores, "x"), "x").layout.title.text


# ------------------------------------------------------------------ balanced accuracy against FER+'s majority

def test_balanced_accuracy_and_its_standard_error_by_hand():
    from ferviz.results.domains import DomainScore, balanced_accuracy, balanced_error

    s = DomainScore("m", "ferplus", 0.9, 0.5, 14, {"happy": 1.0, "disgust": 0.5})
    assert balanced_accuracy(s) == 0.75  # 10 happy faces all right, 4 disgust half right: accuracy 6/7 would flatter
    assert np.isnan(balanced_accuracy(_score("m", "ferplus", 0.9, 0.5)))
    # sqrt(1 * 0 / 10 + 0.5 * 0.5 / 4) / 2 = 0.125
    assert balanced_error(s.per_class_recall, {"happy": 10, "disgust": 4, "fear": 3}) == pytest.approx(0.125)
    assert np.isnan(balanced_error({}, {}))
    with pytest.raises(ValueError, match="disgust"):
        balanced_error(s.per_class_recall, {"happy": 10})


def test_ferplus_class_counts_are_the_publictest_majorities(tmp_path):
    from ferviz.results.domains import ferplus_class_counts

    x = np.zeros((5, 48, 48), np.uint8)
    usage = np.array(["Training", "PublicTest", "PublicTest", "PublicTest", "PublicTest"])
    np.savez(tmp_path / "fer2013_trainval.npz", images=x, labels=np.zeros(5, np.int64), usage=usage)
    votes = np.zeros((5, 10), np.int16)
    votes[0, 1] = 10  # a training face: not counted
    votes[1, 1] = votes[2, 1] = 9  # two happy
    votes[3, [0, 3]] = 5  # a tie: no majority
    votes[4, 5] = 7  # disgust
    from ferviz.data.datasets import load_dataset

    names = load_dataset("npz", tmp_path / "fer2013_trainval.npz").source
    np.savez(tmp_path / "ferplus_votes.npz", votes=votes, match=np.ones(5, np.int8), source_name=names)
    counts = ferplus_class_counts(tmp_path / "fer2013_trainval.npz")
    assert counts == {"angry": 0, "disgust": 1, "fear": 0, "happy": 2, "sad": 0, "surprise": 0, "neutral": 0}


def test_the_tradeoff_frame_has_balanced_accuracy_with_the_recorded_counts_and_the_markdown_sorts_by_it(tmp_path):
    from ferviz.results.domains import (
        ADJUSTMENT_FILE,
        DOMAINS_FILE,
        DomainScore,
        balanced_markdown,
        read_ferplus_counts,
        tradeoff_frame,
    )

    def full(model, recall):
        return [DomainScore(model, "ferplus", 0.8, 0.6, 14, recall), _score(model, "ckplus", 0.9, 0.6),
                _score(model, "jaffe", 0.4, 0.4), _score(model, "fer2013", 0.6, 0.5)]

    reports = tmp_path / "reports"
    counts = {"happy": 10, "disgust": 4}
    write_domains(full("default", {"happy": 1.0, "disgust": 0.5}), reports / DOMAINS_FILE, "x", ferplus_counts=counts)
    write_domains(full("tau_0", {"happy": 1.0, "disgust": 0.75}), reports / ADJUSTMENT_FILE, "y")
    assert read_ferplus_counts(reports / DOMAINS_FILE) == counts
    write_domains(full("other", {"happy": 0.9, "disgust": 0.5}), reports / DOMAINS_FILE, "z")  # counts kept
    assert read_ferplus_counts(reports / DOMAINS_FILE) == counts and read_ferplus_counts(tmp_path / "no.json") == {}
    frame = tradeoff_frame(tmp_path)
    assert frame["balanced"].tolist() == pytest.approx([75.0, 70.0, 87.5])
    assert frame["balanced_se"].iloc[0] == pytest.approx(12.5)
    assert np.isnan(tradeoff_frame(tmp_path, counts=None)["balanced_se"]).sum() == 0  # read from the report
    text = balanced_markdown(frame).splitlines()
    assert text[2].startswith("| tau_0 | 80.0 | 87.5 (") and text[3].startswith("| default | 80.0 | 75.0 (50.5-99.5) |")
    assert text[3].endswith("| 50.0 | 60.0 |")


def test_the_tradeoff_figure_can_put_balanced_accuracy_up():
    import pandas as pd

    from ferviz.figures.domains import TRADEOFF_Y, tradeoff_figure
    from ferviz.results.domains import TRADEOFF_SOURCES

    shipped = next(iter(TRADEOFF_SOURCES.values()))
    frame = pd.DataFrame({"family": [shipped, shipped], "model": ["peer", "real"], "ferplus": [68.0, 79.0],
                          "posed": [79.0, 62.0], "balanced": [68.6, 79.5], "balanced_se": [1.5, 1.4],
                          "fer2013": [58.0, 64.6], "photos": [55.0, 58.4]})
    fig = tradeoff_figure(frame, default="real", y="balanced")
    assert list(fig.data[0].y) == [68.6, 79.5] and fig.layout.yaxis.title.text == TRADEOFF_Y["balanced"][0]
    assert "balanced accuracy" in fig.data[0].hovertemplate
    assert list(fig.data[0].error_y.array) == pytest.approx([2.94, 2.744])  # 1.96 standard errors
    assert tradeoff_figure(frame, default="real").data[0].error_y.array is None  # not on the posed sets
    assert list(tradeoff_figure(frame).data[0].y) == [79.0, 62.0]
    with pytest.raises(ValueError, match="posed, balanced"):
        tradeoff_figure(frame, y="recall")


def test_the_readme_carries_the_committed_balanced_accuracy_table():
    from ferviz.results.domains import balanced_markdown, tradeoff_frame

    frame = tradeoff_frame(ROOT / "models")
    assert frame["balanced_se"].notna().all()  # the domain table records PublicTest's FER+ class counts
    assert balanced_markdown(frame) in (ROOT / "README.md").read_text()


def test_the_domain_table_can_show_balanced_accuracy():
    from ferviz.results.domains import DomainScore, table_frame

    scores = [DomainScore("m", "ferplus", 0.9, 0.5, 14, {"happy": 1.0, "disgust": 0.5}),
              DomainScore("m", "ckplus", 0.5, 0.4, 6, {"angry": 0.25, "fear": 0.75, "sad": 0.5}),
              _score("peer", "ckplus", 0.7, 0.6)]  # no per-class recall: no balanced accuracy
    frame = table_frame(scores, "balanced_accuracy")
    assert frame.loc["m", "ferplus"] == pytest.approx(75.0) and frame.loc["m", "ckplus"] == pytest.approx(50.0)
    assert np.isnan(frame.loc["peer", "ckplus"])
    assert table_frame(scores, "accuracy").loc["m", "ferplus"] == pytest.approx(90.0)
    with pytest.raises(ValueError, match="balanced_accuracy"):
        table_frame(scores, "recall")

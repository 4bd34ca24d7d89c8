"""Tests for ferviz.results.significance: McNemar's test, bootstrap intervals, paired comparisons, seed spread."""

import math

import numpy as np
import pytest
from scipy import stats

from ferviz.results.metrics import compute_report
from ferviz.results.significance import (
    Interval,
    McNemar,
    PairedComparison,
    SignificanceError,
    bootstrap_ci,
    compare_predictions,
    disagreement_matrix,
    disagreements,
    mcnemar,
    paired_bootstrap,
    score,
    seed_spread,
)


def flags(a_only: int, b_only: int, both: int = 0, neither: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Correctness arrays with the given numbers of items per cell of the 2x2 table."""
    a = np.array([True] * a_only + [False] * b_only + [True] * both + [False] * neither)
    b = np.array([False] * a_only + [True] * b_only + [True] * both + [False] * neither)
    return a, b


def test_mcnemar_by_hand_one_against_five():
    a, b = flags(1, 5, both=10, neither=4)
    test = mcnemar(a, b)
    assert (test.a_only, test.b_only, test.n, test.discordant) == (1, 5, 20, 6)
    # P[Bin(6, 1/2) <= 1] = (1 + 6) / 64; two-sided doubles it
    assert test.p_exact == pytest.approx(14 / 64)
    assert test.chi2 == pytest.approx((4 - 1) ** 2 / 6)  # continuity corrected: 1.5
    assert test.p_chi2 == pytest.approx(0.220671, abs=1e-6)
    assert not test.significant()


@pytest.mark.parametrize(("a_only", "b_only"), [(0, 7), (3, 3), (10, 25), (174, 200), (40, 2), (1, 0)])
def test_mcnemar_exact_p_is_scipys_two_sided_binomial_test(a_only, b_only):
    test = mcnemar(*flags(a_only, b_only, both=5))
    assert test.p_exact == pytest.approx(stats.binomtest(a_only, a_only + b_only, 0.5).pvalue, rel=1e-9)
    swapped = mcnemar(*flags(b_only, a_only, both=5))  # symmetric in A and B
    assert (swapped.a_only, swapped.b_only) == (b_only, a_only)
    assert swapped.p_exact == pytest.approx(test.p_exact)
    assert 0 < test.p_exact <= 1


def test_mcnemar_without_disagreement_is_p_one_and_far_apart_is_significant():
    same = mcnemar(*flags(0, 0, both=30, neither=10))
    assert (same.p_exact, same.chi2, same.p_chi2) == (1.0, 0.0, 1.0)
    apart = mcnemar(*flags(40, 2))
    assert apart.significant() and apart.p_exact < 1e-9
    assert McNemar.from_dict(apart.to_dict()) == apart


def test_disagreement_matrix_rows_a_columns_b():
    a, b = flags(3, 2, both=7, neither=1)
    assert disagreement_matrix(a, b).tolist() == [[7, 3], [2, 1]]
    assert disagreement_matrix(a, b).sum() == 13


def test_bootstrap_ci_brackets_the_estimate_and_is_reproducible():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 800)
    pred = np.where(rng.random(800) < 0.65, y, rng.integers(0, 7, 800))
    ci = bootstrap_ci(y, pred, n_boot=500)
    assert ci.estimate == pytest.approx(np.mean(y == pred))
    assert ci.low < ci.estimate < ci.high and ci.level == 0.95 and ci.n_boot == 500
    # about 1.96 standard errors each side of a proportion
    se = math.sqrt(ci.estimate * (1 - ci.estimate) / 800)
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert bootstrap_ci(y, pred, n_boot=500) == ci  # seeded
    narrow = bootstrap_ci(y, pred, n_boot=500, level=0.5)
    assert ci.low < narrow.low < narrow.high < ci.high
    assert Interval.from_dict(ci.to_dict()) == ci


def test_bootstrap_of_a_perfect_model_is_a_point_and_text_reads_in_percent():
    y = np.arange(50) % 5
    ci = bootstrap_ci(y, y, n_boot=100)
    assert (ci.estimate, ci.low, ci.high) == (1.0, 1.0, 1.0)
    assert ci.text() == "100.0 % [100.0, 100.0]"
    assert Interval(-0.00724, -0.0178, 0.0036).text(signed=True) == "-0.7 pp [-1.8, +0.4]"
    assert Interval(0.652, 0.6357, 0.6684).text() == "65.2 % [63.6, 66.8]"
    assert Interval(0.652, 0.6357, 0.6684).bounds_text() == "[63.6, 66.8]"  # the bounds alone


def test_macro_f1_matches_the_metric_report_even_with_a_class_never_seen():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 6, 300)  # class 6 never occurs
    pred = np.where(rng.random(300) < 0.6, y, rng.integers(0, 7, 300))
    report = compute_report(y, pred, list("abcdefg"))
    assert score("macro_f1", y, pred, 7) == pytest.approx(report.macro["f1"])
    ci = bootstrap_ci(y, pred, "macro_f1", n_classes=7, n_boot=200)
    assert ci.estimate == pytest.approx(report.macro["f1"]) and ci.low < ci.estimate < ci.high


def test_paired_bootstrap_of_nearly_identical_models_is_narrow():
    y = np.zeros(1000, dtype=np.int64)
    a = y.copy()
    a[:300] = 1  # 70 % right
    b = a.copy()
    b[300:302] = 1  # B also wrong on two items A gets right
    diff = paired_bootstrap(y, a, b, n_boot=500)
    assert diff.estimate == pytest.approx(0.002)
    assert 0.0 <= diff.low <= diff.estimate <= diff.high <= 0.006
    separate = bootstrap_ci(y, a, n_boot=500)
    assert diff.high - diff.low < (separate.high - separate.low) / 5  # pairing removes the shared noise
    zero = paired_bootstrap(y, a, a, n_boot=50)
    assert (zero.estimate, zero.low, zero.high) == (0.0, 0.0, 0.0)


def test_compare_predictions_round_trips_and_says_what_it_found():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 7, 600)
    a = np.where(rng.random(600) < 0.7, y, (y + 1) % 7)
    b = np.where(rng.random(600) < 0.7, y, (y + 2) % 7)
    comp = compare_predictions(y, a, b, names=("big.pt", "small.pt"), n_classes=7, n_boot=200)
    assert comp.n == 600 and np.sum(comp.matrix) == 600
    assert comp.matrix[0][1] == comp.test.a_only and comp.matrix[1][0] == comp.test.b_only
    assert comp.difference.estimate == pytest.approx(comp.accuracy_a.estimate - comp.accuracy_b.estimate)
    assert PairedComparison.from_dict(comp.to_dict()) == comp
    verdict = comp.verdict()
    assert verdict.startswith("big.pt vs small.pt") and "McNemar exact p" in verdict
    assert ("not a significant" in verdict) == (comp.test.p_exact >= 0.05)
    worse = compare_predictions(y, a, (y + 3) % 7, n_boot=100)  # B always wrong
    assert worse.test.significant() and "a significant difference" in worse.verdict()
    assert "points higher for A" in worse.verdict()
    assert compare_predictions(y, a, a, n_boot=10).verdict().startswith("A vs B: the same accuracy — not a")


def test_disagreements_are_ordered_by_the_wrong_models_confidence():
    y = np.array([0, 0, 0, 1, 1])
    pa = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7], [0.7, 0.3]])
    pb = np.array([[0.3, 0.7], [0.1, 0.9], [0.9, 0.1], [0.4, 0.6], [0.2, 0.8]])
    a_only, b_only = disagreements(y, pa, pb)
    assert a_only.tolist() == [1, 0]  # B wrong at 0.9, then at 0.7
    assert b_only.tolist() == [2, 4]  # A wrong at 0.8, then at 0.7
    with pytest.raises(SignificanceError, match="two \\(N, K\\) arrays"):
        disagreements(y, pa, pb[:3])


@pytest.mark.parametrize(("args", "message"), [
    ((np.array([0, 1]), np.array([0, 1, 1])), "same items"),
    ((np.array([0.5, 1.0]), np.array([0, 1])), "integer class indices"),
    ((np.array([], dtype=int), np.array([], dtype=int)), "empty"),
])
def test_bad_input_is_a_clear_error(args, message):
    with pytest.raises(SignificanceError, match=message):
        bootstrap_ci(*args)
    with pytest.raises(SignificanceError, match="boolean"):
        mcnemar(np.array([1, 0]), np.array([True, False]))
    with pytest.raises(SignificanceError, match="unknown metric"):
        score("auc", [0, 1], [0, 1])
    with pytest.raises(SignificanceError, match="class indices in"):
        score("accuracy", [0, 3], [0, 1], n_classes=2)


def test_seed_spread_says_one_seed_and_measures_several():
    one = seed_spread([54.56])
    assert one.one_seed and math.isnan(one.std) and one.text() == "54.56 % (one seed)"
    three = seed_spread([1.0, 2.0, 3.0])
    assert (three.runs, three.mean, three.std, three.low, three.high) == (3, 2.0, 1.0, 1.0, 3.0)
    assert three.text() == "2.00 ± 1.00 % (3 seeds)"
    with pytest.raises(SignificanceError):
        seed_spread([])


def test_paired_seeds_matches_the_closed_form_t_test_with_two_degrees_of_freedom():
    from ferviz.results.significance import paired_seeds

    # differences 1, 2, 0: mean 1, std 1, t = sqrt(3); with 2 df the two-sided p is 1 - t / sqrt(2 + t^2)
    pairs = paired_seeds({0: 61.0, 1: 62.0, 2: 60.0, 7: 50.0}, {0: 60.0, 1: 60.0, 2: 60.0, 9: 70.0})
    assert pairs.seeds == (0, 1, 2) and pairs.differences == (1.0, 2.0, 0.0)
    assert pairs.mean == pytest.approx(1.0) and pairs.std == pytest.approx(1.0)
    assert pairs.t == pytest.approx(math.sqrt(3))
    assert pairs.p_value == pytest.approx(1 - math.sqrt(3 / 5), abs=1e-9)
    assert pairs.a_wins == 2 and not pairs.significant
    assert pairs.text(a_name="cnn_bilstm") == ("+1.00 ± 1.00 pp over 3 paired seeds (cnn_bilstm higher in 2 "
                                               "of 3), paired t-test p = 0.225: within seed noise")
    same = paired_seeds({0: 1.0, 1: 2.0}, {0: 0.5, 1: 1.5})  # a constant difference: no noise at all
    assert same.p_value == 0.0 and same.significant
    assert paired_seeds({0: 1.0, 1: 2.0}, {0: 1.0, 1: 2.0}).p_value == 1.0
    with pytest.raises(SignificanceError, match="two shared seeds"):
        paired_seeds({0: 1.0, 1: 2.0}, {1: 1.0, 2: 2.0})

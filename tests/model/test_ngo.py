"""Northern Goshawk Optimization: budget, greedy selection, convergence on a toy objective."""

import numpy as np
import pytest

from ferviz.model.ngo import decode_bilstm_params, ngo_minimize


def sphere(x):
    return float(((x - 0.3) ** 2).sum())


def test_budget_is_population_times_one_plus_two_iterations():
    result = ngo_minimize(sphere, 3, population=5, iterations=4, seed=1)
    assert result.evaluations == 5 * (1 + 2 * 4) == len(result.history)


def test_improves_on_the_initial_population_and_stays_in_the_box():
    result = ngo_minimize(sphere, 2, population=8, iterations=30, seed=0)
    initial = min(h["f"] for h in result.history if h["phase"] == "init")
    assert result.best_f < initial
    assert result.best_f < 1e-3
    assert all(0 <= v <= 1 for h in result.history for v in h["x"])
    assert result.best_f == pytest.approx(sphere(result.best_x))


def test_is_deterministic_for_a_seed():
    a = ngo_minimize(sphere, 3, seed=7)
    b = ngo_minimize(sphere, 3, seed=7)
    np.testing.assert_array_equal(a.best_x, b.best_x)


def test_needs_two_candidates():
    with pytest.raises(ValueError, match="at least 2"):
        ngo_minimize(sphere, 2, population=1)


def test_decode_hand_values():
    assert decode_bilstm_params(np.zeros(3)) == {"lr": 1e-4, "fc_hidden": 100, "dropout": 0.1}
    hi = decode_bilstm_params(np.ones(3))
    assert hi["lr"] == pytest.approx(1e-2) and hi["fc_hidden"] == 500 and hi["dropout"] == 0.6

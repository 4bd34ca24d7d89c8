"""Northern Goshawk Optimization (Dehghani, Hubálovský & Trojovský, IEEE Access 9, 2021), for ``ngo_bilstm``.

A population of candidate solutions in a box. Each iteration, every candidate

* phase 1 (prey identification, exploration): picks a random other candidate as prey P; if P is better
  it moves towards it, ``x + r * (P - I * x)`` (r ~ U(0, 1), I random in {1, 2}), otherwise away from it,
  ``x + r * (x - P)``;
* phase 2 (chase, exploitation): searches a neighbourhood that shrinks over the iterations,
  ``x + R * (2r - 1) * x`` with ``R = 0.02 * (1 - t / T)``;

and keeps a move only if it improves the objective (greedy selection). docs/DESIGN.md §9 uses it to pick
``cnn_bilstm``'s learning rate, FC width and dropout on the validation split with a small, stated budget:
``population * (1 + 2 * iterations)`` objective evaluations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class NGOResult:
    best_x: np.ndarray  # (dim,) in the unit box
    best_f: float
    evaluations: int
    # every evaluation: {"x": [...], "f": float, "phase": str}
    history: list[dict] = field(default_factory=list)


def ngo_minimize(f: Callable[[np.ndarray], float], dim: int, *, population: int = 4, iterations: int = 2,
                 seed: int = 0, lower: float = 0.0, upper: float = 1.0) -> NGOResult:
    """Minimise ``f`` over the box ``[lower, upper]^dim`` with NGO; ``population >= 2``."""
    if population < 2:
        raise ValueError("NGO needs a population of at least 2 (phase 1 picks another candidate as prey)")
    rng = np.random.default_rng(seed)
    history: list[dict] = []

    def evaluate(x: np.ndarray, phase: str) -> float:
        value = float(f(x))
        history.append({"x": x.tolist(), "f": value, "phase": phase})
        log.info("NGO %s: f=%.5f at %s", phase, value, np.round(x, 3).tolist())
        return value

    pop = lower + rng.random((population, dim)) * (upper - lower)
    fit = np.array([evaluate(x, "init") for x in pop])
    for t in range(1, iterations + 1):
        for i in range(population):
            k = rng.choice([j for j in range(population) if j != i])
            r, intensity = rng.random(dim), rng.integers(1, 3)
            if fit[k] < fit[i]:
                cand = pop[i] + r * (pop[k] - intensity * pop[i])
            else:
                cand = pop[i] + r * (pop[i] - pop[k])
            _greedy(pop, fit, i, np.clip(cand, lower, upper), evaluate, f"iter {t} phase 1")
            radius = 0.02 * (1 - t / iterations)
            cand = pop[i] + radius * (2 * rng.random(dim) - 1) * pop[i]
            _greedy(pop, fit, i, np.clip(cand, lower, upper), evaluate, f"iter {t} phase 2")
    best = int(fit.argmin())
    return NGOResult(pop[best].copy(), float(fit[best]), len(history), history)


def _greedy(pop: np.ndarray, fit: np.ndarray, i: int, cand: np.ndarray, evaluate, phase: str) -> None:
    value = evaluate(cand, phase)
    if value < fit[i]:
        pop[i], fit[i] = cand, value


def decode_bilstm_params(u: np.ndarray) -> dict:
    """Unit-box point -> cnn_bilstm hyper-parameters.

    lr in [1e-4, 1e-2] (log scale), FC width 100-500, dropout 0.1-0.6.
    """
    u = np.clip(np.asarray(u, dtype=float), 0, 1)
    return {"lr": float(10 ** (-4 + 2 * u[0])), "fc_hidden": int(round(100 + 400 * u[1])),
            "dropout": float(round(0.1 + 0.5 * u[2], 3))}

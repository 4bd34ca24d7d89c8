"""The training layer: the training loop and what runs it, cross-validation, weight averaging, levers.

- :mod:`~ferviz.train.engine`: :class:`TrainConfig` and the resumable, data-parallel ``Trainer``.
- :mod:`~ferviz.train.runner`: :func:`run_training`, one training run from arrays to a checkpoint folder.
- :mod:`~ferviz.train.crossval`: subject-grouped k-fold cross-validation (CK+, JAFFE).
- :mod:`~ferviz.train.swa`: the mean of kept epochs' weights, BatchNorm recomputed (``ferviz average``).
- :mod:`~ferviz.train.levers` and :mod:`~ferviz.train.sharding`: the lever registry; torchrun sharding.

The public names below are imported lazily.
"""

from ferviz._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "TrainConfig": "engine", "TrainResult": "engine", "run_training": "runner", "cross_validate": "crossval",
    "average_checkpoints": "swa", "LEVERS": "levers",
})

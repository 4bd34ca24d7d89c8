"""The model layer: the DCNN-BiLSTM dual-attention network, its variants, its checkpoints, the baselines.

- :mod:`~ferviz.model.network`: :class:`FERNet` built from a :class:`ModelConfig`; :data:`VARIANTS`, the
  registry of named variants (the full model, ablations, the paper's comparison models).
- :mod:`~ferviz.model.checkpoint`: self-describing ``.pt`` files (weights, labels, preprocessing, meta),
  loaded with ``torch.load(weights_only=True)`` and checked against their card's sha256.
- :mod:`~ferviz.model.baselines` and :mod:`~ferviz.model.ngo`: the HOG + SVM baseline and the NGO search.

The public names below are imported lazily.
"""

from ferviz._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "FERNet": "network", "ModelConfig": "network", "VARIANTS": "network", "DEFAULT_VARIANT": "network",
    "build_model": "network", "LoadedModel": "checkpoint", "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint", "file_sha256": "checkpoint",
})

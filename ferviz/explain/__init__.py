"""Explanations of one face's prediction: attention maps, Captum attributions, faithfulness, a walk-through.

Every function here returns data (dataclasses and NumPy arrays) and never changes the model it is
given: attention comes from :meth:`FERNet.forward_with_attention` (no hooks) and the attribution
methods run on a private deep copy, so the Streamlit app's shared cached model stays read-only and
concurrent sessions are safe. Figures are built in :mod:`ferviz.figures`.
"""

from ferviz.explain.attention import (
    Ablations,
    AblationView,
    AttentionSet,
    ablation_views,
    channel_matrix,
    face_attention,
    face_input,
    group_maps,
    query_map,
    query_weights,
    received_map,
    received_weights,
    token_map,
)
from ferviz.explain.attributions import METHODS, AttributionMethod, attribute, predicted_class, register
from ferviz.explain.faithfulness import Curve, Faithfulness, SanityCheck, deletion_insertion, sanity_check
from ferviz.explain.walkthrough import Stage, walkthrough

__all__ = [
    "METHODS", "AblationView", "Ablations", "AttentionSet", "AttributionMethod", "Curve", "Faithfulness",
    "SanityCheck", "Stage", "ablation_views", "attribute", "channel_matrix", "deletion_insertion",
    "face_attention", "face_input", "group_maps", "predicted_class", "query_map", "query_weights",
    "received_map", "received_weights", "register", "sanity_check", "token_map", "walkthrough",
]

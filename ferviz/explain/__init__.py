"""Explanations of one face's prediction: attention maps, Captum attributions, faithfulness, a walk-through.

Every function here returns data (dataclasses and NumPy arrays) and never changes the model it is
given: attention comes from :meth:`FERNet.forward_with_attention` (no hooks) and the attribution
methods run on a private deep copy, so the Streamlit app's shared cached model stays read-only and
concurrent sessions are safe. Figures are built in :mod:`ferviz.figures`.
"""

from ferviz.explain.attention import (
    MIN_FACE_SIDE,
    Ablations,
    AblationView,
    AttentionSet,
    ablation_views,
    attention_spread,
    channel_matrix,
    face_attention,
    face_input,
    group_cells,
    group_maps,
    n_keys,
    not_analysable,
    query_cells,
    query_map,
    query_weights,
    received_cells,
    received_map,
    received_weights,
    token_map,
)
from ferviz.explain.attributions import (
    METHODS,
    Attribution,
    AttributionMethod,
    attribute,
    predicted_class,
    register,
    timed_attribution,
)
from ferviz.explain.faithfulness import (
    Curve,
    Faithfulness,
    SanityCheck,
    deletion_insertion,
    random_curves,
    sanity_check,
)
from ferviz.explain.walkthrough import PARTS, Stage, walkthrough

__all__ = [
    "METHODS", "MIN_FACE_SIDE", "PARTS", "AblationView", "Ablations", "AttentionSet", "Attribution",
    "AttributionMethod", "Curve", "Faithfulness", "SanityCheck", "Stage", "ablation_views",
    "attention_spread", "attribute", "channel_matrix", "deletion_insertion", "face_attention", "face_input",
    "group_cells", "group_maps", "n_keys", "not_analysable", "predicted_class", "query_cells", "query_map",
    "query_weights", "random_curves", "received_cells", "received_map", "received_weights", "register",
    "sanity_check", "timed_attribution", "token_map", "walkthrough",
]

"""Logit adjustment after training: a class-prior correction folded into the classifier's bias.

A model trained on FER2013 has learnt FER2013's class shares as well as its faces: by FER+'s votes a
third of its training faces are neutral, a quarter happy, 1.7 % disgust. On a set where every class is
as common as the others (labelled real photos, CK+, JAFFE) that prior costs the rare classes. Logit
adjustment (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021) subtracts
``tau * log(prior)`` from the logits: ``tau = 0`` is the model as trained, ``tau = 1`` the Bayes rule for
balanced classes. Because the subtraction is a constant per class it folds exactly into the bias of the
last linear layer (``FERNet.head``), so the adjusted model is an ordinary checkpoint: ``forward(x)``
returns the adjusted logits, every path of the app (Predict, video, Live, Captum, the attention maps)
uses it unchanged, and its meta records ``tau``, the prior and the command. ``ferviz adjust`` is the
command line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ferviz.data.ferplus import LabelTargets
from ferviz.data.labels import EMOTIONS
from ferviz.errors import CheckpointError
from ferviz.model.checkpoint import LoadedModel, atomic_torch_save, checkpoint_dict


def label_prior(targets: LabelTargets, labels: list[str]) -> np.ndarray:
    """The class shares of a labelling's training targets, in the order of ``labels`` (sums to 1).

    Soft targets (FER+'s vote distributions) count each face's distribution; hard labels count faces.
    Only the kept rows count. A class with no share at all gets a floor of 1e-6 (its log stays finite).
    """
    keep = np.asarray(targets.keep, bool)
    if targets.soft is not None:
        shares = np.asarray(targets.soft, np.float64)[keep].sum(0)
    else:
        shares = np.bincount(np.asarray(targets.labels)[keep], minlength=len(EMOTIONS)).astype(np.float64)
    by_name = dict(zip(EMOTIONS, shares, strict=True))
    missing = [name for name in labels if name not in by_name]
    if missing:
        raise CheckpointError(f"no prior for class(es) {', '.join(missing)}: the targets cover "
                              f"{', '.join(EMOTIONS)}")
    prior = np.maximum(np.array([by_name[name] for name in labels]), 0.0)
    if prior.sum() <= 0:
        raise CheckpointError("the training targets are empty: no prior to adjust by")
    prior = np.maximum(prior / prior.sum(), 1e-6)
    return prior / prior.sum()


def adjust_logits(loaded: LoadedModel, tau: float, prior: np.ndarray) -> LoadedModel:
    """Fold ``-tau * log(prior)`` into ``loaded``'s classifier bias (in place) and return it.

    Raises
    ------
    CheckpointError
        When the model has no linear ``head`` with a bias, the prior does not match its classes, or the
        checkpoint was adjusted before (adjust the unadjusted one: two adjustments would add up silently).
    """
    head = getattr(loaded.model, "head", None)
    if not isinstance(head, torch.nn.Linear) or head.bias is None:
        raise CheckpointError(f"{loaded.path}: logit adjustment needs a ferviz network (a linear head with a "
                              "bias); this model has none")
    prior = np.asarray(prior, np.float64)
    if prior.shape != (head.out_features,) or not np.all(prior > 0):
        raise CheckpointError(f"the prior must be {head.out_features} positive class shares, one per class "
                              f"({', '.join(loaded.labels)}); got shape {prior.shape}")
    done = loaded.meta.get("logit_adjustment")
    if done:
        raise CheckpointError(f"{loaded.path} is already adjusted (tau = {done.get('tau')}); adjust the "
                              "checkpoint it was made from instead")
    if not np.isfinite(tau) or tau < 0:
        raise CheckpointError(f"tau must be a finite number >= 0 (0 = the model as trained); got {tau}")
    with torch.no_grad():
        head.bias -= torch.as_tensor(tau * np.log(prior), dtype=head.bias.dtype)
    shares = {name: round(float(share), 6) for name, share in zip(loaded.labels, prior, strict=True)}
    loaded.meta["logit_adjustment"] = {"tau": float(tau), "prior": shares}
    return loaded


def set_views(loaded: LoadedModel, tta: str) -> LoadedModel:
    """Make ``tta``'s test-time views part of how ``loaded`` predicts (in place) and return it.

    The mode goes into the checkpoint's preprocessing (``Preprocessing.tta``), so every path of the app
    averages each face's probabilities over those views (:func:`ferviz.pipeline.tta.model_views`); the maps
    and attributions still explain the face as shown. Only ``"flip"`` (each face and its mirror image) or
    ``"none"`` are allowed: a model's own views must keep the whole face in view.

    Raises
    ------
    CheckpointError
        For any other mode.
    """
    from dataclasses import replace

    if tta not in ("none", "flip"):
        raise CheckpointError(f"a model's own test-time views can be 'none' or 'flip', not {tta!r} (ten crops "
                              "cut into the aligned face; ask for them per evaluation with --tta instead)")
    loaded.preprocessing = replace(loaded.preprocessing, tta=tta)
    loaded.meta["test_time_views"] = tta
    return loaded


def save_adjusted(loaded: LoadedModel, out: str | Path, *, prior_source: str = "", command: str = "") -> Path:
    """Write an adjusted model (a decision rule, test-time views or both) as a self-describing checkpoint; its
    meta records what and how (commands of earlier adjustments first, one per line)."""
    meta = dict(loaded.meta)
    if "logit_adjustment" not in meta and "test_time_views" not in meta:
        raise CheckpointError("nothing to save: the model was not adjusted (adjust_logits or set_views first)")
    if "logit_adjustment" in meta and prior_source:
        meta["logit_adjustment"] = {**meta["logit_adjustment"], "prior_source": prior_source}
    earlier = str(loaded.meta.get("adjust_command") or "")
    meta["adjust_command"] = "\n".join(filter(None, [earlier, command]))
    out = Path(out)
    atomic_torch_save(checkpoint_dict(loaded.model, labels=loaded.labels, preprocessing=loaded.preprocessing,
                                      variant=loaded.variant, meta=meta), out)
    return out


def describe_adjustment(meta: dict) -> str:
    """One sentence on a checkpoint's logit adjustment for its model card ("" for an unadjusted one)."""
    done = meta.get("logit_adjustment")
    views = ("Test-time views: every prediction averages the probabilities of the face and of its mirror image "
             "(`ferviz adjust --tta flip`); the attention maps and attributions explain the face as shown."
             if meta.get("test_time_views") == "flip" else "")
    if not done:
        return views
    prior = done.get("prior") or {}
    shares = ", ".join(f"{name} {share * 100:.1f} %" for name, share in prior.items())
    source = done.get("prior_source") or "the training labels"
    rule = (f"Decision rule: logit adjustment with tau = {done.get('tau'):g}, tau x log(prior) subtracted from "
            f"the logits (folded into the classifier's bias), the prior being the class shares of "
            f"{source} ({shares}); tau = 0 is the model as trained, 1 treats every class as equally common.")
    return " ".join(filter(None, [rule, views]))

"""Tests for ferviz.results.leakage: exact and near duplicates across splits, scores on duplicated vs clean items."""

import math

import cv2
import numpy as np
import pytest
import torch
from scipy import stats

from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing
from ferviz.model.checkpoint import load_checkpoint, save_checkpoint
from ferviz.model.network import build_model
from ferviz.results.leakage import (
    NEAR_THRESHOLD,
    LeakageError,
    deduplicated,
    exact_groups,
    exact_matches,
    find_duplicates,
    image_digests,
    leakage_scores,
    model_caveats,
    nearest_similarity,
    protocol_caveats,
)
from tests.helpers import TINY


def textured(n: int, seed: int) -> np.ndarray:
    """(n, 48, 48) uint8 images of smooth random texture (distinct from each other)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 8, 8)).astype(np.uint8)
    return np.stack([cv2.resize(im, (48, 48), interpolation=cv2.INTER_CUBIC) for im in small])


@pytest.fixture(scope="module")
def planted():
    """A reference set of 40 images and 6 queries: exact copy of 3, a 1-px shift of 7 with noise, a re-toned
    copy of 5, an exact copy of 9 that carries another label, an unrelated image, and a blank image."""
    reference = textured(40, 0)
    rng = np.random.default_rng(1)
    shifted = np.roll(reference[7], 1, axis=1).astype(float) + rng.normal(0, 2, (48, 48))
    retoned = 0.7 * reference[5].astype(float) + 30
    query = np.stack([reference[3], np.clip(shifted, 0, 255).astype(np.uint8),
                      retoned.astype(np.uint8), reference[9], textured(1, 99)[0],
                      np.full((48, 48), 128, np.uint8)])
    ref_labels = np.arange(40) % 7
    query_labels = np.array([3, 0, 5, (9 % 7) + 1, 2, 6])
    return query, reference, query_labels, ref_labels


def test_exact_matches_hash_shape_and_pixels(planted):
    query, reference, _, _ = planted
    assert exact_matches(query, reference).tolist() == [3, -1, -1, 9, -1, -1]
    digests = image_digests(reference)
    assert digests.shape == (40,) and len(set(digests)) == 40 and len(digests[0]) == 32
    tall = np.zeros((1, 48, 24), np.uint8)
    wide = np.zeros((1, 24, 48), np.uint8)  # same bytes, another shape
    assert exact_matches(tall, wide).tolist() == [-1]
    groups = exact_groups(np.concatenate([reference[:3], reference[1:2], reference[:1]]))
    assert groups.tolist() == [0, 1, 2, 1, 0]


def test_find_duplicates_tells_exact_near_and_clean_apart(planted):
    query, reference, query_labels, ref_labels = planted
    dups = find_duplicates(query, reference, query_labels=query_labels, reference_labels=ref_labels)
    assert dups.exact.tolist() == [True, False, False, True, False, False]
    assert dups.near.tolist() == [False, True, True, False, False, False]
    assert dups.near_match[1] == 7 and dups.near_match[2] == 5
    assert dups.label_conflict.tolist() == [False, False, False, True, False, False]
    assert dups.similarity[0] == 1.0 and dups.similarity[2] == pytest.approx(1.0, abs=0.01)  # re-toning
    assert dups.similarity[1] >= NEAR_THRESHOLD > dups.similarity[4]
    assert math.isnan(dups.similarity[5])  # blank: not near-matched
    assert dups.counts() == {"n": 6, "exact": 2, "near": 2, "leaked": 4, "label_conflicts": 1}
    assert dups.leaked.tolist() == [True, True, True, True, False, False]
    hist = dups.histogram()
    assert sum(hist["counts"]) + hist["below"] == 3  # the non-exact items with a similarity


def test_exact_only_search_and_other_image_sizes(planted):
    query, reference, _, _ = planted
    dups = find_duplicates(query, reference, near=False)
    assert not dups.searched_near and not dups.near.any() and dups.counts()["exact"] == 2
    big = np.stack([cv2.resize(im, (96, 96), interpolation=cv2.INTER_LINEAR) for im in reference])
    similarity, match = nearest_similarity(query[:3], big)  # brought to 48x48 first
    assert match.tolist() == [3, 7, 5] and (similarity > 0.95).all()


def test_bad_images_are_refused_with_a_message():
    with pytest.raises(LeakageError, match="uint8"):
        find_duplicates(np.zeros((2, 48, 48)), np.zeros((2, 48, 48), np.uint8))
    with pytest.raises(LeakageError, match="query labels"):
        find_duplicates(np.zeros((2, 48, 48), np.uint8), np.zeros((3, 48, 48), np.uint8),
                        query_labels=[0], reference_labels=[0, 1, 2])
    with pytest.raises(LeakageError, match="threshold"):
        find_duplicates(np.zeros((1, 48, 48), np.uint8), np.zeros((1, 48, 48), np.uint8), threshold=0)


def test_leakage_scores_by_hand():
    y_true = np.array([0, 1, 2, 0, 1, 2])
    y_pred = np.array([0, 1, 0, 0, 2, 2])
    dup = np.array([True, True, False, False, False, False])
    scores = leakage_scores(y_true, y_pred, dup, n_classes=3)
    assert (scores.all.n, scores.all.correct, scores.all.accuracy) == (6, 4, pytest.approx(4 / 6))
    assert scores.duplicated.accuracy == 1.0 and scores.clean.accuracy == 0.5
    assert scores.inflation == pytest.approx(4 / 6 - 0.5) and scores.gap == 0.5
    assert scores.p_value == pytest.approx(stats.fisher_exact([[2, 0], [2, 2]]).pvalue)
    # clean items: classes 2, 0, 1, 2 predicted 0, 0, 2, 2 -> F1 per class 2/3, 0, 1/2
    assert scores.macro_f1_clean == pytest.approx((2 / 3 + 0 + 0.5) / 3)
    none = leakage_scores(y_true, y_pred, np.zeros(6, bool))
    assert none.duplicated.n == 0 and math.isnan(none.duplicated.accuracy) and math.isnan(none.p_value)
    assert none.to_dict()["duplicated"]["accuracy"] is None
    with pytest.raises(LeakageError, match="equal length"):
        leakage_scores(y_true, y_pred, dup[:3])


def test_deduplicated_gives_intervals_beside_the_split_scores(planted):
    query, reference, _, _ = planted
    dups = find_duplicates(query, reference)
    y_true = np.array([0, 1, 2, 3, 4, 5])
    y_pred = np.array([0, 1, 2, 3, 0, 5])
    result = deduplicated(y_true, y_pred, dups, 7, n_boot=200)
    assert result.exact.duplicated.accuracy == 1.0 and result.leaked.clean.n == 2
    assert result.clean_accuracy.estimate == 0.5 and result.accuracy.estimate == pytest.approx(5 / 6)
    data = result.to_dict()
    assert data["leaked"]["clean_accuracy_ci"]["estimate"] == 0.5 and data["accuracy"]["n_boot"] == 200
    with pytest.raises(LeakageError, match="predictions"):
        deduplicated(y_true[:3], y_pred[:3], dups)


def test_protocol_caveats_name_the_selection_and_training_splits():
    assert protocol_caveats(["PrivateTest"], train_split="Training", selected_on="PublicTest") == []
    (only,) = protocol_caveats(["PublicTest"], train_split="Training", selected_on="PublicTest")
    assert "**PublicTest**" in only and "optimistic" in only and "are **PublicTest**" in only
    both = protocol_caveats(["PublicTest", "Training"], train_split="Training", selected_on="PublicTest")
    assert len(both) == 2 and "memory, not generalisation" in both[0] and "include **PublicTest**" in both[1]
    assert protocol_caveats(["PublicTest"]) == []


def test_model_caveats_read_the_checkpoint_when_there_is_no_card(tmp_path):
    torch.manual_seed(0)
    model = build_model("dcnn_bilstm_dam", **TINY).eval()
    path = save_checkpoint(tmp_path / "sel.pt", model, labels=list(EMOTIONS), preprocessing=Preprocessing(),
                           variant="dcnn_bilstm_dam", metrics={},
                           meta={"dataset": "npz", "train_split": "Training", "select_split": "PublicTest"})
    loaded = load_checkpoint(path)
    assert len(model_caveats(loaded, "npz", ["PublicTest"])) == 1
    assert model_caveats(loaded, "ckplus", ["PublicTest"]) == []  # another dataset: its splits are not ours
    assert model_caveats(loaded, "npz", ["PrivateTest"]) == []

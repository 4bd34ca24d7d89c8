"""Tests for ferviz.results.agreement: FER+ votes looked up by source name, scores by human agreement."""

from pathlib import Path

import numpy as np
import pytest

from ferviz.data.ferplus import votes_from_array
from ferviz.errors import DatasetError
from ferviz.results.agreement import (
    FER2013_CLASSES,
    NO_MAJORITY,
    agreement_metrics,
    face_votes,
    model_order,
    order_items,
    votes_for_sources,
)

VOTES = Path("/work/shared/data/fer2013/ferplus_votes.npz")

# Five PublicTest faces and their FER+ votes, written out by hand from fer2013new.csv's columns
# (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF).
HAND = {
    "test/fear/PublicTest_11794960.jpg": [1, 0, 5, 0, 0, 0, 1, 0, 3, 0],  # surprise 5
    "test/fear/PublicTest_92046854.jpg": [10, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # neutral 10: FER2013 says fear
    "test/happy/PublicTest_5882653.jpg": [0, 9, 1, 0, 0, 0, 0, 0, 0, 0],
    "test/neutral/PublicTest_58693274.jpg": [9, 0, 0, 0, 0, 0, 0, 1, 0, 0],
    "test/angry/PublicTest_10116449.jpg": [8, 0, 0, 1, 1, 0, 0, 0, 0, 0],  # neutral 8: FER2013 says angry
}


@pytest.mark.skipif(not VOTES.is_file(), reason="the shared FER+ votes are not on this machine")
def test_votes_of_five_publictest_faces_are_joined_by_name():
    names = [*HAND, "test/happy/not_a_face.jpg"]
    votes = votes_for_sources(names, VOTES)
    expected = votes_from_array(np.array(list(HAND.values())))
    np.testing.assert_array_equal(votes.counts[:5], expected.counts)
    np.testing.assert_array_equal(votes.other[:5], [3, 0, 0, 1, 0])
    assert votes.matched.tolist() == [True] * 5 + [False] and votes.counts[5].sum() == 0
    majority = [FER2013_CLASSES[k] for k in votes.majority[:5]]
    assert majority == ["surprise", "neutral", "happy", "neutral", "neutral"]
    assert votes.agreement[:5].tolist() == [5, 10, 9, 9, 8]
    assert votes.source_name.tolist() == names


@pytest.mark.skipif(not VOTES.is_file(), reason="the shared FER+ votes are not on this machine")
def test_one_face_lookup_for_the_pages(monkeypatch):
    face = face_votes("test/fear/PublicTest_92046854.jpg", VOTES)
    assert face.counts == (0, 0, 0, 0, 0, 0, 10) and face.majority == "neutral" and face.agreement == 10
    assert face_votes("test/fear/nothing.jpg", VOTES) is None
    monkeypatch.setenv("FERVIZ_FERPLUS_VOTES", str(VOTES))
    assert face_votes("test/happy/PublicTest_5882653.jpg").majority == "happy"
    monkeypatch.setenv("FERVIZ_FERPLUS_VOTES", "")
    assert face_votes("test/happy/PublicTest_5882653.jpg") is None


def test_unknown_votes_file_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="no FER"):
        votes_for_sources(["x"], tmp_path / "ferplus_votes.npz")


def test_model_order_follows_the_class_names():
    votes = votes_from_array(np.array([[0, 9, 1, 0, 0, 0, 0, 0, 0, 0], [6, 0, 0, 0, 4, 0, 0, 0, 0, 0]]))
    majority, counts = model_order(votes, ["neutral", "happy", "angry"])  # a 3-class model
    assert majority.tolist() == [1, 0]
    assert counts.tolist() == [[0, 9, 0], [6, 0, 4]]


def test_agreement_metrics_are_hand_checked():
    # FER+ rows: happy 9/10; neutral 6 + angry 4; happy 5 + sad 5 (a tie: no majority); angry 10
    rows = np.array([[0, 9, 1, 0, 0, 0, 0, 0, 0, 0], [6, 0, 0, 0, 4, 0, 0, 0, 0, 0],
                     [0, 5, 0, 5, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 10, 0, 0, 0, 0, 0]])
    votes = votes_from_array(rows)
    names = list(FER2013_CLASSES)
    y_true = np.array([3, 0, 4, 0])  # happy, angry (majority neutral), sad, angry
    y_pred = np.array([3, 6, 3, 0])  # right, neutral, wrong, right
    out = agreement_metrics(y_true, y_pred, votes, names, n_boot=50)
    assert out["all"]["accuracy"]["estimate"] == 0.5
    bands = {b["band"]: b for b in out["bands"]}
    assert bands["8-10 of 10 agree"]["n"] == 2 and bands["8-10 of 10 agree"]["accuracy"]["estimate"] == 1.0
    assert bands["5-7 of 10"]["n"] == 1 and bands["5-7 of 10"]["errors"] == 1
    assert bands["4 or fewer"]["n"] == 0 and bands["4 or fewer"]["accuracy"] is None
    assert out["errors"] == {"8-10 of 10 agree": 0, "5-7 of 10": 1, "4 or fewer": 0, "no FER+ majority": 1,
                             "total": 2}
    assert out["agreed"]["n"] == 2 and out["agreed"]["accuracy"]["estimate"] == 1.0  # rows 0 and 3
    maj = out["ferplus_majority"]
    assert maj["n"] == 3 and maj["accuracy"]["estimate"] == 1.0  # neutral is right by the crowd
    assert maj["label_agrees"] == 2 and np.array(maj["matrix"])[6, 6] == 1
    assert np.array(bands["5-7 of 10"]["matrix"])[0, 6] == 1
    with pytest.raises(DatasetError, match="rows of votes"):
        agreement_metrics(y_true[:3], y_pred[:3], votes, names)


def test_gallery_order_and_band_filter_are_hand_checked():
    conf = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    agree = np.array([9, 5, 10, 0, 5])
    items = np.array([0, 1, 2, 3, 4])
    assert order_items(items, conf).tolist() == [0, 1, 2, 3, 4]
    assert order_items(items, conf, agree, order="agreement_low").tolist() == [3, 1, 4, 0, 2]
    assert order_items(items, conf, agree, order="agreement_high").tolist() == [2, 0, 1, 4, 3]
    assert order_items(items, conf, agree, band="5-7 of 10").tolist() == [1, 4]
    assert order_items(items, conf, agree, band=NO_MAJORITY).tolist() == [3]
    assert order_items(items[[4, 2]], conf, agree, band="8-10 of 10 agree").tolist() == [2]
    with pytest.raises(ValueError, match="needs the FER"):
        order_items(items, conf, order="agreement_low")

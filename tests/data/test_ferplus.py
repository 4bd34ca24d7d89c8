"""Tests for ferviz.data.ferplus: FER+ votes -> FER2013-order counts, majority, agreement, label targets."""

import numpy as np
import pytest

from ferviz.data.ferplus import (
    TO_FER2013,
    agreement_band,
    check_alignment,
    label_targets,
    load_votes,
    votes_from_array,
)
from ferviz.errors import DatasetError

# FER+ columns: neutral happiness surprise sadness anger disgust fear contempt unknown NF
ROWS = np.array([
    [0, 9, 1, 0, 0, 0, 0, 0, 0, 0],   # happy, 9 of 10
    [4, 0, 0, 4, 0, 0, 0, 0, 2, 0],   # tie neutral / sad
    [0, 0, 0, 0, 0, 0, 0, 1, 2, 7],   # mostly not a face
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],   # unmatched
    [1, 0, 0, 0, 6, 2, 1, 0, 0, 0],   # angry 6, disgust 2
], np.int16)


def test_columns_are_reordered_to_fer2013_and_majority_is_hand_checked():
    v = votes_from_array(ROWS)
    assert TO_FER2013 == (4, 5, 6, 1, 3, 2, 0)
    assert v.counts[4].tolist() == [6, 2, 1, 0, 0, 0, 1]
    assert v.majority.tolist() == [3, -1, -1, -1, 0]
    assert v.agreement.tolist() == [9, 0, 0, 0, 6]
    assert v.usable.tolist() == [True, False, False, False, True]
    np.testing.assert_allclose(v.soft[1], [0, 0, 0, 0, 0.5, 0, 0.5])
    assert np.allclose(v.soft[v.counts.sum(1) > 0].sum(1), 1) and not v.soft[3].any()


def test_label_targets_count_what_they_leave_out():
    v = votes_from_array(ROWS)
    y = np.array([3, 6, 0, 2, 0])
    maj = label_targets("ferplus-majority", y, v)
    assert maj.keep.tolist() == [True, False, False, False, True] and maj.labels[maj.keep].tolist() == [3, 0]
    assert maj.dropped == {"without FER+ votes": 1, "mostly contempt / unknown / not a face": 1,
                           "no single majority (a tie)": 1}
    soft = label_targets("ferplus-soft", y, v)
    assert soft.keep.tolist() == [True, True, False, False, True] and soft.soft is not None
    assert "3 faces kept" in soft.describe()
    assert label_targets("fer2013", y, None).keep.all()
    with pytest.raises(DatasetError, match="needs FER"):
        label_targets("ferplus-soft", y, None)
    with pytest.raises(ValueError, match="choose one of"):
        label_targets("crowd", y, v)


def test_bands_and_alignment(tmp_path):
    assert agreement_band(np.array([10, 8, 7, 5, 4, 0])).tolist() == [
        "8-10 of 10 agree", "8-10 of 10 agree", "5-7 of 10", "5-7 of 10", "4 or fewer", ""]
    names = np.array([f"train/happy/Training_{i}.jpg" for i in range(5)])
    path = tmp_path / "ferplus_votes.npz"
    np.savez(path, votes=ROWS, match=np.array([1, 1, 1, 0, 2], np.int8), source_name=names)
    v = load_votes(path, names)
    assert v.matched.tolist() == [True, True, True, False, True]
    with pytest.raises(DatasetError, match="row 2"):
        check_alignment(v, np.array([*names[:2], "x", *names[3:]]))
    with pytest.raises(DatasetError, match="5 rows of votes for a dataset of 4"):
        check_alignment(v, names[:4])
    with pytest.raises(DatasetError, match="no FER"):
        load_votes(tmp_path / "missing.npz")


def test_votes_by_name_strict_or_empty():
    from ferviz.data.ferplus import votes_for_sources

    names = np.array([f"n{i}.jpg" for i in range(5)])
    v = votes_from_array(ROWS, source_name=names)
    got = votes_for_sources(v, ["n4.jpg", "n0.jpg"])
    assert got.counts.tolist() == [v.counts[4].tolist(), v.counts[0].tolist()]
    with pytest.raises(DatasetError, match="no FER\\+ votes for 'x.jpg'"):
        votes_for_sources(v, ["n0.jpg", "x.jpg"])
    empty = votes_for_sources(v, ["x.jpg", "n0.jpg"], missing="empty")
    assert empty.matched.tolist() == [False, True] and not empty.counts[0].any()

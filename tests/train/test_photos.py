"""Tests for ferviz.train.photos and `ferviz train --labels/--photos`: photo faces aligned and teacher-labelled."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from ferviz.pipeline.detect import default_detector
from ferviz.train.photos import is_holdout, photo_files, prepare_photo_faces
from tests.helpers import write_npz

ROOT = Path(__file__).resolve().parents[2]
needs_yunet = pytest.mark.skipif(default_detector() != "yunet", reason="yuface (YuNet) is not installed")


def _folder(tmp_path):
    face = skdata.astronaut()[30:230, 130:330]  # 200x200 RGB around the astronaut's face, like UTKFace's crops
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    cv2.imwrite(str(folder / "a.jpg"), cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
    rot = cv2.warpAffine(face, cv2.getRotationMatrix2D((100, 100), 15, 1.0), (200, 200))
    cv2.imwrite(str(folder / "sub" / "b.png"), cv2.cvtColor(rot, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "c.jpg"), np.full((200, 200, 3), 128, np.uint8))  # no face
    (folder / "d.jpg").write_bytes(b"not a jpeg at all")  # corrupt: skipped, not fatal
    (folder / "notes.txt").write_text("ignored")
    return folder


def _read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_holdout_is_fixed_by_name_and_about_the_share_asked():
    names = [f"{i}_0_0_2017.jpg" for i in range(20000)]
    share = np.mean([is_holdout(n, 0.2) for n in names])
    assert 0.19 < share < 0.21
    assert [is_holdout(n) for n in names[:50]] == [is_holdout(n) for n in names[:50]]
    assert not any(is_holdout(n, 0.0) for n in names[:100]) and all(is_holdout(n, 1.0) for n in names[:100])


@needs_yunet
def test_photos_are_found_aligned_labelled_cached_and_bad_files_skipped(tmp_path):
    folder = _folder(tmp_path)
    assert [p.name for p in photo_files(folder)] == ["a.jpg", "c.jpg", "d.jpg", "b.png"]
    calls = []

    def teacher(crops):
        calls.append(crops.shape)
        return np.tile(np.eye(7, dtype=np.float32)[3], (len(crops), 1))

    cache = tmp_path / "cache.npz"
    faces = prepare_photo_faces(folder, teacher=teacher, cache=cache, holdout=0.0)
    assert faces.names.tolist() == ["a.jpg", "c.jpg", "d.jpg", "sub/b.png"]
    assert faces.found.tolist() == [True, False, False, True]
    assert calls == [(2, 112, 112, 3)]  # the teacher sees colour box crops of the faces found only
    assert faces.student.shape == (4, 48, 48) and faces.student.dtype == np.uint8
    assert faces.teacher[faces.found].argmax(1).tolist() == [3, 3] and not faces.teacher[~faces.found].any()
    # the rotated copy is aligned like the upright one: the two student faces look more alike than the
    # detector's box crops of the same two photos do (0.63 against 0.46 when this was written)
    from ferviz.pipeline.faces import aligned_crops

    boxes, _ = aligned_crops([_read_rgb(folder / "a.jpg"), _read_rgb(folder / "sub" / "b.png")], size=48, align=False)
    def corr(a, b):
        return np.corrcoef(a.astype(float).ravel(), b.astype(float).ravel())[0, 1]
    box_corr = corr(*[cv2.cvtColor(b, cv2.COLOR_RGB2GRAY) for b in boxes])
    assert corr(faces.student[0], faces.student[3]) > box_corr + 0.1
    assert faces.training_rows().tolist() == [0, 3] and "2 without a face" in faces.describe()
    again = prepare_photo_faces(folder, teacher=teacher, cache=cache, holdout=0.0)
    assert len(calls) == 1 and np.array_equal(again.student, faces.student)  # from the cache
    prepare_photo_faces(folder, teacher=teacher, cache=cache, holdout=1.0)
    assert len(calls) == 2  # another holdout: remade, never silently reused


@needs_yunet
def test_one_gray_conversion_for_all_training_photos_when_asked(tmp_path):
    from ferviz.data.camera import to_gray
    from ferviz.pipeline.faces import find_faces

    folder = _folder(tmp_path)

    def teacher(crops):
        return np.tile(np.eye(7, dtype=np.float32)[3], (len(crops), 1))

    cache = tmp_path / "cache.npz"
    luma = prepare_photo_faces(folder, teacher=teacher, cache=cache, holdout=0.0, gray="luma")
    own = _read_rgb(folder / "a.jpg")
    crop = find_faces(own, size=48, max_faces=1, detector="yunet", align=True).faces[0].crop
    assert np.array_equal(luma.student[0], to_gray(crop, "luma"))  # the mix draws green for this row (seed 0)
    assert not np.array_equal(luma.student[0], to_gray(crop, "green"))
    with np.load(cache) as data:
        assert '"gray": "luma"' in str(data["key"])  # another policy is another cache, not a silent reuse
    with pytest.raises(ValueError, match="choose mixed or one of luma"):
        prepare_photo_faces(folder, teacher=teacher, holdout=0.0, gray="sepia")


@pytest.mark.slow
@needs_yunet
def test_train_with_ferplus_votes_and_photos_end_to_end(tmp_path):
    data = write_npz(tmp_path / "d.npz", n_train=28, n_val=14)
    rng = np.random.default_rng(0)
    votes = rng.integers(0, 4, (42, 10)).astype(np.int16)
    votes[:, 7:] = 0
    votes[0] = 0  # one face without votes: left out and counted
    names = np.array([f"d.npz[{i}]" for i in range(42)])
    np.savez(tmp_path / "ferplus_votes.npz", votes=votes, match=(votes.sum(1) > 0).astype(np.int8),
             source_name=names)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "ferviz", "train", "--dataset", "npz", "--data", str(data), "--out", str(out),
           "--epochs", "1", "--batch-size", "8", "--max-steps", "2", "--fp32", "--quiet",
           "--labels", "ferplus-soft", "--camera", "0.5", "--fer-teacher", "0.3", "--class-weights", "0.5",
           "--fer2013-weight", "0.2",
           "--photos", str(_folder(tmp_path)), "--photo-holdout", "0"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "27 faces kept; left out: 1 without FER+ votes" in done.stdout
    assert "2 for training" in done.stdout and (out / "photo_faces.npz").is_file()
    run = (out / "run.json").read_text()
    assert '"fer2013_weight": 0.2' in run and '"fer_teacher_weight": 0.3' in run and '"class_power": 0.5' in run
    assert '"labels": "ferplus-soft"' in run and '"photos": "photos"' in run and '"camera": 0.5' in run

"""scripts/small_faces.py on a generated archive: the astronaut's face as small tight gray crops."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
from skimage import data as skdata

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("small_faces", ROOT / "scripts" / "small_faces.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_enlarged_search_finds_tight_crops_the_native_one_misses_and_no_false_face(tmp_path):
    astronaut = skdata.astronaut()
    face = cv2.cvtColor(astronaut[61:174, 182:270], cv2.COLOR_RGB2GRAY)  # YuNet's box around the face
    images = np.stack([cv2.resize(face, (48, 48), interpolation=cv2.INTER_AREA)] * 3)
    np.savez(tmp_path / "faces.npz", images=images, labels=np.zeros(3, np.int64))
    small_faces = _script()
    assert small_faces.main(["--data", str(tmp_path / "faces.npz"), "--sizes", "36",
                             "--json", str(tmp_path / "out.json")]) == 0
    table = json.loads((tmp_path / "out.json").read_text())
    assert table["n_faces"] == 3 and table["n_no_face"] == len(small_faces.NO_FACE_IMAGES) + 4
    (row,) = table["rows"]
    assert row["side"] == 36 and row["native"] == 0.0 and row["enlarged"] == 1.0
    assert row["false_native"] == row["false_enlarged"] == 0.0
    import ferviz.pipeline.detect as detect

    assert detect._YUNET_MIN_SEARCH_SIDE == 200  # the script put the policy back

"""Batch inputs: folders expanded recursively, problems named, rows of photos and videos alike, safe CSV."""

import pandas as pd
from PIL import Image
from skimage import data

from ferviz.model.checkpoint import load_checkpoint
from ferviz.pipeline.batch import collect_inputs, csv_bytes, predict_path
from tests.pipeline.test_video import write_clip


def test_collect_inputs_expands_folders_and_names_problems(tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    for name in ("d/b.JPG", "d/e/a.png", "d/e/clip.mp4", "d/.secret.png", "d/readme.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "d" / ".hid").mkdir()
    (tmp_path / "d" / ".hid" / "x.png").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    files, problems = collect_inputs([tmp_path / "d", tmp_path / "d" / "readme.txt", tmp_path / "empty",
                                      tmp_path / "missing.png"])
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["d/b.JPG", "d/e/a.png", "d/e/clip.mp4",
                                                                   "d/readme.txt"]
    assert len(problems) == 2 and "no image or video inside" in problems[0] and "no such file" in problems[1]


def test_predict_path_gives_the_same_columns_for_photos_and_videos(tmp_path, tiny_checkpoint):
    loaded = load_checkpoint(tiny_checkpoint)
    Image.fromarray(data.astronaut()).save(tmp_path / "a.png")
    photo_rows, _ = predict_path(loaded, tmp_path / "a.png")
    video_rows, messages = predict_path(loaded, write_clip(tmp_path / "c.mp4", frames=4), every=2,
                                        annotate_dir=tmp_path / "out")
    assert set(photo_rows[0]) <= set(video_rows[0]) and {"frame", "time", "track"} <= set(video_rows[0])
    assert messages[0].endswith("s") and "2 of 4 frames processed" in messages[0]
    assert (tmp_path / "out" / "c.annotated.mp4").is_file()


def test_csv_makes_formula_like_names_inert_and_keeps_numbers():
    frame = pd.DataFrame({"image": ["=cmd|' /C calc'!A0.jpg", "plain.jpg", "-1.png"], "x": [-3, 4, 5]})
    text = csv_bytes(frame).decode()
    assert "'=cmd" in text and "'-1.png" in text
    assert ",-3\n" in text  # numbers are left alone

"""Sharded inference: contiguous block shards, and 2 torchrun CPU processes give the single-process output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from ferviz.train.sharding import gather_to_rank0, shard_bounds
from tests.helpers import write_npz
from tests.pipeline.test_video import write_clip

ROOT = Path(__file__).resolve().parents[2]


def test_shards_cover_everything_once_on_block_boundaries():
    for n, world, block in [(10, 2, 1), (60, 2, 16), (7, 3, 2), (0, 2, 4), (5, 4, 8)]:
        bounds = [shard_bounds(n, r, world, block) for r in range(world)]
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))  # contiguous, in order
        assert all(start % block == 0 or start == n for start, _ in bounds)
    assert shard_bounds(60, 0, 2, 16) == (0, 32) and shard_bounds(60, 1, 2, 16) == (32, 60)
    with pytest.raises(ValueError, match="rank"):
        shard_bounds(4, 2, 2)


def test_gather_without_torchrun_is_the_part_itself():
    assert gather_to_rank0({"a": 1}) == [{"a": 1}]


def _run(cmd, env):
    return subprocess.run(cmd, env=env, cwd=ROOT, timeout=600, capture_output=True, text=True)


@pytest.mark.slow
def test_two_cpu_ranks_give_exactly_the_single_process_output(tmp_path, tiny_checkpoint):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    data_file = write_npz(tmp_path / "d.npz", n_train=20, n_val=44)
    folder = tmp_path / "job"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.roll(data.astronaut(), 40 * i, axis=1)).save(folder / f"p{i}.png")
    Image.fromarray(data.coffee()).save(folder / "cup.png")
    write_clip(folder / "clip.mp4", frames=6)
    single = [sys.executable, "-m", "ferviz"]
    double = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
              "--master_port", "29531", "-m", "ferviz"]
    outputs = {}
    for name, launcher in (("one", single), ("two", double)):
        evaluate = [*launcher, "evaluate", "--model", str(tiny_checkpoint), "--data", str(data_file),
                    "--split", "PublicTest", "--batch-size", "16", "--json", str(tmp_path / f"{name}.json")]
        predict = [*launcher, "predict", str(folder), "--model", str(tiny_checkpoint), "--every", "2",
                   "--csv", str(tmp_path / f"{name}.csv"), "--quiet"]
        for cmd in (evaluate, predict):
            done = _run(cmd, env)
            assert done.returncode == 0, done.stderr[-2000:]
        report = json.loads((tmp_path / f"{name}.json").read_text())
        report["meta"].pop("command", None)
        outputs[name] = (report, (tmp_path / f"{name}.csv").read_text())
    assert outputs["two"][0] == outputs["one"][0]  # the same report, number for number
    assert outputs["two"][1] == outputs["one"][1]  # the same rows, in the same order
    assert outputs["one"][0]["n"] == 44 and outputs["one"][1].count("clip.mp4") == 3

"""Run by ``torchrun`` in tests/train/test_engine.py: each rank trains the same tiny run, then saves its weights."""

import sys
from dataclasses import replace
from pathlib import Path

import torch

from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing, prepare_images
from ferviz.model.network import VARIANTS
from ferviz.train.engine import ArrayData, TrainConfig, Trainer, dist_info, init_distributed
from tests.helpers import TINY, synthetic_faces


def main(out: str) -> None:
    init_distributed()
    rank, world = dist_info()
    x, y = synthetic_faces(64, seed=1)
    prep = Preprocessing()
    data = ArrayData(prepare_images(x, prep), y)
    cfg = replace(VARIANTS["dcnn_bilstm_dam"], **TINY)
    trainer = Trainer(cfg, TrainConfig(epochs=2, batch_size=8, bf16=False, seed=3), prep, list(EMOTIONS), out)
    trainer.fit(data, data)
    torch.save(trainer.model.state_dict(), Path(out) / f"rank{rank}_of_{world}.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])

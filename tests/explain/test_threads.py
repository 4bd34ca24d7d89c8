"""The shared full-size model under concurrent use: 4 threads predicting and attributing at once.

Streamlit serves every browser session from threads of one process, all sharing the cached model.
Each result from the threads must equal the single-threaded one, and the model must end as it began.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from skimage import color, data, transform

from ferviz.explain.attention import face_attention, face_input
from ferviz.explain.attributions import attribute
from ferviz.model.checkpoint import load_checkpoint
from ferviz.paths import DEFAULT_MODEL
from ferviz.pipeline.inference import classify_crops

pytestmark = pytest.mark.slow
METHODS = {"saliency": {}, "integrated_gradients": {"n_steps": 16}, "grad_cam": {}}


@pytest.fixture(scope="module")
def loaded():
    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"shipped model {DEFAULT_MODEL.name} not present")
    return load_checkpoint(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    """Three different (64, 64) uint8 crops of the astronaut picture (public domain)."""
    gray = color.rgb2gray(data.astronaut())
    boxes = [(30, 150, 200), (0, 100, 300), (60, 180, 140)]  # (top, left, side)
    return [(transform.resize(gray[t:t + s, c:c + s], (64, 64), anti_aliasing=True) * 255).astype(np.uint8)
            for t, c, s in boxes]


def _task(loaded, crops, job):
    """One unit of work: ('probs'|'attention'|method, face index) -> ndarray."""
    kind, i = job
    if kind == "probs":
        return classify_crops(loaded, crops[i][None])[0]
    if kind == "attention":
        aset = face_attention(loaded, crops[i])
        return np.concatenate([aset.spatial[-1].ravel(), aset.channel[-1].ravel(), aset.probs])
    return attribute(loaded, face_input(loaded, crops[i]), kind, target=None, **METHODS[kind])


def _hooks(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(m._backward_pre_hooks) for m in model.modules())


def test_four_threads_match_single_threaded(loaded, crops):
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    jobs = [(kind, i) for kind in ["probs", "attention", *METHODS] for i in range(len(crops))]
    reference = {job: _task(loaded, crops, job) for job in jobs}
    concurrent = jobs * 2
    random.Random(0).shuffle(concurrent)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: (job, _task(loaded, crops, job)), concurrent))
    assert len(results) == len(concurrent)
    for job, value in results:
        np.testing.assert_allclose(value, reference[job], rtol=1e-4, atol=1e-6, err_msg=str(job))
    assert _hooks(loaded.model) == 0 and not loaded.model.training
    assert all(p.grad is None for p in loaded.model.parameters())
    assert all(torch.equal(before[k], v) for k, v in loaded.model.state_dict().items())

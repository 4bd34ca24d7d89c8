"""The cached model loader warms the model and the detector up in the background, once per model."""

from pathlib import Path

import numpy as np

from ferviz.ui import cache


def test_loading_a_model_starts_one_background_warm_up(tiny_checkpoint, monkeypatch):
    calls = []
    monkeypatch.setattr(cache, "predict", lambda loaded, image, options: calls.append((loaded, image, options)))
    cache._load.clear()
    loaded = cache.load_model(tiny_checkpoint)
    assert cache.load_model(tiny_checkpoint) is loaded  # cached: no second warm-up
    for thread in [t for t in __import__("threading").enumerate() if t.name == "ferviz-warm-up"]:
        thread.join(30)
    assert len(calls) == 1
    warmed, image, options = calls[0]
    assert warmed is loaded and image.shape == (240, 320, 3) and image.dtype == np.uint8
    assert options.fallback == "centre"  # the model runs even though no face is found
    cache._load.clear()


def test_a_failing_warm_up_is_logged_not_raised(tiny_checkpoint, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no detector")

    monkeypatch.setattr(cache, "predict", broken)
    from ferviz.model.checkpoint import load_checkpoint

    thread = cache.warm_up(load_checkpoint(tiny_checkpoint))
    thread.join(30)
    assert not thread.is_alive() and "warming up" in caplog.text


def test_the_process_waits_for_a_warm_up_before_it_exits(tmp_path):
    """A warm-up still inside torch when the interpreter finalises aborts it (exit 134): exit waits for it."""
    import subprocess
    import sys

    done = tmp_path / "done"
    script = ("import time\nfrom ferviz.ui import cache\n"
              f"cache.predict = lambda *a, **k: (time.sleep(1), open({str(done)!r}, 'w').write('ok'))\n"
              "cache.warm_up(None)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])  # this checkout's ferviz
    assert run.returncode == 0, run.stderr[-2000:]
    assert done.read_text() == "ok"

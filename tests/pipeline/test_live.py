"""The live frame processor: labels without waiting, skipped frames, no label without a face, no thread left.

Frames are synthetic (grey, or the public-domain astronaut); the model is the tiny seeded checkpoint, or
an injected analysis that blocks, counts or fails, so that the concurrency properties are checked
without timing assumptions (events, not sleeps, decide the order).
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time

import cv2
import numpy as np
import pytest
from skimage import data

from ferviz.errors import FervizError
from ferviz.model.checkpoint import load_checkpoint
from ferviz.pipeline.faces import FaceBox, FaceOptions, default_detector
from ferviz.pipeline.inference import labelled
from ferviz.pipeline.live import (
    ICE_ENV,
    STALE_AFTER_S,
    LiveFace,
    LiveProcessor,
    LiveSettings,
    RateMeter,
    analyse_frame,
    draw_live,
    ice_servers,
    rtc_configuration,
    sliding_frames,
    write_y4m,
)

FAST = LiveSettings(max_rate=1000.0)  # no rate cap: the tests decide when frames come


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch

    from ferviz.data.labels import EMOTIONS
    from ferviz.data.preprocess import Preprocessing
    from ferviz.model.checkpoint import save_checkpoint
    from ferviz.model.network import build_model
    from tests.helpers import TINY

    torch.manual_seed(0)
    model = build_model("dcnn_bilstm_dam", **TINY).eval()
    path = save_checkpoint(tmp_path_factory.mktemp("live") / "tiny.pt", model, labels=list(EMOTIONS),
                           preprocessing=Preprocessing(), variant="dcnn_bilstm_dam",
                           metrics={"accuracy": 0.0}, meta={"dataset": "synthetic"})
    return load_checkpoint(path)


@pytest.fixture(scope="module")
def face_frame() -> np.ndarray:
    """640x480 BGR: the astronaut (public domain) on grey, one face of about 90 pixels."""
    return np.ascontiguousarray(sliding_frames(data.astronaut(), n=2)[0][:, :, ::-1])


def grey(value: int = 128, size=(480, 640)) -> np.ndarray:
    return np.full((*size, 3), value, np.uint8)


def face_at(box, probs, labels, track=None):
    """A face row (:class:`FacePrediction`) at ``box`` with ``probs``."""
    return labelled(0, box, np.zeros((64, 64), np.uint8), False, list(labels), np.array(probs), track=track)


def fixed_box(box=FaceBox(100, 100, 80, 80), probs=(0.1, 0.0, 0.0, 0.7, 0.1, 0.05, 0.05)):
    """An analysis that always finds one face at ``box`` with ``probs``."""
    def analyse(bgr, loaded, settings):
        return [face_at(box, probs, loaded.labels)]
    return analyse


def live_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ferviz-live")]


# ---- settings -------------------------------------------------------------------------------------

def test_no_ice_server_by_default_and_the_env_variable_names_some():
    assert ice_servers({}) == [] and ice_servers({ICE_ENV: "  "}) == []
    assert rtc_configuration({}) == {"iceServers": []}
    servers = [{"urls": ["stun:stun.example.org:3478"]},
               {"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]
    assert rtc_configuration({ICE_ENV: json.dumps(servers)}) == {"iceServers": servers}


@pytest.mark.parametrize("value,why", [("stun:x", "not valid JSON"), ('{"urls": "stun:x"}', "JSON dict"),
                                       ('[{"url": "stun:x"}]', "entry 0"), ('[{"urls": []}]', "entry 0"),
                                       ('[{"urls": "stun:x", "password": 1}]', "unknown keys: password")])
def test_a_malformed_ice_setting_is_refused_with_a_message_naming_it(value, why):
    with pytest.raises(FervizError, match=ICE_ENV) as err:
        ice_servers({ICE_ENV: value})
    assert why in str(err.value)


def test_settings_are_checked_and_never_fall_back_to_the_centre_square():
    assert LiveSettings(options=FaceOptions(fallback="centre")).options.fallback == "none"
    for bad in ({"overlay": "gradcam"}, {"smoothing": 1.0}, {"max_rate": 0}, {"detect_side": 8}):
        with pytest.raises(ValueError):
            LiveSettings(**bad)


def test_rate_meter_counts_events_per_second_and_falls_to_zero_when_they_stop():
    now = [0.0]
    meter = RateMeter(window=2.0, clock=lambda: now[0])
    assert meter.rate() == 0.0
    for _ in range(30):  # 10 per second for 3 s
        meter.tick()
        now[0] += 0.1
    assert meter.rate() == pytest.approx(10.0, abs=0.6)
    now[0] += 2.5
    assert meter.rate() == 0.0


def test_rate_meter_is_not_inflated_by_its_first_events():
    now = [0.0]
    meter = RateMeter(window=2.0, clock=lambda: now[0])
    meter.tick()
    now[0] = 0.1
    meter.tick()
    assert meter.rate() == pytest.approx(10.0)  # two events 0.1 s apart: 10 per second, not 20


# ---- labels -----------------------------------------------------------------------------------------

def test_a_face_in_view_is_boxed_labelled_and_described(tiny, face_frame):
    with LiveProcessor(tiny, FAST) as live:
        before = face_frame.copy()
        live.process_bgr(face_frame)
        assert live.wait_processed(1)
        out = live.process_bgr(face_frame)
        status = live.status()
    assert np.array_equal(face_frame, before)  # the caller's frame is never drawn on
    assert len(status.faces) == 1
    face = status.faces[0]
    assert face.label in tiny.labels and face.label == max(face.probs, key=face.probs.get)
    assert sum(face.probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert 200 < face.box.x + face.box.w / 2 < 440  # the astronaut's face is near the middle
    assert status.face_lines() == [f"Face #{face.track_id}: {face.label} {face.confidence:.0%}"]
    assert "processing" in status.text() and "video" in status.text()
    box = face.box
    assert not np.array_equal(out[box.y:box.y + 2, box.x:box.x + box.w], face_frame[box.y:box.y + 2,
                                                                                     box.x:box.x + box.w])


def test_nothing_is_labelled_while_no_face_is_in_view(tiny):
    frame = grey()
    with LiveProcessor(tiny, FAST) as live:
        for i in range(3):
            out = live.process_bgr(frame)
            assert live.wait_processed(i + 1)
        status = live.status()
    assert status.faces == () and status.frames_processed == 3
    assert status.face_lines() == ["No face in view: no label."]
    assert not any(label in status.text() for label in tiny.labels)
    assert np.array_equal(out, frame)  # nothing drawn


def test_labels_go_as_soon_as_the_face_leaves(tiny, face_frame):
    with LiveProcessor(tiny, FAST) as live:
        live.process_bgr(face_frame)
        assert live.wait_processed(1) and len(live.status().faces) == 1
        live.process_bgr(grey())
        assert live.wait_processed(2)
        assert live.status().faces == ()
        assert np.array_equal(live.process_bgr(grey()), grey())


@pytest.mark.parametrize("overlay", ["attention", "fused"])
def test_an_overlay_map_is_laid_over_each_face(tiny, face_frame, overlay):
    with LiveProcessor(tiny, LiveSettings(overlay=overlay, bars=False, max_rate=1000.0)) as live:
        live.process_bgr(face_frame)
        assert live.wait_processed(1)
        plain = draw_live(face_frame, [LiveFace(**{**vars(f), "overlay": None}) for f in live.status().faces],
                          tiny.labels, bars=False)
        out = live.process_bgr(face_frame)
        (face,) = live.status().faces
    assert face.overlay.shape == (64, 64)
    assert face.overlay.min() >= 0 and face.overlay.max() == pytest.approx(1)
    box = face.box
    inside = (slice(box.y + 5, box.y + box.h - 5), slice(box.x + 5, box.x + box.w - 5))
    assert np.abs(out[inside].astype(int) - plain[inside]).mean() > 5  # the map tints the face


def test_a_model_without_the_map_says_so_and_still_labels(tmp_path, face_frame):
    import torch

    from ferviz.data.labels import EMOTIONS
    from ferviz.data.preprocess import Preprocessing
    from ferviz.model.checkpoint import save_checkpoint
    from ferviz.model.network import build_model
    from tests.helpers import TINY

    torch.manual_seed(0)
    plain = build_model("cnn_bilstm", **TINY).eval()  # no attention branch at all
    loaded = load_checkpoint(save_checkpoint(tmp_path / "plain.pt", plain, labels=list(EMOTIONS),
                                             preprocessing=Preprocessing(), variant="cnn_bilstm",
                                             metrics={}, meta={}))
    with LiveProcessor(loaded, LiveSettings(overlay="attention", max_rate=1000.0)) as live:
        live.process_bgr(face_frame)
        assert live.wait_processed(1)
        status = live.status()
    assert len(status.faces) == 1 and status.faces[0].overlay is None
    assert status.note == "this model has no attention map to overlay" and status.note in status.text()


def test_probability_bars_sit_beside_the_box_and_the_top_class_is_highlighted(tiny):
    box, probs = FaceBox(100, 100, 80, 80), (0.1, 0.0, 0.0, 0.7, 0.1, 0.05, 0.05)
    face = face_at(box, probs, tiny.labels, track=0)
    frame = grey()
    with_bars = draw_live(frame, [face], tiny.labels, bars=True)
    without = draw_live(frame, [face], tiny.labels, bars=False)
    right = (slice(box.y + 5, box.y + 60), slice(box.x + box.w + 6, box.x + box.w + 60))  # below the caption
    assert (with_bars[right] == (40, 40, 40)).all(axis=2).mean() > 0.3  # the dark panel
    assert np.array_equal(without[right], frame[right])
    assert ((with_bars == (178, 114, 0)).all(axis=2)).sum() > 20  # one bar in the primary colour
    edge = face_at(FaceBox(560, 100, 70, 70), probs, tiny.labels, track=0)  # no room on the right
    out = draw_live(frame, [edge], tiny.labels)
    assert (out[105:160, 450:555] == (40, 40, 40)).all(axis=2).mean() > 0.3


def test_the_drawn_label_and_the_text_panel_give_the_same_smoothed_number(tiny, monkeypatch):
    """The overlay and the panel once disagreed (46 % vs 40 %: one smoothed, one not): both are smoothed."""
    import itertools

    import ferviz.pipeline.live as live_module

    happy, sad = (0.05, 0.0, 0.0, 0.85, 0.05, 0.0, 0.05), (0.05, 0.0, 0.0, 0.25, 0.6, 0.0, 0.1)
    said = itertools.chain([happy], itertools.repeat(sad))

    def analyse(bgr, loaded, settings):
        return [face_at(FaceBox(100, 100, 80, 80), next(said), loaded.labels)]

    drawn, draw = [], live_module.draw_live
    monkeypatch.setattr(live_module, "draw_live",
                        lambda bgr, faces, labels, **kw: drawn.append(tuple(faces)) or draw(bgr, faces, labels, **kw))
    with LiveProcessor(tiny, LiveSettings(max_rate=1000.0, smoothing=0.6), analyse=analyse) as live:
        for i in range(3):
            live.process_bgr(grey())
            assert live.wait_processed(i + 1)
        live.annotate(grey())
        status = live.status()
    (face,), (shown,) = status.faces, drawn[-1]
    assert status.face_lines() == [f"Face #{shown.track_id}: {shown.label} {shown.confidence:.0%}"]
    assert shown.probs == face.probs
    assert 0.25 < face.probs["happy"] < 0.85 and face.probs["sad"] < 0.6  # smoothed, not the last frame's


@pytest.mark.parametrize("box", [FaceBox(300, 0, 80, 80), FaceBox(560, 0, 80, 80), FaceBox(600, 200, 40, 40)])
def test_live_captions_at_the_frame_edges_are_not_cut_off(tiny, box):
    """The caption's filled background shows whole: as many rows as it is tall are at least as wide as
    its text (one cut off at the top or a side has fewer rows, or narrower ones)."""
    face = face_at(box, (0.1, 0.0, 0.0, 0.7, 0.1, 0.05, 0.05), tiny.labels, track=12)
    out = draw_live(np.zeros((480, 640, 3), np.uint8), [face], tiny.labels, bars=False)
    text = f"#12 {face.label} {face.confidence:.0%}"
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, max(0.4, box.w / 220), 1)
    wide_rows = ((out != 0).any(axis=2).sum(axis=1) >= tw).sum()
    assert wide_rows >= th + base


# ---- never waiting, skipping, reusing ---------------------------------------------------------------

class Gate:
    """An analysis that blocks until released, remembering which frames it saw."""

    def __init__(self):
        self.entered, self.release, self.seen = threading.Event(), threading.Event(), []

    def __call__(self, bgr, loaded, settings):
        self.seen.append(int(bgr[0, 0, 0]))
        self.entered.set()
        assert self.release.wait(30)
        return fixed_box()(bgr, loaded, settings)


def test_a_busy_model_never_holds_up_the_stream_it_skips_to_the_newest_frame(tiny):
    gate = Gate()
    frames = [grey(i) for i in range(50)]
    live = LiveProcessor(tiny, FAST, analyse=gate)
    try:
        live.process_bgr(frames[0])
        assert gate.entered.wait(10)  # frame 0 is being analysed, and stays so until released
        feeder = threading.Thread(target=lambda: [live.process_bgr(f) for f in frames[1:]])
        feeder.start()
        feeder.join(10)
        assert not feeder.is_alive()  # 49 frames went through while the model was stuck
        status = live.status()
        assert (status.frames_in, status.frames_processed, status.frames_skipped, status.frames_waiting) == (
            50, 0, 48, 2)  # one in analysis, the newest in the slot, the 48 in between skipped
        gate.release.set()
        assert live.wait_processed(2)
        assert gate.seen == [0, 49]  # the second analysis took the newest frame
        status = live.status()
        assert status.frames_in == status.frames_processed + status.frames_skipped + status.frames_waiting
    finally:
        gate.release.set()
        live.close()


def test_frames_between_analyses_are_drawn_with_the_last_labels(tiny):
    gate = Gate()
    gate.release.set()
    with LiveProcessor(tiny, FAST, analyse=gate) as live:
        live.process_bgr(grey())
        assert live.wait_processed(1)
        gate.release.clear()
        gate.entered.clear()
        live.process_bgr(grey(1))
        assert gate.entered.wait(10)  # the next analysis is stuck ...
        out = live.process_bgr(grey(2))  # ... and this frame still gets the box of the last one
        assert [f.label for f in live.status().faces] == ["happy"]
        assert not np.array_equal(out, grey(2))
        assert (out[100, 100:180] != 2).any()
        gate.release.set()


def test_labels_older_than_the_stale_limit_are_not_shown(tiny):
    now = [100.0]
    with LiveProcessor(tiny, FAST, analyse=fixed_box(), clock=lambda: now[0]) as live:
        live.process_bgr(grey())
        assert live.wait_processed(1) and live.status().faces
        now[0] += STALE_AFTER_S - 0.1
        assert live.status().faces  # still fresh enough ...
        now[0] += 0.2
        assert live.status().faces == ()  # ... and now too old: the worker may be stuck
        assert np.array_equal(live.annotate(grey()), grey())


def test_max_rate_caps_the_analyses(tiny):
    calls = []
    with LiveProcessor(tiny, LiveSettings(max_rate=5.0), analyse=lambda *a: calls.append(1) or []) as live:
        start = time.monotonic()
        while time.monotonic() - start < 0.6:
            live.process_bgr(grey())
            time.sleep(0.005)
        elapsed = time.monotonic() - start
        status = live.status()
    assert 1 <= len(calls) <= 5 * elapsed + 1
    assert status.frames_skipped > status.frames_processed


def test_an_analysis_error_is_reported_and_the_stream_goes_on(tiny):
    fail = threading.Event()
    fail.set()

    def analyse(bgr, loaded, settings):
        if fail.is_set():
            raise RuntimeError("detector exploded")
        return fixed_box()(bgr, loaded, settings)

    with LiveProcessor(tiny, FAST, analyse=analyse) as live:
        assert np.array_equal(live.process_bgr(grey()), grey())
        assert live.wait_processed(1)
        status = live.status()
        assert status.error == "RuntimeError: detector exploded" and "detector exploded" in status.text()
        fail.clear()
        live.process_bgr(grey())
        assert live.wait_processed(2)
        assert live.status().error is None and live.status().faces


def test_settings_and_model_change_while_running(tiny, tmp_path):
    moving = iter(range(0, 10_000, 300))

    def analyse(bgr, loaded, settings):  # a face that jumps far each frame: a new track every time
        return [face_at(FaceBox(next(moving) % 500, 50, 60, 60), np.full(7, 1 / 7), loaded.labels)]

    with LiveProcessor(tiny, FAST, analyse=analyse) as live:
        for i in range(3):
            live.process_bgr(grey())
            assert live.wait_processed(i + 1)
        assert live.status().faces[0].track_id == 2
        other = load_checkpoint(tiny.path)  # another LoadedModel: ids start again
        live.configure(loaded=other, settings=LiveSettings(bars=False, max_rate=1000.0))
        live.process_bgr(grey())
        assert live.wait_processed(4)
        assert live.status().faces[0].track_id == 0
        assert live.settings.bars is False


# ---- nothing left behind ------------------------------------------------------------------------------

def test_close_ends_the_worker_and_the_thread_count_returns(tiny, face_frame):
    before = threading.active_count()
    live = LiveProcessor(tiny, FAST)
    live.process_bgr(face_frame)
    assert live.wait_processed(1)
    assert live.worker_alive and len(live_threads()) == 1
    assert threading.active_count() == before + 1
    live.close()
    assert not live.worker_alive and live_threads() == []
    assert threading.active_count() == before
    status = live.status()
    assert status.frames_waiting == 0 and status.faces == ()
    assert live.process_bgr(face_frame) is face_frame  # closed: handed back untouched ...
    assert threading.active_count() == before  # ... and no worker started again


def test_close_during_an_analysis_waits_for_it_and_drops_the_waiting_frame(tiny):
    gate = Gate()
    live = LiveProcessor(tiny, FAST, analyse=gate)
    live.process_bgr(grey(1))
    assert gate.entered.wait(10)
    live.process_bgr(grey(2))  # waits in the slot
    closer = threading.Thread(target=live.close)
    closer.start()
    time.sleep(0.05)
    assert closer.is_alive()  # close() waits for the analysis in flight ...
    gate.release.set()
    closer.join(10)
    assert not closer.is_alive() and not live.worker_alive
    status = live.status()
    assert gate.seen == [1]  # ... and the waiting frame was dropped, not analysed
    assert status.faces == () and status.frames_waiting == 0
    assert (status.frames_in, status.frames_processed, status.frames_skipped) == (2, 1, 1)


def test_an_idle_worker_exits_by_itself_and_the_next_frame_starts_one(tiny):
    with LiveProcessor(tiny, FAST, analyse=fixed_box(), idle_timeout=0.2) as live:
        live.process_bgr(grey())
        assert live.wait_processed(1)
        deadline = time.monotonic() + 10
        while live.worker_alive and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not live.worker_alive and live_threads() == []
        live.process_bgr(grey())
        assert live.wait_processed(2)


def test_status_can_be_read_from_other_threads_while_frames_flow(tiny):
    errors, stop = [], threading.Event()

    def reader():
        try:
            while not stop.is_set():
                text = live.faces_text()
                assert text.startswith(("Face #", "No face"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with LiveProcessor(tiny, FAST, analyse=fixed_box()) as live:
        readers = [threading.Thread(target=reader) for _ in range(3)]
        for t in readers:
            t.start()
        for i in range(200):
            live.process_bgr(grey(i % 256))
        stop.set()
        for t in readers:
            t.join(10)
        status = live.status()
    assert not errors
    assert status.frames_in == 200
    assert status.frames_in == status.frames_processed + status.frames_skipped + status.frames_waiting


def rss_kib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmRSS from /proc/self/status")
@pytest.mark.skipif(default_detector() != "yunet", reason="yuface (YuNet) is not installed")
def test_the_analysis_keeps_memory_flat_frame_after_frame():
    """The measurement below, in a fresh interpreter: in a long test session the heap of earlier tests keeps
    growing RSS by itself (about 20 KiB a frame seen), which a per-frame leak check cannot tell apart."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "FERVIZ_MEMORY_CHECK": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"{__file__}::test_memory_per_frame_in_this_process"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-2000:]


@pytest.mark.skipif(not __import__("os").environ.get("FERVIZ_MEMORY_CHECK"),
                    reason="run by test_the_analysis_keeps_memory_flat_frame_after_frame in a fresh process")
def test_memory_per_frame_in_this_process(tiny, face_frame):
    # yuface 2023.5.1's detect() leaks a 36 KiB buffer per call; ferviz.pipeline.faces calls the library itself
    settings = LiveSettings(options=FaceOptions(detector="yunet"))
    for _ in range(300):  # warm-up: ONNX Runtime's arena, OpenCV's buffers, the allocator's free lists (in a
        analyse_frame(face_frame, tiny, settings)  # long test session the heap takes a while to settle)
    gc.collect()
    before = rss_kib()
    for _ in range(600):  # a minute of labels at 10 per second
        analyse_frame(face_frame, tiny, settings)
    gc.collect()
    assert (rss_kib() - before) / 600 < 2.0  # KiB per analysed frame (the leak is 36)


# ---- the fake camera's clip -----------------------------------------------------------------------------

def test_y4m_clip_reads_back_as_the_frames_written(tmp_path):
    frames = sliding_frames(data.astronaut(), width=320, height=240, n=8, travel=16)
    path = write_y4m(tmp_path / "clip.y4m", frames, fps=15)
    raw = path.read_bytes()
    header = b"YUV4MPEG2 W320 H240 F15:1 Ip A1:1 C420jpeg\n"
    assert raw.startswith(header)
    assert len(raw) == len(header) + 8 * (len(b"FRAME\n") + 320 * 240 * 3 // 2)
    cap = cv2.VideoCapture(str(path))
    back = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        back.append(bgr[:, :, ::-1])
    cap.release()
    assert len(back) == 8
    assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(frames, back, strict=True)) < 6


def test_sliding_frames_loop_smoothly_and_odd_sizes_are_refused(tmp_path):
    frames = sliding_frames(data.astronaut(), n=20, travel=40)
    assert len(frames) == 20 and frames[0].shape == (480, 640, 3)
    shift = [np.abs(a.astype(int) - b).mean() for a, b in zip(frames, frames[1:] + frames[:1], strict=True)]
    assert max(shift) < 3 * min(s for s in shift if s > 0)  # no jump where the loop restarts
    with pytest.raises(ValueError, match="even"):
        write_y4m(tmp_path / "odd.y4m", [np.zeros((5, 6, 3), np.uint8)])
    with pytest.raises(ValueError, match="no frames"):
        write_y4m(tmp_path / "none.y4m", [])

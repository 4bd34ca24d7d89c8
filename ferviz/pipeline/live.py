"""Live video: label every frame of a camera stream without ever making the stream wait for the model.

A :class:`LiveProcessor` sits between a stream of frames (the Live page's browser camera, through
``ferviz.ui.live``) and the model. Each frame goes through two paths:

- **drawing** (in the caller's thread, every frame, a few milliseconds): the latest known faces are
  drawn on a copy of the frame (box, track id, label, confidence, a probability bar per class, and
  optionally the attention or fused map of each face) and the copy is returned at once;
- **analysis** (in one worker thread owned by the processor): detection, cropping, the model and the
  tracker. The worker takes only the newest frame: a frame that arrives while it is busy waits in a
  one-frame slot, and a newer frame replaces it (the older one is *skipped*). The labels drawn are
  therefore those of the latest analysed frame, at most one analysis old, whatever the model's speed.

Nothing is labelled while no face is in view: an analysed frame without a face clears the faces at
once (there is no centre-crop fallback here), and faces older than :data:`STALE_AFTER_S` seconds are
never drawn nor reported, even if the worker stalls.

The worker thread starts with the first frame, exits by itself after ``idle_timeout`` seconds without a
frame (a new frame starts it again) and :meth:`LiveProcessor.close` stops it and drops the waiting
frame: no thread or frame is left behind. Every method may be called from any thread.

Detection runs on a copy at most ``detect_side`` pixels on its longer side; each face is then aligned and
cropped from the full-resolution frame (:func:`ferviz.pipeline.inference.classify_faces`). YuNet keeps
the GIL while it runs (a Python thread beside it slowed to about a fifth here), so a small copy (about
15 ms at 320x240 against 80 ms at 640x480 on this machine) keeps the stream's own threads responsive.

The WebRTC setting (:func:`rtc_configuration`) and the fake-camera clips (:func:`write_y4m`) live in
:mod:`ferviz.pipeline.stream`, the drawing in :mod:`ferviz.pipeline.draw`; both are re-exported here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ferviz.model.checkpoint import LoadedModel
from ferviz.pipeline.draw import draw_live  # noqa: F401 - re-exported (callers import it from here)
from ferviz.pipeline.faces import FaceOptions
from ferviz.pipeline.inference import FacePrediction, classify_faces, follow
from ferviz.pipeline.overlay import OVERLAYS
from ferviz.pipeline.stream import (  # noqa: F401 - re-exported (callers import them from here)
    ICE_ENV,
    ice_servers,
    rtc_configuration,
    sliding_frames,
    write_y4m,
)
from ferviz.pipeline.tracking import Tracker
from ferviz.text import printable

log = logging.getLogger(__name__)

STALE_AFTER_S = 2.0  # faces from an analysis older than this are neither drawn nor reported
RATE_WINDOW_S = 2.0  # frames per second are counted over this much recent time
_BAR_COLOUR = (225, 225, 225)  # BGR: probability bars ...
_TOP_COLOUR = (178, 114, 0)  # ... and the bar of the top class (the app's primary colour, #0072B2)
_PANEL_COLOUR = (40, 40, 40)


@dataclass(frozen=True)
class LiveSettings:
    """How a live stream is analysed and drawn; every field can change while the stream runs.

    Attributes
    ----------
    options : FaceOptions
        Detector, minimum confidence, alignment, face cap. The centre-square fallback is never used.
    smoothing : float
        EMA strength of each tracked face's probabilities, in [0, 1); 0 is off.
    overlay : {"none", "attention", "fused"}
        Laid over each face: nothing, the spatial attention each position received (last attention
        layer, mean over groups), or the fused map (ILM output). Either runs the torch model per face,
        which is slower than the plain path.
    bars : bool
        Draw a probability bar per class beside each face.
    max_rate : float
        Analyses per second at most (the rest of the frames are only drawn on); leaves CPU to the
        video codec.
    detect_side : int
        Detection runs on a copy of the frame at most this many pixels on its longer side.
    max_age_s : float
        A face unseen for this long gets a new track id when it comes back.
    """

    options: FaceOptions = FaceOptions()
    smoothing: float = 0.6
    overlay: str = "none"
    bars: bool = True
    max_rate: float = 10.0
    detect_side: int = 320
    max_age_s: float = 1.0

    def __post_init__(self) -> None:
        if self.overlay not in OVERLAYS:
            raise ValueError(f"unknown overlay {self.overlay!r}; choose one of {', '.join(OVERLAYS)}")
        if not 0 <= self.smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {self.smoothing}")
        if not self.max_rate > 0:
            raise ValueError(f"max_rate must be positive, got {self.max_rate}")
        if self.detect_side < 32:
            raise ValueError(f"detect_side must be at least 32 pixels, got {self.detect_side}")
        if self.max_age_s < 0:
            raise ValueError(f"max_age_s must be >= 0, got {self.max_age_s}")
        if self.options.fallback != "none":
            object.__setattr__(self, "options", replace(self.options, fallback="none"))


# ------------------------------------------------------------------------------------------ results


#: One face of the latest analysed frame: the one per-face row type, with its track id, smoothed
#: probabilities and (when asked for) the overlay map.
LiveFace = FacePrediction


@dataclass(frozen=True, eq=False)
class LiveStatus:
    """What a :class:`LiveProcessor` knows now: the current faces and how fast it goes.

    Attributes
    ----------
    faces : tuple of FacePrediction
        The faces in view (empty: no face, or no recent analysis).
    labels : tuple of str
        The model's classes.
    processing_fps : float
        Analyses finished per second (how often the labels are refreshed), over the last 2 s.
    video_fps : float
        Frames drawn and handed back per second, over the last 2 s.
    frames_in, frames_processed, frames_skipped : int
        Frames given, analysed, and replaced by a newer frame before the worker took them.
    frames_waiting : int
        Frames given but not yet analysed nor skipped: 0 or 1 in the slot, plus 1 while an analysis
        runs (so ``frames_in == frames_processed + frames_skipped + frames_waiting``, failed analyses
        counting as processed).
    age_s : float or None
        Seconds since the latest analysis finished (None before the first).
    error : str or None
        The latest analysis error, in one line (the worker keeps going).
    note : str or None
        Something the viewer should know (an overlay this model cannot give, ...).
    """

    faces: tuple[FacePrediction, ...]
    labels: tuple[str, ...]
    processing_fps: float
    video_fps: float
    frames_in: int
    frames_processed: int
    frames_skipped: int
    frames_waiting: int
    age_s: float | None
    error: str | None = None
    note: str | None = None

    def face_lines(self) -> list[str]:
        """One sentence per face (``Face #3: happy 82%``), or that no face is in view."""
        if not self.faces:
            return ["No face in view: no label."]
        return [f"Face #{f.track_id}: {f.label} {f.confidence:.0%}" for f in self.faces]

    def speed_line(self) -> str:
        """Processing and video frame rates, frames skipped and the labels' age, in one line."""
        age = "no frame analysed yet" if self.age_s is None else f"labels {self.age_s:.1f} s old"
        return (f"processing {self.processing_fps:.1f} fps · video {self.video_fps:.1f} fps · "
                f"{self.frames_skipped} of {self.frames_in} frames skipped · {age}")

    def text(self) -> str:
        """Every face line, then the speed line (and the error or note, if any)."""
        extra = [f"Processing error: {self.error}"] if self.error else []
        extra += [self.note] if self.note else []
        return "\n".join([*self.face_lines(), self.speed_line(), *extra])


class RateMeter:
    """Events per second over a sliding window of recent time (thread-safe, bounded memory).

    Parameters
    ----------
    window : float
        Seconds of history counted.
    clock : callable
        Seconds, monotonic (``time.monotonic``).
    capacity : int
        At most this many event times are kept (rates above ``capacity / window`` read low).
    """

    def __init__(self, window: float = RATE_WINDOW_S, clock: Callable[[], float] = time.monotonic,
                 capacity: int = 512) -> None:
        self.window, self._clock = window, clock
        self._times: deque[float] = deque(maxlen=capacity)
        self._first: float | None = None
        self._lock = threading.Lock()

    def tick(self) -> None:
        """Record one event now."""
        now = self._clock()
        with self._lock:
            self._times.append(now)
            if self._first is None:
                self._first = now

    def rate(self) -> float:
        """Events per second over the last ``window`` seconds.

        Before a full window has passed since the first event, the rate is the events after the first
        one divided by the time since it (the first event opens the span, it does not fill it).
        """
        now = self._clock()
        with self._lock:
            while self._times and self._times[0] <= now - self.window:
                self._times.popleft()
            if self._first is None:
                return 0.0
            since = now - self._first
            if since >= self.window:
                return len(self._times) / self.window
            return (len(self._times) - 1) / since if since > 0 else 0.0


# ------------------------------------------------------------------------------------------ analysis

#: ``analyse(bgr, loaded, settings) -> [FacePrediction, ...]``: the analysis a LiveProcessor runs on a frame.
Analyse = Callable[[np.ndarray, LoadedModel, LiveSettings], list[FacePrediction]]


def analyse_frame(bgr: np.ndarray, loaded: LoadedModel, settings: LiveSettings) -> list[FacePrediction]:
    """Detect, align/crop and classify every face of one BGR frame (the default analysis of a LiveProcessor).

    The one face step, :func:`ferviz.pipeline.inference.classify_faces`, on the frame in RGB order.

    Returns
    -------
    list of FacePrediction
        Each face's row (box in the frame's pixels, probabilities, and overlay map when
        ``settings.overlay`` asks for one and the model has it); not yet tracked.
    """
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    faces, _ = classify_faces(loaded, rgb, options=settings.options, detect_side=settings.detect_side,
                              overlay=settings.overlay)
    return faces


@dataclass
class _Published:
    faces: tuple[LiveFace, ...] = ()
    size: tuple[int, int] = (0, 0)  # (width, height) of the analysed frame
    when: float | None = None
    error: str | None = None
    note: str | None = None
    counts: dict = field(default_factory=lambda: {"in": 0, "processed": 0, "skipped": 0})


class LiveProcessor:
    """Labels a stream of frames without making it wait: draw every frame, analyse the newest one.

    Parameters
    ----------
    loaded : LoadedModel
        The (shared, read-only) model.
    settings : LiveSettings
        How frames are analysed and drawn (see :meth:`configure` to change them while running).
    analyse : callable, optional
        ``analyse(bgr, loaded, settings) -> [FacePrediction, ...]``; default
        :func:`analyse_frame` (detection, crops, model). Tests give a slow or blocking one.
    idle_timeout : float
        The worker thread exits after this many seconds without a new frame (the next frame starts
        it again).
    name : str
        Prefix of the worker thread's name.
    clock : callable
        Monotonic seconds for the labels' age and the frame rates (``time.monotonic``).

    Notes
    -----
    Thread-safe: frames may come from one thread (the stream) while another reads :meth:`status`
    and a third calls :meth:`configure` or :meth:`close`. The frame given to :meth:`process_bgr`
    is read, never written, and must not be modified by the caller afterwards.
    """

    def __init__(self, loaded: LoadedModel, settings: LiveSettings = LiveSettings(), *,
                 analyse: Analyse | None = None, idle_timeout: float = 5.0, name: str = "ferviz-live",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._start = clock()
        self._loaded, self._settings = loaded, settings
        self._analyse = analyse or analyse_frame
        self.idle_timeout, self.name = idle_timeout, name
        self._cond = threading.Condition(threading.Lock())
        self._pending: np.ndarray | None = None  # the one waiting frame (newest wins)
        self._busy = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self._next_start = 0.0  # monotonic time before which no analysis starts (max_rate)
        self._tracker = Tracker(max_age=10, smoothing=settings.smoothing)
        self._reset_tracker = False
        self._pub = _Published()
        self._clock = clock
        self._processed = RateMeter(clock=clock)
        self._shown = RateMeter(clock=clock)

    # ---------------------------------------------------------------- the stream's side

    def submit(self, bgr: np.ndarray) -> None:
        """Offer a BGR frame for analysis; returns at once (a frame still waiting is skipped)."""
        with self._cond:
            if self._closing:
                return
            self._pub.counts["in"] += 1
            if self._pending is not None:
                self._pub.counts["skipped"] += 1
            self._pending = bgr
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=f"{self.name}-worker", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def annotate(self, bgr: np.ndarray) -> np.ndarray:
        """A copy of ``bgr`` with the current faces drawn (boxes scaled if the frame size changed)."""
        status, size = self._snapshot()
        faces = status.faces
        if faces and size != (bgr.shape[1], bgr.shape[0]) and size[0] > 0 and size[1] > 0:
            fx = bgr.shape[1] / size[0]
            faces = tuple(replace(f, box=f.box.scaled(fx)) for f in faces)
        return draw_live(bgr, faces, status.labels, bars=self._settings.bars,
                         margin=self._loaded.preprocessing.face_margin)

    def process_bgr(self, bgr: np.ndarray) -> np.ndarray:
        """Submit a BGR frame and return it annotated with the latest labels (never waits for the model)."""
        if self._closing:
            return bgr
        self.submit(bgr)
        out = self.annotate(bgr)
        self._shown.tick()
        return out

    def process_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """:meth:`process_bgr` for an RGB frame; returns RGB."""
        return np.ascontiguousarray(self.process_bgr(np.ascontiguousarray(rgb[:, :, ::-1]))[:, :, ::-1])

    # ---------------------------------------------------------------- control and status

    def configure(self, loaded: LoadedModel | None = None, settings: LiveSettings | None = None) -> None:
        """Change the model and/or the settings; the next analysis uses them (a new model resets the ids)."""
        with self._cond:
            if loaded is not None and loaded is not self._loaded:
                self._loaded, self._reset_tracker = loaded, True
                self._pub.faces = ()
            if settings is not None:
                self._settings = settings

    @property
    def settings(self) -> LiveSettings:
        """The settings in use."""
        return self._settings

    @property
    def worker_alive(self) -> bool:
        """True while the worker thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (frames are then handed back untouched)."""
        return self._closing

    def _snapshot(self) -> tuple[LiveStatus, tuple[int, int]]:
        now = self._clock()
        with self._cond:
            pub = self._pub
            age = None if pub.when is None else now - pub.when
            faces = pub.faces if age is not None and age <= STALE_AFTER_S else ()
            status = LiveStatus(faces, tuple(self._loaded.labels), self._processed.rate(), self._shown.rate(),
                                pub.counts["in"], pub.counts["processed"], pub.counts["skipped"],
                                (self._pending is not None) + self._busy, age, pub.error, pub.note)
            return status, pub.size

    def status(self) -> LiveStatus:
        """The current faces, frame rates and counts."""
        return self._snapshot()[0]

    def faces_text(self) -> str:
        """The current faces and the speed as plain text (see :meth:`LiveStatus.text`)."""
        return self.status().text()

    def wait_processed(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least ``count`` frames have been analysed; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pub.counts["processed"] < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker (waiting up to ``timeout`` s for an analysis in flight) and drop every frame."""
        with self._cond:
            self._closing = True
            if self._pending is not None:
                self._pending = None
                self._pub.counts["skipped"] += 1
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("the live worker did not stop within %.1f s", timeout)
        with self._cond:
            self._pub.faces = ()

    def __enter__(self) -> LiveProcessor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- the worker's side

    def _take(self) -> tuple[np.ndarray, LoadedModel, LiveSettings, bool] | None:
        """Wait for the next frame to analyse (honouring max_rate); None when the worker should exit."""
        with self._cond:
            while True:
                if self._closing:
                    self._thread = None
                    return None
                if self._pending is None:
                    if not self._cond.wait(self.idle_timeout) and self._pending is None and not self._closing:
                        self._thread = None  # idle: exit; the next submit() starts a new worker
                        return None
                    continue
                delay = self._next_start - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)  # a newer frame may replace the pending one meanwhile
                    continue
                frame, self._pending, self._busy = self._pending, None, True
                self._next_start = time.monotonic() + 1.0 / self._settings.max_rate
                reset, self._reset_tracker = self._reset_tracker, False
                return frame, self._loaded, self._settings, reset

    def _work(self) -> None:
        while (job := self._take()) is not None:
            frame, loaded, settings, reset = job
            error = note = None
            try:
                found = self._analyse(frame, loaded, settings)
            except Exception as exc:  # the stream goes on; the error is shown and logged once per kind
                found = []
                error = printable(f"{type(exc).__name__}: {exc}", 200)
                if error != self._pub.error:
                    log.exception("live analysis failed")
            faces = self._track(found, loaded, settings, reset)
            if settings.overlay != "none" and found and all(f.overlay is None for f in found):
                note = f"this model has no {settings.overlay} map to overlay"
            with self._cond:
                self._busy = False
                self._pub.counts["processed"] += 1
                if not self._closing:  # a closed processor shows nothing
                    self._pub.faces, self._pub.size = faces, (frame.shape[1], frame.shape[0])
                    self._pub.when, self._pub.error, self._pub.note = self._clock(), error, note
                self._cond.notify_all()
            self._processed.tick()

    def _track(self, found: list[FacePrediction], loaded: LoadedModel, settings: LiveSettings,
               reset: bool) -> tuple[FacePrediction, ...]:
        tracker = self._tracker
        if reset:
            tracker.reset()
        tracker.smoothing = settings.smoothing
        tracker.max_age = max(2, round(settings.max_age_s * max(self._processed.rate(), 1.0)))
        frame = self._pub.counts["processed"]
        return tuple(follow(tracker, found, list(loaded.labels), frame=frame, time_s=self._clock() - self._start))

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

Detection runs on a copy at most ``detect_side`` pixels on its longer side; each face is then cropped from
the full-resolution frame. YuNet keeps the GIL while it runs (a Python thread beside it slowed to about
a fifth here), so a small copy (about 15 ms at 320x240 against 80 ms at 640x480 on this machine) keeps
the stream's own threads responsive.

:func:`rtc_configuration` is the WebRTC setting the Live page uses: **no** STUN/TURN server unless
``FERVIZ_ICE_SERVERS`` names some, so that a stream on localhost needs no network at all.
:func:`write_y4m` writes a clip in the format of Chromium's fake camera (``--use-file-for-fake-video-
capture``), for tests and benchmarks without a camera.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from ferviz.errors import FervizError
from ferviz.model.checkpoint import LoadedModel
from ferviz.pipeline.faces import FaceBox, FaceOptions, find_faces
from ferviz.pipeline.inference import classify_crops
from ferviz.pipeline.tracking import Tracker
from ferviz.pipeline.video import draw_faces
from ferviz.text import printable

log = logging.getLogger(__name__)

ICE_ENV = "FERVIZ_ICE_SERVERS"  # JSON list of RTCIceServer objects; unset or empty: no STUN/TURN at all
OVERLAYS = ("none", "attention", "fused")  # what is laid over each face
STALE_AFTER_S = 2.0  # faces from an analysis older than this are neither drawn nor reported
RATE_WINDOW_S = 2.0  # frames per second are counted over this much recent time
_BAR_COLOUR = (225, 225, 225)  # BGR: probability bars ...
_TOP_COLOUR = (178, 114, 0)  # ... and the bar of the top class (the app's primary colour, #0072B2)
_PANEL_COLOUR = (40, 40, 40)


# ------------------------------------------------------------------------------------------ settings


def ice_servers(env: Mapping[str, str] | None = None) -> list[dict]:
    """The ICE (STUN/TURN) servers of the Live page's WebRTC connection: none unless configured.

    Parameters
    ----------
    env : mapping, optional
        Where to read :data:`ICE_ENV` (default ``os.environ``). Its value is a JSON list of
        RTCIceServer objects, e.g. ``[{"urls": ["stun:stun.example.org:3478"]}]`` or
        ``[{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]``.

    Returns
    -------
    list of dict
        Empty when the variable is unset or blank: a localhost stream then needs no network.

    Raises
    ------
    FervizError
        When the value is not such a list.
    """
    text = (os.environ if env is None else env).get(ICE_ENV, "").strip()
    if not text:
        return []
    hint = f'{ICE_ENV} must be a JSON list like [{{"urls": ["stun:host:3478"]}}]'
    try:
        servers = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FervizError(f"{hint}; it is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(servers, list):
        raise FervizError(f"{hint}; got a JSON {type(servers).__name__}")
    for i, server in enumerate(servers):
        urls = server.get("urls") if isinstance(server, dict) else None
        if isinstance(urls, str):
            urls = [urls]
        if not urls or not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
            raise FervizError(f"{hint}; entry {i} has no \"urls\" string or list of strings")
        extra = set(server) - {"urls", "username", "credential"}
        if extra:
            raise FervizError(f"{hint}; entry {i} has unknown keys: {', '.join(sorted(extra))}")
    return servers


def rtc_configuration(env: Mapping[str, str] | None = None) -> dict:
    """``{"iceServers": ice_servers(env)}``: the RTCConfiguration of the browser and of the server."""
    return {"iceServers": ice_servers(env)}


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


@dataclass(frozen=True, eq=False)
class LiveFace:
    """One face of the latest analysed frame.

    Attributes
    ----------
    track_id : int
        Stable while the face stays in view (see :class:`ferviz.pipeline.tracking.Tracker`).
    box : FaceBox
        In the pixels of the analysed frame.
    label : str
        The top class of the smoothed probabilities.
    confidence : float
        Its smoothed probability.
    probs : tuple of float
        Smoothed probability of every class, in the model's label order.
    overlay : (64, 64) float ndarray or None
        The attention or fused map of the face crop, scaled to [0, 1]; None when not asked for.
    """

    track_id: int
    box: FaceBox
    label: str
    confidence: float
    probs: tuple[float, ...]
    overlay: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class LiveStatus:
    """What a :class:`LiveProcessor` knows now: the current faces and how fast it goes.

    Attributes
    ----------
    faces : tuple of LiveFace
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

    faces: tuple[LiveFace, ...]
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


# ------------------------------------------------------------------------------------------ drawing


def _region(box: FaceBox, margin: float) -> tuple[int, int, int, int, int]:
    """The square the face crop covers (side ``max(w, h) * (1 + 2 margin)``): x0, y0, x1, y1, side."""
    side = max(1, round(max(box.w, box.h) * (1 + 2 * margin)))
    cx, cy = box.center
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    return x0, y0, x0 + side, y0 + side, side


def _blend_map(out: np.ndarray, box: FaceBox, heat: np.ndarray, margin: float, alpha: float = 0.45) -> None:
    """Lay a (64, 64) map in [0, 1], colour-mapped, over the square the face's crop came from (in place)."""
    x0, y0, x1, y1, side = _region(box, margin)
    h, w = out.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx0 >= cx1 or cy0 >= cy1:
        return
    scaled = cv2.resize(np.clip(heat, 0, 1).astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_JET)
    patch = colours[cy0 - y0: cy1 - y0, cx0 - x0: cx1 - x0]
    out[cy0:cy1, cx0:cx1] = cv2.addWeighted(out[cy0:cy1, cx0:cx1], 1 - alpha, patch, alpha, 0)


def _draw_bars(out: np.ndarray, face: LiveFace, labels: tuple[str, ...]) -> None:
    """A panel with one bar per class beside the face's box (right of it if it fits, else left), in place."""
    h, w = out.shape[:2]
    row = max(11, round(h / 40))
    scale = row / 30
    text_w = max(cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for name in labels)
    bar_w = 4 * row
    pw, ph = text_w + bar_w + 9, row * len(labels) + 4
    box = face.box
    x = box.x + box.w + 4 if box.x + box.w + 4 + pw <= w else box.x - 4 - pw
    x = min(max(x, 0), max(w - pw, 0))
    y = min(max(box.y, 0), max(h - ph, 0))
    cv2.rectangle(out, (x, y), (x + pw, y + ph), _PANEL_COLOUR, -1)
    top = int(np.argmax(face.probs))
    for k, (name, p) in enumerate(zip(labels, face.probs, strict=True)):
        base = y + 2 + k * row
        cv2.putText(out, name, (x + 3, base + row - 3), cv2.FONT_HERSHEY_SIMPLEX, scale, _BAR_COLOUR, 1,
                    cv2.LINE_AA)
        length = round(bar_w * min(max(p, 0.0), 1.0))
        if length > 0:
            bx = x + text_w + 6
            cv2.rectangle(out, (bx, base + 2), (bx + length, base + row - 2),
                          _TOP_COLOUR if k == top else _BAR_COLOUR, -1)


def draw_live(bgr: np.ndarray, faces: Iterable[LiveFace], labels: Iterable[str], *, bars: bool = True,
              margin: float = 0.15) -> np.ndarray:
    """A copy of a BGR frame with each face's overlay, box, track id, label and probability bars drawn.

    Parameters
    ----------
    bgr : (H, W, 3) uint8 ndarray
        The frame (not modified).
    faces : iterable of LiveFace
        Boxes in the frame's pixels.
    labels : iterable of str
        The model's classes, in the order of each face's ``probs``.
    bars : bool
        Draw the probability panel of each face.
    margin : float
        The crop margin of the model's preprocessing (where an overlay is laid).

    Returns
    -------
    (H, W, 3) uint8 ndarray
    """
    faces, labels = list(faces), tuple(labels)
    base = bgr
    if any(f.overlay is not None for f in faces):
        base = bgr.copy()
        for f in faces:
            if f.overlay is not None:
                _blend_map(base, f.box, f.overlay, margin)
    out = draw_faces(base, [(f.box, f.track_id, f.label, f.confidence) for f in faces])
    if bars:
        for f in faces:
            _draw_bars(out, f, labels)
    return out


# ------------------------------------------------------------------------------------------ analysis

#: One face found by an analysis: its box in the frame's pixels, class probabilities, overlay map or None.
Found = tuple[FaceBox, np.ndarray, np.ndarray | None]
#: ``analyse(bgr, loaded, settings) -> [Found, ...]``: the analysis a LiveProcessor runs on a frame.
Analyse = Callable[[np.ndarray, LoadedModel, LiveSettings], list[Found]]


def _unit(heat: np.ndarray) -> np.ndarray:
    lo, hi = float(heat.min()), float(heat.max())
    return (heat - lo) / (hi - lo) if hi > lo else np.zeros_like(heat)


def _face_map(loaded: LoadedModel, crop: np.ndarray, overlay: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Probabilities and the (64, 64) overlay of one crop from the torch model (None: not available)."""
    # imported on first use: ferviz.explain also loads Captum, which the plain live path never needs
    from ferviz.explain.attention import face_attention, received_map, token_map

    aset = face_attention(loaded, crop)
    try:
        heat = (received_map(aset, aset.n_layers - 1) if overlay == "attention"
                else token_map(aset, "fused"))
    except (ValueError, KeyError):
        return aset.probs, None
    return aset.probs, _unit(np.asarray(heat, dtype=np.float32))


def analyse_frame(bgr: np.ndarray, loaded: LoadedModel, settings: LiveSettings) -> list[Found]:
    """Detect, crop and classify every face of one BGR frame (the default analysis of a LiveProcessor).

    Returns
    -------
    list of (FaceBox, (K,) ndarray, ndarray or None)
        Each face's box in the frame's pixels, class probabilities, and overlay map (when
        ``settings.overlay`` asks for one and the model has it).
    """
    prep = loaded.preprocessing
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    search = find_faces(rgb, size=prep.size, margin=prep.face_margin, detect_side=settings.detect_side,
                        **settings.options.kwargs())
    if not search.faces:
        return []
    boxes = [face.box for face in search.faces]
    crops = [face.crop64 for face in search.faces]
    if settings.overlay == "none":
        probs = classify_crops(loaded, np.stack(crops))
        return [(b, p, None) for b, p in zip(boxes, probs, strict=True)]
    out = []
    for box, crop in zip(boxes, crops, strict=True):
        p, heat = _face_map(loaded, crop, settings.overlay)
        out.append((box, p, heat))
    return out


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
        ``analyse(bgr, loaded, settings) -> [(box, probs, overlay), ...]``; default
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
            if settings.overlay != "none" and found and all(h is None for _, _, h in found):
                note = f"this model has no {settings.overlay} map to overlay"
            with self._cond:
                self._busy = False
                self._pub.counts["processed"] += 1
                if not self._closing:  # a closed processor shows nothing
                    self._pub.faces, self._pub.size = faces, (frame.shape[1], frame.shape[0])
                    self._pub.when, self._pub.error, self._pub.note = self._clock(), error, note
                self._cond.notify_all()
            self._processed.tick()

    def _track(self, found: list[Found], loaded: LoadedModel, settings: LiveSettings,
               reset: bool) -> tuple[LiveFace, ...]:
        tracker = self._tracker
        if reset:
            tracker.reset()
        tracker.smoothing = settings.smoothing
        tracker.max_age = max(2, round(settings.max_age_s * max(self._processed.rate(), 1.0)))
        tracked = tracker.update([b for b, _, _ in found], [p for _, p, _ in found])
        faces = []
        for face in tracked:
            probs = tuple(float(v) for v in face.probs)
            k = int(np.argmax(probs))
            faces.append(LiveFace(face.track_id, face.box, loaded.labels[k], probs[k], probs,
                                  found[face.index][2]))
        return tuple(faces)


# ------------------------------------------------------------------------------------------ test clips


def write_y4m(path: str | Path, frames: Iterable[np.ndarray], fps: int = 30) -> Path:
    """Write RGB frames as a YUV4MPEG2 (4:2:0) clip, the format of Chromium's fake camera.

    Chromium plays it, looping, as the camera with ``--use-fake-device-for-media-stream
    --use-file-for-fake-video-capture=PATH``.

    Parameters
    ----------
    path : str or Path
        The ``.y4m`` file to write.
    frames : iterable of (H, W, 3) uint8 ndarray
        RGB frames, all of one size with even H and W.
    fps : int
        Frames per second written in the header.

    Returns
    -------
    Path
    """
    path = Path(path)
    size = None
    with open(path, "wb") as fh:
        for rgb in frames:
            h, w = rgb.shape[:2]
            if size is None:
                if h % 2 or w % 2:
                    raise ValueError(f"4:2:0 needs an even width and height, got {w}x{h}")
                size = (w, h)
                fh.write(f"YUV4MPEG2 W{w} H{h} F{int(fps)}:1 Ip A1:1 C420jpeg\n".encode())
            elif (w, h) != size:
                raise ValueError(f"every frame must be {size[0]}x{size[1]}, got {w}x{h}")
            fh.write(b"FRAME\n")
            fh.write(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420).tobytes())
    if size is None:
        raise ValueError("no frames to write")
    return path


def sliding_frames(photo: np.ndarray, width: int = 640, height: int = 480, n: int = 60,
                   travel: int = 48) -> list[np.ndarray]:
    """``n`` RGB frames of ``photo`` (scaled to the frame's height) sliding right then back on grey.

    The last frame leads smoothly into the first, so that a looping player shows a face moving slowly
    to and fro.
    """
    side = height
    face = cv2.resize(np.ascontiguousarray(photo[:, :, :3]), (side, side), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(n):
        phase = 1 - abs(1 - 2 * i / n)  # 0 -> 1 -> 0
        x = (width - side) // 2 - travel // 2 + round(travel * phase)
        frame = np.full((height, width, 3), 128, np.uint8)
        x0, x1 = max(x, 0), min(x + side, width)
        frame[:, x0:x1] = face[:, x0 - x: x1 - x]
        frames.append(frame)
    return frames

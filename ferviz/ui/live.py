"""The Live page's bridge to ``streamlit-webrtc``: the browser camera in, annotated frames back, text beside.

The browser sends its camera over WebRTC to this server; :class:`WebrtcLive` hands each frame to a
:class:`ferviz.pipeline.live.LiveProcessor` (one per stream, made when the stream starts) and sends the
annotated frame back. The processor never waits for the model, so it runs in streamlit-webrtc's
synchronous mode (no thread or frame queue of the library's own). STOP ends the stream at once and
:meth:`WebrtcLive.on_ended` closes the processor. When the tab is closed mid-stream, no frame comes any
more: the processor's worker exits after its idle timeout (5 s), and the connection ends when its ICE
consent expires (about 30 s), which calls ``on_ended`` too (checked by ``tests/pages/test_browser_live.py``).

No STUN/TURN server is configured unless ``FERVIZ_ICE_SERVERS`` says so (:func:`ferviz.pipeline.live.ice_servers`):
on localhost the stream needs no network at all.
"""

from __future__ import annotations

import time

import av
import streamlit as st
from streamlit_webrtc import VideoProcessorBase, WebRtcMode, WebRtcStreamerContext, webrtc_streamer

from ferviz.errors import FervizError
from ferviz.figures.video import overlay_legend
from ferviz.model.checkpoint import LoadedModel
from ferviz.pipeline.faces import FaceOptions
from ferviz.pipeline.live import ICE_ENV, OVERLAYS, LiveProcessor, LiveSettings, LiveStatus, rtc_configuration
from ferviz.text import md_escape

TEXT_REFRESH_S = 0.25  # the faces beside the video are refreshed this often while the stream plays
MEDIA_CONSTRAINTS = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 30}},
                     "audio": False}
SMOOTHED_TEXT = ("Each face's label and probability here are the smoothed ones (the sidebar's smoothing), the "
                 "same numbers drawn on the video; the video reaches your screen a moment later than this "
                 "text, so while a face changes expression the two can differ for a fraction of a second.")
OVERLAY_TEXT = {"none": "nothing", "attention": "spatial attention (last layer)", "fused": "fused map (ILM)"}


class WebrtcLive(VideoProcessorBase):
    """streamlit-webrtc's video processor: each frame through a :class:`LiveProcessor`, annotated back."""

    def __init__(self, live: LiveProcessor) -> None:
        self.live = live

    def recv(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The frame with the latest boxes, ids, labels and bars drawn (never waits for the model)."""
        out = self.live.process_bgr(frame.to_ndarray(format="bgr24"))
        return av.VideoFrame.from_ndarray(out, format="bgr24")

    def on_ended(self) -> None:
        """The stream stopped (button, closed tab, lost connection): stop the worker, drop its frames."""
        self.live.close()


def live_settings(key: str, options: FaceOptions) -> LiveSettings:
    """Sidebar: overlay, probability bars, smoothing and the analysis rate; returns the settings."""
    with st.sidebar.expander("Live video", expanded=True):
        overlay = st.selectbox("Overlay on each face", OVERLAYS, key=f"{key}_overlay",
                               format_func=lambda o: OVERLAY_TEXT[o],
                               help="attention and fused maps run the full model per face: fewer labels "
                                    "per second")
        bars = st.checkbox("Probability bars", value=True, key=f"{key}_bars")
        smoothing = st.slider("Smoothing of each face's probabilities", 0.0, 0.95, 0.6, 0.05,
                              key=f"{key}_smooth",
                              help="exponential moving average per tracked face; 0 is off")
        rate = st.slider("Analyses per second at most", 1, 30, 10, key=f"{key}_rate",
                         help="frames in between are shown with the latest labels; a lower rate leaves "
                              "more CPU to the video")
        side = st.select_slider("Detection resolution (longer side, pixels)", [240, 320, 480, 640], 320,
                                key=f"{key}_side", help="smaller is faster; larger finds smaller faces")
    return LiveSettings(options=options, smoothing=smoothing, overlay=overlay, bars=bars,
                        max_rate=float(rate), detect_side=side)


def live_stream(key: str, loaded: LoadedModel, settings: LiveSettings) -> WebRtcStreamerContext | None:
    """The camera component (START/STOP); the running stream takes the current model and settings.

    Returns
    -------
    WebRtcStreamerContext or None
        None, with the error shown, when ``FERVIZ_ICE_SERVERS`` is malformed.
    """
    try:
        rtc = rtc_configuration()
    except FervizError as exc:
        st.error(md_escape(exc))
        return None
    ctx = webrtc_streamer(key=key, mode=WebRtcMode.SENDRECV, rtc_configuration=rtc,
                          media_stream_constraints=MEDIA_CONSTRAINTS,
                          video_processor_factory=lambda: WebrtcLive(LiveProcessor(loaded, settings)),
                          async_processing=False)
    live = _live(ctx)
    if live is not None:
        live.configure(loaded, settings)
    if not rtc["iceServers"]:
        st.caption("The video goes straight between your browser and this server, with no relay server: "
                   "fine on this computer or a local network.",
                   help=f"No STUN/TURN server is configured (the environment variable {ICE_ENV} is unset). "
                        "Across the internet, behind firewalls, the operator sets it to a JSON list of "
                        "ICE servers (docs in ferviz/pipeline/live.py).")
    if settings.overlay != "none":
        overlay_key(settings.overlay)
    return ctx


def overlay_key(overlay: str) -> None:
    """The colour key of the map laid over each face (the same JET colours as the video)."""
    left, right = st.columns([1, 2], vertical_alignment="center")
    left.image(overlay_legend(), width="stretch")
    right.caption(f"Overlay: {OVERLAY_TEXT[overlay]}. Blue: where the model looks least, red: most, within "
                  "each face (each map is scaled to its own range, so colours do not compare across faces).")


def _live(ctx: WebRtcStreamerContext) -> LiveProcessor | None:
    """The running stream's processor (by attribute: a reloaded module makes new classes), or None."""
    return getattr(ctx.video_processor, "live", None)


def status_markdown(status: LiveStatus) -> str:
    """The faces as a Markdown list, one line per face (or that there is none)."""
    return "\n".join(f"- {md_escape(line)}" for line in status.face_lines())


def live_panel(ctx: WebRtcStreamerContext | None) -> None:
    """The current faces and labels as text, refreshed every :data:`TEXT_REFRESH_S` s while the stream plays.

    While the stream plays this keeps the script run going (call it last on the page): each refresh
    replaces the text in place. A widget change, the STOP button or a closed tab interrupts it with a
    rerun or a stop. A loop, not an ``st.fragment(run_every=...)``: Streamlit runs a full garbage
    collection after every run, fragment runs included (``runner.postScriptGC``), which took about
    0.2 s here with torch loaded and starved the stream at four refreshes a second.
    """
    st.subheader("In view now")
    st.caption(SMOOTHED_TEXT)
    if ctx is None or not ctx.state.playing:
        st.markdown("- Not streaming: press **START** under the video and allow the camera.")
        return
    faces, speed, problem = st.empty(), st.empty(), st.empty()
    while ctx.state.playing:
        live = _live(ctx)
        if live is None:
            faces.markdown("- Connecting to the camera…")
        else:
            status = live.status()
            faces.markdown(status_markdown(status))
            speed.caption(md_escape(status.speed_line()))
            if status.error:
                problem.error(f"Processing error: {md_escape(status.error)}")
            elif status.note:
                problem.caption(md_escape(status.note))
            else:
                problem.empty()
        time.sleep(TEXT_REFRESH_S)

"""The Live page (AppTest: it renders without a browser, the camera component just appears) and its bridge.

streamlit-webrtc asks the running server for the session's info, which AppTest's stand-in runtime does
not have; ``no_session_info`` makes that lookup answer "no session", the case the library itself handles
outside a live server. The bridge (:class:`ferviz.ui.live.WebrtcLive`) is checked with real PyAV frames.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import av
import numpy as np
import pytest
from skimage import data
from streamlit.testing.v1 import AppTest

from ferviz.model.checkpoint import load_checkpoint
from ferviz.pipeline.live import ICE_ENV, LiveProcessor, LiveSettings, LiveStatus, sliding_frames
from ferviz.text import md_escape
from ferviz.ui.live import WebrtcLive, status_markdown

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "8_Live.py")


@pytest.fixture
def no_session_info(monkeypatch):
    monkeypatch.setattr("streamlit_webrtc.component.get_this_session_info", lambda: None)


def component_args(at: AppTest) -> dict:
    (component,) = at.get("component_instance")
    assert component.proto.component_name.endswith("webrtc_streamer")
    return json.loads(component.proto.json_args)


def test_the_page_shows_the_camera_component_with_no_ice_server(no_session_info, monkeypatch):
    monkeypatch.delenv(ICE_ENV, raising=False)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    args = component_args(at)
    assert args["rtc_configuration"] == {"iceServers": []}  # offline: no STUN/TURN
    assert args["mode"] == "SENDRECV" and args["media_stream_constraints"]["audio"] is False
    assert any("Not streaming" in m.value for m in at.markdown)
    assert any("no relay server" in c.value and ICE_ENV in c.help for c in at.caption)
    assert at.selectbox(key="live_overlay").value == "none"
    assert at.checkbox(key="live_bars").value is True
    assert at.slider(key="live_rate").value == 10


def test_ice_servers_from_the_environment_reach_the_component(no_session_info, monkeypatch):
    servers = [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]
    monkeypatch.setenv(ICE_ENV, json.dumps(servers))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert component_args(at)["rtc_configuration"] == {"iceServers": servers}
    assert not any("no relay server" in c.value for c in at.caption)


def test_a_malformed_ice_setting_is_an_error_on_the_page_not_a_crash(no_session_info, monkeypatch):
    monkeypatch.setenv(ICE_ENV, "stun:not-json")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert not at.get("component_instance")
    assert any(md_escape(ICE_ENV) in e.value and "not valid JSON" in e.value for e in at.error)


def _settings_script():
    import streamlit as st

    from ferviz.pipeline.faces import FaceOptions
    from ferviz.ui.live import live_settings

    s = live_settings("t", FaceOptions(fallback="centre"))
    st.text(f"{s.overlay}|{s.bars}|{s.smoothing}|{s.max_rate}|{s.detect_side}|{s.options.fallback}")


def test_the_sidebar_widgets_become_the_live_settings():
    at = AppTest.from_function(_settings_script, default_timeout=30).run()
    assert at.text[0].value == "none|True|0.6|10.0|320|none"  # never the centre-square fallback live
    at.selectbox(key="t_overlay").set_value("fused")
    at.checkbox(key="t_bars").uncheck()
    at.slider(key="t_smooth").set_value(0.0)
    at.slider(key="t_rate").set_value(4)
    at.select_slider(key="t_side").set_value(640)
    at.run()
    assert not at.exception
    assert at.text[0].value == "fused|False|0.0|4.0|640|none"


def test_status_markdown_lists_faces_or_says_there_is_none():
    empty = LiveStatus((), ("happy",), 0.0, 0.0, 0, 0, 0, 0, None)
    assert status_markdown(empty) == "- No face in view\\: no label\\."
    assert "processing 0.0 fps" in empty.speed_line() and "no frame analysed yet" in empty.speed_line()


@pytest.fixture
def tiny(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


def test_the_webrtc_processor_annotates_frames_and_on_ended_ends_its_worker(tiny):
    before = threading.active_count()
    rgb = sliding_frames(data.astronaut(), width=320, height=240, n=2)[0]
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:, :, ::-1]), format="bgr24")
    live = LiveProcessor(tiny, LiveSettings(max_rate=1000.0))
    bridge = WebrtcLive(live)
    first = bridge.recv(frame)
    assert (first.width, first.height) == (320, 240)
    assert live.wait_processed(1) and live.status().faces
    second = bridge.recv(frame).to_ndarray(format="bgr24")
    assert np.abs(second.astype(int) - frame.to_ndarray(format="bgr24")).sum() > 0  # boxes drawn
    assert threading.active_count() == before + 1
    bridge.on_ended()
    assert live.closed and not live.worker_alive
    assert threading.active_count() == before


def test_the_panel_says_its_numbers_are_the_smoothed_ones_and_an_overlay_gets_a_colour_key(no_session_info,
                                                                                            monkeypatch):
    monkeypatch.delenv(ICE_ENV, raising=False)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert any("smoothed" in c.value and "same numbers drawn on the video" in c.value for c in at.caption)
    assert not any("is unset" in c.value for c in at.caption)  # the variable's name only in the tooltip
    assert not at.get("image")
    at.selectbox(key="live_overlay").set_value("attention").run()
    assert not at.exception
    assert len(at.get("image")) == 1  # the colour key
    assert any("Blue: where the model looks least, red: most" in c.value for c in at.caption)


def test_the_overlay_key_runs_from_blue_to_red_like_the_drawn_map():
    from ferviz.figures.video import overlay_legend

    key = overlay_legend(100, 6)
    assert key.shape == (6, 100, 3) and key.dtype == np.uint8
    r0, g0, b0 = key[0, 0].astype(int)
    r1, g1, b1 = key[0, -1].astype(int)
    assert b0 > 100 and r0 < 50 and r1 > 100 and b1 < 50  # RGB: blue on the left, red on the right

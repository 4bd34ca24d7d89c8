"""Camera-stream plumbing of the Live page: the WebRTC setting, and test clips for a fake camera.

:func:`rtc_configuration` is the WebRTC setting the Live page uses: **no** STUN/TURN server unless
``FERVIZ_ICE_SERVERS`` names some, so that a stream on localhost needs no network at all.
:func:`write_y4m` writes a clip in the format of Chromium's fake camera (``--use-file-for-fake-video-
capture``), for tests and benchmarks without a camera; :func:`sliding_frames` makes one from a photo.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import cv2
import numpy as np

from ferviz.errors import FervizError

ICE_ENV = "FERVIZ_ICE_SERVERS"  # JSON list of RTCIceServer objects; unset or empty: no STUN/TURN at all


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

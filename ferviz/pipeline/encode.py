"""Write videos that browsers play: H.264 (yuv420p) in an MP4 with its index at the front, through PyAV.

OpenCV's wheels write MPEG-4 Part 2 (``mp4v``), which no browser decodes (a ``<video>`` element shows one
still frame), and cannot write H.264. PyAV's wheels (``av``, already required by streamlit-webrtc) carry
libx264; ``+faststart`` moves the index to the front so a browser can start before the last byte.

:class:`VideoEncoder` takes BGR frames like ``cv2.VideoWriter`` does, so a writer can be swapped for it.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

log = logging.getLogger(__name__)

CODEC = "libx264"
MIME = "video/mp4"
CRF = 23  # x264's default quality (lower is better and larger)


def even(n: int) -> int:
    """``n`` rounded up to an even number (yuv420p halves both sides, so they must be even)."""
    return n + (n % 2)


class VideoEncoder:
    """An H.264 MP4 written frame by frame from BGR ``uint8`` arrays of one size.

    Parameters
    ----------
    path : str or Path
        Output file (``.mp4``).
    fps : float
        Frames per second (rounded to 1/1000; values <= 0 become 25).
    width, height : int
        Frame size in pixels; odd sides are padded by one edge pixel in the file.
    """

    def __init__(self, path: str | Path, fps: float, width: int, height: int) -> None:
        self.width, self.height = int(width), int(height)
        Path(path).open("wb").close()  # an unwritable path fails here (OSError), not at the first frame
        rate = Fraction(round(fps * 1000) if fps > 0 else 25000, 1000)
        self._container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        try:
            self._stream = self._container.add_stream(CODEC, rate=rate)
            self._stream.width, self._stream.height = even(self.width), even(self.height)
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(CRF), "preset": "veryfast"}
        except Exception:
            self._container.close()
            raise
        self._open = True

    def isOpened(self) -> bool:  # noqa: N802 - the name of cv2.VideoWriter's method
        """True until :meth:`release`."""
        return self._open

    def write(self, bgr: np.ndarray) -> None:
        """Append one frame, (height, width, 3) BGR uint8."""
        if bgr.shape[:2] != (self.height, self.width):
            raise ValueError(f"frame of {bgr.shape[1]}x{bgr.shape[0]} pixels, the video is "
                             f"{self.width}x{self.height}")
        pad = ((0, even(self.height) - self.height), (0, even(self.width) - self.width), (0, 0))
        frame = np.pad(bgr, pad, mode="edge") if any(p[1] for p in pad) else bgr
        video = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
        for packet in self._stream.encode(video):
            self._container.mux(packet)

    def release(self) -> None:
        """Flush the encoder and close the file (again: nothing)."""
        if not self._open:
            return
        self._open = False
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()

    def __enter__(self) -> VideoEncoder:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

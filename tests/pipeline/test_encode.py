"""The annotated video is H.264 in an MP4 (what browsers play), frame for frame, odd sizes included."""

import av
import numpy as np
import pytest

from ferviz.pipeline.encode import VideoEncoder


def test_frames_go_out_as_h264_yuv420p_with_the_right_count_and_rate(tmp_path):
    out = tmp_path / "clip.mp4"
    with VideoEncoder(out, 12.5, 65, 47) as writer:  # odd sides: padded to 66x48 in the file
        for i in range(30):
            writer.write(np.full((47, 65, 3), (8 * i, 100, 200), np.uint8))
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == (66, 48)
        assert float(stream.average_rate) == pytest.approx(12.5)
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
        seconds = container.duration / 1e6
    assert len(frames) == 30 and seconds == pytest.approx(30 / 12.5, abs=0.1)
    assert abs(int(frames[10][20, 20, 0]) - 80) <= 6  # lossy, but the content survives
    assert out.read_bytes()[4:8] == b"ftyp" and out.read_bytes().find(b"moov") < out.read_bytes().find(b"mdat")


def test_a_frame_of_the_wrong_size_or_an_unwritable_path_is_refused(tmp_path):
    with pytest.raises(OSError):
        VideoEncoder(tmp_path / "missing" / "x.mp4", 10, 64, 48)
    writer = VideoEncoder(tmp_path / "x.mp4", 10, 64, 48)
    with pytest.raises(ValueError, match="64x48"):
        writer.write(np.zeros((40, 64, 3), np.uint8))
    writer.release()
    writer.release()
    assert not writer.isOpened()

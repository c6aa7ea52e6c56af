"""Video files in and out: frames, timestamps, audio, rotation, odd sizes, interruption, bad input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from vidfsr.pipelines.video import EncodeOptions, VideoFileSink, VideoFileSource

from vidfsr.errors import InputError, InputNotFoundError

from .media import make_video, pattern


def transcode(src: Path, dst: Path, **kw) -> int:
    with VideoFileSource(src) as source:
        info = source.info
        with VideoFileSink(dst, info.width, info.height, info.time_base, info.rate, audio_from=src, **kw) as sink:
            for frame in source:
                sink.write(frame.image, frame.pts)
        return source.frames_read


def video_pts(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return [f.pts for f in c.decode(video=0)]


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(audio=0) if p.size]


def test_roundtrip_keeps_frames_timestamps_and_audio(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", frames=30, rate=Fraction(30000, 1001), audio=True, size=(96, 64))
    dst = tmp_path / "out.mp4"
    assert transcode(src, dst) == 30
    assert video_pts(dst) == video_pts(src)
    assert audio_packets(dst) == audio_packets(src)  # stream copy: identical bytes
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        assert b.streams.video[0].average_rate == a.streams.video[0].average_rate == Fraction(30000, 1001)
        assert b.streams.video[0].time_base == a.streams.video[0].time_base
    assert not (tmp_path / "out.partial.mp4").exists()


def test_pixels_survive_the_roundtrip(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mkv", frames=4, size=(64, 48), codec="ffv1", pix_fmt="yuv444p")
    dst = tmp_path / "out.mkv"
    transcode(src, dst, options=EncodeOptions(codec="ffv1", pix_fmt="yuv444p"))
    with VideoFileSource(dst) as out:
        for i, frame in enumerate(out):
            diff = np.abs(frame.image.astype(int) - pattern(i, 64, 48).astype(int))
            assert diff.mean() < 3


def test_variable_frame_rate_survives(tmp_path: Path) -> None:
    src = make_video(tmp_path / "vfr.mp4", frames=12, vfr=True)
    dst = tmp_path / "out.mp4"
    transcode(src, dst)
    assert video_pts(dst) == video_pts(src)
    assert len(set(np.diff(video_pts(dst)))) == 2


def test_rotation_is_applied(tmp_path: Path) -> None:
    src = make_video(tmp_path / "rot.mp4", frames=3, size=(64, 48), rotation=90)
    with VideoFileSource(src) as source:
        assert (source.info.width, source.info.height, source.info.rotation) == (48, 64, 90)
        frames = list(source)
    assert frames[0].image.shape == (64, 48, 3)
    # 90 degrees counter-clockwise: the top row of the stored picture becomes the left column.
    stored = pattern(0, 64, 48)
    assert np.abs(frames[0].image[:, 0].astype(int) - stored[0, ::-1].astype(int)).mean() < 12
    dst = tmp_path / "out.mp4"
    transcode(src, dst)
    with av.open(str(dst)) as c:
        f = next(c.decode(video=0))
        assert (f.width, f.height, f.rotation or 0) == (48, 64, 0)  # written upright


def test_ten_bit_and_odd_sizes(tmp_path: Path) -> None:
    src = make_video(tmp_path / "hi.mkv", frames=3, size=(63, 37), codec="ffv1", pix_fmt="yuv420p10le")
    with VideoFileSource(src) as source:
        assert source.info.pix_fmt == "yuv420p10le"
        frames = list(source)
    assert frames[0].image.shape == (37, 63, 3) and frames[0].image.dtype == np.uint8
    dst = tmp_path / "out.mp4"
    transcode(src, dst)
    with av.open(str(dst)) as c:
        f = next(c.decode(video=0))
        assert (f.width, f.height) == (64, 38)  # padded to even, never cropped


def test_interruption_leaves_a_playable_partial_and_keeps_the_target(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", frames=20, audio=True)
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"an older result the user wants to keep")
    with pytest.raises(RuntimeError, match="boom"), VideoFileSource(src) as source:
        info = source.info
        with VideoFileSink(dst, info.width, info.height, info.time_base, info.rate, audio_from=src) as sink:
            for frame in source:
                sink.write(frame.image, frame.pts)
                if frame.index == 9:
                    raise RuntimeError("boom")
    assert dst.read_bytes() == b"an older result the user wants to keep"
    partial = tmp_path / "out.partial.mp4"
    assert len(video_pts(partial)) == 10


def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="no such file"):
        VideoFileSource(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(InputError, match=r"notes\.mp4"):
        VideoFileSource(text)
    audio_only = tmp_path / "a.m4a"
    with av.open(str(audio_only), "w") as out:
        s = out.add_stream("aac", rate=16000)
        s.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for p in [*s.encode(frame), *s.encode()]:
            out.mux(p)
    with pytest.raises(InputError, match="no video stream"):
        VideoFileSource(audio_only)


def test_truncated_file_yields_what_it_has(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mkv", frames=40, size=(64, 48))
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with VideoFileSource(cut) as source:
        n = sum(1 for _ in source)
    assert 5 < n < 40


def test_corrupt_packet_in_the_middle_is_skipped_and_counted(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mkv", frames=30, size=(64, 48))
    data = bytearray(src.read_bytes())
    with av.open(str(src)) as c:
        packets = [(p.pos, p.size) for p in c.demux(video=0) if p.size]
    pos, size = packets[15]
    data[pos + 4 : pos + size - 4] = bytes(size - 8)  # zero out the payload of one frame
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(bytes(data))
    with VideoFileSource(bad) as source:
        n = sum(1 for _ in source)
        assert source.corrupt_packets >= 1
    assert n >= 28


def _audio_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        end = 0.0
        for frame in c.decode(stream):
            end = max(end, float(frame.time) + frame.samples / frame.sample_rate)
        return end


@pytest.mark.parametrize("container", ["mkv", "mov"])
def test_pcm_audio_reaches_mp4_with_its_duration(tmp_path: Path, container: str) -> None:
    """PCM (as cameras and editors write in MKV and MOV) is resampled and re-encoded to AAC for MP4; MKV and
    MOV outputs take it as it is."""
    src = make_video(tmp_path / f"in.{container}", frames=25, audio="pcm_s16le", size=(64, 48))
    with av.open(str(src)) as c:
        assert c.streams.audio[0].codec_context.name == "pcm_s16le"
    for ext, codec in (("mp4", "aac"), (container, "pcm_s16le")):
        dst = tmp_path / f"out_{container}.{ext}"
        assert transcode(src, dst) == 25
        with av.open(str(dst)) as c:
            assert c.streams.audio[0].codec_context.name == codec
        assert abs(_audio_seconds(dst) - _audio_seconds(src)) < 0.05, ext


def test_audio_cut_with_the_video(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", frames=50, audio=True)  # 2 s of video and audio
    info = VideoFileSource(src).info
    dst = tmp_path / "cut.mp4"
    with (
        VideoFileSource(src) as source,
        VideoFileSink(dst, info.width, info.height, info.time_base, info.rate, audio_from=src, audio_until=1.0) as sink,
    ):
        for frame in source:
            if frame.time is not None and frame.time >= 1.0:
                break
            sink.write(frame.image, frame.pts)
    assert abs(_audio_seconds(dst) - 1.0) < 0.1


def _frames_in(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", ["TERM", "KILL"])
def test_a_killed_run_leaves_a_playable_file(tmp_path: Path, sig: str) -> None:
    """SIGTERM finalises like Ctrl-C (exit 143, a playable partial, the user told where); even SIGKILL leaves a
    playable file of what was encoded, because MP4 output is written in flushed 1 s fragments."""
    import os
    import signal
    import subprocess
    import sys
    import time

    src = make_video(tmp_path / "in.mp4", frames=1500, size=(320, 240), audio=True)
    dst = tmp_path / "out.mp4"
    partial = tmp_path / "out.partial.mp4"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidfsr.cli", "enhance", str(src), str(dst), "--scale", "2", "--detector", "haar"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (not partial.exists() or partial.stat().st_size < 200_000):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM if sig == "TERM" else signal.SIGKILL)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 5
    if sig == "TERM":
        assert proc.returncode == 143, err.decode()
        assert "out.partial.mp4" in err.decode()  # where the work is
    else:
        assert proc.returncode == -signal.SIGKILL
    assert not dst.exists()  # never mistaken for a finished output
    assert 10 < _frames_in(partial) < 1500
    # The next run moves the partial aside instead of overwriting it.
    sink = VideoFileSink(dst, 64, 48, Fraction(1, 25))
    sink.close(complete=False)
    assert (tmp_path / "out.partial.1.mp4").exists() and _frames_in(tmp_path / "out.partial.1.mp4") > 10

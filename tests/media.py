"""Tiny synthetic media written with PyAV at test time (no binary fixtures in the repo)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def pattern(index: int, width: int, height: int) -> np.ndarray:
    """A moving gradient with a frame-number stripe: every frame differs and motion is visible."""
    y, x = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = (x * 255 // max(width - 1, 1) + 7 * index) % 256
    img[..., 1] = (y * 255 // max(height - 1, 1)) % 256
    img[..., 2] = (index * 37) % 256
    return img


def make_video(
    path: str | Path,
    frames: int = 10,
    size: tuple[int, int] = (64, 48),
    rate: Fraction | int = Fraction(25),
    audio: bool | str = False,
    vfr: bool = False,
    rotation: int = 0,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    images: list[np.ndarray] | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Write a clip and return its path.

    Args:
        size: (width, height); odd sizes are allowed for codecs that take them (use ``codec="ffv1"``).
        rate: nominal frame rate as a fraction (30000/1001 stays exact).
        audio: add an audio track covering the video's duration: True for AAC (mono, 16 kHz), or a codec name
            such as ``pcm_s16le`` (stereo, 48 kHz, packed s16: what cameras and editors write in MKV/MOV).
        vfr: irregular frame durations (pts gaps alternate 1x and 3x the nominal period).
        rotation: display-matrix rotation in degrees (90, 180, 270) as phones write it.
        images: BGR frames to encode instead of the generated pattern.
        options: encoder options (``{"qmin": "2", "qmax": "2"}``: FFmpeg's MJPEG at ``-q:v 2``).
    """
    path = Path(path)
    rate = Fraction(rate)
    w, h = size
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        if options:
            vs.codec_context.options = options
        vs.time_base = Fraction(1, 90000) if vfr else 1 / rate
        if rotation:
            vs.set_display_rotation(rotation)
        as_ = None
        audio_codec = audio if isinstance(audio, str) else "aac"
        arate, alayout, afmt = (16000, "mono", "fltp") if audio_codec == "aac" else (48000, "stereo", "s16")
        if audio:
            as_ = out.add_stream(audio_codec, rate=arate)
            as_.codec_context.layout = alayout
            as_.codec_context.format = afmt
        pts = 0
        period = int(90000 / rate) if vfr else 1
        for i in range(frames):
            img = images[i] if images is not None else pattern(i, w, h)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:, :, ::-1]), format="rgb24")
            frame = frame.reformat(format=pix_fmt)
            frame.pts = pts
            pts += period * (3 if vfr and i % 2 else 1)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if as_ is not None:
            # The muxer may have changed the stream's time base by now (mp4: 1/12800): use the one the pts are in.
            seconds = float(pts * (Fraction(1, 90000) if vfr else 1 / rate))
            n = int(seconds * arate)
            t = np.arange(n) / arate
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            if afmt == "s16":  # packed: [1, samples * channels] interleaved
                samples = np.repeat((samples * 32767).astype(np.int16), 2, axis=1)
            step = 1024
            width = 2 if afmt == "s16" else 1
            for start in range(0, n, step):
                chunk = samples[:, start * width : (start + step) * width]
                af = av.AudioFrame.from_ndarray(chunk, format=afmt, layout=alayout)
                af.sample_rate = arate
                af.pts = start
                for packet in as_.encode(af):
                    out.mux(packet)
            for packet in as_.encode():
                out.mux(packet)
    return path

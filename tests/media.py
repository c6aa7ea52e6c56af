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
    audio: bool = False,
    vfr: bool = False,
    rotation: int = 0,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    images: list[np.ndarray] | None = None,
) -> Path:
    """Write a clip and return its path.

    Args:
        size: (width, height); odd sizes are allowed for codecs that take them (use ``codec="ffv1"``).
        rate: nominal frame rate as a fraction (30000/1001 stays exact).
        audio: add an AAC track (mono, 16 kHz) covering the video's duration.
        vfr: irregular frame durations (pts gaps alternate 1x and 3x the nominal period).
        rotation: display-matrix rotation in degrees (90, 180, 270) as phones write it.
        images: BGR frames to encode instead of the generated pattern.
    """
    path = Path(path)
    rate = Fraction(rate)
    w, h = size
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        vs.time_base = Fraction(1, 90000) if vfr else 1 / rate
        if rotation:
            vs.set_display_rotation(rotation)
        as_ = None
        if audio:
            as_ = out.add_stream("aac", rate=16000)
            as_.layout = "mono"
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
            seconds = float(pts * vs.time_base)
            n = int(seconds * 16000)
            t = np.arange(n) / 16000
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            step = 1024
            for start in range(0, n, step):
                af = av.AudioFrame.from_ndarray(samples[:, start : start + step], format="fltp", layout="mono")
                af.sample_rate = 16000
                af.pts = start
                for packet in as_.encode(af):
                    out.mux(packet)
            for packet in as_.encode():
                out.mux(packet)
    return path

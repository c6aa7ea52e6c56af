"""The quality a JPEG (a still, or a frame of an MJPEG video) was saved at, read from its quantisation tables.

A JPEG at quality 95 holds nearly the pixels of a lossless file, one at 50 mostly its blocking: the blend stage's
back-projection shares follow that (``blend.auto_consistency``), so a still is judged by its own tables rather
than by its format. Encoders built on libjpeg (OpenCV, Pillow, ImageMagick, most cameras' firmware and phones'
defaults) scale the JPEG standard's example tables by the IJG quality formula; the estimate is the IJG quality
whose luminance table is nearest to the file's, exact for those encoders and a close equivalent for others.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

# JPEG standard (ITU-T T.81) Annex K.1, the luminance table libjpeg scales by quality.
_STD_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
     14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
     18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    dtype=np.int64,
)  # fmt: skip
_NO_LENGTH = {0xD8, 0xD9, 0x01, *range(0xD0, 0xD8)}  # SOI, EOI, TEM, RSTn carry no length field
_HEADER_BYTES = 1 << 18  # the tables follow EXIF and ICC segments (up to 64 KiB each), not the image data


@cache
def _ijg_tables() -> np.ndarray:
    """[100, 64] sorted luminance tables for IJG qualities 1..100 (baseline: entries clamped to 1..255)."""
    q = np.arange(1, 101)[:, None]
    scale = np.where(q < 50, 5000 // q, 200 - 2 * q)
    return np.sort(np.clip((_STD_LUMA[None] * scale + 50) // 100, 1, 255), axis=1)


def luma_table(data: bytes) -> np.ndarray | None:
    """The first quantisation table (id 0, luminance) of a JPEG's header, or None when there is none."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _NO_LENGTH:
            i += 2
            continue
        if marker == 0xDA:  # start of scan: entropy-coded data follows, no more tables
            return None
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        seg = data[i + 4 : i + 2 + length]
        if marker == 0xDB:
            j = 0
            while j < len(seg):
                precision, table_id = seg[j] >> 4, seg[j] & 15
                size = 128 if precision else 64
                values = seg[j + 1 : j + 1 + size]
                if len(values) < size:
                    return None
                if table_id == 0:
                    return np.frombuffer(values, dtype=">u2" if precision else np.uint8).astype(np.int64)
                j += 1 + size
        i += 2 + length
    return None


def jpeg_quality(data: bytes) -> int | None:
    """The IJG quality (1-100) whose luminance table is nearest the JPEG's; None when ``data`` is no JPEG."""
    table = luma_table(data)
    if table is None:
        return None
    err = np.abs(_ijg_tables() - np.sort(table)[None]).sum(axis=1)
    return int(np.argmin(err)) + 1


def jpeg_file_quality(path: str | Path) -> int | None:
    """``jpeg_quality`` of a file's header; None for other formats or an unreadable file."""
    try:
        with open(path, "rb") as f:
            return jpeg_quality(f.read(_HEADER_BYTES))
    except OSError:
        return None


def mjpeg_file_quality(path: str | Path) -> int | None:
    """``jpeg_quality`` of an MJPEG video file's first frame (each frame is a JPEG with its own tables; encoders
    keep one quality per stream); None when the file holds no readable MJPEG frame."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            for packet in container.demux(video=0):
                if packet.size:
                    return jpeg_quality(bytes(packet))
    except (av.error.FFmpegError, OSError):
        return None
    return None

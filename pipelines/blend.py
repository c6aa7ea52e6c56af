"""Paste enhanced faces back: only the face region of the output frame is touched.

Each face is first made consistent with the input frame (``back_project``: shrunk back to its native pixels it
matches them), then resized to its size in the output frame, its low frequencies are replaced by the original's
(so no colour shift or seam shows: the model adds detail, not a different tone), and it is blended through a
soft mask: a feathered ellipse by default, or the union of the model's own predicted parsing maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .qp import QP_CODECS

# Codecs and still formats that store pixels exactly: no blocking to copy back, so the full step pays.
LOSSLESS_CODECS = frozenset({"ffv1", "rawvideo", "png", "apng", "bmp", "tiff", "ppm", "pgm", "huffyuv", "ffvhuff",
                             "utvideo", "magicyuv", "qtrle", "zlib", "v210", "v410"})  # fmt: skip
LOSSLESS_CONSISTENCY = 1.0
LOSSY_CONSISTENCY = 0.75
# The step at the output's resolution (``project_region_inplace``): lossless only (BENCHMARKS.md, session 12).
LOSSLESS_FRAME_CONSISTENCY = 1.0
LOSSY_FRAME_CONSISTENCY = 0.0
# JPEG between the two by its quality (``pipelines.jpeg``): each share ramps linearly from its lossy value over
# these IJG qualities (BENCHMARKS.md, session 13).
JPEG_CODECS = frozenset({"jpg", "jpeg", "mjpeg"})
JPEG_CONSISTENCY_RAMP = (80, 85)
# The frame step ramps to half: the full one copies the JPEG's own coding noise back, which at 2x shows in the
# output and in video flickers (BENCHMARKS.md, session 13).
JPEG_FRAME_CONSISTENCY_RAMP = (85, 90)
JPEG_FRAME_CONSISTENCY = 0.5
# H.264 (``qp.QP_CODECS``) by its keyframe's mean QP (``pipelines.qp``; lower is finer). Each ramp runs from the QP
# where the lossy share still holds to the QP where the share reaches its end value: the crop share falls to 0.5
# from QP 29 to 33, the frame step rises to half from QP 30 down to 22 (BENCHMARKS.md, session 14).
H264_CONSISTENCY_RAMP = (29.0, 33.0)
H264_CONSISTENCY = 0.5
H264_FRAME_CONSISTENCY_RAMP = (30.0, 22.0)
H264_FRAME_CONSISTENCY = 0.5
# The paste strength: full everywhere but on coarse coding, where it falls to STRENGTH_COARSE over these keyframe
# QPs for H.264 and these qualities for JPEG/MJPEG (``auto_strength``; BENCHMARKS.md, session 24).
STRENGTH = 1.0
STRENGTH_COARSE = 0.7
H264_STRENGTH_RAMP = (30.0, 32.0)
JPEG_STRENGTH_RAMP = (60, 50)


@dataclass(frozen=True)
class BlendConfig:
    """Attributes:
    strength: 0 keeps the original face, 1 shows the enhanced face fully inside the mask. The API picks 1 but on
        coarse coding (``auto_strength``).
    mask: ``ellipse`` (feathered) or ``parsing`` (the model's predicted face components, feathered).
    colour_sigma: low-pass sigma, in face sides, of the colour matching; larger keeps more of the model's
        own tone, smaller forces the original's.
    consistency: share of the back-projection step (``back_project``); 0 pastes the model's output as it is.
        0.75 by measurement for compressed input: 1.0 gained most on lossless faces, 0.5 on starved streams
        (CRF 33), whose blocking the full step copies back; 0.75 was the only share with no clip below bicubic
        on H.264 input (BENCHMARKS.md). The API picks 1.0 for lossless sources and follows a JPEG's quality and
        an H.264 stream's keyframe QP (``auto_consistency``).
    frame_consistency: share of the second back-projection step, at the output's resolution over each face's
        region (``project_region_inplace``), for enhanced faces and for faces left to the resize alike; 0 off.
        The API picks 1.0 for lossless sources, 0 for compressed or unknown ones, and by a JPEG's quality or an
        H.264 stream's keyframe QP between (``auto_frame_consistency``).
    """

    strength: float = 1.0
    mask: str = "ellipse"
    colour_sigma: float = 0.08
    consistency: float = LOSSY_CONSISTENCY
    frame_consistency: float = LOSSY_FRAME_CONSISTENCY


def _ramp(value: float, ramp: tuple[float, float], start: float, end: float) -> float:
    """``start`` at or before ``ramp[0]``, ``end`` at or past ``ramp[1]`` (either direction), linear between."""
    t = min(max((value - ramp[0]) / (ramp[1] - ramp[0]), 0.0), 1.0)
    return start + t * (end - start)


def _share(
    codec: str | None,
    quality: float | None,
    lossless: float,
    lossy: float,
    jpeg: tuple[tuple[float, float], float],
    h264: tuple[tuple[float, float], float],
) -> float:
    """``lossless`` for lossless codecs; for a JPEG of known quality or an H.264 stream of known keyframe QP,
    ``lossy`` ramping linearly to the ``(ramp, end)`` share of ``jpeg`` / ``h264`` over its ramp (``lossless``
    for H.264 at QP 0); ``lossy`` for everything else (compressed or unknown: the safe side)."""
    codec = (codec or "").lower()
    if codec in LOSSLESS_CODECS:
        return lossless
    if quality is not None and codec in JPEG_CODECS:
        return _ramp(quality, jpeg[0], lossy, jpeg[1])
    if quality is not None and codec in QP_CODECS:
        # QP 0 everywhere is x264's lossless mode (-qp 0, -crf 0: the transform bypassed), the pixels exact.
        return lossless if quality <= 0 else _ramp(quality, h264[0], lossy, h264[1])
    return lossy


def auto_consistency(codec: str | None, quality: float | None = None) -> float:
    """The back-projection share for a source coded with ``codec`` (an FFmpeg decoder or still-image format).

    The step copies the input's own pixels back into the face: on lossless input they are the truth, on
    compressed input they carry its blocking. Measured on the real-video benchmark with the shipped model
    (BENCHMARKS.md, session 10): 1.0 against 0.75 gains +0.09 dB at 8x and +0.02 at 4x on lossless input (and
    brings the identity distance at 8x below bicubic's), but loses 0.03 (CRF 23) to 0.06 (CRF 28) at 8x on
    H.264. Unknown sources (in-memory frames, cameras) count as compressed, the safe side. A JPEG whose
    ``quality`` is known (``pipelines.jpeg``) ramps from 0.75 at quality 80 to 1.0 at 85: on JPEG stills of the
    shared clips' faces 0.75 left faces up to 0.5 dB below bicubic at quality 90-95 (4x), where 1.0 has none
    below -0.04, and won on the mean at quality 50-70 (BENCHMARKS.md, session 13). H.264 of known keyframe QP
    (``pipelines.qp``) falls from 0.75 at QP 29 to 0.5 at QP 33: on the real-video clips coded at CRF 33 (QP
    31-37) 0.5 beat 0.75 on 15 of the 18 clip-scales with faces in the model's range, by up to +0.13 dB, and
    lost at most 0.03 (BENCHMARKS.md, session 14).
    """
    return _share(codec, quality, LOSSLESS_CONSISTENCY, LOSSY_CONSISTENCY,
                  (JPEG_CONSISTENCY_RAMP, LOSSLESS_CONSISTENCY), (H264_CONSISTENCY_RAMP, H264_CONSISTENCY))  # fmt: skip


def auto_frame_consistency(codec: str | None, quality: float | None = None) -> float:
    """The share of the output-resolution step (``project_region_inplace``) for a source coded with ``codec``.

    Measured on the real-video benchmark (BENCHMARKS.md, session 12): on lossless input the full step adds +0.07
    dB (8x) and +0.37 dB (4x) in the face boxes on top of the crop-level step; on H.264 (8x, CRF 28) it loses 0.13
    dB at 1.0 and 0.05 at 0.5 (the residual there is the blocking), so compressed and unknown sources get none.
    A JPEG still or MJPEG video of known ``quality`` ramps from none at 85 to half the step at 90 and above
    (BENCHMARKS.md, session 13): on quality 90-95 stills half the step gained as much as the full one at 3-8x
    and left no face below bicubic at 2x, where the full one put two 0.05-0.11 dB below; on quality-94 MJPEG
    clips the full step added 4-6% flicker for +0.03 dB. H.264 of known keyframe QP (``pipelines.qp``) rises
    from none at QP 30 to half the step at QP 22 and finer: on the real-video clips coded at CRF 18-23 (QP
    16-27) half the step lifted 4x from +0.19 / +0.15 dB to +0.30 / +0.21 over bicubic and every clip above it;
    at CRF 28 (QP 26-32) it was even, so the ramp passes through a quarter at QP 26 (BENCHMARKS.md, session 14).
    """
    return _share(codec, quality, LOSSLESS_FRAME_CONSISTENCY, LOSSY_FRAME_CONSISTENCY,
                  (JPEG_FRAME_CONSISTENCY_RAMP, JPEG_FRAME_CONSISTENCY),
                  (H264_FRAME_CONSISTENCY_RAMP, H264_FRAME_CONSISTENCY))  # fmt: skip


def auto_strength(codec: str | None, quality: float | None = None) -> float:
    """The paste strength (``BlendConfig.strength``) for a source coded with ``codec``.

    Where the stream has kept the face's detail the model's whole output pays; where coarse coding has wiped it
    out, part of what the model draws is the blocking it was shown. With the weights trained on upright faces
    (shipped in session 24) the full paste put three clip-conditions below bicubic at H.264 CRF 33-38 (d18 at
    8x, -0.11 dB; d11 at 8x CRF 38, -0.06; hamilton at 4x, -0.02); at 0.7 all three gain and the means hold
    within 0.02 dB (BENCHMARKS.md, session 24). H.264 of known keyframe QP (``pipelines.qp``) falls from 1 at QP
    30 to 0.7 at QP 32 (the benchmark's CRF 28 clips code at QP 26-32, its CRF 33 ones at 31-37); a JPEG still or
    MJPEG video of known quality from 1 at quality 60 to 0.7 at 50; lossless and unknown sources keep 1.
    """
    return _share(codec, quality, STRENGTH, STRENGTH, (JPEG_STRENGTH_RAMP, STRENGTH_COARSE),
                  (H264_STRENGTH_RAMP, STRENGTH_COARSE))  # fmt: skip


def back_project(face: np.ndarray, frame: np.ndarray, crop_xyxy: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """The enhanced crop corrected so that, shrunk back to the crop's native pixels, it equals the input's.

    The models are blind: trained across kernels, noise and compression, they hedge, and on a clean face their
    output drifts from what the frame actually shows (softer, on the real-video benchmark softer than bicubic).
    One step of iterative back-projection (Irani and Peleg, 1991) puts the frame's own evidence back: the
    output is area-shrunk to the crop's side in input pixels, the difference to the input crop is resized back
    with cubic and added. Measured on faces cut from the shared clips with the shipped weights (share 0.75,
    ``benchmarks/back_projection.py``): +0.3 to +1.2 dB over the model alone on lossless faces, +0.04 to +0.16
    at CRF 28, -0.04 to -0.12 at CRF 33 (BENCHMARKS.md). Crops at or above the output size pass as is.
    """
    from .croprule import cut_crop

    size = face.shape[0]
    n = round(float(crop_xyxy[2] - crop_xyxy[0]))
    if strength <= 0 or n < 4 or n >= size:
        return face
    native = cut_crop(frame, crop_xyxy, n).astype(np.float32)
    out = face.astype(np.float32)
    down = cv2.resize(out, (n, n), interpolation=cv2.INTER_AREA)
    out += strength * cv2.resize(native - down, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0, 255).round().astype(np.uint8)


def project_region_inplace(canvas: np.ndarray, frame: np.ndarray, crop_xyxy: np.ndarray, strength: float = 1.0) -> None:
    """One back-projection step at the output's own resolution over a face's region of ``canvas``, in place.

    ``back_project`` makes the 128 px face agree with the input, but the output frame shows that face resized
    to its box and blended over the bicubic frame, and neither step keeps the agreement: shrunk back to the
    input's pixels, the face region of the output still differs from what the frame holds (so does a plain
    bicubic upscale). On lossless input those pixels are the truth, so the difference is put back here, where
    the viewer sees it: the region is area-shrunk to the input grid, the residual resized back with cubic and
    added through the face's feathered ellipse (the background outside it stays bicubic). Measured on the
    real-video benchmark, lossless: +0.07 dB in the face boxes at 8x and +0.37 at 4x on top of the first step,
    +0.40 at 8x on a plain bicubic upscale (BENCHMARKS.md, session 12); on H.264 the residual is the blocking,
    so the API runs it for lossless sources only (``auto_frame_consistency``).
    """
    if strength <= 0:
        return
    h, w = frame.shape[:2]
    oh, ow = canvas.shape[:2]
    fx, fy = ow / w, oh / h
    if fx <= 1 and fy <= 1:
        return
    ix0, iy0 = max(int(np.floor(crop_xyxy[0])), 0), max(int(np.floor(crop_xyxy[1])), 0)
    ix1, iy1 = min(int(np.ceil(crop_xyxy[2])), w), min(int(np.ceil(crop_xyxy[3])), h)
    if ix1 - ix0 < 2 or iy1 - iy0 < 2:
        return
    # The output region that covers exactly these input pixels: the area shrink then averages each pixel's cell.
    ox0, oy0, ox1, oy1 = round(ix0 * fx), round(iy0 * fy), round(ix1 * fx), round(iy1 * fy)
    region = canvas[oy0:oy1, ox0:ox1]
    out = region.astype(np.float32)
    down = cv2.resize(out, (ix1 - ix0, iy1 - iy0), interpolation=cv2.INTER_AREA)
    residual = frame[iy0:iy1, ix0:ix1].astype(np.float32) - down
    up = cv2.resize(residual, (ox1 - ox0, oy1 - oy0), interpolation=cv2.INTER_CUBIC)
    # The same ellipse the paste uses, placed as ``paste_inplace`` places it (a square box, its width's scale).
    box_w = max(float(crop_xyxy[2] - crop_xyxy[0]) * fx, 1.0)
    origin = (float(crop_xyxy[0]) * fx, float(crop_xyxy[1]) * fy)
    mask = _place(ellipse_mask(max(round(box_w), 1)), origin, box_w, (ox0, oy0), (ox1 - ox0, oy1 - oy0))
    region[:] = np.clip(out + (strength * mask)[..., None] * up, 0, 255).round().astype(np.uint8)


def paste_mask(box_xyxy: np.ndarray, shape: tuple[int, ...]) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The canvas pixels ``paste_inplace`` touches for ``box_xyxy`` (x0, y0, x1, y1: floor / ceil of its edges,
    clipped to ``shape``) and the feathered ellipse it pastes through, placed over them; None off the canvas."""
    bounds = _paste_region(box_xyxy, shape)
    if bounds is None:
        return None
    cx0, cy0, cx1, cy1 = bounds
    size_f = max(float(box_xyxy[2] - box_xyxy[0]), 1.0)
    origin = (float(box_xyxy[0]), float(box_xyxy[1]))
    mask = _place(ellipse_mask(max(round(size_f), 1)), origin, size_f, (cx0, cy0), (cx1 - cx0, cy1 - cy0))
    return bounds, mask


def _paste_region(box_xyxy: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The canvas pixels a paste over ``box_xyxy`` (a square of its width from its top-left corner) touches:
    floor / ceil of its edges, clipped to ``shape``; None off the canvas."""
    h, w = shape[:2]
    bx0, by0 = float(box_xyxy[0]), float(box_xyxy[1])
    size_f = max(float(box_xyxy[2] - box_xyxy[0]), 1.0)
    cx0, cy0 = max(int(np.floor(bx0)), 0), max(int(np.floor(by0)), 0)
    cx1, cy1 = min(int(np.ceil(bx0 + size_f)), w), min(int(np.ceil(by0 + size_f)), h)
    return (cx0, cy0, cx1, cy1) if cx1 > cx0 and cy1 > cy0 else None


def _place(
    square: np.ndarray,
    box_origin: tuple[float, float],
    box_side: float,
    region_origin: tuple[int, int],
    region_size: tuple[int, int],
    border: int = cv2.BORDER_CONSTANT,
) -> np.ndarray:
    """``square`` (a face-sized image of side ~``box_side``) sampled on the pixels of a region of the canvas: the
    box sits at its exact sub-pixel origin, so a slowly moving face does not jump a whole pixel at a time."""
    # region pixel (u, v) -> square pixel: a shift by the box's fractional offset and a scale of ~1
    k = square.shape[0] / box_side
    shift_x, shift_y = (region_origin[0] - box_origin[0]) * k, (region_origin[1] - box_origin[1]) * k
    matrix = np.float32([[k, 0, shift_x], [0, k, shift_y]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(square, matrix, region_size, flags=flags, borderMode=border, borderValue=0)


@lru_cache(maxsize=16)
def ellipse_mask(size: int) -> np.ndarray:
    """Feathered ellipse over the face part of a crop (the crop rule frames the face with margins)."""
    mask = np.zeros((size, size), np.float32)
    centre = (size / 2, size * 0.52)
    axes = (size * 0.36, size * 0.44)
    cv2.ellipse(mask, (round(centre[0]), round(centre[1])), (round(axes[0]), round(axes[1])), 0, 0, 360, 1.0, -1)
    sigma = max(size * 0.06, 0.5)
    return cv2.GaussianBlur(mask, (0, 0), sigma)


def low_pass(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass of a float image; large sigmas run on a shrunk copy (same result, a fraction of the cost:
    a direct blur of a 350 px face at sigma 28 took ~8 ms)."""
    h, w = image.shape[:2]
    factor = max(1, int(sigma // 2))
    if factor == 1:
        return cv2.GaussianBlur(image, (0, 0), max(sigma, 0.5))
    small = cv2.resize(image, (max(w // factor, 1), max(h // factor, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _feather(mask: np.ndarray, size: int) -> np.ndarray:
    m = cv2.resize(mask.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    m = cv2.dilate(m, np.ones((3, 3), np.uint8))
    return cv2.GaussianBlur(m, (0, 0), max(size * 0.03, 0.5))


def paste_inplace(
    canvas: np.ndarray,
    face: np.ndarray,
    box_xyxy: np.ndarray,
    config: BlendConfig,
    parsing_mask: np.ndarray | None = None,
    base: np.ndarray | None = None,
) -> None:
    """Blend ``face`` (a square BGR crop) into ``canvas`` over ``box_xyxy`` (canvas pixels), in place.

    Only the rows and columns the box covers (clipped to the canvas) are read and written. The face lands at
    the box's exact sub-pixel position: rounding it made a slowly moving face jump a whole pixel every few
    frames, which flickered more than the model did (BENCHMARKS.md, flicker).

    With ``base`` (the model's input crop), only what the model added is pasted: ``face - base``, resized and
    placed exactly as the face would be, on top of the canvas, which already shows the bicubic frame. The two
    resamplings then cancel: a model that changes nothing leaves the frame byte-for-byte bicubic, so crop-box
    jitter cannot flicker and the face is not resampled twice.
    """
    bounds = _paste_region(box_xyxy, canvas.shape)
    if bounds is None:
        return
    cx0, cy0, cx1, cy1 = bounds
    bx0, by0 = float(box_xyxy[0]), float(box_xyxy[1])
    size_f = max(float(box_xyxy[2] - box_xyxy[0]), 1.0)
    size = max(round(size_f), 1)
    interp = cv2.INTER_AREA if size < face.shape[0] else cv2.INTER_CUBIC
    src = face.astype(np.float32) if base is None else face.astype(np.float32) - base.astype(np.float32)
    sr = cv2.resize(src, (size, size), interpolation=interp)
    parsing = config.mask == "parsing" and parsing_mask is not None
    mask = _feather(parsing_mask, size) if parsing else ellipse_mask(size)
    rw, rh = cx1 - cx0, cy1 - cy0
    sr = _place(sr, (bx0, by0), size_f, (cx0, cy0), (rw, rh), cv2.BORDER_REPLICATE)
    mask = _place(mask, (bx0, by0), size_f, (cx0, cy0), (rw, rh), cv2.BORDER_CONSTANT)
    region = canvas[cy0:cy1, cx0:cx1]
    orig = region.astype(np.float32)
    alpha = (mask * config.strength)[..., None]
    if base is None:
        sr += low_pass(orig, config.colour_sigma * size) - low_pass(sr, config.colour_sigma * size)
        region[:] = np.clip(orig + alpha * (sr - orig), 0, 255).round().astype(np.uint8)
        return
    # The added detail without its own low frequencies: the tone stays the frame's (the colour matching above).
    detail = sr - low_pass(sr, config.colour_sigma * size)
    region[:] = np.clip(orig + alpha * detail, 0, 255).round().astype(np.uint8)

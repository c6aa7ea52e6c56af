"""THE crop rule (DESIGN §3): detector box -> square face crop, shared by data preparation and the pipeline.

The model learns from crops framed like the official FSRNet test crops, so video crops must be framed the same
way. The constants come from running the default detector (YuNet) on the 1,000 official test crops
(``benchmarks/calibrate_crop_rule.py``; numbers in BENCHMARKS.md): the crop side is SIDE_RATIO times the
detector box's mean side, and the crop centre sits CENTRE_SHIFT box sides below the box centre.
"""

from __future__ import annotations

import numpy as np

SIDE_RATIO = 1.446
CENTRE_SHIFT_Y = 0.041
CENTRE_SHIFT_X = 0.0


def crop_boxes(xyxy: np.ndarray) -> np.ndarray:
    """[N,4] detector boxes -> [N,4] square crop boxes (float xyxy, may extend past the frame)."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
    side = 0.5 * (w + h)
    cx = 0.5 * (xyxy[:, 0] + xyxy[:, 2]) + CENTRE_SHIFT_X * side
    cy = 0.5 * (xyxy[:, 1] + xyxy[:, 3]) + CENTRE_SHIFT_Y * side
    half = 0.5 * SIDE_RATIO * side
    return np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)


def snap_to_pixels(crop_xyxy: np.ndarray) -> np.ndarray:
    """Crop boxes moved to whole pixels: integer origin and integer side (nearest).

    The models learned from faces shrunk to a whole number of pixels and cubic-resized back, so the LR pixel
    grid lines up with the crop's edges; a crop at a fractional offset resamples the frame between its pixels
    and the model sees an input it never trained on. Measured on the real-video benchmark with the v2 weights
    (BENCHMARKS.md, session 6): x8 lossless gain over bicubic +0.80 -> +0.97 dB, flicker a little lower. The
    shift is at most half a pixel, well inside the crop rule's own spread.
    """
    b = np.asarray(crop_xyxy, dtype=np.float64).reshape(-1, 4)
    side = np.maximum(np.round(b[:, 2] - b[:, 0]), 1.0)
    x0, y0 = np.round(b[:, 0]), np.round(b[:, 1])
    return np.stack([x0, y0, x0 + side, y0 + side], axis=1)


def crop_affine(box_xyxy: np.ndarray, out_size: int) -> np.ndarray:
    """2x3 affine matrix that maps frame pixels onto an out_size x out_size crop of ``box_xyxy``."""
    x0, y0, x1 = (float(v) for v in box_xyxy[:3])
    s = out_size / (x1 - x0)
    # pixel centres: frame x maps to (x - x0 + 0.5) * s - 0.5
    return np.array([[s, 0.0, (0.5 - x0) * s - 0.5], [0.0, s, (0.5 - y0) * s - 0.5]])


def cut_crop(image: np.ndarray, box_xyxy: np.ndarray, out_size: int) -> np.ndarray:
    """Resample the square ``box_xyxy`` of ``image`` to out_size x out_size (cubic; area first for large faces).

    Parts outside the frame are filled by replicating the border so the model never sees a hard black edge.
    """
    import cv2

    x0, y0, x1, _y1 = (float(v) for v in box_xyxy)
    side = x1 - x0
    if side > 1.25 * out_size:
        # Shrink with an area filter first: warpAffine's point sampling would alias a large face.
        h, w = image.shape[:2]
        factor = side / out_size
        new_w, new_h = max(round(w / factor), 1), max(round(h / factor), 1)
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        sx, sy = new_w / w, new_h / h
        box_xyxy = np.array([x0 * sx, y0 * sy, x0 * sx + side * sx, y0 * sy + side * sx])
        side = side * sx
    matrix = crop_affine(box_xyxy, out_size)
    # Cubic both ways from here: the factor left is within 1.25x, where cubic neither blurs nor aliases.
    return cv2.warpAffine(image, matrix, (out_size, out_size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)

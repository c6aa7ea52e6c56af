"""PIL-exact bicubic resampling (a = -0.5, kernel widened by the factor when shrinking) as small matrices.

The model was trained on LR faces made with this kernel (it matches the official FSRNet test files to ~44.7 dB,
where torch's and OpenCV's bicubic, a = -0.75, reach only ~41 dB), so the pipeline upsamples video crops with
the very same kernel. Lives here, in the ground floor, so both the pipeline and ``models/`` use one copy.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def _cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    x = np.abs(x)
    return np.where(
        x < 1, (a + 2) * x**3 - (a + 3) * x**2 + 1, np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0)
    )


@lru_cache(maxsize=64)
def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] weights of PIL's bicubic resampling along one axis."""
    scale = n_in / n_out
    stretch = max(scale, 1.0)  # antialiasing: widen the kernel when shrinking
    support = 2.0 * stretch
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo, hi = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), n_in)
        taps = _cubic((np.arange(lo, hi) - centre + 0.5) / stretch)
        weights[i, lo:hi] = taps / taps.sum()
    return weights


def resize_bicubic(images: np.ndarray, size: int) -> np.ndarray:
    """[B,H,W,C] uint8 square images -> [B,size,size,C] uint8 with the training kernel (rounded, clipped)."""
    h, w = images.shape[1:3]
    rows = resize_matrix(h, size).astype(np.float32)
    cols = resize_matrix(w, size).astype(np.float32)
    x = images.astype(np.float32)
    out = np.einsum("ij,bjkc,lk->bilc", rows, x, cols, optimize=True)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)

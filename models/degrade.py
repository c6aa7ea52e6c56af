"""LR synthesis that reproduces the official test degradation: antialiased bicubic 128 -> 128/f -> 128.

The official LR files were made with PIL-style bicubic (a = -0.5, kernel widened by the factor when shrinking).
torch's own antialiased bicubic uses a = -0.75 and matches them only to ~41 dB, so the resampling here is
PIL's kernel written as two small matrices per size pair, applied as batched matmuls (fast, exact, any device).
Measured: degrading celeba1000/HR by x8 matches the official LR_x8 files to ~44.7 dB (a test checks >= 40 dB).
Training and evaluation use this same function, so validation numbers match what the test files measure.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import Tensor


def _cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    x = np.abs(x)
    return np.where(
        x < 1, (a + 2) * x**3 - (a + 3) * x**2 + 1, np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0)
    )


@lru_cache(maxsize=32)
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


def resize(img: Tensor, size: tuple[int, int]) -> Tensor:
    """PIL-exact bicubic resize of [..., H, W] float images (no clamping, no rounding)."""
    h, w = img.shape[-2:]
    rows = torch.from_numpy(resize_matrix(h, size[0])).to(img)
    cols = torch.from_numpy(resize_matrix(w, size[1])).to(img)
    return rows @ img @ cols.T


def _to_uint8_levels(x: Tensor) -> Tensor:
    return (x.clamp(0, 1) * 255).round() / 255


def degrade(hr: Tensor, scale: int) -> Tensor:
    """[B,3,H,W] float in [0,1] -> the LR face bicubic-upsampled back to HxW, quantised to uint8 levels.

    Both steps are quantised as the official files (8-bit images) were, so the network never sees LR detail
    finer than a real 8-bit frame holds.
    """
    h, w = hr.shape[-2:]
    lr = _to_uint8_levels(resize(hr.float(), (h // scale, w // scale)))
    return _to_uint8_levels(resize(lr, (h, w)))


def upsample_lr(lr: Tensor, size: tuple[int, int]) -> Tensor:
    """The model input from a real LR face: bicubic up to ``size`` (the same kernel as training)."""
    return _to_uint8_levels(resize(lr.float(), size))

"""LR synthesis that reproduces the official test degradation: antialiased bicubic 128 -> 128/f -> 128.

The official LR files were made with PIL-style bicubic (a = -0.5, kernel widened by the factor when shrinking).
torch's own antialiased bicubic uses a = -0.75 and matches them only to ~41 dB, so the resampling here is
PIL's kernel (``vidfsr.pipelines.resample``) as two small matrices per size pair, applied as batched matmuls.
Measured: degrading celeba1000/HR by x8 matches the official LR_x8 files to ~44.7 dB (a test checks >= 40 dB).
Training and evaluation use this same function, so validation numbers match what the test files measure.
"""

from __future__ import annotations

import torch
from torch import Tensor
from vidfsr.pipelines.resample import resize_matrix


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

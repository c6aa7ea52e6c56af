"""Facial priors rendered from 68 landmarks: Gaussian heatmaps and face-component parsing maps.

Data preparation stores only landmarks (small, exact); the targets are rendered here, on the fly for heatmaps
and once per dataset load for parsing label maps, so changing sigma or the classes needs no re-preparation.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

# Parsing classes, in the order of the model's parsing channels. Left/right brows and eyes share a class so a
# horizontal flip (a training augmentation) does not change which channel a pixel belongs to.
PARSING_CLASSES = ("skin", "brows", "eyes", "nose", "upper_lip", "inner_mouth", "lower_lip")

# iBUG 68-point index of each point's mirror image, for horizontal flips.
FLIP_68 = np.array(
    list(range(16, -1, -1))  # jaw
    + list(range(26, 16, -1))  # brows
    + [27, 28, 29, 30]  # nose bridge
    + [35, 34, 33, 32, 31]  # nostrils
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]  # eyes
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lips
    + [64, 63, 62, 61, 60, 67, 66, 65]  # inner lips
)


def _brow_polygon(pts: np.ndarray, thickness: float) -> np.ndarray:
    """A band under the brow's landmark line (landmarks trace the brow's upper edge)."""
    return np.concatenate([pts, pts[::-1] + np.array([0.0, thickness])])


def parsing_labels(landmarks: np.ndarray, size: int = 128) -> np.ndarray:
    """[68,2] landmarks in pixels -> uint8 label map [size,size]: 0 background, k+1 for PARSING_CLASSES[k].

    Later components are drawn over earlier ones, which keeps the classes disjoint.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    labels = np.zeros((size, size), np.uint8)
    face_h = np.linalg.norm(lm[8] - lm[27]) + 1e-6
    shift = 8  # sub-pixel precision for cv2.fillPoly

    def fill(poly: np.ndarray, cls: int) -> None:
        pts = np.round(poly * (1 << shift)).astype(np.int32)
        cv2.fillPoly(labels, [pts], cls, lineType=cv2.LINE_8, shift=shift)

    brow_lift = 0.12 * face_h  # landmarks stop at the brows; the skin reaches a little above them
    top = np.concatenate([lm[26:21:-1], lm[21:16:-1]]) - np.array([0.0, brow_lift])
    fill(np.concatenate([lm[0:17], top]), 1)
    brow_thick = 0.06 * face_h
    fill(_brow_polygon(lm[17:22], brow_thick), 2)
    fill(_brow_polygon(lm[22:27], brow_thick), 2)
    fill(lm[36:42], 3)
    fill(lm[42:48], 3)
    fill(cv2.convexHull(lm[27:36].astype(np.float32))[:, 0].astype(np.float64), 4)
    fill(np.concatenate([lm[48:55], lm[64:59:-1]]), 5)
    fill(np.concatenate([lm[54:60], lm[48:49], lm[60:61], lm[67:63:-1]]), 7)
    fill(lm[60:68], 6)
    return labels


def parsing_maps(labels: Tensor, out_size: int) -> Tensor:
    """uint8 label maps [B,S,S] -> soft one-hot maps [B,C,out,out] (area-averaged, background dropped)."""
    onehot = torch.nn.functional.one_hot(labels.long(), len(PARSING_CLASSES) + 1)[..., 1:]
    maps = onehot.permute(0, 3, 1, 2).float()
    factor = labels.shape[-1] // out_size
    return torch.nn.functional.avg_pool2d(maps, factor) if factor > 1 else maps


def heatmaps(landmarks: Tensor, out_size: int, in_size: int = 128, sigma: float = 1.0) -> Tensor:
    """[B,68,2] landmarks in in_size pixels -> Gaussian heatmaps [B,68,out,out] peaking at 1 (sigma in out px)."""
    scale = out_size / in_size
    coords = (landmarks.float() * scale) - 0.5 * (1 - scale)  # pixel-centre alignment between the two grids
    grid = torch.arange(out_size, dtype=torch.float32, device=landmarks.device)
    gx = torch.exp(-((grid - coords[..., 0:1]) ** 2) / (2 * sigma**2))
    gy = torch.exp(-((grid - coords[..., 1:2]) ** 2) / (2 * sigma**2))
    return gy.unsqueeze(-1) * gx.unsqueeze(-2)


def heatmap_peaks(maps: Tensor, in_size: int = 128) -> Tensor:
    """Inverse of :func:`heatmaps`: [B,L,S,S] -> [B,L,2] landmark positions in in_size pixels (argmax)."""
    s = maps.shape[-1]
    idx = maps.flatten(2).argmax(-1)
    xy = torch.stack([idx % s, idx // s], dim=-1).float()
    scale = s / in_size
    return (xy + 0.5 * (1 - scale)) / scale

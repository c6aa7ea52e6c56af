"""Heatmaps and parsing maps rendered from landmarks."""

from __future__ import annotations

import numpy as np
import torch
from vidfsr.models.priors import FLIP_68, PARSING_CLASSES, heatmap_peaks, heatmaps, parsing_labels, parsing_maps


def synthetic_landmarks() -> np.ndarray:
    """A plausible frontal 68-point layout in a 128 px crop (mean-shape-like)."""
    lm = np.zeros((68, 2))
    t = np.linspace(np.pi * 0.05, np.pi * 0.95, 17)
    lm[0:17] = np.stack([64 - 40 * np.cos(t), 60 + 45 * np.sin(t)], 1)
    lm[17:22] = np.stack([np.linspace(34, 56, 5), [45, 42, 41, 42, 44]], 1)
    lm[22:27] = np.stack([np.linspace(72, 94, 5), [44, 42, 41, 42, 45]], 1)
    lm[27:31] = np.stack([[64] * 4, np.linspace(52, 72, 4)], 1)
    lm[31:36] = np.stack([np.linspace(56, 72, 5), [76, 78, 79, 78, 76]], 1)
    for base, cx in ((36, 45), (42, 83)):
        ang = np.linspace(np.pi, -np.pi, 7)[:6]
        lm[base : base + 6] = np.stack([cx + 8 * np.cos(ang), 54 - 3 * np.sin(ang)], 1)
    ang = np.linspace(np.pi, -np.pi, 13)[:12]
    lm[48:60] = np.stack([64 + 16 * np.cos(ang), 92 - 6 * np.sin(ang)], 1)
    ang = np.linspace(np.pi, -np.pi, 9)[:8]
    lm[60:68] = np.stack([64 + 10 * np.cos(ang), 92 - 2 * np.sin(ang)], 1)
    return lm


def test_parsing_classes_are_disjoint_and_plausible() -> None:
    lm = synthetic_landmarks()
    labels = parsing_labels(lm)
    counts = np.bincount(labels.ravel(), minlength=len(PARSING_CLASSES) + 1)
    assert all(counts[1:] > 0), dict(zip(("bg", *PARSING_CLASSES), counts, strict=True))
    assert counts[1] > max(counts[2:])  # skin is the largest component
    ys = {c: np.nonzero(labels == i + 1)[0].mean() for i, c in enumerate(PARSING_CLASSES)}
    assert ys["brows"] < ys["eyes"] < ys["nose"] < ys["upper_lip"] < ys["lower_lip"]
    maps = parsing_maps(torch.from_numpy(labels)[None], 64)
    assert maps.shape == (1, len(PARSING_CLASSES), 64, 64)
    assert float(maps.sum(1).max()) <= 1.0 + 1e-6  # one class per pixel at most


def test_heatmaps_peak_at_landmarks() -> None:
    lm = torch.from_numpy(synthetic_landmarks()).float()[None]
    maps = heatmaps(lm, 64)
    assert maps.shape == (1, 68, 64, 64) and float(maps.max()) <= 1.0
    assert torch.allclose(heatmap_peaks(maps), lm, atol=1.5)


def test_flip_permutation_maps_left_to_right() -> None:
    lm = synthetic_landmarks()
    flipped = lm[FLIP_68].copy()
    flipped[:, 0] = 127 - flipped[:, 0]
    assert np.abs(flipped - lm).max() < 2.0  # the synthetic face is symmetric
    assert (FLIP_68[FLIP_68] == np.arange(68)).all()

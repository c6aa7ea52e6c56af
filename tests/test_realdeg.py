"""The real-world degradation: its ranges, its seeding, and that H.264 and JPEG are really applied."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from vidfsr.models.metrics import psnr_y
from vidfsr.models.realdeg import RealDegradation, RealDegradationConfig, downscale, h264_roundtrip


@pytest.fixture(scope="module")
def hr(shared: Path) -> np.ndarray:
    return np.stack([cv2.imread(str(p)) for p in sorted((shared / "data/faces/test/celeba1000/HR").glob("*.jpg"))[:8]])


def test_sizes_kernels_and_compression_cover_their_ranges(hr: np.ndarray) -> None:
    deg = RealDegradation(seed=3)
    sides = [deg.draw_side() for _ in range(4000)]
    assert min(sides) == 12 and max(sides) == 64
    assert np.mean(np.array(sides) < 24) > 0.35  # log-uniform: small faces get their share
    kinds: Counter = Counter()
    kernels: Counter = Counter()
    for _ in range(30):
        ups, info = deg.degrade_batch(hr[:4])
        assert ups.shape == (4, 128, 128, 3) and ups.dtype == np.uint8
        for d in info:
            assert 12 <= d.lr_side <= 64 and 0 <= d.noise <= 8
            kinds[d.compression.split(":")[0]] += 1
            kernels[d.kernel] += 1
    assert set(kinds) == {"h264", "jpeg", "none"} and kinds["h264"] > kinds["jpeg"]
    assert set(kernels) == {"area", "bicubic", "bilinear", "gaussian"}
    with pytest.raises(ValueError, match="lr_sides"):
        RealDegradationConfig(lr_sides=(2, 300))


def test_same_seed_same_batches_and_state_round_trip(hr: np.ndarray) -> None:
    a, b, c = RealDegradation(seed=7), RealDegradation(seed=7), RealDegradation(seed=8)
    first = [a.degrade_batch(hr)[0] for _ in range(3)]
    assert all(np.array_equal(x, b.degrade_batch(hr)[0]) for x in first)
    assert not np.array_equal(first[0], c.degrade_batch(hr)[0])
    state = a.get_state()
    nxt = a.degrade_batch(hr)
    a.set_state(state)
    again = a.degrade_batch(hr)
    assert np.array_equal(nxt[0], again[0]) and nxt[1] == again[1]


def test_h264_is_really_applied(hr: np.ndarray) -> None:
    """libx264 at a high CRF destroys more than at a low one, in 16 px macroblocks, and never returns the input."""
    faces = [np.clip(downscale(f, 40, "area"), 0, 255).round().astype(np.uint8) for f in hr]
    rng = np.random.default_rng(0)
    errors = {}
    for crf in (18, 40):
        out, kind = h264_roundtrip(faces, crf, "medium", rng)
        assert kind in ("I", "P") and all(o.shape == f.shape for o, f in zip(out, faces, strict=True))
        errors[crf] = np.mean([psnr_y(o[..., ::-1], f[..., ::-1]) for o, f in zip(out, faces, strict=True)])
    assert 30 < errors[18] < 60 and errors[40] < errors[18] - 5, errors
    ups, info = RealDegradation(
        RealDegradationConfig(h264_prob=1.0, jpeg_prob=0.0, crf=(40, 40)), seed=1
    ).degrade_batch(hr)
    assert all(d.compression.startswith("h264:40:") for d in info)
    clean, _ = RealDegradation(
        RealDegradationConfig(h264_prob=0.0, jpeg_prob=0.0, noise_prob=0.0), seed=1
    ).degrade_batch(hr)
    assert not np.array_equal(ups, clean)


def test_kernels_differ_and_model_input_is_cubic(hr: np.ndarray) -> None:
    outs = {k: downscale(hr[0], 20, k, 1.0) for k in ("area", "bicubic", "bilinear", "gaussian")}
    assert all(o.shape == (20, 20, 3) for o in outs.values())
    names = list(outs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert np.abs(outs[a] - outs[b]).mean() > 0.3, (a, b)

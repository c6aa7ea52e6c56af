"""Cost of the training degradations per batch of 14 faces (what a training step must wait for).

    python benchmarks/degradation_cost.py [--batches 30]

Times ``TrainBatches.batch`` (augmentation, priors, degradation) with the paper's bicubic degradation and with
the real-world one, and the real-world one's H.264 and JPEG steps alone, on real prepared-size faces.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from vidfsr.models.realdeg import RealDegradation, RealDegradationConfig

from vidfsr.shared import shared_dir


def timed(fn, n: int) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--out", default="benchmarks/results/degradation_cost.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    files = sorted((shared_dir() / "data/faces/test/celeba1000/HR").glob("*.jpg"))[:14]
    hr = np.stack([cv2.imread(str(p)) for p in files])
    hr_t = torch.from_numpy(hr[..., ::-1].copy()).permute(0, 3, 1, 2).float() / 255
    from vidfsr.models.degrade import degrade

    variants = {
        "real-world (mix)": RealDegradation(seed=0),
        "real-world, kernels + noise only": RealDegradation(RealDegradationConfig(h264_prob=0, jpeg_prob=0), seed=0),
        "real-world, always JPEG": RealDegradation(RealDegradationConfig(h264_prob=0, jpeg_prob=1), seed=0),
        "real-world, always H.264": RealDegradation(RealDegradationConfig(h264_prob=1, jpeg_prob=0), seed=0),
    }
    rows = {"paper (bicubic x8)": timed(lambda: degrade(hr_t, 8), args.batches)}
    for name, deg in variants.items():
        rows[name] = timed(lambda d=deg: d.degrade_batch(hr), args.batches)
    print("| degradation | ms per batch of 14 | ms per face |\n|---|---|---|")
    for name, ms in rows.items():
        print(f"| {name} | {ms:.1f} | {ms / 14:.2f} |")
    Path(args.out).write_text(json.dumps({"batch": 14, "ms_per_batch": rows, "threads": 1}, indent=1))


if __name__ == "__main__":
    main()

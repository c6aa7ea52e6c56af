"""Does a multi-frame model use its earlier frames? Test-time ablation on the real-world burst validation set.

    python benchmarks/multi_frame_ablation.py --checkpoint checkpoints/lite_real_k3/last.pt [--faces 200]

Scores the K-frame model on 3-frame bursts (seed 2026) with its real earlier frames and with them replaced by
copies of the current frame, beside the single-frame model on the current frames, and prints each frame's input
weight norm: equal scores and near-zero weights mean the earlier frames are ignored.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from vidfsr.models.evaluate import real_burst_eval_set, score, super_resolve
from vidfsr.models.io import load_model
from vidfsr.models.train import export_checkpoint

from vidfsr.shared import shared_dir


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default="checkpoints/lite_real_k3/last.pt")
    ap.add_argument("--single", default="fsrnet_lite_real")
    ap.add_argument("--faces", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        multi = load_model(export_checkpoint(args.checkpoint, Path(tmp) / "k.safetensors"))
    single = load_model(args.single)
    k = multi.cfg.frames
    w = multi.coarse[0].weight.detach()
    norms = [round(float(w[:, 3 * i : 3 * i + 3].norm()), 4) for i in range(k)]
    print("input weight norm per frame (t, t-1, ...):", norms)
    data = real_burst_eval_set(shared_dir() / "data/faces/test/celeba1000/HR", k, args.faces)
    copies = np.concatenate([data.baseline] * k, axis=-1)
    print(f"cubic: {score(data.baseline, data.hr)[0].mean():.4f} dB")
    for name, x, model in (("multi-frame, real earlier frames", data.lr_up, multi),
                           ("multi-frame, earlier frames = copies of t", copies, multi),
                           ("single-frame on t", data.baseline, single)):  # fmt: skip
        print(f"{name}: {score(super_resolve(model, x, 16)[0], data.hr)[0].mean():.4f} dB")


if __name__ == "__main__":
    main()

"""How much does back-projection add to a model's output, by face size, compression and step share?

    python benchmarks/back_projection.py --weights fsrnet_lite_real --hr data/video_faces [--sides 20 36 52]

Each 128 px HR face (default: faces cut from the shared clips by ``benchmarks/video_faces.py``) is area-shrunk to
``side`` px (what the real-video benchmark and camera scalers do), optionally through libx264 at a CRF
(``realdeg.h264_roundtrip``, faces tiled into one frame), cut back to 128 with cubic and super-resolved; then one
back-projection step (``pipelines.blend.back_project`` on the face placed in a frame of its own) at each share.
Y-PSNR at 128 px against the HR face, as gains over the cubic input. Writes benchmarks/results/back_projection.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch
from vidfsr.models.evaluate import super_resolve
from vidfsr.models.io import load_model
from vidfsr.models.metrics import psnr_y
from vidfsr.models.realdeg import downscale, h264_roundtrip, upsample
from vidfsr.pipelines.blend import back_project


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="fsrnet_lite_real")
    ap.add_argument("--hr", default="data/video_faces")
    ap.add_argument("--faces", type=int, default=0, help="first N faces (0: all)")
    ap.add_argument("--sides", type=int, nargs="+", default=[20, 36, 52])
    ap.add_argument("--codecs", nargs="+", default=["lossless", "23", "28", "33"])
    ap.add_argument("--shares", type=float, nargs="+", default=[0.5, 0.75, 1.0])
    ap.add_argument("--out", default="benchmarks/results/back_projection.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    files = sorted(p for p in Path(args.hr).iterdir() if p.suffix.lower() in (".jpg", ".png"))
    files = files[: args.faces] if args.faces else files
    hr = np.stack([cv2.resize(cv2.imread(str(p)), (128, 128), interpolation=cv2.INTER_AREA) for p in files])
    model = load_model(args.weights)
    rng = np.random.default_rng(0)
    rows = []
    print(f"{len(hr)} faces from {args.hr}; gains over cubic in dB (Y-PSNR at 128 px)")
    print("| side | input | cubic dB | model | " + " | ".join(f"model + step {s:g}" for s in args.shares) + " |")
    print("|---" * (4 + len(args.shares)) + "|")
    for side in args.sides:
        for codec in args.codecs:
            lrs = [np.clip(downscale(h, side, "area"), 0, 255).round().astype(np.uint8) for h in hr]
            if codec != "lossless":
                lrs, _ = h264_roundtrip(lrs, int(codec), "medium", rng, order="bgr")
            lr_up = np.stack([upsample(lr) for lr in lrs])
            sr_rgb, _ = super_resolve(model, np.ascontiguousarray(lr_up[..., ::-1]))
            sr = np.ascontiguousarray(sr_rgb[..., ::-1])

            def score(images: np.ndarray | list[np.ndarray]) -> float:
                return float(np.mean([psnr_y(a[..., ::-1], b[..., ::-1]) for a, b in zip(images, hr, strict=True)]))

            box = np.array([0.0, 0.0, float(side), float(side)])
            cubic = score(lr_up)
            gains = {s: score([back_project(f, lr, box, s) for f, lr in zip(sr, lrs, strict=True)]) - cubic
                     for s in args.shares}  # fmt: skip
            row = {"side": side, "codec": codec, "cubic": cubic, "model": score(sr) - cubic, "steps": gains}
            rows.append(row)
            cells = [str(side), codec, f"{cubic:.2f}", f"{row['model']:+.2f}", *(f"{g:+.2f}" for g in gains.values())]
            print("| " + " | ".join(cells) + " |", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "faces": len(hr), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

"""Does a model keep the face where it is? Output PSNR against the HR face at sub-pixel shifts, per kernel.

    python benchmarks/alignment.py --weights fsrnet_lite_real [--faces 60] [--hr DIR] [--sides 24 46]

Each HR face is downscaled to ``side`` px with each training kernel (`vidfsr.models.realdeg.downscale`, lossless)
and cut back to 128 with cubic, as the pipeline does; the model's output is then scored against the HR face
after shifting it diagonally by -1 ... +1 px (128 px grid, border excluded). A model whose best shift is not 0
moves the face; a best shift that differs by kernel means its training pairs did not line up (the gaussian
kernel's corner sampling did, before it was fixed) and the model blurs between the positions it learned.
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
from vidfsr.models.realdeg import downscale, upsample

from vidfsr.shared import shared_dir

SHIFTS = (-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0)


def shifted(image: np.ndarray, d: float) -> np.ndarray:
    m = np.float32([[1, 0, d], [0, 1, d]])
    return cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def psnr_at(images: np.ndarray, hr: np.ndarray, d: float) -> float:
    return float(np.mean([psnr_y(shifted(a, d)[8:-8, 8:-8], b[8:-8, 8:-8]) for a, b in zip(images, hr, strict=True)]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", nargs="+", default=["fsrnet_lite_real"])
    ap.add_argument("--hr", default=str(shared_dir() / "data/faces/test/celeba1000/HR"))
    ap.add_argument("--faces", type=int, default=60)
    ap.add_argument("--sides", type=int, nargs="+", default=[24, 46])
    ap.add_argument("--kernels", nargs="+", default=["area", "bicubic", "bilinear", "gaussian"])
    ap.add_argument("--sigma", type=float, default=0.6, help="gaussian kernel sigma, LR px")
    ap.add_argument("--out", default="benchmarks/results/alignment.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    files = sorted(p for p in Path(args.hr).iterdir() if p.suffix.lower() in (".jpg", ".png"))[: args.faces]
    hr = np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in files])
    models = {w: load_model(w) for w in args.weights}
    rows = []
    print("| weights | side | kernel | cubic dB | model dB at 0 | best shift (px) | model dB there |")
    print("|---|---|---|---|---|---|---|")
    for side in args.sides:
        for kernel in args.kernels:
            lr = [
                np.clip(upsample(downscale(h, side, kernel, args.sigma)), 0, 255).round().astype(np.uint8) for h in hr
            ]
            lr_up = np.stack(lr)
            cubic = psnr_at(lr_up, hr, 0.0)
            for name, model in models.items():
                sr, _ = super_resolve(model, lr_up)
                grid = {d: psnr_at(sr, hr, d) for d in SHIFTS}
                best = max(grid, key=grid.get)
                rows.append({"weights": name, "side": side, "kernel": kernel, "cubic": cubic, "model": grid[0.0],
                             "best_shift": best, "best": grid[best], "grid": grid})  # fmt: skip
                cells = [name, side, kernel, f"{cubic:.2f}", f"{grid[0.0]:.2f}", f"{best:+.2f}", f"{grid[best]:.2f}"]
                print("| " + " | ".join(map(str, cells)) + " |", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

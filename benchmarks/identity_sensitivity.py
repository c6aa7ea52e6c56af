"""What dlib's identity distance responds to in an SR face: fine detail, chip alignment, or the coarse structure.

    python benchmarks/identity_sensitivity.py [--limit 300] [--weights fsrnet_lite_real]

On the first ``--limit`` official celeba1000 test faces (LR_x8, 16 px), the model's output is changed in one way
at a time and scored against the HR face: blurred (its fine detail removed), aligned by the HR face's own
landmarks instead of its own (the chip dlib embeds), and given bicubic's band below a Gaussian of sigma 3 px (its
coarse structure replaced). Motivated the choice of FSRGAN terms (BENCHMARKS.md, "FSRGAN that ships").
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
from vidfsr.models.evaluate import load_eval_set, score, super_resolve
from vidfsr.models.face_metrics import FaceAnalyser, crop_face_box, face_metrics
from vidfsr.models.io import load_model

from vidfsr.shared import shared_dir


def blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([cv2.GaussianBlur(i, (0, 0), sigma) for i in x.astype(np.float32)])


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0, 255).round().astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--weights", default="fsrnet_lite_real")
    args = ap.parse_args()
    test = shared_dir() / "data/faces/test/celeba1000"
    data = load_eval_set(test / "HR", 8, test / "LR_x8", args.limit)
    analyser = FaceAnalyser()
    sr = super_resolve(load_model(args.weights), data.lr_up, 16)[0]
    bic = data.baseline
    variants = {
        "bicubic": bic,
        args.weights: sr,
        "blurred, sigma 1.2 px": to_uint8(blur(sr, 1.2)),
        "bicubic's band below sigma 3 px": to_uint8(sr - blur(sr, 3) + blur(bic, 3)),
    }
    print("| output | Y-PSNR | landmark NRMSE | identity distance |")
    print("|---|---|---|---|")
    for name, out in variants.items():
        psnr, _ = score(out, data.hr)
        nrmse, ident = face_metrics(analyser, out, data.hr)
        print(f"| {name} | {psnr.mean():.2f} | {nrmse.mean():.4f} | {ident.mean():.4f} |", flush=True)
    # The same output embedded on the chip the HR face's landmarks give (alignment taken out of the distance).
    box, dist = crop_face_box(128), []
    for a, b in zip(sr, data.hr, strict=True):
        shape = analyser.predictor(np.ascontiguousarray(b), analyser._rect(box))
        ea, eb = (np.array(analyser.encoder.compute_face_descriptor(np.ascontiguousarray(x), shape)) for x in (a, b))
        dist.append(np.linalg.norm(ea - eb))
    print(f"| {args.weights}, aligned by the HR landmarks | | | {np.mean(dist):.4f} |")


if __name__ == "__main__":
    main()

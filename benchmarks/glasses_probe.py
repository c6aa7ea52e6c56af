"""What a model makes of thin eyeglass frames: validation faces given synthetic frames, shrunk, enhanced.

    python benchmarks/glasses_probe.py --weights vidfsr/weights/fsrnet_lite_real.safetensors runs/new.safetensors

The prepared validation split (faces never trained on) wears frames drawn by ``vidfsr.models.glasses`` (seeded
per face), is area-shrunk to a random side of 20-48 px (the 8x clips' crops) and brought back to 128 with
OpenCV's cubic filter, as the pipeline feeds the model. Scored in the eye band (brows to the nose bridge, where
the frames are) and on the whole face, Y-PSNR, against the face with frames: the raw model output, and after
the pipeline's lossless back-projection step (``vidfsr.models.evaluate.back_projected``, share 1). In its raw
output the shipped model left thin light frames out of some faces altogether (BENCHMARKS.md, session 17).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from vidfsr.models.dataset_format import load_prepared
from vidfsr.models.evaluate import back_projected, super_resolve
from vidfsr.models.glasses import draw_glasses
from vidfsr.models.io import load_model
from vidfsr.models.metrics import psnr_y

SIDES = (20, 48)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", nargs="+", required=True)
    ap.add_argument("--data", default="data/faces128")
    ap.add_argument("--limit", type=int, default=0, help="validation faces (0: all)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", default="benchmarks/results/glasses_probe.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    faces = load_prepared(args.data, "val", args.limit)
    models = {Path(w).stem: load_model(w).eval() for w in args.weights}
    started = time.perf_counter()
    hr, up, bands, sides = [], [], [], []
    for i, (image, lm) in enumerate(zip(faces.images, faces.landmarks.astype(np.float64), strict=True)):
        rng = np.random.default_rng([args.seed, i])
        worn = draw_glasses(image, lm, rng)
        side = int(rng.integers(SIDES[0], SIDES[1] + 1))
        small = cv2.resize(worn, (side, side), interpolation=cv2.INTER_AREA)
        hr.append(worn)
        up.append(cv2.resize(small, (128, 128), interpolation=cv2.INTER_CUBIC))
        top = max(int(lm[17:27, 1].min()) - 4, 0)
        bands.append((top, min(int(np.ceil(lm[29, 1])), 128)))
        sides.append(side)
    lr_up, truth = np.stack(up), np.stack(hr)
    outputs = {"cubic": (lr_up, back_projected(lr_up, lr_up, np.array(sides)))}
    for name, model in models.items():
        raw, _ = super_resolve(model, lr_up)
        outputs[name] = (raw, back_projected(raw, lr_up, np.array(sides)))
    table = {}
    for name, (raw, pasted) in outputs.items():
        row = {}
        for label, images in (("raw", raw), ("pasted", pasted)):
            band = [psnr_y(o[a:b], t[a:b]) for o, t, (a, b) in zip(images, truth, bands, strict=True)]
            whole = [psnr_y(o, t) for o, t in zip(images, truth, strict=True)]
            row[label] = {"eye_band": float(np.mean(band)), "face": float(np.mean(whole))}
        table[name] = row
    print(f"{len(truth)} validation faces with synthetic frames, LR {SIDES[0]}-{SIDES[1]} px, Y-PSNR dB "
          f"({time.perf_counter() - started:.0f} s)")  # fmt: skip
    print("| method | eye band, raw | eye band, after the step | face, raw | face, after the step |")
    print("|---|---|---|---|---|")
    for name, row in table.items():
        print(f"| {name} | {row['raw']['eye_band']:.2f} | {row['pasted']['eye_band']:.2f} | "
              f"{row['raw']['face']:.2f} | {row['pasted']['face']:.2f} |")  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"command": "python benchmarks/glasses_probe.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(v) if isinstance(v, list) else v}" for k, v in vars(args).items()),
        "faces": len(truth), "lr_sides": list(SIDES), "table": table}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

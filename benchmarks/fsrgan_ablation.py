"""Which FSRGAN term moves the face metrics: weights side by side on the paper's test faces, raw and after one
back-projection step (what ``vidfsr enhance`` applies to every model's output on a lossless source).

    python benchmarks/fsrgan_ablation.py W1.safetensors [W2 ...] [--limit 300] [--out results.json]

Set: the first ``--limit`` celeba1000 HR crops with the official LR_x8 files (16 px faces). Metrics: Y-PSNR and
dlib's landmark NRMSE and identity distance (``vidfsr eval --face-metrics``), means over the faces.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vidfsr.models.evaluate import back_projected, load_eval_set, score, super_resolve
from vidfsr.models.face_metrics import FaceAnalyser, face_metrics
from vidfsr.models.io import load_model

from vidfsr.shared import shared_dir


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", nargs="+")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    test = shared_dir() / "data/faces/test/celeba1000"
    data = load_eval_set(test / "HR", 8, test / "LR_x8", args.limit)
    analyser = FaceAnalyser()
    rows = {}
    print("| weights | Y-PSNR | NRMSE | identity | + back-projection: Y-PSNR | NRMSE | identity |")
    print("|---|---|---|---|---|---|---|")
    for w in ["bicubic", *args.weights]:
        sr = data.baseline if w == "bicubic" else super_resolve(load_model(w), data.lr_up, 16)[0]
        row = []
        for out in (sr, back_projected(sr, data.lr_up, 16)):
            psnr, _ = score(out, data.hr)
            nrmse, ident = face_metrics(analyser, out, data.hr)
            row += [float(psnr.mean()), float(nrmse.mean()), float(ident.mean())]
        rows[w] = row
        print(f"| {w} | " + " | ".join(f"{v:.4f}" for v in row) + " |", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"faces": len(data.hr), "columns": "psnr nrmse identity, raw then "
                                              "back-projected", "rows": rows}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

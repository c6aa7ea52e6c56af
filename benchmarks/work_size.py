"""Does a large face gain from running the 128 px-trained model on a 256 px input? (lossless, no pipeline)

    python benchmarks/work_size.py [--weights fsrnet_lite_real] [--frames 3] [--out results.json]

The network is fully convolutional, so it runs on a 256x256 input as it does on 128x128; the pipeline cuts every
face to 128 px, and at 8x a face whose crop is 48-80 px in the small frame is then shown 3-5 times larger than the
model's output. Here, on the shared clips' faces (YuNet on the original frames, the crop rule's box, first
``--frames`` frames): the HR face is the crop area-shrunk to 256 px, the input the crop area-shrunk to a native
side N, and three outputs at 256 px are scored in Y-PSNR against the HR face, each after the lossless
back-projection steps ``vidfsr enhance`` applies (at the model's output size, then at the output size):

- cubic: N -> 256 cubic, one step (what the frame step makes of a face no model serves);
- model at 128 (the pipeline today): N -> 128 cubic, the model, a step, cubic to 256, a step;
- model at 256: N -> 256 cubic, the model, a step.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_video as rv
from vidfsr.models.io import load_model
from vidfsr.models.metrics import psnr_y
from vidfsr.pipelines.croprule import crop_boxes

SIDES = (32, 40, 48, 64, 80)


def step(out: np.ndarray, lr: np.ndarray) -> np.ndarray:
    """One full back-projection step (as ``pipelines.blend``): area down to the input, cubic residual back up."""
    n = lr.shape[0]
    down = cv2.resize(out, (n, n), interpolation=cv2.INTER_AREA).astype(np.float32)
    up = cv2.resize(lr.astype(np.float32) - down, out.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    return np.clip(out.astype(np.float32) + up, 0, 255).round().astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="fsrnet_lite_real")
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/work_size.json")
    args = ap.parse_args()
    rv.set_cpu_threads()
    loaded = load_model(args.weights)
    model = (loaded[0] if isinstance(loaded, tuple) else loaded).eval()

    def run(img: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1])).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            y = model(x).image.clamp(0, 1)[0]
        return (y.permute(1, 2, 0).numpy()[:, :, ::-1] * 255).round().astype(np.uint8)

    rows = []
    for clip in rv.clips():
        frames = rv.read_frames(clip, args.frames)
        for t, faces in enumerate(rv.truth_faces(frames, 80)):
            for _, det in faces:
                x0, y0, x1, y1 = crop_boxes(det[None])[0].round().astype(int)
                if x0 < 0 or y0 < 0 or x1 > frames[t].shape[1] or y1 > frames[t].shape[0] or x1 - x0 < 256:
                    continue  # the HR face must be the frame's own pixels, at least 256 of them
                crop = frames[t][y0:y1, x0:x1]
                hr = cv2.resize(crop, (256, 256), interpolation=cv2.INTER_AREA)
                for side in SIDES:
                    lr = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
                    cubic = cv2.resize(lr, (256, 256), interpolation=cv2.INTER_CUBIC)
                    at128 = step(run(cv2.resize(lr, (128, 128), interpolation=cv2.INTER_CUBIC)), lr)
                    at128 = step(cv2.resize(at128, (256, 256), interpolation=cv2.INTER_CUBIC), lr)
                    at256 = step(run(cubic), lr)
                    rows.append({"clip": clip.stem, "frame": t, "side": side, "cubic": psnr_y(step(cubic, lr), hr),
                                 "model_128": psnr_y(at128, hr), "model_256": psnr_y(at256, hr)})  # fmt: skip
        print(f"{clip.stem}: {len(rows)} faces x sides", flush=True)
    print("\nY-PSNR at 256 px (dB): cubic, and each model path's gain over it (mean over faces; clips won)")
    print("| native side | faces | cubic + step | model at 128 | model at 256 | 256 minus 128, clips won |")
    print("|---|---|---|---|---|---|")
    summary = {}
    for side in SIDES:
        sel = [r for r in rows if r["side"] == side]
        c, a, b = (np.array([r[k] for r in sel]) for k in ("cubic", "model_128", "model_256"))
        per_clip = {}
        for r in sel:
            per_clip.setdefault(r["clip"], []).append(r["model_256"] - r["model_128"])
        won = sum(np.mean(v) > 0 for v in per_clip.values())
        summary[side] = {"faces": len(sel), "cubic": float(c.mean()), "gain_128": float((a - c).mean()),
                         "gain_256": float((b - c).mean()), "clips_256_better": int(won),
                         "clips": len(per_clip)}  # fmt: skip
        print(f"| {side} | {len(sel)} | {c.mean():.2f} | {(a - c).mean():+.2f} | {(b - c).mean():+.2f} | "
              f"{(b - a).mean():+.2f}, {won}/{len(per_clip)} |")  # fmt: skip
    Path(args.out).write_text(json.dumps({"weights": args.weights, "summary": summary, "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

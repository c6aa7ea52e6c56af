"""How much a face model with a 128 px output can add on the real-video benchmark, and what the frame step adds.

    python benchmarks/output_ceiling.py [--scale 8] [--frames 12]

The clips, faces and 8x area shrink of ``benchmarks/real_video.py`` (lossless). Per clip, inside the true face
boxes, Y-PSNR against the original of:

- ``bicubic``: the small frame resized with cubic (what any player shows);
- ``bicubic + frame step``: the same with ``pipelines.blend.project_region_inplace`` over each face's crop box
  (one back-projection step at the output's resolution, as ``vidfsr enhance`` runs it on lossless sources for
  faces left to the resize);
- ``perfect 128`` / ``perfect 256``: the true face region shrunk so that its crop (the crop rule's 1.446 face
  sides) is 128 (256) px, then resized back with cubic. No 128 px-output model can beat ``perfect 128`` in
  this region, however good; what it may add over bicubic is this column's gain at most.

The crop sides printed are the pipeline's native crops (input px): at 8x the shared clips' faces give 37-79 px
crops, so the model's 128 px output is itself resized 2-5x to the face's size in the output.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import cv2
import numpy as np
from real_video import clips, read_frames, region, truth_faces
from vidfsr.models.metrics import psnr_y
from vidfsr.pipelines.blend import project_region_inplace
from vidfsr.pipelines.croprule import SIDE_RATIO, crop_boxes, snap_to_pixels

from vidfsr.shared import shared_dir


def perfect(truth_region: np.ndarray, crop_side_out: float, output_side: int) -> np.ndarray:
    """The truth as a model with an ``output_side`` px output could give it at best, at the region's size."""
    f = output_side / crop_side_out
    if f >= 1:
        return truth_region
    h, w = truth_region.shape[:2]
    small = cv2.resize(truth_region, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=int, default=8)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--out", default="benchmarks/results/output_ceiling.json")
    args = ap.parse_args()
    os.environ.setdefault("VIDFSR_MODEL_DIR", str(shared_dir() / "models"))  # YuNet, offline
    scale, rows = args.scale, {}
    for clip in clips():
        original = read_frames(clip, args.frames)
        h, w = original[0].shape[:2]
        h2, w2 = h - h % (2 * scale), w - w % (2 * scale)
        truth = [f[:h2, :w2] for f in original]
        faces = truth_faces(truth, min_side=10 * scale)
        if not any(faces):
            continue
        small = [cv2.resize(f, (w2 // scale, h2 // scale), interpolation=cv2.INTER_AREA) for f in truth]
        cols: dict[str, list[float]] = {"crop": [], "bicubic": [], "frame_step": [], "perfect128": [], "perfect256": []}
        for t, boxes in enumerate(faces):
            if not boxes:
                continue
            bic = cv2.resize(small[t], (w2, h2), interpolation=cv2.INTER_CUBIC)
            stepped = bic.copy()
            crops = snap_to_pixels(crop_boxes(np.array([b for _, b in boxes]) / scale))
            for crop in crops:
                project_region_inplace(stepped, small[t], crop, 1.0)
            for _, box in boxes:
                sl = region(box, truth[t].shape)
                g = truth[t][sl]
                side = 0.5 * float(box[2] - box[0] + box[3] - box[1])
                crop_out = side * SIDE_RATIO

                def score(img: np.ndarray, g: np.ndarray = g) -> float:
                    return psnr_y(img[..., ::-1], g[..., ::-1])

                cols["crop"].append(crop_out / scale)
                cols["bicubic"].append(score(bic[sl]))
                cols["frame_step"].append(score(stepped[sl]))
                # A perfect region equal to the truth has no finite PSNR: cap it where it would not matter.
                cols["perfect128"].append(min(score(perfect(g, crop_out, 128)), 60.0))
                cols["perfect256"].append(min(score(perfect(g, crop_out, 256)), 60.0))
        rows[clip.stem] = {k: float(np.mean(v)) for k, v in cols.items()}
        r = rows[clip.stem]
        print(f"{clip.stem:28s} crop {r['crop']:3.0f} px  bicubic {r['bicubic']:.2f}  frame step "
              f"{r['frame_step'] - r['bicubic']:+.2f}  perfect 128 {r['perfect128'] - r['bicubic']:+.2f}  "
              f"perfect 256 {r['perfect256'] - r['bicubic']:+.2f}", flush=True)  # fmt: skip
    gains = {k: [r[k] - r["bicubic"] for r in rows.values()] for k in ("frame_step", "perfect128", "perfect256")}
    summary = {"scale": scale, "frames": args.frames, "per_clip": rows,
               "mean_gain": {k: float(np.mean(v)) for k, v in gains.items()},
               "worst_gain": {k: float(np.min(v)) for k, v in gains.items()}}  # fmt: skip
    print("mean gain over bicubic: " + "  ".join(f"{k} {v:+.2f}" for k, v in summary["mean_gain"].items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

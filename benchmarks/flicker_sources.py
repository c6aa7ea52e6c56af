"""Where vidfsr's flicker on real video comes from, per frame transition, on one shared clip shrunk 8x.

    python benchmarks/flicker_sources.py [--clip d18] [--scale 8] [--frames 12]

For each frame transition inside the true face boxes: bicubic's flicker (the change of its error against the
original), vidfsr's, the change of vidfsr's added detail (vidfsr - bicubic, "d detail"), that detail's size,
and how much the small input itself changed. Runs vidfsr with temporal 0 and 0.5, in fp32 and bf16, so the
model's own sensitivity, the smoothing and the CPU's bf16 rounding can be told apart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_video as rv

from vidfsr.api import set_cpu_threads
from vidfsr.shared import shared_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default="d18")
    ap.add_argument("--scale", type=int, default=8)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--out", default="benchmarks/results/flicker_sources.json")
    args = ap.parse_args()
    os.environ.setdefault("VIDFSR_MODEL_DIR", str(shared_dir() / "models"))
    set_cpu_threads()
    clip = next(c for c in rv.clips() if args.clip in c.name)
    s = args.scale
    original = rv.read_frames(clip, args.frames)
    h, w = original[0].shape[:2]
    truth = [f[: h - h % (2 * s), : w - w % (2 * s)] for f in original]
    h2, w2 = truth[0].shape[:2]
    faces = rv.truth_faces(truth, min_side=10 * s)
    small = [cv2.resize(f, (w2 // s, h2 // s), interpolation=cv2.INTER_AREA) for f in truth]
    bic = [cv2.resize(f, (w2, h2), interpolation=cv2.INTER_CUBIC) for f in small]
    luma = rv._luma
    results = {"clip": clip.name, "scale": s, "frames": args.frames, "runs": {}}
    print(f"{clip.name}, x{s} lossless, {args.frames} frames; mean over transitions (grey levels)")
    print("| run | flicker bicubic | flicker vidfsr | d detail | detail | d input |")
    print("|---|---|---|---|---|---|")
    for temporal, precision in ((0.0, "fp32"), (0.5, "fp32"), (0.0, "bf16"), (0.5, "bf16")):
        out = rv.run_vidfsr(small, s, (), False, temporal, precision=precision)
        rows = []
        for t in range(1, len(truth)):
            for _fid, box in faces[t]:
                sl = rv.region(box, truth[t].shape)
                tb, pb = luma(truth[t][sl]), luma(truth[t - 1][sl])
                eb = luma(bic[t][sl]) - tb - (luma(bic[t - 1][sl]) - pb)
                ev = luma(out[t][sl]) - tb - (luma(out[t - 1][sl]) - pb)
                d_now = luma(out[t][sl]) - luma(bic[t][sl])
                d_prev = luma(out[t - 1][sl]) - luma(bic[t - 1][sl])
                d_in = np.abs(luma(small[t]) - luma(small[t - 1])).mean()
                rows.append([np.abs(eb).mean(), np.abs(ev).mean(), np.abs(d_now - d_prev).mean(),
                             np.abs(d_now).mean(), d_in])  # fmt: skip
        m = np.mean(rows, axis=0)
        name = f"temporal {temporal:g}, {precision}"
        results["runs"][name] = dict(zip(["flicker_bicubic", "flicker_vidfsr", "d_detail", "detail", "d_input"],
                                         [round(float(v), 3) for v in m], strict=True))  # fmt: skip
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in m) + " |")
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""How much of H.264's loss could a face's neighbouring frames undo? The ceiling of multi-frame input (issue 12).

    python benchmarks/temporal_fusion_headroom.py [--scale 8] [--crfs 23 28 33] [--frames 12]

Video SR fuses a face's aligned neighbours because one frame's quantisation destroys detail that the others
kept. Before training a model for it, this measures what the frames hold: each shared clip is shrunk 8x (area)
and coded with libx264 as the real-video benchmark codes it, and the current small frame is fused with its one
or two predecessors: plainly averaged, averaged after DIS optical-flow alignment, and averaged with per-pixel
weights that trust an aligned neighbour only where it agrees with the current frame. Y-PSNR against the
uncompressed small frame inside the true face boxes (from frame 2 on). If no fusion comes near the clean frame,
a multi-frame model has little to gain on such input, whatever its architecture.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import real_video as rv  # the benchmark's clips, shrinking and H.264
from vidfsr.models.metrics import psnr_y

METHODS = ("current", "mean 2", "mean 3", "aligned 2", "aligned 3", "aligned 3 weighted")


def warp_to(src: np.ndarray, dst_gray: np.ndarray, src_gray: np.ndarray, dis) -> np.ndarray:
    """``src`` moved onto the current frame by dense optical flow (each current pixel fetched from src)."""
    flow = dis.calc(dst_gray, src_gray, None)
    h, w = dst_gray.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(src, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def agreement(x: np.ndarray, cur: np.ndarray, tol: float = 4.0) -> np.ndarray:
    d = np.abs(cv2.GaussianBlur(x - cur, (0, 0), 1.0)).mean(axis=2, keepdims=True)
    return np.exp(-((d / tol) ** 2))


def fused(low: list[np.ndarray], t: int, dis) -> dict[str, np.ndarray]:
    f = low[t].astype(np.float32)
    gray = [cv2.cvtColor(low[k], cv2.COLOR_BGR2GRAY) for k in (t, t - 1, t - 2)]
    w1 = warp_to(low[t - 1].astype(np.float32), gray[0], gray[1], dis)
    w2 = warp_to(low[t - 2].astype(np.float32), gray[0], gray[2], dis)
    a1, a2 = agreement(w1, f), agreement(w2, f)
    return {
        "current": f, "mean 2": (f + low[t - 1]) / 2, "mean 3": (f + low[t - 1] + low[t - 2]) / 3,
        "aligned 2": (f + w1) / 2, "aligned 3": (f + w1 + w2) / 3,
        "aligned 3 weighted": (f + a1 * w1 + a2 * w2) / (1 + a1 + a2),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=8)
    ap.add_argument("--crfs", type=int, nargs="+", default=[23, 28, 33])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--out", default="benchmarks/results/temporal_fusion_headroom.json")
    args = ap.parse_args()
    sc = args.scale
    table: dict[str, dict[str, dict[str, float]]] = {}
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    for clip in rv.clips():
        original = rv.read_frames(clip, args.frames)
        h, w = original[0].shape[:2]
        h2, w2 = h - h % (2 * sc), w - w % (2 * sc)
        truth = [f[:h2, :w2] for f in original]
        faces = rv.truth_faces(truth, min_side=10 * sc)
        if not any(faces):
            continue
        clean = [cv2.resize(f, (w2 // sc, h2 // sc), interpolation=cv2.INTER_AREA) for f in truth]
        for crf in args.crfs:
            low = rv.h264(clean, crf)[0]
            scores: dict[str, list[float]] = {m: [] for m in METHODS}
            for t in range(2, len(low)):
                candidates = fused(low, t, dis)
                for _, box in faces[t]:
                    sl = rv.region(box / sc, clean[t].shape)
                    g = clean[t][sl][..., ::-1]
                    for m, c in candidates.items():
                        scores[m].append(psnr_y(np.clip(c, 0, 255).round().astype(np.uint8)[sl][..., ::-1], g))
            table.setdefault(f"CRF {crf}", {})[clip.stem] = {m: float(np.mean(v)) for m, v in scores.items()}
        print(clip.stem, "done", flush=True)
    print(f"\nx{sc}, Y-PSNR (dB) of the small face against the uncompressed one, mean over clips (best clip gain):")
    print("| input | " + " | ".join(METHODS) + " |")
    print("|---|" + "---|" * len(METHODS))
    summary = {}
    for cond, clips in table.items():
        means = {m: float(np.mean([c[m] for c in clips.values()])) for m in METHODS}
        best = {m: float(max(c[m] - c["current"] for c in clips.values())) for m in METHODS}
        summary[cond] = {"mean": means, "best_clip_gain": best, "clips": len(clips)}
        cells = [f"{means[m]:.2f}" + ("" if m == "current" else f" ({best[m]:+.2f})") for m in METHODS]
        print(f"| {cond} | " + " | ".join(cells) + " |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "summary": summary, "per_clip": table}, indent=1))


if __name__ == "__main__":
    main()

"""What carrying a face from frame to frame buys, as a post-process of the pipeline's outputs (the probe behind
``pipelines.steady``; BENCHMARKS.md, session 15).

    python benchmarks/recursion_probe.py [--scale 8] [--codec lossless|CRF] [--weights 0.8] [--steady S]
        [--temporal T] [--projection 1.0] [--ibp 2] [--out results.json]

The shared talking heads (first 12 frames) are shrunk and coded as ``real_video.py`` does and run through the
pipeline with ``--steady S --temporal T`` (defaults: the pipeline's). Over a region around the faces, each
output variant is then scored against the truth in the true face boxes (Y-PSNR gain over bicubic, flicker):

- ``detail W``: the added detail (output minus bicubic) carried along DIS flow between consecutive outputs and
  averaged in with weight W where the outputs, blurred to the input's pixel size, agree; then ``--projection``
  of a back-projection step onto the current small frame (W 0: the projection step alone);
- ``whole W``: the same with the whole output carried (what ``pipelines.steady`` ships);
- ``ibp K``: no recursion; three back-projection iterations onto the current small frame and the K before it,
  each warped onto the current frame by DIS flow (multi-frame back-projection).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_video as rv
from vidfsr.models.metrics import psnr_y

GATE = 4.0  # grey levels, as pipelines.steady.TOLERANCE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, default=8)
    ap.add_argument("--codec", default="lossless", help="lossless or an H.264 CRF")
    ap.add_argument("--weights", type=float, nargs="+", default=[0.8], help="recursion weights W")
    ap.add_argument("--steady", type=float, default=None, help="the pipeline's --steady (default: its default)")
    ap.add_argument("--temporal", type=float, default=None, help="the pipeline's --temporal (default: its default)")
    ap.add_argument("--projection", type=float, default=1.0, help="share of the step after the recursion")
    ap.add_argument("--ibp", type=int, default=0, help="also multi-frame back-projection from K previous frames")
    ap.add_argument("--out", default="benchmarks/results/recursion_probe.json")
    args = ap.parse_args()
    rv.set_cpu_threads()
    scale = args.scale
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # a(p) ~ b(p + flow(p))
        grey = [cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY) for x in (a, b)]
        return dis.calc(grey[0], grey[1], None)

    def warp(x: np.ndarray, f: np.ndarray) -> np.ndarray:
        gx, gy = np.meshgrid(np.arange(f.shape[1], dtype=np.float32), np.arange(f.shape[0], dtype=np.float32))
        return cv2.remap(x, gx + f[..., 0], gy + f[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def down(x: np.ndarray) -> np.ndarray:
        return cv2.resize(x, (x.shape[1] // scale, x.shape[0] // scale), interpolation=cv2.INTER_AREA)

    def up(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return cv2.resize(x, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)

    def gate(prev: np.ndarray, cur: np.ndarray, weight: float) -> np.ndarray:
        blur = cv2.GaussianBlur(prev - cur, (0, 0), scale)
        return weight * np.exp(-((np.abs(blur).mean(axis=2, keepdims=True) / GATE) ** 2))

    def recursion(v: list, b: list, low: list, weight: float, whole: bool) -> list:
        out, carried = [v[0]], v[0] if whole else v[0] - b[0]
        for t in range(1, len(v)):
            f = flow(v[t], v[t - 1])
            share = gate(warp(v[t - 1], f), v[t], weight)
            own = v[t] if whole else v[t] - b[t]
            carried = own + share * (warp(carried, f) - own)
            o = carried if whole else b[t] + carried
            o = o + args.projection * up(low[t] - down(o), o.shape)
            if whole:
                carried = o
            out.append(o)
        return out

    def ibp(v: list, low: list, k: int) -> list:
        out = [v[0]]
        for t in range(1, len(v)):
            past = list(range(max(0, t - k), t))
            fs = [(flow(v[s], v[t]), flow(v[t], v[s])) for s in past]  # s onto t, t onto s
            x = v[t].copy()
            for _ in range(3):
                corr = up(low[t] - down(x), x.shape)
                for s, (st, ts) in zip(past, fs, strict=True):
                    corr += warp(up(low[s] - down(warp(x, st)), x.shape), ts)
                x = x + corr / (1 + len(past))
            out.append(x)
        return out

    gains: dict[str, dict[str, list[float]]] = {}
    flicker: dict[str, dict[str, list[float]]] = {}
    for clip in rv.clips():
        if "hamilton" in clip.stem:
            continue
        original = rv.read_frames(clip, 12)
        h, w = original[0].shape[:2]
        h2, w2 = h - h % (2 * scale), w - w % (2 * scale)
        truth = [f[:h2, :w2] for f in original]
        faces = rv.truth_faces(truth, min_side=10 * scale)
        small = [cv2.resize(f, (w2 // scale, h2 // scale), interpolation=cv2.INTER_AREA) for f in truth]
        if args.codec == "lossless":
            low, quality, source = small, None, "rawvideo"
        else:
            (low, quality), source = rv.h264(small, int(args.codec)), "h264"
        vid = rv.run_vidfsr(low, scale, (), False, args.temporal, source_codec=source, source_quality=quality,
                            steady=args.steady)  # fmt: skip
        boxes = np.array([b for fr in faces for _, b in fr])
        if not len(boxes):
            continue
        m = 0.4 * (boxes[:, 2] - boxes[:, 0]).max()
        x0 = max(int(boxes[:, 0].min() - m) // scale * scale, 0)
        y0 = max(int(boxes[:, 1].min() - m) // scale * scale, 0)
        x1 = min(int(np.ceil((boxes[:, 2].max() + m) / scale)) * scale, w2)
        y1 = min(int(np.ceil((boxes[:, 3].max() + m) / scale)) * scale, h2)
        lows = [f[y0 // scale : y1 // scale, x0 // scale : x1 // scale].astype(np.float32) for f in low]
        bic = [up(f, (y1 - y0, x1 - x0)) for f in lows]
        v = [f[y0:y1, x0:x1].astype(np.float32) for f in vid]
        g = [f[y0:y1, x0:x1] for f in truth]
        outs = {"bicubic": bic, "pipeline": v}
        for weight in args.weights:
            outs[f"detail {weight:g}"] = recursion(v, bic, lows, weight, whole=False)
            outs[f"whole {weight:g}"] = recursion(v, bic, lows, weight, whole=True)
        if args.ibp:
            outs[f"ibp {args.ibp}"] = ibp(v, lows, args.ibp)
        for t in range(len(v)):
            before = dict(faces[t - 1]) if t else {}
            for fid, box in faces[t]:
                sl = rv.region(box - np.array([x0, y0, x0, y0]), g[t].shape)
                for name, o in outs.items():
                    img = np.clip(o[t], 0, 255).round().astype(np.uint8)
                    score = psnr_y(img[sl][..., ::-1], g[t][sl][..., ::-1])
                    gains.setdefault(clip.stem, {}).setdefault(name, []).append(score)
                    if fid in before:
                        prev = np.clip(o[t - 1], 0, 255).round().astype(np.uint8)
                        err = rv._luma(img[sl]) - rv._luma(g[t][sl])
                        perr = rv._luma(prev[sl]) - rv._luma(g[t - 1][sl])
                        flicker.setdefault(clip.stem, {}).setdefault(name, []).append(float(np.abs(err - perr).mean()))
        row = gains[clip.stem]
        print(clip.stem, {k: round(float(np.mean(x) - np.mean(row["bicubic"])), 2) for k, x in row.items()}, flush=True)
    summary = {}
    for name in outs:
        per = {c: float(np.mean(r[name]) - np.mean(r["bicubic"])) for c, r in gains.items()}
        summary[name] = {"gain_db": float(np.mean(list(per.values()))), "worst_db": min(per.values()),
                         "flicker": float(np.mean([np.mean(f[name]) for f in flicker.values()])),
                         "per_clip": per}  # fmt: skip
    print(f"\nx{scale} {args.codec}: Y-PSNR gain over bicubic, mean over clips (worst) / flicker")
    for name, s in summary.items():
        print(f"  {name:12s} {s['gain_db']:+.2f} ({s['worst_db']:+.2f}) / {s['flicker']:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"command": " ".join(sys.argv), "summary": summary}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

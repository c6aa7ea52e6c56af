"""How the face moves inside the pipeline's crops from one frame to the next, on the shared clips shrunk 8x.

    python benchmarks/crop_motion.py [--scale 8] [--frames 12] [--codec lossless]

The bursts of the stability term (``vidfsr train --stability-weight``, ``--burst-motion video``) should move a
face as the pipeline's crops of real video move, not as a random walk does. This runs ``vidfsr enhance``'s
crops stage (YuNet, the tracker, the crop rule, whole-pixel boxes) on each clip of the real-video benchmark and
measures, per track and frame transition, the shift of the crop's content by phase correlation, in the small
frame's pixels. Prints percentiles and writes ``benchmarks/results/crop_motion.json``.
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
import vidfsr.pipelines.runner as runner_module


def crops_of(low: list[np.ndarray], scale: int) -> list[tuple[int, int, float, np.ndarray]]:
    """(frame, track id, crop side in small-frame px, crop [128,128,3]) for every face the pipeline enhanced."""
    seen: list[tuple[int, int, float, np.ndarray]] = []
    make_batch = runner_module.make_batch

    def recording(frame, faces, *args, **kwargs):
        batch = make_batch(frame, faces, *args, **kwargs)
        for k in range(len(batch)):
            side = float(batch.crop_xyxy[k][2] - batch.crop_xyxy[k][0])
            seen.append((int(batch.frame_index), int(batch.track_id[k]), side, np.array(batch.crops[k])))
        return batch

    runner_module.make_batch = recording
    try:
        rv.run_vidfsr(low, scale, (), force=True, temporal=None)
    finally:
        runner_module.make_batch = make_batch
    return seen


def shifts(seen: list[tuple[int, int, float, np.ndarray]]) -> list[float]:
    """Content shift between consecutive crops of each track, in small-frame pixels."""
    by_key = {(f, t): (side, crop) for f, t, side, crop in seen}
    window = cv2.createHanningWindow((128, 128), cv2.CV_64F)
    out = []
    for (f, t), (side, crop) in sorted(by_key.items()):
        if (f - 1, t) not in by_key:
            continue
        a = cv2.cvtColor(by_key[(f - 1, t)][1], cv2.COLOR_BGR2GRAY).astype(np.float64)
        b = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float64)
        (dx, dy), _ = cv2.phaseCorrelate(a, b, window)
        out.append(float(np.hypot(dx, dy)) * side / 128)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=8)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--codec", default="lossless", help="lossless or an x264 CRF")
    ap.add_argument("--out", default="benchmarks/results/crop_motion.json")
    args = ap.parse_args()
    rv.set_cpu_threads()
    per_clip, every = {}, []
    for clip in rv.clips():
        frames, sc = rv.read_frames(clip, args.frames), args.scale
        h, w = frames[0].shape[:2]
        h2, w2 = h - h % (2 * sc), w - w % (2 * sc)  # as the real-video benchmark shrinks them
        low = [cv2.resize(f[:h2, :w2], (w2 // sc, h2 // sc), interpolation=cv2.INTER_AREA) for f in frames]
        if args.codec != "lossless":
            low = rv.h264(low, int(args.codec))[0]
        s = shifts(crops_of(low, args.scale))
        per_clip[clip.stem] = s
        every += s
        if s:
            print(f"{clip.stem}: {len(s)} transitions, median {np.median(s):.2f}, mean {np.mean(s):.2f} px")
    v = np.array(every)
    pct = {p: float(np.percentile(v, p)) for p in (10, 25, 50, 75, 90, 95)}
    summary = {"transitions": len(v), "mean": float(v.mean()), "percentiles": pct,
               "share_over_0.5": float(np.mean(v > 0.5)),
               "share_0.8_to_1.7": float(np.mean((v > 0.8) & (v < 1.7)))}  # fmt: skip
    print(
        f"\nall: {len(v)} transitions, shift in small-frame px: mean {v.mean():.2f}, "
        + ", ".join(f"p{p} {x:.2f}" for p, x in pct.items())
        + f"; over 0.5 px: {summary['share_over_0.5']:.0%}, 0.8-1.7 px: {summary['share_0.8_to_1.7']:.0%}"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "summary": summary, "per_clip": per_clip}, indent=1))


if __name__ == "__main__":
    main()

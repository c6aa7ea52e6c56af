"""What the recursion's flow precision costs at 2x: ``vidfsr enhance --scale 2`` on one clip, timed per stage, with
the flow found on the full output region below an input pixel of ``--shrink-from`` output pixels and on 2x-shrunk
copies from it (2: the input's own resolution at 2x). Each value sets both ``steady.FLOW_SHRINK_FROM`` (faces the
frame step anchors) and ``steady.WEAK_FLOW_SHRINK_FROM`` (faces a step of a quarter or less anchors: coarsely
coded sources); ``default`` leaves both as shipped (4 and 2 since session 18).

    ffmpeg -i ../shared/data/videos/talking_head/liveportrait_source_s18.mp4 -frames:v 48 -c:v libx264 -crf 20 \
        /tmp/s18_720.mp4
    python benchmarks/steady_flow_cost.py /tmp/s18_720.mp4 --rounds 2
    python benchmarks/steady_flow_cost.py /tmp/s18_720_crf32.mp4 --shrink-from 4 default  # a coarsely coded copy

Runs alternate between the settings (each a fresh pipeline in this process); the blend stage's wall time is the
runner's own account (``RunSummary.stage_seconds``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from vidfsr.pipelines import steady

from vidfsr.api import enhance_video


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("--scale", type=float, default=2.0)
    ap.add_argument("--shrink-from", nargs="+", default=["4", "2"], help="input pixel sizes, or 'default'")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/steady_flow_cost.json")
    args = ap.parse_args()
    runs: list[dict] = []
    shipped = steady.FLOW_SHRINK_FROM, steady.WEAK_FLOW_SHRINK_FROM
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for value in args.shrink_from:
                steady.FLOW_SHRINK_FROM, steady.WEAK_FLOW_SHRINK_FROM = (
                    shipped if value == "default" else (float(value), float(value))
                )
                started = time.perf_counter()
                summary = enhance_video(args.video, Path(tmp) / "out.mp4", scale=args.scale)
                wall = time.perf_counter() - started
                stages = {k: round(v, 2) for k, v in summary["stage_seconds"].items()}
                runs.append({"round": r, "shrink_from": value, "wall_s": round(wall, 2), "stages_s": stages})
                print(f"round {r} shrink from {value} px: wall {wall:.2f} s, blend {stages['blend']:.2f} s, "
                      f"frames {summary['frames']}", flush=True)  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"video": args.video, "scale": args.scale, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()

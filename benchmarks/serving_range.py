"""The serving rule (``real_video.serving_range``) on the per-size tables of several ``--force`` runs together.

    python benchmarks/serving_range.py RUN.json [RUN.json ...] [--write-range W]

Each ``benchmarks/real_video.py --force`` run measures some scales and codecs; a range is only as safe as the
conditions it was measured on (session 22: 4x/8x H.264 said 16-128 px, 3x H.264 and coarse JPEG stills
disagreed). This merges the runs' ``by_native_size`` tables (``real_video.merge_sizes``), prints the range the
rule gives and every clip-condition that loses in each size bin, and with ``--write-range`` writes that range
into the weights, as ``real_video.py --write-range`` does for one run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from real_video import merge_sizes, serving_range, write_range


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="summary JSONs of real_video.py --force runs")
    ap.add_argument("--tolerance", type=float, default=0.05, help="a clip's loss within this many dB does not count")
    ap.add_argument("--write-range", default="", help="write the merged range into these weights")
    args = ap.parse_args()
    rows = merge_sizes([json.loads(Path(f).read_text())["by_native_size"] for f in args.runs])
    print(f"serving range on {len(args.runs)} runs: {serving_range(rows, tolerance_db=args.tolerance)}")
    for r in rows:
        conds = r.get("conditions", {})
        print(f"{r['crop_px'][0]:>4}-{r['crop_px'][1]:<5} faces {r['faces']:>5}  gain {r['gain_db']:+.2f} dB")
        for cond, v in sorted(conds.items()):
            losing = {clip: c for clip, c in v.get("clips", {}).items() if c["gain_db"] <= -args.tolerance}
            if losing:
                lost = ", ".join(f"{clip} {c['gain_db']:+.3f} ({c['faces']} faces)" for clip, c in losing.items())
                print(f"      {cond} (mean {v['gain_db']:+.2f}): {lost}")
    if args.write_range:
        write_range(rows, args.write_range)


if __name__ == "__main__":
    main()

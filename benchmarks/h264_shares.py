"""Which back-projection shares suit H.264 input, by the keyframe QP ``vidfsr enhance`` reads (``pipelines.qp``).

The real-video benchmark run with fixed shares (``--consistency C --frame-consistency F``) over a grid, then each
clip's gain over bicubic per share pair beside the mean QP of that clip's keyframe as coded: the evidence behind
``pipelines.blend``'s H.264 ramps (BENCHMARKS.md, session 14).

    python benchmarks/h264_shares.py --run     # the grid (~12 min on the 2-core dev CPU), then the tables
    python benchmarks/h264_shares.py           # the tables from the stored runs

The stored runs in ``benchmarks/results/h264_shares`` were made by ``--run``'s commands with ``--out`` under /tmp
and copied there (each file records its command).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_video as rv

OUT = Path("benchmarks/results/h264_shares")
# (crop share, frame share): CRFs measured. The compressed default (0.75, 0) and the lossless one (1, 1) bound it.
GRID = {
    (0.75, 0.0): (18, 23, 28, 33),
    (1.0, 0.0): (18, 23, 28, 33),
    (0.75, 0.5): (18, 23, 28, 33),
    (1.0, 0.5): (18, 23, 28, 33),
    (1.0, 1.0): (18, 23),
    (0.75, 0.25): (23, 28),
    (0.5, 0.0): (28, 33),
}


def name(crop: float, frame: float) -> str:
    return f"c{crop:g}_f{frame:g}"


def run_grid() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for (crop, frame), crfs in GRID.items():
        cmd = [sys.executable, "benchmarks/real_video.py", "--scales", "4", "8", "--codecs", *map(str, crfs),
               "--no-analysis", "--esrgan-frames", "0", "--consistency", str(crop), "--frame-consistency",
               str(frame), "--out", str(OUT / f"{name(crop, frame)}.json")]  # fmt: skip
        print(" ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def keyframe_qps(frames: int = 12) -> dict[str, float | None]:
    """'clip|x{scale} {crf}' -> the mean QP of the clip's keyframe as the benchmark codes it."""
    qps: dict[str, float | None] = {}
    crfs = sorted({c for cs in GRID.values() for c in cs})
    for clip in rv.clips():
        original = rv.read_frames(clip, frames)
        for scale in (4, 8):
            h, w = original[0].shape[:2]
            h2, w2 = h - h % (2 * scale), w - w % (2 * scale)
            small = [cv2.resize(f[:h2, :w2], (w2 // scale, h2 // scale), interpolation=cv2.INTER_AREA)
                     for f in original]  # fmt: skip
            for crf in crfs:
                qps[f"{clip.stem}|x{scale} {crf}"] = rv.h264(small, crf)[1]
    return qps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="store_true", help="run the grid first (else: tabulate the stored runs)")
    ap.add_argument("--out", default=str(OUT / "summary.json"))
    ap.add_argument("--shipped", default="benchmarks/results/real_video_session14_qp.json",
                    help="a real_video.py run with the default (QP-ramped) shares, for the last column")  # fmt: skip
    args = ap.parse_args()
    rv.set_cpu_threads()
    if args.run:
        run_grid()
    gains: dict[str, dict[str, float]] = {}  # share pair -> 'clip|cond' -> gain
    means: dict[str, dict[str, list[float]]] = {}
    runs = {name(crop, frame): OUT / f"{name(crop, frame)}.json" for crop, frame in GRID}
    runs["shipped ramp"] = Path(args.shipped)
    for label, path in runs.items():
        if not path.exists():
            continue
        table = json.loads(path.read_text())["table"]
        for cond, row in table.items():
            if cond.endswith("lossless"):
                continue
            means.setdefault(label, {})[cond] = [row["gain_db"]["mean"], row["gain_db"]["min"]]
            for clip, r in row["per_clip"].items():
                if r["vidfsr"]["psnr"] is not None:
                    gains.setdefault(label, {})[f"{clip}|{cond}"] = r["vidfsr"]["psnr"] - r["bicubic"]["psnr"]
    qps = keyframe_qps()
    pairs = list(gains)
    print("mean gain over bicubic (worst clip), dB:")
    conds = sorted({c for m in means.values() for c in m}, key=lambda c: (c.split()[0], int(c.split()[1])))
    print("| input | " + " | ".join(pairs) + " |\n|---|" + "---|" * len(pairs))
    for cond in conds:
        cells = [f"{means[p][cond][0]:+.2f} ({means[p][cond][1]:+.2f})" if cond in means[p] else "-" for p in pairs]
        print(f"| {cond} | " + " | ".join(cells) + " |")
    print("\nper clip, by keyframe QP (gain over bicubic, dB):")
    keys = sorted({k for g in gains.values() for k in g}, key=lambda k: qps.get(k) or 0)
    print("  QP    clip-condition".ljust(46) + " ".join(p.ljust(11) for p in pairs))
    for k in keys:
        cells = [f"{gains[p][k]:+.2f}".ljust(11) if k in gains[p] else "-".ljust(11) for p in pairs]
        print(f"  {qps[k]:5.1f} {k:<38}" + " ".join(cells))
    Path(args.out).write_text(json.dumps({"mean": means, "per_clip": gains, "keyframe_qp": qps}, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()

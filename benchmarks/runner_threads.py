"""Which stages should share a thread: the runner's thread groupings on one clip, wall time and CPU time.

    python benchmarks/runner_threads.py [--weights fsrnet_lite_x8] [--rounds 2] [--out results.json]

The workload is benchmarks/pipeline.py's (hamilton.mp4, scale 2, every face forced through the model), so the
numbers compare with its table. Groupings run interleaved, ``--rounds`` times each, in fresh subprocesses (the
same process state for each), and the table reports the median wall time, the process's CPU time over the cores
(the perfect-overlap bound: no grouping can finish sooner) and each stage's CPU time in its own thread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from vidfsr.shared import shared_dir

GROUPINGS = {
    "3 threads (before)": "decode+detect+crops,enhance,blend+encode",
    "6 threads": "decode,detect,crops,enhance,blend,encode",
    "4: decode alone": "decode,detect+crops,enhance,blend+encode",
    "4: encode alone": "decode+detect+crops,enhance,blend,encode",
    "5: decode, encode alone": "decode,detect+crops,enhance,blend,encode",
}

_CHILD = """
import json, resource, sys, time
import vidfsr
from vidfsr.api import set_cpu_threads
set_cpu_threads(0)
src, dst, weights, stages = sys.argv[1:5]
r0 = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
s = vidfsr.enhance_video(src, dst, models=(weights,), force=True, stages=stages)
wall = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "frames": s["frames"], "faces": s["faces_enhanced"],
                  "stage_cpu_s": s["stage_cpu_seconds"], "stage_wall_s": s["stage_seconds"],
                  "peak_rss_mb": r1.ru_maxrss / 1024}))
"""


def run_once(src: Path, weights: str, stages: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(src), str(Path(tmp) / "o.mp4"), weights, stages],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="fsrnet_lite_x8")
    ap.add_argument("--clip", default=str(shared_dir() / "data/videos/multi_person/hamilton.mp4"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", default="", help="comma-separated grouping names to run (default: all)")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    os.environ.setdefault("VIDFSR_MODEL_DIR", str(shared_dir() / "models"))  # YuNet, offline (children inherit)
    names = [n for n in GROUPINGS if not args.only or n in args.only.split(",")]
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.rounds):
        for name in names:  # interleaved: this VM's speed drifts from minute to minute
            res = run_once(Path(args.clip), args.weights, GROUPINGS[name])
            runs[name].append(res)
            print(f"round {r + 1} {name}: {res['wall_s']:.2f} s wall, {res['cpu_s']:.2f} CPU-s", file=sys.stderr)
    cores = os.cpu_count() or 1
    rows = []
    for name in names:
        rs = runs[name]
        stage_cpu = {k: statistics.median(r["stage_cpu_s"][k] for r in rs) for k in rs[0]["stage_cpu_s"]}
        rows.append({
            "grouping": name, "threads": GROUPINGS[name], "wall_s": statistics.median(r["wall_s"] for r in rs),
            "walls": [round(r["wall_s"], 2) for r in rs], "cpu_s": statistics.median(r["cpu_s"] for r in rs),
            "bound_s": statistics.median(r["cpu_s"] for r in rs) / cores, "frames": rs[0]["frames"],
            "faces": rs[0]["faces"], "stage_cpu_s": stage_cpu,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
        })  # fmt: skip
    stages = list(rows[0]["stage_cpu_s"])
    print("| grouping | wall (median) | runs | CPU-s | perfect overlap | of bound | " + " | ".join(stages) + " | RSS |")
    print("|---" * (7 + len(stages)) + "|")
    for row in rows:
        cells = " | ".join(f"{row['stage_cpu_s'][s]:.2f}" for s in stages)
        print(f"| {row['grouping']} (`{row['threads']}`) | {row['wall_s']:.2f} s | {row['walls']} | "
              f"{row['cpu_s']:.2f} | {row['bound_s']:.2f} s | {row['bound_s'] / row['wall_s']:.0%} | {cells} | "
              f"{row['peak_rss_mb']:.0f} MB |")  # fmt: skip
    result = {"clip": Path(args.clip).name, "weights": args.weights, "cores": cores, "rows": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

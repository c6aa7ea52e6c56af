"""What a model costs in the whole pipeline: ``vidfsr enhance`` wall time with each weights on the same inputs.

    python benchmarks/enhance_speed.py --models fsrnet_lite_real fsrnet_real_grown [--rounds 2] [--out R.json]

Two inputs from ../shared: a talking head (d0) shrunk 4x with an area filter and coded as H.264 CRF 23, enhanced
4x (one face, whose crop reaches the model at 256 px), and hamilton.mp4 (640x360, several small faces) enhanced
2x. Each run is the CLI in a fresh process, as a user runs it (model loading included); the models alternate
within each round so that a machine slowing down mid-run shows as a spread, not as a model's cost. Written to
decide which network a device gets by default (DESIGN §4; BENCHMARKS.md, session 30).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vidfsr.shared import shared_dir

CASES = (("d0_x4_crf23.mp4", 4), ("hamilton.mp4", 2))


def make_inputs(folder: Path) -> None:
    """The shrunk, coded talking head (ffmpeg's area scaler, libx264 CRF 23) and a copy of hamilton.mp4."""
    videos = shared_dir() / "data/videos"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(videos / "talking_head/liveportrait_driving_d0.mp4"), "-vf",
         "scale=128:128:flags=area", "-c:v", "libx264", "-crf", "23", "-preset", "medium",
         str(folder / CASES[0][0])],
        check=True,
    )  # fmt: skip
    (folder / CASES[1][0]).write_bytes((videos / "multi_person/hamilton.mp4").read_bytes())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["fsrnet_lite_real", "fsrnet_real_grown"])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    runs: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_inputs(folder)
        for rnd in range(args.rounds):
            for model in args.models:
                for name, scale in CASES:
                    cmd = [sys.executable, "-m", "vidfsr.cli", "enhance", str(folder / name), str(folder / "out.mp4"),
                           "--scale", str(scale), "--model", model, "--device", args.device]  # fmt: skip
                    t = time.perf_counter()
                    subprocess.run(cmd, check=True, capture_output=True)
                    seconds = time.perf_counter() - t
                    runs.append({"round": rnd, "model": model, "input": name, "scale": scale, "seconds": seconds})
                    print(f"round {rnd + 1} {Path(model).stem:>24} {name:>16} x{scale}: {seconds:6.2f} s", flush=True)
    print(f"\n| input | {' | '.join(Path(m).stem for m in args.models)} | ratio to the first |")
    print(f"|---|{'---|' * len(args.models)}---|")
    table = {}
    for name, scale in CASES:
        best = {m: min(r["seconds"] for r in runs if r["model"] == m and r["input"] == name) for m in args.models}
        table[name] = best
        first = best[args.models[0]]
        ratios = ", ".join(f"{best[m] / first:.2f}x" for m in args.models[1:])
        print(f"| {name} x{scale} | {' | '.join(f'{best[m]:.2f} s' for m in args.models)} | {ratios} |")
    if args.out:
        Path(args.out).write_text(json.dumps({
            "command": " ".join(["python", *sys.argv]), "machine": f"{platform.machine()}, {platform.processor()}",
            "device": args.device, "fastest_seconds": table, "runs": runs}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

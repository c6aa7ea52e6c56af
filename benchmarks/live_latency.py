"""Added latency of `vidfsr enhance` on a live RTSP source, and whether it stays bounded when processing is
slower than real time.

    python benchmarks/live_latency.py [--out benchmarks/results/live_latency.json]

Serves shared clips from a local GStreamer RTSP server (tests/rtsp_server.py, paced at the clip's frame rate as
a camera sends it) and enhances them with the shipped weights. Latency is per frame, from the moment the
decoded frame reached vidfsr to the moment its enhanced frame was written; frames that arrive while vidfsr is
busy are dropped (newest frame wins), which is what keeps latency bounded.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import vidfsr
from vidfsr.api import set_cpu_threads
from vidfsr.shared import shared_dir

SERVER = Path(__file__).resolve().parents[1] / "tests/rtsp_server.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(clip: Path, frames: int, **options) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(["/usr/bin/python3", str(SERVER), str(port), f"{tmp}/rec.ts", str(clip)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            series: list[float] = []

            def progress(summary, _total) -> None:
                series.append(summary.latency_last_s)

            result = vidfsr.enhance_video(f"rtsp://127.0.0.1:{port}/clip", f"{tmp}/out.mp4", progress=progress,
                                          max_frames=frames, **options)  # fmt: skip
        finally:
            server.kill()
            server.wait()
    lat = np.array(series)
    third = max(len(lat) // 3, 1)
    return {
        "clip": clip.name, "options": options, "frames_out": result["frames"],
        "dropped_frames": result["dropped_frames"], "faces_enhanced": result["faces_enhanced"],
        "output_fps": round(result["frames"] / result["seconds"], 2),
        "latency_mean_s": round(float(lat.mean()), 3), "latency_p95_s": round(float(np.percentile(lat, 95)), 3),
        "latency_max_s": round(float(lat.max()), 3),
        "latency_first_third_mean_s": round(float(lat[:third].mean()), 3),
        "latency_last_third_mean_s": round(float(lat[-third:].mean()), 3),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    set_cpu_threads(0)
    videos = shared_dir() / "data/videos"
    rows = [
        # one large face, 25 fps, defaults: the face is too large to gain, so it passes through
        run(videos / "talking_head/liveportrait_driving_d18.mp4", 150),
        # the same face forced through the x4 model and pasted at 2x: slower than real time on 2 cores
        run(videos / "talking_head/liveportrait_driving_d18.mp4", 150, force=True),
        # several faces, 30 fps, every face forced through the model: slower than real time on 2 cores
        run(videos / "multi_person/hamilton.mp4", 120, force=True),
    ]
    for r in rows:
        print(json.dumps(r))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

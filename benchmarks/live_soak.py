"""Soak: `vidfsr enhance` on a live RTSP camera for many minutes with faces coming and going.

    python benchmarks/live_soak.py [--minutes 20] [--out benchmarks/results/live_soak.json]

A generated camera clip (480x270 @ 25 fps, longer than the soak) shows real faces from the shared CelebA test
crops arriving at random (about 2.5 a second), drifting, staying 0.6-3 s and leaving, at 20-56 px, so the
tracker starts and ends thousands of tracks and some faces are enhanced while others are too large and pass
through. The local GStreamer RTSP server (tests/rtsp_server.py) sends it paced as a camera does; vidfsr runs with
its defaults at scale 2 until the time is up and then stops as Ctrl-C stops a live run. Every 5 s the process's
RSS, the last frame's latency and the counters are sampled: after warm-up both must stay flat (memory bounded by
queues and live tracks, never by run length).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

import vidfsr
from vidfsr.api import set_cpu_threads
from vidfsr.shared import shared_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_latency import SERVER, free_port


def make_soak_clip(path: Path, seconds: float, seed: int = 0, size: tuple[int, int] = (480, 270), fps: int = 25,
                   rate: float = 2.5) -> int:  # fmt: skip
    """Write the camera clip; returns how many face appearances it holds."""
    import av

    rng = np.random.default_rng(seed)
    faces = [cv2.imread(str(p)) for p in sorted((shared_dir() / "data/faces/test/celeba1000/HR").glob("*.jpg"))[:300]]
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    background = np.stack([60 + 40 * xx / w, 80 + 30 * yy / h, 70 + 20 * (xx + yy) / (w + h)], -1).astype(np.uint8)
    n_frames = int(seconds * fps)
    # Appearances: (first frame, last frame, face, side, x0, y0, vx, vy) with Poisson arrivals.
    shows = []
    t = 0.0
    while t < seconds:
        t += float(rng.exponential(1 / rate))
        side = int(rng.integers(20, 57))
        dur = float(rng.uniform(0.6, 3.0))
        shows.append((int(t * fps), int((t + dur) * fps), int(rng.integers(len(faces))), side,
                      float(rng.uniform(0, w - side)), float(rng.uniform(0, h - side)),
                      float(rng.uniform(-15, 15)) / fps, float(rng.uniform(-8, 8)) / fps))  # fmt: skip
    small = {}
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    stream.options = {"crf": "23", "preset": "ultrafast", "g": "50", "bf": "0"}
    stream.time_base = Fraction(1, fps)
    live: list[tuple] = []
    nxt = 0
    for f in range(n_frames):
        while nxt < len(shows) and shows[nxt][0] <= f:
            live.append(shows[nxt])
            nxt += 1
        live = [s for s in live if s[1] >= f]
        img = background.copy()
        for first, _last, k, side, x0, y0, vx, vy in live:
            key = (k, side)
            if key not in small:
                small[key] = cv2.resize(faces[k], (side, side), interpolation=cv2.INTER_AREA)
            x = int(np.clip(x0 + vx * (f - first), 0, w - side))
            y = int(np.clip(y0 + vy * (f - first), 0, h - side))
            img[y : y + side, x : x + side] = small[key]
        frame = av.VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts = f
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    return len(shows)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--warmup-minutes", type=float, default=2.0)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    os.environ.setdefault("VIDFSR_MODEL_DIR", str(shared_dir() / "models"))  # YuNet, offline
    set_cpu_threads(0)
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "camera.mp4"
        t0 = time.perf_counter()
        appearances = make_soak_clip(clip, seconds + 60)
        print(f"clip: {appearances} face appearances, made in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        port = free_port()
        server = subprocess.Popen(["/usr/bin/python3", str(SERVER), str(port), f"{tmp}/rec.ts", str(clip)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        samples: list[dict] = []
        start = time.monotonic()
        last = [0.0]

        def progress(summary, _total) -> None:
            now = time.monotonic() - start
            if now - last[0] >= 5.0:
                last[0] = now
                samples.append({
                    "t_s": round(now, 1), "rss_mb": round(rss_mb(), 1), "latency_s": summary.latency_last_s,
                    "frames": summary.frames, "tracks": summary.tracks, "faces_enhanced": summary.faces_enhanced,
                    "in_flight": summary.in_flight,
                })  # fmt: skip
                print(json.dumps(samples[-1]), file=sys.stderr, flush=True)
            if now >= seconds:
                raise KeyboardInterrupt  # how a live run is ended

        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            result = vidfsr.enhance_video(f"rtsp://127.0.0.1:{port}/clip", f"{tmp}/out.mp4", progress=progress)
        finally:
            server.kill()
            server.wait()
    warm = [s for s in samples if s["t_s"] >= args.warmup_minutes * 60]
    t = np.array([s["t_s"] for s in warm]) / 60
    rss = np.array([s["rss_mb"] for s in warm])
    lat = np.array([s["latency_s"] for s in warm], np.float64)
    slope = float(np.polyfit(t, rss, 1)[0]) if len(t) > 2 else float("nan")
    lat_slope = float(np.polyfit(t, lat, 1)[0]) if len(t) > 2 else float("nan")
    windows = []
    for k in range(int(np.ceil(args.minutes / 5))):
        sel = [s for s in samples if 5 * 60 * k <= s["t_s"] < 5 * 60 * (k + 1)]
        if sel:
            windows.append({
                "minutes": f"{5 * k}-{5 * (k + 1)}", "rss_mb_max": max(s["rss_mb"] for s in sel),
                "latency_mean_s": round(float(np.mean([s["latency_s"] for s in sel])), 3),
                "latency_max_s": round(float(np.max([s["latency_s"] for s in sel])), 3),
                "tracks_at_end": sel[-1]["tracks"],
            })  # fmt: skip
    out = {
        "minutes": args.minutes, "face_appearances_in_clip": appearances, "frames": result["frames"],
        "dropped_frames": result.get("dropped_frames"), "tracks": result["tracks"],
        "faces_detected": result["faces_detected"], "faces_enhanced": result["faces_enhanced"],
        "rss_mb_after_warmup": float(rss[0]) if len(rss) else None, "rss_mb_end": float(rss[-1]) if len(rss) else None,
        "rss_mb_max_after_warmup": float(rss.max()) if len(rss) else None,
        "rss_slope_mb_per_min": round(slope, 3), "latency_slope_s_per_min": round(lat_slope, 4),
        "windows": windows, "samples": samples,
    }  # fmt: skip
    print("| minutes | RSS max | latency mean | latency max | tracks so far |")
    print("|---|---|---|---|---|")
    for w in windows:
        print(f"| {w['minutes']} | {w['rss_mb_max']:.0f} MB | {w['latency_mean_s']:.3f} s | {w['latency_max_s']:.3f} s "
              f"| {w['tracks_at_end']} |")  # fmt: skip
    print(f"tracks {out['tracks']}, faces enhanced {out['faces_enhanced']}, RSS slope after warm-up "
          f"{slope:+.2f} MB/min, latency slope {lat_slope:+.4f} s/min")  # fmt: skip
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

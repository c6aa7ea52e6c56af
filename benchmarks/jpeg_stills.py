"""JPEG stills: vidfsr against bicubic on faces saved as JPEG at a range of qualities, per back-projection setting.

    python benchmarks/jpeg_stills.py [--qualities 50 70 80 85 90 95] [--scales 4 8] [--configs auto lossy c1] [--png]

A still is what a user passes as ``vidfsr enhance photo.jpg out.png``. Frame 3 of every ../shared talking-head
clip is the truth; it is shrunk by each scale with an area filter, saved with OpenCV's JPEG encoder (libjpeg,
IJG qualities) and enhanced by ``vidfsr.enhance_video`` as the CLI runs it, with the shares of each config:
``auto`` (the defaults, which read the quality from the file's tables), ``auto128`` (the same with every face at
128 px inputs: no ``large_from``), ``lossy`` (0.75 / 0: what every JPEG got before session 13), ``c1`` (1.0 /
0), ``c1f05`` (1.0 / 0.5), ``c1f1`` (1.0 / 1.0: the lossless shares); ``s1``, ``s08`` and ``s07`` the defaults
with the paste strength (``--blend``) set to 1, 0.8 and 0.7.
Y-PSNR gain over a bicubic upscale of the same JPEG inside the true face box (YuNet on the original), mean and
worst face. ``--png`` also saves each shrunk frame losslessly (the issue's ``vidfsr enhance photo.png out.png``).
Writes a JSON of every face's gain.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from real_video import read_frames, region, truth_faces
from vidfsr.models.metrics import psnr_y

import vidfsr
from vidfsr.api import set_cpu_threads
from vidfsr.shared import shared_dir

CONFIGS = {
    "auto": {},
    "auto128": {"large_from": 0.0},
    "lossy": {"consistency": 0.75, "frame_consistency": 0.0},
    "c1": {"consistency": 1.0, "frame_consistency": 0.0},
    "c1f05": {"consistency": 1.0, "frame_consistency": 0.5},
    "c1f1": {"consistency": 1.0, "frame_consistency": 1.0},
    "s1": {"blend": 1.0},
    "s08": {"blend": 0.8},
    "s07": {"blend": 0.7},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qualities", type=int, nargs="+", default=[50, 70, 80, 85, 90, 95])
    ap.add_argument("--scales", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--configs", nargs="+", default=["auto", "lossy"], choices=sorted(CONFIGS))
    ap.add_argument("--weights", nargs="*", default=[], help="weights names or paths (default: vidfsr's default)")
    ap.add_argument("--png", action="store_true", help="also a lossless PNG still per scale (row 'png')")
    ap.add_argument("--out", default="benchmarks/results/jpeg_stills.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("VIDFSR_MODEL_DIR", str(shared_dir() / "models"))
    set_cpu_threads()
    started = time.perf_counter()
    # (row label, file extension, OpenCV write parameters) of each still a shrunk frame is saved as
    stills = [(f"q{q}", ".jpg", [cv2.IMWRITE_JPEG_QUALITY, q]) for q in args.qualities]
    stills += [("png", ".png", [])] if args.png else []
    gains: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in sorted((shared_dir() / "data/videos/talking_head").glob("*.mp4")):
            frame = read_frames(clip, 4)[3]
            for scale in args.scales:
                h, w = frame.shape[:2]
                truth = frame[: h - h % scale, : w - w % scale]
                faces = truth_faces([truth], min_side=10 * scale)[0]
                if not faces:
                    continue
                small = cv2.resize(
                    truth, (truth.shape[1] // scale, truth.shape[0] // scale), interpolation=cv2.INTER_AREA
                )
                for kind, ext, params in stills:
                    src = Path(tmp) / f"{clip.stem}_x{scale}_{kind}{ext}"
                    cv2.imwrite(str(src), small, params)
                    low = cv2.imread(str(src))
                    bicubic = cv2.resize(low, truth.shape[1::-1], interpolation=cv2.INTER_CUBIC)
                    for name in args.configs:
                        dst = src.with_name(f"{src.stem}_{name}.png")
                        vidfsr.enhance_video(src, dst, scale=float(scale), models=tuple(args.weights), **CONFIGS[name])
                        out = cv2.imread(str(dst))
                        for _, box in faces:
                            sl = region(box, truth.shape)
                            g = truth[sl][..., ::-1]
                            gain = psnr_y(out[sl][..., ::-1], g) - psnr_y(bicubic[sl][..., ::-1], g)
                            gains.setdefault(f"x{scale} {kind} {name}", []).append(float(gain))
            print(f"{clip.stem}: {time.perf_counter() - started:.0f} s", flush=True)
    print("\n| scale | quality | " + " | ".join(f"{c}: mean (worst)" for c in args.configs) + " |")
    print("|---|---|" + "---|" * len(args.configs))
    for scale in args.scales:
        for kind, _, _ in stills:
            cells = [gains.get(f"x{scale} {kind} {c}", []) for c in args.configs]
            label = kind[1:] if kind.startswith("q") else kind
            row = " | ".join(f"{np.mean(v):+.2f} ({np.min(v):+.2f})" for v in cells)
            print(f"| x{scale} | {label} | {row} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    record = {"command": "python benchmarks/jpeg_stills.py " + " ".join(
        [f"--qualities {' '.join(map(str, args.qualities))}", f"--scales {' '.join(map(str, args.scales))}",
         f"--configs {' '.join(args.configs)}", *(["--png"] if args.png else []),
         *([f"--weights {' '.join(args.weights)}"] if args.weights else [])]),
        "seconds": round(time.perf_counter() - started, 1), "gains_db": gains}  # fmt: skip
    Path(args.out).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()

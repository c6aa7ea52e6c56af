"""Flicker of enhanced faces with and without per-track temporal smoothing (``--temporal``).

    python benchmarks/flicker.py --weights W.safetensors [--clip CLIP] [--face-px 20]

A talking-head clip is downscaled so its face crop is ``face-px`` px (the x8 model's range), enhanced with
temporal 0 and 0.5, and flicker is measured as the mean absolute frame-to-frame change of the output inside
the face box, minus the same measure on the full-size original resized to the output (the motion that is
really there). Lower is steadier.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
from vidfsr.pipelines.detect import YuNetDetector
from vidfsr.pipelines.video import VideoFileSource

import vidfsr
from vidfsr.api import set_cpu_threads
from vidfsr.sample import make_sample
from vidfsr.shared import shared_dir


def frames_of(path: Path) -> list[np.ndarray]:
    with VideoFileSource(path) as s:
        return [f.image for f in s]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--clip", default=str(shared_dir() / "data/videos/talking_head/liveportrait_driving_d18.mp4"))
    ap.add_argument("--face-px", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    set_cpu_threads(0)
    result: dict = {"clip": Path(args.clip).name, "face_px": args.face_px}
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.mp4"
        info = make_sample(small, seconds=args.seconds, clip=args.clip, face_px=args.face_px)
        w, h = info["size"]
        original = [cv2.resize(f, (2 * w, 2 * h), interpolation=cv2.INTER_AREA) for f in frames_of(Path(args.clip))]
        outs = {}
        for temporal in (0.0, 0.5):
            dst = Path(tmp) / f"t{temporal}.mp4"
            vidfsr.enhance_video(small, dst, models=(args.weights,), temporal=temporal, precision="fp32")
            outs[temporal] = frames_of(dst)
        faces = YuNetDetector()(original[0])
        x0, y0, x1, y1 = faces.xyxy[int(np.argmax(faces.sides))].astype(int)

        def change(seq: list[np.ndarray]) -> float:
            region = np.stack([f[y0:y1, x0:x1].astype(np.float32) for f in seq])
            return float(np.abs(np.diff(region, axis=0)).mean())

        n = min(len(outs[0.0]), len(original))
        truth = change(original[:n])
        result["true_motion"] = round(truth, 3)
        for temporal, seq in outs.items():
            result[f"flicker_temporal_{temporal}"] = round(change(seq[:n]) - truth, 3)
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

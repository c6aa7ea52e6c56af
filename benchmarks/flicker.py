"""Flicker of enhanced faces with and without per-track temporal smoothing (``--temporal``).

    python benchmarks/flicker.py --weights W.safetensors [--clip CLIP] [--face-px 20]

A talking-head clip is downscaled so its face crop is ``face-px`` px (the x8 model's range) and centred in a
160x120 scene, enhanced with temporal 0, 0.5 and 0.8 (and with blend 0: the plain resize, no model), and
compared inside the face box with the truth (the full-size original shrunk only to the output size): flicker is
the mean absolute frame-to-frame change of the error (output - truth), so real motion cancels; error is the mean
absolute error, where the lag and ghosting of too much smoothing show. Lower is better for both.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
from vidfsr.pipelines.croprule import crop_boxes
from vidfsr.pipelines.detect import YuNetDetector
from vidfsr.pipelines.video import VideoFileSink, VideoFileSource

import vidfsr
from vidfsr.api import set_cpu_threads
from vidfsr.shared import shared_dir


def frames_of(path: Path) -> list[np.ndarray]:
    with VideoFileSource(path) as s:
        return [f.image for f in s]


def placement(shape: tuple[int, ...], factor: float, canvas: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where a frame of ``shape`` shrunk by ``factor`` sits, centred on ``canvas``: x0, y0, width, height."""
    h, w = shape[:2]
    sw, sh = round(w * factor), round(h * factor)
    return (canvas[0] - sw) // 2, (canvas[1] - sh) // 2, sw, sh


def place(frames: list[np.ndarray], factor: float, canvas: tuple[int, int]) -> list[np.ndarray]:
    """Each frame shrunk by ``factor`` and centred on a grey canvas: a small face inside a larger scene."""
    out = []
    for f in frames:
        x0, y0, sw, sh = placement(f.shape, factor, canvas)
        img = np.full((canvas[1], canvas[0], 3), 96, np.uint8)
        img[y0 : y0 + sh, x0 : x0 + sw] = cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA)
        out.append(img)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--clip", default=str(shared_dir() / "data/videos/talking_head/liveportrait_driving_d18.mp4"))
    ap.add_argument("--face-px", type=int, default=20)
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    set_cpu_threads(0)
    result: dict = {"clip": Path(args.clip).name, "face_px": args.face_px}
    full = frames_of(Path(args.clip))[: args.frames]
    faces = YuNetDetector()(full[0])
    crop = crop_boxes(faces.xyxy[int(np.argmax(faces.sides))][None])[0]
    factor = args.face_px / float(crop[2] - crop[0])
    canvas = (160, 120)
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.mp4"
        with VideoFileSource(args.clip) as src:
            info = src.info
        with VideoFileSink(small, *canvas, info.time_base, info.rate) as sink:
            for i, img in enumerate(place(full, factor, canvas)):
                sink.write(img, i)
        # The truth: the full-size clip shrunk only to the output size (2x the small clip).
        truth_frames = place(full, 2 * factor, (2 * canvas[0], 2 * canvas[1]))
        outs, summaries = {}, {}
        runs = {"resize only": {"blend": 0.0}, "temporal 0": {"temporal": 0.0}, "temporal 0.5": {"temporal": 0.5},
                "temporal 0.8": {"temporal": 0.8}}  # fmt: skip
        for label, opts in runs.items():
            dst = Path(tmp) / "out.mp4"
            summaries[label] = vidfsr.enhance_video(small, dst, models=(args.weights,), **opts)
            outs[label] = frames_of(dst)
        x_off, y_off, _, _ = placement(full[0].shape, 2 * factor, (2 * canvas[0], 2 * canvas[1]))
        box = crop * 2 * factor + np.array([x_off, y_off, x_off, y_off])
        x0, y0, x1, y1 = box.round().astype(int)

        def region(seq: list[np.ndarray]) -> np.ndarray:
            return np.stack([f[y0:y1, x0:x1].astype(np.float32) for f in seq])

        n = min(len(outs["temporal 0"]), len(truth_frames))
        truth = region(truth_frames[:n])
        result["true_motion"] = round(float(np.abs(np.diff(truth, axis=0)).mean()), 3)
        for label, seq in outs.items():
            error = region(seq[:n]) - truth
            result[label] = {
                "faces_enhanced": summaries[label]["faces_enhanced"],
                # how much the error changes from frame to frame: flicker that is not real motion
                "flicker": round(float(np.abs(np.diff(error, axis=0)).mean()), 3),
                # how far the output is from the truth: lag and ghosting of smoothing show up here
                "error": round(float(np.abs(error).mean()), 3),
            }
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

"""HR face crops cut from the shared video clips, framed by the crop rule, for `vidfsr eval --hr`.

    python benchmarks/video_faces.py OUT_DIR [--every 25] [--min-side 128]

Every ``--every``-th frame of each talking-head and multi-person clip, YuNet's faces whose crop is at least
``--min-side`` px in the original (so the 128x128 HR crop is a downscale, never an upscale), cut with the
pipeline's own crop rule and resampler. The result is a folder like celeba1000/HR made of video faces:
`vidfsr eval --hr OUT_DIR --face-metrics --model A --model B` then compares models on real video faces under
the same degradation as the test set.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np
from vidfsr.pipelines.croprule import crop_boxes, cut_crop
from vidfsr.pipelines.detect import DetectorConfig, YuNetDetector
from vidfsr.pipelines.video import VideoFileSource

from vidfsr.shared import shared_dir


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--min-side", type=float, default=128.0)
    args = ap.parse_args()
    os.environ.setdefault("VIDFSR_MODEL_DIR", str(shared_dir() / "models"))  # YuNet, offline
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    det = YuNetDetector(config=DetectorConfig(score_threshold=0.8))
    root = shared_dir() / "data/videos"
    n = 0
    for clip in sorted(root.glob("*/*.mp4")):
        with VideoFileSource(clip) as src:
            for frame in src:
                if frame.index % args.every:
                    continue
                faces = det(frame.image)
                for k, box in enumerate(crop_boxes(faces.xyxy)):
                    h, w = frame.image.shape[:2]
                    inside = box[0] >= 0 and box[1] >= 0 and box[2] <= w and box[3] <= h
                    if box[2] - box[0] < args.min_side or not inside:
                        continue
                    crop = cut_crop(frame.image, np.asarray(box), 128)
                    cv2.imwrite(str(out / f"{clip.stem}_{frame.index:05d}_{k}.png"), crop)
                    n += 1
    print(f"{n} face crops in {out}")


if __name__ == "__main__":
    main()

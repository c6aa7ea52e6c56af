"""Calibrate THE crop rule: run the default detector on the official FSRNet test crops.

Each 128x128 test crop is padded into a 256x256 canvas (so the detector sees the whole face) and detected;
the ratio crop side / detector box side and the offset of the crop centre from the box centre give the
constants in ``pipelines/croprule.py``.

    python benchmarks/calibrate_crop_rule.py [--limit N] [--detector yunet|haar]

``--detector haar`` calibrates the Haar fallback the same way, with its boxes taken raw (``HaarDetector`` then
maps them onto YuNet's framing with the constants printed here, so one crop rule serves both).
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
from vidfsr.pipelines.detect import DetectorConfig, HaarDetector, YuNetDetector

from vidfsr.shared import shared_dir


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--detector", choices=["yunet", "haar"], default="yunet")
    args = ap.parse_args()
    hr_dir = shared_dir() / "data/faces/test/celeba1000/HR"
    files = sorted(hr_dir.glob("*.jpg"))[: args.limit or None]
    if args.detector == "haar":
        det = HaarDetector(DetectorConfig(upscale=1.0), raw=True)
    else:
        det = YuNetDetector(config=DetectorConfig(upscale=1.0))
    ratios, dx, dy = [], [], []
    for f in files:
        img = cv2.copyMakeBorder(cv2.imread(str(f)), 64, 64, 64, 64, cv2.BORDER_CONSTANT)
        faces = det(img)
        if not len(faces):
            continue
        i = int(np.argmax(faces.score))
        x0, y0, x1, y1 = faces.xyxy[i]
        side = 0.5 * ((x1 - x0) + (y1 - y0))
        ratios.append(128 / side)
        dx.append((128 - (x0 + x1) / 2) / side)  # crop centre is at 128 in the padded canvas
        dy.append((128 - (y0 + y1) / 2) / side)
    r, x, y = np.array(ratios), np.array(dx), np.array(dy)
    result = {
        "detector": args.detector,
        "crops": len(files),
        "detected": len(r),
        "side_ratio_median": round(float(np.median(r)), 4),
        "side_ratio_iqr": [round(float(v), 4) for v in np.percentile(r, [25, 75])],
        "centre_shift_x_median": round(float(np.median(x)), 4),
        "centre_shift_y_median": round(float(np.median(y)), 4),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""How much fine detail the training faces hold against the real-video truth faces (issue 12).

    python benchmarks/face_detail.py [--data data/faces128] [--train-faces 3000]

If the 128 px training crops were softer than the faces the real-video benchmark scores, a network trained on
them would learn to draw soft faces, a limit no loss or schedule would lift. Detail is measured the same way for
both: the Y-PSNR of a 128 px crop against itself shrunk 2x with an area filter and brought back with cubic
(lower: more detail above half the crop's resolution). Training crops: a seeded sample of the prepared set;
video crops: every ../shared clip's true faces (YuNet on frames 0 and 5), cut by the pipeline's crop rule at
128 px. Prints percentiles and per-clip values and writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import real_video as rv  # the benchmark's clips and true faces
from vidfsr.models.dataset_format import load_prepared
from vidfsr.models.metrics import psnr_y
from vidfsr.pipelines.croprule import crop_boxes, cut_crop, snap_to_pixels

PERCENTILES = (10, 25, 50, 75, 90)


def detail_db(crop: np.ndarray) -> float:
    """Y-PSNR of a 128 px crop against its 2x area shrink brought back with cubic."""
    small = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)
    return float(psnr_y(cv2.resize(small, (128, 128), interpolation=cv2.INTER_CUBIC), crop))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/faces128", help="a prepared dataset (vidfsr prepare)")
    ap.add_argument("--train-faces", type=int, default=3000)
    ap.add_argument("--out", default="benchmarks/results/face_detail.json")
    args = ap.parse_args()
    faces = load_prepared(args.data, "train")
    pick = np.random.default_rng(0).choice(len(faces.images), min(args.train_faces, len(faces.images)), replace=False)
    train = [detail_db(faces.images[i]) for i in pick]
    video: dict[str, list[float]] = {}
    for clip in rv.clips():
        frames = rv.read_frames(clip, 6)
        found = rv.truth_faces(frames, min_side=40)
        for t in (0, 5):
            for _, box in found[t]:
                crop = cut_crop(frames[t], snap_to_pixels(crop_boxes(box[None]))[0], 128)
                video.setdefault(clip.stem, []).append(detail_db(crop))
    every = [v for vs in video.values() for v in vs]
    record = {
        "command": f"python benchmarks/face_detail.py --data {args.data} --train-faces {args.train_faces}",
        "percentiles": list(PERCENTILES),
        "train_db": np.percentile(train, PERCENTILES).round(2).tolist(),
        "video_db": np.percentile(every, PERCENTILES).round(2).tolist(),
        "video_per_clip_db": {k: round(float(np.mean(v)), 2) for k, v in video.items()},
    }
    print(
        f"percentiles {PERCENTILES}: training {record['train_db']}, video {record['video_db']} (dB; lower: more detail)"
    )
    for k, v in record["video_per_clip_db"].items():
        print(f"  {k}: {v:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()

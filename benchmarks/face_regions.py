"""Where in the face vidfsr gains over bicubic: the true face box split into horizontal bands, one clip, one frame.

    python benchmarks/face_regions.py d19 [--weights W] [--scale 8] [--frame 3] [--image runs/look/d19.png]

The talking-head clip ``liveportrait_driving_<clip>`` is shrunk by ``--scale`` with an area filter (lossless),
brought back by bicubic and by the pipeline (defaults, as ``benchmarks/real_video.py`` runs it), and compared
with the original inside the true face box (YuNet) of one frame: squared luma error of each method in the
forehead, eye, nose and mouth/chin bands (shares of the box height), and vidfsr's gain in dB. ``--image``
writes truth | bicubic | vidfsr | where vidfsr's error is lower (bright) or higher (dark).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np
from real_video import _luma, read_frames, region, run_vidfsr, truth_faces

from vidfsr.api import set_cpu_threads
from vidfsr.shared import shared_dir

BANDS = {"forehead": (0.0, 0.3), "eyes": (0.3, 0.55), "nose": (0.55, 0.72), "mouth/chin": (0.72, 1.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", help="talking-head clip suffix, e.g. d19")
    ap.add_argument("--weights", nargs="*", default=[], help="weights names or paths (default: vidfsr's default)")
    ap.add_argument("--scale", type=int, default=8)
    ap.add_argument("--frame", type=int, default=3)
    ap.add_argument("--image", default="", help="write the comparison strip here")
    args = ap.parse_args()
    os.environ.setdefault("VIDFSR_MODEL_DIR", str(shared_dir() / "models"))
    set_cpu_threads()
    clip = shared_dir() / f"data/videos/talking_head/liveportrait_driving_{args.clip}.mp4"
    s, t = args.scale, args.frame
    original = read_frames(clip, t + 3)
    h, w = original[0].shape[:2]
    truth = [f[: h - h % (2 * s), : w - w % (2 * s)] for f in original]
    h, w = truth[0].shape[:2]
    small = [cv2.resize(f, (w // s, h // s), interpolation=cv2.INTER_AREA) for f in truth]
    bicubic = cv2.resize(small[t], (w, h), interpolation=cv2.INTER_CUBIC)
    out = run_vidfsr(small, s, tuple(args.weights), False, None, source_codec="rawvideo")[t]
    sl = region(truth_faces(truth, min_side=10 * s)[t][0][1], truth[t].shape)
    g = _luma(truth[t][sl])
    err_b, err_v = ((_luma(x[sl]) - g) ** 2 for x in (bicubic, out))
    rows = int(g.shape[0])
    for name, (a, b) in BANDS.items():
        band = slice(int(a * rows), int(b * rows))
        eb, ev = float(err_b[band].mean()), float(err_v[band].mean())
        print(f"{name:11s} bicubic {eb:7.1f}  vidfsr {ev:7.1f}  gain {10 * np.log10(eb / ev):+.2f} dB")
    print(f"whole box   gain {10 * np.log10(err_b.mean() / err_v.mean()):+.2f} dB")
    if args.image:
        diff = cv2.cvtColor(np.clip(128 + (err_b - err_v) / 4, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        Path(args.image).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(args.image, np.hstack([truth[t][sl], bicubic[sl], out[sl], diff]))


if __name__ == "__main__":
    main()

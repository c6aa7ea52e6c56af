"""Detection and tracking measured on the real clips in ../shared (issue 5's numbers).

    python benchmarks/tracking.py [--frames 150] [--out benchmarks/results/tracking.json]

Reports, per talking-head clip: confirmed track ids, box jitter of the raw detector vs the tracker's smoothed
crop box (mean frame-to-frame change of crop centre and side, in face sides); for hamilton.mp4: shots, tracks per
shot and suspicious jumps (a track's box moving > 0.5 face side in one frame: what an id swap looks like); the
recall of detection when the clips are downscaled so faces are 16-40 px; and detector ms/frame per resolution.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from vidfsr.pipelines.croprule import crop_boxes
from vidfsr.pipelines.detect import DetectorConfig, YuNetDetector
from vidfsr.pipelines.shots import ShotCutDetector
from vidfsr.pipelines.track import Tracker, box_iou
from vidfsr.pipelines.video import VideoFileSource

from vidfsr.shared import shared_dir


def read_frames(path: Path, limit: int) -> list[np.ndarray]:
    with VideoFileSource(path) as src:
        return [f.image for _, f in zip(range(limit), src, strict=False)]


def jitter(boxes: list[np.ndarray]) -> float:
    """Mean frame-to-frame change of crop centre and side, relative to the side."""
    b = crop_boxes(np.array(boxes))
    side = b[:, 2] - b[:, 0]
    centre = 0.5 * (b[:, :2] + b[:, 2:])
    d = np.abs(np.diff(np.column_stack([centre, side]), axis=0)) / side[1:, None]
    return float(d.mean())


def talking_head(det: YuNetDetector, path: Path, limit: int) -> dict:
    frames = read_frames(path, limit)
    tracker = Tracker()
    raw, smooth, ids, main_ids = [], [], set(), set()
    for img in frames:
        found = det(img)
        out = tracker.update(found)
        ids.update(int(i) for i in (out.track_id if out.track_id is not None else []))
        if len(found) and len(out):
            raw.append(found.xyxy[int(np.argmax(found.sides))])
            main = int(np.argmax(out.sides))
            smooth.append(out.xyxy[main])
            main_ids.add(int(out.track_id[main]))
    side = float(np.median([b[2] - b[0] for b in raw])) if raw else 0.0
    return {
        "clip": path.name, "frames": len(frames), "main_face_ids": len(main_ids), "all_track_ids": len(ids),
        "face_px": round(side),
        "jitter_raw": round(jitter(raw), 4) if len(raw) > 2 else None,
        "jitter_tracked": round(jitter(smooth), 4) if len(smooth) > 2 else None,
    }  # fmt: skip


def multi_person(det: YuNetDetector, path: Path, limit: int) -> dict:
    frames = read_frames(path, limit)
    tracker, cuts = Tracker(), ShotCutDetector()
    shots: list[set[int]] = [set()]
    last: dict[int, np.ndarray] = {}
    jumps = 0
    for img in frames:
        if cuts(img):
            tracker.reset()
            shots.append(set())
            last = {}
        out = tracker.update(det(img))
        for box, tid in zip(out.xyxy, out.track_id if out.track_id is not None else [], strict=False):
            tid = int(tid)
            shots[-1].add(tid)
            if tid in last:
                side = box[2] - box[0]
                move = np.linalg.norm((box[:2] + box[2:]) / 2 - (last[tid][:2] + last[tid][2:]) / 2)
                jumps += int(move > 0.5 * side)
            last[tid] = box
    return {"clip": path.name, "frames": len(frames), "shots": len(shots), "tracks_per_shot": [len(s) for s in shots],
            "jumps_over_half_a_face": jumps}  # fmt: skip


def small_face_recall(det: YuNetDetector, paths: list[Path], limit: int) -> list[dict]:
    rows = []
    for target in (16, 24, 32, 40):
        hits = total = 0
        for path in paths:
            for img in read_frames(path, limit)[::5]:
                full = det(img)
                if not len(full):
                    continue
                i = int(np.argmax(full.sides))
                crop_side = float(crop_boxes(full.xyxy[i : i + 1])[0, 2] - crop_boxes(full.xyxy[i : i + 1])[0, 0])
                f = target / crop_side
                small = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
                found = det(small)
                total += 1
                if len(found) and box_iou(full.xyxy[i : i + 1] * f, found.xyxy).max() > 0.3:
                    hits += 1
        rows.append({"crop_px": target, "faces": total, "recall": round(hits / max(total, 1), 3)})
    return rows


def speed(det: YuNetDetector, frame: np.ndarray) -> list[dict]:
    rows = []
    for w, h in ((640, 360), (1280, 720), (1920, 1080)):
        img = cv2.resize(frame, (w, h))
        det(img)
        t = time.perf_counter()
        for _ in range(20):
            det(img)
        rows.append({"size": f"{w}x{h}", "ms_per_frame": round((time.perf_counter() - t) / 20 * 1000, 1)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    videos = shared_dir() / "data/videos"
    det = YuNetDetector()
    heads = sorted((videos / "talking_head").glob("*.mp4"))
    result = {
        "talking_head": [talking_head(det, p, args.frames) for p in heads],
        "multi_person": multi_person(det, videos / "multi_person/hamilton.mp4", 10_000),
        # Recall per single detection: the upscaled pass on every call (the pipeline runs it every 3rd frame
        # and the tracker carries tiny faces in between).
        "small_faces": small_face_recall(YuNetDetector(config=DetectorConfig(upscale_every=1)), heads[:6], args.frames),
        "speed": speed(det, read_frames(videos / "talking_head/liveportrait_source_s18.mp4", 1)[0]),
    }
    for row in result["talking_head"]:
        print(row)
    print(result["multi_person"])
    for row in result["small_faces"] + result["speed"]:
        print(row)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

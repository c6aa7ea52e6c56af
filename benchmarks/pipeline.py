"""Pipeline wall time vs its parts and vs a peer-style sequential loop; peak memory vs clip length.

    python benchmarks/pipeline.py --weights W.safetensors [--clip ../shared/data/videos/multi_person/hamilton.mp4]

Compares, on the same clip, scale 2, every face forced through the model:
  - vidfsr enhance (threaded, batched),
  - the ffmpeg CLI doing the same decode + resize + libx264 encode alone,
  - model inference alone on as many faces (same batch size and precision),
  - a sequential loop as peer tools do it: per frame detect, enhance each face at batch 1, paste each back
    through whole-frame warps and a whole-frame blend (GFPGAN's FaceRestoreHelper), write;
and peak RSS of the pipeline on the clip and on the clip looped twice (it must stay flat).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from vidfsr.pipelines.crops import make_batch
from vidfsr.pipelines.detect import YuNetDetector
from vidfsr.pipelines.video import VideoFileSink, VideoFileSource

import vidfsr
from vidfsr.api import EnhanceOptions, build_runner
from vidfsr.shared import shared_dir


def sequential(src: Path, dst: Path, weights: str) -> float:
    """The loop peer restorers run, with our model: per frame detect, enhance each face at batch 1, and paste
    each face back the way GFPGAN's FaceRestoreHelper.paste_faces_to_input_image does (warp the face and a mask
    to the whole output frame, erode and blur the whole-frame mask, blend the whole frame in float)."""
    runner = build_runner(EnhanceOptions(models=(weights,), force=True, batch_size=1))
    enhancer, det = runner.enhancer, YuNetDetector()
    t = time.perf_counter()
    with VideoFileSource(src) as source:
        info = source.info
        w, h = info.width * 2, info.height * 2
        with VideoFileSink(dst, w, h, info.time_base, info.rate, src) as sink:
            for frame in source:
                faces = det(frame.image)
                out = cv2.resize(frame.image, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
                ids = np.arange(len(faces))
                batch = make_batch(frame, replace(faces, track_id=ids), enhancer.ranges, force=True)
                for k in range(len(batch)):
                    sr, _ = enhancer(batch.crops[k : k + 1], int(batch.model[k]))
                    x0, y0, x1, _ = batch.crop_xyxy[k] * 2
                    k = (x1 - x0) / sr.shape[1]
                    affine = np.float32([[k, 0, x0], [0, k, y0]])
                    face = cv2.warpAffine(sr[0], affine, (w, h)).astype(np.float32)
                    mask = cv2.warpAffine(np.ones(sr.shape[1:3], np.float32), affine, (w, h))
                    mask = cv2.erode(mask, np.ones((2, 2), np.uint8))
                    edge = max(int((x1 - x0) * 0.1) | 1, 3)
                    mask = cv2.GaussianBlur(mask, (edge, edge), 0)[..., None]
                    out = mask * face + (1 - mask) * out
                sink.write(np.clip(out, 0, 255).astype(np.uint8), frame.pts)
    return time.perf_counter() - t


def model_alone(weights: str, faces: int, batch: int, threads: int) -> float:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _model_alone(weights, faces, batch)
    finally:
        torch.set_num_threads(before)


def _model_alone(weights: str, faces: int, batch: int) -> float:
    runner = build_runner(EnhanceOptions(models=(weights,), batch_size=batch))
    side = 0  # the first (only) model
    crops = np.random.default_rng(0).integers(0, 256, (faces, 128, 128, 3), dtype=np.uint8)
    runner.enhancer(crops[:batch], side)  # warm-up
    t = time.perf_counter()
    runner.enhancer(crops, side)
    return time.perf_counter() - t


def ffmpeg_alone(src: Path, dst: Path, width: int, height: int) -> float:
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), "-vf", f"scale={width}:{height}", "-c:v", "libx264",
           "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p", "-c:a", "copy", str(dst)]  # fmt: skip
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t


def peak_rss_mb(src: Path, dst: Path, weights: str) -> float:
    code = (
        "import vidfsr.api, resource; vidfsr.api.set_cpu_threads(0); "
        f"vidfsr.enhance_video({str(src)!r}, {str(dst)!r}, models=({weights!r},), force=True); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def loop_clip(src: Path, dst: Path, times: int) -> None:
    with VideoFileSource(src) as s:
        info = s.info
        frames = [(f.image, f.pts) for f in s]
    period = frames[-1][1] + (frames[1][1] - frames[0][1])
    with VideoFileSink(dst, info.width, info.height, info.time_base, info.rate) as sink:
        for k in range(times):
            for img, pts in frames:
                sink.write(img, pts + k * period)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--clip", default=str(shared_dir() / "data/videos/multi_person/hamilton.mp4"))
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    os.environ.setdefault("VIDFSR_MODEL_DIR", str(shared_dir() / "models"))  # YuNet, offline
    from vidfsr.api import set_cpu_threads

    res_threads = set_cpu_threads(0)  # as `vidfsr enhance` does
    src = Path(args.clip)
    res: dict = {"clip": src.name, "torch_threads": res_threads}
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        t, cpu = time.perf_counter(), cpu_seconds()
        summary = vidfsr.enhance_video(src, tmpd / "p.mp4", models=(args.weights,), force=True)
        res["pipeline_s"] = round(time.perf_counter() - t, 2)
        # All threads' CPU time over the cores: the wall time a perfect overlap of the stages would reach.
        res["pipeline_cpu_s"] = round(cpu_seconds() - cpu, 2)
        res["cores"] = os.cpu_count()
        res["perfect_overlap_s"] = round(res["pipeline_cpu_s"] / (os.cpu_count() or 1), 2)
        res["frames"], res["faces"] = summary["frames"], summary["faces_enhanced"]
        res["stage_s"] = {k: round(v, 2) for k, v in summary["stage_seconds"].items()}
        with VideoFileSource(src) as s:
            w, h = s.info.width * 2, s.info.height * 2
        if shutil.which("ffmpeg"):
            res["ffmpeg_alone_s"] = round(ffmpeg_alone(src, tmpd / "f.mp4", w, h), 2)
        res["model_alone_s"] = round(model_alone(args.weights, res["faces"], 4, os.cpu_count() or 1), 2)
        res["model_alone_pipeline_threads_s"] = round(model_alone(args.weights, res["faces"], 4, res_threads), 2)
        res["sequential_s"] = round(sequential(src, tmpd / "s.mp4", args.weights), 2)
        larger = max(res.get("ffmpeg_alone_s", 0), res["model_alone_s"])
        res["pipeline_over_larger_part"] = round(res["pipeline_s"] / larger, 3)
        res["speedup_vs_sequential"] = round(res["sequential_s"] / res["pipeline_s"], 2)
        loop_clip(src, tmpd / "x2.mp4", 2)
        res["peak_rss_mb_1x"] = round(peak_rss_mb(src, tmpd / "r1.mp4", args.weights), 1)
        res["peak_rss_mb_2x"] = round(peak_rss_mb(tmpd / "x2.mp4", tmpd / "r2.mp4", args.weights), 1)

    print(json.dumps(res, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

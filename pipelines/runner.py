"""The streaming runner: source -> detect+track -> crops -> enhance (batched) -> blend -> sink.

Each arrow is a bounded queue between threads, so decoding, detection, the model and encoding overlap and
memory is bounded by the queue sizes, never by the video's length. Frames leave in the order they came in
(every stage is one thread that keeps order). Batches gather faces across frames up to ``batch_size`` or until
``max_wait`` seconds pass, so live input keeps a bounded latency.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from vidfsr.errors import ConfigError

from .blend import BlendConfig, back_project, paste_inplace, project_region_inplace
from .crops import CropHold, FaceBatch, ModelRange, make_batch
from .detect import Detector
from .shots import ShotCutDetector
from .steady import UNANCHORED_WEIGHT, SteadyFaces, still_share
from .threads import END, Stages, Stopped, stage_error
from .track import Tracker, TrackerConfig
from .types import Faces, Frame

logger = logging.getLogger(__name__)

# The share of the frame step after the recursion's average, as a part of the step's own, for a still face on a
# coded source (``Runner._settle``; BENCHMARKS.md, session 19).
STEP_AFTER_STILL = 0.75


# Measured on the 2-core CPU (BENCHMARKS.md, runner threads): every grouping from three to six threads ran within
# the machine's noise of the others, and six threads cost ~4% more CPU time, so CPU runs keep three. With the model
# on an accelerator the CPU stages are the work left, and each gets its own thread (not measured: no GPU lent yet).
DEFAULT_THREADS = "decode+detect+crops,enhance,blend+encode"
ACCELERATOR_THREADS = "decode,detect,crops,enhance,blend,encode"


class FaceEnhancer(Protocol):
    @property
    def ranges(self) -> tuple[ModelRange, ...]: ...

    def __call__(self, crops: np.ndarray, model: int) -> tuple[np.ndarray, np.ndarray | None]: ...


class FrameSink(Protocol):
    def write(self, image: np.ndarray, pts: int | None) -> None: ...


@dataclass(frozen=True)
class RunConfig:
    """Attributes:
    scale: output size factor (DESIGN §4); the background is resized, faces are super-resolved.
    detect_every: run the detector every k frames; the tracker predicts the frames between.
    force: enhance every face, also those outside every model's range of native sizes (nearest model).
    batch_size: faces per model call gathered across frames.
    max_wait: seconds a batch may wait for more faces (bounds latency on live input).
    queue_size: frames buffered between stages.
    temporal: weight of the track's previous added detail (model output - input) in crop coordinates, aligned
        by the crop boxes (0: off). Off by default since session 15: ``steady`` carries the face along the
        motion instead, and on top of it this smoothing cost PSNR (BENCHMARKS.md, session 15).
    crop_hold: share of the crop side within which a track keeps its previous whole-pixel crop (``CropHold``;
        0: a fresh crop every frame). 0.05 measured: less flicker and a little more PSNR on real video.
    steady: share of a track's previous output face, carried by optical flow onto the current frame and
        averaged in through the paste's ellipse where the frames agree (``pipelines.steady``; 0: off). 0.8
        measured: less flicker than bicubic's and more PSNR (BENCHMARKS.md, session 15). Faces left to the
        resize are carried too when the output is enlarged, at a share between ``steady.UNANCHORED_WEIGHT``
        (no frame step) and this one (the full step), by the frame step's share (session 16).
    large_from: native crop side (input pixels) from which a face shown at least 256 px large goes to the model
        as a 256 px input (``crops.input_size``; 0: every face at 128). The API sets 48 for lossless and finely
        coded sources, 80 for middling coding and 0 for coarse or unknown coding (measured: BENCHMARKS.md,
        sessions 14 and 15; coarse coding's blocking, enlarged, reads as detail).
    blend: blending options.
    tracker: tracker options.
    keep_best: keep each track's best face for the report (``--save-faces``); off, nothing per face is kept.
    threads: which stages share a thread (``parse_threads``); the default is the grouping measured fastest on
        the 2-core CPU (BENCHMARKS.md, runner threads).
    """

    scale: float = 2.0
    detect_every: int = 1
    force: bool = False
    batch_size: int = 8
    max_wait: float = 0.05
    queue_size: int = 8
    temporal: float = 0.0
    crop_hold: float = 0.05
    steady: float = 0.8
    large_from: float = 0.0
    blend: BlendConfig = field(default_factory=BlendConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    keep_best: bool = False
    threads: str = DEFAULT_THREADS


@dataclass
class RunSummary:
    """Counters of a run; ``in_flight`` is faces cut but not yet written, ``latency_*`` (live input only) is
    the time from a frame's arrival to its output being written."""

    frames: int = 0
    faces_detected: int = 0
    faces_enhanced: int = 0
    tracks: int = 0
    in_flight: int = 0
    seconds: float = 0.0
    latency_mean_s: float | None = None
    latency_max_s: float | None = None
    latency_last_s: float | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)  # wall time inside each stage
    stage_cpu_seconds: dict[str, float] = field(default_factory=dict)  # CPU time of its thread inside each stage

    def add_latency(self, seconds: float) -> None:
        n = self.frames  # frames already counted before this one
        self.latency_mean_s = seconds if self.latency_mean_s is None else (self.latency_mean_s * n + seconds) / (n + 1)
        self.latency_max_s = max(self.latency_max_s or 0.0, seconds)
        self.latency_last_s = seconds

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# What travels between the stages (DESIGN §2), immutable: decode -> Frame -> detect+track -> Tracked -> crops ->
# Batched -> enhance -> Batched (with outputs) -> blend -> Rendered -> encode.


@dataclass(frozen=True)
class Tracked:
    frame: Frame
    faces: Faces  # with track ids
    cut: bool  # a shot cut starts at this frame (the frames before show something else)


@dataclass(frozen=True)
class Batched:
    frame: Frame
    faces: Faces
    batch: FaceBatch
    crop_xyxy: np.ndarray  # [N,4] every tracked face's crop box (input pixels), enhanced or not


@dataclass(frozen=True)
class Rendered:
    item: Batched
    image: np.ndarray  # the output frame


ProgressFn = Callable[[RunSummary], None]


def resize_background(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The frame at the output size: cubic up (sharper than bilinear, and the baseline users compare with),
    area down (no aliasing)."""
    w = image.shape[1]
    interp = cv2.INTER_CUBIC if size[0] >= w else cv2.INTER_AREA
    return cv2.resize(image, size, interpolation=interp)


def side_by_side(original: np.ndarray, output: np.ndarray) -> np.ndarray:
    """``--compare`` frame: the input resized exactly as the background is (the bicubic any player shows) |
    the output, each labelled, so the comparison is honest (a nearest-neighbour left half flattered the output)."""
    h, w = output.shape[:2]
    left = resize_background(original, (w, h))
    pair = np.hstack([left, output])
    scale = max(h / 720, 0.35)
    thick = max(1, round(2 * scale))
    for x, label in ((0, "bicubic"), (w, "vidfsr")):
        org = (x + round(10 * scale), round(30 * scale) + 4)
        cv2.putText(pair, label, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(pair, label, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return pair


def align_previous(prev: np.ndarray, prev_xyxy: np.ndarray, cur_xyxy: np.ndarray) -> np.ndarray:
    """The previous enhanced crop resampled onto the current crop's pixels (both boxes in frame pixels).

    Crop boxes move by whole input pixels as a face drifts: one pixel of a 16 px crop is 8 px of the model's
    output, and averaging unaligned crops ghosted instead of steadying (BENCHMARKS.md, flicker).
    """
    size = prev.shape[0]
    side_prev = float(prev_xyxy[2] - prev_xyxy[0])
    scale = float(cur_xyxy[2] - cur_xyxy[0]) / side_prev
    shift = (np.asarray(cur_xyxy[:2], np.float64) - prev_xyxy[:2]) * size / side_prev
    matrix = np.float32([[scale, 0, shift[0]], [0, scale, shift[1]]])  # current crop pixel -> previous crop pixel
    return cv2.warpAffine(prev, matrix, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)  # fmt: skip


class BestFaces:
    """Per track, the face from its best frame: the enhanced one, or for a face no model serves, the face as it
    was resized, with the reason (for ``--save-faces``: a reviewer gets every person, enhanced or not)."""

    def __init__(self) -> None:
        # track -> (enhanced, quality, frame index, face image, output box, reason)
        self.faces: dict[int, tuple[bool, float, int, np.ndarray, list[float], str]] = {}

    def offer(self, track_id: int, frame_index: int, quality: float, face: np.ndarray, box: np.ndarray,
              reason: str = "") -> None:  # fmt: skip
        enhanced = not reason
        best = self.faces.get(track_id)
        if best is None or (enhanced, quality) > (best[0], best[1]):  # an enhanced face beats any other
            self.faces[track_id] = (enhanced, quality, frame_index, face.copy(), [round(float(v), 1) for v in box],
                                    reason)  # fmt: skip

    def drop(self, track_id: int) -> None:
        self.faces.pop(track_id, None)

    def save(self, folder: Path, tracks: dict[int, Any]) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        report = []
        for tid, (enhanced, _quality, frame_index, face, box, reason) in sorted(self.faces.items()):
            name = f"track{tid:04d}_frame{frame_index:06d}.png"
            cv2.imwrite(str(folder / name), face)
            rec = tracks.get(tid)
            report.append({
                "track_id": tid, "image": name, "best_frame": frame_index, "box_xyxy": box,
                "enhanced": enhanced, **({"reason": reason} if reason else {}),
                "first_frame": rec.first_frame if rec else frame_index,
                "last_frame": rec.last_frame if rec else frame_index,
            })  # fmt: skip
        path = folder / "tracks.json"
        path.write_text(json.dumps({"tracks": report}, indent=1))
        return path


class Runner:
    """Runs frames through detection, tracking, enhancement and blending into one or more sinks."""

    def __init__(self, detector: Detector, enhancer: FaceEnhancer, config: RunConfig | None = None) -> None:
        self.detector = detector
        self.enhancer = enhancer
        self.config = config or RunConfig()
        self.tracker = Tracker(self.config.tracker)
        self.best = BestFaces()
        self.summary = RunSummary()
        self._previous: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # track -> (added detail, crop box)
        self._steady = SteadyFaces()
        self._ended: list[tuple[int, int]] = []  # (frame index, track id) of ended tracks, not yet evicted
        self._count_lock = threading.Lock()
        self._frames: tuple[int, ...] = ()  # frames each model takes, read from the enhancer when a run starts
        # Stream state that outlives one run() call, so that frame-by-frame callers (FrameEnhancer) get the
        # same shot cuts, held crops and multi-frame history as one long run.
        self._cuts = ShotCutDetector()
        self._hold: CropHold | None = None
        self._past: deque[np.ndarray] | None = None

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        return round(width * self.config.scale), round(height * self.config.scale)

    def start_over(self) -> None:
        """Forget every track, its smoothing state and its best face, and restart the detector's schedule: the
        next frame starts an unrelated sequence (the next image of a folder), which must come out as it would
        alone (a folder's second image skipped YuNet's upscaled pass and took the first one's smoothing)."""
        reset = getattr(self.detector, "reset", None)
        if reset is not None:
            reset()
        self._cuts = ShotCutDetector()
        self._hold = None
        self._past = None
        self.tracker = Tracker(self.config.tracker)
        self.best = BestFaces()
        self._previous.clear()
        self._steady.clear()
        self._ended.clear()

    # -------------------------------------------------------------------------------- stages

    def _steps(self, write: Callable[[Frame, np.ndarray], None], progress: ProgressFn | None,
               start: float) -> dict[str, _Step]:  # fmt: skip
        """The five stages after decode, each a step that maps one input to zero or more outputs."""
        cfg = self.config
        cuts = self._cuts
        # Enhancers without ``frames`` (plain callables, test spies) take one frame per model.
        self._frames = tuple(getattr(self.enhancer, "frames", ()) or (1,) * len(self.enhancer.ranges))

        def detect(frame: Frame) -> list:
            cut = cuts(frame.image)
            if cut:
                self.tracker.reset()
            detections = self.detector(frame.image) if frame.index % cfg.detect_every == 0 else None
            if detections is not None:
                self.summary.faces_detected += len(detections)
            faces = self.tracker.update(detections)
            for event in self.tracker.pop_events():
                if event.kind == "ended":
                    self._track_ended(event.track_id, frame.index)
            return [Tracked(frame, faces, cut)]

        # Multi-frame models see the same crop box in the frames before: the crops stage keeps those frames.
        keep = max(max(self._frames, default=1) - 1, 0)
        if self._past is None or self._past.maxlen != keep:
            self._past = deque(maxlen=keep)
        if self._hold is None or self._hold.share != cfg.crop_hold:
            self._hold = CropHold(cfg.crop_hold)
        past, hold = self._past, self._hold

        def crops(tracked: Tracked) -> list:
            frame, faces = tracked.frame, tracked.faces
            if tracked.cut:
                past.clear()  # another shot: the frames before show something else
                hold.reset()
            boxes = hold(faces) if len(faces) else np.zeros((0, 4))
            batch = make_batch(frame, faces, self.enhancer.ranges, cfg.force, tuple(past), self._frames, boxes,
                               cfg.scale, cfg.large_from)  # fmt: skip
            if past.maxlen:
                past.appendleft(frame.image)
            with self._count_lock:
                self.summary.in_flight += len(batch)
            return [Batched(frame, faces, batch, boxes)]

        def blend(item: Batched) -> list:
            return [Rendered(item, self.render(item))]

        def encode(rendered: Rendered) -> list:
            item, image = rendered.item, rendered.image
            write(item.frame, image)
            if item.frame.received is not None:
                self.summary.add_latency(time.monotonic() - item.frame.received)
            with self._count_lock:
                self.summary.in_flight -= len(item.batch)
            self.summary.frames += 1
            self.summary.tracks = self.tracker.tracks_started
            self.summary.seconds = time.perf_counter() - start
            if progress:
                progress(self.summary)
            return []

        return {
            "detect": _Step("detect", detect), "crops": _Step("crops", crops), "enhance": _Batcher(self),
            "blend": _Step("blend", blend), "encode": _Step("encode", encode),
        }  # fmt: skip

    def _account(self, name: str, wall: float, cpu: float) -> None:
        with self._count_lock:
            t, c = self.summary.stage_seconds, self.summary.stage_cpu_seconds
            t[name] = t.get(name, 0.0) + wall
            c[name] = c.get(name, 0.0) + cpu

    def _group(self, stages: Stages, steps: list[_Step], inq: queue.Queue | Iterable[Frame],
               outq: queue.Queue | None) -> None:  # fmt: skip
        """One thread's loop: pull from the previous queue (or the source), push through this group's steps."""

        def feed(i: int, items: list) -> None:
            for item in items:
                if i == len(steps):
                    assert outq is not None
                    stages.put(outq, item)
                    continue
                w0, c0 = time.perf_counter(), time.thread_time()
                try:
                    out = steps[i](item)
                except Exception as exc:
                    raise _StageFailed(steps[i].name, exc) from exc
                self._account(steps[i].name, time.perf_counter() - w0, time.thread_time() - c0)
                feed(i + 1, out)

        def flush() -> None:
            for i, step in enumerate(steps):
                feed(i + 1, step.flush())
            if outq is not None:
                stages.put(outq, END)

        if not isinstance(inq, queue.Queue):  # the decode group pulls frames from the source
            it = iter(inq)
            while True:
                if stages.stop.is_set():
                    raise Stopped
                w0, c0 = time.perf_counter(), time.thread_time()
                try:
                    frame = next(it, None)
                except Exception as exc:
                    raise _StageFailed("decode", exc) from exc
                self._account("decode", time.perf_counter() - w0, time.thread_time() - c0)
                if frame is None:
                    break
                feed(0, [frame])
            flush()
            return
        while True:
            waits = [w for step in steps if (w := step.wait()) is not None]
            try:
                item = stages.get(inq, timeout=min(waits) if waits else None)
            except queue.Empty:
                for i, step in enumerate(steps):
                    feed(i + 1, step.poll())
                continue
            if item is END:
                flush()
                return
            feed(0, [item])

    def _run_model(self, items: list[Batched]) -> list[Batched]:
        """One model call per model and input size over the faces of several frames; new items carry the
        enhanced batches, in the order they came."""
        sizes = {i.batch.crops.shape[1] for i in items if len(i.batch)}
        if len(sizes) > 1:
            done = list(items)
            for size in sorted(sizes):
                idx = [j for j, i in enumerate(items) if len(i.batch) and i.batch.crops.shape[1] == size]
                for j, out in zip(idx, self._run_model([items[j] for j in idx]), strict=True):
                    done[j] = out
            return done
        items_with = [i for i in items if len(i.batch)]
        if not items_with:
            return list(items)
        crops = np.concatenate([i.batch.crops for i in items_with])
        models = np.concatenate([i.batch.model for i in items_with])
        history = None
        if any(i.batch.history is not None for i in items_with):
            history = np.concatenate([i.batch.history for i in items_with])
        sr = np.empty_like(crops)
        masks: np.ndarray | None = None
        for model in np.unique(models):
            sel = np.flatnonzero(models == model)
            k = self._frames[model]
            x = crops[sel]
            if k > 1:
                assert history is not None
                # [n,128,128,3K]: the current crop, then the same box in frames t-1 ... t-K+1.
                x = np.concatenate([x, *(history[sel, j] for j in range(k - 1))], axis=-1)
            out, mask = self.enhancer(x, int(model))
            sr[sel] = out
            if mask is not None:
                if masks is None:
                    masks = np.zeros(crops.shape[:3], np.float32)
                masks[sel] = mask
        done, start = [], 0
        for i in items:
            n = len(i.batch)
            if n:
                m = None if masks is None else masks[start : start + n]
                i = Batched(i.frame, i.faces, i.batch.with_output(sr[start : start + n], m), i.crop_xyxy)
            done.append(i)
            start += n
        self.summary.faces_enhanced += len(crops)
        return done

    def render(self, item: Batched) -> np.ndarray:
        """The output frame: the background resized, every enhanced face pasted over its own region."""
        cfg = self.config
        h, w = item.frame.image.shape[:2]
        size = self.output_size(w, h)
        # Bicubic, what any player shows: bilinear cost 1.8 dB in the face region at 8x (issue 12).
        canvas = item.frame.image.copy() if size == (w, h) else resize_background(item.frame.image, size)
        self._evict(item.frame.index)
        factor = np.array([size[0] / w, size[1] / h, size[0] / w, size[1] / h])  # input -> output pixels (xyxy)
        b = item.batch
        for k in range(len(b)):
            assert b.sr is not None
            tid = int(b.track_id[k])
            # Back-projected before the smoothing: the same PSNR as after it, and the smoothing then also steadies
            # the frame-to-frame differences the step copies in (flicker 1.77 -> 1.63 at 8x; BENCHMARKS.md).
            face = back_project(b.sr[k], item.frame.image, b.crop_xyxy[k], cfg.blend.consistency)
            face = self._smooth(tid, face, b.crops[k], b.crop_xyxy[k]) if cfg.temporal > 0 else face
            box = b.crop_xyxy[k] * factor
            paste_inplace(canvas, face, box, cfg.blend, None if b.mask is None else b.mask[k], base=b.crops[k])
            self._settle(tid, canvas, item.frame.image, b.crop_xyxy[k], factor, cfg.steady, still_share(cfg.steady))
            if cfg.keep_best:
                self.best.offer(tid, b.frame_index, float(box[2] - box[0]) * float(b.score[k]), face, box)
        touch_passed = size[0] > w and (cfg.blend.frame_consistency > 0 or cfg.steady > 0)
        passed = self._passed_through(item) if cfg.keep_best or touch_passed else []
        if touch_passed:
            # Faces no model serves are resized like the frame, and on lossless input the step makes that
            # resize better than bicubic there too (+0.40 dB in the face boxes at 8x, BENCHMARKS.md session 12).
            # Carried along the motion as enhanced faces are, the step gathers detail over the frames (lossless:
            # 2x +0.55 -> +1.00 dB, a 158 px crop at 4x +0.18 -> +0.28); without the step only the coding noise is
            # averaged. The step's share says how firmly the face is anchored to the current frame, and the
            # previous face's share rises with it, from UNANCHORED_WEIGHT to the steady share: a full share on a
            # weakly anchored fast face lagged it (2x, H.264 CRF 23; BENCHMARKS.md, session 16).
            # A still face's share rises the same way, to the still share: without the step (H.264) the frames of a
            # still face carry the same coding error, and a longer memory only lags (BENCHMARKS.md, session 18).
            low = min(cfg.steady, UNANCHORED_WEIGHT)
            anchor = min(cfg.blend.frame_consistency, 1.0)
            weight = low + (cfg.steady - low) * anchor
            still = low + (still_share(cfg.steady) - low) * anchor
            for tid, box, _ in passed:
                self._settle(tid, canvas, item.frame.image, box, factor, weight, still)
        if cfg.keep_best:
            self._offer_passed_through(passed, item.frame.index, canvas, (size[0] / w, size[1] / h))
        return canvas

    def _settle(
        self, track_id: int, canvas: np.ndarray, image: np.ndarray, crop_xyxy: np.ndarray, factor: np.ndarray,
        weight: float, still: float,
    ) -> None:  # fmt: skip
        """The blend stage's steps after the paste (or the resize) over one face's crop box ``crop_xyxy`` (input
        pixels; ``factor`` scales it to the canvas): the frame step, the track's previous face averaged in at
        ``weight``, or up to ``still`` where the face holds still (0: no recursion state at all, and one step),
        the step again, and the finished face kept for the next frame."""
        share = self.config.blend.frame_consistency
        # The step runs before the average, so that what it copies in from this frame is averaged with the past
        # too, and again after it. On lossless input the second step is whole (the input is the truth); on coded
        # input its share falls to STEP_AFTER_STILL for a still face, whose past frames averaged this frame's
        # coding noise away, and stays whole for a moving one (a weaker step lagged) and where nothing was
        # averaged (a track's first frame, a still image) (BENCHMARKS.md, session 19).
        if share > 0:
            project_region_inplace(canvas, image, crop_xyxy, share)
        if weight <= 0:
            return
        stillness = self._steady.apply_inplace(track_id, canvas, crop_xyxy * factor, float(factor[0]), weight,
                                               share, still)  # fmt: skip
        if share > 0:
            after = share if share >= 1 else share * (1 - (1 - STEP_AFTER_STILL) * stillness)
            project_region_inplace(canvas, image, crop_xyxy, after)
        self._steady.remember(track_id, canvas)

    @staticmethod
    def _passed_through(item: Batched) -> list[tuple[int, np.ndarray, float]]:
        """(track id, crop box in input pixels, score) of the tracked faces in this frame no model enhanced."""
        if not len(item.faces) or item.faces.track_id is None:
            return []
        enhanced = {int(t) for t in item.batch.track_id}
        faces = zip(item.faces.track_id, item.crop_xyxy, item.faces.score, strict=True)
        return [(int(tid), box, float(score)) for tid, box, score in faces if int(tid) not in enhanced]

    def _offer_passed_through(
        self, passed: list[tuple[int, np.ndarray, float]], frame_index: int, canvas: np.ndarray,
        factor: tuple[float, float],
    ) -> None:  # fmt: skip
        """Faces no model served (``_passed_through``) still belong in the report: their region of the output,
        and why."""
        ranges = self.enhancer.ranges
        served = ", ".join(f"{r.lo:g}-{r.hi:g}" for r in ranges) or "none"
        for tid, box, score in passed:
            side = float(box[2] - box[0])
            out = box * np.array([factor[0], factor[1], factor[0], factor[1]])
            x0, y0 = max(int(out[0]), 0), max(int(out[1]), 0)
            x1, y1 = min(int(np.ceil(out[2])), canvas.shape[1]), min(int(np.ceil(out[3])), canvas.shape[0])
            if x1 <= x0 or y1 <= y0:
                continue
            reason = f"face crop of {side:.0f} px is outside the models' range ({served} px): resized like the frame"
            self.best.offer(int(tid), frame_index, float(out[2] - out[0]) * float(score), canvas[y0:y1, x0:x1],
                            out, reason)  # fmt: skip

    def _track_ended(self, track_id: int, frame_index: int) -> None:
        """Every per-track state goes with its track: memory follows the live tracks, not the run's length.

        Runs in the analysis thread while render (another thread) may still read the smoothing state of frames
        in flight, so the drop is handed to render through a queue-ordered list instead of done here.
        """
        with self._count_lock:
            self._ended.append((frame_index, track_id))
        if not self.config.keep_best:
            self.tracker.forget(track_id)

    def _evict(self, frame_index: int) -> None:
        """Drop the smoothing state of tracks that ended by ``frame_index`` (called by render, in frame order:
        a track that ended at frame f has no face in frame f or later)."""
        with self._count_lock:
            due = [tid for f, tid in self._ended if f <= frame_index]
            self._ended = [(f, tid) for f, tid in self._ended if f > frame_index]
        for tid in due:
            self._previous.pop(tid, None)
            self._steady.forget(tid)

    def _smooth(self, track_id: int, sr: np.ndarray, lr_up: np.ndarray, crop_xyxy: np.ndarray) -> np.ndarray:
        """Temporal smoothing of the detail the model adds (its output minus its input), aligned by the crop
        boxes: the base stays the current frame, so motion does not lag or ghost, while the added detail, which
        follows each frame's compression noise, averages over frames instead of flickering."""
        residual = sr.astype(np.float32) - lr_up.astype(np.float32)
        prev = self._previous.get(track_id)
        if prev is not None:
            before = prev[0]
            if before.shape != residual.shape:  # the face crossed the large-input size: same crop, other grid
                before = cv2.resize(before, residual.shape[1::-1], interpolation=cv2.INTER_LINEAR)
            aligned = align_previous(before, prev[1], crop_xyxy)
            residual = self.config.temporal * aligned + (1 - self.config.temporal) * residual
        self._previous[track_id] = (residual, crop_xyxy)
        return np.clip(lr_up + residual, 0, 255).round().astype(np.uint8)

    # -------------------------------------------------------------------------------- driver

    def run(
        self,
        frames: Iterable[Frame],
        write: Callable[[Frame, np.ndarray], None],
        progress: ProgressFn | None = None,
        interrupt_source: Callable[[], None] | None = None,
    ) -> RunSummary:
        """Process every frame; ``write(frame, output_image)`` is called in input order from this thread.

        The stages run in the threads ``RunConfig.threads`` groups them into; the last group (with encode) runs
        in this thread. ``interrupt_source`` is called first when the run stops early (an error, Ctrl-C,
        SIGTERM), so a source blocked waiting for its next frame (a frozen camera) lets go at once instead of
        after its read timeout.
        """
        cfg = self.config
        groups = parse_threads(cfg.threads)
        stages = Stages()
        start = time.perf_counter()
        steps = self._steps(write, progress, start)
        queues: list[queue.Queue] = [queue.Queue(cfg.queue_size) for _ in groups[:-1]]
        for k, group in enumerate(groups[:-1]):
            inq: queue.Queue | Iterable[Frame] = frames if k == 0 else queues[k - 1]
            group_steps = [steps[n] for n in group if n != "decode"]
            stages.spawn("+".join(group), self._worker, stages, group_steps, inq, queues[k])
        last = [steps[n] for n in groups[-1] if n != "decode"]
        try:
            self._group(stages, last, queues[-1] if queues else frames, None)
        except _StageFailed as exc:
            if interrupt_source is not None:
                interrupt_source()
            raise stage_error(exc.stage, exc.error) from exc.error
        except Stopped:
            stages.check()
            raise
        except BaseException:
            if interrupt_source is not None:
                interrupt_source()
            raise
        finally:
            stages.shutdown()
        stages.check()
        self.summary.seconds = time.perf_counter() - start
        return self.summary

    def _worker(self, stages: Stages, steps: list[_Step], inq: Any, outq: queue.Queue) -> None:
        """A group in its own thread: a failing step is recorded under its own stage name."""
        try:
            self._group(stages, steps, inq, outq)
        except _StageFailed as exc:
            stages.fail(exc.stage, exc.error)


STAGES = ("decode", "detect", "crops", "enhance", "blend", "encode")


def parse_threads(spec: str) -> list[list[str]]:
    """``"decode+detect+crops,enhance,blend+encode"`` -> the stages each thread runs, in order.

    Every stage appears once, in pipeline order; ``+`` puts neighbours in one thread, ``,`` starts the next one;
    the last thread is the caller's. The enhance stage waits for more faces with a timeout, so it cannot share
    the thread that blocks on the source.
    """
    groups = [[n.strip() for n in part.split("+")] for part in spec.split(",")]
    flat = [n for g in groups for n in g]
    if flat != list(STAGES):
        raise ConfigError(
            f"threads {spec!r} must name the stages {', '.join(STAGES)} once each, in that order "
            '("+" joins neighbours in one thread, "," starts the next thread)'
        )
    if "enhance" in groups[0]:
        raise ConfigError(f"threads {spec!r}: enhance cannot share the decode thread (it waits on the source)")
    return groups


class _StageFailed(Exception):
    """A step's exception on its way out of its thread, with the stage it came from."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(stage)
        self.stage, self.error = stage, error


class _Step:
    """A stage as a step of a thread's loop: ``__call__`` maps one input to its outputs (zero or more)."""

    def __init__(self, name: str, fn: Callable[[Any], list] | None = None) -> None:
        self.name = name
        self._fn = fn

    def __call__(self, item: Any) -> list:
        assert self._fn is not None
        return self._fn(item)

    def wait(self) -> float | None:
        """Seconds this step may wait for its next input before ``poll`` (None: as long as it takes)."""
        return None

    def poll(self) -> list:
        """Outputs due after a wait ran out."""
        return []

    def flush(self) -> list:
        """Outputs held back, at the end of the stream."""
        return []


class _Batcher(_Step):
    """The enhance stage: gathers faces across frames up to ``batch_size`` (or ``queue_size`` frames), or until
    ``max_wait`` seconds pass with faces waiting, then runs the model; frames leave in order."""

    def __init__(self, runner: Runner) -> None:
        super().__init__("enhance")
        self.runner = runner
        self.pending: list[Batched] = []
        self.faces = 0

    def __call__(self, item: Batched) -> list:
        cfg = self.runner.config
        self.pending.append(item)
        self.faces += len(item.batch)
        if self.faces < cfg.batch_size and len(self.pending) < cfg.queue_size:
            return []
        return self.flush()

    def wait(self) -> float | None:
        return self.runner.config.max_wait if self.pending else None

    def poll(self) -> list:
        return self.flush()

    def flush(self) -> list:
        if not self.pending:
            return []
        items, self.pending, self.faces = self.pending, [], 0
        return self.runner._run_model(items)

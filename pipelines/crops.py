"""From tracked faces to model inputs (DESIGN §4): which model a face gets, and its model input.

A face whose crop side is c input pixels becomes c*S output pixels. Each model serves a range of native crop
sides (``ModelRange``: from its weights' metadata, measured as the sizes where it beats bicubic on real video).
The crop is cut straight from the frame to the model's 128x128 input with OpenCV's cubic filter, the filter the
real-world models were trained with: never shrunk below its native c pixels first (shrinking a 39 px crop to
32 px lost 3.4 dB that the model could not win back; issue 12). A face outside every range is resized like the
background, unless forced, when the nearest range's model takes it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .blend import JPEG_CODECS, LOSSLESS_CODECS
from .croprule import crop_boxes, cut_crop, snap_to_pixels
from .qp import QP_CODECS
from .types import Faces, Frame

MODEL_SIZE = 128
# Large faces on lossless and finely coded sources go to the (fully convolutional) model at twice its trained
# size: a 48-80 px crop cut to 256 px is as blurred as a 24-40 px one at 128, inside the trained range, and the
# output has twice the pixels where the face is shown 3-5x larger than 128 px (``large_from``; BENCHMARKS.md,
# session 14).
LARGE_SIZE = 256
FINE_LARGE_FROM = 48.0  # lossless and finely coded sources (``auto_large_from``)
LARGE_MAX_QP = 26.0  # H.264 keyframe QP up to which large inputs pay (CRF 18-23 did, 28 did not at 8x)
LARGE_MIN_JPEG_QUALITY = 90  # JPEG/MJPEG quality from which they pay (94 did, 84 and 68 did not at 8x)
# Coarser coding: only crops enlarged at most 256/80 = 3.2x reach 256 px. Blocking enlarged 4-5x reads as
# detail to the model (8x, 48-64 px crops lost at CRF 28); enlarged ~2-3x it does not (4x, 80-160 px crops
# gained at CRF 28 and MJPEG quality 68 on every clip). Starved streams keep 128 (a 4x CRF 33 clip lost).
MEDIUM_LARGE_FROM = 80.0
MEDIUM_MAX_QP = 31.0
MEDIUM_MIN_JPEG_QUALITY = 60
# Enlarged less than 2x to 256 px, a crop is sharper than any the model was trained on at its size (JPEG stills
# at 2x and 3x, crops of 140-190 px: up to -0.87 dB against bicubic; BENCHMARKS.md, session 15).
LARGE_MAX_SIDE = LARGE_SIZE / 2


def auto_large_from(codec: str | None, quality: float | None = None) -> float:
    """The native crop side from which faces reach the model as 256 px inputs, by source: 48 px for lossless
    sources and finely coded ones (H.264 of keyframe QP 26 or finer, JPEG/MJPEG of quality 90 or more); 80 px
    for H.264 of keyframe QP up to 31 and JPEG/MJPEG of quality 60 or more; none for coarser or unknown coding.
    BENCHMARKS.md, session 14: on lossless input +0.18 to +0.57 dB for 48-80 px crops shown 256 px or larger
    (smaller crops lose); at H.264 CRF 18/23 and MJPEG quality 94 every mean and worst clip rises, at CRF 28/33
    and MJPEG quality 68 the 8x means fall (the enlarged blocking reads as detail). Session 15: from 80 px the
    4x CRF 28 and quality-68 faces gain on every clip, CRF 33's do not."""
    codec = (codec or "").lower()
    if codec in LOSSLESS_CODECS:
        return FINE_LARGE_FROM
    if quality is None:
        return 0.0
    if codec in QP_CODECS:
        return FINE_LARGE_FROM if quality <= LARGE_MAX_QP else MEDIUM_LARGE_FROM if quality <= MEDIUM_MAX_QP else 0.0
    if codec in JPEG_CODECS:
        if quality >= LARGE_MIN_JPEG_QUALITY:
            return FINE_LARGE_FROM
        return MEDIUM_LARGE_FROM if quality >= MEDIUM_MIN_JPEG_QUALITY else 0.0
    return 0.0


def input_size(native_side: float, scale: float, large_from: float) -> int:
    """The model input side for a crop of ``native_side`` input pixels shown ``scale`` times larger: LARGE_SIZE
    from ``large_from`` pixels (0: never) up to LARGE_MAX_SIDE when the face is shown at least that large, else
    MODEL_SIZE."""
    if large_from > 0 and large_from <= native_side <= LARGE_MAX_SIDE and native_side * scale >= LARGE_SIZE:
        return LARGE_SIZE
    return MODEL_SIZE


@dataclass(frozen=True)
class ModelRange:
    """Native crop sides, in input-frame pixels, that one model serves (inclusive)."""

    lo: float
    hi: float

    def __contains__(self, side: float) -> bool:
        return self.lo <= side <= self.hi

    def distance(self, side: float) -> float:
        """How far outside the range ``side`` is, as a log ratio (0 inside)."""
        if side in self:
            return 0.0
        return abs(math.log(side / (self.lo if side < self.lo else self.hi)))


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class FaceBatch:
    """The faces of one frame on their way through enhancement (DESIGN §2). Immutable, arrays read-only: the
    enhance stage returns a new batch with ``sr`` (and ``mask``) set instead of filling this one in place.

    ``crops`` are the model inputs (uint8 BGR, 128x128, or 256x256 for large faces on lossless and finely coded
    sources) cut from each crop's native pixels; ``crop_xyxy`` is the transform back to frame pixels (the square
    crop box); ``model`` the index of the model (range) serving each.
    """

    frame_index: int
    crops: np.ndarray  # [B,S,S,3] uint8 BGR, S = 128 (MODEL_SIZE) or, for large faces, LARGE_SIZE
    crop_xyxy: np.ndarray  # [B,4] float64, input-frame pixels
    track_id: np.ndarray  # [B] int64
    model: np.ndarray  # [B] int64
    native_side: np.ndarray  # [B] float64, crop side in input pixels
    score: np.ndarray  # [B] float32
    sr: np.ndarray | None = None  # [B,S,S,3] uint8 BGR, the enhanced crops
    mask: np.ndarray | None = None  # [B,S,S] float32 in [0,1], the model's parsing union, when asked for
    # [B,K-1,S,S,3] uint8 BGR: the same crop boxes cut from the K-1 frames before (most recent first), for
    # multi-frame models; None when no model of the run takes more than one frame.
    history: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.crops)
        for name in ("crop_xyxy", "track_id", "model", "native_side", "score"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"FaceBatch: {name} has {len(getattr(self, name))} rows for {n} crops")
        if self.history is not None and len(self.history) != n:
            raise ValueError(f"FaceBatch: history has {len(self.history)} rows for {n} crops")
        for name in ("crops", "crop_xyxy", "track_id", "model", "native_side", "score", "sr", "mask", "history"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _frozen(value))

    def __len__(self) -> int:
        return len(self.crops)

    def with_output(self, sr: np.ndarray, mask: np.ndarray | None) -> FaceBatch:
        if len(sr) != len(self):
            raise ValueError(f"FaceBatch: {len(sr)} outputs for {len(self)} crops")
        return replace(self, sr=sr, mask=mask)

    @staticmethod
    def empty(frame_index: int) -> FaceBatch:
        return FaceBatch(
            frame_index, np.zeros((0, MODEL_SIZE, MODEL_SIZE, 3), np.uint8), np.zeros((0, 4)),
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.float32),
        )  # fmt: skip


def choose_model(crop_side: float, ranges: Sequence[ModelRange], force: bool = False) -> int | None:
    """Index of the first model whose range holds ``crop_side``; None passes the face through.

    With ``force``, a face outside every range goes to the nearest one.
    """
    if not ranges or crop_side < 4:
        return None
    for i, r in enumerate(ranges):
        if crop_side in r:
            return i
    if not force:
        return None
    return min(range(len(ranges)), key=lambda i: ranges[i].distance(crop_side))


class CropHold:
    """Each track's whole-pixel crop box, kept in place while the face stays near it.

    The crop rule snaps every frame's box to whole pixels, so a still face whose detector box wavers by a
    fraction of a pixel gets a crop that jumps by one pixel, or one pixel wider, from frame to frame: the model
    then sees the face shifted or rescaled by a few per cent and redraws its detail differently, which is
    flicker the input does not have. A track keeps its previous crop while every edge of the wanted one stays
    within ``share`` of the crop side (plus the half pixel snapping allows) of it; beyond that the crop
    follows the face again. Measured on the real-video benchmark with v3 (BENCHMARKS.md, session 13), share
    0.05: flicker at 8x 1.60 -> 1.53 lossless and 2.33 -> 2.23 at CRF 28, gain +1.17 -> +1.20 / +0.38 -> +0.37
    dB; at 4x lossless +0.70 -> +0.74. A face that moves keeps a framing within the share of the rule's.
    """

    def __init__(self, share: float = 0.05) -> None:
        if not 0 <= share < 0.5:
            raise ValueError(f"crop hold share must be in [0, 0.5), got {share}")
        self.share = share
        self._held: dict[int, np.ndarray] = {}

    def __call__(self, faces: Faces) -> np.ndarray:
        """[N,4] whole-pixel crop boxes (xyxy, input pixels) of ``faces``, held per track id."""
        wanted = crop_boxes(faces.xyxy)
        boxes = snap_to_pixels(wanted)
        if self.share <= 0 or faces.track_id is None:
            return boxes
        held: dict[int, np.ndarray] = {}
        for k, tid in enumerate(faces.track_id.tolist()):
            prev = self._held.get(tid)
            if prev is not None:
                tolerance = self.share * (wanted[k, 2] - wanted[k, 0]) + 0.5
                if np.abs(wanted[k] - prev).max() <= tolerance:
                    boxes[k] = prev
            held[tid] = boxes[k]
        self._held = held  # tracks not in this frame let go of their crop
        return boxes

    def reset(self) -> None:
        """Forget every held crop (a shot cut: the faces after it are framed afresh)."""
        self._held.clear()


def make_batch(
    frame: Frame,
    faces: Faces,
    ranges: Sequence[ModelRange],
    force: bool = False,
    history: Sequence[np.ndarray] = (),
    frames: Sequence[int] = (),
    crop_xyxy: np.ndarray | None = None,
    scale: float = 1.0,
    large_from: float = 0.0,
) -> FaceBatch:
    """Cut the model input of every tracked face some model serves.

    ``frames[i]`` is how many frames model i takes (default 1 each). For models that take K > 1, the same crop
    box is also cut from the K-1 images in ``history`` (the frames before this one, most recent first), as the
    multi-frame models were trained (``realdeg.degrade_burst``); where the history is shorter (the stream's
    first frames, after a shot cut) the oldest available crop, or the current one, stands in. ``crop_xyxy``:
    the faces' crop boxes when the caller holds them (``CropHold``); by default the crop rule snapped to pixels.
    ``scale`` and ``large_from``: the faces are cut to ``LARGE_SIZE`` when every served face qualifies
    (``input_size``), else all to ``MODEL_SIZE``: one input size per frame keeps the batch one array, and a
    frame with faces of both kinds (rare: several people at very different distances) gets 128 px. At
    ``LARGE_SIZE`` a model serves the crops of twice the sides its range names (the range is measured at 128 px:
    a 120 px crop cut to 256 is as blurred as a 60 px one cut to 128), up to ``LARGE_MAX_SIDE``.
    """
    if not len(faces):
        return FaceBatch.empty(frame.index)
    extra = max(frames, default=1) - 1
    boxes = snap_to_pixels(crop_boxes(faces.xyxy)) if crop_xyxy is None else np.asarray(crop_xyxy, np.float64)
    ids = faces.track_id if faces.track_id is not None else np.arange(len(faces))
    # A face cut to LARGE_SIZE is as blurred as one of half its side cut to MODEL_SIZE: that side is what the
    # model's measured range (at MODEL_SIZE) is asked about.
    served = []
    for box, tid, score in zip(boxes, ids, faces.score, strict=True):
        side = float(box[2] - box[0])
        big = input_size(side, scale, large_from) == LARGE_SIZE
        model = choose_model(side * MODEL_SIZE / (LARGE_SIZE if big else MODEL_SIZE), ranges, force)
        if model is not None:
            served.append((box, int(tid), model, side, float(score), big))
    # One input size per frame: all served faces large, or all at 128 with each model chosen at its own side.
    size = LARGE_SIZE if served and all(r[5] for r in served) else MODEL_SIZE
    rows = []
    for box, tid, model, side, score, big in served:
        if big and size == MODEL_SIZE:
            model = choose_model(side, ranges, force)
            if model is None:
                continue
        rows.append((box, tid, model, side, score))
    if not rows:
        return FaceBatch.empty(frame.index)
    xyxy, tids, models, sides, scores = zip(*rows, strict=True)
    crops = [cut_crop(frame.image, box, size) for box in xyxy]
    past = None
    if extra > 0:
        past_rows = []
        for crop, box, model in zip(crops, xyxy, models, strict=True):
            want = frames[model] - 1
            cut = [cut_crop(img, box, size) for img in history[:want]]
            while len(cut) < extra:
                cut.append(cut[-1] if cut else crop)
            past_rows.append(np.stack(cut))
        past = np.stack(past_rows)
    return FaceBatch(frame.index, np.stack(crops), np.stack(xyxy), np.array(tids, np.int64),
                     np.array(models, np.int64), np.array(sides), np.array(scores, np.float32),
                     history=past)  # fmt: skip

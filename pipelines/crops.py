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
from dataclasses import dataclass

import numpy as np

from .croprule import crop_boxes, cut_crop
from .types import Faces, Frame

MODEL_SIZE = 128


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


@dataclass
class FaceJob:
    """One face of one frame on its way through enhancement.

    ``lr_up`` is the model input (uint8 BGR, 128x128) cut from the crop's native pixels; ``native_side`` is
    the crop side in input pixels; ``sr`` and ``mask`` are filled by the enhance stage.
    """

    frame_index: int
    track_id: int
    crop_xyxy: np.ndarray  # square crop box in input-frame pixels
    model: int  # index of the model (its range) in the enhancer's ranges
    lr_up: np.ndarray
    score: float = 0.0
    native_side: float = 0.0
    sr: np.ndarray | None = None
    mask: np.ndarray | None = None  # [128,128] float in [0,1] from the model's parsing maps, when asked for


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


def make_jobs(frame: Frame, faces: Faces, ranges: Sequence[ModelRange], force: bool = False) -> list[FaceJob]:
    """Cut the model input of every tracked face some model serves."""
    if not len(faces):
        return []
    boxes = crop_boxes(faces.xyxy)
    ids = faces.track_id if faces.track_id is not None else np.arange(len(faces))
    jobs = []
    for box, tid, score in zip(boxes, ids, faces.score, strict=True):
        side = float(box[2] - box[0])
        model = choose_model(side, ranges, force)
        if model is None:
            continue
        lr_up = cut_crop(frame.image, box, MODEL_SIZE)
        jobs.append(FaceJob(frame.index, int(tid), box, model, lr_up, float(score), side))
    return jobs

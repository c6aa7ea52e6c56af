"""From tracked faces to model inputs (DESIGN §4): which model a face gets, and its LR crop.

A face whose crop side is c input pixels becomes c*S output pixels. The pipeline picks the model whose LR side
(16 for x8, 32 for x4, 64 for x2) best matches c, cuts the crop straight to that side, and upsamples it to 128
with the training kernel. A face more than ``max_shrink`` times larger than the largest LR side would lose
detail on the way in, so it is passed through (resized like the background) unless forced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .croprule import crop_boxes, cut_crop
from .resample import resize_bicubic
from .types import Faces, Frame

MODEL_SIZE = 128


@dataclass
class FaceJob:
    """One face of one frame on its way through enhancement.

    ``lr_up`` is the model input (uint8 BGR, 128x128); ``sr`` and ``mask`` are filled by the enhance stage.
    """

    frame_index: int
    track_id: int
    crop_xyxy: np.ndarray  # square crop box in input-frame pixels
    lr_side: int
    lr_up: np.ndarray
    score: float = 0.0
    sr: np.ndarray | None = None
    mask: np.ndarray | None = None  # [128,128] float in [0,1] from the model's parsing maps, when asked for


def choose_lr_side(crop_side: float, lr_sides: tuple[int, ...], max_shrink: float = 1.5, force: bool = False) -> int:
    """The LR side of the model for a crop of ``crop_side`` px; 0 means pass the face through."""
    if not lr_sides or crop_side < 4:
        return 0
    best = min(lr_sides, key=lambda s: abs(math.log(crop_side / s)))
    if crop_side > best * max_shrink and not force:
        return 0
    return best


def make_jobs(
    frame: Frame, faces: Faces, lr_sides: tuple[int, ...], max_shrink: float = 1.5, force: bool = False
) -> list[FaceJob]:
    """Cut the LR crop of every tracked face the models can improve."""
    if not len(faces):
        return []
    boxes = crop_boxes(faces.xyxy)
    ids = faces.track_id if faces.track_id is not None else np.arange(len(faces))
    jobs = []
    for box, tid, score in zip(boxes, ids, faces.score, strict=True):
        side = choose_lr_side(box[2] - box[0], lr_sides, max_shrink, force)
        if side == 0:
            continue
        native = round(float(box[2] - box[0]))
        if native > side:
            # Shrink with the training kernel (antialiased PIL bicubic), as the model's LR faces were made.
            lr = resize_bicubic(cut_crop(frame.image, box, min(native, 4 * side))[None], side)[0]
        else:
            lr = cut_crop(frame.image, box, side)
        lr_up = resize_bicubic(lr[None], MODEL_SIZE)[0] if side != MODEL_SIZE else lr
        jobs.append(FaceJob(frame.index, int(tid), box, side, lr_up, float(score)))
    return jobs

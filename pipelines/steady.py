"""Motion-compensated smoothing of the pasted detail, at the output's resolution (blend stage).

What a face's model adds changes more from frame to frame than its input does (BENCHMARKS.md, sessions 8 and
10): averaging it with the previous frame's detail in crop coordinates steadies it only where the face holds
still. Here each track's previous added detail (output minus the bicubic frame, over the face's output region)
is carried onto the current frame by dense optical flow between the two outputs and averaged in, except where
the two disagree once blurred to the input's pixel size: there the face really changed (a mouth opening, an
occlusion) and the current frame's detail stands. Measured on the real-video benchmark at 8x (BENCHMARKS.md,
session 15): flicker below bicubic's on lossless input, with more PSNR, not less.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .blend import low_pass

# Grey levels of blurred disagreement between the carried previous output and the current one at which the
# previous detail's share has fallen to 1/e of its weight (a Gaussian gate; BENCHMARKS.md, session 15).
TOLERANCE = 4.0
# Flow is found on copies shrunk this many times where an input pixel spans at least twice as many output pixels.
FLOW_SHRINK = 2


def _bounds(box_xyxy: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The canvas pixels ``paste_inplace`` touches for this box: floor / ceil of its edges, clipped."""
    h, w = shape[:2]
    x0, y0 = max(int(np.floor(box_xyxy[0])), 0), max(int(np.floor(box_xyxy[1])), 0)
    x1, y1 = min(int(np.ceil(box_xyxy[2])), w), min(int(np.ceil(box_xyxy[3])), h)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _shifted(image: np.ndarray, dx: int, dy: int, shape: tuple[int, int], fill: np.ndarray | float) -> np.ndarray:
    """``image`` (whose origin lies ``dx, dy`` pixels from the current region's) on the current region's grid;
    pixels it does not cover take ``fill``."""
    h, w = shape
    if isinstance(fill, np.ndarray):
        out = fill.astype(np.float32, copy=True)
    else:
        out = np.full((h, w, *image.shape[2:]), fill, np.float32)
    ih, iw = image.shape[:2]
    x0, y0 = max(dx, 0), max(dy, 0)
    x1, y1 = min(dx + iw, w), min(dy + ih, h)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = image[y0 - dy : y1 - dy, x0 - dx : x1 - dx]
    return out


class SteadyDetail:
    """Per track, the previous frame's output region and smoothed detail; ``apply_inplace`` smooths one face."""

    def __init__(self, tolerance: float = TOLERANCE) -> None:
        self.tolerance = tolerance
        self._previous: dict[int, tuple[np.ndarray, np.ndarray, int, int]] = {}  # track -> (luma, detail, x0, y0)
        self._flow: cv2.DISOpticalFlow | None = None

    @staticmethod
    def region(canvas: np.ndarray, box_xyxy: np.ndarray) -> np.ndarray | None:
        """A copy of the canvas pixels a paste over ``box_xyxy`` touches: the ``before`` of ``apply_inplace``."""
        bounds = _bounds(box_xyxy, canvas.shape)
        return None if bounds is None else canvas[bounds[1] : bounds[3], bounds[0] : bounds[2]].copy()

    def forget(self, track_id: int) -> None:
        self._previous.pop(track_id, None)

    def clear(self) -> None:
        self._previous.clear()

    def __len__(self) -> int:
        return len(self._previous)

    def apply_inplace(
        self, track_id: int, canvas: np.ndarray, before: np.ndarray, box_xyxy: np.ndarray, pixel: float,
        weight: float,
    ) -> None:  # fmt: skip
        """Smooth the detail pasted into ``canvas`` over ``box_xyxy`` (output pixels) in place.

        ``before`` is that region of the canvas before the face was pasted (the bicubic frame), ``pixel`` the
        size of one input pixel in output pixels (the blur of the gate), ``weight`` the share of the previous
        frame's detail where the outputs agree (0: the state is kept, nothing smoothed).
        """
        bounds = _bounds(box_xyxy, canvas.shape)
        if bounds is None:
            return
        if before.shape[:2] != (bounds[3] - bounds[1], bounds[2] - bounds[0]):
            raise ValueError(f"before is {before.shape[:2]}, the box's region {bounds}: take it with region()")
        x0, y0, x1, y1 = bounds
        region = canvas[y0:y1, x0:x1]
        current = region.astype(np.float32)
        luma = _luma(current)
        base = before.astype(np.float32)
        detail = current - base
        prev = self._previous.get(track_id)
        if prev is not None and weight > 0:
            p_luma, p_detail, px, py = prev
            shape = current.shape[:2]
            # Where the previous region does not reach, the current output stands in and no history is used.
            p_luma = _shifted(p_luma, px - x0, py - y0, shape, luma)
            p_detail = _shifted(p_detail, px - x0, py - y0, shape, 0.0)
            cover = _shifted(np.ones(prev[1].shape[:2], np.float32), px - x0, py - y0, shape, 0.0)
            flow = self._flow_between(luma, p_luma, pixel)  # current(p) ~ previous(p + flow(p))
            map_x, map_y = _grid(shape)
            map_x, map_y = map_x + flow[..., 0], map_y + flow[..., 1]

            def carry(image: np.ndarray) -> np.ndarray:
                return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

            carried_detail, carried_cover = carry(p_detail), carry(cover)
            # The gate compares luma blurred to the input's pixel size: coding noise and detail do not count,
            # a real change of the picture does.
            difference = carry(p_luma) - luma
            disagree = np.abs(low_pass(difference, max(pixel, 0.5)))
            share = weight * np.exp(-((disagree / self.tolerance) ** 2)) * carried_cover
            detail += share[..., None] * (carried_detail - detail)
            region[:] = np.clip(base + detail, 0, 255).round().astype(np.uint8)
        self._previous[track_id] = (luma, detail, x0, y0)

    def _flow_between(self, current: np.ndarray, previous: np.ndarray, pixel: float) -> np.ndarray:
        """Dense flow from the luma plane ``current`` to ``previous`` (output pixels). Where an input pixel spans
        several output pixels the flow is found on copies shrunk by ``FLOW_SHRINK`` (the motion is the input's,
        no finer than its pixels' own detail) and scaled back: a quarter of the cost."""
        if self._flow is None:
            self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        h, w = current.shape[:2]
        shrink = FLOW_SHRINK if pixel >= 2 * FLOW_SHRINK and min(h, w) >= 32 * FLOW_SHRINK else 1
        a, b = _grey(current), _grey(previous)  # luma planes
        if shrink == 1:
            return self._flow.calc(a, b, None)
        size = (round(w / shrink), round(h / shrink))
        small = self._flow.calc(cv2.resize(a, size, interpolation=cv2.INTER_AREA),
                                cv2.resize(b, size, interpolation=cv2.INTER_AREA), None)  # fmt: skip
        flow = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= w / size[0]
        flow[..., 1] *= h / size[1]
        return flow


@lru_cache(maxsize=8)
def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.meshgrid(np.arange(shape[1], dtype=np.float32), np.arange(shape[0], dtype=np.float32))
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _grey(luma: np.ndarray) -> np.ndarray:
    return np.clip(luma, 0, 255).round().astype(np.uint8)


def _luma(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of a float BGR image, as float (no rounding: the gate compares small differences)."""
    return image[..., 0] * 0.114 + image[..., 1] * 0.587 + image[..., 2] * 0.299
